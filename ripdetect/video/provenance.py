"""What a video result was made from, and whose a result folder is.

Every result folder holds ``provenance.json``: the input's identity (resolved path, size and modification time;
the URL for a stream), the video settings, the model (its id and a fingerprint of its weights), the decision
thresholds, the region settings and the region of interest. A re-run reuses a finished result only when all of
these match, so no result made from another input, other settings or another model is ever reported.
``provenance.json`` is written first when results are published and ``.done`` last, so a folder holding either is
ripdetect's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ripdetect.config import VideoConfig, to_dict
from ripdetect.decision import video_thresholds
from ripdetect.inference.predictor import Predictor
from ripdetect.version import __version__
from ripdetect.video.io import is_stream

PROVENANCE_NAME = "provenance.json"
DONE_MARKER = ".done"
FORMAT = "ripdetect-video-result"
RESULT_FILES = ("timeline.csv", "timeline.json", "events.json", "summary.json", "summary.png", "timeline.png",
                "annotated.mp4")
# settings that change no result: left out of the comparison
_NEUTRAL_VIDEO_KNOBS = ("queue_size",)
_RESULT_INFERENCE_KNOBS = ("cam_method", "cam_layer", "cam_threshold", "cam_threshold_mode", "min_region_fraction",
                           "region_when_negative", "map_when_negative")


def input_identity(source: str | Path) -> dict[str, Any]:
    """The resolved path, size and modification time of a file (the URL or device of a stream)."""
    if is_stream(source):
        return {"stream": str(source)}
    path = Path(source).resolve()
    try:
        stat = path.stat()
    except OSError:
        return {"path": str(path)}
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def made_from(source: str | Path, predictor: Predictor, video_config: VideoConfig) -> dict[str, Any]:
    """Everything a video result depends on."""
    on, off = video_thresholds(video_config, predictor.video_threshold)
    settings = {k: v for k, v in to_dict(video_config).items() if k not in _NEUTRAL_VIDEO_KNOBS}
    return {
        "input": input_identity(source),
        "video_config": settings,
        "on_threshold": on,
        "off_threshold": off,
        "model": {"id": predictor.checkpoint.model_id, "weights": predictor.backend.fingerprint(),
                  "threshold": predictor.threshold},
        "inference": {k: getattr(predictor.config, k) for k in _RESULT_INFERENCE_KNOBS},
        "roi": None if predictor.roi is None else predictor.roi.to_list(),
    }


def provenance_record(source: str | Path, predictor: Predictor, video_config: VideoConfig) -> dict[str, Any]:
    """The ``provenance.json`` of a result: what it was made from, plus the library version (not compared)."""
    return {"format": FORMAT, "made_from": made_from(source, predictor, video_config),
            "library_version": __version__}


def read_provenance(folder: str | Path) -> dict[str, Any] | None:
    """A folder's ``provenance.json`` when it is one of ours, else ``None``."""
    try:
        record = json.loads((Path(folder) / PROVENANCE_NAME).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    ok = isinstance(record, dict) and record.get("format") == FORMAT and isinstance(record.get("made_from"), dict)
    return record if ok else None


def is_done(folder: str | Path) -> bool:
    return (Path(folder) / DONE_MARKER).is_file()


def is_result_folder(folder: str | Path) -> bool:
    """A folder that ripdetect made for a video result (finished, or interrupted while it was published)."""
    return is_done(folder) or read_provenance(folder) is not None


def differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the entries that differ, e.g. ``['video_config.sample_fps', 'on_threshold']``."""
    names = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            names += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            names.append(f"{prefix}{key}")
    return names


def foreign_files(folder: str | Path) -> list[str]:
    """Names of the files a result would replace in ``folder`` that ripdetect did not write there (none when the
    folder is one of ours)."""
    folder = Path(folder)
    if not folder.is_dir() or is_result_folder(folder):
        return []
    return [name for name in (*RESULT_FILES, PROVENANCE_NAME, DONE_MARKER) if (folder / name).exists()]
