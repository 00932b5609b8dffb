"""Bootstrap 95% intervals for classification metrics, overall and per group (e.g. per viewpoint).

With few images, where they come from matters: when sites are given, the bootstrap resamples whole sites
(a cluster bootstrap), so correlated photos from one beach do not narrow the interval falsely.
"""

from __future__ import annotations

import numpy as np

from ripdetect.decision import rip_mask
from ripdetect.training.metrics import classification_metrics

INTERVAL_KEYS = ("balanced_accuracy", "roc_auc", "f2", "brier")


def _point_metrics(labels: np.ndarray, probs: np.ndarray, threshold) -> dict[str, float | None]:
    preds = rip_mask(probs, threshold)
    positives, negatives = labels == 1, labels == 0
    tp, fn = int((preds & positives).sum()), int((~preds & positives).sum())
    tn, fp = int((~preds & negatives).sum()), int((preds & negatives).sum())
    both = positives.any() and negatives.any()
    auc = None
    if both:  # Mann-Whitney U with ties counted half
        pos, neg = probs[positives][:, None], probs[negatives][None, :]
        auc = float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))
    return {
        "balanced_accuracy": (tp / (tp + fn) + tn / (tn + fp)) / 2 if both else None,
        "roc_auc": auc,
        "f2": 5 * tp / (5 * tp + 4 * fn + fp) if tp + fn + fp else None,
        "brier": float(np.mean((probs - labels) ** 2)) if len(labels) else None,
    }


def bootstrap_intervals(labels, probs, threshold, groups=None, n_boot: int = 2000,
                        seed: int = 0) -> dict[str, list[float] | None]:
    """``{metric: [low, high]}`` 95% percentile intervals; resamples groups when ``groups`` is given, images
    otherwise. A metric undefined in a resample (one class only) is left out of that resample. ``threshold``
    is one value or one per image."""
    labels, probs = np.asarray(labels, dtype=int), np.asarray(probs, dtype=float)
    threshold = np.broadcast_to(np.asarray(threshold, dtype=float), probs.shape)
    groups = np.asarray(groups if groups is not None else np.arange(len(labels)))
    unique = np.unique(groups)
    members = [np.nonzero(groups == g)[0] for g in unique]
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {key: [] for key in INTERVAL_KEYS}
    for _ in range(n_boot):
        index = np.concatenate([members[i] for i in rng.integers(0, len(unique), len(unique))])
        for key, value in _point_metrics(labels[index], probs[index], threshold[index]).items():
            if value is not None:
                draws[key].append(value)
    return {key: ([float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
                  if len(values) >= n_boot // 2 else None) for key, values in draws.items()}


def metrics_with_intervals(labels, probs, threshold, groups=None, n_boot: int = 2000, seed: int = 0) -> dict:
    """The ``ripdetect eval`` metrics plus ``intervals`` (bootstrap 95%) for the main ones."""

    metrics = classification_metrics(labels, probs, threshold)
    metrics["intervals"] = bootstrap_intervals(labels, probs, threshold, groups, n_boot, seed)
    return metrics


def grouped_report(labels, probs, threshold, by, groups=None, n_boot: int = 2000, seed: int = 0) -> dict:
    """``{"overall": metrics, "by": {value: metrics}}`` where images are split by ``by`` (e.g. viewpoints);
    ``groups`` (sites) drive the cluster bootstrap; ``threshold`` is one value or one per image."""
    labels, probs, by = np.asarray(labels, dtype=int), np.asarray(probs, dtype=float), np.asarray(by, dtype=object)
    threshold = np.broadcast_to(np.asarray(threshold, dtype=float), probs.shape)
    groups = np.asarray(groups, dtype=object) if groups is not None else None
    report = {"overall": metrics_with_intervals(labels, probs, threshold, groups, n_boot, seed), "by": {}}
    for value in sorted({str(v) for v in by}):
        inside = np.asarray([str(v) == value for v in by])
        report["by"][value] = metrics_with_intervals(labels[inside], probs[inside], threshold[inside],
                                                     groups[inside] if groups is not None else None, n_boot, seed)
    return report
