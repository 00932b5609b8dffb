"""Pure drawing: heatmaps, overlays, outlines, banners and image grids (uint8 RGB in, uint8 RGB out)."""

from __future__ import annotations

import cv2
import numpy as np

from ripdetect.decision import Decision

RIP_COLOUR = (255, 64, 32)
POSSIBLE_RIP_COLOUR = (230, 140, 0)
CLEAR_COLOUR = (40, 160, 80)
WATER_COLOUR = (0, 220, 255)
ROI_COLOUR = (255, 210, 0)


def heatmap_from_cam(cam_display: np.ndarray, height: int, width: int) -> np.ndarray:
    """A 0..1 map -> warm-colour (JET) RGB heatmap at ``height x width``."""
    resized = cv2.resize(cam_display.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    coloured = cv2.applyColorMap(np.uint8(np.clip(resized, 0, 1) * 255), cv2.COLORMAP_JET)
    return cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB)


def overlay_heatmap(image_rgb: np.ndarray, cam_display: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """Blend the heatmap over the image; opacity scales with the map so cold areas stay clear."""
    height, width = image_rgb.shape[:2]
    heatmap = heatmap_from_cam(cam_display, height, width).astype(np.float32)
    weight = cv2.resize(cam_display.astype(np.float32), (width, height))[..., None].clip(0, 1)
    alpha = opacity * (0.35 + 0.65 * weight)
    return np.uint8(image_rgb.astype(np.float32) * (1 - alpha) + heatmap * alpha)


def draw_outline(image_rgb: np.ndarray, mask: np.ndarray, colour=(255, 255, 255), thickness: int | None = None) -> np.ndarray:
    """The region outline (holes included) drawn over a copy of the image."""
    out = image_rgb.copy()
    if mask is None or not mask.any():
        return out
    thickness = thickness or max(2, round(max(out.shape[:2]) / 300))
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, (0, 0, 0), thickness + 2, lineType=cv2.LINE_AA)
    cv2.drawContours(out, contours, -1, colour, thickness, lineType=cv2.LINE_AA)
    return out


def banner_height(image_height: int) -> int:
    """Height of the banner strip drawn above an image of ``image_height`` pixels."""
    return max(24, round(image_height * 0.07))


