"""Inference: one Predictor (images in, Predictions out), used by the CLI, the app and video alike."""
