"""Training losses: the classification loss (with class-imbalance weights), the CAM localisation loss, and the
distillation losses (soft targets, and the teacher's map)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ripdetect.config import ModelConfig, TrainConfig
from ripdetect.data.layouts import Sample, class_counts

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_loss(model_config: ModelConfig, train_config: TrainConfig, train_samples: list[Sample],
              device: torch.device | str = "cpu") -> LossFn:
    """Cross-entropy (2 logits) or BCE (1 logit) with label smoothing and, for ``weighted_loss``, class weights
    that make both classes count equally (on ``device``, where the logits are)."""
    negatives, positives = class_counts(train_samples)
    weighted = train_config.imbalance == "weighted_loss"
    smooth = train_config.label_smoothing
    if model_config.num_classes == 1:
        pos_weight = torch.tensor([negatives / max(positives, 1)], device=device) if weighted else None
        bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        return lambda logits, labels: bce(logits[:, 0], labels.float() * (1 - smooth) + smooth / 2)
    weight = (torch.tensor([len(train_samples) / (2 * max(n, 1)) for n in (negatives, positives)], device=device)
              if weighted else None)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=smooth)


def cam_mass_loss(evidence: torch.Tensor, masks: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``-log`` of the share of the CAM's spatial softmax mass that falls inside ``masks`` (at input resolution,
    pooled to the feature grid). With rip masks it pulls the map into the rip; with water masks it pushes the
    evidence off the sky and the land."""
    height, width = evidence.shape[-2:]
    inside = torch.nn.functional.adaptive_avg_pool2d(masks[:, None], (height, width))[:, 0].flatten(1)
    attention = torch.softmax(evidence.flatten(1) / temperature, dim=1)
    return -torch.log((attention * (inside > 0.05).float()).sum(dim=1) + 1e-4).mean()


def water_loss(water_logits: torch.Tensor, water_masks: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the water logits against the share of water in each cell of their grid."""
    target = torch.nn.functional.adaptive_avg_pool2d(water_masks[:, None], water_logits.shape[-2:])[:, 0]
    return torch.nn.functional.binary_cross_entropy_with_logits(water_logits, target)


def batch_loss(model, batch: dict, loss_fn: LossFn, train_config: TrainConfig) -> torch.Tensor:
    """The training loss of one batch: classification, plus (where the batch has the masks) the rip localisation
    loss, the water head's segmentation loss and the out-of-water evidence penalty."""
    images, labels = batch["images"], batch["labels"]
    rips = batch["has_mask"] & (labels == 1) if train_config.cam_loss_weight else None
    has_water = batch["has_water"]
    water_head = getattr(model.model_config, "water_head", False)
    wants_water = has_water.any() and (water_head or train_config.water_cam_loss_weight > 0)
    if not wants_water and (rips is None or not rips.any()):
        return loss_fn(model(images), labels)
    out = model.outputs(images)
    loss = loss_fn(out.logits, labels)
    temperature = train_config.cam_loss_temperature
    if rips is not None and rips.any():
        loss = loss + train_config.cam_loss_weight * cam_mass_loss(out.raw_evidence[rips], batch["masks"][rips],
                                                                   temperature)
    if has_water.any():
        if out.water_logits is not None:
            loss = loss + train_config.water_loss_weight * water_loss(out.water_logits[has_water],
                                                                      batch["water"][has_water])
        if train_config.water_cam_loss_weight:
            loss = loss + train_config.water_cam_loss_weight * cam_mass_loss(
                out.raw_evidence[has_water], batch["water"][has_water], temperature)
    return loss


def soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton et al.'s distillation loss: the divergence of the student's softened outputs from the teacher's at
    ``temperature``, scaled by its square so its gradients keep their size as the temperature changes."""
    functional = torch.nn.functional
    if student_logits.shape[1] == 1:
        target = torch.sigmoid(teacher_logits[:, 0] / temperature)
        loss = functional.binary_cross_entropy_with_logits(student_logits[:, 0] / temperature, target)
    else:
        loss = functional.kl_div(functional.log_softmax(student_logits / temperature, dim=1),
                                 functional.softmax(teacher_logits / temperature, dim=1), reduction="batchmean")
    return loss * temperature ** 2


def cam_distillation_loss(student_evidence: torch.Tensor, teacher_evidence: torch.Tensor, weights: torch.Tensor,
                          temperature: float = 1.0) -> torch.Tensor:
    """The student's map matches the teacher's: cross-entropy of the student's spatial softmax against the
    teacher's CAM (its positive evidence, pooled to the student's grid and normalised), weighted per image
    (by the teacher's rip probability: a no-rip image's map says little)."""
    target = torch.relu(teacher_evidence)[:, None]
    target = torch.nn.functional.adaptive_avg_pool2d(target, student_evidence.shape[-2:])[:, 0].flatten(1)
    total = target.sum(dim=1)
    keep = total > 0
    if not keep.any():
        return student_evidence.sum() * 0.0
    target = target[keep] / total[keep, None]
    log_attention = torch.log_softmax(student_evidence[keep].flatten(1) / temperature, dim=1)
    per_image = -(target * log_attention).sum(dim=1)
    return (per_image * weights[keep]).sum() / weights[keep].sum().clamp(min=1e-6)
