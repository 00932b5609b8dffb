"""Evaluate a model on a dataset: classification metrics, plots and (where labelled) localisation.

Everything comes from one forward pass per image, in batches, through the ``Predictor`` (so a ``.onnx`` export
evaluates exactly as it predicts): the logits give the classification metrics, and the map of that same pass
gives pointing, energy and IoU on the labelled rip images. Deletion/insertion AUCs cost a batch of 34 perturbed
passes per image, so they are computed on a sample of ``faithfulness`` images (evenly spaced; 0: none).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ripdetect.config import FAITHFULNESS_DEFAULT, InferenceConfig
from ripdetect.data.images import TRAINING_MAX_SIDE, load_image_rgb
from ripdetect.data.layouts import Sample
from ripdetect.errors import DataError, InputError
from ripdetect.explain.localisation import faithfulness_sample, localisation_row, summarise_localisation
from ripdetect.files import claim_output_folder, write_json
from ripdetect.inference.predictor import Predictor
from ripdetect.models.checkpoint import Checkpoint
from ripdetect.training.engine import ProgressFn, ScoredSamples
from ripdetect.training.metrics import plot_reliability_of
from ripdetect.training.uncertainty import grouped_report
from ripdetect.viz.plots import plot_evaluation


def is_localisable(sample: Sample) -> bool:
    return sample.label == 1 and not sample.region.is_empty


def score_with_maps(predictor: Predictor, samples: list[Sample], localise: set[int] | frozenset = frozenset(),
                    faithful: set[int] | frozenset = frozenset(),
                    progress: ProgressFn | None = None) -> tuple[ScoredSamples, list[dict]]:
    """One batched pass over the readable ``samples``: their logits, and a localisation row for each index in
    ``localise`` from that pass's map (with deletion/insertion AUCs for the indices in ``faithful``)."""
    logits, indices, errors, rows = [], [], [], []
    batch: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        if not batch:
            return
        out = predictor.run([image for _, image in batch])
        probs = predictor.probabilities(out).float().numpy()
        for j, (index, image) in enumerate(batch):
            if index in localise:
                water = None if out.water is None else out.water[j].numpy()
                rows.append(localisation_row(predictor, samples[index], image, float(probs[j]), out.cams[j].numpy(),
                                             water, index in faithful))
        logits.append(out.logits.float().numpy())
        indices.extend(index for index, _ in batch)
        batch.clear()

    for index, sample in enumerate(samples):
        try:
            batch.append((index, load_image_rgb(sample.path, max_side=TRAINING_MAX_SIDE)))
        except InputError as exc:
            errors.append((sample.path, exc.reason))
            if index in localise:
                rows.append({"path": sample.path, "error": exc.reason})
        if len(batch) >= predictor.config.batch_size:
            flush()
        if progress:
            progress("eval_step", {"step": index + 1, "steps": len(samples)})
    flush()
    labels = np.array([samples[i].label for i in indices], int)
    stacked = np.concatenate(logits) if logits else np.zeros((0, 2), np.float32)
    return ScoredSamples(labels, stacked, np.array(indices, int), errors), rows


def _predictor(checkpoint: Checkpoint | Predictor, threshold: float | None = None,
               batch_size: int | None = None) -> Predictor:
    """A predictor that reports regions for every image (the given one's settings otherwise kept)."""
    knobs = {"threshold": threshold, "batch_size": batch_size}
    knobs = {"region_when_negative": True, **{k: v for k, v in knobs.items() if v is not None}}
    if isinstance(checkpoint, Predictor):
        return checkpoint.with_config(dataclasses.replace(checkpoint.config, **knobs))
    return Predictor(checkpoint, InferenceConfig(**knobs))


def score_checkpoint(checkpoint: Checkpoint | Predictor, samples: list[Sample], batch_size: int | None = None,
                     progress: ProgressFn | None = None) -> ScoredSamples:
    """The model's logits on every readable sample; a set with no readable image is a ``DataError``."""
    scored, _ = score_with_maps(_predictor(checkpoint, batch_size=batch_size), samples, progress=progress)
    _refuse_unreadable(scored, samples)
    return scored


def _refuse_unreadable(scored: ScoredSamples, samples: list[Sample]) -> None:
    if samples and not len(scored.labels):
        raise DataError(f"none of the {len(samples)} images could be read (first: {scored.errors[0][0]}: "
                        f"{scored.errors[0][1]})")


def evaluate_localisation(checkpoint: Checkpoint | Predictor, samples: list[Sample], faithfulness: int = 0,
                          threshold: float | None = None) -> dict:
    """Localisation metrics on the labelled rip images of ``samples`` (see ``summarise_localisation``)."""
    labelled = [i for i, sample in enumerate(samples) if is_localisable(sample)]
    faithful = {labelled[k] for k in faithfulness_sample(len(labelled), faithfulness)}
    _, rows = score_with_maps(_predictor(checkpoint, threshold), samples, set(labelled), faithful)
    return summarise_localisation(rows)


EVAL_FILES = ("metrics.json", "predictions.json", "confusion_matrix.png", "roc.png", "pr.png", "reliability.png")
EVAL_MARKER = ".ripdetect-eval"  # in a folder eval writes: its files there are eval's to replace


def claim_eval_folder(out_dir: Path, overwrite: bool) -> None:
    """Make ``out_dir`` eval's (``files.claim_output_folder``)."""
    claim_output_folder(out_dir, EVAL_MARKER, EVAL_FILES, overwrite, "ripdetect eval")


def evaluate_checkpoint(checkpoint: Checkpoint | Predictor, samples: list[Sample], out_dir: str | Path | None = None,
                        batch_size: int | None = None, threshold: float | None = None, localisation: bool = True,
                        faithfulness: int = FAITHFULNESS_DEFAULT, progress: ProgressFn | None = None,
                        overwrite: bool = False) -> dict:
    """Metrics dict with the ``ripdetect eval`` keys, plus ``skipped`` and, if labels exist, ``localisation``
    (deletion/insertion AUCs on ``faithfulness`` of the labelled rip images)."""

    predictor = _predictor(checkpoint, threshold, batch_size)
    threshold = predictor.threshold
    labelled = [i for i, sample in enumerate(samples) if is_localisable(sample)] if localisation else []
    faithful = {labelled[k] for k in faithfulness_sample(len(labelled), faithfulness)}
    scored, rows = score_with_maps(predictor, samples, set(labelled), faithful, progress)
    _refuse_unreadable(scored, samples)
    probs = scored.probs_at(predictor.checkpoint.temperature)
    scored_samples = [samples[i] for i in scored.indices]
    report = grouped_report(scored.labels, probs, threshold, [s.viewpoint or "unspecified" for s in scored_samples],
                            [s.group_key for s in scored_samples])
    metrics = report["overall"]
    if any(s.viewpoint for s in scored_samples):
        metrics["by_viewpoint"] = report["by"]
    metrics["skipped"] = [{"path": path, "error": reason} for path, reason in scored.errors]
    if rows:
        metrics["localisation"] = summarise_localisation(rows)
    if out_dir is not None:
        out_dir = Path(out_dir)
        claim_eval_folder(out_dir, overwrite)
        plot_evaluation(scored.labels, probs, metrics["confusion_matrix"], threshold, out_dir)
        plot_reliability_of(scored.labels, probs, out_dir / "reliability.png")
        per_image = [{"path": samples[i].path, "label": int(samples[i].label), "prob_rip": float(p)}
                     for i, p in zip(scored.indices, probs)]
        write_json(out_dir / "predictions.json", per_image)
        write_json(out_dir / "metrics.json", metrics)
    return metrics
