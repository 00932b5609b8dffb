"""Checkpoints: safetensors weights with the ripdetect JSON metadata in the file header.

No pickle is ever loaded: a ``.pt``/``.pth`` pickle is refused with a message that says why.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from ripdetect import __version__
from ripdetect.config import ModelConfig, from_dict, to_dict
from ripdetect.errors import CheckpointError

FORMAT = "ripdetect-checkpoint"
FORMAT_VERSION = 1
DEFAULT_MODEL_RESOURCE = "default.safetensors"


@dataclass
class Checkpoint:
    """A loaded model with everything it was saved with."""

    model: Any
    model_config: ModelConfig
    threshold: float
    metadata: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    @property
    def model_id(self) -> str:
        return self.metadata.get("model_id") or Path(self.path or "model").stem


def save_checkpoint(path: str | Path, model: torch.nn.Module, model_config: ModelConfig, threshold: float,
                    extra: dict[str, Any] | None = None, half: bool = False) -> Path:
    """Write weights and metadata atomically (temp file + rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "model_config": to_dict(model_config),
        "class_names": list(model_config.class_names),
        "threshold": float(threshold),
        **(extra or {}),
    }
    state = {}
    for key, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        state[key] = tensor.half() if half and tensor.is_floating_point() else tensor
    tmp_path = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp_path), metadata={"ripdetect": json.dumps(metadata)})
    os.replace(tmp_path, path)
    os.chmod(path, 0o644)  # safetensors writes 0600; checkpoints are meant to be shared
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ripdetect metadata of a checkpoint, without reading the weights."""
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
    metadata = json.loads(header["ripdetect"])
    if metadata.get("format") != FORMAT or int(metadata.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format {metadata.get('format')} v{metadata.get('format_version')} is not supported "
            f"by ripdetect {__version__} (reads {FORMAT} v{FORMAT_VERSION})", path)
    return metadata


def _refuse_non_safetensors(path: Path) -> None:
    if not path.is_file():
        raise CheckpointError("checkpoint not found", path)
    with open(path, "rb") as handle:
        head = handle.read(9)
    if len(head) < 9:
        raise CheckpointError("checkpoint file is empty or truncated", path)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        raise CheckpointError(
            "is a PyTorch pickle checkpoint; ripdetect loads only .safetensors checkpoints written by "
            "'ripdetect train', because unpickling can run arbitrary code", path)
    if head[8:9] != b"{":
        raise CheckpointError("not a safetensors checkpoint (unrecognised header)", path)


def load_checkpoint(path: str | Path | None = None, device: str = "cpu") -> Checkpoint:
    """Rebuild the model from a checkpoint alone; ``None`` loads the embedded default model."""
    from safetensors.torch import load_file

    from ripdetect.model import create_model

    path = Path(path) if path is not None else default_model_path()
    metadata = read_metadata(path)
    model_config = from_dict(ModelConfig, metadata["model_config"], where=f"{path} model_config")
    model = create_model(model_config, load_pretrained=False)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"weights do not match architecture '{model_config.arch}': {len(missing)} missing "
            f"(e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]})", path)
    for key, tensor in state.items():
        if tensor.shape != own[key].shape:
            raise CheckpointError(
                f"weight '{key}' has shape {tuple(tensor.shape)}, architecture expects {tuple(own[key].shape)}", path)
    model.load_state_dict(state)
    model.to(device).eval()
    return Checkpoint(model, model_config, float(metadata.get("threshold", 0.5)), metadata, str(path))


def default_model_path() -> Path:
    """The embedded default model inside the installed package."""
    path = Path(str(resources.files("ripdetect").joinpath("weights", DEFAULT_MODEL_RESOURCE)))
    if not path.is_file():
        raise CheckpointError("the embedded default model is missing from this install; pass --model CKPT", path)
    return path


def export_checkpoint(source: str | Path, target: str | Path, half: bool = True, model_id: str | None = None,
                      model_card: dict[str, Any] | None = None) -> Path:
    """Re-save a checkpoint (optionally as fp16) with its metadata, e.g. to embed it in the package;
    ``model_id`` and ``model_card`` entries (training data, intended use) are added to the metadata."""
    checkpoint = load_checkpoint(source)
    extra = {k: v for k, v in checkpoint.metadata.items()
             if k not in ("format", "format_version", "library_version", "created", "model_config", "class_names",
                          "threshold")}
    if model_id:
        extra["model_id"] = model_id
    if model_card:
        extra["model_card"] = {**extra.get("model_card", {}), **model_card}
    return save_checkpoint(target, checkpoint.model, checkpoint.model_config, checkpoint.threshold,
                           {**extra, "exported_from": Path(source).name, "weights_dtype": "float16" if half else "float32"},
                           half=half)
