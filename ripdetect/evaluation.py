"""Evaluate a checkpoint on a dataset: classification metrics, plots and (where labelled) localisation."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ripdetect.augment import EvalTransform
from ripdetect.checkpoint import Checkpoint
from ripdetect.data import Sample
from ripdetect.dataset import ImageDataset, make_loader
from ripdetect.engine import ProgressFn, predict_probs
from ripdetect.metrics import classification_metrics
from ripdetect.plots import plot_evaluation

log = logging.getLogger(__name__)


def evaluate_checkpoint(checkpoint: Checkpoint, samples: list[Sample], out_dir: str | Path | None = None,
                        batch_size: int = 16, num_workers: int = 0, threshold: float | None = None,
                        localisation: bool = True, progress: ProgressFn | None = None) -> dict:
    """Metrics dict with the ``ripdetect eval`` keys, plus ``skipped`` and, if labels exist, ``localisation``."""
    threshold = checkpoint.threshold if threshold is None else threshold
    loader = make_loader(ImageDataset(samples, EvalTransform(checkpoint.model_config)), batch_size, num_workers, 0)
    preds = predict_probs(checkpoint.model, loader, progress)
    metrics = classification_metrics(preds.labels, preds.probs, threshold)
    metrics["skipped"] = [{"path": path, "error": reason} for path, reason in preds.errors]
    labelled = [samples[i] for i in preds.indices if samples[i].label == 1 and not samples[i].region.is_empty]
    if localisation and labelled:
        from ripdetect.localisation import evaluate_localisation

        metrics["localisation"] = evaluate_localisation(checkpoint, labelled, progress=progress)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        plot_evaluation(preds.labels, preds.probs, threshold, out_dir)
        per_image = [{"path": samples[i].path, "label": int(samples[i].label), "prob_rip": float(p)}
                     for i, p in zip(preds.indices, preds.probs)]
        (out_dir / "predictions.json").write_text(json.dumps(per_image, indent=1))
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def estimate_cam_scale(checkpoint: Checkpoint, samples: list[Sample], batch_size: int = 16) -> float | None:
    """A fixed display scale for raw CAMs: the 90th percentile of per-image CAM maxima over the rip
    images (all images if there are none), so heatmaps are comparable across images and frames."""
    import numpy as np
    import torch

    from ripdetect.cam import compute_cam

    chosen = [s for s in samples if s.label == 1] or samples
    loader = make_loader(ImageDataset(chosen, EvalTransform(checkpoint.model_config)), batch_size, 0, 0)
    peaks = []
    for batch in loader:
        if batch["images"] is not None:
            _, cams = compute_cam(checkpoint.model, batch["images"])
            peaks.append(cams.flatten(1).amax(dim=1))
    if not peaks:
        return None
    scale = float(np.percentile(torch.cat(peaks).numpy(), 90))
    return scale if scale > 0 else None
