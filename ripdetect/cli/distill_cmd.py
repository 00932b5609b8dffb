"""``ripdetect distill``: train a smaller or lower-resolution student from a teacher checkpoint.

    ripdetect distill --teacher ripdetect/weights/default.safetensors --student efficientnet_lite0 --input-size 160 \\
        --data synth/ --val-data train/splits/real_dev_val.csv --out runs/student160 [--steps 300] [--alpha 0.7]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ripdetect.cli.flags import add_config_flags, given, print_json
from ripdetect.config import DistillConfig, ModelConfig, TrainConfig

MODEL_FLAGS = ("input_size", "freeze_stages", "dropout", "weights_path")
TRAIN_FLAGS = ("batch_size", "lr", "backbone_lr_scale", "weight_decay", "seed", "imbalance", "label_smoothing",
               "threshold_mode", "target_recall", "num_workers")


def add_parser(sub) -> None:
    parser = sub.add_parser("distill", help="train a smaller or lower-resolution student from a teacher checkpoint")
    parser.add_argument("--teacher", required=True, help="the teacher checkpoint (.safetensors)")
    parser.add_argument("--student", default=None, metavar="ARCH",
                        help="the student's architecture (default: the teacher's, e.g. with a smaller --input-size)")
    parser.add_argument("--data", nargs="+", required=True, help="training images: dataset folder(s) or manifest(s)")
    parser.add_argument("--val-data", nargs="+", default=None,
                        help="validation images for the decision threshold and metrics (default: none; threshold 0.5)")
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--overwrite", action="store_true", help="start over in an --out that already holds a run")
    groups = (add_config_flags(parser.add_argument_group("student"), ModelConfig, only=MODEL_FLAGS),
              add_config_flags(parser.add_argument_group("optimisation"), TrainConfig, only=TRAIN_FLAGS),
              add_config_flags(parser.add_argument_group("distillation"), DistillConfig))
    parser.set_defaults(run=run, flag_groups=groups)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.data.layouts import load_many
    from ripdetect.models.checkpoint import load_checkpoint
    from ripdetect.training.distill import distill

    teacher = load_checkpoint(args.teacher)
    model_flags, train_flags, distill_flags = args.flag_groups
    arch = args.student or teacher.model_config.arch
    student = ModelConfig(arch=arch, num_classes=teacher.model_config.num_classes,
                          water_head=teacher.model_config.water_head,
                          class_names=teacher.model_config.class_names, **given(args, model_flags))
    train_config = dataclasses.replace(TrainConfig(), model=student, **given(args, train_flags))
    distill_config = DistillConfig(**given(args, distill_flags))
    train_samples = load_many(args.data)
    val_samples = load_many(args.val_data) if args.val_data else []
    print(f"ripdetect: {len(train_samples)} training and {len(val_samples)} validation images", file=sys.stderr)
    bar = tqdm(total=distill_config.steps, file=sys.stderr, desc="distill", leave=False)

    def progress(event: str, info: dict) -> None:
        bar.n = info.get("step", bar.n)
        bar.set_postfix(loss=f"{info.get('loss', 0):.3f}")

    try:
        result = distill(teacher, train_samples, val_samples, train_config, distill_config, args.out,
                         overwrite=args.overwrite, progress=progress)
    finally:
        bar.close()
    print_json(result)
    return 0