def draw_banner(image_rgb: np.ndarray, text: str, colour: tuple[int, int, int]) -> np.ndarray:
    """The image with a coloured strip holding ``text`` added above it: the photo itself is not covered."""
    height, width = image_rgb.shape[:2]
    bar = banner_height(height)
    strip = np.empty((bar, width, 3), np.uint8)
    strip[:] = colour
    scale = bar / 38
    text_width = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, round(scale * 2)))[0][0]
    scale *= min(1.0, (width - bar * 1.3) / max(text_width, 1))  # shrink to fit, clear of a viewer's corner icons
    cv2.putText(strip, text, (round(bar * 0.3), round(bar * 0.5 + 11 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), max(1, round(scale * 2)), cv2.LINE_AA)
    return np.concatenate([strip, image_rgb], axis=0)


STATE_COLOURS = {"rip": RIP_COLOUR, "possible_rip": POSSIBLE_RIP_COLOUR, "clear": CLEAR_COLOUR}


def verdict_banner(decision: Decision) -> tuple[str, tuple[int, int, int]]:
    """An image's banner: verdict word first (so it is read first), probability and the threshold used."""
    return decision.headline(), STATE_COLOURS[decision.state]


def render_prediction(image_rgb: np.ndarray, cam_display: np.ndarray | None, mask: np.ndarray | None,
                      decision: Decision, opacity: float = 0.45,
                      banner: tuple[str, tuple[int, int, int]] | None = None,
                      water: np.ndarray | None = None, roi: np.ndarray | None = None) -> np.ndarray:
    """The full overlay: heatmap (none when ``cam_display`` is ``None``), region outline, the sea's outline
    (``water``, when given), the region of interest's outline (``roi``, when given) and a banner strip above. The
    banner shows verdict and probability unless ``banner`` gives its own ``(text, colour)`` (video frames show the
    aggregated state)."""
    out = image_rgb if cam_display is None else overlay_heatmap(image_rgb, cam_display, opacity)
    if roi is not None and cam_display is not None:
        out = np.where(roi[..., None], out, image_rgb)  # no map outside the region of interest
    if water is not None:
        out = draw_outline(out, water, colour=WATER_COLOUR, thickness=max(1, round(max(out.shape[:2]) / 500)))
    if roi is not None and not roi.all():
        out = draw_outline(out, roi, colour=ROI_COLOUR, thickness=max(1, round(max(out.shape[:2]) / 500)))
    out = draw_outline(out, mask)
    return draw_banner(out, *(banner or verdict_banner(decision)))


FLOW_COLOUR = (255, 255, 255)


def draw_flow(image_rgb: np.ndarray, evidence: np.ndarray, offshore: tuple[np.ndarray, np.ndarray],
              scale: float, cells: int = 24) -> np.ndarray:
    """Arrows of the seaward flow over a copy of the image: on a grid of about ``cells`` across, an arrow pointing
    out to sea wherever the motion evidence (a share of the width per second, on its own small grid) is above
    ``scale`` / 4, as long as the evidence is strong (``scale``: the evidence that draws a full-length arrow)."""
    out = image_rgb.copy()
    height, width = out.shape[:2]
    grid_h, grid_w = evidence.shape
    step = max(1, grid_w // cells)
    length = width / cells * 1.4
    thickness = max(1, round(max(height, width) / 500))
    ux, uy = offshore
    for gy in range(step // 2, grid_h, step):
        for gx in range(step // 2, grid_w, step):
            strength = float(evidence[gy, gx]) / scale
            if strength < 0.25:
                continue
            x0, y0 = (gx + 0.5) * width / grid_w, (gy + 0.5) * height / grid_h
            size = length * min(strength, 1.0)
            tip = (int(x0 + ux[gy, gx] * size), int(y0 + uy[gy, gx] * size))
            cv2.arrowedLine(out, (int(x0), int(y0)), tip, (0, 0, 0), thickness + 2, cv2.LINE_AA, tipLength=0.35)
            cv2.arrowedLine(out, (int(x0), int(y0)), tip, FLOW_COLOUR, thickness, cv2.LINE_AA, tipLength=0.35)
    return out


def fit_tile(image_rgb: np.ndarray, tile: int) -> np.ndarray:
    """Letterbox into a ``tile x tile`` square."""
    height, width = image_rgb.shape[:2]
    scale = tile / max(height, width)
    resized = cv2.resize(image_rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA)
    canvas = np.full((tile, tile, 3), 24, np.uint8)
    y, x = (tile - resized.shape[0]) // 2, (tile - resized.shape[1]) // 2
    canvas[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    return canvas


def label_tile(tile_rgb: np.ndarray, text: str) -> np.ndarray:
    out = tile_rgb.copy()
    cv2.rectangle(out, (0, out.shape[0] - 18), (out.shape[1], out.shape[0]), (0, 0, 0), -1)
    cv2.putText(out, text[:34], (4, out.shape[0] - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def grid(tiles: list[list[np.ndarray]], pad: int = 4) -> np.ndarray:
    """Rows of equal-size tiles into one image."""
    tile_h, tile_w = tiles[0][0].shape[:2]
    cols = max(len(row) for row in tiles)
    canvas = np.full((len(tiles) * (tile_h + pad) + pad, cols * (tile_w + pad) + pad, 3), 255, np.uint8)
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            y, x = pad + r * (tile_h + pad), pad + c * (tile_w + pad)
            canvas[y:y + tile_h, x:x + tile_w] = tile
    return canvas


def draw_polygons(image_rgb: np.ndarray, polygons: list[list[tuple[float, float]]],
                  open_points: list[tuple[float, float]] = (), colour=ROI_COLOUR) -> np.ndarray:
    """Normalised polygons (x, y in 0..1) filled lightly and outlined over a copy of the image, plus the points of
    one still being drawn (``open_points``) joined in order: what a region-of-interest editor shows."""
    out = image_rgb.copy()
    height, width = out.shape[:2]
    thickness = max(1, round(max(height, width) / 400))

    def pixels(points) -> np.ndarray:
        return np.round(np.asarray(points, dtype=np.float64).reshape(-1, 2) * (width, height) - 0.5).astype(np.int32)

    if polygons:
        filled = out.copy()
        cv2.fillPoly(filled, [pixels(p) for p in polygons], colour)
        out = cv2.addWeighted(filled, 0.25, out, 0.75, 0)
        cv2.polylines(out, [pixels(p) for p in polygons], True, colour, thickness, cv2.LINE_AA)
    if len(open_points):
        points = pixels(open_points)
        cv2.polylines(out, [points], False, (255, 255, 255), thickness, cv2.LINE_AA)
        for x, y in points:
            cv2.circle(out, (int(x), int(y)), thickness * 3, colour, -1, cv2.LINE_AA)
    return out
