"""The paper's offline expansion: fog, rain, shadow or sun-flare copies of every training image, written once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ripdetect.data.augment import weather_transforms
from ripdetect.data.images import TRAINING_MAX_SIDE, load_image_rgb
from ripdetect.data.layouts import Sample
from ripdetect.errors import InputError
from ripdetect.files import write_image


def write_weather_copies(samples: list[Sample], out_dir: str | Path, copies: int, seed: int) -> list[Sample]:
    """``copies`` seeded weather variants of every sample, written as JPEGs under ``out_dir``; returns the new
    samples (same labels and region labels, since weather is purely photometric). Existing files are reused,
    so a re-run is cheap. An unreadable original is skipped here and reported when it is loaded for training."""
    import albumentations as A


    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    new_samples = []
    for index, sample in enumerate(samples):
        pipeline = A.Compose([weather_transforms(1.0, p=1.0)], seed=seed * 100_003 + index)
        image_rgb = None
        for copy in range(copies):
            target = out_dir / f"{index:06d}_{copy}_{Path(sample.path).stem}.jpg"
            if not target.exists():
                if image_rgb is None:
                    try:
                        image_rgb = load_image_rgb(sample.path, max_side=TRAINING_MAX_SIDE)
                    except InputError:
                        break
                write_image(target, pipeline(image=image_rgb)["image"])
            new_samples.append(dataclasses.replace(sample, path=str(target)))
    return new_samples
