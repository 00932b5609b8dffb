"""One trial: train the trial's config, report the objective after every epoch (so the pruner can stop it),
and keep a record of it in its own folder.

``OUT/trials/trial_NNNN/`` holds ``config.json`` (what ``ripdetect train --config`` takes), ``trial.json`` (the
parameters, seed, data hash, state, values, metrics and intermediate values) and ``run/``, the training run
or the cross-validation. A trial that raises is recorded as failed with its reason; the study goes on.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from ripdetect.config import to_dict
from ripdetect.errors import first_line
from ripdetect.files import write_json
from ripdetect.models.checkpoint import load_checkpoint
from ripdetect.training.crossval import cross_validate
from ripdetect.training.engine import LAST_NAME, TrainingInterrupted
from ripdetect.training.run import train_model
from ripdetect.training.tuning.plan import StudyPlan

log = logging.getLogger(__name__)
ProgressFn = Callable[[str, dict], None]
RECORD_NAME, CONFIG_NAME, RUN_NAME = "trial.json", "config.json", "run"
METRIC_KEYS = ("roc_auc", "f2", "f1", "balanced_accuracy", "brier", "accuracy", "precision", "recall", "n",
               "threshold")


class EpochReporter:
    """The progress callback of a trial's training: reports the first objective's metric after every epoch (step
    = epochs trained so far, across folds) and raises ``TrialPruned`` when the pruner says so, before the last
    epoch (Optuna's successive halving also judges the last rung, which would throw a finished trial away)."""

    def __init__(self, trial: optuna.Trial, plan: StudyPlan, progress: ProgressFn | None):
        self.trial, self.progress = trial, progress
        self.metric = plan.tune_config.objectives[0]
        self.reports = len(plan.tune_config.objectives) == 1  # Optuna prunes single-objective studies only
        self.epochs, self.fold, self.max_steps = plan.base_config.epochs, 0, plan.max_steps
        self.epochs_trained = 0
        self.intermediate: dict[int, float] = {}

    def __call__(self, event: str, info: dict) -> None:
        if self.progress:
            self.progress(event, {**info, "trial": self.trial.number})
        if event == "fold" and isinstance(info.get("fold"), int):
            self.fold = info["fold"] - 1
        if event != "epoch_end":
            return
        self.epochs_trained += 1
        value = (info.get("metrics") or {}).get(self.metric)
        if not self.reports or value is None or not math.isfinite(value):
            return
        step = self.fold * self.epochs + info["epoch"]
        self.intermediate[step] = float(value)
        self.trial.report(float(value), step)
        if step < self.max_steps and self.trial.should_prune():  # a trial that trained to the end is complete
            raise optuna.TrialPruned(f"pruned after {step} epoch(s) at {self.metric} {value:.4f}")


def run_trial(plan: StudyPlan, trial: optuna.Trial, progress: ProgressFn | None = None) -> list[float]:
    """Optuna's objective: the trial's objective values (KeyboardInterrupt marks it stopped, to run again)."""
    started = time.time()
    trial_dir = plan.trial_dir(trial.number)
    trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
    trial.set_user_attr("run_dir", str(trial_dir))
    params = plan.space.suggest(trial)
    record: dict[str, Any] = {"number": trial.number, "state": "running", "params": params,
                              "seed": plan.base_config.seed, "data_sha256": plan.data_sha256}
    reporter = EpochReporter(trial, plan, progress)

    def finish(state: str, **fields: Any) -> None:
        trial.set_user_attr("epochs_trained", reporter.epochs_trained)
        record.update(state=state, epochs_trained=reporter.epochs_trained, duration_s=round(time.time() - started, 1),
                      intermediate_values=reporter.intermediate, **fields)
        write_json(trial_dir / RECORD_NAME, record)

    trial_dir.mkdir(parents=True, exist_ok=True)
    write_json(trial_dir / RECORD_NAME, record)
    try:
        config = plan.trial_config(params)
        write_json(trial_dir / CONFIG_NAME, to_dict(config))
        metrics, model_path = _train(plan, config, trial_dir / RUN_NAME, reporter)
        values = objective_values(plan.tune_config.objectives, metrics, model_path)
    except optuna.TrialPruned as exc:
        finish("pruned", reason=str(exc))
        raise
    except (KeyboardInterrupt, TrainingInterrupted):
        trial.set_user_attr("stopped", True)
        trial.set_user_attr("fail_reason", "interrupted")
        finish("interrupted")
        raise KeyboardInterrupt from None
    except Exception as exc:  # any crash (out of memory, a bad combination) fails this trial only
        reason = f"{type(exc).__name__}: {first_line(exc)}"
        trial.set_user_attr("fail_reason", reason)
        finish("failed", reason=reason)
        log.warning("trial %d failed: %s", trial.number, reason)
        raise
    finish("complete", values=dict(zip(plan.tune_config.objectives, values)),
           metrics={key: metrics.get(key) for key in METRIC_KEYS if key in metrics})
    return values



def _train(plan: StudyPlan, config, run_dir: Path, reporter: EpochReporter) -> tuple[dict, Path]:
    """(metrics, a checkpoint of the trained model): the pooled out-of-fold metrics of the grouped
    cross-validation, or the finished model's validation metrics."""
    if plan.cross_validated:

        report = cross_validate(list(plan.real), list(plan.train), config, run_dir, folds=plan.folds, final=False,
                                progress=reporter)
        return report["overall"], run_dir / "fold_0" / LAST_NAME

    result = train_model(list(plan.train), list(plan.val), config, run_dir, progress=reporter)
    return result["val_metrics"], Path(result["model"])


def objective_values(objectives: tuple[str, ...], metrics: dict, model_path: Path) -> list[float]:
    values = []
    for name in objectives:
        value = measure_latency_ms(model_path) if name == "latency" else metrics.get(name)
        if value is None or not math.isfinite(value):
            raise ValueError(f"{name} is undefined on these validation images (are both classes there?)")
        values.append(float(value))
    return values


def measure_latency_ms(model_path: Path, repeats: int = 10) -> float:
    """Median milliseconds of one image through the model (batch 1, this process's threads, no CAM)."""
    import torch


    model = load_checkpoint(model_path).model.eval()
    size = model.preprocessing.input_size
    images = torch.zeros(1, 3, size, size)
    times = []
    with torch.inference_mode():
        for index in range(repeats + 2):
            started = time.perf_counter()
            model(images)
            if index >= 2:  # two warm-up runs
                times.append(time.perf_counter() - started)
    return round(1000 * sorted(times)[len(times) // 2], 3)
