"""What a camera host tells the watcher: plain, picklable records (they cross process boundaries on Ray). The
host analyses; the watcher alone writes the state, the files, the alerts and the metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UP, DOWN, FINISHED = "up", "down", "finished"


@dataclass(frozen=True)
class StatusNote:
    camera: str
    status: str  # UP (frames flow), DOWN (lost or cannot open; retrying) or FINISHED (files processed)
    detail: str
    wall: float
    session: int = 0  # counts the camera's connections (a new one after every reconnect)


@dataclass(frozen=True)
class FrameNote:
    camera: str
    wall: float
    prob_rip: float
    aggregated_prob: float
    state: str
    latency_s: float  # from decoding the frame to its settled result
    session: int = 0


@dataclass(frozen=True)
class EventNote:
    camera: str
    kind: str  # "start" or "end"
    key: str  # the same event gets the same key when a file is processed again
    start_wall: float
    end_wall: float
    start_s: float  # in the source's own time
    end_s: float
    peak_prob: float
    mean_prob: float
    source: str
    live: bool
    snapshot_jpeg: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SnapshotNote:
    camera: str
    wall: float
    jpeg: bytes = field(repr=False)


@dataclass(frozen=True)
class QueueNote:
    """A frame worth an operator's label (``ripdetect.cameras.label_queue``)."""

    camera: str
    wall: float
    reason: str
    prob_rip: float
    jpeg: bytes = field(repr=False)


@dataclass(frozen=True)
class ClipNote:
    camera: str
    key: str
    start_wall: float
    end_wall: float
    summary: dict[str, Any] = field(repr=False)
    files: dict[str, bytes] = field(repr=False)


@dataclass(frozen=True)
class FileDoneNote:
    camera: str
    identity: str  # the file's path, size and modification time, hashed: an edited file is new
    path: str
    error: str | None = None  # why the file could not be analysed
    path_key: str | None = None  # what keys the file's events (its path: the same while a recorder writes it)


@dataclass(frozen=True)
class ErrorNote:
    camera: str
    detail: str  # what went wrong, one line
    wall: float
