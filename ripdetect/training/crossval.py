"""Grouped k-fold cross-validation over real images, and the finished model it chooses the settings for.

Real images are split into ``folds`` by site (``Sample.group``), stratified by label, so no beach is in both
training and validation. Each fold trains on the other folds' real images (repeated ``real_repeat`` times)
plus every extra sample (synthetic scenes, composites) whose group is not held out, for a fixed number of
epochs: the held-out fold never picks its own epoch. The pooled out-of-fold scores then give the calibration
temperature, the decision threshold (on the calibrated scale) and the reported metrics, per viewpoint with
bootstrap intervals. ``final=True`` trains one model on all the data and stores that temperature and threshold.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ripdetect import records
from ripdetect.config import InferenceConfig, TrainConfig, from_dict, to_dict
from ripdetect.data.layouts import Sample, manifest_hash
from ripdetect.errors import DataError, RipdetectError
from ripdetect.files import OutputExistsError, write_json
from ripdetect.inference.predictor import Predictor
from ripdetect.models.checkpoint import load_checkpoint, save_checkpoint
from ripdetect.models.classifier import create_model
from ripdetect.records import write_csv
from ripdetect.training.calibration import calibrated_probs, fit_temperature
from ripdetect.training.engine import FINAL_NAME, LAST_NAME, VAL_SCORES_NAME, ProgressFn
from ripdetect.training.evaluation import evaluate_localisation, score_checkpoint
from ripdetect.training.feature_cache import FeatureCache
from ripdetect.training.finalise import estimate_cam_scale
from ripdetect.training.metrics import choose_threshold, plot_reliability_of
from ripdetect.training.resume import STATE_JSON
from ripdetect.training.run import train_model
from ripdetect.training.uncertainty import _point_metrics, grouped_report

log = logging.getLogger(__name__)
PLAN_NAME, REPORT_NAME, OOF_NAME = "cv_plan.json", "cv_report.json", "oof_predictions.csv"
OOF_FIELDS = ("path", "label", "group", "viewpoint", "fold", "rip_score", "prob_rip", "prob_rip_cross_fitted")


def grouped_folds(samples: list[Sample], folds: int, seed: int) -> list[int]:
    """The fold of every sample: whole groups per fold, each fold with both classes where possible."""
    from sklearn.model_selection import StratifiedGroupKFold

    groups = [s.group_key for s in samples]
    labels = [s.label for s in samples]
    for label, name in ((1, "rip"), (0, "no_rip")):
        n_groups = len({g for g, y in zip(groups, labels) if y == label})
        if n_groups < folds:
            raise DataError(f"{folds} folds need at least {folds} sites with {name} images; there are {n_groups}")
    assignment = [0] * len(samples)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (_, val_index) in enumerate(splitter.split(np.zeros(len(samples)), labels, groups)):
        for i in val_index:
            assignment[i] = fold
    return assignment


def fold_training_set(real: list[Sample], extra: list[Sample], assignment: list[int], fold: int,
                      real_repeat: int) -> tuple[list[Sample], list[Sample]]:
    """(train, validation) of one fold; extra samples from a held-out group (composites of a held-out photo)
    are left out of training."""
    held_out = {s.group_key for s, f in zip(real, assignment) if f == fold}
    train_real = [s for s, f in zip(real, assignment) if f != fold]
    train_extra = [s for s in extra if s.group is None or s.group not in held_out]
    val = [dataclasses.replace(s, split="val") for s, f in zip(real, assignment) if f == fold]
    return train_extra + train_real * real_repeat, val


def _check_plan(out_dir: Path, plan: dict, overwrite: bool) -> None:
    """A cross-validation folder is reused (finished folds are skipped) only for the same settings and data.
    Settings added to ``TrainConfig`` since the folder was written count as their defaults."""
    saved = out_dir / PLAN_NAME
    if saved.is_file() and not overwrite:
        try:
            earlier = read_plan(out_dir)
            earlier["train_config"] = to_dict(earlier["train_config"])
        except DataError:
            earlier = None
        if json.loads(json.dumps(earlier)) != json.loads(json.dumps(plan)):
            raise OutputExistsError("holds a cross-validation with other settings or data; use another --out, or "
                                    "--overwrite to redo it", out_dir)
    write_json(saved, plan)


def read_plan(run_dir: str | Path) -> dict[str, Any]:
    """A cross-validation's ``cv_plan.json`` with its ``train_config`` as a ``TrainConfig`` (settings added since
    it was written take their defaults); ``DataError`` when there is none or it cannot be read."""

    try:
        plan = json.loads((Path(run_dir) / PLAN_NAME).read_text())
        plan["train_config"] = from_dict(TrainConfig, plan["train_config"])
    except (OSError, ValueError, KeyError, TypeError, RipdetectError):
        raise DataError(f"has no readable {PLAN_NAME}: not a finished cross-validation", run_dir) from None
    return plan


def _train_fold(train: list[Sample], val: list[Sample], train_config: TrainConfig, run_dir: Path,
                overwrite: bool, progress: ProgressFn | None, cache: _SharedCache | None = None) -> Path:

    if (run_dir / FINAL_NAME).is_file() and not overwrite:
        log.info("%s: already finished", run_dir)
        return run_dir / LAST_NAME
    resume = (run_dir / STATE_JSON).is_file() and not overwrite
    train_model(train, val, train_config, run_dir, resume=resume, overwrite=not resume, progress=progress,
                select_on_val=False, feature_cache=None if cache is None else cache.get(progress))
    return run_dir / LAST_NAME


class _SharedCache:
    """One feature cache for every fold and the final model (``feature_cache_views``): built when the first model
    that needs it trains, over all the training images any of them uses. The frozen stages are the same ImageNet
    weights in every fold, so one cache serves them all."""

    def __init__(self, train_config: TrainConfig, samples: list[Sample]):
        self.train_config, self.samples, self.cache = train_config, samples, None

    def get(self, progress: ProgressFn | None):
        if self.cache is None:
            model = create_model(self.train_config.model)
            self.cache = FeatureCache(model, self.samples, model.preprocessing, self.train_config, progress)
        return self.cache


def _pooled_epoch_curve(out_dir: Path, folds: int, real: list[Sample]) -> list[dict]:
    """ROC-AUC of the pooled out-of-fold scores after every epoch (a diagnostic of how long to train)."""

    label_of = {s.path: s.label for s in real}
    by_epoch: dict[int, dict[str, float]] = {}
    for fold in range(folds):
        path = out_dir / f"fold_{fold}" / VAL_SCORES_NAME
        for line in path.read_text().splitlines() if path.exists() else []:
            row = json.loads(line)
            by_epoch.setdefault(row["epoch"], {}).update(row["scores"])
    curve = []
    for epoch, scores in sorted(by_epoch.items()):
        if len(scores) == len(real):
            labels = np.array([label_of[p] for p in scores])
            metrics = _point_metrics(labels, 1 / (1 + np.exp(-np.array(list(scores.values())))), 0.5)
            curve.append({"epoch": epoch, "roc_auc": metrics["roc_auc"]})
    return curve


def cross_validate(real: list[Sample], extra: list[Sample], train_config: TrainConfig, out_dir: str | Path,
                   folds: int = 5, final: bool = True, overwrite: bool = False,
                   progress: ProgressFn | None = None) -> dict[str, Any]:
    """Run the grouped cross-validation (and the final model); returns the report written to cv_report.json."""

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    real_repeat = train_config.real_repeat
    assignment = grouped_folds(real, folds, train_config.seed)
    plan = {"train_config": to_dict(train_config), "folds": folds,
            "real_sha256": manifest_hash(real), "extra_sha256": manifest_hash(extra),
            "assignment": {s.path: f for s, f in zip(real, assignment)}}
    _check_plan(out_dir, plan, overwrite)
    cache = _SharedCache(train_config, extra + real * real_repeat) if train_config.feature_cache_views else None
    oof_scores = np.zeros(len(real))
    for fold in range(folds):
        train, val = fold_training_set(real, extra, assignment, fold, real_repeat)
        if progress:
            progress("fold", {"fold": fold + 1, "folds": folds, "n_train": len(train), "n_val": len(val)})
        model_path = _train_fold(train, val, train_config, out_dir / f"fold_{fold}", overwrite, progress, cache)
        scored = score_checkpoint(load_checkpoint(model_path), val)
        index = [i for i, f in enumerate(assignment) if f == fold]
        oof_scores[[index[j] for j in scored.indices]] = scored.scores
    labels = np.array([s.label for s in real])
    report = out_of_fold_report(labels, oof_scores, assignment, [s.viewpoint or "unspecified" for s in real],
                                [s.group_key for s in real], train_config.threshold_mode, train_config.target_recall)
    temperature, threshold = report["temperature"], report["threshold"]
    probs = calibrated_probs(oof_scores, temperature)
    report.update(n_real=len(real), n_extra=len(extra), epoch_curve=_pooled_epoch_curve(out_dir, folds, real))
    localisation = _out_of_fold_localisation(real, assignment, out_dir, folds, temperature, threshold)
    if localisation:
        report["localisation"] = localisation
    cross_fitted = np.asarray(report.pop("cross_fitted_probs"))
    _write_predictions(out_dir / OOF_NAME, real, assignment, oof_scores, probs, cross_fitted)
    plot_reliability_of(labels, cross_fitted, out_dir / "reliability.png")
    if final:
        report["final_model"] = str(train_final(real, extra, train_config, out_dir / "final", temperature,
                                                threshold, report, overwrite, progress, cache))
    write_json(out_dir / REPORT_NAME, report)
    return report


def out_of_fold_report(labels, scores, assignment, viewpoints, groups, threshold_mode: str,
                       target_recall: float = 0.9) -> dict[str, Any]:
    """Metrics of out-of-fold rip scores, per viewpoint with cluster-bootstrap intervals, whose decisions no
    image helped to make: each fold is decided by the temperature and threshold fitted on the other folds'
    scores (cross-fitting). ROC-AUC ranks the raw scores; probabilities (Brier, ECE) use the temperature fitted
    on all the scores, and ``brier_cross_fitted`` the other folds' temperatures. ``temperature`` and
    ``threshold`` are those fitted on all the scores: what a model trained on all the data ships with."""

    labels, scores, assignment = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float), np.asarray(assignment)
    temperature = fit_temperature(scores, labels)
    probs = calibrated_probs(scores, temperature)
    cross_fitted, thresholds = np.zeros(len(scores)), np.zeros(len(scores))
    per_fold = {}
    for fold in np.unique(assignment):
        inside, rest = assignment == fold, assignment != fold
        fold_temperature = fit_temperature(scores[rest], labels[rest])
        threshold = choose_threshold(labels[rest], calibrated_probs(scores[rest], fold_temperature), threshold_mode,
                                     target_recall)
        cross_fitted[inside] = calibrated_probs(scores[inside], fold_temperature)
        # the same decision (score / T_fold >= logit(threshold)) on the shared probability scale
        raw = fold_temperature * np.log(max(threshold, 1e-6) / max(1 - threshold, 1e-6))
        thresholds[inside] = calibrated_probs(np.array([raw]), temperature)[0]
        per_fold[int(fold)] = {"temperature": round(fold_temperature, 4), "threshold": round(threshold, 4)}
    report = grouped_report(labels, probs, thresholds, viewpoints, groups)
    report.update(temperature=temperature,
                  threshold=choose_threshold(labels, probs, threshold_mode, target_recall),
                  folds=len(per_fold), cross_fitted=per_fold, cross_fitted_probs=cross_fitted.tolist(),
                  brier_cross_fitted=float(np.mean((cross_fitted - labels) ** 2)),
                  uncalibrated_brier=float(np.mean((calibrated_probs(scores, 1.0) - labels) ** 2)))
    return report


def _out_of_fold_localisation(real, assignment, out_dir: Path, folds: int, temperature: float,
                              threshold: float) -> dict | None:
    """Pointing, centroid-in-box and IoU on the labelled rip images, each seen by the model that did not train
    on it."""

    rows = []
    for fold in range(folds):
        labelled = [s for s, f in zip(real, assignment) if f == fold and s.label == 1 and not s.region.is_empty]
        if labelled:
            checkpoint = load_checkpoint(out_dir / f"fold_{fold}" / LAST_NAME)
            checkpoint.metadata.update(temperature=temperature)
            predictor = Predictor(checkpoint, InferenceConfig(threshold=threshold, region_when_negative=True))
            rows += evaluate_localisation(predictor, labelled)["per_image"]
    scored = [row for row in rows if "error" not in row]
    if not scored:
        return None
    return {"n": len(scored), **{name: records.share(np.mean([row[key] for row in scored])) for key, name in
                                 (("pointing_hit", "pointing_game"), ("centroid_hit", "centroid_in_region"),
                                  ("energy_pointing", "energy_pointing"), ("iou", "iou"))}, "per_image": rows}


def _write_predictions(path: Path, real: list[Sample], assignment: list[int], scores: np.ndarray,
                       probs: np.ndarray, cross_fitted: np.ndarray) -> None:
    """One row per real image: its out-of-fold rip score, the probability under the shipped temperature and
    under the temperature fitted on the other folds."""
    rows = [[sample.path, sample.label, sample.group_key, sample.viewpoint or "", fold, records.prob(score),
             records.prob(prob), records.prob(fitted)]
            for sample, fold, score, prob, fitted in zip(real, assignment, scores, probs, cross_fitted)]
    write_csv(path, rows, OOF_FIELDS)


def read_predictions(run_dir: str | Path) -> list[dict]:
    """The rows of a cross-validation's ``oof_predictions.csv``."""
    path = Path(run_dir) / OOF_NAME
    if not path.is_file():
        raise DataError("has no oof_predictions.csv: not a finished cross-validation", run_dir)
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def ensemble_report(run_dirs: list[str | Path]) -> dict[str, Any]:
    """Average the calibrated log-odds of several cross-validations run on the same folds (each image is scored
    only by models that never trained on its site), and report the average like one model's out-of-fold scores,
    with the first run's threshold mode."""

    train_config = read_plan(run_dirs[0])["train_config"]
    runs = [read_predictions(run_dir) for run_dir in run_dirs]
    first = runs[0]
    for run_dir, rows in zip(run_dirs[1:], runs[1:]):
        if [(r["path"], r["fold"]) for r in rows] != [(r["path"], r["fold"]) for r in first]:
            raise DataError(f"has other images or folds than {run_dirs[0]}; an ensemble needs the same folds", run_dir)
    labels = np.array([int(r["label"]) for r in first])
    log_odds = []
    for rows in runs:
        scores = np.array([float(r["rip_score"]) for r in rows])
        log_odds.append(scores / fit_temperature(scores, labels))
    report = out_of_fold_report(labels, np.mean(log_odds, axis=0), [int(r["fold"]) for r in first],
                                [r["viewpoint"] or "unspecified" for r in first], [r["group"] for r in first],
                                train_config.threshold_mode, train_config.target_recall)
    report.pop("cross_fitted_probs")
    return report


