"""Real-camera detail for synthetic scenes: what beach cameras see besides the surf, and how they see it.

- land past the beach: dune grass or dark vegetation (hard negatives that are not water);
- a headland or cliff rising above the horizon at one side, dark and textured;
- skies: clear, overcast or sunset, with the light on the sea to match;
- swell: long, faint alongshore bands on the open water, so the sea is not flat;
- barrel lens distortion, as fixed webcams have (curved horizons);
- how far inland the camera's view reaches (foreground land).

Parameters are drawn from their own seeded stream, so a scene's other parameters do not depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ripdetect.synth.noise import fractal_noise, smoothstep

BACKSHORE_COLOURS = {"grass": ((120, 120, 70), (170, 160, 110)), "vegetation": ((40, 60, 35), (85, 100, 60))}


@dataclass
class RealismParams:
    beach_width: float  # dry beach from the shoreline to the dunes (fraction of world height)
    backshore: str  # grass | vegetation | none
    headland_side: int  # -1 left, 1 right, 0 none
    headland_width: float  # fraction of image width
    headland_height: float  # above the horizon, fraction of image height
    sky_style: str  # clear | overcast | sunset
    swell: float  # amplitude of alongshore swell bands on open water
    lens_k: float  # barrel distortion coefficient (0 = none)
    inland: float  # how far past the shoreline the bottom of an oblique view reaches


def sample_realism(seed: int, view: str) -> RealismParams:
    rng = np.random.default_rng([seed, 99])
    oblique = view == "oblique"
    return RealismParams(
        beach_width=float(rng.uniform(0.04, 0.18)),
        backshore=str(rng.choice(["grass", "vegetation", "none"], p=[0.45, 0.3, 0.25])),
        headland_side=int(rng.choice([-1, 0, 1], p=[0.2, 0.6, 0.2])) if oblique else 0,
        headland_width=float(rng.uniform(0.15, 0.45)),
        headland_height=float(rng.uniform(0.03, 0.14)),
        sky_style=str(rng.choice(["clear", "overcast", "sunset"], p=[0.5, 0.35, 0.15])),
        swell=float(rng.uniform(0.0, 0.15)),
        lens_k=float(rng.uniform(0.0, 0.3) if oblique and rng.random() < 0.6 else 0.0),
        inland=float(rng.uniform(0.0, 0.25)),
    )


def paint_backshore(image: np.ndarray, ys: np.ndarray, shore: np.ndarray, params: RealismParams,
                    texture: np.ndarray) -> None:
    """Dune grass or vegetation past the dry beach, in place (top-down world frame)."""
    if params.backshore == "none":
        return
    dark, light = BACKSHORE_COLOURS[params.backshore]
    edge = shore[None, :] + params.beach_width + 0.02 * texture
    cover = smoothstep(0.0, 0.02, ys - edge)
    colour = np.float32(dark) + (np.float32(light) - np.float32(dark)) * (0.5 + 0.5 * texture)[..., None]
    image[:] = image * (1 - cover[..., None]) + colour * cover[..., None]


def swell(ys: np.ndarray, xs: np.ndarray, bar: np.ndarray, params: RealismParams, texture: np.ndarray) -> np.ndarray:
    """A brightness factor (~1) with faint alongshore bands seaward of the bar."""
    offshore = smoothstep(0.0, 0.05, bar[None, :] - ys)
    bands = np.sin(ys * 140 + 3 * texture)
    return 1 + params.swell * bands * offshore


def sky_colours(style: str, light: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(top colour, horizon colour, cloud amount scale) of a sky style."""
    if style == "overcast":
        return np.float32((150, 155, 162)), np.float32((200, 203, 208)), 1.3
    if style == "sunset":
        return np.float32((70, 80, 120)), np.float32((245, 170, 90)), 0.8
    top = np.float32((70, 120, 190)) if light > 0.85 else np.float32((150, 160, 170))
    return top, np.float32((205, 215, 225)), 1.0


def paint_headland(image: np.ndarray, water: np.ndarray, horizon: int, params: RealismParams,
                   rng: np.random.Generator) -> None:
    """A dark, textured headland rising above the horizon at one side, in place; it is not water."""
    if not params.headland_side:
        return
    height, width = water.shape
    span = int(width * params.headland_width)
    xs = np.arange(span, dtype=np.float32) / max(span - 1, 1)  # 0 at the outer edge, 1 at the tip
    profile = params.headland_height * height * (1 - xs ** 1.5) * (1 + 0.15 * fractal_noise(rng, 1, span, 6, 3)[0])
    top = np.maximum(horizon - profile, 0).astype(int)
    base = horizon + int(height * 0.02 * (1 + rng.random()))
    columns = np.arange(span) if params.headland_side < 0 else np.arange(width - span, width)[::-1]
    texture = fractal_noise(rng, height, width, 12, 4)
    colour = np.float32(rng.choice([(45, 55, 35), (70, 65, 55), (55, 60, 45)]))
    for column, row in zip(columns, top):
        rows = slice(row, base)
        image[rows, column] = colour * (1 + 0.35 * texture[rows, column])[:, None]
        water[rows, column] = False


def barrel(arrays: list[np.ndarray], k: float) -> list[np.ndarray]:
    """Barrel distortion ``r' = r (1 + k r^2)`` of every array (images linear, masks nearest)."""
    if k <= 0:
        return arrays
    height, width = arrays[0].shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy, norm = (width - 1) / 2, (height - 1) / 2, max(width, height) / 2
    x, y = (xs - cx) / norm, (ys - cy) / norm
    factor = 1 + k * (x * x + y * y)
    scale = 1 + k * 0.5  # keep the corners in view
    map_x, map_y = cx + x * factor / scale * norm, cy + y * factor / scale * norm
    out = []
    for array in arrays:
        is_mask = array.dtype == bool
        source = array.astype(np.uint8) if is_mask else array
        warped = cv2.remap(source, map_x, map_y, cv2.INTER_NEAREST if is_mask else cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        out.append(warped.astype(bool) if is_mask else warped)
    return out
