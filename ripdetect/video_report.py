"""Outputs of one analysed video: timeline (CSV/JSON/PNG), events, per-clip summary, summary image and
the annotated H.264 MP4. ``process_video`` writes everything into a staging folder and renames it into
place, then writes the ``.done`` marker last, so an interrupted run never looks finished."""

from __future__ import annotations

import csv
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ripdetect.aggregate import Event, merge_events
from ripdetect.cam import display_scale
from ripdetect.config import VideoConfig
from ripdetect.predict import Predictor
from ripdetect.video import RunningMean, analyse_video, make_aggregator
from ripdetect.video_io import VideoWriter

log = logging.getLogger(__name__)
DONE_MARKER = ".done"
ANNOTATED_MAX_WIDTH = 960
OUTPUT_FILES = ("timeline.csv", "timeline.json", "events.json", "summary.json", "summary.png", "timeline.png",
                "annotated.mp4")


def annotate_frame(predictor: Predictor, result) -> np.ndarray:
    """The frame's overlay with a banner showing the aggregated state, not the single-frame label."""
    agg = result.aggregated
    text = (f"t={agg.time_s:6.1f}s  p={agg.prob:.2f}  window p={agg.aggregated_prob:.2f}  "
            + ("RIP CURRENT" if agg.state == "rip" else "clear"))
    return predictor.render(result.frame.image_rgb, result.prediction, 0.45, banner=(text, agg.state == "rip"))


def clip_segments(rows: list[dict], events: list[Event], clip_s: float, duration_s: float) -> list[dict]:
    """rip_detected and probabilities for every ``clip_s`` segment."""
    segments = []
    count = max(1, int(np.ceil(max(duration_s, 1e-9) / clip_s)))
    for k in range(count):
        start, end = k * clip_s, (k + 1) * clip_s
        probs = [r["prob_rip"] for r in rows if start <= r["time_s"] < end]
        overlapping = [e for e in events if e.start_s < end and e.end_s >= start]
        segments.append({"start_s": round(start, 3), "end_s": round(min(end, duration_s), 3),
                         "rip_detected": bool(overlapping), "n_frames": len(probs),
                         "max_prob": round(max(probs), 5) if probs else None,
                         "mean_prob": round(float(np.mean(probs)), 5) if probs else None})
    return segments


def process_video(source: str | Path, predictor: Predictor, video_config: VideoConfig, out_dir: str | Path,
                  on_frame: Callable[[float, float], None] | None = None) -> dict:
    """Analyse ``source`` and write all outputs to ``out_dir``; returns the summary dict."""
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    started = time.time()
    aggregator = make_aggregator(predictor, video_config)
    rows: list[dict] = []
    timex = RunningMean()
    writer = None
    if video_config.write_video:
        writer = VideoWriter(staging / "annotated.mp4", video_config.video_fps or video_config.sample_fps)
    try:
        for result in analyse_video(source, predictor, video_config, aggregator):
            prediction, agg, frame = result.prediction, result.aggregated, result.frame
            region = prediction.region
            rows.append({"time_s": round(frame.time_s, 3), "frame": frame.index,
                         "prob_rip": round(prediction.prob_rip, 5), "aggregated_prob": round(agg.aggregated_prob, 5),
                         "state": agg.state, "region_area": round(region.area_fraction, 5) if region else 0.0,
                         "centroid_x": round(region.centroid[0], 1) if region else None,
                         "centroid_y": round(region.centroid[1], 1) if region else None})
            small = _small(frame.image_rgb)
            timex.add(small)
            if writer is not None:
                writer.write(_small(annotate_frame(predictor, result)))
            if on_frame:
                on_frame(frame.time_s, prediction.prob_rip)
        if writer is not None:
            writer.close(keep=True)
    except BaseException:
        if writer is not None:
            writer.close(keep=False)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    events = merge_events(aggregator.finish(), gap_s=video_config.min_event_s)
    duration_s = rows[-1]["time_s"] + 1.0 / video_config.sample_fps if rows else 0.0
    summary = {
        "source": str(source),
        "rip_detected": bool(events),
        "duration_s": round(duration_s, 3),
        "n_frames": len(rows),
        "max_prob": round(max(r["prob_rip"] for r in rows), 5) if rows else None,
        "mean_prob": round(float(np.mean([r["prob_rip"] for r in rows])), 5) if rows else None,
        "events": [e.to_dict() for e in events],
        "clips": clip_segments(rows, events, video_config.clip_minutes * 60, duration_s),
        "model_id": predictor.checkpoint.model_id,
        "threshold": aggregator.on_threshold,
        "off_threshold": aggregator.off_threshold,
        "window_s": video_config.window_s,
        "sample_fps": video_config.sample_fps,
        "processing_s": round(time.time() - started, 3),
    }
    _write_outputs(staging, rows, events, summary, timex.mean, predictor)
    _publish(staging, out_dir)
    return summary


def _small(image_rgb: np.ndarray) -> np.ndarray:
    from ripdetect.images import resize_long_side

    return resize_long_side(image_rgb, ANNOTATED_MAX_WIDTH)


def _write_outputs(folder: Path, rows: list[dict], events: list[Event], summary: dict,
                   timex: np.ndarray | None, predictor: Predictor) -> None:
    from ripdetect.plots import plot_timeline
    from ripdetect.viz import draw_banner, overlay_heatmap, save_png

    fields = ["time_s", "frame", "prob_rip", "aggregated_prob", "state", "region_area", "centroid_x", "centroid_y"]
    with open(folder / "timeline.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    (folder / "timeline.json").write_text(json.dumps(rows))
    (folder / "events.json").write_text(json.dumps([e.to_dict() for e in events], indent=1))
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))
    plot_timeline(rows, summary["events"], summary["threshold"], summary["off_threshold"], folder / "timeline.png")
    if timex is not None:
        cams = [e.cam_sum for e in events if e.cam_sum is not None]
        image = timex
        if cams:
            import torch

            mean_cam = np.sum(cams, axis=0) / sum(e.n_frames for e in events if e.cam_sum is not None)
            shown = display_scale(torch.from_numpy(mean_cam.astype(np.float32))[None], predictor.cam_scale)[0].numpy()
            image = overlay_heatmap(timex, shown, 0.5)
        label = (f"rip events: {len(events)}  max p={summary['max_prob']:.2f}" if events
                 else "no rip detected") + f"  ({summary['duration_s']:.0f} s, time-averaged)"
        save_png(draw_banner(image, label, bool(events)), folder / "summary.png")


def _publish(staging: Path, out_dir: Path) -> None:
    """Move finished files into ``out_dir`` (atomic renames), then write the done marker last."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DONE_MARKER).unlink(missing_ok=True)
    for path in staging.iterdir():
        path.replace(out_dir / path.name)
    staging.rmdir()
    marker_tmp = out_dir / (DONE_MARKER + ".tmp")
    marker_tmp.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    marker_tmp.replace(out_dir / DONE_MARKER)


def is_done(out_dir: str | Path) -> bool:
    return (Path(out_dir) / DONE_MARKER).is_file()
