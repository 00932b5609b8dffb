"""The rip classifier: backbone features -> global average pool -> linear head. It owns the rip score and
carries its preprocessing.

Because the head is linear after global average pooling, Grad-CAM for the rip score equals the
class-weighted sum of the last feature maps (CAM). ``forward_with_cam`` returns logits and that map from
one forward pass, which also survives ONNX/TorchScript export.
"""

from __future__ import annotations

import torch
from torch import nn

from ripdetect.config import ModelConfig
from ripdetect.errors import ConfigError
from ripdetect.models.preprocess import Preprocessing, resolve_model_config

DEFAULT_CAM_LAYER = "features"


def rip_score(logits: torch.Tensor) -> torch.Tensor:
    """The rip evidence per image, as log-odds: ``logit_rip - logit_no_rip`` (2 logits) or the single logit.

    This is the one definition of the score: the probability, the CAM target and the thresholds all use it."""
    return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits[:, 0]


def rip_prob(logits: torch.Tensor) -> torch.Tensor:
    """p(rip) per image: the sigmoid of ``rip_score``."""
    return torch.sigmoid(rip_score(logits))


class RipClassifier(nn.Module):
    """Binary rip classifier with either two logits (no_rip, rip) or one rip logit."""

    def __init__(self, features: nn.Module, channels: int, model_config: ModelConfig,
                 stages: list[nn.Module] | None = None):
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(model_config.dropout)
        self.head = nn.Linear(channels, model_config.num_classes)
        self.model_config = model_config
        self.preprocessing = Preprocessing.of(model_config)
        self._stages = stages or []
        self._frozen: list[nn.Module] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(torch.flatten(self.pool(self.features(x)), 1)))

    def rip_head_weight(self) -> torch.Tensor:
        """Linear weights of ``rip_score`` over feature channels (C,)."""
        weight = self.head.weight
        return weight[1] - weight[0] if weight.shape[0] == 2 else weight[0]

    def forward_with_cam(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the raw Grad-CAM of the rip score at the feature layer, from one forward pass.

        The CAM is ``relu(sum_k w_k A_k) / (h*w)``: exactly autograd Grad-CAM for this head."""
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
        for stage in self._frozen:
            stage.eval()
        return self


def create_model(model_config: ModelConfig, load_pretrained: bool = True) -> RipClassifier:
    """Build the classifier for ``model_config`` (resolved here: native input size, mean and std filled in);
    ``load_pretrained=False`` skips reading any weights file."""
    from ripdetect.models.registry import get_backbone_spec

    model_config = resolve_model_config(model_config)
    spec = get_backbone_spec(model_config.arch)
    pretrained = load_pretrained and model_config.pretrained
    backbone = spec.build(pretrained, model_config.weights_path if load_pretrained else None)
    model = RipClassifier(backbone.features, backbone.channels, model_config, backbone.stages)
    if model_config.freeze_stages:
        model.freeze_stages(model_config.freeze_stages)
    return model


def resolve_layer(model: nn.Module, name: str | nn.Module | None) -> nn.Module:
    """The module for a dotted name (``None`` -> the default CAM layer), with a precise error."""
    if isinstance(name, nn.Module):
        return name
    name = name or DEFAULT_CAM_LAYER
    modules = dict(model.named_modules())
    if name not in modules:
        close = [n for n in modules if n and (name in n or n.endswith(name.split(".")[-1]))][:5]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise ConfigError(f"no layer named '{name}' in the model{hint}")
    return modules[name]
