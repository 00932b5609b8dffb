"""The train and evaluate loops, with explicit parameters (torchvision-references shape).

``fit`` trains with early stopping and writes ``best.safetensors``, ``last.safetensors``, ``log.csv``,
``history.json`` and the resumable state. Turning the best epoch into the finished model is
``ripdetect.training.finalise``; ``ripdetect.training.run.train_model`` does both.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ripdetect import records
from ripdetect.config import TrainConfig, to_dict
from ripdetect.data.layouts import Sample, manifest_hash
from ripdetect.errors import CheckpointError, ConfigError, DataError
from ripdetect.files import write_json, write_text
from ripdetect.models.checkpoint import load_checkpoint, save_checkpoint
from ripdetect.models.classifier import RipClassifier, create_model, rip_prob, rip_score
from ripdetect.records import write_csv
from ripdetect.training import distributed
from ripdetect.training.distributed import Workers
from ripdetect.training.feature_cache import FeatureCache
from ripdetect.training.loaders import EpochLoaders, epoch_inputs, is_progressive
from ripdetect.training.losses import LossFn, batch_loss, make_loss
from ripdetect.training.metrics import choose_threshold, classification_metrics, monitor_value
from ripdetect.training.optim import make_optimizer, set_epoch_lr
from ripdetect.training.resume import load_training_state, save_training_state

log = logging.getLogger(__name__)
ProgressFn = Callable[[str, dict], None]

BEST_NAME, LAST_NAME, FINAL_NAME = "best.safetensors", "last.safetensors", "model.safetensors"
LOG_NAME, HISTORY_NAME, VAL_SCORES_NAME = "log.csv", "history.json", "val_scores.jsonl"


class TrainingInterrupted(Exception):
    """Ctrl-C during training; the last finished epoch was saved and the run can be resumed."""


@dataclass
class ScoredSamples:
    """A model's outputs over a set of samples; ``indices`` point into that set (unreadable files are left out)."""

    labels: np.ndarray
    logits: np.ndarray
    indices: np.ndarray
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def scores(self) -> np.ndarray:
        """Rip scores (log-odds, uncalibrated)."""
        return rip_score(torch.from_numpy(self.logits)).numpy() if len(self.logits) else np.zeros(0)

    def probs_at(self, temperature: float = 1.0) -> np.ndarray:
        return rip_prob(torch.from_numpy(self.logits), temperature).numpy() if len(self.logits) else np.zeros(0)

    @property
    def probs(self) -> np.ndarray:
        return self.probs_at(1.0)


@dataclass
class FitResult:
    history: list[dict]
    bad_files: dict[str, str]


def train_one_epoch(model, loader, loss_fn: LossFn, optimizer, train_config: TrainConfig,
                    progress: ProgressFn | None = None,
                    workers: Workers | None = None) -> tuple[float, int, list[tuple[str, str]]]:
    """One pass over ``loader``; returns the mean loss, the images trained on and the unreadable files seen
    (over every rank). The loss is ``batch_loss``: classification plus the mask-based losses where masks exist.
    ``model`` is the classifier, or its ``DistributedModel`` among several processes."""
    workers = workers or Workers()
    model.train()
    total, count, errors = 0.0, 0, []
    max_steps = train_config.max_steps_per_epoch
    steps = len(loader) if not max_steps else min(max_steps, len(loader))
    for step, batch in enumerate(loader):
        if max_steps and step >= max_steps:
            break
        errors.extend(batch["errors"])
        if not distributed.all_ranks_agree(workers, batch["images"] is not None):
            continue  # ranks step together, so a batch with no readable image is skipped by all
        batch = _to_device(batch, workers.device)
        loss = batch_loss(model, batch, loss_fn, train_config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch["labels"])
        count += len(batch["labels"])
        if progress:
            progress("step", {"step": step + 1, "steps": steps, "loss": total / count})
    total, count = distributed.sum_over_ranks(workers, total, count)
    return total / max(count, 1), int(count), errors


def _to_device(batch: dict, device: torch.device) -> dict:
    if device.type == "cpu":
        return batch
    return {key: value.to(device, non_blocking=True) if isinstance(value, torch.Tensor) else value
            for key, value in batch.items()}


