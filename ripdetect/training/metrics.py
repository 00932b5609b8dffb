"""Classification metrics (scikit-learn underneath) and the decision threshold chosen on validation."""

from __future__ import annotations

import math

import numpy as np

from ripdetect.decision import rip_mask
from ripdetect.viz.plots import plot_reliability


def confusion_matrix(labels: np.ndarray, preds: np.ndarray) -> list[list[int]]:
    """``[[tn, fp], [fn, tp]]`` for binary labels and predictions."""
    labels, preds = np.asarray(labels, dtype=int), np.asarray(preds, dtype=int)
    return [[int(np.sum((labels == truth) & (preds == guess))) for guess in (0, 1)] for truth in (0, 1)]


def classification_metrics(labels: np.ndarray, probs: np.ndarray, threshold) -> dict:
    """The ``ripdetect eval`` keys: accuracy, balanced_accuracy, precision, recall, f1, f2, roc_auc, brier,
    confusion_matrix ([[tn, fp], [fn, tp]]) and n. Undefined values (one class only) are ``None``.
    ``threshold`` is one value or one per image (then ``threshold`` is reported as their mean where they differ)."""
    from sklearn.metrics import brier_score_loss, fbeta_score, precision_score, recall_score, roc_auc_score

    labels = np.asarray(labels, dtype=int)
    probs = np.asarray(probs, dtype=float)
    preds = rip_mask(probs, threshold).astype(int)
    both_classes = len(np.unique(labels)) == 2
    (tn, fp), (fn, tp) = confusion_matrix(labels, preds)
    recall_pos = tp / (tp + fn) if tp + fn else None
    recall_neg = tn / (tn + fp) if tn + fp else None
    balanced = (recall_pos + recall_neg) / 2 if recall_pos is not None and recall_neg is not None else None
    return {
        "accuracy": float((preds == labels).mean()) if len(labels) else None,
        "balanced_accuracy": balanced,
        "precision": float(precision_score(labels, preds, zero_division=0)),
        "recall": float(recall_score(labels, preds, zero_division=0)),
        "f1": float(fbeta_score(labels, preds, beta=1.0, zero_division=0)),
        "f2": float(fbeta_score(labels, preds, beta=2.0, zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, probs)) if both_classes else None,
        "brier": float(brier_score_loss(labels, probs, pos_label=1)) if len(labels) else None,
        "ece": expected_calibration_error(labels, probs) if len(labels) else None,
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "n": int(len(labels)),
        "threshold": _one_threshold(threshold),
    }


def _one_threshold(threshold) -> float:
    """The threshold applied: the one value, or the mean of per-image thresholds when they differ."""
    values = np.asarray(threshold, dtype=float).ravel()
    return float(values[0]) if np.all(values == values[0]) else float(values.mean())


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """ECE: the mean gap between predicted probability and observed rip frequency over equal-width bins,
    weighted by the share of images in each bin."""
    labels, probs = np.asarray(labels, dtype=float), np.asarray(probs, dtype=float)
    index = np.minimum((probs * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            total += inside.mean() * abs(probs[inside].mean() - labels[inside].mean())
    return float(total)


def reliability_bins(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> list[dict]:
    """Per equal-width bin: mean predicted probability, observed rip frequency and count (empty bins left out)."""
    labels, probs = np.asarray(labels, dtype=float), np.asarray(probs, dtype=float)
    index = np.minimum((probs * bins).astype(int), bins - 1)
    return [{"low": b / bins, "high": (b + 1) / bins, "mean_prob": float(probs[index == b].mean()),
             "observed": float(labels[index == b].mean()), "n": int((index == b).sum())}
            for b in range(bins) if (index == b).any()]


def choose_threshold(labels: np.ndarray, probs: np.ndarray, mode: str = "max_f1", target_recall: float = 0.9,
                     default: float = 0.5) -> float:
    """Threshold on validation: max F1, max F2 (recall counts double), max balanced accuracy, or the highest
    threshold that reaches ``target_recall``."""
    labels = np.asarray(labels, dtype=int)
    probs = np.asarray(probs, dtype=float)
    if mode == "fixed" or len(np.unique(labels)) < 2:
        return default
    unique = np.unique(probs)
    candidates = np.concatenate([(unique[:-1] + unique[1:]) / 2, [default]])
    best, best_score = default, -math.inf
    for threshold in candidates:
        preds = rip_mask(probs, threshold)
        tp = int((preds & (labels == 1)).sum())
        fp = int((preds & (labels == 0)).sum())
        fn = int((~preds & (labels == 1)).sum())
        tn = int((~preds & (labels == 0)).sum())
        if mode == "recall":
            score = threshold if tp / max(tp + fn, 1) >= target_recall else -math.inf
        else:
            if mode == "max_f2":
                value = 5 * tp / max(5 * tp + 4 * fn + fp, 1)
            elif mode == "max_balanced_accuracy":
                value = (tp / max(tp + fn, 1) + tn / max(tn + fp, 1)) / 2
            else:
                value = 2 * tp / max(2 * tp + fp + fn, 1)
            score = value - 1e-6 * abs(threshold - 0.5)  # ties go to the threshold nearest 0.5
        if score > best_score:
            best, best_score = float(threshold), score
    return float(min(max(best, 0.01), 0.99))


def monitor_value(metrics: dict, name: str) -> float:
    value = metrics.get(name)
    return -math.inf if value is None else float(value)


def plot_reliability_of(labels: np.ndarray, probs: np.ndarray, path, bins: int = 10):
    """The reliability diagram of ``probs`` against ``labels`` (``ripdetect.viz.plots.plot_reliability``)."""
    labels, probs = np.asarray(labels, dtype=float), np.asarray(probs, dtype=float)
    brier = float(np.mean((probs - labels) ** 2)) if len(labels) else float("nan")
    return plot_reliability(reliability_bins(labels, probs, bins), brier, expected_calibration_error(labels, probs, bins),
                            path)
