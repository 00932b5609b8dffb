"""``ripdetect synth``: synthetic surf-zone images, masks and clips."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ripdetect.cli.flags import add_config_flags, given
from ripdetect.config import SynthConfig
from ripdetect.errors import ConfigError


def add_parser(sub) -> None:
    defaults = SynthConfig()
    parser = sub.add_parser("synth", help="render synthetic surf-zone scenes with exact rip masks")
    parser.add_argument("--out", required=True, help="output folder (class folders, masks/, manifest.csv, clips/)")
    names = add_config_flags(parser, SynthConfig, only=("n", "seed", "view", "rip_fraction", "clips", "clip_seconds",
                                                         "fps", "realism", "uniform_surf"))
    parser.add_argument("--size", default=None, help=f"image size WxH (default: {defaults.width}x{defaults.height})")
    parser.add_argument("--preview", action="store_true", help="also write preview.png: synthetic next to real")
    parser.add_argument("--real", default=None,
                        help="folder of real photos for the preview (default: ../shared/data/real-dev if present)")
    parser.add_argument("--overwrite", action="store_true", help="replace a manifest.csv that synth did not write")
    parser.set_defaults(run=run, config_flags=names)


def parse_size(text: str) -> dict[str, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size must look like 640x384 (got {text!r})") from None
    return {"width": width, "height": height}


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.synth.preview import write_preview
    from ripdetect.synth.writer import check_output, generate_clips, generate_images

    synth_config = SynthConfig(**given(args, args.config_flags), **(parse_size(args.size) if args.size else {}))
    out_dir = Path(args.out)
    check_output(out_dir, synth_config, args.overwrite)
    summary: dict = {"out": str(out_dir)}
    if synth_config.n:
        with tqdm(total=synth_config.n, desc="images", file=sys.stderr, leave=False) as bar:
            summary.update(generate_images(out_dir, synth_config, lambda i, n: bar.update(1)))
    if synth_config.clips:
        with tqdm(total=synth_config.clips, desc="clips", file=sys.stderr, leave=False) as bar:
            summary.update(generate_clips(out_dir, synth_config, lambda i, n: bar.update(1)))
    if args.preview:
        real = Path(args.real) if args.real else Path("../shared/data/real-dev")
        summary["preview"] = str(write_preview(out_dir, synth_config, real if real.is_dir() else None))
    print(json.dumps(summary))
    return 0
