"""One clip of a camera (10 minutes by default): its frames' timeline, its events and its time-averaged image,
written as the same files as a ``ripdetect video`` result (``summary.json``, ``events.json``, ``timeline.*``,
``summary.png``). Memory per clip is bounded: one running mean image, one event map sum, and the timeline rows."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ripdetect.cameras.events import EventTracker
from ripdetect.data.images import resize_long_side
from ripdetect.inference.predictor import Predictor
from ripdetect.video.analyse import FrameResult
from ripdetect.video.report import (
    ANNOTATED_MAX_SIDE,
    RunningMean,
    timeline_row,
    write_outputs,
)


def iso_time(wall: float) -> str:
    """A wall-clock time as local ISO 8601 with its UTC offset, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(wall))


class ClipAccumulator:
    """Frames of one clip in; its result files out. Times in the files count from the clip's start; the summary
    also gives wall-clock times."""

    def __init__(self, camera: str, source: str, key: str, start_s: float, wall_offset: float,
                 predictor: Predictor, on_threshold: float, off_threshold: float, video_settings: dict):
        self.camera, self.source, self.key = camera, source, key
        self.start_s, self.wall_offset = start_s, wall_offset  # wall = source time + wall_offset
        self.predictor = predictor
        self.on_threshold, self.off_threshold = on_threshold, off_threshold
        self.video_settings = video_settings
        self.rows: list[dict] = []
        self.timex = RunningMean()
        self.tracker = EventTracker()
        self.last_s = start_s

    def add(self, result: FrameResult) -> None:
        row = timeline_row(result)
        row["time_s"] = round(result.frame.time_s - self.start_s, 3)
        self.rows.append(row)
        self.timex.add(resize_long_side(result.frame.image_rgb, ANNOTATED_MAX_SIDE))
        self.tracker.push(row["time_s"], result.prediction.prob_rip, result.aggregated.state, result.prediction.cam)
        self.last_s = result.frame.time_s

    def summary(self, end_s: float, complete: bool) -> dict:
        events = self.tracker.events
        probs = [r["prob_rip"] for r in self.rows]
        duration_s = max(0.0, end_s - self.start_s)
        return {
            "camera": self.camera,
            "source": self.source,
            "clip_start": iso_time(self.start_s + self.wall_offset),
            "clip_end": iso_time(end_s + self.wall_offset),
            "complete": complete,
            "rip_detected": bool(events),
            "duration_s": round(duration_s, 3),
            "n_frames": len(self.rows),
            "max_prob": round(max(probs), 5) if probs else None,
            "mean_prob": round(float(np.mean(probs)), 5) if probs else None,
            "events": [{**e.to_dict(), "start_time": iso_time(self.start_s + e.start_s + self.wall_offset),
                        "end_time": iso_time(self.start_s + e.end_s + self.wall_offset),
                        "open": e is self.tracker.open} for e in events],
            "model_id": self.predictor.checkpoint.model_id,
            "on_threshold": self.on_threshold,
            "off_threshold": self.off_threshold,
            "roi": None if self.predictor.roi is None else self.predictor.roi.to_list(),
            **self.video_settings,
        }

    def finish(self, end_s: float, complete: bool) -> tuple[dict, dict[str, bytes]]:
        """The clip's summary and its files (name -> bytes), made in a private temporary folder."""
        summary = self.summary(end_s, complete)
        folder = Path(tempfile.mkdtemp(prefix="ripdetect-clip-"))
        try:
            write_outputs(folder, self.rows, self.tracker.events, summary, self.timex.mean, self.predictor)
            return summary, {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
