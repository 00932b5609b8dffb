"""``ripdetect adapt``: teach the model one camera from a few of its labelled frames, with an honest before/after."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from ripdetect.cli.flags import add_config_flags, print_json
from ripdetect.config import AdaptConfig, VideoConfig


def add_parser(sub) -> None:
    parser = sub.add_parser("adapt", help="teach the model one camera from a few labelled frames (before/after "
                                          "report)")
    parser.add_argument("--labels", required=True, help="the camera's labelled frames: CSV path,label[,box][,day]")
    parser.add_argument("--model", default=None, help="the base checkpoint (.safetensors; an ONNX export cannot be "
                                                      "adapted) (default: the camera's model in --cameras, else the "
                                                      "embedded default model)")
    parser.add_argument("--out", default=None,
                        help="the adapted checkpoint (.safetensors) (default with --camera: CAMERA.adapted.safetensors "
                             "beside the profile file; required otherwise)")
    group = parser.add_argument_group("camera profile")
    group.add_argument("--cameras", metavar="FILE", default=None,
                       help="camera profile file: the camera's model, region of interest and threshold are used, and "
                            "its model: is set to the result (a copy of the file is kept) (default: none)")
    group.add_argument("--camera", metavar="NAME", default=None, help="the camera in --cameras (default: none)")
    parser.add_argument("--video", nargs="+", default=None, metavar="CLIPS",
                        help="videos of this camera (no_rip unless a manifest or rip/ folder says otherwise) for false "
                             "alarms per camera-hour before and after (default: none)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="decision threshold in [0, 1] for the report and the result (default: the camera's, else "
                             "the base model's)")
    names = add_config_flags(parser, AdaptConfig)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file (default: refuse)")
    parser.set_defaults(run=run, config_flags=names)


def run(args: argparse.Namespace) -> int:
    from ripdetect.cameras.adapt import adapt_camera, save_adapted
    from ripdetect.cameras.adapt_labels import check_enough, read_camera_labels
    from ripdetect.cameras.profiles import find_camera, load_profiles, set_camera_model
    from ripdetect.cli.flags import given
    from ripdetect.decision import applied_threshold
    from ripdetect.errors import ConfigError
    from ripdetect.files import OutputExistsError
    from ripdetect.inference.backends import load_model

    if bool(args.camera) != bool(args.cameras):
        raise ConfigError("--camera NAME and --cameras FILE go together")
    profile = find_camera(load_profiles(args.cameras), args.camera, args.cameras) if args.camera else None
    if args.out is None and profile is None:
        raise ConfigError("--out is needed without --camera: where should the adapted checkpoint go?")
    out = Path(args.out) if args.out else Path(args.cameras).parent / f"{profile.name}.adapted.safetensors"
    if out.exists() and not args.overwrite:
        raise OutputExistsError("exists and was not written by this run; use --overwrite to replace it", out)
    if out.suffix.lower() != ".safetensors":
        raise ConfigError(f"--out must end in .safetensors (a ripdetect checkpoint), got {out.name}")
    adapt_config = AdaptConfig(**given(args, args.config_flags))
    labels = read_camera_labels(args.labels)
    check_enough(labels, args.labels)
    base_path = args.model or (profile.model if profile else None)
    base = load_model(base_path)
    if base.path and Path(base.path).suffix.lower() == ".onnx":
        raise ConfigError(f"adapt needs a PyTorch checkpoint (.safetensors) as its base, not {Path(base_path).name}")
    configured = args.threshold if args.threshold is not None else (profile.inference.threshold if profile else None)
    threshold = applied_threshold(configured, base.threshold)
    clips = _video_clips(args.video) if args.video else None  # checked before anything is fitted or written
    print(f"ripdetect: adapting {base.model_id} to {len(labels.samples)} frames ({labels.rips} rips) from "
          f"{len(set(labels.days))} days", file=sys.stderr)
    model, report = adapt_camera(base, labels, adapt_config, threshold, profile.roi if profile else None,
                                 lambda what, share: print(f"ripdetect: {what}", file=sys.stderr)
                                 if share in (0.9, 1.0) else None)
    camera = profile.name if profile else Path(args.labels).parent.name or "camera"
    save_adapted(out, base, model, labels, camera, adapt_config, report, threshold, args.overwrite)
    result = {"model": str(out), "before_after": report}
    if clips:
        video_config = dataclasses.replace(profile.video if profile else VideoConfig(), write_video=False)
        result["video"] = _video_report(clips, base, out, video_config, configured)
    if profile is not None:
        result["profile_backup"] = str(set_camera_model(args.cameras, profile.name, out))
        result["profile"] = args.cameras
    print(report["sentence"], file=sys.stderr)
    print_json(result)
    return 0


def _video_clips(sources: list[str]) -> list:
    """The camera's clips for the video report: manifests and labelled folders as eval-video reads them, a plain
    video as no rip; a source that is none of these is a one-line error."""
    from ripdetect.errors import InputError
    from ripdetect.video.evaluation import LabelledClip, load_labelled_clips

    clips = []
    for source in sources:
        path = Path(source)
        if path.is_dir() or path.suffix.lower() == ".csv":
            clips += load_labelled_clips([path])
        elif path.is_file():
            clips.append(LabelledClip(str(path), False))
        else:
            raise InputError("--video: no such file or folder", path)
    return clips


def _video_report(clips: list, base, adapted_path: Path, video_config, threshold: float | None) -> dict:
    """False alarms per camera-hour (and rips, when labelled) on the camera's clips, before and after, with the
    camera's video settings and threshold."""
    from ripdetect.config import InferenceConfig
    from ripdetect.inference.predictor import Predictor
    from ripdetect.video.evaluation import evaluate_clips

    inference = InferenceConfig(threshold=threshold)
    before, _, _ = evaluate_clips(clips, Predictor(base, inference), video_config)
    after, _, _ = evaluate_clips(clips, Predictor(adapted_path, inference), video_config)
    keys = ("hours_without_rip", "false_events", "false_alarms_per_camera_hour", "rip_clips_detected",
            "rip_clips_missed")
    return {"base": {k: before[k] for k in keys}, "adapted": {k: after[k] for k in keys}}
