"""Backbone builders: each returns a ``Backbone`` (feature extractor image -> BxCxhxw, its channels, its stages).

torchvision MobileNetV3 and ResNet18 start from scratch or from a user-supplied weights file (no weights are
downloaded at run time); ``tiny_cnn`` is for tests. EfficientNet-Lite lives in ``efficientnet_lite``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from torch import nn

from ripdetect.models.weights import load_user_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backbone:
    """A built feature extractor, its output channels and its stages (for freezing)."""

    features: nn.Module
    channels: int
    stages: list[nn.Module]


def _mobilenet_v3(size: str):
    def build(pretrained: bool, weights_path: str | None) -> Backbone:
        import torchvision

        model = getattr(torchvision.models, f"mobilenet_v3_{size}")(weights=None)
        if weights_path:
            load_user_weights(model, weights_path)
        elif pretrained:
            log.warning("mobilenet_v3_%s has no offline ImageNet weights; training from scratch", size)
        features = model.features
        return Backbone(features, features[-1].out_channels, list(features))

    return build


def _resnet18(pretrained: bool, weights_path: str | None) -> Backbone:
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    if weights_path:
        load_user_weights(model, weights_path)
    elif pretrained:
        log.warning("resnet18 has no offline ImageNet weights; training from scratch")
    stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
    stages = [stem, model.layer1, model.layer2, model.layer3, model.layer4]
    return Backbone(nn.Sequential(*stages), 512, stages)


TORCHVISION_BUILDERS = {"mobilenet_v3_small": _mobilenet_v3("small"), "mobilenet_v3_large": _mobilenet_v3("large"),
                        "resnet18": _resnet18}


def build_tiny_cnn(weights_path: str | None) -> Backbone:
    """Three stride-2 conv blocks (8, 16, 32 channels): a model small enough for tests."""

    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    stages = [block(3, 8), block(8, 16), block(16, 32)]
    features = nn.Sequential(*stages)
    if weights_path:
        load_user_weights(features, weights_path)
    return Backbone(features, 32, stages)
