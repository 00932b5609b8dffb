"""A camera's own labelled frames, for ``ripdetect adapt``: the labels file, the day (or block of time) each frame
belongs to, and the checks that refuse what cannot teach anything.

The labels are a CSV ``path,label[,box][,day]`` as in training (``rip``/``no_rip``; ``box`` is ``x1 y1 x2 y2`` in
pixels, several separated by ``;``; ``day`` is any name of the day or block the frame was taken in). Frames of one
day look alike (the same light, tide and surf), so the honest before/after holds out whole days: without a ``day``
column the day is read from the file name (``2024-06-10``, ``20240610``), else the file's date; when that gives a
single day, the frames are cut into blocks of time in name order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ripdetect.data.images import stored_size
from ripdetect.data.labels import RegionLabel, parse_boxes
from ripdetect.data.layouts import Sample, labelled_rows
from ripdetect.errors import DataError

MIN_FRAMES = 5  # fewer frames say nothing about a camera
MIN_DAYS = 2  # the before/after holds out whole days: two at least
BLOCKS = 4  # blocks of time when every frame is from one day
DATE_IN_NAME = re.compile(r"(20\d\d)[-_]?([01]\d)[-_]?([0-3]\d)")


@dataclass(frozen=True)
class CameraLabels:
    """The frames of one camera, each with its label, rip boxes (where given) and day."""

    samples: list[Sample]
    days: list[str]
    size: tuple[int, int]  # (width, height) of every frame
    digest: str  # of the labels file's content: the adapted model records it

    @property
    def rips(self) -> int:
        return sum(s.label for s in self.samples)

    @property
    def calm(self) -> int:
        return len(self.samples) - self.rips


def day_of(path: Path) -> str | None:
    """The day in a frame's file name (``..._2024-06-10_...``, ``20240610``)."""
    match = DATE_IN_NAME.search(path.name)
    if match:
        try:
            return dt.date(*(int(g) for g in match.groups())).isoformat()
        except ValueError:
            return None
    return None


def _blocks(paths: list[Path], count: int) -> dict[Path, str]:
    ordered = sorted(paths, key=lambda p: p.name)
    return {p: f"block {1 + i * count // len(ordered)}" for i, p in enumerate(ordered)}


def read_camera_labels(labels_path: str | Path) -> CameraLabels:
    """The labelled frames; one-line ``DataError`` naming the file (and line) for a bad file, a frame that cannot be
    read, or frames of another size than the camera's."""
    labels_path = Path(labels_path)
    samples, given_days, size = [], [], None
    for line, row, label in labelled_rows(labels_path, "labels file", "path,label[,box][,day]"):
        path = Path((row.get("path") or "").strip())
        path = path if path.is_absolute() else labels_path.parent / path
        try:
            frame_size = stored_size(path)
        except FileNotFoundError:
            raise DataError(f"line {line}: frame {path} not found", labels_path) from None
        except OSError as exc:
            raise DataError(f"line {line}: cannot read frame {path}: not an image or unreadable ({type(exc).__name__})",
                            labels_path) from None
        if size is None:
            size = frame_size
        elif frame_size != size:
            raise DataError(f"line {line}: {path.name} is {frame_size[0]}x{frame_size[1]}, but this camera's frames are "
                            f"{size[0]}x{size[1]} (all frames must come from the one camera)", labels_path)
        try:
            boxes = parse_boxes(row.get("box") or "")
        except ValueError as exc:
            raise DataError(f"line {line}: {exc}", labels_path) from None
        if boxes and not label:
            raise DataError(f"line {line}: a no_rip frame cannot have a rip box", labels_path)
        samples.append(Sample(str(path), label, RegionLabel(boxes=boxes)))
        given_days.append((row.get("day") or "").strip() or None)
    if not samples:
        raise DataError("the labels file lists no frame", labels_path)
    days = _days([Path(s.path) for s in samples], given_days)
    digest = hashlib.sha256(labels_path.read_bytes()).hexdigest()[:16]
    return CameraLabels(samples, days, size, digest)


def _days(paths: list[Path], given: list[str | None]) -> list[str]:
    """The day of every frame: the ``day`` column, else the date in its name, else its file date; blocks of time
    when that gives one day."""
    days = []
    for path, day in zip(paths, given):
        if day is None:
            day = day_of(path)
        if day is None:
            day = dt.date.fromtimestamp(path.stat().st_mtime).isoformat()
        days.append(day)
    if len(set(days)) < MIN_DAYS and len(paths) >= MIN_FRAMES and not any(given):
        blocks = _blocks(paths, BLOCKS)
        days = [blocks[path] for path in paths]
    return days


def check_enough(labels: CameraLabels, where: str | Path) -> None:
    """Refuse, with the reason, labels too few to say anything (or to learn the camera's normal from)."""
    if labels.calm == 0:
        raise DataError("every frame is labelled rip: adapt needs calm frames of this camera to learn its normal "
                        "(label some no_rip frames)", where)
    if len(labels.samples) < MIN_FRAMES:
        raise DataError(f"{len(labels.samples)} labelled frame(s) are too few to say anything about this camera: "
                        f"label at least {MIN_FRAMES}, from at least {MIN_DAYS} days", where)
    if len(set(labels.days)) < MIN_DAYS:
        raise DataError(f"every frame is from one day ({labels.days[0]}): the before/after must hold out whole days; "
                        f"add frames of another day, or a day column", where)
