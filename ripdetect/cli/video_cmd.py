"""``ripdetect video``: analyse beach-camera videos; one JSON line per input on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ripdetect.cli.flags import print_json
from ripdetect.config import VideoConfig


def add_parser(sub) -> None:
    d = VideoConfig()
    parser = sub.add_parser("video", help="analyse videos: timeline, events, per-clip summary, annotated MP4")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, folders (recursive), globs or stream URLs")
    parser.add_argument("--out", required=True, help="output root; one folder per input")
    parser.add_argument("--model", default=None, help="checkpoint (default: the embedded default model)")
    parser.add_argument("--sample-fps", type=float, default=d.sample_fps, help=f"(default: {d.sample_fps})")
    parser.add_argument("--stride", type=int, default=None, help="take every Nth frame instead of --sample-fps")
    parser.add_argument("--window", type=float, default=d.window_s, help=f"aggregation window, s (default: {d.window_s})")
    parser.add_argument("--on-threshold", type=float, default=None, help="(default: the model's threshold)")
    parser.add_argument("--off-threshold", type=float, default=None, help="(default: 0.8 x on threshold)")
    parser.add_argument("--min-event", type=float, default=d.min_event_s, help=f"seconds (default: {d.min_event_s})")
    parser.add_argument("--clip-minutes", type=float, default=d.clip_minutes, help=f"(default: {d.clip_minutes})")
    parser.add_argument("--video-fps", type=float, default=None, help="annotated.mp4 rate (default: --sample-fps)")
    parser.add_argument("--no-video", action="store_true", help="skip annotated.mp4")
    parser.add_argument("--batch-size", type=int, default=8, help="frames per model call (default: 8)")
    parser.add_argument("--jobs", type=int, default=1, help="videos processed at once (default: 1)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.batch import run_batch
    from ripdetect.config import InferenceConfig
    from ripdetect.images import expand_inputs
    from ripdetect.predict import Predictor
    from ripdetect.video import make_aggregator
    from ripdetect.video_io import VIDEO_EXTENSIONS, is_stream

    video_config = VideoConfig(sample_fps=args.sample_fps, stride=args.stride, window_s=args.window,
                               on_threshold=args.on_threshold, off_threshold=args.off_threshold,
                               min_event_s=args.min_event, clip_minutes=args.clip_minutes, video_fps=args.video_fps,
                               write_video=not args.no_video)
    predictor = Predictor(args.model, InferenceConfig(batch_size=args.batch_size))
    make_aggregator(predictor, video_config)  # thresholds checked once, before any input is processed
    inputs = []
    for item in args.inputs:
        inputs += [item] if is_stream(item) else [str(p) for p in expand_inputs([item], VIDEO_EXTENSIONS)]
    if not inputs:
        print("ripdetect: error: no video inputs found", file=sys.stderr)
        return 1
    overall = tqdm(total=len(inputs), desc="videos", file=sys.stderr, position=0)

    def on_frame_factory(source: str):
        bar = tqdm(desc=Path(source).name[:30], unit="s", file=sys.stderr, position=1, leave=False)

        def on_frame(time_s: float, prob: float) -> None:
            bar.n = round(time_s, 1)
            bar.set_postfix(p=f"{prob:.2f}")

        return on_frame

    failed = 0
    for item in run_batch(inputs, args.out, predictor, video_config, jobs=args.jobs, model_path=args.model,
                          on_frame_factory=on_frame_factory if args.jobs <= 1 else None):
        overall.update(1)
        if item.status == "error":
            failed += 1
            print_json({"path": item.input, "error": item.error})
        else:
            summary = json.loads((Path(item.output_dir) / "summary.json").read_text())
            print_json({"path": item.input, "status": item.status, "output_dir": item.output_dir,
                        "rip_detected": summary["rip_detected"], "max_prob": summary["max_prob"],
                        "events": len(summary["events"]), "duration_s": summary["duration_s"]})
    overall.close()
    return 1 if failed else 0
