"""The resumable training state: weights and optimiser tensors in safetensors, everything else in JSON.

No pickle is written or read, so a tampered state file cannot run code on ``--resume``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ripdetect.errors import CheckpointError, first_line
from ripdetect.files import atomic_path, write_json

STATE_TENSORS, STATE_JSON, LEGACY_STATE = "last_state.safetensors", "last_state.json", "last_state.pt"


def save_training_state(run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        progress: dict[str, Any]) -> None:
    """Write the state after an epoch: the JSON (written last) names the epoch the tensors belong to."""
    from safetensors.torch import save_file

    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optimizer_state = optimizer.state_dict()
    per_param: dict[str, dict[str, Any]] = {}
    for index, values in optimizer_state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{index}/{name}"] = value.detach().cpu().contiguous()
            else:
                per_param.setdefault(str(index), {})[name] = value
    with atomic_path(run_dir / STATE_TENSORS) as tmp:
        save_file(tensors, str(tmp))
    write_json(run_dir / STATE_JSON, {"progress": progress, "param_groups": optimizer_state["param_groups"],
                                      "optimizer_scalars": per_param})


def load_training_state(run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore model and optimiser in place; returns the saved progress (epoch, best score, ...)."""
    from safetensors.torch import load_file

    tensors_path, json_path = run_dir / STATE_TENSORS, run_dir / STATE_JSON
    if not json_path.is_file() or not tensors_path.is_file():
        if (run_dir / LEGACY_STATE).is_file():
            raise CheckpointError(f"{LEGACY_STATE} is a pickled state from an older ripdetect, which is never read "
                                  "because unpickling can run code; start the run again with --overwrite", run_dir)
        raise CheckpointError("nothing to resume: no saved training state in this folder", run_dir)
    try:
        saved = json.loads(json_path.read_text())
        tensors = load_file(str(tensors_path))
        model.load_state_dict({k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")})
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer/"):
                _, index, name = key.split("/", 2)
                state.setdefault(int(index), {})[name] = value
        for index, values in saved["optimizer_scalars"].items():
            state.setdefault(int(index), {}).update(values)
        optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
        return saved["progress"]
    except Exception as exc:  # noqa: BLE001 - safetensors, JSON and torch each raise their own kind; one line
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"cannot resume: the saved training state is damaged ({type(exc).__name__}: "
                              f"{first_line(exc)})", run_dir) from None
