"""``ripdetect eval-video``: false alarms per camera-hour, missed rip clips and the time to the first alert, on
labelled clips; with ``--sweep``, the same for a grid of decision settings, on the same model scores."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ripdetect.cli.flags import DEPLOYMENT_DEFAULT, add_config_flags, add_model_flag, with_flags
from ripdetect.config import InferenceConfig, VideoConfig

RENAMED = {"window_s": "window", "min_event_s": "min_event"}
OUT_FILES = ("clips.csv", "metrics.json", "sweep.csv")
OUT_MARKER = ".ripdetect-eval-video"  # in a folder eval-video writes: its files there are its own to replace


def add_parser(sub) -> None:
    parser = sub.add_parser("eval-video", help="false alarms per camera-hour, missed rips and time to first alert on "
                                               "labelled clips")
    parser.add_argument("sources", nargs="+", metavar="CLIPS",
                        help="a manifest path,label[,events] (.csv), a folder of rip/ and no_rip/ videos, or "
                             "ripdetect synth output with clips/")
    add_model_flag(parser, DEPLOYMENT_DEFAULT)
    parser.add_argument("--out", default=None, help="folder for clips.csv, metrics.json and sweep.csv (default: "
                                                    "none written)")
    video_flags = add_config_flags(parser, VideoConfig, only=("sample_fps", "stride", "window_s", "on_threshold",
                                                              "off_threshold", "min_event_s", "max_side"),
                                   rename=RENAMED)
    inference_flags = add_config_flags(parser, InferenceConfig, only=("threshold", "batch_size"))
    parser.add_argument("--overwrite", action="store_true",
                        help="replace clips.csv, metrics.json and sweep.csv in --out that eval-video did not write")
    parser.add_argument("--sweep", action="store_true",
                        help="also replay a grid of windows, on thresholds and minimum events on the same scores "
                             "(sweep.csv): the trade-off between false alarms and the time to the first alert")
    parser.set_defaults(run=run, video_flags=video_flags, inference_flags=inference_flags)


SWEEP = {"window_s": [5.0, 10.0, 20.0, 30.0], "on_threshold": [0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8],
         "min_event_s": [2.0, 5.0, 10.0]}


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.decision import video_thresholds
    from ripdetect.files import claim_output_folder, write_json
    from ripdetect.inference.backends import analysis_model
    from ripdetect.inference.predictor import Predictor
    from ripdetect.records import write_csv
    from ripdetect.video.evaluation import CLIP_FIELDS, evaluate_clips, load_labelled_clips, sweep

    clips = load_labelled_clips(args.sources)
    if args.out:  # refused before any clip is scored
        claim_output_folder(Path(args.out), OUT_MARKER, OUT_FILES, args.overwrite, "ripdetect eval-video")
    video_config = with_flags(VideoConfig(write_video=False), args, args.video_flags)
    predictor = Predictor(analysis_model(args.model), with_flags(InferenceConfig(), args, args.inference_flags))
    bar = tqdm(total=len(clips), desc="clips", file=sys.stderr, leave=False)
    try:
        summary, rows, scores = evaluate_clips(clips, predictor, video_config,
                                               lambda event, info: bar.update(1))
    finally:
        bar.close()
    for row in rows:
        if row.get("error"):
            print(f"ripdetect: skipped {row['path']}: {row['error']}", file=sys.stderr)
    on, off = video_thresholds(video_config, predictor.video_threshold)
    settings = {"model_id": predictor.checkpoint.model_id, "threshold": predictor.threshold, "on_threshold": on,
                "off_threshold": off, **{k: getattr(video_config, k) for k in ("sample_fps", "window_s", "min_event_s")}}
    report = {**summary, "settings": settings}
    if args.sweep:
        report["sweep"] = sweep(clips, scores, video_config, predictor.video_threshold, SWEEP)
    if args.out:
        out = Path(args.out)
        write_csv(out / "clips.csv", rows, CLIP_FIELDS)
        write_json(out / "metrics.json", report)
        if args.sweep:
            write_csv(out / "sweep.csv", [{**r, "time_to_first_alert_median_s": r["time_to_first_alert_s"]["median"]}
                                          for r in report["sweep"]],
                      [*SWEEP, "false_alarms_per_camera_hour", "false_events", "rip_clips_missed",
                       "time_to_first_alert_median_s"])
        else:  # an earlier run's sweep (the folder is eval-video's, claimed above) would not match these results
            (out / "sweep.csv").unlink(missing_ok=True)
    print(json.dumps({k: v for k, v in report.items() if k != "sweep"}, indent=1))
    return 1 if summary["clips_not_analysed"] else 0
