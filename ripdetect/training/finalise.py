"""Finishing a model: best epoch -> final evaluation -> CAM display scale -> the saved ``model.safetensors``.

Called by ``train_model`` (and so by ``ripdetect train``), and usable on its own from Python: a model
trained from Python has its threshold, metrics and ``cam_scale`` just like one from the CLI.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import torch

from ripdetect.data.layouts import Sample
from ripdetect.data.torch_dataset import ImageDataset, make_loader
from ripdetect.explain.cam import compute_cam
from ripdetect.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ripdetect.training.engine import BEST_NAME, FINAL_NAME, HISTORY_NAME
from ripdetect.training.evaluation import evaluate_checkpoint
from ripdetect.viz.plots import plot_history

log = logging.getLogger(__name__)
CAM_SCALE_PERCENTILE = 90


def estimate_cam_scale(checkpoint: Checkpoint, samples: list[Sample], batch_size: int = 16) -> float | None:
    """A fixed display scale for raw CAMs: the 90th percentile of per-image CAM maxima over the rip
    images (all images if there are none), so heatmaps are comparable across images and frames."""

    chosen = [s for s in samples if s.label == 1] or samples
    loader = make_loader(ImageDataset(chosen, checkpoint.model.preprocessing), batch_size, 0, 0)
    peaks = []
    for batch in loader:
        if batch["images"] is not None:
            cams = compute_cam(checkpoint.model, batch["images"]).cams
            peaks.append(cams.flatten(1).amax(dim=1))
    if not peaks:
        return None
    scale = float(np.percentile(torch.cat(peaks).numpy(), CAM_SCALE_PERCENTILE))
    return scale if scale > 0 else None


def finalise(run_dir: str | Path, val_samples: list[Sample], train_samples: list[Sample],
             batch_size: int = 16) -> tuple[Path, dict]:
    """Turn ``best.safetensors`` into ``model.safetensors`` with the final validation metrics, the model id
    and ``cam_scale``; writes the evaluation plots and ``curves.png``. Returns the path and the metrics."""
    import json


    run_dir = Path(run_dir)
    best = load_checkpoint(run_dir / BEST_NAME)
    metrics: dict = {}
    if val_samples:
        metrics = evaluate_checkpoint(best, val_samples, run_dir / "eval", batch_size=batch_size, localisation=False,
                                      overwrite=True)  # the run's own folder
        metrics.pop("skipped", None)
        for name in ("confusion_matrix.png", "roc.png", "pr.png"):
            if (run_dir / "eval" / name).exists():
                shutil.copy(run_dir / "eval" / name, run_dir / name)
    if (run_dir / HISTORY_NAME).is_file():
        plot_history(json.loads((run_dir / HISTORY_NAME).read_text()), run_dir / "curves.png")
    extra = {**best.metadata, "metrics": metrics, "model_id": run_dir.name,
             "cam_scale": estimate_cam_scale(best, val_samples or train_samples, batch_size)}
    path = save_checkpoint(run_dir / FINAL_NAME, best.model, best.threshold, extra)
    log.info("finished model: %s", path)
    return path, metrics