@torch.no_grad()
def score_samples(model: torch.nn.Module, loader, progress: ProgressFn | None = None) -> ScoredSamples:
    """Logits for every readable sample in ``loader`` (the model is put in eval mode)."""
    model.eval()
    device = next(model.parameters()).device
    labels, logits, indices, errors = [], [], [], []
    for step, batch in enumerate(loader):
        errors.extend(batch["errors"])
        if batch["images"] is not None:
            logits.append(model(batch["images"].to(device)).float().cpu().numpy())
            labels.append(batch["labels"].numpy())
            indices.append(batch["indices"].numpy())
        if progress:
            progress("eval_step", {"step": step + 1, "steps": len(loader)})
    labels_ = np.concatenate(labels).astype(int) if labels else np.zeros(0, int)
    logits_ = np.concatenate(logits) if logits else np.zeros((0, 2), np.float32)
    indices_ = np.concatenate(indices).astype(int) if indices else np.zeros(0, int)
    return ScoredSamples(labels_, logits_, indices_, errors)


def fit(train_samples: list[Sample], val_samples: list[Sample], train_config: TrainConfig, run_dir: str | Path,
        resume: bool = False, progress: ProgressFn | None = None, init_from: str | Path | None = None,
        select_on_val: bool = True, feature_cache=None) -> FitResult:
    """Train with early stopping on ``train_config.monitor``. Ctrl-C saves the last finished epoch and raises
    ``TrainingInterrupted``. Seeding is scoped to this call: the caller's random state is left as it was.

    With ``select_on_val=False`` the validation set is only scored (``val_scores.jsonl``, one line per epoch),
    never used to pick the epoch or stop early: ``best.safetensors`` is then the last epoch. Cross-validation
    uses this, so a held-out fold never chooses its own model.

    With ``feature_cache_views`` the frozen stages run once per training image and view
    (``ripdetect.training.feature_cache``); ``feature_cache`` is one built already, over a list that holds these
    training samples (a cross-validation builds one for all its folds).

    Under ``torchrun`` (``ripdetect.training.distributed``) every rank calls this with the same arguments; rank 0
    alone validates, reports ``progress`` and writes files, and the files are the same as from one process."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_config.seed)
        return _fit(train_samples, val_samples, train_config, run_dir, resume, progress, init_from, select_on_val,
                    feature_cache)


def _fit(train_samples, val_samples, train_config: TrainConfig, run_dir: Path, resume: bool,
         progress: ProgressFn | None, init_from, select_on_val: bool, feature_cache) -> FitResult:
    workers = distributed.current()
    progress = progress if workers.is_main else None
    model = create_model(train_config.model, load_pretrained=init_from is None)
    if init_from is not None:
        _load_initial_weights(model, init_from)
    model.to(workers.device)
    loss_fn = make_loss(model.model_config, train_config, train_samples, workers.device)
    optimizer = make_optimizer(model, train_config)
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    loaders = EpochLoaders(train_samples, val_samples, model.preprocessing, train_config, workers)
    cache, entries = feature_cache, None
    if train_config.feature_cache_views:
        if workers.is_distributed:
            raise ConfigError("--feature-cache-views trains in one process (each torchrun process would build and "
                              "train on the whole cache): run it without torchrun, or with --feature-cache-views 0")
        if cache is None:
            cache = FeatureCache(model, train_samples, model.preprocessing, train_config, progress)
        entries = cache.entries_of(train_samples)
    trainee = distributed.for_training(model, workers)
    history: list[dict] = []
    start_epoch, best_score, stale = 0, -math.inf, 0
    if resume:
        saved = load_training_state(run_dir, model, optimizer)
        start_epoch, best_score, stale, history = saved["epoch"], saved["best_score"], saved["stale"], saved["history"]
        log.info("resumed after epoch %d", start_epoch)
    writer = _tensorboard(run_dir) if train_config.tensorboard and workers.is_main else None
    extra = {"train_config": to_dict(train_config), "data_manifest_sha256": manifest_hash(train_samples + val_samples),
             "n_train": len(train_samples), "n_val": len(val_samples)}
    bad_files: dict[str, str] = {}
    try:
        for epoch in range(start_epoch, train_config.epochs):
            started = time.time()
            if progress:
                progress("epoch", {"epoch": epoch + 1, "epochs": train_config.epochs})
            set_epoch_lr(optimizer, base_lrs, epoch, train_config)
            train_loader, val_loader = loaders.for_epoch(epoch_inputs(train_config, epoch,
                                                                      model.preprocessing.input_size), epoch)
            if cache is not None:
                train_loader = cache.epoch(epoch, train_config.seed, train_config.batch_size,
                                           train_config.imbalance == "balanced_sampler", entries)
            train_loss, seen, errors = train_one_epoch(trainee, train_loader, loss_fn, optimizer, train_config,
                                                       progress, workers)
            if cache is not None and epoch == start_epoch:
                errors += cache.errors
            if not seen:
                raise DataError(f"none of the {len(train_samples)} training images could be read "
                                f"(first: {errors[0][0]}: {errors[0][1]})" if errors else "no training images")
            row = {"epoch": epoch + 1, "train_loss": records.prob(train_loss), "lr": optimizer.param_groups[0]["lr"]}
            threshold, metrics = 0.5, {}
            if val_loader is not None:
                scored = score_samples(model, val_loader)
                errors += scored.errors
                if len(scored.labels):
                    threshold = choose_threshold(scored.labels, scored.probs, train_config.threshold_mode,
                                                 train_config.target_recall)
                    metrics = classification_metrics(scored.labels, scored.probs, threshold)
                    row["val_loss"] = records.prob(loss_fn(torch.from_numpy(scored.logits).to(workers.device),
                                                           torch.from_numpy(scored.labels).to(workers.device)))
                    row.update({k: metrics[k] for k in ("accuracy", "balanced_accuracy", "f1", "roc_auc")})
                    _append_val_scores(run_dir, epoch + 1, val_samples, scored)
            row["threshold"] = threshold
            row["seconds"] = records.tenths(time.time() - started)
            bad_files.update(dict(errors))
            history.append(row)
            score = monitor_value(metrics, train_config.monitor) if metrics and select_on_val else float(epoch)
            improved = score > best_score and not is_progressive(train_config, epoch)
            if improved:
                best_score, stale = score, 0
            elif not is_progressive(train_config, epoch):
                stale += 1
            if workers.is_main:
                _save_epoch(run_dir, model, optimizer, history, threshold, extra, metrics, improved,
                            {"epoch": epoch + 1, "best_score": best_score, "stale": stale, "history": history}, writer)
            if progress:
                progress("epoch_end", {**row, "improved": improved, "monitor": score, "metrics": metrics})
            stop = bool(select_on_val and train_config.patience and stale >= train_config.patience)
            if distributed.from_main(workers, stop):
                log.info("early stopping after epoch %d", epoch + 1)
                break
    except KeyboardInterrupt:
        raise TrainingInterrupted(f"training interrupted; the last finished epoch is saved. Resume with: "
                                  f"ripdetect train --resume --out {run_dir}") from None
    finally:
        if writer:
            writer.close()
    return FitResult(history, bad_files)


def _save_epoch(run_dir: Path, model: RipClassifier, optimizer, history: list[dict], threshold: float, extra: dict,
                metrics: dict, improved: bool, progress: dict, writer) -> None:
    """The files of one finished epoch: log, best and last checkpoints, the resumable state, TensorBoard."""
    _write_log(run_dir, history)
    row = history[-1]
    if writer:
        for key, value in row.items():
            if isinstance(value, (int, float)):
                writer.add_scalar(key, value, row["epoch"])
    if improved:
        save_checkpoint(run_dir / BEST_NAME, model, threshold, {**extra, "metrics": metrics, "epoch": row["epoch"]})
    save_checkpoint(run_dir / LAST_NAME, model, threshold, {**extra, "epoch": row["epoch"]})
    save_training_state(run_dir, model, optimizer, progress)


def _load_initial_weights(model: RipClassifier, init_from: str | Path) -> None:
    """Start from another ripdetect checkpoint of the same architecture (fine-tuning on your own beach)."""

    source = load_checkpoint(init_from)
    have, want = source.model_config, model.model_config
    if (have.arch, have.num_classes) != (want.arch, want.num_classes):
        raise CheckpointError(f"--init-from is {have.arch} with {have.num_classes} logit(s); this run is "
                              f"{want.arch} with {want.num_classes}", init_from)
    model.load_state_dict(source.model.state_dict())
    log.info("initialised from %s", init_from)


def _append_val_scores(run_dir: Path, epoch: int, val_samples: list[Sample], scored: ScoredSamples) -> None:
    """One JSON line per epoch: the rip score of every validation image, for pooling across folds."""
    line = json.dumps({"epoch": epoch, "scores": {val_samples[i].path: round(float(s), 6)
                                                  for i, s in zip(scored.indices, scored.scores)}})
    path = run_dir / VAL_SCORES_NAME
    kept = [row for row in (path.read_text().splitlines() if path.exists() else [])
            if json.loads(row)["epoch"] < epoch]  # a resumed run rewrites the epochs it redoes
    write_text(path, "\n".join(kept + [line]) + "\n")


def _write_log(run_dir: Path, history: list[dict]) -> None:
    """``log.csv`` and ``history.json``, rewritten whole after every epoch (a resumed run never duplicates rows)."""
    write_csv(run_dir / LOG_NAME, history, list(dict.fromkeys(key for row in history for key in row)))
    write_json(run_dir / HISTORY_NAME, history)


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning("tensorboard is not installed (pip install 'ripdetect[tensorboard]'); skipping it")
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))
