"""``ripdetect predict``: JSON Lines on stdout, one object per input in input order."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ripdetect.cli.flags import add_config_flags, add_model_flag, given, print_json
from ripdetect.config import InferenceConfig

RENAMED = {"cam_method": "cam", "region_when_negative": "regions_always"}


def add_parser(sub) -> None:
    parser = sub.add_parser("predict", help="classify images and localise rips (JSON Lines on stdout)")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (recursive) or globs")
    add_model_flag(parser)
    parser.add_argument("--out", default=None, help="folder for overlay PNGs (default: none written)")
    parser.add_argument("--overwrite", action="store_true", help="replace overlay files that already exist in --out")
    names = add_config_flags(parser, InferenceConfig, rename=RENAMED)
    parser.set_defaults(run=run, config_flags=names)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.data.images import expand_inputs
    from ripdetect.errors import InputError
    from ripdetect.files import write_image
    from ripdetect.inference.predictor import Predictor

    predictor = Predictor(args.model, InferenceConfig(**given(args, args.config_flags)))
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
        record = result.to_json(str(path))
        if out_dir is not None:
            target = out_dir / _unique_name(path, overlay_names)
            try:
                record["overlay"] = str(write_image(target, predictor.render(image_rgb, result),
                                                    overwrite=args.overwrite))
            except OSError as exc:
                failed += 1
                record["overlay_error"] = (getattr(exc, "reason", None)
                                           or f"cannot write {target}: {exc.strerror or exc}")
        print_json(record)
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
