"""Video as operators see it: false alarms per camera-hour, rip clips missed, and the time to the first alert.

A labelled clip is rip or no rip, and may say when its rip was there (``events``, true spans in seconds; without
them the whole of a rip clip counts as rip). Each clip is scored by the model once (``score_clip``: the probability of
every sampled frame); the alerts are then what the temporal decision makes of those scores (``replay``: the same
``FrameAggregator`` as ``ripdetect video`` and ``watch``, so an alert here is one that a camera would send, at the
frame on which it would go out). Replaying is pure and fast, so the decision's settings (window, on and off
thresholds, minimum event) can be compared on the same scores (``sweep``).

- A false alarm is an event that overlaps no true rip: every event of a no-rip clip, and an event of a rip clip
  outside its true spans (when they are given). False alarms per camera-hour count them over the hours of video
  without a rip.
- A rip clip is missed when no event overlaps its rip.
- The time to the first alert runs from the rip's start (the first true span, else the clip's start) to the frame on
  which the first event that overlaps it was confirmed: when a watcher sends its alert.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ripdetect import records
from ripdetect.config import VideoConfig
from ripdetect.data.layouts import NEGATIVE_DIRS, POSITIVE_DIRS, labelled_rows
from ripdetect.decision import video_thresholds
from ripdetect.errors import DataError, InputError
from ripdetect.inference.predictor import Predictor
from ripdetect.video.aggregate import FrameAggregator
from ripdetect.video.io import VIDEO_EXTENSIONS, FrameStream, prefetch

log = logging.getLogger(__name__)
ProgressFn = Callable[[str, dict], None]
CLIP_FIELDS = ("path", "label", "duration_s", "no_rip_s", "events", "false_events", "detected", "first_alert_s",
               "time_to_first_alert_s", "max_window_prob", "error")


@dataclass(frozen=True)
class LabelledClip:
    """One clip and what it shows: a rip or not, and when (true spans in seconds; empty: the whole clip)."""

    path: str
    rip: bool
    spans: tuple[tuple[float, float], ...] = ()


@dataclass
class ClipScores:
    """The model's probability of every sampled frame of one clip (what replaying needs, without the frames)."""

    times: np.ndarray
    probs: np.ndarray
    duration_s: float


@dataclass(frozen=True)
class Alert:
    """One event as a watcher would tell it: it began at ``start_s``, its start alert went out at ``alert_s`` (the
    frame that confirmed it) and it ended at ``end_s``."""

    start_s: float
    alert_s: float
    end_s: float
    peak_prob: float


def parse_spans(text: str, where: str) -> tuple[tuple[float, float], ...]:
    """``"12.5-40; 80-95"`` -> ((12.5, 40.0), (80.0, 95.0)); a one-line ``DataError`` naming ``where`` otherwise."""
    spans = []
    for part in filter(None, (p.strip() for p in text.replace(",", ";").split(";"))):
        try:
            start, end = (float(v) for v in part.split("-"))
        except ValueError:
            raise DataError(f"{where}: events must look like '12.5-40; 80-95' (seconds), got {part!r}") from None
        if not 0 <= start <= end:
            raise DataError(f"{where}: event {part!r} must start at 0 s or later and end after it starts")
        spans.append((start, end))
    return tuple(spans)


def _from_manifest(path: Path) -> list[LabelledClip]:
    clips = []
    for line, row, label in labelled_rows(path, "clip manifest", "path,label[,events]"):
        spans = parse_spans(row.get("events") or "", f"{path}: line {line}")
        if spans and not label:
            raise DataError(f"line {line}: a no_rip clip cannot have rip events", path)
        clip_path = Path(row["path"].strip())
        clips.append(LabelledClip(str(clip_path if clip_path.is_absolute() else path.parent / clip_path),
                                  bool(label), spans))
    return clips


