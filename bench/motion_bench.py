"""Motion evidence, measured: appearance alone, motion alone and the two fused, on synthetic clips that move like
real water (held-out seeds) and on real no-rip camera video; and what the motion path costs per analysed frame.

1. Every clip is analysed once with motion on: per frame, the model's window mean, the window's seaward motion
   strength and whether the rip is there (the renderer's per-frame labels).
2. The fusion (``ripdetect.decision.MotionFusion``: a logistic model on the logit of the window mean and the motion
   strength) is fitted on the ``--fit`` clips, frames weighted so each clip counts once.
3. On the ``--test`` clips: frame ROC-AUC and, at the on threshold, the clip decisions (rip clips found, no-rip
   clips with an event) for each of the three; on ``--real`` no-rip videos, the events each raises.
4. Timing: the motion path (decode of the partner frame, flow, accumulation) against the model, per analysed frame;
   and the two optical flows (DIS, Farneback) side by side on the same held-out clips: the frame ROC-AUC of the motion
   strength each gives, and the end-to-end time with each.

    python bench/motion_bench.py --fit runs/motion/clips-fit --test runs/motion/clips-test \\
        --real ../shared/data/real-dev/videos/no_rip [--model CKPT] [--out motion.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from ripdetect.config import VideoConfig
from ripdetect.decision import MOTION_SCALE, MotionFusion, video_thresholds
from ripdetect.inference.predictor import Predictor
from ripdetect.video.aggregate import FrameAggregator
from ripdetect.video.analyse import VideoAnalysis


def frames_of(path: Path, predictor: Predictor, config: VideoConfig) -> dict:
    """Per analysed frame: time, p, window mean, motion strength; and the wall time of the run."""
    analysis = VideoAnalysis(path, predictor, config)
    rows, started = [], time.perf_counter()
    for result in analysis:
        agg = result.aggregated
        rows.append((agg.time_s, agg.prob_rip, agg.window_mean if agg.window_mean is not None else agg.aggregated_prob,
                     agg.motion_strength or 0.0))
    return {"rows": np.array(rows, float).reshape(-1, 4), "seconds": time.perf_counter() - started}


def truth_of(path: Path, times: np.ndarray) -> np.ndarray:
    labels = path.with_name(path.stem + "_labels.csv")
    with open(labels, newline="") as handle:
        table = [(float(r["time_s"]), int(r["rip"])) for r in csv.DictReader(handle)]
    label_times = np.array([t for t, _ in table])
    rips = np.array([r for _, r in table])
    return rips[np.clip(np.searchsorted(label_times, times), 0, len(rips) - 1)]


def clips_in(folder: Path) -> list[Path]:
    return sorted((folder / "clips").glob("*.mp4"))


def fit_fusion(data: list[tuple[np.ndarray, np.ndarray]], use_appearance: bool = True) -> MotionFusion:
    """The logistic model of the frame's truth on the window's logit(mean p) and motion strength (or motion alone)."""
    from sklearn.linear_model import LogisticRegression

    features, labels, weights = [], [], []
    for rows, truth in data:
        p = np.clip(rows[:, 2], 1e-6, 1 - 1e-6)
        features.append(np.column_stack([np.log(p / (1 - p)), np.minimum(rows[:, 3] / MOTION_SCALE, 4.0)]))
        labels.append(truth)
        weights.append(np.full(len(truth), 1.0 / max(len(truth), 1)))
    x = np.concatenate(features) if use_appearance else np.concatenate(features)[:, 1:]
    model = LogisticRegression(C=1.0).fit(x, np.concatenate(labels), sample_weight=np.concatenate(weights))
    coef = model.coef_[0]
    if use_appearance:
        return MotionFusion(float(coef[0]), float(coef[1]), float(model.intercept_[0]))
    return MotionFusion(0.0, float(coef[0]), float(model.intercept_[0]))


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if len(set(labels.tolist())) == 2 else None


def events(rows: np.ndarray, config: VideoConfig, threshold: float, fusion: MotionFusion | None) -> int:
    """The events the hysteresis makes of the window's p: the model's window mean (``fusion`` None), or its fusion
    with the motion strength (motion alone: a fusion whose appearance weight is 0)."""
    on, off = video_thresholds(config, threshold)
    aggregator = FrameAggregator(config.window_s, on, off, config.min_event_s, fusion)
    for t, p, _, m in rows:
        aggregator.update(t, p, None, m if fusion is not None else None)
    return len(aggregator.finish())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fit", required=True, type=Path, help="ripdetect synth output with clips/ (fusion fit)")
    parser.add_argument("--test", required=True, type=Path, help="ripdetect synth output with clips/ (held out)")
    parser.add_argument("--real", nargs="*", default=[], type=Path, help="real no-rip videos or folders of them")
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    predictor = Predictor(args.model)
    config = VideoConfig(motion=True, write_video=False)
    plain = VideoConfig(motion=False, write_video=False)
    fit = [frames_of(p, predictor, config)["rows"] for p in clips_in(args.fit)]
    fit_data = [(rows, truth_of(p, rows[:, 0])) for rows, p in zip(fit, clips_in(args.fit))]
    fusion, motion_alone = fit_fusion(fit_data), fit_fusion(fit_data, use_appearance=False)
    deciders = (("appearance", None), ("motion", motion_alone), ("fused", fusion))
    report = {"fusion": fusion.__dict__, "motion_alone": motion_alone.__dict__, "test": {}, "real": {}}
    scores = {"appearance": [], "motion": [], "fused": []}
    truths, clip_results = [], {"appearance": [], "motion": [], "fused": []}
    timing = []
    for path in clips_in(args.test):
        with_motion = frames_of(path, predictor, config)
        without = frames_of(path, predictor, plain)
        timing.append((with_motion["seconds"], without["seconds"], len(with_motion["rows"])))
        rows = with_motion["rows"]
        truth = truth_of(path, rows[:, 0])
        truths.append(truth)
        scores["appearance"].append(rows[:, 2])
        scores["motion"].append(rows[:, 3])
        scores["fused"].append([fusion.window_prob(a, m) for a, m in rows[:, 2:4]])
        rip_clip = bool(truth.any())
        for name, decider in deciders:
            clip_results[name].append((rip_clip, events(rows, config, predictor.video_threshold, decider) > 0))
    all_truth = np.concatenate(truths)
    for name in scores:
        found = [hit for rip, hit in clip_results[name] if rip]
        false = [hit for rip, hit in clip_results[name] if not rip]
        report["test"][name] = {"frame_roc_auc": auc(all_truth, np.concatenate(scores[name])),
                                "rip_clips_found": f"{sum(found)}/{len(found)}",
                                "no_rip_clips_with_an_event": f"{sum(false)}/{len(false)}"}
    videos = [p for source in args.real for p in ([source] if source.is_file() else sorted(source.glob("*.mp4")))]
    for path in videos:
        rows = frames_of(path, predictor, config)["rows"]
        report["real"][path.name] = {name: events(rows, config, predictor.video_threshold, decider)
                                     for name, decider in deciders}
        report["real"][path.name]["max_motion_strength"] = float(rows[:, 3].max())
    other = "dis" if config.flow_method == "farneback" else "farneback"  # the default flow ran above
    flows = {config.flow_method: (scores["motion"], sum(t[0] for t in timing))}
    strengths, seconds = [], 0.0
    for path in clips_in(args.test):
        result = frames_of(path, predictor, VideoConfig(motion=True, write_video=False, flow_method=other))
        strengths.append(result["rows"][:, 3])
        seconds += result["seconds"]
    flows[other] = (strengths, seconds)
    report["flow_methods"] = {name: {"motion_frame_roc_auc": auc(all_truth, np.concatenate(values)),
                                     "seconds_end_to_end": round(total, 1)} for name, (values, total) in flows.items()}
    with_s, without_s, frames = (sum(v) for v in zip(*timing))
    report["timing"] = {"ms_per_frame_with_motion": round(1000 * with_s / frames, 1),
                        "ms_per_frame_without": round(1000 * without_s / frames, 1),
                        "motion_share_of_end_to_end": round((with_s - without_s) / with_s, 3)}
    print(json.dumps(report, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
