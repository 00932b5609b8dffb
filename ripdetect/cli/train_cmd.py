"""``ripdetect train``: argument parsing and a progress bar over ``ripdetect.training.run.train_model``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from ripdetect.cli.flags import DATA_LAYOUTS, add_config_flags, add_data_flags, given, print_json
from ripdetect.config import AugmentConfig, ModelConfig, TrainConfig, load_json_config


def add_parser(sub) -> None:
    parser = sub.add_parser("train", help="train a rip classifier")
    add_data_flags(parser, data_help=f"training images, one or more of: {DATA_LAYOUTS}; several are concatenated "
                                     "(default: the run's own sources when resuming)",
                   real_help="real images (a manifest with group and viewpoint columns) for grouped cross-validation "
                             "with --folds (default: none)",
                   folds_help="grouped k-fold cross-validation over --real by site; then a final model on all the "
                              "data with the cross-validated temperature and threshold (default: a single run)")
    parser.add_argument("--no-final", action="store_true", help="with --folds: only the cross-validation")
    parser.add_argument("--out", required=True, help="run folder for checkpoints, logs and plots")
    parser.add_argument("--config", default=None, help="a JSON recipe, e.g. train/configs/default.json (default: none)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last state")
    parser.add_argument("--overwrite", action="store_true", help="start over in an --out that already holds a run")
    parser.add_argument("--init-from", default=None,
                        help="start from a ripdetect checkpoint of the same architecture, e.g. to fine-tune the "
                             "default model on your own beach (default: ImageNet weights)")
    groups = tuple(add_config_flags(parser.add_argument_group(title), cls)
                   for title, cls in (("model", ModelConfig), ("augmentation", AugmentConfig),
                                      ("training", TrainConfig)))
    parser.set_defaults(run=run, flag_groups=groups)


def resolve_train_config(args: argparse.Namespace) -> TrainConfig:
    """CLI flags > --config file > the run's saved config (when resuming) > dataclass defaults."""
    config = TrainConfig()
    saved = Path(args.out) / "config.json"
    if args.config:
        config = load_json_config(TrainConfig, args.config)
    elif args.resume and saved.is_file():
        config = load_json_config(TrainConfig, saved)
    model_flags, augment_flags, train_flags = args.flag_groups
    return dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, **given(args, model_flags)),
        augment=dataclasses.replace(config.augment, **given(args, augment_flags)),
        **given(args, train_flags),
    )


def resolve_data(args: argparse.Namespace) -> tuple[list[str], list[str] | None]:
    """``--data``/``--val-data``, or the sources saved with the run when resuming without them."""
    from ripdetect.errors import DataError
    from ripdetect.training.run import SOURCES_NAME

    if args.data is not None:
        return args.data, args.val_data
    saved = Path(args.out) / SOURCES_NAME
    if not (args.resume and saved.is_file()):
        raise DataError("--data is required (folder(s) or CSV manifest(s))")
    sources = json.loads(saved.read_text())
    return sources["data"], sources.get("val_data")


def run(args: argparse.Namespace) -> int:
    """One process, or one rank of ``torchrun --nproc-per-node N -m ripdetect train ...`` (DistributedDataParallel;
    rank 0 prints, shows progress and writes the files)."""
    from ripdetect.training import distributed

    if not distributed.launched_by_torchrun():
        return train(args, distributed.Workers())
    workers = distributed.start_process_group()
    try:
        return train(args, workers)
    finally:
        distributed.end_process_group()


