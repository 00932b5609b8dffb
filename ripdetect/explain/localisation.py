"""How well CAM maps localise rips (pointing game, energy pointing, IoU) and how faithful they are
(deletion / insertion AUC)."""

from __future__ import annotations

import numpy as np
import torch

from ripdetect import records
from ripdetect.data.images import stored_size
from ripdetect.errors import InputError
from ripdetect.explain.regions import upsample_cam
from ripdetect.models.classifier import rip_prob


def pointing_hit(cam_up: np.ndarray, truth: np.ndarray) -> bool:
    """Is the map's maximum inside the true region?"""
    y, x = np.unravel_index(int(np.argmax(cam_up)), cam_up.shape)
    return bool(truth[y, x])


def energy_pointing(cam_up: np.ndarray, truth: np.ndarray) -> float:
    """Share of the map's mass inside the true region."""
    total = float(cam_up.sum())
    return float(cam_up[truth].sum() / total) if total > 0 else 0.0


def mask_iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    union = np.logical_or(predicted, truth).sum()
    return float(np.logical_and(predicted, truth).sum() / union) if union else 0.0


def deletion_insertion_auc(model, tensor: torch.Tensor, cam: np.ndarray, steps: int = 16,
                           temperature: float = 1.0) -> tuple[float, float]:
    """Rip probability as the most relevant pixels are removed (deletion: replaced by a blurred copy) or
    added (insertion: revealed over the blurred copy); AUC is the mean over evenly spaced fractions. ``model``
    maps a batch to logits (a module, or a backend's ``logits``); all ``2 * (steps + 1)`` perturbed images go
    through it in one batched call."""
    import torch.nn.functional as F

    size = tensor.shape[-1]
    relevance = torch.from_numpy(upsample_cam(cam, size, size)).flatten()
    order = torch.argsort(relevance, descending=True)
    blurred = F.avg_pool2d(tensor[None], 15, stride=1, padding=7, count_include_pad=False)[0]
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    fractions = torch.linspace(0, 1, steps + 1)
    keep_top = (rank[None, :] < (fractions[:, None] * order.numel())).reshape(-1, 1, size, size).float()
    deletion = tensor[None] * (1 - keep_top) + blurred[None] * keep_top
    insertion = blurred[None] * (1 - keep_top) + tensor[None] * keep_top
    with torch.no_grad():
        probs = rip_prob(model(torch.cat([deletion, insertion])), temperature)
    mean = lambda p: float(torch.trapezoid(p, fractions))  # noqa: E731
    return mean(probs[: steps + 1]), mean(probs[steps + 1:])


def centroid_hit(region, truth: np.ndarray) -> bool:
    """Does the region's centroid fall inside the true region? (No region: a miss.)"""
    if region is None:
        return False
    x, y = (int(round(v)) for v in region.centroid)
    return bool(truth[min(max(y, 0), truth.shape[0] - 1), min(max(x, 0), truth.shape[1] - 1)])


def localisation_row(predictor, sample, image_rgb: np.ndarray, prob: float, cam: np.ndarray,
                     water: np.ndarray | None = None, faithful: bool = False) -> dict:
    """One labelled rip image's metrics from the map of the pass that classified it: pointing, centroid hit,
    energy and IoU of the region ``predictor`` reports (its CAM and region settings, as users see them);
    deletion/insertion AUCs (a batch of perturbed passes more) when ``faithful``."""
    height, width = image_rgb.shape[:2]
    try:
        truth = sample.region.to_mask(height, width, source_size=stored_size(sample.path))
    except (InputError, OSError) as exc:
        return {"path": sample.path, "error": str(getattr(exc, "reason", exc))}
    prediction = predictor.finish(image_rgb, prob, cam, water)
    cam_up = upsample_cam(cam, height, width)
    row = {
        "path": sample.path,
        "prob_rip": records.prob(prediction.prob_rip),
        "pointing_hit": pointing_hit(cam_up, truth),
        "centroid_hit": centroid_hit(prediction.region, truth),
        "energy_pointing": records.share(energy_pointing(cam_up, truth)),
        "iou": records.share(mask_iou(prediction.region.mask, truth)) if prediction.region is not None else 0.0,
    }
    if faithful:
        deletion, insertion = deletion_insertion_auc(predictor.backend.logits, predictor.preprocessing(image_rgb),
                                                     cam, temperature=predictor.checkpoint.temperature)
        row.update(deletion_auc=records.share(deletion), insertion_auc=records.share(insertion))
    return row


def faithfulness_sample(count: int, n: int) -> set[int]:
    """Which of ``count`` labelled images get deletion/insertion AUCs: ``n`` of them, evenly spaced (all when
    ``n >= count``), so a run is reproducible and covers the whole set."""
    if n <= 0 or count == 0:
        return set()
    return {int(i) for i in np.linspace(0, count - 1, min(n, count)).round()}


def summarise_localisation(rows: list[dict]) -> dict:
    """Averages over the scored rows (deletion/insertion over the rows that have them), plus the rows."""
    scored = [row for row in rows if "error" not in row]
    faithful = [row for row in scored if "deletion_auc" in row]
    names = {"pointing_hit": "pointing_game", "centroid_hit": "centroid_in_region"}
    summary = {names.get(key, key): records.share(np.mean([row[key] for row in scored])) if scored else None
               for key in ("pointing_hit", "centroid_hit", "energy_pointing", "iou")}
    if faithful:
        summary.update({key: records.share(np.mean([row[key] for row in faithful]))
                        for key in ("deletion_auc", "insertion_auc")}, faithfulness_n=len(faithful))
    return {"n": len(scored), **summary, "per_image": rows}
