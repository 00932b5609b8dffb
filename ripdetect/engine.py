"""Train and evaluate loops with explicit parameters (torchvision-references shape)."""

from __future__ import annotations

import csv
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ripdetect.augment import EvalTransform, TrainTransform
from ripdetect.checkpoint import save_checkpoint
from ripdetect.config import TrainConfig, to_dict
from ripdetect.data import Sample, class_counts, manifest_hash
from ripdetect.dataset import ImageDataset, make_loader
from ripdetect.metrics import choose_threshold, classification_metrics, monitor_value
from ripdetect.model import RipClassifier, create_model, resolve_model_config

log = logging.getLogger(__name__)
ProgressFn = Callable[[str, dict], None]

BEST_NAME, LAST_NAME, STATE_NAME, FINAL_NAME = "best.safetensors", "last.safetensors", "last_state.pt", "model.safetensors"


class TrainingInterrupted(Exception):
    """Ctrl-C during training; the last checkpoint was saved and the run can be resumed."""


@dataclass
class Predictions:
    labels: np.ndarray
    probs: np.ndarray
    indices: np.ndarray
    errors: list[tuple[str, str]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_loss(model_config, train_config: TrainConfig, train_samples: list[Sample]) -> nn.Module:
    negatives, positives = class_counts(train_samples)
    weighted = train_config.imbalance == "weighted_loss"
    if model_config.num_classes == 1:
        pos_weight = torch.tensor([negatives / max(positives, 1)]) if weighted else None
        bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        smooth = train_config.label_smoothing
        return lambda logits, labels: bce(logits[:, 0], labels.float() * (1 - smooth) + smooth / 2)
    weight = torch.tensor([len(train_samples) / (2 * max(n, 1)) for n in (negatives, positives)]) if weighted else None
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=train_config.label_smoothing)


