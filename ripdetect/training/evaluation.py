"""Evaluate a checkpoint on a dataset: classification metrics, plots and (where labelled) localisation."""

from __future__ import annotations

import logging
from pathlib import Path

from ripdetect.config import InferenceConfig
from ripdetect.data.dataset import ImageDataset, make_loader
from ripdetect.data.layouts import Sample
from ripdetect.errors import DataError
from ripdetect.files import write_json
from ripdetect.models.checkpoint import Checkpoint
from ripdetect.training.engine import ProgressFn, ScoredSamples, score_samples
from ripdetect.training.uncertainty import grouped_report

log = logging.getLogger(__name__)


def score_checkpoint(checkpoint: Checkpoint, samples: list[Sample], batch_size: int | None = None,
                     num_workers: int = 0, progress: ProgressFn | None = None) -> ScoredSamples:
    """The checkpoint's logits on every readable sample; a set with no readable image is a ``DataError``."""
    batch_size = batch_size or InferenceConfig().batch_size
    loader = make_loader(ImageDataset(samples, checkpoint.model.preprocessing), batch_size, num_workers, 0)
    scored = score_samples(checkpoint.model, loader, progress)
    if samples and not len(scored.labels):
        raise DataError(f"none of the {len(samples)} images could be read (first: {scored.errors[0][0]}: "
                        f"{scored.errors[0][1]})")
    return scored


def evaluate_checkpoint(checkpoint: Checkpoint, samples: list[Sample], out_dir: str | Path | None = None,
                        batch_size: int | None = None, num_workers: int = 0, threshold: float | None = None,
                        localisation: bool = True, faithfulness: bool = True,
                        progress: ProgressFn | None = None) -> dict:
    """Metrics dict with the ``ripdetect eval`` keys, plus ``skipped`` and, if labels exist, ``localisation``."""
    from ripdetect.viz.plots import plot_evaluation, plot_reliability

    threshold = checkpoint.threshold if threshold is None else threshold
    scored = score_checkpoint(checkpoint, samples, batch_size, num_workers, progress)
    probs = scored.probs_at(checkpoint.temperature)
    scored_samples = [samples[i] for i in scored.indices]
    report = grouped_report(scored.labels, probs, threshold, [s.viewpoint or "unspecified" for s in scored_samples],
                            [s.group_key for s in scored_samples])
    metrics = report["overall"]
    if any(s.viewpoint for s in scored_samples):
        metrics["by_viewpoint"] = report["by"]
    metrics["skipped"] = [{"path": path, "error": reason} for path, reason in scored.errors]
    labelled = [samples[i] for i in scored.indices if samples[i].label == 1 and not samples[i].region.is_empty]
    if localisation and labelled:
        from ripdetect.explain.localisation import evaluate_localisation
        from ripdetect.inference.predictor import Predictor

        predictor = Predictor(checkpoint, InferenceConfig(threshold=threshold, region_when_negative=True))
        metrics["localisation"] = evaluate_localisation(predictor, labelled, faithfulness, progress=progress)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        plot_evaluation(scored.labels, probs, threshold, out_dir)
        plot_reliability(scored.labels, probs, out_dir / "reliability.png")
        per_image = [{"path": samples[i].path, "label": int(samples[i].label), "prob_rip": float(p)}
                     for i, p in zip(scored.indices, probs)]
        write_json(out_dir / "predictions.json", per_image)
        write_json(out_dir / "metrics.json", metrics)
    return metrics
