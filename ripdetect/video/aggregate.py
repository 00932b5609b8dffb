"""Temporal aggregation of per-frame probabilities and raw CAMs, and the one events model: pure, no I/O, testable
with tables.

``FrameAggregator.update(time_s, prob, cam)`` returns the aggregated state for that frame. The decision uses
hysteresis (separate on/off thresholds) on the windowed mean probability. Once the window mean crosses the
on threshold the state is ``possible_rip``; it becomes ``rip`` once that has lasted ``min_event_s``, and the
event then starts at the first crossing. The frame on which that becomes known carries ``EventChange("start")``,
and the first frame below the off threshold ``EventChange("end")``: every consumer of events (a video's report, a
camera's alerts and clips) reads these, and nothing else decides what an event is. ``finish()`` closes any open
event, returns all events and leaves the changes that makes in ``closing``.
``SettledStates`` then gives every frame the state it has in hindsight, so frames and events tell one story.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ripdetect import records
from ripdetect.config import VideoConfig
from ripdetect.decision import MotionFusion, video_thresholds
from ripdetect.errors import ConfigError

log = logging.getLogger(__name__)
STATES = ("clear", "possible_rip", "rip")


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

    @classmethod
    def starting(cls, time_s: float, prob: float, cam: np.ndarray | None = None) -> Event:
        return cls(time_s, time_s, prob, prob, 1, None if cam is None else cam.astype(np.float64))

    def add(self, time_s: float, prob: float, cam: np.ndarray | None = None) -> None:
        """Extend the event to a frame at ``time_s``: its end, peak, running mean and CAM sum."""
        self.end_s = time_s
        self.peak_prob = max(self.peak_prob, prob)
        self.mean_prob = (self.mean_prob * self.n_frames + prob) / (self.n_frames + 1)
        self.n_frames += 1
        if cam is not None:
            self.cam_sum = cam.astype(np.float64) if self.cam_sum is None else self.cam_sum + cam

    def to_dict(self) -> dict:
        return {"start_s": records.seconds(self.start_s), "end_s": records.seconds(self.end_s),
                "duration_s": records.seconds(self.duration_s), "peak_prob": records.prob(self.peak_prob),
                "mean_prob": records.prob(self.mean_prob), "n_frames": self.n_frames}


def mean_event_cam(events: list[Event]) -> np.ndarray | None:
    """The mean raw CAM over every frame of ``events`` (``None`` when no event carries maps)."""
    with_maps = [e for e in events if e.cam_sum is not None]
    if not with_maps:
        return None
    return np.sum([e.cam_sum for e in with_maps], axis=0) / sum(e.n_frames for e in with_maps)


@dataclass(frozen=True)
class EventChange:
    """An event starting (it has just been confirmed; it began at ``event.start_s``) or ending."""

    kind: str  # "start" or "end"
    event: Event


@dataclass(frozen=True)
class AggregatedFrame:
    time_s: float
    prob_rip: float
    aggregated_prob: float  # what the hysteresis runs on: the window mean, or its fusion with the window's motion
    state: str  # one of STATES
    changes: tuple[EventChange, ...] = ()  # what became known about events on this frame
    window_mean: float | None = None  # the model's mean probability over the window (with motion fusion)
    motion_strength: float | None = None  # the window's seaward motion (with motion fusion)


class FrameAggregator:
    """Rolling window (seconds) of probabilities and raw CAMs, with hysteresis and minimum event duration."""

    def __init__(self, window_s: float, on_threshold: float, off_threshold: float, min_event_s: float,
                 fusion: MotionFusion | None = None, keep_events: int | None = None):
        if not window_s > 0:
            raise ConfigError(f"the aggregation window must be longer than 0 s (got {window_s:g})")
        if off_threshold > on_threshold:
            raise ConfigError(f"off threshold {off_threshold:g} must not exceed the on threshold {on_threshold:g}")
        self.window_s, self.min_event_s = window_s, min_event_s
        self.on_threshold, self.off_threshold = on_threshold, off_threshold
        self.fusion = fusion  # with motion: the window's probability weighs its seaward flow too
        self._window: deque[tuple[float, float]] = deque()
        self._window_sum = 0.0
        self._candidate: Event | None = None  # above the on threshold, not yet long enough
        self._active: Event | None = None
        self.events: list[Event] = []  # the ended events: all, or the last ``keep_events`` (a source without end)
        self.keep_events = keep_events
        self._last_time: float | None = None
        self._first_time: float | None = None
        self.closing: tuple[EventChange, ...] = ()  # the changes ``finish`` made

    @classmethod
    def from_config(cls, video_config: VideoConfig, model_threshold: float, fusion: MotionFusion | None = None,
                    keep_events: int | None = None) -> FrameAggregator:
        on, off = video_thresholds(video_config, model_threshold)
        return cls(video_config.window_s, on, off, video_config.min_event_s, fusion, keep_events)

    def _ended(self, event: Event) -> None:
        self.events.append(event)
        if self.keep_events is not None and len(self.events) > self.keep_events:
            del self.events[:len(self.events) - self.keep_events]

    @property
    def state(self) -> str:
        if self._active is not None:
            return "rip"
        return "possible_rip" if self._candidate is not None else "clear"

    def update(self, time_s: float, prob: float, cam: np.ndarray | None = None,
               motion_strength: float | None = None) -> AggregatedFrame:
        if self._last_time is not None and time_s < self._last_time:
            log.warning("timestamp went backwards (%.3f s after %.3f s); using %.3f s", time_s, self._last_time,
                        self._last_time)
            time_s = self._last_time
        self._first_time = time_s if self._first_time is None else self._first_time
        self._last_time = time_s
        self._window.append((time_s, prob))
        self._window_sum += prob
        while self._window[0][0] <= time_s - self.window_s:
            self._window_sum -= self._window.popleft()[1]
        window_mean = aggregated = self._window_sum / len(self._window)
        if self.fusion is not None and motion_strength is not None:
            aggregated = self.fusion.window_prob(window_mean, motion_strength)
        changes: tuple[EventChange, ...] = ()
        if self._active is not None:
            if aggregated < self.off_threshold:
                changes = (EventChange("end", self._active),)
                self._ended(self._active)
                self._active = None
            else:
                self._active.add(time_s, prob, cam)
        elif aggregated >= self.on_threshold:
            if self._candidate is None:
                self._candidate = Event.starting(time_s, prob, cam)
            else:
                self._candidate.add(time_s, prob, cam)
            if self._candidate.duration_s >= self.min_event_s:
                self._active, self._candidate = self._candidate, None
                changes = (EventChange("start", self._active),)
        else:
            self._candidate = None
        fused = self.fusion is not None and motion_strength is not None
        return AggregatedFrame(time_s, prob, aggregated, self.state, changes, window_mean if fused else None,
                               motion_strength if fused else None)

    def finish(self) -> list[Event]:
        """Close the open event (its end goes into ``closing``). A clip shorter than the minimum duration still gets
        its event if the rip was above threshold throughout (the clip's decision comes from the frames it has:
        ``closing`` then starts and ends it); a possible rip that began later and had not lasted ``min_event_s``
        when the clip ended is not an event."""
        closing: tuple[EventChange, ...] = ()
        if self._active is not None:
            closing = (EventChange("end", self._active),)
            self._ended(self._active)
            self._active = None
        elif self._candidate is not None:
            if self._candidate.start_s <= self._first_time:
                closing = (EventChange("start", self._candidate), EventChange("end", self._candidate))
                self._ended(self._candidate)
            self._candidate = None
        self.closing = closing
        return self.events


class SettledStates:
    """Frames in, frames out with their settled state, so per-frame states agree with the events.

    ``possible_rip`` frames are held until the outcome is known, then released as ``rip`` when the event is
    confirmed (it starts at the first crossing) or as ``possible_rip`` when it is not. At most ``max_held``
    frames are held; past that they go out as ``possible_rip``. Items are anything (frames, times)."""

    def __init__(self, max_held: int = 512):
        self.max_held = max_held
        self._held: list[Any] = []

    def push(self, item: Any, state: str) -> list[tuple[Any, str]]:
        """The frames whose state is settled now, in order (none while a possible rip is undecided)."""
        if state == "possible_rip" and len(self._held) < self.max_held:
            self._held.append(item)
            return []
        settled = "rip" if state == "rip" else "possible_rip"
        out = [(held, settled) for held in self._held] + [(item, state)]
        self._held = []
        return out

    def finish(self, events: list[Event], time_of: Callable[[Any], float]) -> list[tuple[Any, str]]:
        """The frames still held when the source ended: ``rip`` if the aggregator's ``finish`` made them an event."""
        if not self._held:
            return []
        start = time_of(self._held[0])
        settled = "rip" if any(e.start_s <= start <= e.end_s for e in events) else "possible_rip"
        out, self._held = [(held, settled) for held in self._held], []
        return out
