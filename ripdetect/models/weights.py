"""Reading weights into a module: a user's weights file, and the check that a state dict fits an architecture."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from ripdetect.errors import CheckpointError

log = logging.getLogger(__name__)


def check_state_dict(given: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], what: str,
                     path: str | Path | None = None) -> None:
    """Raise a one-line ``CheckpointError`` unless ``given`` has exactly the keys and shapes of ``expected``."""
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{what} mismatch: {len(missing)} missing (e.g. {missing[:2]}), {len(unexpected)} "
                              f"unexpected (e.g. {unexpected[:2]})", path)
    for key, tensor in given.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(f"{what} mismatch at '{key}': shape {tuple(tensor.shape)}, expected "
                                  f"{tuple(expected[key].shape)}", path)


def load_user_weights(module: nn.Module, weights_path: str) -> None:
    """Load a user-supplied state dict (safetensors, or a tensor-only .pth read with ``weights_only``)."""
    path = Path(weights_path)
    if not path.is_file():
        raise CheckpointError("weights file not found", path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state_dict = load_file(str(path))
        else:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is one user-facing error
        raise CheckpointError(f"cannot read weights ({type(exc).__name__}: {exc})", path) from None
    if isinstance(state_dict, dict) and "state_dict" in state_dict:
        state_dict = state_dict["state_dict"]
    if not isinstance(state_dict, dict):
        raise CheckpointError("the weights file does not hold a state dict", path)
    own = module.state_dict()
    usable = {k: v for k, v in state_dict.items()
              if k in own and isinstance(v, torch.Tensor) and tuple(v.shape) == tuple(own[k].shape)}
    if not usable:
        raise CheckpointError("no tensor in the weights file matches the architecture", path)
    module.load_state_dict(usable, strict=False)
    log.info("loaded %d/%d tensors from %s", len(usable), len(own), path)
