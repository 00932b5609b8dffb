"""From a raw CAM to an amorphous rip region: upsample, threshold, clean, separate the channels, and describe.

A photo can show several rips. Where the thresholded map joins two of them into one blob (their evidence merges
below the region threshold but each rises well above it), ``separate_channels`` cuts the blob between the peaks, so
each channel gets its own outline and polygon and the JSON counts them."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ripdetect import records


@dataclass(frozen=True)
class Region:
    """A thresholded CAM region in image pixels."""

    mask: np.ndarray  # bool HxW
    polygons: list[dict]  # {"exterior": [[x, y], ...], "holes": [[[x, y], ...], ...]}
    area_fraction: float
    centroid: tuple[float, float]
    bbox: tuple[int, int, int, int]

    def scaled(self, height: int, width: int) -> Region:
        """The same region in an image of ``height x width`` (mask resized, coordinates scaled)."""
        sy, sx = height / self.mask.shape[0], width / self.mask.shape[1]
        mask = cv2.resize(self.mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)

        def scale(points: list[list[int]]) -> list[list[int]]:
            return [[round(x * sx), round(y * sy)] for x, y in points]

        polygons = [{"exterior": scale(p["exterior"]), "holes": [scale(h) for h in p["holes"]]} for p in self.polygons]
        x1, y1, x2, y2 = self.bbox
        return Region(mask, polygons, self.area_fraction, (self.centroid[0] * sx, self.centroid[1] * sy),
                      (round(x1 * sx), round(y1 * sy), min(width, round(x2 * sx)), min(height, round(y2 * sy))))

    @property
    def count(self) -> int:
        """How many separate parts (channels) the region has: one polygon each."""
        return len(self.polygons)

    def to_dict(self) -> dict:
        return {"count": self.count, "area_fraction": records.share(self.area_fraction), "centroid": [records.pixels(c) for c in self.centroid],
                "bbox": list(self.bbox), "polygons": self.polygons}


def upsample_cam(cam: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear upsampling of a raw (h, w) map to the image size."""
    return cv2.resize(np.asarray(cam, dtype=np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def threshold_cam(cam: np.ndarray, mode: str = "fraction", value: float = 0.5) -> np.ndarray:
    """Boolean mask: ``fraction`` of the max, ``percentile`` (0..100) of the map, or Otsu."""
    peak = float(cam.max()) if cam.size else 0.0
    if peak <= 0:
        return np.zeros(cam.shape, dtype=bool)
    if mode == "fraction":
        return cam >= value * peak
    if mode == "percentile":
        return cam >= max(np.percentile(cam, value), 1e-12)
    if mode == "otsu":
        scaled = np.uint8(np.clip(cam / peak, 0, 1) * 255)
        _, binary = cv2.threshold(scaled, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        return binary.astype(bool) & (cam > 0)
    raise ValueError(f"unknown threshold mode {mode!r}")


def remove_small_blobs(mask: np.ndarray, min_fraction: float) -> np.ndarray:
    """Drop connected components smaller than ``min_fraction`` of the image."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    min_area = min_fraction * mask.size
    keep = np.zeros(count, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[labels]


CORE_RISE = 0.5  # a channel's core: where its map is at least this share of the way from the cut to its own peak


def channel_cores(inside: np.ndarray, cam: np.ndarray, level: float, min_area: float) -> np.ndarray:
    """Int labels of the distinct peaks in one connected part (0 elsewhere). Peaks are taken highest first; a peak's
    core is the connected patch around it where ``cam`` rises ``CORE_RISE`` of the way from ``level`` to the peak. A
    peak whose core reaches a higher peak's core is a shoulder of that channel, not a channel of its own."""
    cores = np.zeros(cam.shape, np.int32)
    peaks = inside & (cam >= cv2.dilate(cam, np.ones((5, 5), np.uint8)))
    ys, xs = np.nonzero(peaks)
    for index in np.argsort(-cam[ys, xs], kind="stable"):
        y, x = ys[index], xs[index]
        if cores[y, x]:
            continue
        above = inside & (cam >= level + CORE_RISE * (float(cam[y, x]) - level))
        _, patches = cv2.connectedComponents(above.astype(np.uint8), connectivity=8)
        patch = patches == patches[y, x]
        if cores[patch].any() or patch.sum() < min_area:
            continue
        cores[patch] = cores.max() + 1
    return cores


def separate_channels(mask: np.ndarray, cam: np.ndarray, level: float, min_fraction: float) -> np.ndarray:
    """``mask`` with each connected part that holds several channels (``channel_cores``) cut between them: the
    part's pixels go to their nearest core and a one-pixel cut separates neighbours of different cores."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    out = mask.copy()
    for part in range(1, count):
        inside = labels == part
        cores = channel_cores(inside, cam, level, min_fraction * mask.size)
        if cores.max() < 2:
            continue
        _, nearest = cv2.distanceTransformWithLabels((cores == 0).astype(np.uint8), cv2.DIST_L2, 5,
                                                     labelType=cv2.DIST_LABEL_CCOMP)
        nearest = np.where(inside, nearest, -1)
        cut = np.zeros_like(inside)
        cut[:, 1:] |= (nearest[:, 1:] != nearest[:, :-1]) & (nearest[:, :-1] >= 0) & (nearest[:, 1:] >= 0)
        cut[1:, :] |= (nearest[1:, :] != nearest[:-1, :]) & (nearest[:-1, :] >= 0) & (nearest[1:, :] >= 0)
        out &= ~cut
    return out


def mask_to_polygons(mask: np.ndarray, epsilon_fraction: float = 0.003) -> list[dict]:
    """Outer contours with their holes, simplified, in pixel coordinates."""
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    epsilon = epsilon_fraction * max(mask.shape)

    def simplify(contour: np.ndarray) -> list[list[int]]:
        return cv2.approxPolyDP(contour, epsilon, True).reshape(-1, 2).tolist()

    polygons = []
    for index, (_, _, first_child, parent) in enumerate(hierarchy[0]):
        if parent != -1:
            continue
        holes, child = [], first_child
        while child != -1:
            holes.append(simplify(contours[child]))
            child = hierarchy[0][child][0]
        polygons.append({"exterior": simplify(contours[index]), "holes": holes})
    return polygons


def region_from_cam(cam_up: np.ndarray, mode: str = "fraction", value: float = 0.5,
                    min_fraction: float = 0.002, inside: np.ndarray | None = None) -> Region | None:
    """The region of an image-size map (restricted to ``inside``, e.g. the water, when given), or ``None`` when
    nothing survives thresholding."""
    mask = threshold_cam(cam_up, mode, value)
    if inside is not None:
        mask &= inside
    mask = remove_small_blobs(mask, min_fraction)
    if not mask.any():
        return None
    level = float(cam_up[mask].min())  # where the map was cut, so each channel's rise above it can be measured
    mask = remove_small_blobs(separate_channels(mask, cam_up, level, min_fraction), min_fraction / 4)
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    weights = cam_up[ys, xs].astype(np.float64)
    weights = weights if weights.sum() > 0 else np.ones_like(weights)
    centroid = (float(np.average(xs, weights=weights)), float(np.average(ys, weights=weights)))
    bbox = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return Region(mask, mask_to_polygons(mask), float(mask.mean()), centroid, bbox)
