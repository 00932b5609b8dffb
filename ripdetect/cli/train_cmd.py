"""``ripdetect train`` and ``ripdetect eval``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

from ripdetect.cli.flags import add_config_flags, given, print_json
from ripdetect.config import AugmentConfig, ModelConfig, TrainConfig, load_json_config, to_dict


def add_parser(sub) -> None:
    parser = sub.add_parser("train", help="train a rip classifier", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", nargs="+", required=False, default=None,
                        help="dataset folder(s) or CSV manifest(s); several are concatenated")
    parser.add_argument("--val-data", nargs="+", default=None,
                        help="a separate validation set (default: a stratified split of --data)")
    parser.add_argument("--out", required=True, help="run folder for checkpoints, logs and plots")
    parser.add_argument("--config", default=None, help="a JSON recipe, e.g. train/configs/default.json")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last state")
    parser.add_argument("--init-from", default=None,
                        help="start from a ripdetect checkpoint of the same architecture, e.g. to fine-tune the "
                             "default model on your own beach (default: ImageNet weights)")
    group = parser.add_argument_group("model")
    model_flags = add_config_flags(group, ModelConfig)
    group = parser.add_argument_group("augmentation")
    augment_flags = add_config_flags(group, AugmentConfig)
    group = parser.add_argument_group("training")
    train_flags = add_config_flags(group, TrainConfig)
    parser.set_defaults(run=run_train, flag_groups=(model_flags, augment_flags, train_flags))

    parser = sub.add_parser("eval", help="evaluate a checkpoint on a labelled dataset")
    parser.add_argument("--data", nargs="+", required=True, help="dataset folder(s) or CSV manifest(s)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    parser.add_argument("--out", default=None, help="folder for plots, predictions.json and metrics.json")
    parser.add_argument("--threshold", type=float, default=None, help="(default: the checkpoint's)")
    parser.add_argument("--batch-size", type=int, default=16, help="(default: 16)")
    parser.add_argument("--no-localisation", action="store_true", help="skip CAM localisation metrics")
    parser.set_defaults(run=run_eval)


def resolve_train_config(args: argparse.Namespace) -> TrainConfig:
    """CLI > --config file > (saved run config when resuming) > dataclass defaults."""
    config = TrainConfig()
    saved = Path(args.out) / "config.json"
    if args.resume and saved.is_file() and not args.config:
        config = load_json_config(TrainConfig, saved)
    if args.config:
        config = load_json_config(TrainConfig, args.config)
    model_flags, augment_flags, train_flags = args.flag_groups
    return dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, **given(args, model_flags)),
        augment=dataclasses.replace(config.augment, **given(args, augment_flags)),
        **given(args, train_flags),
    )


def run_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.augment import write_weather_copies
    from ripdetect.checkpoint import load_checkpoint, save_checkpoint
    from ripdetect.data import load_many, split_samples
    from ripdetect.engine import BEST_NAME, FINAL_NAME, TrainingInterrupted, fit
    from ripdetect.errors import DataError
    from ripdetect.evaluation import estimate_cam_scale, evaluate_checkpoint
    from ripdetect.model import resolve_model_config
    from ripdetect.plots import plot_history

    train_config = resolve_train_config(args)
    run_dir = Path(args.out)
    if run_dir.exists() and not run_dir.is_dir():
        raise DataError("--out is a file, not a folder", run_dir)
    data = args.data
    if data is None:
        saved_data = run_dir / "data_sources.json"
        if not (args.resume and saved_data.is_file()):
            raise DataError("--data is required (folder(s) or CSV manifest(s))")
        data = json.loads(saved_data.read_text())["data"]
        args.val_data = json.loads(saved_data.read_text()).get("val_data")
    samples = load_many(data)
    if args.val_data:
        train_samples = samples
        val_samples = [dataclasses.replace(s, split="val") for s in load_many(args.val_data)]
    else:
        train_samples, val_samples = split_samples(samples, train_config.val_fraction, train_config.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = dataclasses.replace(train_config, model=resolve_model_config(train_config.model))
    (run_dir / "config.json").write_text(json.dumps(to_dict(resolved), indent=1))
    (run_dir / "data_sources.json").write_text(json.dumps({"data": data, "val_data": args.val_data}))
    (run_dir / "split.json").write_text(json.dumps({"train": [s.path for s in train_samples],
                                                    "val": [s.path for s in val_samples]}, indent=1))
    if train_config.augment.weather_copies:
        copies = write_weather_copies(train_samples, run_dir / "weather_copies", train_config.augment.weather_copies,
                                      train_config.seed)
        print(f"ripdetect: added {len(copies)} synthetic weather copies", file=sys.stderr)
        train_samples = train_samples + copies
    print(f"ripdetect: {len(train_samples)} training and {len(val_samples)} validation images", file=sys.stderr)

    bar = tqdm(total=0, file=sys.stderr, dynamic_ncols=True, leave=False)

    def progress(event: str, info: dict) -> None:
        if event == "epoch":
            bar.reset(total=0)
            bar.set_description(f"epoch {info['epoch']}/{info['epochs']}")
        elif event == "step":
            bar.total = info["steps"]
            bar.n = info["step"]
            bar.set_postfix(loss=f"{info['loss']:.4f}")
            bar.refresh()
        elif event == "epoch_end":
            metric = info.get(train_config.monitor)
            tqdm.write(f"epoch {info['epoch']}: train_loss {info['train_loss']:.4f}"
                       + (f" val_loss {info['val_loss']:.4f}" if "val_loss" in info else "")
                       + (f" {train_config.monitor} {metric:.3f}" if isinstance(metric, float) else "")
                       + (" *" if info["improved"] else ""), file=sys.stderr)

    try:
        result = fit(train_samples, val_samples, resolved, run_dir, resume=args.resume, progress=progress,
                     init_from=args.init_from)
    except TrainingInterrupted as exc:
        bar.close()
        print(f"ripdetect: {exc}", file=sys.stderr)
        return 130
    bar.close()
    if result["bad_files"]:
        for path, reason in sorted(result["bad_files"].items()):
            print(f"ripdetect: skipped {path}: {reason}", file=sys.stderr)
        print(f"ripdetect: skipped {len(result['bad_files'])} unreadable image(s)", file=sys.stderr)
    plot_history(result["history"], run_dir / "curves.png")
    best = load_checkpoint(run_dir / BEST_NAME)
    final_metrics = evaluate_checkpoint(best, val_samples, run_dir / "eval", batch_size=resolved.batch_size,
                                        localisation=False) if val_samples else {}
    final_metrics.pop("skipped", None)
    save_checkpoint(run_dir / FINAL_NAME, best.model, best.model_config, best.threshold,
                    {k: v for k, v in best.metadata.items() if k not in ("model_config", "threshold")}
                    | {"metrics": final_metrics, "model_id": run_dir.name,
                       "cam_scale": estimate_cam_scale(best, val_samples or train_samples)})
    if val_samples:
        for name in ("confusion_matrix.png", "roc.png", "pr.png"):
            if (run_dir / "eval" / name).exists():
                shutil.copy(run_dir / "eval" / name, run_dir / name)
    print_json({"model": str(run_dir / FINAL_NAME), "threshold": best.threshold, "val_metrics": final_metrics,
                "epochs_run": len(result["history"]), "skipped": len(result["bad_files"])})
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ripdetect.checkpoint import load_checkpoint
    from ripdetect.data import load_many
    from ripdetect.evaluation import evaluate_checkpoint

    checkpoint = load_checkpoint(args.model)
    samples = load_many(args.data)
    bar = tqdm(total=0, file=sys.stderr, desc="eval", leave=False)

    def progress(event: str, info: dict) -> None:
        bar.total, bar.n = info.get("steps", bar.total), info.get("step", bar.n)
        bar.refresh()

    metrics = evaluate_checkpoint(checkpoint, samples, args.out, batch_size=args.batch_size, threshold=args.threshold,
                                  localisation=not args.no_localisation, progress=progress)
    bar.close()
    for item in metrics["skipped"]:
        print(f"ripdetect: skipped {item['path']}: {item['error']}", file=sys.stderr)
    if metrics["skipped"]:
        print(f"ripdetect: skipped {len(metrics['skipped'])} unreadable image(s)", file=sys.stderr)
    print(json.dumps(metrics, indent=1))
    return 0
