"""The rip classifier: backbone features -> (water gate) -> global average pool -> linear head. It owns the
rip score and carries its preprocessing.

Because the head is linear after global average pooling, Grad-CAM for the rip score equals the
class-weighted sum of the last feature maps (CAM): ``outputs`` gives logits and that evidence map from one
forward pass (``ripdetect.explain.cam`` turns it into the CAM), which also survives ONNX/TorchScript export.

With ``water_head`` the model also predicts where the sea is (``WaterHead``, trained on masks where they
exist) and multiplies the feature map by that probability before pooling (``EvidenceGate``): rip evidence,
and so the decision, the map and the regions, can only come from the water. The gate is detached, so the
classification loss never teaches the water head to hide evidence.

A region of interest (a camera's water, drawn once by its operator) is the same kind of gate with a fixed map:
``outputs(x, evidence_mask=...)`` multiplies the feature map by the share of each feature cell inside the region
before pooling, so the logits, the evidence map and everything built on them come from the region alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ripdetect.config import ModelConfig
from ripdetect.errors import ConfigError
from ripdetect.models.preprocess import Preprocessing, resolve_model_config
from ripdetect.models.registry import get_backbone_spec

FEATURE_LAYER, GATE_LAYER = "features", "gate"


def rip_score(logits: torch.Tensor) -> torch.Tensor:
    """The rip evidence per image, as log-odds: ``logit_rip - logit_no_rip`` (2 logits) or the single logit.

    This is the one definition of the score: the probability, the CAM target and the thresholds all use it."""
    return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits[:, 0]


def rip_prob(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """p(rip) per image: the sigmoid of ``rip_score``, divided by the model's calibration ``temperature``."""
    return torch.sigmoid(rip_score(logits) / temperature)


