"""Display scaling: raw CAMs stay raw; this maps them to 0..1 for drawing.

A model's checkpoint carries a fixed ``cam_scale`` (set when the model is finalised), so heatmaps are
comparable across images and frames. Without one, each map falls back to its own maximum.
"""

from __future__ import annotations

import numpy as np


def display_scale(cam: np.ndarray, scale: float | None) -> np.ndarray:
    """Raw CAM(s) (..., h, w) to 0..1 for display, with a fixed ``scale`` or else each map's own maximum."""
    cam = np.asarray(cam, dtype=np.float32)
    if scale and scale > 0:
        return np.clip(cam / scale, 0.0, 1.0)
    peak = np.maximum(cam.max(axis=(-2, -1), keepdims=True), 1e-12)
    return cam / peak
