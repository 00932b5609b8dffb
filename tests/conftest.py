"""Seeded synthetic fixtures: non-square images, a tiny model checkpoint, small datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
torch.set_num_threads(2)


def make_scene(rng: np.random.Generator, rip: bool, height: int = 48, width: int = 72) -> np.ndarray:
    """A toy beach: sand below, sea above, a white surf band; a rip is a dark gap in the band."""
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2] = (30, 90, 140)
    image[height // 2:] = (200, 180, 140)
    band = slice(height // 2 - 8, height // 2 - 2)
    image[band] = (235, 235, 235)
    if rip:
        x = int(rng.integers(10, width - 20))
        image[: height // 2, x:x + 10] = (20, 60, 90)
    noise = rng.normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def write_png(path: Path, image_rgb: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_rgb).save(path)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def image_rgb(rng) -> np.ndarray:
    return make_scene(rng, rip=True, height=48, width=80)


@pytest.fixture
def class_folder(tmp_path, rng) -> Path:
    """tmp/data/{rip,no_rip}/*.png with masks for the rips, 6 per class."""
    root = tmp_path / "data"
    for i in range(6):
        for label in ("rip", "no_rip"):
            write_png(root / label / f"{label}_{i}.png", make_scene(rng, rip=label == "rip"))
    for i in range(6):
        mask = np.zeros((48, 72), np.uint8)
        mask[:24, 20:40] = 255
        write_png(root / "masks" / f"rip_{i}.png", mask[..., None].repeat(3, 2))
    return root


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny_cnn checkpoint with seeded random weights."""
    from ripdetect.checkpoint import save_checkpoint
    from ripdetect.config import ModelConfig
    from ripdetect.model import create_model, resolve_model_config

    torch.manual_seed(0)
    model_config = resolve_model_config(ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False))
    model = create_model(model_config)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return save_checkpoint(path, model, model_config, 0.5, {"model_id": "tiny-test"})


@pytest.fixture
def tiny_model():
    from ripdetect.config import ModelConfig
    from ripdetect.model import create_model, resolve_model_config

    torch.manual_seed(0)
    return create_model(resolve_model_config(ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False))).eval()