class WaterHead(nn.Module):
    """Water logits at stride 16: a 1x1 conv on the last (semantic, stride-32) features, upsampled, plus a small
    conv branch on a stride-16 map for the horizon and the shoreline."""

    def __init__(self, channels: int, tap_channels: int):
        super().__init__()
        self.coarse = nn.Conv2d(channels, 1, 1)
        self.fine = nn.Sequential(nn.Conv2d(tap_channels, 32, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(32, 1, 1))

    def forward(self, feature_map: torch.Tensor, tap: torch.Tensor) -> torch.Tensor:
        coarse = self.coarse(feature_map)
        ratio = whole_ratio(tap.shape[-2:], coarse.shape[-2:])
        if ratio:  # the same sampling as size=, and an exported graph keeps its batch size free
            coarse = F.interpolate(coarse, scale_factor=ratio, mode="bilinear", align_corners=False)
        else:
            coarse = F.interpolate(coarse, size=tap.shape[-2:], mode="bilinear", align_corners=False)
        return (coarse + self.fine(tap))[:, 0]


def whole_ratio(larger, smaller) -> tuple[int, ...] | None:
    """``larger / smaller`` per dimension when every ratio is a whole number, else ``None``."""
    larger, smaller = [int(side) for side in larger], [int(side) for side in smaller]
    ratio = tuple(big // small for big, small in zip(larger, smaller))
    return ratio if [r * small for r, small in zip(ratio, smaller)] == larger else None


def gate_features(feature_map: torch.Tensor, weight_map: torch.Tensor) -> torch.Tensor:
    """``feature_map`` (B, C, h, w) times ``weight_map`` (B or 1, H, W; 0..1, any resolution at least the grid's)
    averaged over each feature cell: evidence kept in proportion to how much of the cell the map covers."""
    weights = weight_map[:, None].to(feature_map.dtype)
    ratio = whole_ratio(weights.shape[-2:], feature_map.shape[-2:])
    if ratio:  # the same windows as adaptive pooling, and it exports to ONNX with a free batch size
        return feature_map * F.avg_pool2d(weights, ratio)
    return feature_map * F.adaptive_avg_pool2d(weights, feature_map.shape[-2:])


class EvidenceGate(nn.Module):
    """Feature map times the (detached) water probability pooled to the feature grid; the CAM layer of a model
    with a water head."""

    def forward(self, feature_map: torch.Tensor, water_logits: torch.Tensor) -> torch.Tensor:
        return gate_features(feature_map, torch.sigmoid(water_logits.detach()))


@dataclass
class FrozenFeatures:
    """The output of a model's first ``stages_run`` stages (frozen, so it never changes during training) and the
    water head's tap when that stage was among them. ``RipClassifier.outputs`` takes it in place of images."""

    features: torch.Tensor
    tap: torch.Tensor | None
    stages_run: int


@dataclass
class ModelOutputs:
    """Everything one forward pass gives: logits, the signed rip evidence per position (gated, and before the
    gate), the water logits (``None`` without a water head) and, with an evidence mask, the logits of the whole
    frame (``whole_logits``: the same features pooled without the mask; otherwise the logits themselves)."""

    logits: torch.Tensor
    evidence: torch.Tensor
    raw_evidence: torch.Tensor
    water_logits: torch.Tensor | None
    whole_logits: torch.Tensor | None = None


class RipClassifier(nn.Module):
    """Binary rip classifier with either two logits (no_rip, rip) or one rip logit."""

    def __init__(self, features: nn.Module, channels: int, model_config: ModelConfig,
                 stages: list[nn.Module] | None = None, water_tap: tuple[int, int] | None = None):
        super().__init__()
        self.features = features
        if model_config.water_head:
            if water_tap is None or not stages:
                raise ConfigError(f"architecture {model_config.arch} has no stride-16 map for a water head")
            self.water = WaterHead(channels, water_tap[1])
            self.gate = EvidenceGate()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(model_config.dropout)
        self.head = nn.Linear(channels, model_config.num_classes)
        self.model_config = model_config
        self.preprocessing = Preprocessing.of(model_config)
        self.cam_layer = GATE_LAYER if model_config.water_head else FEATURE_LAYER
        self._water_tap = water_tap[0] if water_tap else None
        self._stages = stages or []
        self._frozen: list[nn.Module] = []

    def _features(self, x: torch.Tensor | FrozenFeatures) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The last feature map, and the water logits (running the stages one by one to tap the stride-16 map).
        ``x`` is an image batch, or the output of the frozen stages (``frozen_features``) to run the rest on."""
        if isinstance(x, FrozenFeatures):
            x, tap, start = x.features, x.tap, x.stages_run
        elif not self.model_config.water_head:
            return self.features(x), None
        else:
            tap, start = None, 0
        x, tap = self._run_stages(x, start, len(self._stages), tap)
        return x, self.water(x, tap) if self.model_config.water_head else None

    def _run_stages(self, x: torch.Tensor, start: int, end: int,
                    tap: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        for index in range(start, end):
            x = _run_stage(self._stages[index], x)
            if index == self._water_tap:
                tap = x
        return x, tap

    @property
    def frozen_stage_count(self) -> int:
        return len(self._frozen)

    @torch.no_grad()
    def frozen_features(self, x: torch.Tensor) -> FrozenFeatures:
        """The output of the frozen stages (and the water head's tap, if it lies among them): what the rest of the
        model needs, so training can compute it once per image and view (``ripdetect.training.feature_cache``)."""
        count = self.frozen_stage_count
        features, tap = self._run_stages(x, 0, count, None)
        return FrozenFeatures(features, tap if self.model_config.water_head else None, count)

    def _gated(self, feature_map: torch.Tensor, water_logits: torch.Tensor | None,
               evidence_mask: torch.Tensor | None) -> torch.Tensor:
        """The feature map the head pools: gated by the water (a water head) and by ``evidence_mask`` (a region of
        interest, (B or 1, H, W) in 0..1), when given."""
        if water_logits is not None:
            feature_map = self.gate(feature_map, water_logits)
        return feature_map if evidence_mask is None else gate_features(feature_map, evidence_mask)

    def outputs(self, x: torch.Tensor | FrozenFeatures, evidence_mask: torch.Tensor | None = None) -> ModelOutputs:
        feature_map, water_logits = self._features(x)
        gated = self._gated(feature_map, water_logits, evidence_mask)
        logits = self.head(self.dropout(torch.flatten(self.pool(gated), 1)))
        whole = logits
        if evidence_mask is not None:
            whole = self.head(self.dropout(torch.flatten(self.pool(self._gated(feature_map, water_logits, None)), 1)))
        weight = self.rip_head_weight()
        raw = torch.einsum("c,bchw->bhw", weight, feature_map)
        evidence = torch.einsum("c,bchw->bhw", weight, gated) if gated is not feature_map else raw
        return ModelOutputs(logits, evidence, raw, water_logits, whole)

    def forward(self, x: torch.Tensor | FrozenFeatures, evidence_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.dropout(self.pooled_features(x, evidence_mask)))

    def pooled_features(self, x: torch.Tensor | FrozenFeatures,
                        evidence_mask: torch.Tensor | None = None) -> torch.Tensor:
        """What the head sees: the (water- and ROI-gated) feature map averaged over positions, (B, C). A new head
        can be fitted on these alone (``ripdetect.cameras.adapt``)."""
        feature_map, water_logits = self._features(x)
        return torch.flatten(self.pool(self._gated(feature_map, water_logits, evidence_mask)), 1)

    def rip_head_weight(self) -> torch.Tensor:
        """Linear weights of ``rip_score`` over feature channels (C,)."""
        weight = self.head.weight
        return weight[1] - weight[0] if weight.shape[0] == 2 else weight[0]

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


def _run_stage(stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(stage, nn.ModuleList):
        for module in stage:
            x = module(x)
        return x
    return stage(x)


def create_model(model_config: ModelConfig, load_pretrained: bool = True) -> RipClassifier:
    """Build the classifier for ``model_config`` (resolved here: native input size, mean and std filled in);
    ``load_pretrained=False`` skips reading any weights file."""
    model_config = resolve_model_config(model_config)
    spec = get_backbone_spec(model_config.arch)
    pretrained = load_pretrained and model_config.pretrained
    backbone = spec.build(pretrained, model_config.weights_path if load_pretrained else None)
    model = RipClassifier(backbone.features, backbone.channels, model_config, backbone.stages, spec.water_tap)
    if model_config.freeze_stages:
        model.freeze_stages(model_config.freeze_stages)
    return model


def resolve_layer(model: nn.Module, name: str | nn.Module | None) -> nn.Module:
    """The module for a dotted name (``None`` -> the model's CAM layer), with a precise error."""
    if isinstance(name, nn.Module):
        return name
    name = name or getattr(model, "cam_layer", FEATURE_LAYER)
    modules = dict(model.named_modules())
    if name not in modules:
        close = [n for n in modules if n and (name in n or n.endswith(name.split(".")[-1]))][:5]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise ConfigError(f"no layer named '{name}' in the model{hint}")
    return modules[name]
