"""The labelling queue: the frames of a camera most worth an operator's label, kept by ``ripdetect watch`` for
``ripdetect adapt`` and the app's Label step.

Worth a label (highest first):

- ``short_event``: the peak frame of an event that ended within twice the minimum event length: a flicker the
  operator should confirm or dismiss;
- ``near_threshold``: a frame whose probability is within ``queue_margin`` of the threshold: the model is unsure
  (at most one per ``queue_gap_s``, so one wave does not fill the queue);
- ``calm_sample``: a thin sample of ordinary calm frames (one per ``queue_calm_every_s``, at a random moment in
  it), so the camera's normal is labelled too.

The frames (raw, without overlay) go to ``CAMERA/queue/`` with ``queue.csv`` listing them. The queue is bounded
(``queue_max`` frames a camera): when full, the lowest-priority, oldest frames it wrote are removed; a file it did
not write is never touched. The chooser runs beside the analysis (``QueueChooser``), the writer in the watcher's
sink (``LabelQueue``).
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import cv2
import numpy as np

from ripdetect import records
from ripdetect.cameras.messages import QueueNote
from ripdetect.config import WatchConfig
from ripdetect.data.images import resize_long_side
from ripdetect.files import atomic_path

QUEUE_DIR, QUEUE_CSV = "queue", "queue.csv"
QUEUE_FIELDS = ("file", "time", "reason", "prob_rip")
PRIORITY = {"short_event": 2, "near_threshold": 1, "calm_sample": 0}
QUEUE_MAX_SIDE = 1280  # a queued frame's long side: enough to label, small on disk
FRAME_NAME = re.compile(r"\d{8}-\d{6}-\d{3}_(short_event|near_threshold|calm_sample)\.jpg")


def most_worth_first(rows: list[dict]) -> list[dict]:
    """Queue rows by priority, then the newest first."""
    return sorted(rows, key=lambda r: (PRIORITY.get(r.get("reason"), 0), r["file"][:19]), reverse=True)


def encode_frame(image_rgb: np.ndarray) -> bytes:
    image = resize_long_side(image_rgb, QUEUE_MAX_SIDE)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return encoded.tobytes() if ok else b""


class QueueChooser:
    """Which of one camera's analysed frames go to its queue (the analysis side: it sees every frame)."""

    def __init__(self, camera: str, config: WatchConfig, threshold: float, min_event_s: float, seed: int = 0):
        self.camera, self.config, self.threshold, self.min_event_s = camera, config, threshold, min_event_s
        self.rng = np.random.default_rng(seed)
        self.last_unsure = -float("inf")
        self.calm_period, self.calm_at = None, 0.0  # the current calm period and the moment sampled in it
        self.peak: tuple[float, float, np.ndarray] | None = None  # (p, wall, frame) of the open event's peak

    def frame(self, image_rgb: np.ndarray, prob: float, state: str, wall: float) -> list[QueueNote]:
        """The queue notes this frame makes (none, mostly)."""
        if self.config.queue_max == 0:
            return []
        notes = []
        if state == "rip" and (self.peak is None or prob > self.peak[0]):
            self.peak = (prob, wall, image_rgb)
        if abs(prob - self.threshold) <= self.config.queue_margin and wall - self.last_unsure >= self.config.queue_gap_s:
            self.last_unsure = wall
            notes.append(QueueNote(self.camera, wall, "near_threshold", prob, encode_frame(image_rgb)))
        elif state == "clear" and prob < self.threshold - self.config.queue_margin:
            period = int(wall // self.config.queue_calm_every_s)
            if period != self.calm_period:
                self.calm_period = period
                self.calm_at = (period + self.rng.random()) * self.config.queue_calm_every_s
            if wall >= self.calm_at:
                self.calm_at = float("inf")  # one a period
                notes.append(QueueNote(self.camera, wall, "calm_sample", prob, encode_frame(image_rgb)))
        return notes

    def source_ended(self) -> None:
        self.peak = None

    def event_ended(self, duration_s: float) -> list[QueueNote]:
        """An event ended: its peak frame, when the event was short."""
        peak, self.peak = self.peak, None
        if self.config.queue_max == 0 or peak is None or duration_s > 2 * self.min_event_s:
            return []
        return [QueueNote(self.camera, peak[1], "short_event", peak[0], encode_frame(peak[2]))]


class LabelQueue:
    """One camera's queue on disk (the sink side)."""

    def __init__(self, camera_dir: Path, queue_max: int):
        self.folder, self.queue_max = camera_dir / QUEUE_DIR, queue_max

    def rows(self) -> list[dict]:
        """The queued frames (``queue.csv``), those whose file is still there."""
        path = self.folder / QUEUE_CSV
        if not path.is_file():
            return []
        with open(path, newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if set(QUEUE_FIELDS) <= set(row)]
        return [row for row in rows if FRAME_NAME.fullmatch(row["file"]) and (self.folder / row["file"]).is_file()]

    def add(self, note: QueueNote) -> Path:
        """Write the frame and list it; then trim the queue to ``queue_max``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        moment = time.localtime(note.wall)
        name = f"{time.strftime('%Y%m%d-%H%M%S', moment)}-{int(note.wall % 1 * 1000):03d}_{note.reason}.jpg"
        with atomic_path(self.folder / name, overwrite=True) as tmp:
            tmp.write_bytes(note.jpeg)
        rows = [r for r in self.rows() if r["file"] != name]
        rows.append({"file": name, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", moment), "reason": note.reason,
                     "prob_rip": records.prob(note.prob_rip)})
        self._write(self.trim(rows))
        return self.folder / name

    def trim(self, rows: list[dict]) -> list[dict]:
        """Keep the ``queue_max`` most worth labelling (priority, then the newest); remove the files of the rest (only
        frames this queue wrote: listed in its ``queue.csv`` and named by it)."""
        if len(rows) <= self.queue_max:
            return rows
        ranked = most_worth_first(rows)
        keep, drop = ranked[:self.queue_max], ranked[self.queue_max:]
        for row in drop:
            if FRAME_NAME.fullmatch(row["file"]):
                (self.folder / row["file"]).unlink(missing_ok=True)
        return sorted(keep, key=lambda r: r["file"])

    def _write(self, rows: list[dict]) -> None:
        records.write_csv(self.folder / QUEUE_CSV, rows, QUEUE_FIELDS)
