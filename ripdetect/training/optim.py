"""Optimiser (AdamW, a lower learning rate for the backbone) and the warm-up + cosine/step schedule."""

from __future__ import annotations

import math

import torch

from ripdetect.config import TrainConfig


def make_optimizer(model: torch.nn.Module, train_config: TrainConfig) -> torch.optim.Optimizer:
    head = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("head")]
    backbone = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head")]
    groups = [{"params": head, "lr": train_config.lr}]
    if backbone and train_config.backbone_lr_scale > 0:
        groups.append({"params": backbone, "lr": train_config.lr * train_config.backbone_lr_scale})
    return torch.optim.AdamW(groups, weight_decay=train_config.weight_decay)


def lr_factor(epoch: int, train_config: TrainConfig) -> float:
    """The learning-rate multiplier of ``epoch`` (0-based): linear warm-up, then cosine, step or constant."""
    epochs, warmup = train_config.epochs, train_config.warmup_epochs
    if epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    if train_config.scheduler == "cosine":
        return 0.5 * (1 + math.cos(math.pi * (epoch - warmup) / max(epochs - warmup, 1)))
    if train_config.scheduler == "step":
        return 0.1 ** ((epoch - warmup) // max(epochs // 3, 1))
    return 1.0


def set_epoch_lr(optimizer: torch.optim.Optimizer, base_lrs: list[float], epoch: int,
                 train_config: TrainConfig) -> None:
    """Set every group's learning rate for ``epoch``: stateless, so a resumed run needs only the epoch number."""
    factor = lr_factor(epoch, train_config)
    for group, base in zip(optimizer.param_groups, base_lrs):
        group["lr"] = base * factor
