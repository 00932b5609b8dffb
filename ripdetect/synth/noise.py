"""Fast seeded value noise: random grids upsampled with bicubic interpolation, summed over octaves."""

from __future__ import annotations

import cv2
import numpy as np


def value_noise(rng: np.random.Generator, height: int, width: int, cells_y: float, cells_x: float) -> np.ndarray:
    """Smooth noise in about [-1, 1] with roughly ``cells_y x cells_x`` features over the field."""
    grid_h, grid_w = max(2, int(np.ceil(cells_y)) + 3), max(2, int(np.ceil(cells_x)) + 3)
    grid = rng.uniform(-1, 1, (grid_h, grid_w)).astype(np.float32)
    big = cv2.resize(grid, (width * (grid_w - 1) // max(1, grid_w - 3), height * (grid_h - 1) // max(1, grid_h - 3)),
                     interpolation=cv2.INTER_CUBIC)
    oy, ox = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
    return big[oy:oy + height, ox:ox + width]


def fractal_noise(rng: np.random.Generator, height: int, width: int, cells: float = 4.0, octaves: int = 4,
                  aspect: float = 1.0, persistence: float = 0.5) -> np.ndarray:
    """Octave sum of value noise, normalised to about [-1, 1]; ``aspect`` > 1 stretches features along x."""
    total = np.zeros((height, width), np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        scale = cells * 2**octave
        total += amplitude * value_noise(rng, height, width, scale, scale / aspect)
        norm += amplitude
        amplitude *= persistence
    return total / norm


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0 + 1e-9), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def lerp_colour(a, b, t: np.ndarray) -> np.ndarray:
    """Blend two RGB colours (or images) by ``t`` (HxW) into an HxWx3 float image."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    return a + (b - a) * t[..., None]
