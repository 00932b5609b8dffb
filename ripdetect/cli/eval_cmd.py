"""``ripdetect eval``: metrics, plots and localisation of a checkpoint on a labelled dataset."""

from __future__ import annotations

import argparse
import json
import sys

from ripdetect.cli.flags import DATA_LAYOUTS, add_config_flags, add_model_flag
from ripdetect.config import FAITHFULNESS_DEFAULT, InferenceConfig


def add_parser(sub) -> None:
    parser = sub.add_parser("eval", help="evaluate a checkpoint on a labelled dataset")
    parser.add_argument("--data", nargs="+", required=True, help=f"labelled images: {DATA_LAYOUTS}")
    add_model_flag(parser)
    parser.add_argument("--out", default=None, help="folder for plots, predictions.json and metrics.json "
                                                    "(default: none written)")
    add_config_flags(parser, InferenceConfig, only=("threshold", "batch_size"))
    parser.add_argument("--no-localisation", action="store_true", help="skip CAM localisation metrics")
    parser.add_argument("--faithfulness", type=int, default=FAITHFULNESS_DEFAULT, metavar="N",
                        help="labelled rip images (evenly spaced) that also get deletion/insertion AUCs, 34 extra "
                             f"passes each; 0: none (default: {FAITHFULNESS_DEFAULT})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace files in --out that ripdetect eval did not write (default: refuse)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.data.layouts import load_many
    from ripdetect.decision import applied_threshold
    from ripdetect.inference.backends import load_model
    from ripdetect.training.evaluation import evaluate_checkpoint

    checkpoint = load_model(args.model)
    threshold = applied_threshold(args.threshold, checkpoint.threshold)  # as predict
    samples = load_many(args.data)
    bar = tqdm(total=0, file=sys.stderr, desc="eval", leave=False)

    def progress(event: str, info: dict) -> None:
        bar.total, bar.n = info.get("steps", bar.total), info.get("step", bar.n)
        bar.refresh()

    try:
        metrics = evaluate_checkpoint(checkpoint, samples, args.out, batch_size=args.batch_size,
                                      threshold=threshold, localisation=not args.no_localisation,
                                      faithfulness=max(0, args.faithfulness), progress=progress,
                                      overwrite=args.overwrite)
    finally:
        bar.close()
    for item in metrics["skipped"]:
        print(f"ripdetect: skipped {item['path']}: {item['error']}", file=sys.stderr)
    if metrics["skipped"]:
        print(f"ripdetect: skipped {len(metrics['skipped'])} unreadable image(s)", file=sys.stderr)
    print(json.dumps(metrics, indent=1))
    return 0
