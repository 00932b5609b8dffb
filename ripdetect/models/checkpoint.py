"""Checkpoints: safetensors weights with the ripdetect JSON metadata in the file header.

No pickle is ever loaded: a ``.pt``/``.pth`` pickle is refused with a message that says why. The metadata
is checked field by field, so a damaged or hand-edited checkpoint gives one line naming what is wrong.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from ripdetect.config import ModelConfig, from_dict, to_dict
from ripdetect.errors import CheckpointError, ConfigError
from ripdetect.files import atomic_path
from ripdetect.models.classifier import create_model
from ripdetect.models.weights import check_state_dict
from ripdetect.version import __version__

FORMAT = "ripdetect-checkpoint"
FORMAT_VERSION = 1
DEFAULT_MODEL_RESOURCE = "default.safetensors"
# metadata that describes the weights themselves and is rebuilt on every save
_OWN_KEYS = ("format", "format_version", "library_version", "created", "model_config", "class_names", "threshold")


@dataclass
class Checkpoint:
    """A loaded model with everything it was saved with."""

    model: Any
    threshold: float
    metadata: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    @property
    def model_config(self) -> ModelConfig:
        return self.model.model_config

    @property
    def model_id(self) -> str:
        return self.metadata.get("model_id") or Path(self.path or "model").stem

    @property
    def class_names(self) -> tuple[str, str]:
        return self.model_config.class_names

    @property
    def cam_scale(self) -> float | None:
        return self.metadata.get("cam_scale")

    @property
    def temperature(self) -> float:
        """Calibration temperature of the rip score (1.0: uncalibrated); probabilities use it everywhere."""
        return float(self.metadata.get("temperature", 1.0))


def check_threshold(value: Any, where: str | Path | None = None) -> float:
    """A decision threshold must be a finite number in [0, 1]."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1
    if not ok:
        raise CheckpointError(f"threshold {value!r} is not a number in [0, 1]", where)
    return float(value)


