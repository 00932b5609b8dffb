"""Temperature scaling (Guo et al. 2017): one scalar ``T`` so that ``sigmoid(rip_score / T)`` is calibrated.

``T`` is fitted on held-out rip scores (the validation folds), stored in the checkpoint, and applied by
``rip_prob(logits, temperature)`` everywhere a probability is shown. Thresholds live on the calibrated scale.
"""

from __future__ import annotations

import math

import numpy as np


def _nll(scores: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = scores / temperature
    # log(1 + exp(-z)) for rips and log(1 + exp(z)) for the rest, computed stably
    return float(np.mean(np.logaddexp(0.0, np.where(labels == 1, -z, z))))


def fit_temperature(scores: np.ndarray, labels: np.ndarray, low: float = 0.05, high: float = 20.0) -> float:
    """The temperature minimising the negative log-likelihood of ``labels`` given rip ``scores`` (log-odds).

    Returns 1.0 (no change) when both classes are not present."""
    from scipy.optimize import minimize_scalar

    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=int)
    if len(np.unique(labels)) < 2:
        return 1.0
    result = minimize_scalar(lambda log_t: _nll(scores, labels, math.exp(log_t)),
                             bounds=(math.log(low), math.log(high)), method="bounded")
    return float(math.exp(result.x))


def calibrated_probs(scores: np.ndarray, temperature: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(scores, dtype=float) / temperature))
