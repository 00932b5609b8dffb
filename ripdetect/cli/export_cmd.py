"""``ripdetect export``: re-save a checkpoint, optionally as fp16 (how the default model is embedded)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    parser = sub.add_parser("export", help="re-save a checkpoint (e.g. fp16 for embedding)")
    parser.add_argument("model", help="source checkpoint (.safetensors)")
    parser.add_argument("out", help="target path")
    parser.add_argument("--half", action="store_true", help="store weights as float16 (default: float32)")
    parser.add_argument("--model-id", default=None, help="model id recorded in outputs (default: keep)")
    parser.add_argument("--training-data", default=None, help="model-card note on the training data (default: keep)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing target file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ripdetect.models.checkpoint import export_checkpoint

    card = {"training_data": args.training_data} if args.training_data else None
    print(export_checkpoint(args.model, args.out, half=args.half, model_id=args.model_id, model_card=card,
                            overwrite=args.overwrite))
    return 0
