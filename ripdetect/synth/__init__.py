"""Synthetic surf-zone scenes with exact rip masks: scene sampling, rendering through a camera, datasets."""
