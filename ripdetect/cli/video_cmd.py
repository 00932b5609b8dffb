"""``ripdetect video``: analyse beach-camera videos; one JSON line per input on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ripdetect.cli.flags import (DEPLOYMENT_DEFAULT, add_camera_flags, add_config_flags, add_executor_flags,
                                  add_model_flag, camera_choice, print_json, with_flags)
from ripdetect.config import InferenceConfig, VideoConfig

RENAMED = {"window_s": "window", "min_event_s": "min_event", "write_video": "video"}


def add_parser(sub) -> None:
    parser = sub.add_parser("video", help="analyse videos: timeline, events, per-clip summary, annotated MP4")
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="video files, folders (recursive), globs or stream URLs (default with --camera: its "
                             "source)")
    parser.add_argument("--out", required=True, help="output root; one folder per input")
    add_model_flag(parser, DEPLOYMENT_DEFAULT)
    video_flags = add_config_flags(parser, VideoConfig, rename=RENAMED)
    inference_flags = add_config_flags(parser, InferenceConfig, only=("batch_size", "map_when_negative", "show_water"),
                                       rename={"map_when_negative": "map_always"})
    parser.add_argument("--jobs", type=int, default=1,
                        help="videos processed at once (default: 1; with --executor ray: one per CPU of the cluster)")
    add_executor_flags(parser)
    add_camera_flags(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace files in --out that ripdetect did not write (default: refuse; finished results "
                             "made from the same input, settings and model are always reused, others always redone)")
    parser.set_defaults(run=run, video_flags=video_flags, inference_flags=inference_flags)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.data.inputs import expand_inputs
    from ripdetect.decision import video_thresholds
    from ripdetect.errors import ConfigError
    from ripdetect.inference.backends import analysis_model
    from ripdetect.inference.predictor import Predictor
    from ripdetect.video.batch import run_batch
    from ripdetect.video.io import VIDEO_EXTENSIONS, is_stream
    from ripdetect.video.provenance import is_result_folder

    profile, roi = camera_choice(args)
    video_config = with_flags(profile.video if profile else VideoConfig(), args, args.video_flags)
    inference_config = with_flags(profile.inference if profile else InferenceConfig(), args, args.inference_flags)
    model = analysis_model(args.model or (profile.model if profile else None), roi_given=roi is not None)
    predictor = Predictor(model, inference_config, roi=roi)
    video_thresholds(video_config, predictor.video_threshold)  # checked once, before any input is processed
    if args.executor == "ray":
        from ripdetect.video.ray_batch import require_ray

        require_ray()
    if not args.inputs and profile is None:
        raise ConfigError("no INPUT given: name videos or streams, or --camera NAME --cameras FILE")
    inputs: list = []
    # our own result folders (an --out inside an input folder) are never inputs
    for item in args.inputs or [profile.source]:
        inputs += [item] if is_stream(item) else [p if isinstance(p, Exception) else str(p) for p in
                                                  expand_inputs([item], VIDEO_EXTENSIONS, skip=is_result_folder)]
    overall = tqdm(total=len(inputs), desc="videos", file=sys.stderr, position=0)

    def on_frame_factory(source: str):
        bar = tqdm(desc=Path(source).name[:30], unit="s", file=sys.stderr, position=1, leave=False)

        def on_frame(time_s: float, prob: float) -> None:
            bar.n = round(time_s, 1)
            bar.set_postfix(p=f"{prob:.2f}")

        return on_frame

    failed = 0
    for item in run_batch(inputs, args.out, predictor, video_config, jobs=args.jobs,
                          on_frame_factory=on_frame_factory, overwrite=args.overwrite, executor=args.executor,
                          ray_address=args.ray_address):
        overall.update(1)
        if item.status == "error":
            failed += 1
            print_json({"path": item.input, "error": item.error})
        else:
            summary = json.loads((Path(item.output_dir) / "summary.json").read_text())
            flags = {k: True for k in ("duration_estimated", "partial_decode") if summary.get(k)}
            print_json({"path": item.input, "status": item.status, "output_dir": item.output_dir,
                        "rip_detected": summary["rip_detected"], "max_prob": summary["max_prob"],
                        "events": len(summary["events"]), "duration_s": summary["duration_s"], **flags,
                        **({"note": item.note} if item.note else {})})
    overall.close()
    return 1 if failed else 0
