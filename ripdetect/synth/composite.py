"""Synthetic rip channels composited into real no-rip photos, and matched edits that are not rips.

A rip shows in a camera frame as a gap in the breaking waves: a lane of darker, foam-free water running
from the shore through the surf zone, often with a turbid, streaky head beyond the breakers. Given a real
photo and where its sea is, ``composite_rip`` paints such a lane: it walks from a point on the waterline in
the offshore direction (away from the land), removes the foam along the way by inpainting it from the
surrounding water, darkens the lane a little and adds a sediment-tinted head (sediment carried seaward). The lane's
width follows the perspective of the shot. ``composite_distractor`` makes the same kinds of edits (inpainting,
darkening, tint) where they do not cut a gap through the breakers, so the edits themselves say nothing
about the label: only a gap through the surf does.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_FOAM_IN_LANE = 0.15  # mean whitewater score the lane must have before the edit, or it would show nothing
MIN_SURF = 0.01  # share of the sea that must be whitewater: a calm photo has no breakers to cut through
MIN_GAP = 0.0008  # share of the image the removed whitewater must cover, so the gap can be seen
MIN_VISIBLE_CHANGE = 12.0  # mean change (0..255) over the rip mask, so the gap can be seen


@dataclass(frozen=True)
class Composite:
    image: np.ndarray  # uint8 RGB
    rip_mask: np.ndarray  # bool (all False for a distractor)
    water_mask: np.ndarray  # bool, as given


def foam_map(image_rgb: np.ndarray, water: np.ndarray) -> np.ndarray:
    """0..1 whitewater score: pixels of the sea that are near-white (light and grey) and much lighter than its
    typical colour. Sun glitter on a calm sea is light but not near-white enough over an area to count much."""
    lab = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    lightness, chroma = lab[..., 0], np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    sea_l = float(np.median(lightness[water])) if water.any() else 0.0
    floor = max(sea_l + 25.0, 150.0)  # 8-bit LAB lightness: whitewater sits near 200-255
    score = np.clip((lightness - floor) / 40.0, 0, 1) * np.clip(1.3 - chroma / 30.0, 0, 1)
    # breaking waves are bands and patches; sun glitter and specks are a few pixels: open them away
    size = max(3, int(round(max(image_rgb.shape[:2]) * 0.005)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    score = np.minimum(score, cv2.dilate(cv2.morphologyEx(score, cv2.MORPH_OPEN, kernel), kernel))
    return np.where(water, score, 0.0).astype(np.float32)


def _land_and_sky(water: np.ndarray) -> tuple[np.ndarray, bool]:
    """Non-water split into land and sky: sky is what lies above the sea in a column when the sea reaches up
    to a horizon (an oblique shot). Returns the land mask and whether the shot looks oblique."""
    height = water.shape[0]
    rows = np.arange(height)[:, None]
    has_water = water.any(axis=0)
    top = np.where(has_water, water.argmax(axis=0), height)
    above = rows < top[None, :]
    oblique = bool(np.median(top[has_water]) > 2 and above[:, has_water].mean() > 0.03)
    land = ~water & ~(above if oblique else np.zeros_like(above))
    return land, oblique


def _offshore_field(water: np.ndarray, land: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance from the land inside the sea, and its smoothed gradient (the offshore direction)."""
    source = np.where(land, 0, 255).astype(np.uint8)
    distance = cv2.distanceTransform(source, cv2.DIST_L2, 5).astype(np.float32)
    smooth = cv2.GaussianBlur(distance, (0, 0), max(water.shape) / 60)
    gy, gx = np.gradient(smooth)
    return distance, gx, gy


def _lane(shape: tuple[int, int], path: list[tuple[float, float]], widths: list[float]) -> np.ndarray:
    """Soft 0..1 mask of a lane of varying width along ``path`` (x, y points)."""
    lane = np.zeros(shape, np.float32)
    for (x0, y0), (x1, y1), width in zip(path, path[1:], widths):
        cv2.line(lane, (int(x0), int(y0)), (int(x1), int(y1)), 1.0, max(2, int(round(width))), cv2.LINE_AA)
    blur = max(1.0, float(np.median(widths)) * 0.25)
    return cv2.GaussianBlur(lane, (0, 0), blur)


