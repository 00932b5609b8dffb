"""The decision, made once: whether an image or a frame shows a rip, and every rule that says which threshold decides.

A ``Decision`` holds a rip probability, the threshold it was judged against (to 2 decimals: the value shown is the
value applied), whether that is a rip, the words people read and the label machines read. The library makes one per
image or frame and every output reads it: banners, headlines, JSON lines, CSV rows, captions, alerts and metrics. No
front end compares a probability with a threshold itself; metrics over arrays use ``rip_mask``.

The vocabularies, each used everywhere:

- for people: ``RIP CURRENT`` (a rip), ``possible rip`` (a video's window above the on threshold, not yet confirmed),
  ``no rip``; a probability is written ``p = 0.91``;
- for machines: the model's class names, ``rip`` and ``no_rip`` by default, and ``rip``, ``possible_rip`` and
  ``clear`` for a video's states.

The rules: a run's threshold is the configured one, else the model's (``applied_threshold``); a video's hysteresis
starts an event when the window mean reaches the on threshold and ends it below the off threshold, 0.8 × on unless
given (``video_thresholds``); the on threshold is the configured one, else the run's threshold when one was given,
else the model's video threshold (``model_video_threshold``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ripdetect import records
from ripdetect.config import CLASS_NAMES, VideoConfig, decision_threshold
from ripdetect.errors import ConfigError

RIP_WORD, POSSIBLE_RIP_WORD, NO_RIP_WORD = "RIP CURRENT", "possible rip", "no rip"
STATE_WORDS = {"rip": RIP_WORD, "possible_rip": POSSIBLE_RIP_WORD, "clear": NO_RIP_WORD}
OFF_THRESHOLD_RATIO = 0.8  # a video's off threshold, when not given, as a share of its on threshold


def prob_text(prob: float) -> str:
    """A probability as people read it everywhere: ``p = 0.91``."""
    return f"p = {prob:.2f}"


@dataclass(frozen=True)
class Decision:
    """One image's or frame's verdict: ``prob_rip`` judged against ``threshold`` (already to 2 decimals)."""

    prob_rip: float
    threshold: float
    class_names: tuple[str, str] = CLASS_NAMES

    @property
    def is_rip(self) -> bool:
        return bool(self.prob_rip >= self.threshold)

    @property
    def label(self) -> str:
        """The label machines read: the model's class name (``rip`` / ``no_rip`` by default)."""
        return self.class_names[int(self.is_rip)]

    @property
    def verdict(self) -> str:
        """The word people read: ``RIP CURRENT`` or ``no rip``."""
        return RIP_WORD if self.is_rip else NO_RIP_WORD

    @property
    def state(self) -> str:
        """The machine word of a frame's state, ``rip`` or ``clear`` (a single frame is never ``possible_rip``)."""
        return "rip" if self.is_rip else "clear"

    def headline(self) -> str:
        """Verdict first, then the probability and the threshold: ``RIP CURRENT  p = 0.91  (threshold 0.52)``."""
        return f"{self.verdict}  {prob_text(self.prob_rip)}  (threshold {self.threshold:.2f})"

    def to_dict(self) -> dict:
        return {"label": self.label, "prob_rip": records.prob(self.prob_rip), "threshold": self.threshold}


def decide(prob_rip: float, threshold: float, class_names: tuple[str, str] = CLASS_NAMES) -> Decision:
    """The decision for one probability at ``threshold`` (used to 2 decimals)."""
    return Decision(float(prob_rip), decision_threshold(threshold), tuple(class_names))


def rip_mask(probs, threshold) -> np.ndarray:
    """The decisions of many probabilities at once (``threshold``: one value, or one per probability), for metrics:
    the same comparison as ``Decision.is_rip``."""
    return np.asarray(probs, dtype=float) >= np.asarray(threshold, dtype=float)


def applied_threshold(configured: float | None, model_threshold: float) -> float:
    """The threshold a run applies: the configured one (a flag, a slider, a camera's profile), else the model's;
    to 2 decimals. A configured 0.0 is a threshold like any other."""
    return decision_threshold(model_threshold if configured is None else configured)


def model_video_threshold(metadata: dict, threshold: float) -> float:
    """The threshold a model's video decision starts events at: its ``video_on_threshold`` (chosen on real no-rip
    video and synthetic rip clips, ``ripdetect eval-video --sweep``) where it carries one, else its image threshold."""
    given = metadata.get("video_on_threshold")
    return float(given) if isinstance(given, (int, float)) and 0.0 <= given <= 1.0 else threshold


def video_thresholds(video_config: VideoConfig, model_threshold: float) -> tuple[float, float]:
    """A video's (on, off) hysteresis thresholds: on is the configured one, else ``model_threshold`` (the threshold
    the run applies to single frames); off is the configured one, else ``OFF_THRESHOLD_RATIO`` × on. Both to 2
    decimals; an off above on is a one-line ``ConfigError``."""
    on = applied_threshold(video_config.on_threshold, model_threshold)
    off = applied_threshold(video_config.off_threshold, on * OFF_THRESHOLD_RATIO)
    if off > on:
        raise ConfigError(f"off threshold {off:g} must not exceed the on threshold {on:g}")
    return on, off


MOTION_SCALE = 0.01  # seaward motion strength is counted in units of 1 % of the frame's width per second


@dataclass(frozen=True)
class MotionFusion:
    """How a video's window weighs the model's mean probability against the seaward flow of its water
    (``ripdetect.video.motion``): ``logit p = appearance * logit(window mean) + motion * strength / MOTION_SCALE +
    bias``, where a strength above ``cap`` counts as ``cap``. The hysteresis then runs on this p. Fitted on held-out
    synthetic clips (``bench/motion_bench.py``); a checkpoint may carry its own (``motion_fusion`` in its metadata)."""

    appearance: float = 1.0
    motion: float = 0.0
    bias: float = 0.0
    cap: float = 4.0

    def window_prob(self, appearance_mean: float, motion_strength: float) -> float:
        p = min(max(appearance_mean, 1e-6), 1 - 1e-6)
        logit = self.appearance * math.log(p / (1 - p)) + self.motion * min(motion_strength / MOTION_SCALE, self.cap)
        return 1.0 / (1.0 + math.exp(-(logit + self.bias)))


DEFAULT_MOTION_FUSION = MotionFusion(1.0, 0.0, 0.0)


def motion_fusion(metadata: dict) -> MotionFusion:
    """The model's own fusion (its metadata's ``motion_fusion``), else the default."""
    given = metadata.get("motion_fusion")
    return MotionFusion(**given) if isinstance(given, dict) else DEFAULT_MOTION_FUSION
