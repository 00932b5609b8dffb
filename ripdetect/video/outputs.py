"""The files of one analysed video or one camera clip, and how a frame is drawn for them: timeline (CSV, JSON,
PNG), events, summary, summary image (the time-averaged map over a timex of the frames) and the annotated frame.
``ripdetect.video.process`` writes them for a video, ``ripdetect.cameras.clips`` for each clip of a camera."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ripdetect import records
from ripdetect.decision import MOTION_SCALE, RIP_WORD, STATE_WORDS, prob_text
from ripdetect.explain.display import display_scale
from ripdetect.files import write_image, write_json
from ripdetect.inference.predictor import Predictor
from ripdetect.records import write_csv
from ripdetect.video.aggregate import Event, mean_event_cam
from ripdetect.video.analyse import FrameResult
from ripdetect.viz.draw import STATE_COLOURS, draw_banner, draw_flow, overlay_heatmap
from ripdetect.viz.plots import plot_timeline

ANNOTATED_MAX_SIDE = 960  # annotated.mp4 and summary.png are drawn at most this large
TIMELINE_FIELDS = ("time_s", "frame", "prob_rip", "aggregated_prob", "state", "region_area", "centroid_x", "centroid_y")
MOTION_FIELDS = ("window_mean", "motion_strength")  # with motion: the window's mean p and its seaward flow


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
        """The mean image (uint8)."""
        return None if self.total is None else np.uint8(self.total / self.count)

    @property
    def mean_float(self) -> np.ndarray | None:
        """The mean as floats (for maps that are not images)."""
        return None if self.total is None else (self.total / self.count).astype(np.float32)


def annotate_frame(predictor: Predictor, result: FrameResult, on_threshold: float,
                   show_flow: bool = False) -> np.ndarray:
    """The frame's overlay with a banner showing the settled aggregated state (word first), not the single-frame
    label; the heat map follows the state too (none while there is no rip, unless the config asks for it). With
    ``show_flow`` (and motion measured), arrows show where the water flows out to sea."""
    agg = result.aggregated
    text = (f"{STATE_WORDS[agg.state]}  t={agg.time_s:.1f} s  {prob_text(agg.prob_rip)}  "
            f"window {agg.aggregated_prob:.2f} (on {on_threshold:.2f})")
    show_map = agg.state != "clear" or predictor.config.map_when_negative
    out = predictor.render(result.frame.image_rgb, result.prediction, 0.45, banner=(text, STATE_COLOURS[agg.state]),
                           show_map=show_map)
    motion = result.motion
    if show_flow and motion is not None and motion.offshore is not None:
        top = out.shape[0] - result.frame.image_rgb.shape[0]  # below the banner strip
        out[top:] = draw_flow(out[top:], motion.evidence, motion.offshore, MOTION_SCALE)
    return out


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
    row = {"time_s": records.seconds(frame.time_s), "frame": frame.index, "prob_rip": records.prob(prediction.prob_rip),
           "aggregated_prob": records.prob(agg.aggregated_prob), "state": agg.state,
           "region_area": records.share(region.area_fraction) if region else 0.0,
           "centroid_x": records.pixels(region.centroid[0]) if region else None,
           "centroid_y": records.pixels(region.centroid[1]) if region else None}
    if agg.motion_strength is not None:
        row.update(window_mean=records.prob(agg.window_mean), motion_strength=records.prob(agg.motion_strength))
    return row


def write_outputs(folder: Path, rows: list[dict], events: list[Event], summary: dict,
                  timex: np.ndarray | None, predictor: Predictor, mean_cam: np.ndarray | None = None,
                  motion: tuple[np.ndarray, tuple[np.ndarray, np.ndarray]] | None = None) -> None:
    """timeline.csv/.json/.png, events.json, summary.json and summary.png of one result, into ``folder``. The
    summary must hold ``events``, ``on_threshold``, ``off_threshold``, ``max_prob`` and ``duration_s``; the
    summary image shows ``mean_cam`` (default: the mean map of the events' frames) over the timex, and ``motion``
    (the clip's mean motion evidence and the offshore directions) as arrows."""
    fields = TIMELINE_FIELDS + (MOTION_FIELDS if any("motion_strength" in row for row in rows) else ())
    write_csv(folder / "timeline.csv", rows, fields)
    write_json(folder / "timeline.json", rows, indent=None)
    write_json(folder / "events.json", [e.to_dict() for e in events])
    write_json(folder / "summary.json", summary)
    plot_timeline(rows, summary["events"], summary["on_threshold"], summary["off_threshold"], folder / "timeline.png")
    if timex is not None:
        image = timex
        mean_cam = mean_event_cam(events) if mean_cam is None else mean_cam
        if mean_cam is not None:
            image = overlay_heatmap(timex, display_scale(mean_cam, predictor.cam_scale), 0.5)
        if motion is not None:  # the clip's mean seaward flow, as arrows
            image = draw_flow(image, motion[0], motion[1], MOTION_SCALE)
        label = (f"{RIP_WORD}  events: {len(events)}  max {prob_text(summary['max_prob'])}" if events
                 else "no rip detected") + f"  ({summary['duration_s']:.1f} s, time-averaged)"
        write_image(folder / "summary.png", draw_banner(image, label, STATE_COLOURS["rip" if events else "clear"]))
