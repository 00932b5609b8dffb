"""The rip classifier: backbone features -> global average pool -> linear head.

Because the head is linear after global average pooling, Grad-CAM for the rip score equals the
class-weighted sum of the last feature maps (CAM). ``forward_with_cam`` returns logits and that
map from one forward pass, which also survives ONNX/TorchScript export.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ripdetect.backbones import get_backbone_spec
from ripdetect.config import ModelConfig

DEFAULT_CAM_LAYER = "features"


class RipClassifier(nn.Module):
    """Binary rip classifier with either two logits (no_rip, rip) or one rip logit."""

    def __init__(self, features: nn.Module, channels: int, num_classes: int = 2, dropout: float = 0.0,
                 stages: list[nn.Module] | None = None):
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels, num_classes)
        self._stages = stages or []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(torch.flatten(self.pool(self.features(x)), 1)))

    def rip_score(self, logits: torch.Tensor) -> torch.Tensor:
        """The scalar rip evidence per image: the rip log-odds (logit_rip - logit_no_rip, or the single logit)."""
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits[:, 0]

    def rip_prob(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.rip_score(logits))

    def rip_head_weight(self) -> torch.Tensor:
        """Linear weights of ``rip_score`` over feature channels (C,)."""
        weight = self.head.weight
        return weight[1] - weight[0] if weight.shape[0] == 2 else weight[0]

    def forward_with_cam(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the raw Grad-CAM of the rip score at the feature layer, from one forward pass.

        The CAM is ``relu(sum_k w_k A_k) / (h*w)``: exactly autograd Grad-CAM for this head.
        """
        logits, evidence = self.forward_with_evidence(x)
        height, width = evidence.shape[-2:]
        return logits, torch.relu(evidence) / (height * width)

    def forward_with_evidence(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the signed per-position rip evidence ``sum_k w_k A_k`` (B, h, w); its spatial mean
        plus the head bias is the rip score."""
        feature_map = self.features(x)
        logits = self.head(self.dropout(torch.flatten(self.pool(feature_map), 1)))
        return logits, torch.einsum("c,bchw->bhw", self.rip_head_weight(), feature_map)

    def freeze_stages(self, count: int) -> None:
        """Freeze the first ``count`` backbone stages (weights and BatchNorm statistics)."""
        for stage in self._stages[:count]:
            for param in stage.parameters():
                param.requires_grad_(False)
        self._frozen = self._stages[:count]

    def train(self, mode: bool = True) -> RipClassifier:
        super().train(mode)
        for stage in getattr(self, "_frozen", []):
            stage.eval()
        return self


def resolve_model_config(model_config: ModelConfig) -> ModelConfig:
    """Fill the architecture's default preprocessing (mean/std) into the config."""
    spec = get_backbone_spec(model_config.arch)
    return dataclasses.replace(
        model_config,
        mean=model_config.mean or spec.mean,
        std=model_config.std or spec.std,
        pretrained=model_config.pretrained and (spec.has_pretrained or model_config.weights_path is not None),
    )


def create_model(model_config: ModelConfig, load_pretrained: bool = True) -> RipClassifier:
    """Build the classifier for ``model_config``; ``load_pretrained=False`` skips reading any weights file."""
    spec = get_backbone_spec(model_config.arch)
    pretrained = load_pretrained and model_config.pretrained
    backbone = spec.build(pretrained, model_config.weights_path if load_pretrained else None)
    model = RipClassifier(backbone.features, backbone.channels, model_config.num_classes, model_config.dropout,
                          backbone.stages)
    if model_config.freeze_stages:
        model.freeze_stages(model_config.freeze_stages)
    return model


def resolve_layer(model: nn.Module, name: str | nn.Module | None) -> nn.Module:
    """The module for a dotted name (``None`` -> the default CAM layer), with a precise error."""
    from ripdetect.errors import ConfigError

    if isinstance(name, nn.Module):
        return name
    name = name or DEFAULT_CAM_LAYER
    modules = dict(model.named_modules())
    if name not in modules:
        close = [n for n in modules if n and (name in n or n.endswith(name.split(".")[-1]))][:5]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise ConfigError(f"no layer named '{name}' in the model{hint}")
    return modules[name]
