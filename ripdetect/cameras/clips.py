"""One clip of a camera (10 minutes by default): its frames' timeline, its events and its time-averaged image,
written as the same files as a ``ripdetect video`` result (``summary.json``, ``events.json``, ``timeline.*``,
``summary.png``). Memory per clip is bounded: one running mean image, one map sum, and the timeline rows.

The events are the aggregator's (``ripdetect.video.aggregate``): those open when the clip began and those that start
in it, each cut to the clip's span, with the peak and mean of the clip's frames inside that span."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ripdetect import records
from ripdetect.data.images import resize_long_side
from ripdetect.inference.predictor import Predictor
from ripdetect.video.aggregate import Event
from ripdetect.video.analyse import FrameResult
from ripdetect.video.outputs import ANNOTATED_MAX_SIDE, RunningMean, timeline_row, write_outputs


def iso_time(wall: float) -> str:
    """A wall-clock time as local ISO 8601 with its UTC offset, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(wall))


class ClipAccumulator:
    """Frames of one clip in; its result files out. Times in the files count from the clip's start; the summary
    also gives wall-clock times. ``open_event`` is the event already under way when the clip begins."""

    def __init__(self, camera: str, source: str, key: str, start_s: float, wall_offset: float,
                 predictor: Predictor, on_threshold: float, off_threshold: float, video_settings: dict,
                 open_event: Event | None = None, show_flow: bool = False):
        self.camera, self.source, self.key = camera, source, key
        self.start_s, self.wall_offset = start_s, wall_offset  # wall = source time + wall_offset
        self.predictor = predictor
        self.on_threshold, self.off_threshold = on_threshold, off_threshold
        self.video_settings = video_settings
        self.rows: list[dict] = []
        self.timex = RunningMean()
        self.events: list[Event] = [] if open_event is None else [open_event]
        self.ended: set[int] = set()  # ids of the events that ended (in this clip or before it)
        self.cam_sum: np.ndarray | None = None  # over the clip's rip frames, for summary.png
        self.rip_frames = 0
        self.partial_decode = False  # its file was cut short (truncated or damaged): decoding stopped early
        self.flow = RunningMean() if show_flow else None  # the clip's seaward-flow evidence, drawn in summary.png
        self.offshore: np.ndarray | None = None

    def add(self, result: FrameResult) -> None:
        row = timeline_row(result)
        row["time_s"] = records.seconds(result.frame.time_s - self.start_s)
        self.rows.append(row)
        self.timex.add(resize_long_side(result.frame.image_rgb, ANNOTATED_MAX_SIDE))
        if self.flow is not None and result.motion is not None and result.motion.offshore is not None:
            self.flow.add(result.motion.evidence)
            self.offshore = result.motion.offshore
        if result.aggregated.state == "rip":
            cam = result.prediction.cam.astype(np.float64)
            self.cam_sum = cam if self.cam_sum is None else self.cam_sum + cam
            self.rip_frames += 1
        self.apply(result.aggregated.changes)

    def apply(self, changes) -> None:
        """The aggregator's event changes (``EventChange``) seen with a frame of this clip, or at the source's end."""
        for change in changes:
            if change.kind == "start" and all(e is not change.event for e in self.events):
                self.events.append(change.event)
            elif change.kind == "end":
                self.ended.add(id(change.event))

    def clip_events(self, end_s: float) -> list[tuple[Event, bool]]:
        """Each event cut to the clip (times from the clip's start), with its peak and mean over the clip's frames,
        and whether it was still open at the clip's end."""
        cut = []
        for event in self.events:
            start = max(event.start_s, self.start_s) - self.start_s
            end = min(event.end_s, end_s) - self.start_s
            probs = [row["prob_rip"] for row in self.rows if start <= row["time_s"] <= end] or [event.peak_prob]
            part = Event(start, max(start, end), max(probs), float(np.mean(probs)), len(probs))
            cut.append((part, id(event) not in self.ended))
        return cut

    def summary(self, end_s: float, complete: bool) -> dict:
        events = self.clip_events(end_s)
        probs = [r["prob_rip"] for r in self.rows]
        duration_s = max(0.0, end_s - self.start_s)
        return {
            "camera": self.camera,
            "source": self.source,
            "clip_start": iso_time(self.start_s + self.wall_offset),
            "clip_end": iso_time(end_s + self.wall_offset),
            "complete": complete,
            "partial_decode": self.partial_decode,
            "rip_detected": bool(events),
            "duration_s": records.seconds(duration_s),
            "n_frames": len(self.rows),
            "max_prob": records.prob(max(probs)) if probs else None,
            "mean_prob": records.prob(float(np.mean(probs))) if probs else None,
            "events": [{**e.to_dict(), "start_time": iso_time(self.start_s + e.start_s + self.wall_offset),
                        "end_time": iso_time(self.start_s + e.end_s + self.wall_offset), "open": still_open}
                       for e, still_open in events],
            "model_id": self.predictor.checkpoint.model_id,
            "on_threshold": self.on_threshold,
            "off_threshold": self.off_threshold,
            "roi": None if self.predictor.roi is None else self.predictor.roi.to_list(),
            **self.video_settings,
        }

    def finish(self, end_s: float, complete: bool) -> tuple[dict, dict[str, bytes]]:
        """The clip's summary and its files (name -> bytes), made in a private temporary folder."""
        summary = self.summary(end_s, complete)
        mean_cam = None if self.cam_sum is None else self.cam_sum / self.rip_frames
        folder = Path(tempfile.mkdtemp(prefix="ripdetect-clip-"))
        try:
            motion = None if self.flow is None or self.offshore is None else (self.flow.mean_float, self.offshore)
            write_outputs(folder, self.rows, [e for e, _ in self.clip_events(end_s)], summary, self.timex.mean,
                          self.predictor, mean_cam, motion=motion)
            return summary, {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
