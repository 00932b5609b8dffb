"""Hyperband + TPE against random search on the same budget of training epochs in total.

Each search runs trials of the tiny CNN (64 px, trained from scratch) on synthetic surf-zone scenes until the
epochs trained by all its trials reach the budget; random search trains every trial to the end, Hyperband stops
the bad ones early and spends the epochs saved on more trials. Reported per method, averaged over the sampler
seeds: the best validation ROC-AUC reached, the trials run, and the share of the epochs that full training of
those trials would have needed which pruning saved.

    python bench/tune_bench.py [--budget 72] [--epochs 6] [--seeds 3] [--images 144]
"""

import argparse
import csv
import json
import statistics
import tempfile
from pathlib import Path

from ripdetect.config import ModelConfig, SynthConfig, TrainConfig, TuneConfig
from ripdetect.data.layouts import load_samples, split_samples
from ripdetect.synth.writer import generate_images
from ripdetect.training.tuning import make_plan, parse_space, tune

SPACE = {
    "lr": {"type": "float", "low": 1e-5, "high": 3e-2, "log": True},
    "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True},
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.6},
    "augment.strength": {"type": "float", "low": 0.0, "high": 2.0},
    "label_smoothing": {"type": "float", "low": 0.0, "high": 0.3},
}
METHODS = {"hyperband+tpe": {"sampler": "tpe", "pruner": "hyperband"},
           "random": {"sampler": "random", "pruner": "none"}}


def epochs_trained(out: Path) -> int:
    path = out / "trials.csv"
    return sum(int(row["epochs_trained"]) for row in csv.DictReader(open(path))) if path.exists() else 0


def run(method: str, seed: int, args, train, val, root: Path) -> dict:
    out = root / f"{method}-{seed}"
    base = TrainConfig(model=ModelConfig(arch="tiny_cnn", pretrained=False, input_size=64), epochs=args.epochs,
                       batch_size=16, num_workers=0, patience=0, monitor="roc_auc", warmup_epochs=0)
    tune_config = TuneConfig(trials=1000, seed=seed, **METHODS[method])
    plan = make_plan(out, tune_config, base, parse_space(SPACE), train, val)
    summary = tune(plan, should_stop=lambda: epochs_trained(out) >= args.budget)
    return {"best_roc_auc": summary["best"]["values"]["roc_auc"], "trials": summary["trials"]["finished"],
            "pruned": summary["trials"]["pruned"], "epochs_trained": summary["epochs"]["trained"],
            "saved_by_pruning": summary["epochs"]["saved_by_pruning"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=72, help="epochs trained in total by each search")
    parser.add_argument("--epochs", type=int, default=6, help="epochs of a full trial")
    parser.add_argument("--seeds", type=int, default=3, help="sampler seeds per method")
    parser.add_argument("--images", type=int, default=144, help="synthetic scenes (a third for validation)")
    parser.add_argument("--out", default=None, help="keep the studies here (default: a temporary folder)")
    args = parser.parse_args()
    root = Path(args.out or tempfile.mkdtemp(prefix="ripdetect-tune-bench-"))
    generate_images(root / "synth", SynthConfig(n=args.images, seed=7, width=160, height=96))
    train, val = split_samples(load_samples(root / "synth"), 1 / 3, 0)
    results = {method: [run(method, seed, args, train, val, root) for seed in range(args.seeds)]
               for method in METHODS}
    table = {method: {"best_roc_auc_mean": round(statistics.mean(r["best_roc_auc"] for r in rows), 4),
                      "best_roc_auc_per_seed": [round(r["best_roc_auc"], 4) for r in rows],
                      "trials_mean": round(statistics.mean(r["trials"] for r in rows), 1),
                      "pruned_mean": round(statistics.mean(r["pruned"] for r in rows), 1),
                      "epochs_trained_mean": round(statistics.mean(r["epochs_trained"] for r in rows), 1),
                      "epochs_saved_by_pruning_mean": round(statistics.mean(r["saved_by_pruning"] for r in rows), 3)}
             for method, rows in results.items()}
    print(f"{'':28}" + "".join(f"{method:>16}" for method in METHODS))
    for key in ("best_roc_auc_mean", "trials_mean", "pruned_mean", "epochs_trained_mean",
                "epochs_saved_by_pruning_mean"):
        print(f"{key:28}" + "".join(f"{table[method][key]:>16}" for method in METHODS))
    print(json.dumps({"budget_epochs": args.budget, "epochs_per_trial": args.epochs, "seeds": args.seeds,
                      "n_train": len(train), "n_val": len(val), "results": table, "studies": str(root)}, indent=1))


if __name__ == "__main__":
    main()