def make_optimizer(model: RipClassifier, train_config: TrainConfig) -> torch.optim.Optimizer:
    head = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("head")]
    backbone = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head")]
    groups = [{"params": head, "lr": train_config.lr}]
    if backbone and train_config.backbone_lr_scale > 0:
        groups.append({"params": backbone, "lr": train_config.lr * train_config.backbone_lr_scale})
    return torch.optim.AdamW(groups, weight_decay=train_config.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, train_config: TrainConfig):
    epochs, warmup = train_config.epochs, train_config.warmup_epochs

    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        if train_config.scheduler == "cosine":
            return 0.5 * (1 + math.cos(math.pi * (epoch - warmup) / max(epochs - warmup, 1)))
        if train_config.scheduler == "step":
            return 0.1 ** ((epoch - warmup) // max(epochs // 3, 1))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def cam_mass_loss(evidence: torch.Tensor, masks: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Localisation supervision: ``-log`` of the share of the CAM's spatial softmax mass that falls inside
    the true rip region (masks at input resolution, pooled to the feature grid)."""
    height, width = evidence.shape[-2:]
    inside = torch.nn.functional.adaptive_avg_pool2d(masks[:, None], (height, width))[:, 0].flatten(1)
    attention = torch.softmax(evidence.flatten(1) / temperature, dim=1)
    return -torch.log((attention * (inside > 0.05).float()).sum(dim=1) + 1e-4).mean()


def train_one_epoch(model: RipClassifier, loader, loss_fn, optimizer, max_steps: int = 0,
                    progress: ProgressFn | None = None, cam_loss_weight: float = 0.0,
                    cam_loss_temperature: float = 1.0) -> tuple[float, list[tuple[str, str]]]:
    """One pass over ``loader``; returns the mean loss and the unreadable files seen. With ``cam_loss_weight``,
    rip images that carry a region mask also pull their CAM into the region (``cam_mass_loss``)."""
    model.train()
    total, count, errors = 0.0, 0, []
    steps = len(loader) if not max_steps else min(max_steps, len(loader))
    for step, batch in enumerate(loader):
        if max_steps and step >= max_steps:
            break
        errors.extend(batch["errors"])
        if batch["images"] is None:
            continue
        supervised = batch["has_mask"] & (batch["labels"] == 1) if cam_loss_weight else None
        if supervised is not None and supervised.any():
            logits, evidence = model.forward_with_evidence(batch["images"])
            loss = loss_fn(logits, batch["labels"]) + cam_loss_weight * cam_mass_loss(
                evidence[supervised], batch["masks"][supervised], cam_loss_temperature)
        else:
            loss = loss_fn(model(batch["images"]), batch["labels"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch["labels"])
        count += len(batch["labels"])
        if progress:
            progress("step", {"step": step + 1, "steps": steps, "loss": total / count})
    return total / max(count, 1), errors


@torch.no_grad()
def predict_probs(model: RipClassifier, loader, progress: ProgressFn | None = None) -> Predictions:
    """Rip probabilities for every readable sample in ``loader``."""
    model.eval()
    labels, probs, indices, errors = [], [], [], []
    for step, batch in enumerate(loader):
        errors.extend(batch["errors"])
        if batch["images"] is not None:
            probs.append(model.rip_prob(model(batch["images"])).numpy())
            labels.append(batch["labels"].numpy())
            indices.append(batch["indices"].numpy())
        if progress:
            progress("eval_step", {"step": step + 1, "steps": len(loader)})
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    return Predictions(cat(labels, int), cat(probs, float), cat(indices, int), errors)


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def fit(train_samples: list[Sample], val_samples: list[Sample], train_config: TrainConfig, run_dir: str | Path,
        resume: bool = False, progress: ProgressFn | None = None, init_from: str | Path | None = None) -> dict:
    """Train with early stopping; writes best/last checkpoints, ``log.csv``, ``history.json`` and returns
    the final validation metrics. Ctrl-C saves a resumable state and raises ``TrainingInterrupted``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(train_config.seed)
    model_config = resolve_model_config(train_config.model)
    model = create_model(model_config, load_pretrained=init_from is None)
    if init_from is not None:
        _load_initial_weights(model, model_config, init_from)
    loss_fn = make_loss(model_config, train_config, train_samples)
    optimizer = make_optimizer(model, train_config)
    scheduler = make_scheduler(optimizer, train_config)
    train_loader = make_loader(
        ImageDataset(train_samples, TrainTransform(model_config, train_config.augment, train_config.seed),
                     with_masks=train_config.cam_loss_weight > 0),
        train_config.batch_size, train_config.num_workers, train_config.seed, shuffle=True,
        balanced=train_config.imbalance == "balanced_sampler")
    val_loader = make_loader(ImageDataset(val_samples, EvalTransform(model_config)), train_config.batch_size,
                             train_config.num_workers, train_config.seed) if val_samples else None
    history: list[dict] = []
    start_epoch, best_score, stale = 0, -math.inf, 0
    if resume and (run_dir / STATE_NAME).is_file():
        state = torch.load(run_dir / STATE_NAME, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, best_score, stale = state["epoch"] + 1, state["best_score"], state["stale"]
        history = json.loads((run_dir / "history.json").read_text()) if (run_dir / "history.json").exists() else []
        log.info("resumed from epoch %d", start_epoch)
    writer = _tensorboard(run_dir) if train_config.tensorboard else None
    extra = {"train_config": to_dict(train_config), "data_manifest_sha256": manifest_hash(train_samples + val_samples),
             "n_train": len(train_samples), "n_val": len(val_samples)}
    bad_files: dict[str, str] = {}
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, train_config.epochs):
            started = time.time()
            if progress:
                progress("epoch", {"epoch": epoch + 1, "epochs": train_config.epochs})
            train_loss, errors = train_one_epoch(model, train_loader, loss_fn, optimizer,
                                                 train_config.max_steps_per_epoch, progress,
                                                 train_config.cam_loss_weight, train_config.cam_loss_temperature)
            scheduler.step()
            row = {"epoch": epoch + 1, "train_loss": round(train_loss, 5), "lr": optimizer.param_groups[0]["lr"]}
            threshold, metrics = 0.5, {}
            if val_loader is not None:
                preds = predict_probs(model, val_loader)
                errors += preds.errors
                threshold = choose_threshold(preds.labels, preds.probs, train_config.threshold_mode,
                                             train_config.target_recall)
                metrics = classification_metrics(preds.labels, preds.probs, threshold)
                with torch.no_grad():
                    row["val_loss"] = round(float(loss_fn(_logits_from_probs(preds.probs, model_config.num_classes),
                                                          torch.as_tensor(preds.labels))), 5)
                row.update({k: metrics[k] for k in ("accuracy", "balanced_accuracy", "f1", "roc_auc")})
            row["threshold"] = threshold
            row["seconds"] = round(time.time() - started, 1)
            bad_files.update(dict(errors))
            history.append(row)
            _append_csv(run_dir / "log.csv", row)
            if writer:
                for key, value in row.items():
                    if isinstance(value, (int, float)) and value is not None:
                        writer.add_scalar(key, value, epoch + 1)
            score = monitor_value(metrics, train_config.monitor) if metrics else -train_loss
            improved = score > best_score
            if improved:
                best_score, stale = score, 0
                save_checkpoint(run_dir / BEST_NAME, model, model_config, threshold,
                                {**extra, "metrics": metrics, "epoch": epoch + 1})
            else:
                stale += 1
            _save_state(run_dir, model, model_config, optimizer, scheduler, epoch, best_score, stale, history, extra)
            if progress:
                progress("epoch_end", {**row, "improved": improved})
            if train_config.patience and stale >= train_config.patience:
                log.info("early stopping after epoch %d", epoch + 1)
                break
    except KeyboardInterrupt:
        _save_state(run_dir, model, model_config, optimizer, scheduler, epoch - 1, best_score, stale, history, extra)
        raise TrainingInterrupted(f"training interrupted; resume with: ripdetect train --resume --out {run_dir}") from None
    finally:
        if writer:
            writer.close()
    return {"history": history, "bad_files": bad_files}


def _load_initial_weights(model: RipClassifier, model_config, init_from: str | Path) -> None:
    """Start from another ripdetect checkpoint of the same architecture (fine-tuning on your own beach)."""
    from ripdetect.checkpoint import load_checkpoint
    from ripdetect.errors import CheckpointError

    source = load_checkpoint(init_from)
    if (source.model_config.arch, source.model_config.num_classes) != (model_config.arch, model_config.num_classes):
        raise CheckpointError(f"--init-from is {source.model_config.arch} with {source.model_config.num_classes} "
                              f"logit(s); this run is {model_config.arch} with {model_config.num_classes}", init_from)
    model.load_state_dict(source.model.state_dict())
    log.info("initialised from %s", init_from)


def _logits_from_probs(probs: np.ndarray, num_classes: int) -> torch.Tensor:
    logit = torch.logit(torch.as_tensor(probs, dtype=torch.float32).clamp(1e-6, 1 - 1e-6))
    return logit[:, None] if num_classes == 1 else torch.stack([torch.zeros_like(logit), logit], dim=1)


def _save_state(run_dir: Path, model, model_config, optimizer, scheduler, epoch: int, best_score: float, stale: int,
                history: list[dict], extra: dict) -> None:
    save_checkpoint(run_dir / LAST_NAME, model, model_config, history[-1]["threshold"] if history else 0.5,
                    {**extra, "epoch": epoch + 1})
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "epoch": epoch, "best_score": best_score, "stale": stale}
    tmp = run_dir / (STATE_NAME + ".tmp")
    torch.save(state, tmp)
    tmp.replace(run_dir / STATE_NAME)
    (run_dir / "history.json").write_text(json.dumps(history, indent=1))


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning("tensorboard is not installed (pip install 'ripdetect[tensorboard]'); skipping it")
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))
