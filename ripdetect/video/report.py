"""Outputs of one analysed video: timeline (CSV/JSON/PNG), events, per-clip summary, summary image and the
annotated H.264 MP4. ``process_video`` writes everything into a staging folder of its own, then publishes:
``provenance.json`` first (what the results were made from), the files by atomic renames, and the ``.done``
marker last, so an interrupted run never looks finished. It never replaces a file that ripdetect did not
write unless told to (``overwrite``)."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from ripdetect import records
from ripdetect.config import VideoConfig
from ripdetect.data.images import resize_long_side
from ripdetect.decision import RIP_WORD, STATE_WORDS, prob_text
from ripdetect.explain.display import display_scale
from ripdetect.files import STAGING_TAG, OutputExistsError, write_image, write_json, write_text
from ripdetect.inference.predictor import Predictor
from ripdetect.records import write_csv
from ripdetect.video.aggregate import Event, mean_event_cam
from ripdetect.video.analyse import FrameResult, VideoAnalysis, analyse_video
from ripdetect.video.io import VideoWriter
from ripdetect.video.provenance import (
    DONE_MARKER,
    PROVENANCE_NAME,
    RESULT_FILES,
    foreign_files,
    is_result_folder,
    provenance_record,
)
from ripdetect.viz.draw import STATE_COLOURS, draw_banner, overlay_heatmap

log = logging.getLogger(__name__)
ANNOTATED_MAX_SIDE = 960  # annotated.mp4 and summary.png are drawn at most this large
OUTPUT_FILES = RESULT_FILES
TIMELINE_FIELDS = ("time_s", "frame", "prob_rip", "aggregated_prob", "state", "region_area", "centroid_x", "centroid_y")


class RunningMean:
    """Mean of equally sized images without keeping them (the timex of the sampled frames)."""

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.count = 0

    def add(self, image: np.ndarray) -> None:
        if self.total is None:
            self.total = image.astype(np.float64)
        elif image.shape == self.total.shape:
            self.total += image
        else:
            return
        self.count += 1

    @property
    def mean(self) -> np.ndarray | None:
        return None if self.total is None else np.uint8(self.total / self.count)


def annotate_frame(predictor: Predictor, result: FrameResult, on_threshold: float) -> np.ndarray:
    """The frame's overlay with a banner showing the settled aggregated state (word first), not the single-frame
    label; the heat map follows the state too (none while there is no rip, unless the config asks for it)."""
    agg = result.aggregated
    text = (f"{STATE_WORDS[agg.state]}  t={agg.time_s:.1f} s  {prob_text(agg.prob)}  "
            f"window {agg.aggregated_prob:.2f} (on {on_threshold:.2f})")
    show_map = agg.state != "clear" or predictor.config.map_when_negative
    return predictor.render(result.frame.image_rgb, result.prediction, 0.45, banner=(text, STATE_COLOURS[agg.state]),
                            show_map=show_map)


def clip_segments(rows: list[dict], events: list[Event], clip_s: float, duration_s: float) -> list[dict]:
    """rip_detected and probabilities for every ``clip_s`` segment."""
    segments = []
    count = max(1, int(np.ceil(max(duration_s, 1e-9) / clip_s)))
    for k in range(count):
        start, end = k * clip_s, (k + 1) * clip_s
        probs = [r["prob_rip"] for r in rows if start <= r["time_s"] < end]
        overlapping = [e for e in events if e.start_s < end and e.end_s >= start]
        segments.append({"start_s": records.seconds(start), "end_s": records.seconds(min(end, duration_s)),
                         "rip_detected": bool(overlapping), "n_frames": len(probs),
                         "max_prob": round(max(probs), 5) if probs else None,
                         "mean_prob": records.prob(np.mean(probs)) if probs else None})
    return segments


def timeline_row(result: FrameResult) -> dict:
    prediction, agg, frame = result.prediction, result.aggregated, result.frame
    region = prediction.region
    return {"time_s": records.seconds(frame.time_s), "frame": frame.index, "prob_rip": records.prob(prediction.prob_rip),
            "aggregated_prob": records.prob(agg.aggregated_prob), "state": agg.state,
            "region_area": records.share(region.area_fraction) if region else 0.0,
            "centroid_x": records.pixels(region.centroid[0]) if region else None,
            "centroid_y": records.pixels(region.centroid[1]) if region else None}


def process_video(source: str | Path, predictor: Predictor, video_config: VideoConfig, out_dir: str | Path,
                  on_frame: Callable[[float, float], None] | None = None, max_duration_s: float | None = None,
                  overwrite: bool = False) -> dict:
    """Analyse ``source`` and write all outputs to ``out_dir``; returns the summary dict. ``max_duration_s``
    stops at that much decoded video with an ``InputError``. Files in ``out_dir`` that ripdetect did not write
    are replaced only with ``overwrite`` (``OutputExistsError`` otherwise, before any work)."""
    out_dir = Path(out_dir)
    _refuse_foreign(out_dir, overwrite)
    record = provenance_record(source, predictor, video_config)  # the input's identity before it is read
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    analysis = analyse_video(source, predictor, video_config, max_duration_s)  # opens the source: errors first
    remove_stale_staging(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=STAGING_TAG, dir=out_dir.parent))
    try:
        rows: list[dict] = []
        timex = RunningMean()
        on_threshold = analysis.aggregator.on_threshold
        fps = video_config.video_fps or 1.0 / analysis.interval_s
        writer_context = VideoWriter(staging / "annotated.mp4", fps) if video_config.write_video else nullcontext()
        with writer_context as writer:
            for result in analysis:
                rows.append(timeline_row(result))
                timex.add(resize_long_side(result.frame.image_rgb, ANNOTATED_MAX_SIDE))
                if writer is not None:
                    writer.write(resize_long_side(annotate_frame(predictor, result, on_threshold),
                                                  ANNOTATED_MAX_SIDE))
                if on_frame:
                    on_frame(result.frame.time_s, result.prediction.prob_rip)
        summary = _summary(source, analysis, rows, predictor, video_config, started)
        write_outputs(staging, rows, analysis.events, summary, timex.mean, predictor)
        _publish(staging, out_dir, record, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # our own staging folder; empty after a clean publish
    return summary


def _summary(source: str | Path, analysis: VideoAnalysis, rows: list[dict], predictor: Predictor,
             video_config: VideoConfig, started: float) -> dict:
    """summary.json: the decision, events and per-clip segments; the duration is the decoded one, flagged when
    it rests on assumed timestamps or when decoding stopped before the end the container claims."""
    stream, events, aggregator = analysis.stream, analysis.events, analysis.aggregator
    duration_s = stream.duration_s
    warnings = []
    if analysis.info.timestamps_estimated:
        warnings.append(f"duration estimated: the source has no timestamps, so times assume {analysis.info.fps:g} "
                        "fps")
    if stream.partial:
        warnings.append(f"partial decode: decoding stopped at {duration_s:.1f} s of the {analysis.info.duration_s:.1f} "
                        "s the container claims (truncated or damaged file); results cover the decoded part")
    for warning in warnings:
        log.warning("%s: %s", source, warning)
    return {
        "source": str(source),
        "rip_detected": bool(events),
        "duration_s": records.seconds(duration_s),
        "duration_estimated": analysis.info.timestamps_estimated,
        "partial_decode": stream.partial,
        "claimed_duration_s": records.seconds(analysis.info.duration_s) or None,
        "warnings": warnings,
        "n_frames": len(rows),
        "max_prob": records.prob(max(r["prob_rip"] for r in rows)) if rows else None,
        "mean_prob": records.prob(np.mean([r["prob_rip"] for r in rows])) if rows else None,
        "events": [e.to_dict() for e in events],
        "clips": clip_segments(rows, events, video_config.clip_minutes * 60, duration_s),
        "model_id": predictor.checkpoint.model_id,
        "on_threshold": aggregator.on_threshold,
        "off_threshold": aggregator.off_threshold,
        "window_s": video_config.window_s,
        "min_event_s": video_config.min_event_s,
        "sample_fps": video_config.sample_fps,
        "stride": video_config.stride,
        "roi": None if predictor.roi is None else predictor.roi.to_list(),
        "processing_s": records.seconds(time.time() - started),
    }


def _refuse_foreign(out_dir: Path, overwrite: bool) -> None:
    foreign = foreign_files(out_dir)
    if foreign and not overwrite:
        raise OutputExistsError(f"holds {', '.join(foreign)}, which ripdetect did not write; use another --out, or "
                                "--overwrite to replace them", out_dir)


def remove_stale_staging(out_dir: Path) -> None:
    """Remove staging folders that an earlier, killed run made for ``out_dir`` (only names of our own pattern)."""
    pattern = re.compile(rf"\.{re.escape(out_dir.name)}\.[a-z0-9_]{{8}}{re.escape(STAGING_TAG)}")
    for stale in out_dir.parent.glob(f".{out_dir.name}.*{STAGING_TAG}"):
        if pattern.fullmatch(stale.name) and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def write_outputs(folder: Path, rows: list[dict], events: list[Event], summary: dict,
                  timex: np.ndarray | None, predictor: Predictor, mean_cam: np.ndarray | None = None) -> None:
    """timeline.csv/.json/.png, events.json, summary.json and summary.png of one result, into ``folder``. The
    summary must hold ``events``, ``on_threshold``, ``off_threshold``, ``max_prob`` and ``duration_s``; the
    summary image shows ``mean_cam`` (default: the mean map of the events' frames) over the timex."""
    from ripdetect.viz.plots import plot_timeline

    write_csv(folder / "timeline.csv", rows, TIMELINE_FIELDS)
    write_json(folder / "timeline.json", rows, indent=None)
    write_json(folder / "events.json", [e.to_dict() for e in events])
    write_json(folder / "summary.json", summary)
    plot_timeline(rows, summary["events"], summary["on_threshold"], summary["off_threshold"], folder / "timeline.png")
    if timex is not None:
        image = timex
        mean_cam = mean_event_cam(events) if mean_cam is None else mean_cam
        if mean_cam is not None:
            image = overlay_heatmap(timex, display_scale(mean_cam, predictor.cam_scale), 0.5)
        label = (f"{RIP_WORD}  events: {len(events)}  max {prob_text(summary['max_prob'])}" if events
                 else "no rip detected") + f"  ({summary['duration_s']:.0f} s, time-averaged)"
        write_image(folder / "summary.png", draw_banner(image, label, STATE_COLOURS["rip" if events else "clear"]))


def _publish(staging: Path, out_dir: Path, record: dict, overwrite: bool) -> None:
    """Claim ``out_dir`` with ``provenance.json``, move the finished files in (atomic renames), then write the
    done marker last. A result of ours that this run did not make again (``annotated.mp4`` after ``--no-video``)
    is removed, so nothing from other settings stays. Checked again here: a file someone put there during the
    run is not replaced either."""
    _refuse_foreign(out_dir, overwrite)
    ours = is_result_folder(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DONE_MARKER).unlink(missing_ok=True)
    write_json(out_dir / PROVENANCE_NAME, record)
    made = {path.name for path in staging.iterdir()}
    for name in RESULT_FILES:
        if ours and name not in made:
            (out_dir / name).unlink(missing_ok=True)
    for path in staging.iterdir():
        path.replace(out_dir / path.name)
    write_text(out_dir / DONE_MARKER, time.strftime("%Y-%m-%dT%H:%M:%S"))
