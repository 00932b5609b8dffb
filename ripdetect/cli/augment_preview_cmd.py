"""``ripdetect augment-preview``: a PNG grid of what training sees."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ripdetect.cli.flags import DATA_LAYOUTS


def add_parser(sub) -> None:
    parser = sub.add_parser("augment-preview", help="write a PNG grid of augmented training samples")
    parser.add_argument("--data", nargs="+", required=True, help=f"the images: {DATA_LAYOUTS}")
    parser.add_argument("--out", required=True, help="PNG path to write")
    parser.add_argument("--config", default=None, help="a JSON training recipe (default: built-in defaults)")
    parser.add_argument("--images", type=int, default=4, help="source images, one per row (default: 4)")
    parser.add_argument("--variants", type=int, default=6, help="augmented variants per image (default: 6)")
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument("--tile", type=int, default=224, help="tile size in pixels (default: 224)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file (default: refuse)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ripdetect.config import TrainConfig, load_json_config
    from ripdetect.data.layouts import load_many
    from ripdetect.viz.previews import augment_preview

    from ripdetect.files import OutputExistsError

    if Path(args.out).exists() and not args.overwrite:
        raise OutputExistsError("exists; use --overwrite to replace it (or another --out)", args.out)
    train_config = load_json_config(TrainConfig, args.config) if args.config else TrainConfig()
    samples = load_many(args.data)
    path = augment_preview(samples, train_config, args.out, n_images=args.images, n_variants=args.variants,
                           seed=args.seed, tile=args.tile)
    print(f"ripdetect: wrote {path}", file=sys.stderr)
    print(path)
    return 0
