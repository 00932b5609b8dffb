"""Teach the model one camera (``ripdetect adapt``): a new head on the frozen, water-gated evidence features, pulled
toward the base model's head, from a few dozen of the camera's own labelled frames.

A fixed camera sees the same beach every day, so what it needs to learn is mostly its own normal: its surf, light and
structures, which the base model may take for rips. The backbone stays as it is (a few frames cannot retrain it);
only the linear head that turns the pooled evidence into a rip score moves, and an L2 pull toward the base head keeps
what the base model knows of rips (``AdaptConfig.strength``). What it learns from:

- the camera's labelled frames, each seen in several augmented views (crop, flip, light);
- rips painted into the camera's own calm frames (``ripdetect.synth.composite``, inside its region of interest or
  the water the base model sees), so even an operator who has only labelled calm days teaches it what a rip looks
  like here, with matched edits that are not rips;
- a few synthetic rip and calm scenes, replayed so the base model's knowledge of rips is not forgotten.

The before/after is honest: every held-out day is scored by a head fitted on the other days only, beside the base
model, at the base model's threshold (``cross_validate_camera``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ripdetect.config import AdaptConfig
from ripdetect.data.images import TRAINING_MAX_SIDE, load_image_rgb
from ripdetect.decision import rip_mask
from ripdetect.errors import InputError
from ripdetect.explain.regions import upsample_cam
from ripdetect.inference.predictor import Predictor
from ripdetect.inference.roi import Roi
from ripdetect.files import file_digest
from ripdetect.models.checkpoint import Checkpoint, save_checkpoint
from ripdetect.synth.composite import composite_distractor, composite_rip
from ripdetect.synth.writer import labelled_scene
from ripdetect.cameras.adapt_labels import CameraLabels
from ripdetect.training.metrics import classification_metrics

log = logging.getLogger(__name__)
ProgressFn = Callable[[str, float], None]
FIT_STEPS = 100  # L-BFGS iterations of the head fit (it converges well before)


@dataclass
class Views:
    """Pooled features of augmented views, with their labels and where they came from."""

    features: torch.Tensor  # (N, C)
    labels: np.ndarray  # (N,)
    frame: np.ndarray  # (N,) index of the labelled frame, or -1 for a replayed synthetic scene
    composite: np.ndarray  # (N,) bool: a rip or an edit painted into a calm frame

    def select(self, keep: np.ndarray) -> Views:
        return Views(self.features[keep], self.labels[keep], self.frame[keep], self.composite[keep])


def _augment(image_rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A mild view of a fixed camera's frame: a crop of 85-100 % of its area, a flip, other light."""
    height, width = image_rgb.shape[:2]
    scale = np.sqrt(rng.uniform(0.85, 1.0))
    h, w = max(8, int(height * scale)), max(8, int(width * scale))
    y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    view = image_rgb[y:y + h, x:x + w]
    if rng.random() < 0.5:
        view = view[:, ::-1]
    gain, offset = rng.uniform(0.85, 1.15), rng.uniform(-15, 15)
    return np.clip(view.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


@torch.no_grad()
def pooled(predictor: Predictor, images_rgb: list[np.ndarray]) -> torch.Tensor:
    """The features the head sees, for a batch of images."""
    model = predictor.model
    batch = torch.stack([predictor.preprocessing(image) for image in images_rgb])
    return model.pooled_features(batch).float()


def _water_mask(predictor: Predictor, image_rgb: np.ndarray, roi: Roi | None) -> np.ndarray | None:
    """Where the sea is in a calm frame: the operator's region of interest, else the base model's water head."""
    height, width = image_rgb.shape[:2]
    if roi is not None:
        return roi.mask(height, width)
    _, _, water = predictor.probabilities_and_maps([image_rgb])
    return None if water is None else upsample_cam(water[0], height, width) >= 0.5


def camera_views(predictor: Predictor, labels: CameraLabels, adapt_config: AdaptConfig, roi: Roi | None = None,
                 progress: ProgressFn | None = None) -> Views:
    """Every labelled frame's views, the composites painted into its calm frames, and the replayed scenes."""
    rng = np.random.default_rng(adapt_config.seed)
    features, ys, frames, painted = [], [], [], []

    def add(images: list[np.ndarray], label: int, frame: int, composite: bool) -> None:
        features.append(pooled(predictor, images))
        ys.extend([label] * len(images))
        frames.extend([frame] * len(images))
        painted.extend([composite] * len(images))

    for index, sample in enumerate(labels.samples):
        try:
            image = load_image_rgb(sample.path, max_side=TRAINING_MAX_SIDE)
        except InputError as exc:
            raise InputError(f"cannot read a labelled frame: {exc.reason}", sample.path) from None
        add([_augment(image, rng) for _ in range(adapt_config.views)], sample.label, index, False)
        if sample.label == 0 and adapt_config.composites:
            water = _water_mask(predictor, image, roi)
            for _ in range(adapt_config.composites if water is not None else 0):
                rip = composite_rip(image, water, rng)
                if rip is not None:
                    add([_augment(rip.image, rng) for _ in range(2)], 1, index, True)
                    edit = composite_distractor(image, water, rng)
                    add([_augment(edit.image, rng) for _ in range(2)], 0, index, True)
        if progress:
            progress(f"frame {index + 1} of {len(labels.samples)}", (index + 1) / len(labels.samples) * 0.8)
    height, width = labels.size[1], labels.size[0]
    scale = min(1.0, 640 / max(height, width))
    size = (max(64, int(width * scale)) // 2 * 2, max(64, int(height * scale)) // 2 * 2)
    for index in range(adapt_config.replay):
        _, rendered = labelled_scene(adapt_config.seed + 7919, index, index % 2 == 0, "mixed", *size)
        add([rendered.image], int(index % 2 == 0), -1, False)
    if progress:
        progress("views ready", 0.9)
    return Views(torch.cat(features), np.asarray(ys), np.asarray(frames), np.asarray(painted))


def fit_head(views: Views, base_weight: torch.Tensor, base_bias: float, temperature: float,
             strength: float) -> tuple[torch.Tensor, float]:
    """The rip direction ``u`` and bias ``c`` of a new head: classes balanced, cross-entropy on the calibrated score
    ``(u . z + c) / temperature``, plus ``strength`` times the squared change of ``u`` relative to the base
    direction's size (and of ``c``, relative to 1)."""
    z = views.features
    y = torch.as_tensor(views.labels, dtype=torch.float32)
    counts = torch.bincount(y.long(), minlength=2).clamp(min=1).float()
    weights = torch.where(y > 0, 0.5 / counts[1], 0.5 / counts[0])
    delta = torch.zeros_like(base_weight, requires_grad=True)
    shift = torch.zeros(1, requires_grad=True)
    scale = float(base_weight.norm() ** 2) + 1e-6
    optimizer = torch.optim.LBFGS([delta, shift], max_iter=FIT_STEPS, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        score = (z @ (base_weight + delta) + base_bias + shift) / temperature
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(score, y, reduction="none") * weights).sum()
        loss = loss + strength * (delta.pow(2).sum() / scale + shift.pow(2).sum())
        loss.backward()
        return loss

    optimizer.step(closure)
    return (base_weight + delta).detach(), float(base_bias + shift.detach())


def head_of(checkpoint: Checkpoint) -> tuple[torch.Tensor, float]:
    """The base model's rip direction and bias (``rip_score = u . z + c``)."""
    model = checkpoint.model
    bias = model.head.bias.detach()
    return model.rip_head_weight().detach().float(), float(bias[1] - bias[0] if len(bias) == 2 else bias[0])


def with_head(model: torch.nn.Module, direction: torch.Tensor, bias: float) -> None:
    """Set ``model``'s head so that its rip score is ``direction . z + bias`` (the no-rip logit is kept)."""
    with torch.no_grad():
        if model.head.weight.shape[0] == 2:
            model.head.weight[1] = model.head.weight[0] + direction
            model.head.bias[1] = model.head.bias[0] + bias
        else:
            model.head.weight[0] = direction
            model.head.bias[0] = bias


def scores_of(views: Views, direction: torch.Tensor, bias: float, temperature: float) -> np.ndarray:
    """Calibrated p(rip) of every view under a head."""
    return torch.sigmoid((views.features @ direction + bias) / temperature).numpy()


def frame_probs(views: Views, probs: np.ndarray, frames: list[int]) -> np.ndarray:
    """One probability per labelled frame: the mean over its own views (composites left out)."""
    own = (~views.composite) & (views.frame >= 0)
    return np.array([probs[own & (views.frame == f)].mean() for f in frames])


def cross_validate_camera(views: Views, labels: CameraLabels, base: Checkpoint, threshold: float,
                          adapt_config: AdaptConfig) -> dict:
    """Leave one day out: each day's frames scored by the base model and by a head fitted on the other days only,
    both at ``threshold``; the pooled results, and the sentence an operator reads."""
    direction0, bias0 = head_of(base)
    temperature = base.temperature
    days = sorted(set(labels.days))
    base_p, adapted_p, truth, order = [], [], [], []
    for day in days:
        held = [i for i, d in enumerate(labels.days) if d == day]
        train = views.select(~np.isin(views.frame, held))
        direction, bias = fit_head(train, direction0, bias0, temperature, adapt_config.strength)
        base_p.append(frame_probs(views, scores_of(views, direction0, bias0, temperature), held))
        adapted_p.append(frame_probs(views, scores_of(views, direction, bias, temperature), held))
        truth.append([labels.samples[i].label for i in held])
        order += held
    truth_, base_, adapted_ = (np.concatenate(a) for a in (truth, base_p, adapted_p))
    report = {"days": len(days), "frames": len(truth_), "rips": int(truth_.sum()), "threshold": threshold,
              "base": _counts(truth_, base_, threshold), "adapted": _counts(truth_, adapted_, threshold)}
    report["sentence"] = sentence(report)
    return report


def _counts(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict:
    called = rip_mask(probs, threshold)
    metrics = classification_metrics(labels, probs, threshold)
    return {"rips_caught": int((called & (labels == 1)).sum()), "false_alarms": int((called & (labels == 0)).sum()),
            "balanced_accuracy": metrics["balanced_accuracy"], "roc_auc": metrics["roc_auc"],
            "mean_prob_calm": float(probs[labels == 0].mean()) if (labels == 0).any() else None}


def sentence(report: dict) -> str:
    """The before/after in one sentence, for the operator."""
    base, adapted, rips = report["base"], report["adapted"], report["rips"]
    calm = report["frames"] - rips
    days = f"On {report['days']} held-out days ({report['frames']} frames)"
    if rips:
        return (f"{days}, the adapted model caught {adapted['rips_caught']} of {rips} rips and raised "
                f"{adapted['false_alarms']} false alarm(s) on {calm} calm frames, where the base model caught "
                f"{base['rips_caught']} and raised {base['false_alarms']}.")
    return (f"{days}, all calm, the adapted model raised {adapted['false_alarms']} false alarm(s) on {calm} frames "
            f"where the base model raised {base['false_alarms']}; no labelled rip was there to check that rips are "
            "still caught (the base model's head, composites and replayed scenes keep them).")


def save_adapted(out: str | Path, base: Checkpoint, model: torch.nn.Module, labels: CameraLabels, camera: str,
                 adapt_config: AdaptConfig, report: dict, threshold: float, overwrite: bool = False) -> Path:
    """The adapted model as a normal checkpoint: the base model's metadata, a model id naming the camera, and what it
    was adapted from (the base model and its digest, the camera, the labels' digest, the settings, the report)."""
    metadata = {**base.metadata, "model_id": f"{camera}-adapted-{base.model_id}",
                "adapted": {"base_model": base.model_id, "base_digest": file_digest(base.path) if base.path else None,
                            "camera": camera, "labels_digest": labels.digest, "config": vars(adapt_config),
                            "report": report}}
    return save_checkpoint(out, model, threshold, metadata, overwrite=overwrite)


def adapt_camera(base: Checkpoint, labels: CameraLabels, adapt_config: AdaptConfig, threshold: float,
                 roi: Roi | None = None, progress: ProgressFn | None = None) -> tuple[torch.nn.Module, dict]:
    """The adapted model (the base model with a new head fitted on every labelled day) and the before/after."""
    predictor = Predictor(base)
    views = camera_views(predictor, labels, adapt_config, roi, progress)
    report = cross_validate_camera(views, labels, base, threshold, adapt_config)
    direction0, bias0 = head_of(base)
    direction, bias = fit_head(views, direction0, bias0, base.temperature, adapt_config.strength)
    model = copy.deepcopy(base.model)
    with_head(model, direction, bias)
    report.update(composites=int((views.composite & (views.labels == 1)).sum()), views=len(views.labels))
    if progress:
        progress("adapted", 1.0)
    log.info("%s", report["sentence"])
    return model, report