def train_final(real: list[Sample], extra: list[Sample], train_config: TrainConfig, run_dir: Path,
                temperature: float, threshold: float, cv_report: dict, overwrite: bool,
                progress: ProgressFn | None, cache: _SharedCache | None = None) -> Path:
    """One model on all the data, for the same fixed epochs, carrying the cross-validated temperature, threshold
    and metrics (the CAM display scale is estimated on the real rip images)."""

    train = extra + real * train_config.real_repeat
    if progress:
        progress("fold", {"fold": "final", "folds": cv_report["folds"], "n_train": len(train), "n_val": 0})
    _train_fold(train, [], train_config, run_dir, overwrite, progress, cache)
    last = load_checkpoint(run_dir / LAST_NAME)
    summary = {key: cv_report["overall"][key] for key in ("balanced_accuracy", "roc_auc", "f2", "brier", "ece", "n")}
    metadata = {**last.metadata, "temperature": temperature, "model_id": run_dir.parent.name,
                "cam_scale": estimate_cam_scale(last, real), "metrics": summary,
                "cross_validation": {"folds": cv_report["folds"], "overall": summary,
                                     "by_viewpoint": {v: {k: m[k] for k in summary} | {"intervals": m["intervals"]}
                                                      for v, m in cv_report["by"].items()}}}
    return save_checkpoint(run_dir / FINAL_NAME, last.model, threshold, metadata)
