"""Outputs of one analysed video: timeline (CSV/JSON/PNG), events, per-clip summary, summary image and the
annotated H.264 MP4. ``process_video`` writes everything into a staging folder of its own, then publishes:
``provenance.json`` first (what the results were made from), the files by atomic renames, and the ``.done``
marker last, so an interrupted run never looks finished. It never replaces a file that ripdetect did not
write unless told to (``overwrite``)."""

from __future__ import annotations

import glob
import logging
import re
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from ripdetect import records
from ripdetect.config import VideoConfig
from ripdetect.data.images import resize_long_side
from ripdetect.files import (STAGING_TAG, OutputExistsError, name_part, publish_folder, staging_folder, write_json,
                             write_text)
from ripdetect.inference.predictor import Predictor
from ripdetect.video.analyse import VideoAnalysis, analyse_video
from ripdetect.video.io import VideoWriter
from ripdetect.video.outputs import (ANNOTATED_MAX_SIDE, RunningMean, annotate_frame, clip_segments, timeline_row,
                                     write_outputs)
from ripdetect.video.provenance import (DONE_MARKER, PROVENANCE_NAME, RESULT_FILES, foreign_files, is_result_folder,
                                        provenance_record)

log = logging.getLogger(__name__)
OUTPUT_FILES = RESULT_FILES


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
    with staging_folder(out_dir) as staging:
        rows: list[dict] = []
        timex = RunningMean()
        on_threshold = analysis.aggregator.on_threshold
        fps = video_config.video_fps or 1.0 / analysis.interval_s
        writer_context = VideoWriter(staging / "annotated.mp4", fps) if video_config.write_video else nullcontext()
        flow = RunningMean() if video_config.show_flow and video_config.motion else None  # the clip's motion map
        offshore = None
        with writer_context as writer:
            for result in analysis:
                rows.append(timeline_row(result))
                timex.add(resize_long_side(result.frame.image_rgb, ANNOTATED_MAX_SIDE))
                if flow is not None and result.motion is not None and result.motion.offshore is not None:
                    flow.add(result.motion.evidence)
                    offshore = result.motion.offshore
                if writer is not None:
                    writer.write(resize_long_side(annotate_frame(predictor, result, on_threshold,
                                                                 video_config.show_flow), ANNOTATED_MAX_SIDE))
                if on_frame:
                    on_frame(result.frame.time_s, result.prediction.prob_rip)
        summary = _summary(source, analysis, rows, predictor, video_config, started)
        motion = None if flow is None or offshore is None else (flow.mean_float, offshore)
        write_outputs(staging, rows, analysis.events, summary, timex.mean, predictor, motion=motion)
        _publish(staging, out_dir, record, overwrite)
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
    part = name_part(out_dir.name)
    pattern = re.compile(rf"\.{re.escape(part)}\.[a-z0-9_]{{8}}{re.escape(STAGING_TAG)}")
    for stale in out_dir.parent.glob(f".{glob.escape(part)}.*{STAGING_TAG}"):
        if pattern.fullmatch(stale.name) and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


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
    publish_folder(staging, out_dir)
    write_text(out_dir / DONE_MARKER, time.strftime("%Y-%m-%dT%H:%M:%S"))
