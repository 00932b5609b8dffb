"""Helpers shared by the tests: seeded synthetic images and clips, the CLI runner, the tiny model configs, and the toy
beach camera (stills and a model whose answer is known by construction)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

TINY = {"arch": "tiny_cnn", "input_size": 64, "pretrained": False}
SAMPLES = Path(__file__).resolve().parent.parent / "ripdetect" / "samples"
FAST_VIDEO = "{sample_fps: 2, window_s: 2, min_event_s: 1}"  # camera settings that decide within seconds


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


def write_clip(path: Path, seconds: float = 3.0, fps: float = 10.0, size=(96, 64), rip: bool = True) -> Path:
    """A short H.264 clip of a synthetic oblique beach scene."""
    from ripdetect.synth.projection import SceneCamera
    from ripdetect.synth.writer import scene_for
    from ripdetect.video.io import VideoWriter

    camera = SceneCamera(scene_for(0, 0, rip, "oblique"), *size)
    with VideoWriter(path, fps) as writer:
        for i in range(round(seconds * fps)):
            writer.write(camera.render(i / fps)[0])
    return path


def ffmpeg_clip(path: Path, seconds: float, fps: float = 10.0, size: str = "96x64", *output_args: str) -> Path:
    """A test-pattern clip made by the ffmpeg that imageio-ffmpeg ships; ``output_args`` pick codec and container
    (default: H.264 in the container of the suffix), e.g. ``"-f", "h264"`` for a raw elementary stream."""
    import imageio_ffmpeg

    codec = [] if "-c:v" in output_args else ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size={size}:rate={fps:g}", "-t", f"{seconds:g}", *codec, *output_args, str(path)],
                   check=True, capture_output=True)
    return path


def _drop_root() -> None:
    os.setgid(65534)
    os.setuid(65534)


def call_without_root(function, *args):
    """``function(*args)`` where file permissions apply: as root (who may read any file), in a forked child that
    has become ``nobody`` first; its exception, if any, is raised here."""
    import multiprocessing

    if os.geteuid() != 0:
        return function(*args)
    with multiprocessing.get_context("fork").Pool(1, initializer=_drop_root) as pool:
        return pool.apply(function, args)


def free_port() -> int:
    """A TCP port on this machine that no one listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str, timeout: float = 600, check: bool = False, **kwargs) -> subprocess.CompletedProcess:
    """``python -m ripdetect ARGS`` in a subprocess, as a user runs it."""
    result = subprocess.run([sys.executable, "-m", "ripdetect", *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, **kwargs)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def tiny_model_config(**changes):
    from ripdetect.config import ModelConfig

    return ModelConfig(**{**TINY, **changes})


def tiny_train_config(**changes):
    from ripdetect.config import TrainConfig

    changes.setdefault("num_workers", 0)
    changes.setdefault("batch_size", 4)
    changes.setdefault("model", tiny_model_config())
    return TrainConfig(**changes)


def still_clip(path: Path, segments: list[tuple[np.ndarray, float]], fps: float = 5.0) -> Path:
    """An H.264 clip made of still images, each shown for its seconds: e.g. calm 4 s, rip 6 s, calm 6 s."""
    from ripdetect.video.io import VideoWriter

    with VideoWriter(path, fps) as writer:
        for image_rgb, seconds in segments:
            for _ in range(round(seconds * fps)):
                writer.write(image_rgb)
    return path


# The toy beach camera. Its model is a tiny CNN set by hand, not trained: the first convolution measures how dark the
# water is over 3x3 pixels and keeps only water darker than open sea, the next two average, and the head turns the
# mean of that into a rip score. So it calls a frame a rip exactly when a dark gap cuts through the white surf band
# (the toy ``rip`` still: p 0.95, and a region on the gap) and calm otherwise (``calm``: p 0.05), whatever encoding or
# resizing the frames go through. Camera, alert and region-of-interest tests use it; no test depends on what the
# shipped model happens to say about a photo.
TOY_SIZE = (384, 224)  # width, height
TOY_GAP_X, TOY_GAP_Y = (0.64, 0.72), (0.20, 0.48)  # where the rip's gap is, as shares of the width and height


def toy_stills(width: int = TOY_SIZE[0], height: int = TOY_SIZE[1]) -> dict[str, np.ndarray]:
    """``calm``: sea above, a white surf band, sand below; ``rip``: the same frame with a dark gap through the band
    and the water beyond it, in the right half. The same noise in both."""
    rng = np.random.default_rng(7)
    image = np.zeros((height, width, 3), np.float32)
    image[: height // 2] = (30, 90, 140)
    image[height // 2:] = (200, 180, 140)
    image[int(height * 0.36): int(height * 0.48)] = (235, 235, 235)
    noise = rng.normal(0, 4, image.shape)
    rip = image.copy()
    rip[int(height * TOY_GAP_Y[0]): int(height * TOY_GAP_Y[1]),
        int(width * TOY_GAP_X[0]): int(width * TOY_GAP_X[1])] = (10, 30, 50)
    return {name: np.clip(picture + noise, 0, 255).astype(np.uint8) for name, picture in (("calm", image), ("rip", rip))}


def save_toy_checkpoint(path: Path, margin: float = 3.0) -> Path:
    """The toy camera's model (see above): rip score ``-margin`` on the calm still and ``+margin`` on the rip."""
    from ripdetect.config import ModelConfig
    from ripdetect.models.checkpoint import save_checkpoint
    from ripdetect.models.classifier import create_model

    model = create_model(ModelConfig(arch="tiny_cnn", input_size=96, pretrained=False)).eval()
    first, second, third = (stage[0] for stage in model._stages)
    with torch.no_grad():
        for conv in (first, second, third):
            conv.weight.zero_()
            conv.bias.zero_()
        first.weight[0] = -1.0 / 27  # channel 0: how dark, over 3x3 pixels (the inputs are 2 x brightness - 1)
        first.bias[0] = -0.55  # only water darker than open sea counts
        second.weight[0, 0] = 1.0 / 9
        third.weight[0, 0] = 1.0 / 9
        mean_darkness = {name: model.features(model.preprocessing(image)[None])[0, 0].mean().item()
                         for name, image in toy_stills().items()}
        scale = 2 * margin / (mean_darkness["rip"] - mean_darkness["calm"])
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.head.weight[1, 0] = scale
        model.head.bias[1] = -scale * (mean_darkness["rip"] + mean_darkness["calm"]) / 2
    return save_checkpoint(path, model, 0.5, {"model_id": "toy-dark-gap", "cam_scale": scale * 0.2})


def two_cameras(folder: Path, stills: dict[str, np.ndarray], model: Path, rip_s: float = 4, more: str = "") -> Path:
    """``north.mp4`` (calm 3 s, rip ``rip_s``, calm 4 s), ``south.mp4`` (calm 4 s) and their profile file
    ``cameras.yaml`` in ``folder``, both on ``model`` (``FAST_VIDEO`` settings; ``more`` adds camera lines)."""
    calm, rip = stills["calm"], stills["rip"]
    still_clip(folder / "north.mp4", [(calm, 3), (rip, rip_s), (calm, 4)])
    still_clip(folder / "south.mp4", [(calm, 4)])
    path = folder / "cameras.yaml"
    path.write_text(f"cameras:\n  - {{name: north, source: north.mp4, model: {model}, video: {FAST_VIDEO}}}\n"
                    f"  - {{name: south, source: south.mp4, model: {model}, video: {FAST_VIDEO}}}\n{more}")
    return path
