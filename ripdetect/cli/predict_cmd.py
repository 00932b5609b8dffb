"""``ripdetect predict``: JSON Lines on stdout, one object per input in input order."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ripdetect.cli.flags import print_json
from ripdetect.config import CAM_METHODS, InferenceConfig


def add_parser(sub) -> None:
    defaults = InferenceConfig()
    parser = sub.add_parser("predict", help="classify images and localise rips (JSON Lines on stdout)")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (recursive) or globs")
    parser.add_argument("--model", default=None, help="checkpoint (default: the embedded default model)")
    parser.add_argument("--out", default=None, help="folder for overlay PNGs (default: none written)")
    parser.add_argument("--threshold", type=float, default=None, help="decision threshold (default: the model's)")
    parser.add_argument("--cam-threshold", type=float, default=defaults.cam_threshold,
                        help=f"region threshold (default: {defaults.cam_threshold})")
    parser.add_argument("--cam-threshold-mode", choices=("fraction", "percentile", "otsu"),
                        default=defaults.cam_threshold_mode, help=f"(default: {defaults.cam_threshold_mode})")
    parser.add_argument("--cam", choices=CAM_METHODS, default=defaults.cam_method,
                        help=f"CAM method (default: {defaults.cam_method})")
    parser.add_argument("--cam-layer", default=None, help="dotted layer name (default: the model's feature layer)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help=f"(default: {defaults.batch_size})")
    parser.add_argument("--regions-always", action="store_true", help="report a region for no-rip images too")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.errors import InputError
    from ripdetect.images import expand_inputs
    from ripdetect.predict import Predictor
    from ripdetect.viz import save_png

    config = InferenceConfig(threshold=args.threshold, cam_method=args.cam, cam_layer=args.cam_layer,
                             cam_threshold=args.cam_threshold, cam_threshold_mode=args.cam_threshold_mode,
                             batch_size=args.batch_size, region_when_negative=args.regions_always)
    predictor = Predictor(args.model, config)
    paths = expand_inputs(args.paths)
    for pattern in args.paths:
        if Path(pattern).is_dir() and not any(p.is_relative_to(Path(pattern)) for p in paths):
            print(f"ripdetect: warning: {pattern}: folder contains no images", file=sys.stderr)
    out_dir = Path(args.out) if args.out else None
    failed = 0
    overlay_names: set[str] = set()
    for path, image_rgb, result in tqdm(predictor.predict_paths(paths), total=len(paths), file=sys.stderr,
                                        desc="predict", leave=False):
        if isinstance(result, InputError):
            failed += 1
            print_json({"path": str(path), "error": result.reason})
            continue
        overlay = None
        if out_dir is not None:
            name = _unique_name(path, overlay_names)
            try:
                overlay = str(save_png(predictor.render(image_rgb, result), out_dir / name))
            except OSError as exc:
                failed += 1
                print_json({"path": str(path), "error": f"cannot write overlay: {exc}"})
                continue
        print_json(result.to_json(str(path), overlay))
    if not paths:
        print("ripdetect: error: no input images found", file=sys.stderr)
        return 1
    return 1 if failed else 0


def _unique_name(path: Path, used: set[str]) -> str:
    name, count = f"{path.stem}_overlay.png", 1
    while name in used:
        count += 1
        name = f"{path.stem}_{count}_overlay.png"
    used.add(name)
    return name
