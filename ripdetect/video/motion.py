"""Motion evidence: a rip is water flowing out to sea, and video can show it.

For every analysed frame, dense optical flow (OpenCV's DIS) is measured between it and a frame a moment earlier
(``VideoConfig.motion_gap_s``), on a small grey copy (``MOTION_SIDE`` px); the camera's own shake, the median flow of
the frame, is taken off. "Seaward" comes from the scene itself: inside the sea (the water head's map, or the camera's
region of interest) each position's offshore direction points away from the land, along the slope of its distance
to the land (``offshore_field``); above the sea of a shore camera is sky, which is not land. Breaking waves travel
shoreward, a longshore current moves across that direction, and inside a rip foam and turbid water move seaward.

Over the aggregation window, ``MotionWindow`` keeps each position's seaward speed (a share of the frame's width per
second): the motion evidence map is the windowed mean of its positive part times the share of the window it was
seaward (a rip flows persistently; a wave's backwash is brief), and the motion strength of the window is its high
percentile inside the sea. Pure functions of frames and masks, no I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

MOTION_SIDE = 320  # flow is measured on frames this large (long side)
SEAWARD_PERSISTENCE = 0.6  # a position is seaward in a window when at least this share of its pairs flowed seaward
STRENGTH_PERCENTILE = 99  # the window's strength: this percentile of the evidence inside the sea


def small_grey(image_rgb: np.ndarray, side: int = MOTION_SIDE) -> np.ndarray:
    height, width = image_rgb.shape[:2]
    scale = side / max(height, width)
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    return cv2.cvtColor(cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)


def optical_flow(earlier_grey: np.ndarray, grey: np.ndarray, method: str = "farneback",
                 dis: cv2.DISOpticalFlow | None = None) -> np.ndarray:
    """Dense flow (H, W, 2) in pixels from ``earlier_grey`` to ``grey``, with the camera's shake (the median flow)
    taken off. ``farneback`` or ``dis``. OpenCV's DIS object is not thread-safe: an analysis keeps its own
    (``dis``), else one is made for the call."""
    if method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(earlier_grey, grey, None, 0.5, 3, 15, 3, 5, 1.1, 0)
    else:
        dis = dis or cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flow = dis.calc(earlier_grey, grey, None)
    return flow - np.median(flow.reshape(-1, 2), axis=0)


def land_and_sky(water: np.ndarray) -> tuple[np.ndarray, bool]:
    """What of the non-sea is land, and whether the view is a shore camera's: there the sea reaches up to a horizon,
    a nearly level top edge across the frame, and what lies above it is sky. A drone's view has no sky: all that is
    not sea is land, whatever side it is on."""
    height = water.shape[0]
    has_water = water.any(axis=0)
    top = np.where(has_water, water.argmax(axis=0), height)
    above = np.arange(height)[:, None] < top[None, :]
    level = has_water.mean() > 0.8 and np.percentile(top[has_water], 90) - np.percentile(top[has_water], 10) \
        < 0.08 * height
    oblique = bool(has_water.any() and level and np.median(top[has_water]) > 2)
    return ~water & ~(above if oblique else np.zeros_like(above)), oblique


def offshore_field(water: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit (x, y) vectors pointing out to sea at every position of ``water`` (a boolean sea mask): along the
    smoothed slope of the distance to the land (``land_and_sky``). With no land in view, offshore is up the frame
    (a shore camera's horizon)."""
    height, width = water.shape
    land, _ = land_and_sky(water)
    if not land.any():
        return np.zeros(water.shape, np.float32), -np.ones(water.shape, np.float32)
    distance = cv2.distanceTransform(np.where(land, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
    smooth = cv2.GaussianBlur(distance.astype(np.float32), (0, 0), max(height, width) / 30)
    gy, gx = np.gradient(smooth)
    norm = np.hypot(gx, gy) + 1e-6
    return (gx / norm).astype(np.float32), (gy / norm).astype(np.float32)


def seaward_speed(flow: np.ndarray, offshore: tuple[np.ndarray, np.ndarray], dt_s: float) -> np.ndarray:
    """The flow's component along the offshore direction, as a share of the frame's width per second."""
    ux, uy = offshore
    along = flow[..., 0] * ux + flow[..., 1] * uy
    along = cv2.GaussianBlur(along, (0, 0), 2.0)  # single-pixel flow noise is not water moving
    return along / (flow.shape[1] * max(dt_s, 1e-3))


@dataclass(frozen=True)
class MotionSummary:
    """One window's motion: its evidence map (H, W) at the motion size, and its strength (a share of the frame's
    width per second)."""

    evidence: np.ndarray
    strength: float
    offshore: tuple[np.ndarray, np.ndarray] | None = None  # the unit offshore direction at each position


class MotionWindow:
    """Seaward speeds of the last ``window_s`` seconds, per position; pure (frames in, summaries out)."""

    def __init__(self, window_s: float):
        self.window_s = window_s
        self._items: deque[tuple[float, np.ndarray]] = deque()
        self._sum: np.ndarray | None = None
        self._seaward: np.ndarray | None = None
        self.water: np.ndarray | None = None
        self.offshore: tuple[np.ndarray, np.ndarray] | None = None

    def update(self, time_s: float, speed: np.ndarray, water: np.ndarray,
               offshore: tuple[np.ndarray, np.ndarray] | None = None) -> MotionSummary:
        if self._sum is not None and self._sum.shape != speed.shape:  # the frame size changed: start again
            self._items.clear()
            self._sum = self._seaward = None
        positive = np.maximum(speed, 0).astype(np.float32)
        seaward = (speed > 0).astype(np.float32)
        self._items.append((time_s, speed))
        self._sum = positive if self._sum is None else self._sum + positive
        self._seaward = seaward if self._seaward is None else self._seaward + seaward
        while self._items and self._items[0][0] <= time_s - self.window_s:
            _, old = self._items.popleft()
            self._sum -= np.maximum(old, 0)
            self._seaward -= (old > 0).astype(np.float32)
        self.water, self.offshore = water, offshore
        return self.summary()

    def summary(self) -> MotionSummary:
        if self._sum is None:
            return MotionSummary(np.zeros((1, 1), np.float32), 0.0)
        count = len(self._items)
        persistence = self._seaward / count
        evidence = (self._sum / count) * np.clip((persistence - SEAWARD_PERSISTENCE) / (1 - SEAWARD_PERSISTENCE), 0, 1)
        evidence = np.where(self.water, evidence, 0).astype(np.float32)
        inside = evidence[self.water] if self.water is not None and self.water.any() else evidence.ravel()
        strength = float(np.percentile(inside, STRENGTH_PERCENTILE)) if inside.size and count >= 3 else 0.0
        return MotionSummary(evidence, strength, self.offshore)
