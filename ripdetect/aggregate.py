"""Temporal aggregation of per-frame probabilities and raw CAMs: pure, no I/O, testable with tables.

``FrameAggregator.update(time_s, prob, cam)`` returns the aggregated state for that frame. The decision
uses hysteresis (separate on/off thresholds) on the windowed mean probability, and an event is only
confirmed once it has lasted ``min_event_s``. ``finish()`` closes any open event and returns all events.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Event:
    start_s: float
    end_s: float
    peak_prob: float
    mean_prob: float
    n_frames: int
    cam_sum: np.ndarray | None = field(default=None, repr=False)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def mean_cam(self) -> np.ndarray | None:
        return None if self.cam_sum is None else self.cam_sum / max(self.n_frames, 1)

    def to_dict(self) -> dict:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "duration_s": round(self.duration_s, 3), "peak_prob": round(self.peak_prob, 5),
                "mean_prob": round(self.mean_prob, 5), "n_frames": self.n_frames}


@dataclass(frozen=True)
class AggregatedFrame:
    time_s: float
    prob: float
    aggregated_prob: float
    state: str  # "rip" | "clear"


class FrameAggregator:
    """Rolling window (seconds) of probabilities and raw CAMs, with hysteresis and minimum event duration."""

    def __init__(self, window_s: float = 10.0, on_threshold: float = 0.5, off_threshold: float | None = None,
                 min_event_s: float = 2.0):
        self.window_s = window_s
        self.on_threshold = on_threshold
        self.off_threshold = on_threshold * 0.8 if off_threshold is None else off_threshold
        if self.off_threshold > self.on_threshold:
            from ripdetect.errors import ConfigError

            raise ConfigError(f"off threshold {self.off_threshold:g} must not exceed the on threshold "
                              f"{self.on_threshold:g}")
        self.min_event_s = min_event_s
        self._window: deque[tuple[float, float, np.ndarray | None]] = deque()
        self._candidate: Event | None = None  # above the on threshold, not yet long enough
        self._active: Event | None = None
        self.events: list[Event] = []
        self._last_time: float | None = None
        self._first_time: float | None = None

    @property
    def state(self) -> str:
        return "rip" if self._active is not None else "clear"

    def window_cam(self) -> np.ndarray | None:
        """Mean raw CAM over the current window."""
        cams = [cam for _, _, cam in self._window if cam is not None]
        return np.mean(cams, axis=0) if cams else None

    def update(self, time_s: float, prob: float, cam: np.ndarray | None = None) -> AggregatedFrame:
        self._first_time = time_s if self._first_time is None else self._first_time
        self._last_time = time_s
        self._window.append((time_s, prob, cam))
        while self._window and self._window[0][0] <= time_s - self.window_s:
            self._window.popleft()
        aggregated = float(np.mean([p for _, p, _ in self._window]))
        if self._active is not None:
            if aggregated < self.off_threshold:
                self._close(self._active)
                self._active = None
            else:
                self._extend(self._active, time_s, prob, cam)
        elif aggregated >= self.on_threshold:
            if self._candidate is None:
                self._candidate = Event(time_s, time_s, prob, prob, 1, None if cam is None else cam.astype(np.float64))
            else:
                self._extend(self._candidate, time_s, prob, cam)
            if self._candidate.duration_s >= self.min_event_s:
                self._active, self._candidate = self._candidate, None
        else:
            self._candidate = None
        return AggregatedFrame(time_s, prob, aggregated, self.state)

    @staticmethod
    def _extend(event: Event, time_s: float, prob: float, cam: np.ndarray | None) -> None:
        event.end_s = time_s
        event.peak_prob = max(event.peak_prob, prob)
        event.mean_prob = (event.mean_prob * event.n_frames + prob) / (event.n_frames + 1)
        event.n_frames += 1
        if cam is not None:
            event.cam_sum = cam.astype(np.float64) if event.cam_sum is None else event.cam_sum + cam

    def _close(self, event: Event) -> None:
        self.events.append(event)

    def finish(self) -> list[Event]:
        """Close the open event. A clip shorter than the minimum duration still gets its event if the
        rip was above threshold throughout (the clip's decision comes from the frames it has)."""
        if self._active is not None:
            self._close(self._active)
            self._active = None
        elif self._candidate is not None:
            whole_clip = self._candidate.start_s <= (self._first_time or 0.0) and self._last_time is not None
            if whole_clip:
                self._close(self._candidate)
            self._candidate = None
        return self.events


def merge_events(events: list[Event], gap_s: float) -> list[Event]:
    """Join events separated by less than ``gap_s``."""
    merged: list[Event] = []
    for event in sorted(events, key=lambda e: e.start_s):
        if merged and event.start_s - merged[-1].end_s < gap_s:
            last = merged[-1]
            total = last.n_frames + event.n_frames
            cam_sum = last.cam_sum if event.cam_sum is None else (
                event.cam_sum if last.cam_sum is None else last.cam_sum + event.cam_sum)
            merged[-1] = Event(last.start_s, max(last.end_s, event.end_s), max(last.peak_prob, event.peak_prob),
                               (last.mean_prob * last.n_frames + event.mean_prob * event.n_frames) / total, total,
                               cam_sum)
        else:
            merged.append(event)
    return merged
