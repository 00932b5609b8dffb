"""Train and eval pipelines built from the model's preprocessing config.

Training uses albumentations 2.0 (geometric, photometric, weather, noise) with a seeded generator;
evaluation and inference share one pure function, ``preprocess``, so all three agree exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ripdetect.config import AugmentConfig, ModelConfig


def preprocess(image_rgb: np.ndarray, model_config: ModelConfig) -> torch.Tensor:
    """uint8 RGB ``HxWx3`` -> normalised float ``3xSxS`` tensor (area resize, model mean/std)."""
    import cv2

    size = model_config.input_size
    interpolation = cv2.INTER_AREA if min(image_rgb.shape[:2]) > size else cv2.INTER_LINEAR
    resized = cv2.resize(image_rgb, (size, size), interpolation=interpolation)
    return normalise(resized, model_config)


def normalise(image_rgb: np.ndarray, model_config: ModelConfig) -> torch.Tensor:
    mean = np.asarray(model_config.mean, dtype=np.float32) * 255.0
    std = np.asarray(model_config.std, dtype=np.float32) * 255.0
    array = (image_rgb.astype(np.float32) - mean) / std
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def weather_transforms(strength: float = 1.0, p: float = 1.0):
    """One of fog, rain, shadow or sun flare: the paper's synthetic weather."""
    import albumentations as A

    s = max(strength, 1e-3)
    return A.OneOf([
        A.RandomFog(fog_coef_range=(0.1 * s, min(0.9, 0.5 * s)), alpha_coef=0.08, p=1.0),
        A.RandomRain(slant_range=(-15, 15), drop_width=1, blur_value=3, brightness_coefficient=0.8,
                     rain_type="drizzle", p=1.0),
        A.RandomShadow(shadow_roi=(0, 0.3, 1, 1), num_shadows_limit=(1, 3), shadow_dimension=5,
                       shadow_intensity_range=(0.2, min(0.8, 0.5 * s)), p=1.0),
        A.RandomSunFlare(flare_roi=(0, 0, 1, 0.5), src_radius=80, num_flare_circles_range=(3, 7), p=1.0),
    ], p=p)


def build_train_transform(model_config: ModelConfig, augment_config: AugmentConfig, seed: int | None = None):
    """The training pipeline; returns ``f(image_rgb, mask) -> (tensor, mask)`` via albumentations' Compose."""
    import albumentations as A

    size, s = model_config.input_size, augment_config.strength
    geometric = A.OneOf([
        A.Perspective(scale=(0.02, 0.08 * s), p=1.0),
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
        A.GaussNoise(std_range=(0.02, 0.08 * s), p=1.0),
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
    """Callable for the dataset: augment, then normalise with the model's mean/std."""

    def __init__(self, model_config: ModelConfig, augment_config: AugmentConfig, seed: int | None = None):
        self.model_config = model_config
        self.pipeline = build_train_transform(model_config, augment_config, seed)

    def set_random_seed(self, seed: int) -> None:
        self.pipeline.set_random_seed(seed)

    def __call__(self, image_rgb: np.ndarray) -> torch.Tensor:
        return normalise(self.pipeline(image=image_rgb)["image"], self.model_config)

    def with_mask(self, image_rgb: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment image and region mask together (geometry applies to both; weather to the image only)."""
        out = self.pipeline(image=image_rgb, mask=mask.astype(np.uint8))
        return normalise(out["image"], self.model_config), torch.from_numpy(out["mask"].astype(np.float32))


class EvalTransform:
    def __init__(self, model_config: ModelConfig):
        self.model_config = model_config

    def __call__(self, image_rgb: np.ndarray) -> torch.Tensor:
        return preprocess(image_rgb, self.model_config)


def augment_only(transform: TrainTransform) -> Callable[[np.ndarray], np.ndarray]:
    """The uint8 augmented image before normalisation (for previews)."""
    return lambda image_rgb: transform.pipeline(image=image_rgb)["image"]


def write_weather_copies(samples: list, out_dir, copies: int, seed: int, max_side: int = 1024) -> list:
    """The paper's offline expansion: ``copies`` seeded weather variants (fog, rain, shadow, flare) of every
    sample, written as JPEGs under ``out_dir``; returns the new samples (same labels and region labels, since
    weather is purely photometric). Existing files are reused, so a re-run is cheap."""
    import dataclasses
    from pathlib import Path

    import cv2

    from ripdetect.errors import InputError
    from ripdetect.images import load_image_rgb

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    import albumentations as A

    new_samples = []
    for index, sample in enumerate(samples):
        pipeline = A.Compose([weather_transforms(1.0, p=1.0)], seed=seed * 100_003 + index)
        image_rgb = None
        for copy in range(copies):
            target = out_dir / f"{index:06d}_{copy}_{Path(sample.path).stem}.jpg"
            if not target.exists():
                if image_rgb is None:
                    try:
                        image_rgb = load_image_rgb(sample.path, max_side=max_side)
                    except InputError:
                        break  # reported when the original is loaded for training
                augmented = pipeline(image=image_rgb)["image"]
                tmp = target.with_suffix(".tmp.jpg")
                cv2.imwrite(str(tmp), cv2.cvtColor(augmented, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
                tmp.replace(target)
            new_samples.append(dataclasses.replace(sample, path=str(target)))
    return new_samples