def save_checkpoint(path: str | Path, model: torch.nn.Module, threshold: float, extra: dict[str, Any] | None = None,
                    half: bool = False, overwrite: bool = True) -> Path:
    """Write the weights and metadata of ``model`` (which carries its resolved ``model_config``) atomically."""
    from safetensors.torch import save_file

    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "model_config": to_dict(model.model_config),
        "class_names": list(model.model_config.class_names),
        "threshold": check_threshold(threshold),
        **{k: v for k, v in (extra or {}).items() if k not in _OWN_KEYS},
    }
    state = {}
    for key, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        state[key] = tensor.half() if half and tensor.is_floating_point() else tensor
    with atomic_path(path, overwrite) as tmp:
        save_file(state, str(tmp), metadata={"ripdetect": json.dumps(metadata, allow_nan=False)})
    return Path(path)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ripdetect metadata of a checkpoint, without reading the weights; every field checked."""
    path = Path(path)
    _refuse_non_safetensors(path)
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"not a readable safetensors file ({exc})", path) from None
    if "ripdetect" not in header:
        raise CheckpointError("a safetensors file, but not a ripdetect checkpoint (no ripdetect metadata)", path)
    return parse_metadata(header["ripdetect"], path)


def parse_metadata(text: str, path: str | Path | None = None) -> dict[str, Any]:
    """The ripdetect metadata JSON (of a checkpoint or an exported ONNX model), every field checked: one
    ``CheckpointError`` line naming what is wrong."""
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"ripdetect metadata is not valid JSON ({exc.msg})", path) from None
    if not isinstance(metadata, dict):
        raise CheckpointError(f"ripdetect metadata is a JSON {type(metadata).__name__}, not an object", path)
    version = metadata.get("format_version", 0)
    if metadata.get("format") != FORMAT or not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format {metadata.get('format')} v{version} is not supported "
            f"by ripdetect {__version__} (reads {FORMAT} v{FORMAT_VERSION})", path)
    if not isinstance(metadata.get("model_config"), dict):
        raise CheckpointError("ripdetect metadata has no model_config object", path)
    metadata["threshold"] = check_threshold(metadata.get("threshold", 0.5), path)
    for key in ("cam_scale", "temperature"):
        value = metadata.get(key)
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise CheckpointError(f"{key} {value!r} is not a positive number", path)
    return metadata


def metadata_model_config(metadata: dict[str, Any], path: str | Path | None = None) -> ModelConfig:
    """The ``ModelConfig`` stored in checked metadata; a bad one is a one-line ``CheckpointError``."""
    try:
        return from_dict(ModelConfig, metadata["model_config"], where="model_config")
    except ConfigError as exc:
        raise CheckpointError(exc.reason, path) from None


def _refuse_non_safetensors(path: Path) -> None:
    if not path.is_file():
        raise CheckpointError("checkpoint not found" if not path.exists() else "checkpoint is not a file", path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint: {exc.strerror or exc}", path) from None
    if len(head) < 9:
        raise CheckpointError("checkpoint file is empty or truncated", path)
    header_length = int.from_bytes(head[:8], "little")
    if head[8:9] == b"{" and 0 < header_length < path.stat().st_size:
        return  # safetensors: an 8-byte header length, then the JSON header
    if head[:2] == b"PK" or head[:1] == b"\x80":
        raise CheckpointError(
            "is a PyTorch pickle checkpoint; ripdetect loads only .safetensors checkpoints written by "
            "'ripdetect train', because unpickling can run arbitrary code", path)
    if head[8:9] != b"{":
        raise CheckpointError("not a safetensors checkpoint (unrecognised header)", path)


def load_checkpoint(path: str | Path | None = None, device: str = "cpu") -> Checkpoint:
    """Rebuild the model from a checkpoint alone; ``None`` loads the embedded default model."""
    from safetensors.torch import load_file

    path = Path(path) if path is not None else default_model_path()
    metadata = read_metadata(path)
    model = create_model(metadata_model_config(metadata, path), load_pretrained=False)
    try:
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    except Exception as exc:  # noqa: BLE001 - a damaged tensor section
        raise CheckpointError(f"cannot read the weights ({exc})", path) from None
    check_state_dict(state, model.state_dict(), f"weights for architecture '{model.model_config.arch}'", path)
    model.load_state_dict(state)
    model.to(device).eval()
    return Checkpoint(model, metadata["threshold"], metadata, str(path))


def default_model_path() -> Path:
    """The embedded default model inside the installed package."""
    path = Path(str(resources.files("ripdetect").joinpath("weights", DEFAULT_MODEL_RESOURCE)))
    if not path.is_file():
        raise CheckpointError("the embedded default model is missing from this install; pass --model CKPT", path)
    return path


def export_checkpoint(source: str | Path, target: str | Path, half: bool = False, model_id: str | None = None,
                      model_card: dict[str, Any] | None = None, overwrite: bool = False,
                      video_on_threshold: float | None = None) -> Path:
    """Re-save a checkpoint (optionally as fp16) with its metadata, e.g. to embed it in the package;
    ``model_id`` and ``model_card`` entries (training data, intended use) are added to the metadata, and
    ``video_on_threshold``, the threshold its video decision starts events at (``decision.model_video_threshold``)."""
    checkpoint = load_checkpoint(source)
    extra = dict(checkpoint.metadata)
    if video_on_threshold is not None:
        extra["video_on_threshold"] = check_threshold(video_on_threshold, "--video-threshold")
    if model_id:
        extra["model_id"] = model_id
    if model_card:
        extra["model_card"] = {**extra.get("model_card", {}), **model_card}
    extra.update(exported_from=Path(source).name, weights_dtype="float16" if half else "float32")
    return save_checkpoint(target, checkpoint.model, checkpoint.threshold, extra, half=half, overwrite=overwrite)
