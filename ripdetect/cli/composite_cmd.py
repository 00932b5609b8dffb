"""``ripdetect composite``: rip channels painted into your own no-rip photos, plus matched no-rip edits."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub) -> None:
    parser = sub.add_parser("composite", help="paint synthetic rip channels into real no-rip photos (and matched "
                                              "no-rip edits) for training")
    parser.add_argument("--real", nargs="+", required=True,
                        help="real photos: folders or manifests; their no-rip photos are used, with their water "
                             "labels (a water column or water/ masks)")
    parser.add_argument("--out", required=True, help="output folder (rip/, no_rip/, masks/, water/, manifest.csv)")
    parser.add_argument("--per-source", type=int, default=4,
                        help="rip composites (and as many no-rip edits) per source photo (default: 4)")
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument("--model", default=None,
                        help="a checkpoint with a water head, to estimate the sea where a photo has no water label "
                             "(default: photos without water labels are skipped)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.data.layouts import load_many
    from ripdetect.errors import ConfigError
    from ripdetect.synth.composite_dataset import generate_composites

    if args.per_source < 1:
        raise ConfigError(f"--per-source must be at least 1 (got {args.per_source})")
    sources = load_many(args.real)
    estimate = water_estimator(args.model) if args.model else None
    no_rip = sum(1 for s in sources if s.label == 0)
    with tqdm(total=no_rip, desc="composites", file=sys.stderr, leave=False) as bar:
        summary = generate_composites(args.out, sources, args.per_source, args.seed, estimate,
                                      progress=lambda i, n: bar.update(1))
    for item in summary["skipped"]:
        print(f"ripdetect: skipped {item['path']}: {item['reason']}", file=sys.stderr)
    print(json.dumps({**summary, "skipped": len(summary["skipped"]), "out": args.out}))
    return 0


def water_estimator(model_path: str):
    """image_rgb -> water mask from a checkpoint's water head."""
    from ripdetect.errors import ConfigError
    from ripdetect.explain.regions import upsample_cam
    from ripdetect.inference.predictor import WATER_THRESHOLD, Predictor

    predictor = Predictor(model_path)
    if not predictor.checkpoint.model_config.water_head:
        raise ConfigError(f"{model_path} has no water head, so it cannot estimate where the sea is")

    def estimate(image_rgb):
        water = predictor.predict_image(image_rgb).water
        return upsample_cam(water, *image_rgb.shape[:2]) >= WATER_THRESHOLD

    return estimate
