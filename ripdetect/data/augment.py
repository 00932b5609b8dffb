"""The training augmentation pipeline (albumentations 2.0): geometric, photometric, weather and noise, with a
seeded generator, followed by the model's own normalisation (``ripdetect.models.preprocess``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ripdetect.config import AugmentConfig
from ripdetect.models.preprocess import Preprocessing


def _span(low: float, high: float) -> tuple[float, float]:
    """A magnitude range whose top scales with the strength: at a low strength the range shrinks to its top."""
    return min(low, high), high


def weather_transforms(strength: float = 1.0, p: float = 1.0):
    """One of fog, rain, shadow or sun flare: the paper's synthetic weather."""
    import albumentations as A

    s = max(strength, 1e-3)
    return A.OneOf([
        A.RandomFog(fog_coef_range=(0.1 * s, min(0.9, 0.5 * s)), alpha_coef=0.08, p=1.0),
        A.RandomRain(slant_range=(-15, 15), drop_width=1, blur_value=3, brightness_coefficient=0.8,
                     rain_type="drizzle", p=1.0),
        A.RandomShadow(shadow_roi=(0, 0.3, 1, 1), num_shadows_limit=(1, 3), shadow_dimension=5,
                       shadow_intensity_range=_span(0.2, min(0.8, 0.5 * s)), p=1.0),
        A.RandomSunFlare(flare_roi=(0, 0, 1, 0.5), src_radius=80, num_flare_circles_range=(3, 7), p=1.0),
    ], p=p)


def build_train_transform(input_size: int, augment_config: AugmentConfig, seed: int | None = None):
    """The albumentations pipeline (uint8 image and optional mask in, augmented ``input_size`` square out)."""
    import albumentations as A

    size, s = input_size, augment_config.strength
    geometric = A.OneOf([
        A.Perspective(scale=_span(0.02, 0.08 * s), p=1.0),
        A.Affine(rotate=(-12 * s, 12 * s), scale=(1 - 0.1 * s, 1 + 0.15 * s), translate_percent=(-0.05, 0.05),
                 shear=(-5 * s, 5 * s), border_mode=1, p=1.0),
    ], p=augment_config.p_geometric)
    photometric = A.SomeOf([
        A.RandomBrightnessContrast(brightness_limit=0.25 * s, contrast_limit=0.25 * s, p=1.0),
        A.HueSaturationValue(hue_shift_limit=round(8 * s), sat_shift_limit=round(25 * s), val_shift_limit=round(15 * s),
                             p=1.0),
        A.CLAHE(clip_limit=(1.0, 3.0), p=1.0),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 5), p=1.0), A.MotionBlur(blur_limit=(3, 7), p=1.0)], p=1.0),
    ], n=2, p=augment_config.p_photometric)
    noise = A.OneOf([
        A.GaussNoise(std_range=_span(0.02, 0.08 * s), p=1.0),
        A.ImageCompression(quality_range=(max(5, round(60 - 30 * s)), 95), p=1.0),
    ], p=augment_config.p_noise)
    transforms = [
        A.RandomResizedCrop(size=(size, size), scale=(augment_config.crop_scale_min, 1.0), ratio=(0.6, 1.8), p=1.0),
        geometric,
        A.HorizontalFlip(p=0.5 if augment_config.hflip else 0.0),
        weather_transforms(s, augment_config.p_weather),
        photometric,
        noise,
    ]
    return A.Compose(transforms, seed=seed)


class TrainTransform:
    """Callable for the dataset: augment, then normalise with the model's preprocessing."""

    def __init__(self, preprocessing: Preprocessing, augment_config: AugmentConfig, seed: int | None = None):
        self.preprocessing = preprocessing
        self.pipeline = build_train_transform(preprocessing.input_size, augment_config, seed)

    def set_random_seed(self, seed: int) -> None:
        self.pipeline.set_random_seed(seed)

    def __call__(self, image_rgb: np.ndarray) -> torch.Tensor:
        return self.preprocessing.normalise(self.pipeline(image=image_rgb)["image"])

    def with_masks(self, image_rgb: np.ndarray, masks: dict[str, np.ndarray]) -> tuple[torch.Tensor,
                                                                                      dict[str, torch.Tensor]]:
        """Augment the image and its masks together (geometry applies to all; weather to the image only)."""
        names = list(masks)
        out = self.pipeline(image=image_rgb, masks=[masks[name].astype(np.uint8) for name in names])
        augmented = {name: torch.from_numpy(np.asarray(mask).astype(np.float32)) for name, mask in
                     zip(names, out["masks"])}
        return self.preprocessing.normalise(out["image"]), augmented

    def augment_only(self) -> Callable[[np.ndarray], np.ndarray]:
        """The uint8 augmented image before normalisation (for previews)."""
        return lambda image_rgb: self.pipeline(image=image_rgb)["image"]
