"""Explanations: CAM maps (raw, and scaled for display), maps to regions, and localisation and faithfulness
metrics."""
