"""``ripdetect synth``: synthetic surf-zone images, masks and clips."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ripdetect.errors import ConfigError

DEFAULTS = {"n": 100, "seed": 0, "view": "mixed", "size": "640x384", "rip_fraction": 0.5, "clips": 0,
            "clip_seconds": 10.0, "fps": 10.0}


def add_parser(sub) -> None:
    parser = sub.add_parser("synth", help="render synthetic surf-zone scenes with exact rip masks")
    parser.add_argument("--out", required=True, help="output folder (class folders, masks/, manifest.csv, clips/)")
    parser.add_argument("--n", type=int, default=DEFAULTS["n"], help=f"images (default: {DEFAULTS['n']})")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="(default: 0)")
    parser.add_argument("--view", choices=("oblique", "aerial", "mixed"), default=DEFAULTS["view"],
                        help="camera (default: mixed)")
    parser.add_argument("--size", default=DEFAULTS["size"], help=f"WxH (default: {DEFAULTS['size']})")
    parser.add_argument("--rip-fraction", type=float, default=DEFAULTS["rip_fraction"], help="(default: 0.5)")
    parser.add_argument("--clips", type=int, default=DEFAULTS["clips"], help="MP4 clips to render (default: 0)")
    parser.add_argument("--clip-seconds", type=float, default=DEFAULTS["clip_seconds"], help="(default: 10)")
    parser.add_argument("--fps", type=float, default=DEFAULTS["fps"], help="clip frame rate (default: 10)")
    parser.add_argument("--preview", action="store_true", help="also write preview.png: synthetic next to real")
    parser.add_argument("--real", default=None,
                        help="folder of real photos for the preview (default: ../shared/data/real-dev if present)")
    parser.set_defaults(run=run)


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size must look like 640x384 (got {text!r})") from None
    return width, height


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.synth.dataset import SynthRequest, generate_clips, generate_images
    from ripdetect.synth.preview import write_preview

    width, height = parse_size(args.size)
    request = SynthRequest(Path(args.out), args.n, args.seed, args.view, width, height, args.rip_fraction,
                           args.clips, args.clip_seconds, args.fps)
    request.validate()
    summary: dict = {"out": str(request.out_dir)}
    if request.n:
        with tqdm(total=request.n, desc="images", file=sys.stderr, leave=False) as bar:
            summary.update(generate_images(request, lambda i, n: bar.update(1)))
    if request.clips:
        with tqdm(total=request.clips, desc="clips", file=sys.stderr, leave=False) as bar:
            summary.update(generate_clips(request, lambda i, n: bar.update(1)))
    if args.preview:
        real = Path(args.real) if args.real else Path("../shared/data/real-dev")
        summary["preview"] = str(write_preview(request, real if real.is_dir() else None))
    print(json.dumps(summary))
    return 0
