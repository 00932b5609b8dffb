"""Preview grids: what training sees (``ripdetect augment-preview``)."""

from __future__ import annotations

import random
from pathlib import Path

from ripdetect.config import TrainConfig
from ripdetect.data.augment import TrainTransform
from ripdetect.data.images import TRAINING_MAX_SIDE, load_image_rgb
from ripdetect.data.layouts import Sample
from ripdetect.errors import InputError
from ripdetect.files import write_image
from ripdetect.models.preprocess import Preprocessing, resolve_model_config
from ripdetect.viz.draw import fit_tile, grid, label_tile


def augment_preview(samples: list[Sample], train_config: TrainConfig, out_path: str | Path, n_images: int = 4,
                    n_variants: int = 6, seed: int = 0, tile: int = 224) -> Path:
    """Rows of (original, augmented x n_variants) for a seeded pick of rip and no-rip samples, as a PNG."""
    rng = random.Random(seed)
    by_label = {label: [s for s in samples if s.label == label] for label in (1, 0)}
    picks = [rng.choice(by_label[1 - i % 2] or by_label[i % 2]) for i in range(n_images)]
    preprocessing = Preprocessing.of(resolve_model_config(train_config.model))
    augment = TrainTransform(preprocessing, train_config.augment, seed=seed).augment_only()
    rows = []
    for sample in picks:
        try:
            image_rgb = load_image_rgb(sample.path, max_side=TRAINING_MAX_SIDE)
        except InputError:
            continue
        name = ("rip: " if sample.label else "no_rip: ") + Path(sample.path).name
        rows.append([label_tile(fit_tile(image_rgb, tile), name)]
                    + [fit_tile(augment(image_rgb), tile) for _ in range(n_variants)])
    if not rows:
        raise InputError("none of the picked images could be read", out_path)
    return write_image(out_path, grid(rows))
