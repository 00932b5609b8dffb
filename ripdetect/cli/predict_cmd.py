"""``ripdetect predict``: JSON Lines on stdout, one object per input in input order."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ripdetect.cli.flags import (add_camera_flags, add_config_flags, add_model_flag, camera_choice, print_json,
                                  with_flags)
from ripdetect.config import InferenceConfig

RENAMED = {"cam_method": "cam", "region_when_negative": "regions_always", "map_when_negative": "map_always"}
OVERLAY_SUFFIX = "_overlay.png"
OVERLAYS_WRITTEN = ".ripdetect-overlays.json"  # the overlays predict wrote into --out (its to replace)


def add_parser(sub) -> None:
    parser = sub.add_parser("predict", help="classify images and localise rips (JSON Lines on stdout)")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (recursive) or globs")
    add_model_flag(parser)
    parser.add_argument("--out", default=None, help="folder for overlay PNGs (default: none written)")
    parser.add_argument("--overwrite", action="store_true", help="replace overlay files that already exist in --out")
    names = add_config_flags(parser, InferenceConfig, rename=RENAMED)
    add_camera_flags(parser)
    parser.set_defaults(run=run, config_flags=names)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.data.inputs import expand_inputs
    from ripdetect.errors import InputError
    from ripdetect.files import write_image, write_json
    from ripdetect.inference.predictor import Predictor

    profile, roi = camera_choice(args)
    inference_config = with_flags(profile.inference if profile else InferenceConfig(), args, args.config_flags)
    predictor = Predictor(args.model or (profile.model if profile else None), inference_config, roi=roi)
    out_dir = Path(args.out) if args.out else None
    paths = expand_inputs(args.paths, skip=_own_overlays(out_dir))
    failed = 0
    overlay_names: set[str] = set()
    ours = _written_before(out_dir)  # overlays an earlier predict wrote here: ours to replace
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
                                                    overwrite=args.overwrite or target.name in ours))
                ours.add(target.name)
                write_json(out_dir / OVERLAYS_WRITTEN, sorted(ours))
            except OSError as exc:
                failed += 1
                record["overlay_error"] = _overlay_error(exc, target, out_dir)
        print_json(record)
    return 1 if failed else 0


def _written_before(out_dir: Path | None) -> set[str]:
    """The overlay names an earlier ``predict --out`` wrote into ``out_dir`` (its record of them)."""
    try:
        names = json.loads((out_dir / OVERLAYS_WRITTEN).read_text()) if out_dir is not None else []
        return {name for name in names if isinstance(name, str) and name.endswith(OVERLAY_SUFFIX)}
    except (OSError, ValueError, TypeError):
        return set()


def _overlay_error(exc: OSError, target: Path, out_dir: Path) -> str:
    if getattr(exc, "reason", None):  # a RipdetectError, e.g. an overlay that exists and is not ours
        return f"{target}: {exc.reason}"
    if out_dir.exists() and not out_dir.is_dir():
        return f"cannot write {target}: --out {out_dir} is a file, not a folder"
    return f"cannot write {target}: {exc.strerror or exc}"


def _own_overlays(out_dir: Path | None):
    """Inside input folders, leave out the overlays this command writes to ``out_dir`` (an --out inside an input
    folder is not read back as input)."""
    if out_dir is None:
        return None
    out = out_dir.resolve()
    return lambda path: path.name.endswith(OVERLAY_SUFFIX) and path.parent.resolve() == out


def _unique_name(path: Path, used: set[str]) -> str:
    name, count = f"{path.stem}{OVERLAY_SUFFIX}", 1
    while name in used:
        count += 1
        name = f"{path.stem}_{count}{OVERLAY_SUFFIX}"
    used.add(name)
    return name