def _walk(start: tuple[float, float], gx: np.ndarray, gy: np.ndarray, water: np.ndarray, step: float,
          max_steps: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Points from ``start`` along the offshore direction, with a slight random bend, while in the sea."""
    height, width = water.shape
    x, y = start
    bend = rng.uniform(-0.25, 0.25)
    path = [(x, y)]
    for _ in range(max_steps):
        ix, iy = int(min(max(x, 0), width - 1)), int(min(max(y, 0), height - 1))
        dx, dy = gx[iy, ix], gy[iy, ix]
        norm = float(np.hypot(dx, dy))
        if norm < 1e-6:
            break
        dx, dy = dx / norm, dy / norm
        dx, dy = dx - bend * dy, dy + bend * dx
        x, y = x + step * dx, y + step * dy
        if not (0 <= x < width and 0 <= y < height) or not water[int(y), int(x)]:
            break
        path.append((x, y))
    return path


def _perspective_scale(path: list[tuple[float, float]], water: np.ndarray, oblique: bool) -> np.ndarray:
    """Relative size of things along ``path``: in an oblique shot, objects shrink towards the horizon."""
    if not oblique:
        return np.ones(len(path))
    rows = np.nonzero(water.any(axis=1))[0]
    horizon, bottom = rows.min(), water.shape[0]  # the bottom of the frame is nearest the camera
    ys = np.array([y for _, y in path])
    return np.clip((ys - horizon) / max(bottom - horizon, 1), 0.08, 1.0)


def _clean_sea(image_rgb: np.ndarray, foam: np.ndarray, water: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The local colour of foam-free sea everywhere (normalised convolution over the sea without whitewater),
    with a little grain of the sea's own spread, so a painted lane looks like the water around it."""
    calm = (water & (foam < 0.08)).astype(np.float32)
    if calm.sum() < 20:
        calm = water.astype(np.float32)
    sigma = max(image_rgb.shape[:2]) / 30
    image = image_rgb.astype(np.float32)
    numerator = cv2.GaussianBlur(image * calm[..., None], (0, 0), sigma)
    denominator = cv2.GaussianBlur(calm, (0, 0), sigma)[..., None]
    clean = np.where(denominator > 1e-3, numerator / np.maximum(denominator, 1e-3), image)
    spread = image[calm > 0].std(axis=0) * 0.35
    grain = cv2.GaussianBlur(rng.normal(0, 1, image.shape[:2]).astype(np.float32), (0, 0), 1.0)[..., None]
    return np.clip(clean + grain * spread, 0, 255)


def _paint(image_rgb: np.ndarray, weight: np.ndarray, clean: np.ndarray, rng: np.random.Generator,
           tint: np.ndarray | None) -> np.ndarray:
    """Blend towards the foam-free sea (and a sediment tint) by ``weight``; a little darker, as deeper water is."""
    darkness = rng.uniform(0.9, 1.0)
    target = clean.astype(np.float32) * darkness
    if tint is not None:
        target = target * (1 - tint[..., None] * 0.45) + np.float32(rng.uniform((120, 105, 70), (170, 150, 110))) \
            * tint[..., None] * 0.45
    out = image_rgb.astype(np.float32) * (1 - weight[..., None]) + target * weight[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def composite_rip(image_rgb: np.ndarray, water: np.ndarray, rng: np.random.Generator,
                  attempts: int = 30) -> Composite | None:
    """A rip channel painted into a real photo's surf zone, or ``None`` when the photo shows no breaking waves
    to cut a visible gap through."""
    height, width = water.shape
    if water.mean() < 0.02:
        return None
    foam = foam_map(image_rgb, water)
    if (foam > 0.3).sum() < MIN_SURF * water.sum():
        return None
    land, oblique = _land_and_sky(water)
    distance, gx, gy = _offshore_field(water, land)
    shore = water & (distance < max(3.0, max(height, width) / 100))
    candidates = np.argwhere(shore)
    if len(candidates) == 0:
        return None
    size = max(height, width)
    for _ in range(attempts):
        y0, x0 = candidates[rng.integers(len(candidates))]
        path = _walk((float(x0), float(y0)), gx, gy, water, size / 120, 160, rng)
        if len(path) < 8 or (oblique and path[-1][1] > path[0][1] - 0.5 * np.hypot(path[-1][0] - path[0][0],
                                                                                  path[-1][1] - path[0][1])):
            continue  # too short, or not heading away from the camera in an oblique shot
        # the lane runs through the whitewater and stops a little past its last band, where the head goes
        foam_along = [foam[int(y), int(x)] for x, y in path]
        if max(foam_along) <= 0.15:
            continue
        last_foam = max(i for i, f in enumerate(foam_along) if f > 0.15)
        end = min(len(path) - 1, last_foam + max(2, len(path) // 8))
        path = path[:end + 1]
        if len(path) < 4:
            continue
        scale = _perspective_scale(path, water, oblique)
        base = size * rng.uniform(0.08, 0.2)
        widths = list(base * scale * np.linspace(1.0, rng.uniform(0.6, 0.9), len(path)))
        lane = _lane(water.shape, path, widths)
        along = lane > 0.5
        if along.sum() < 30 or foam[along].mean() < MIN_FOAM_IN_LANE:
            continue
        head = np.zeros(water.shape, np.float32)
        hx, hy = path[-1]
        radius = widths[-1] * rng.uniform(1.2, 2.0)
        cv2.ellipse(head, (int(hx), int(hy)), (int(radius), int(radius * rng.uniform(0.6, 1.0))),
                    float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        head = cv2.GaussianBlur(head, (0, 0), max(1.0, radius * 0.4))
        clean = _clean_sea(image_rgb, foam, water, rng)
        # the whitewater in the lane goes; the rest of the lane only darkens a little
        strength = rng.uniform(0.7, 0.95)
        removed = lane * np.clip(foam * 2.0, 0, 1) * strength
        if removed.sum() < MIN_GAP * water.size:
            continue
        weight = np.clip(lane * 0.06 * strength + removed + head * 0.2, 0, 1) * water
        out = _paint(image_rgb, weight, clean, rng, head * rng.uniform(0.2, 0.7))
        rip_mask = (np.maximum(lane, head) > 0.5) & water
        change = np.abs(out.astype(np.float32) - image_rgb.astype(np.float32)).mean(axis=2)
        if change[rip_mask].mean() < MIN_VISIBLE_CHANGE:
            continue  # a gap too faint to see would teach a rip that is not there
        return Composite(out, rip_mask, water)
    return None


def composite_distractor(image_rgb: np.ndarray, water: np.ndarray, rng: np.random.Generator) -> Composite:
    """The same kinds of edits where they make no gap through the breakers: a cleaned, darker or tinted patch of
    sea away from the whitewater (or, in a calm photo, anywhere in the sea). The label stays no-rip."""
    height, width = water.shape
    foam = foam_map(image_rgb, water)
    surf = cv2.dilate((foam > 0.15).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    calm = water & ~surf
    candidates = np.argwhere(calm if calm.sum() > 50 else water)
    out = image_rgb
    if len(candidates):
        for _ in range(int(rng.integers(1, 3))):
            y, x = candidates[rng.integers(len(candidates))]
            blob = np.zeros(water.shape, np.float32)
            size = max(height, width)
            axes = (int(size * rng.uniform(0.02, 0.07)), int(size * rng.uniform(0.01, 0.04)))
            cv2.ellipse(blob, (int(x), int(y)), axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
            blob = cv2.GaussianBlur(blob, (0, 0), max(1.0, axes[0] * 0.4)) * water
            clean = _clean_sea(out, foam, water, rng)
            weight = blob * rng.uniform(0.3, 0.6)
            out = _paint(out, weight, clean, rng, blob * rng.uniform(0.0, 1.0))
    return Composite(out, np.zeros(water.shape, bool), water)
