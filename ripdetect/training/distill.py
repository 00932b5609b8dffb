"""Knowledge distillation: a smaller or lower-resolution student learns from a trained teacher.

The loss of a batch is ``alpha * soft + (1 - alpha) * labels + cam_weight * map``:

- ``soft``: the student's outputs softened at temperature T against the teacher's (``soft_target_loss``);
- ``labels``: the usual classification loss (class weights, label smoothing);
- ``map``: the student's CAM against the teacher's (``cam_distillation_loss``), so the student also learns
  *where* the teacher sees the rip, and its regions stay close.

The teacher sees every augmented image at its own input size and the student the same image resized to its
size. The student starts from the teacher's weights when the architecture matches (a smaller-input
EfficientNet-Lite0 learns fast that way), otherwise from ImageNet weights. The run is finished like a trained
model: decision threshold on validation, metrics, CAM display scale, ``model.safetensors``.

    ripdetect distill --teacher ripdetect/weights/default.safetensors --student efficientnet_lite0 \\
        --input-size 160 --data synth/ --val-data train/splits/real_dev_val.csv --out runs/student160
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ripdetect.config import DistillConfig, TrainConfig, to_dict
from ripdetect.data.augment import TrainTransform
from ripdetect.data.layouts import Sample
from ripdetect.data.torch_dataset import ImageDataset, make_loader
from ripdetect.errors import CheckpointError, DataError
from ripdetect.files import write_json
from ripdetect.models.checkpoint import Checkpoint, save_checkpoint
from ripdetect.models.classifier import ModelOutputs, create_model, rip_prob
from ripdetect.models.preprocess import resolve_model_config
from ripdetect.training.engine import BEST_NAME, ProgressFn, score_samples
from ripdetect.training.finalise import finalise
from ripdetect.training.losses import LossFn, cam_distillation_loss, make_loss, soft_target_loss
from ripdetect.training.metrics import choose_threshold
from ripdetect.training.optim import make_optimizer
from ripdetect.training.run import CONFIG_NAME, check_run_dir

log = logging.getLogger(__name__)
WARMUP_SHARE = 0.05  # of the steps, with a linear warm-up before the cosine decay
STEPS_NAME = "steps.json"  # the loss of every step


def distillation_loss(student: ModelOutputs, teacher: ModelOutputs, labels: torch.Tensor, loss_fn: LossFn,
                      distill_config: DistillConfig) -> torch.Tensor:
    alpha = distill_config.alpha
    loss = alpha * soft_target_loss(student.logits, teacher.logits, distill_config.temperature)
    loss = loss + (1 - alpha) * loss_fn(student.logits, labels)
    if distill_config.cam_weight:
        weights = rip_prob(teacher.logits)
        loss = loss + distill_config.cam_weight * cam_distillation_loss(student.evidence, teacher.evidence, weights)
    return loss


def _student(teacher: Checkpoint, train_config: TrainConfig, distill_config: DistillConfig) -> torch.nn.Module:
    want, have = resolve_model_config(train_config.model), teacher.model_config
    if want.num_classes != have.num_classes:
        raise CheckpointError(f"the student has {want.num_classes} logit(s) and the teacher {have.num_classes}; "
                              "they must match", teacher.path)
    same = (want.arch, want.water_head) == (have.arch, have.water_head)
    student = create_model(want, load_pretrained=not (same and distill_config.init_from_teacher))
    if same and distill_config.init_from_teacher:
        student.load_state_dict(teacher.model.state_dict())  # convolutions do not care about the input size
    return student


def _set_lr(optimizer, base_lrs: list[float], step: int, steps: int) -> None:
    warmup = max(1, int(steps * WARMUP_SHARE))
    factor = (step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * (step - warmup) /
                                                                          max(steps - warmup, 1)))
    for group, base in zip(optimizer.param_groups, base_lrs):
        group["lr"] = base * factor


def distill(teacher: Checkpoint, train_samples: list[Sample], val_samples: list[Sample], train_config: TrainConfig,
            distill_config: DistillConfig, run_dir: str | Path, overwrite: bool = False,
            progress: ProgressFn | None = None) -> dict[str, Any]:
    """Train the student of ``train_config.model`` from ``teacher`` and finish it in ``run_dir``; returns
    ``model`` (path), ``threshold``, ``val_metrics``, ``steps`` and ``seconds``."""

    run_dir = Path(run_dir)
    check_run_dir(run_dir, resume=False, overwrite=overwrite)
    if not train_samples:
        raise DataError("no training images")
    student = _student(teacher, train_config, distill_config)
    train_config = dataclasses.replace(train_config, model=student.model_config)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / CONFIG_NAME, {**to_dict(train_config), "distillation": to_dict(distill_config),
                                       "teacher": teacher.path})
    teacher_model = teacher.model.eval().requires_grad_(False)
    transform = TrainTransform(teacher.model.preprocessing, train_config.augment, train_config.seed)
    loader = make_loader(ImageDataset(train_samples, transform), train_config.batch_size, train_config.num_workers,
                         train_config.seed, shuffle=True, balanced=train_config.imbalance == "balanced_sampler")
    loss_fn = make_loss(student.model_config, train_config, train_samples)
    optimizer = make_optimizer(student, train_config)
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    size = student.model_config.input_size
    steps, step, started, history, seen = distill_config.steps, 0, time.time(), [], 0
    student.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_config.seed)
        while step < steps:
            for batch in loader:
                if batch["images"] is None:
                    continue
                _set_lr(optimizer, base_lrs, step, steps)
                images = batch["images"]
                with torch.no_grad():
                    teacher_out = teacher_model.outputs(images)
                if images.shape[-1] != size:
                    images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True,
                                           align_corners=False)
                loss = distillation_loss(student.outputs(images), teacher_out, batch["labels"], loss_fn,
                                         distill_config)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step, seen = step + 1, seen + len(batch["labels"])
                history.append({"step": step, "loss": round(loss.item(), 5)})
                if progress:
                    progress("step", {"step": step, "steps": steps, "loss": loss.item()})
                if step >= steps:
                    break
            if not seen:
                raise DataError(f"none of the {len(train_samples)} training images could be read")
    write_json(run_dir / STEPS_NAME, history)
    threshold = _threshold(student, val_samples, train_config)
    extra = {"train_config": to_dict(train_config), "distillation": {**to_dict(distill_config),
             "teacher": teacher.model_id, "teacher_path": teacher.path}}
    save_checkpoint(run_dir / BEST_NAME, student, threshold, extra)
    model_path, metrics = finalise(run_dir, val_samples, train_samples, train_config.batch_size)
    return {"model": str(model_path), "threshold": threshold, "val_metrics": metrics, "steps": step,
            "seconds": round(time.time() - started, 1)}


def _threshold(student: torch.nn.Module, val_samples: list[Sample], train_config: TrainConfig) -> float:
    """The decision threshold chosen on validation as ``train`` does (0.5 without validation images)."""
    if not val_samples:
        return 0.5
    loader = make_loader(ImageDataset(val_samples, student.preprocessing), train_config.batch_size, 0, 0)
    scored = score_samples(student, loader)
    if not len(scored.labels):
        return 0.5
    return choose_threshold(scored.labels, scored.probs, train_config.threshold_mode, train_config.target_recall)
