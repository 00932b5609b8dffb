"""Shared, seeded fixtures: non-square images, a tiny model and its checkpoint, small datasets, short clips written
with the ffmpeg that imageio-ffmpeg ships, the toy beach camera, and an in-process CLI runner. Plain helpers live in
``tests/helpers.py``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import make_scene, save_toy_checkpoint, tiny_model_config, toy_stills, write_clip, write_png

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
torch.set_num_threads(2)


@pytest.fixture
def open_folder():
    """A fresh folder anyone may enter (pytest's own folders are private to their owner), removed afterwards."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ripdetect-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def cli(capsys):
    """``ripdetect ARGS`` run in this process, without an interpreter's start-up: a ``CompletedProcess`` with the
    exit code and what was printed (log lines go to pytest's log capture, not to ``stderr``)."""
    from ripdetect.cli import main

    def run(*args) -> subprocess.CompletedProcess:
        argv = [str(a) for a in args]
        code = main(argv)
        printed = capsys.readouterr()
        return subprocess.CompletedProcess(argv, code, printed.out, printed.err)

    return run


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
    from ripdetect.models.checkpoint import save_checkpoint
    from ripdetect.models.classifier import create_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return save_checkpoint(path, create_model(tiny_model_config()), 0.5, {"model_id": "tiny-test"})


@pytest.fixture
def tiny_model():
    from ripdetect.models.classifier import create_model

    torch.manual_seed(0)
    return create_model(tiny_model_config()).eval()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "beach.mp4")


@pytest.fixture(scope="session")
def stills() -> dict[str, np.ndarray]:
    """The toy beach camera's ``calm`` and ``rip`` frames (``tests/helpers.py``), 384x224."""
    return toy_stills()


@pytest.fixture(scope="session")
def toy_checkpoint(tmp_path_factory) -> Path:
    """The toy camera's model: calls the ``rip`` still a rip (p 0.95, region on the gap) and ``calm`` calm (0.05)."""
    return save_toy_checkpoint(tmp_path_factory.mktemp("toy") / "toy.safetensors")


@pytest.fixture(scope="session")
def toy_predictor(toy_checkpoint):
    from ripdetect.inference.predictor import Predictor

    return Predictor(toy_checkpoint)
