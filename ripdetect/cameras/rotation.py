"""Bounded disk use: clip results, alert frames and database rows older than ``--keep-days`` are removed. Only
what the watcher made goes: the result files of the clip folders it recorded, alert frames of its own naming, its
day markers; a folder is removed only when nothing else is left in it (a file of someone else's keeps it), and a
folder named like a day that is not a date is not one of ours."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from ripdetect.cameras.database import StateStore
from ripdetect.cameras.sink import DAY_MARKER
from ripdetect.video.provenance import RESULT_FILES

CLIP_FILES = RESULT_FILES  # what a clip folder of the watcher holds

log = logging.getLogger(__name__)
DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
ALERT_FRAME_PATTERN = re.compile(r"\d{2}-\d{2}-\d{2}-(start|end)\.jpg")


def rotate(out_dir: Path, store: StateStore, cameras: list[str], keep_days: float, now: float | None = None) -> int:
    """Remove what is older than ``keep_days``; returns how many clip folders went."""
    out_dir = Path(out_dir).resolve()
    before = (time.time() if now is None else now) - keep_days * 86_400
    expired = store.expired_clips(before)
    for clip in expired:
        folder = (out_dir / clip["folder"]).resolve()
        if folder.is_dir() and out_dir in folder.parents:
            _remove_clip(folder)
    store.forget_before(before, [clip["key"] for clip in expired])
    for camera in cameras:
        camera_dir = out_dir / camera
        days = [d for d in camera_dir.iterdir() if d.is_dir() and DAY_PATTERN.fullmatch(d.name)] \
            if camera_dir.is_dir() else []
        for day in days:
            try:
                day_end = time.mktime(time.strptime(day.name, "%Y-%m-%d")) + 86_400
            except (ValueError, OverflowError):
                continue  # named like a day but not one (2020-13-45): not a folder of ours
            if day_end < before and (day / DAY_MARKER).exists():
                _remove_day(day)
    if expired:
        log.info("removed %d clip results older than %g days", len(expired), keep_days)
    return len(expired)


def _remove_clip(folder: Path) -> None:
    """A clip folder's result files (the names the watcher writes); the folder itself only when that empties it."""
    for name in CLIP_FILES:
        (folder / name).unlink(missing_ok=True)
    _remove_if_empty(folder)


def _remove_day(day: Path) -> None:
    alerts = day / "alerts"
    if alerts.is_dir():
        for frame in alerts.iterdir():
            if ALERT_FRAME_PATTERN.fullmatch(frame.name):
                frame.unlink(missing_ok=True)
        _remove_if_empty(alerts)
    if not [p for p in day.iterdir() if p.name != DAY_MARKER]:
        (day / DAY_MARKER).unlink(missing_ok=True)
        _remove_if_empty(day)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # something of someone else's is in it: kept
