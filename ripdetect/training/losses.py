"""Training losses: the classification loss (with class-imbalance weights) and the CAM localisation loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ripdetect.config import ModelConfig, TrainConfig
from ripdetect.data.layouts import Sample, class_counts

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_loss(model_config: ModelConfig, train_config: TrainConfig, train_samples: list[Sample]) -> LossFn:
    """Cross-entropy (2 logits) or BCE (1 logit) with label smoothing and, for ``weighted_loss``, class weights
    that make both classes count equally."""
    negatives, positives = class_counts(train_samples)
    weighted = train_config.imbalance == "weighted_loss"
    smooth = train_config.label_smoothing
    if model_config.num_classes == 1:
        pos_weight = torch.tensor([negatives / max(positives, 1)]) if weighted else None
        bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        return lambda logits, labels: bce(logits[:, 0], labels.float() * (1 - smooth) + smooth / 2)
    weight = torch.tensor([len(train_samples) / (2 * max(n, 1)) for n in (negatives, positives)]) if weighted else None
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=smooth)


def cam_mass_loss(evidence: torch.Tensor, masks: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Localisation supervision: ``-log`` of the share of the CAM's spatial softmax mass that falls inside
    the true rip region (masks at input resolution, pooled to the feature grid)."""
    height, width = evidence.shape[-2:]
    inside = torch.nn.functional.adaptive_avg_pool2d(masks[:, None], (height, width))[:, 0].flatten(1)
    attention = torch.softmax(evidence.flatten(1) / temperature, dim=1)
    return -torch.log((attention * (inside > 0.05).float()).sum(dim=1) + 1e-4).mean()