def _from_synth(folder: Path) -> list[LabelledClip]:
    """``ripdetect synth --clips`` output: each clip's per-frame labels give its label and its true spans."""
    clips = []
    for labels_path in sorted((folder / "clips").glob("*_labels.csv")):
        with open(labels_path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        video = labels_path.with_name(labels_path.name.replace("_labels.csv", ".mp4"))
        step = float(rows[1]["time_s"]) - float(rows[0]["time_s"]) if len(rows) > 1 else 0.0
        spans = []
        for rip, run in itertools.groupby(rows, key=lambda r: r["rip"] == "1"):
            run = list(run)
            if rip:
                spans.append((float(run[0]["time_s"]), float(run[-1]["time_s"]) + step))
        clips.append(LabelledClip(str(video), bool(spans), tuple(spans)))
    return clips


def _from_class_folders(folder: Path) -> list[LabelledClip]:
    clips = []
    for child in sorted(p for p in folder.iterdir() if p.is_dir()):
        name = child.name.lower()
        if name in POSITIVE_DIRS or name in NEGATIVE_DIRS:
            clips += [LabelledClip(str(p), name in POSITIVE_DIRS) for p in sorted(child.rglob("*"))
                      if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS]
    return clips


def load_labelled_clips(sources: Iterable[str | Path]) -> list[LabelledClip]:
    """Labelled clips from manifests (``path,label[,events]``), class folders (``rip/`` and ``no_rip/`` holding
    videos) and ``ripdetect synth`` output (its ``clips/``); a one-line ``DataError`` for a source that is none."""
    clips: list[LabelledClip] = []
    for source in map(Path, sources):
        if source.is_file() and source.suffix.lower() == ".csv":
            found = _from_manifest(source)
        elif source.is_dir() and (source / "clips").is_dir():
            found = _from_synth(source)
        elif source.is_dir():
            found = _from_class_folders(source)
        else:
            raise DataError("not a clip manifest (.csv), a folder of rip/ and no_rip/ videos, or ripdetect synth "
                            "output with clips/", source)
        if not found:
            raise DataError("holds no labelled clip (rip/ and no_rip/ videos, synth clips/, or manifest rows)", source)
        clips += found
    return clips


def score_clip(path: str | Path, predictor: Predictor, video_config: VideoConfig) -> ClipScores:
    """The probability of every sampled frame of a clip, in batches, as ``ripdetect video`` samples it."""
    stream = FrameStream(path, video_config.sample_fps, video_config.stride, video_config.max_side,
                         max_pixels=video_config.max_pixels)
    times, probs, batch = [], [], []

    def flush() -> None:
        if batch:
            probs.extend(predictor.probabilities_and_maps([frame.image_rgb for frame in batch])[0].tolist())
            times.extend(frame.time_s for frame in batch)
            batch.clear()

    frames = prefetch(iter(stream), video_config.queue_size)
    try:
        for frame in frames:
            batch.append(frame)
            if len(batch) >= predictor.config.batch_size:
                flush()
        flush()
    finally:
        frames.close()
    return ClipScores(np.asarray(times, float), np.asarray(probs, float), stream.duration_s)


def replay(scores: ClipScores, video_config: VideoConfig, model_threshold: float) -> tuple[list[Alert], float]:
    """The alerts a camera would send for these scores, and the highest window mean seen."""
    on, off = video_thresholds(video_config, model_threshold)
    aggregator = FrameAggregator(video_config.window_s, on, off, video_config.min_event_s)
    alerted: dict[int, float] = {}  # event id -> when its start went out
    highest = 0.0
    for time_s, prob in zip(scores.times, scores.probs):
        frame = aggregator.update(float(time_s), float(prob))
        highest = max(highest, frame.aggregated_prob)
        for change in frame.changes:
            if change.kind == "start":
                alerted[id(change.event)] = float(time_s)
    events = aggregator.finish()
    last = float(scores.times[-1]) if len(scores.times) else 0.0
    for change in aggregator.closing:
        if change.kind == "start":
            alerted[id(change.event)] = last
    return [Alert(e.start_s, alerted.get(id(e), e.start_s), e.end_s, e.peak_prob) for e in events], highest


def _overlaps(alert: Alert, spans: tuple[tuple[float, float], ...], slack_s: float) -> bool:
    return any(alert.start_s <= end + slack_s and alert.end_s >= start - slack_s for start, end in spans)


def clip_outcome(clip: LabelledClip, alerts: list[Alert], duration_s: float, slack_s: float = 0.0) -> dict:
    """What one clip's alerts mean: false events, whether its rip was found and how soon. ``slack_s`` lets an event
    that ends or starts that close to a true span count as overlapping it (the window lags the scene)."""
    spans = clip.spans or (((0.0, duration_s),) if clip.rip else ())
    true = [a for a in alerts if clip.rip and _overlaps(a, spans, slack_s)]
    rip_s = sum(min(end, duration_s) - min(start, duration_s) for start, end in spans)
    first = min((a.alert_s for a in true), default=None)
    onset = min((start for start, _ in spans), default=0.0)
    return {"path": clip.path, "label": "rip" if clip.rip else "no_rip", "duration_s": records.seconds(duration_s),
            "no_rip_s": records.seconds(max(0.0, duration_s - rip_s)), "events": len(alerts),
            "false_events": len(alerts) - len(true), "detected": bool(true) if clip.rip else None,
            "first_alert_s": records.seconds(first),
            "time_to_first_alert_s": None if first is None else records.seconds(max(0.0, first - onset))}


def summarise(rows: list[dict]) -> dict:
    """False alarms per camera-hour (over the hours without a rip), rip clips missed, and the time to the first
    alert (median and worst, over the rip clips found)."""
    scored = [row for row in rows if not row.get("error")]
    hours = sum(row["no_rip_s"] for row in scored) / 3600
    false_events = sum(row["false_events"] for row in scored)
    rips = [row for row in scored if row["label"] == "rip"]
    found = [row for row in rips if row["detected"]]
    delays = sorted(row["time_to_first_alert_s"] for row in found)
    return {
        "clips": len(scored), "clips_not_analysed": len(rows) - len(scored), "rip_clips": len(rips),
        "no_rip_clips": len(scored) - len(rips), "hours_without_rip": round(hours, 4), "false_events": false_events,
        "false_alarms_per_camera_hour": None if hours == 0 else round(false_events / hours, 2),
        "rip_clips_detected": len(found), "rip_clips_missed": len(rips) - len(found),
        "time_to_first_alert_s": {"median": records.seconds(float(np.median(delays))) if delays else None,
                                  "max": records.seconds(delays[-1]) if delays else None},
    }


def evaluate_clips(clips: list[LabelledClip], predictor: Predictor, video_config: VideoConfig,
                   progress: ProgressFn | None = None) -> tuple[dict, list[dict], dict[str, ClipScores]]:
    """Score every clip once and replay the decision: (summary, one row per clip, the scores by path). A clip that
    cannot be read is a row with its ``error``; the others go on."""
    rows, scores = [], {}
    for index, clip in enumerate(clips):
        try:
            scores[clip.path] = score_clip(clip.path, predictor, video_config)
        except InputError as exc:
            rows.append({"path": clip.path, "label": "rip" if clip.rip else "no_rip", "error": exc.reason})
        else:
            rows.append(outcome_of(clip, scores[clip.path], video_config, predictor.video_threshold))
        if progress:
            progress("clip", {"step": index + 1, "steps": len(clips), "path": clip.path})
    return summarise(rows), rows, scores


def outcome_of(clip: LabelledClip, scores: ClipScores, video_config: VideoConfig, model_threshold: float) -> dict:
    alerts, highest = replay(scores, video_config, model_threshold)
    row = clip_outcome(clip, alerts, scores.duration_s, slack_s=video_config.window_s)
    return {**row, "max_window_prob": records.prob(highest)}


def sweep(clips: list[LabelledClip], scores: dict[str, ClipScores], base: VideoConfig, model_threshold: float,
          grid: dict[str, list]) -> list[dict]:
    """The summary of every combination of ``grid`` (VideoConfig fields -> values) on the same scores: the trade-off
    between false alarms and the time to the first alert, without running the model again."""
    names = list(grid)
    results = []
    for values in itertools.product(*(grid[name] for name in names)):
        setting = dict(zip(names, values))
        try:
            config = dataclasses.replace(base, **setting)
            video_thresholds(config, model_threshold)
        except ValueError:
            continue  # an off threshold above on: not a setting
        rows = [outcome_of(clip, scores[clip.path], config, model_threshold) for clip in clips if clip.path in scores]
        results.append({**setting, **summarise(rows)})
    return results
