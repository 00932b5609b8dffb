"""The model's own input transform (timm's data config, in small): one definition shared by training,
evaluation and inference. Training augments first and then calls ``normalise``; everything else calls
``Preprocessing.__call__``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from ripdetect.config import ModelConfig
from ripdetect.errors import ConfigError
from ripdetect.models.registry import get_backbone_spec


def resolve_model_config(model_config: ModelConfig) -> ModelConfig:
    """Fill the architecture's native input size and normalisation into ``model_config`` (given values win)."""
    spec = get_backbone_spec(model_config.arch)
    return dataclasses.replace(
        model_config,
        input_size=model_config.input_size or spec.input_size,
        mean=model_config.mean or spec.mean,
        std=model_config.std or spec.std,
        pretrained=model_config.pretrained and (spec.has_pretrained or model_config.weights_path is not None),
    )


@dataclass(frozen=True)
class Preprocessing:
    """Square resize to ``input_size`` and per-channel normalisation with ``mean``/``std`` (0..1 scale)."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def of(cls, model_config: ModelConfig) -> Preprocessing:
        """The preprocessing of a resolved ``model_config``; refuses unresolved ones (no NaNs downstream)."""
        if not model_config.is_resolved:
            raise ConfigError("model_config has no input size, mean or std; pass it through resolve_model_config")
        return cls(model_config.input_size, model_config.mean, model_config.std)

    def __call__(self, image_rgb: np.ndarray) -> torch.Tensor:
        """uint8 RGB ``HxWx3`` -> normalised float ``3xSxS`` tensor (area resize when shrinking)."""
        import cv2

        size = self.input_size
        interpolation = cv2.INTER_AREA if min(image_rgb.shape[:2]) > size else cv2.INTER_LINEAR
        return self.normalise(cv2.resize(image_rgb, (size, size), interpolation=interpolation))

    def normalise(self, image_rgb: np.ndarray) -> torch.Tensor:
        """uint8 RGB ``HxWx3`` (already at input size) -> normalised float ``3xHxW`` tensor."""
        mean = np.asarray(self.mean, dtype=np.float32) * 255.0
        std = np.asarray(self.std, dtype=np.float32) * 255.0
        array = (image_rgb.astype(np.float32) - mean) / std
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