def train(args: argparse.Namespace, workers) -> int:
    from ripdetect.data.layouts import training_sets
    from ripdetect.errors import ConfigError
    from ripdetect.training.engine import TrainingInterrupted
    from ripdetect.training.run import train_model

    train_config = resolve_train_config(args)
    if (args.real is None) != (args.folds is None):
        raise ConfigError("--real and --folds go together (grouped cross-validation over the real images)")
    if args.folds is not None:
        if workers.is_distributed:
            raise ConfigError("--folds runs in one process; start it with 'ripdetect train', not torchrun")
        return run_cross_validation(args, train_config)
    if args.init_from:  # a bad checkpoint is refused before the run folder is touched
        from ripdetect.models.checkpoint import load_checkpoint

        load_checkpoint(args.init_from)
    data, val_data = resolve_data(args)
    train_samples, val_samples = training_sets(data, val_data, train_config.val_fraction, train_config.seed)
    if not workers.is_main:  # the other ranks train their share quietly
        train_model(train_samples, val_samples, train_config, args.out, resume=args.resume, overwrite=args.overwrite,
                    init_from=args.init_from)
        return 0
    print(f"ripdetect: {len(train_samples)} training and {len(val_samples)} validation images"
          + (f", {workers.world_size} processes" if workers.is_distributed else ""), file=sys.stderr)
    bar, progress = progress_bar(train_config.monitor)
    try:
        result = train_model(train_samples, val_samples, train_config, args.out, resume=args.resume,
                             overwrite=args.overwrite, init_from=args.init_from, progress=progress,
                             data_sources={"data": data, "val_data": val_data})
    except TrainingInterrupted as exc:
        print(f"ripdetect: {exc}", file=sys.stderr)
        return 130
    finally:
        bar.close()
    for path, reason in sorted(result["bad_files"].items()):
        print(f"ripdetect: skipped {path}: {reason}", file=sys.stderr)
    if result["bad_files"]:
        print(f"ripdetect: skipped {len(result['bad_files'])} unreadable image(s)", file=sys.stderr)
    print_json({"model": result["model"], "threshold": result["threshold"], "val_metrics": result["val_metrics"],
                "epochs_run": result["epochs_run"], "skipped": len(result["bad_files"])})
    return 0


def progress_bar(monitor: str):
    """A tqdm bar and the progress callback that drives it (folds, epochs, steps, epoch summaries)."""
    from tqdm import tqdm

    bar = tqdm(total=0, file=sys.stderr, dynamic_ncols=True, leave=False)

    def progress(event: str, info: dict) -> None:
        if event == "fold":
            tqdm.write(f"fold {info['fold']}/{info['folds']}: {info['n_train']} training and {info['n_val']} "
                       "held-out images", file=sys.stderr)
        elif event == "epoch":
            bar.reset(total=0)
            bar.set_description(f"epoch {info['epoch']}/{info['epochs']}")
        elif event == "cache":
            bar.set_description("caching the frozen stages")
            bar.total, bar.n = info["steps"], info["step"]
            bar.refresh()
        elif event == "step":
            bar.total, bar.n = info["steps"], info["step"]
            bar.set_postfix(loss=f"{info['loss']:.4f}")
            bar.refresh()
        elif event == "epoch_end":
            metric = info.get(monitor)
            tqdm.write(f"epoch {info['epoch']}: train_loss {info['train_loss']:.4f}"
                       + (f" val_loss {info['val_loss']:.4f}" if "val_loss" in info else "")
                       + (f" {monitor} {metric:.3f}" if isinstance(metric, float) else "")
                       + (" *" if info["improved"] else ""), file=sys.stderr)

    return bar, progress


def run_cross_validation(args: argparse.Namespace, train_config) -> int:
    from ripdetect.data.layouts import load_many
    from ripdetect.training.crossval import cross_validate
    from ripdetect.training.engine import TrainingInterrupted

    real = load_many(args.real)
    extra = load_many(args.data, both_classes=False) if args.data else []
    print(f"ripdetect: grouped {args.folds}-fold cross-validation over {len(real)} real images "
          f"({len({s.group_key for s in real})} sites), with {len(extra)} other training images", file=sys.stderr)
    bar, progress = progress_bar(train_config.monitor)
    try:
        report = cross_validate(real, extra, train_config, args.out, folds=args.folds, final=not args.no_final,
                                overwrite=args.overwrite, progress=progress)
    except TrainingInterrupted as exc:
        print(f"ripdetect: {exc}; run the same command again to continue", file=sys.stderr)
        return 130
    finally:
        bar.close()
    keys = ("balanced_accuracy", "roc_auc", "f2", "brier", "ece", "n", "intervals")
    print_json({"cross_validation": {"overall": {k: report["overall"][k] for k in keys},
                                     "by_viewpoint": {v: {k: m[k] for k in keys} for v, m in report["by"].items()},
                                     "localisation": {k: v for k, v in (report.get("localisation") or {}).items()
                                                      if k != "per_image"},
                                     "temperature": report["temperature"], "threshold": report["threshold"]},
                "model": report.get("final_model"), "report": str(Path(args.out) / "cv_report.json")})
    return 0
