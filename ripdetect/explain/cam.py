"""Class activation maps for the rip score.

``BaseCAM`` owns the pipeline (layer hook, target score, gradients, channel weights, weighted sum,
ReLU); each method overrides only ``channel_weights``. Maps are *raw* (not normalised): display
scaling is a separate step, so maps stay comparable across frames and images.

For ``RipClassifier`` at its feature layer, Grad-CAM equals the head-weighted feature sum, which
``forward_cam`` computes in the classifying forward pass (``compute_cam``
chooses that fast path automatically and falls back to gradients otherwise, saying so in the log).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from torch import nn

from ripdetect.config import CAM_METHODS
from ripdetect.errors import ConfigError
from ripdetect.models.classifier import RipClassifier, resolve_layer, rip_score

log = logging.getLogger(__name__)
TargetFn = Callable[[torch.Tensor], torch.Tensor]


class CamOutput(NamedTuple):
    logits: torch.Tensor
    cams: torch.Tensor  # raw, (B, h, w)
    water: torch.Tensor | None  # water probability (B, h', w'), or None without a water head


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode and restore its previous mode afterwards, even on exceptions."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


class BaseCAM:
    """Gradient-based CAM of ``target_fn(model(x))`` at ``target_layer`` (dotted name or module)."""

    def __init__(self, model: nn.Module, target_layer: str | nn.Module | None = None,
                 target_fn: TargetFn | None = None):
        self.model = model
        self.layer = resolve_layer(model, target_layer)
        self.target_fn = target_fn or rip_score

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        """Weights broadcastable to ``activations`` (B,C,h,w). Subclasses override this only."""
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, cam)`` with ``cam`` raw, shape (B, h, w), at the layer's resolution."""
        return self.run(x)[:2]

    def run(self, x: torch.Tensor, evidence_mask: torch.Tensor | None = None) -> CamOutput:
        """Logits, raw CAM and (for a model with a water head) the water probability, from one forward pass;
        ``evidence_mask`` restricts a ``RipClassifier``'s evidence to a region (see ``RipClassifier.outputs``)."""
        captured: list[torch.Tensor] = []
        water: list[torch.Tensor] = []
        handles = [self.layer.register_forward_hook(lambda module, inputs, output: captured.append(output))]
        if isinstance(getattr(self.model, "water", None), nn.Module):
            handles.append(self.model.water.register_forward_hook(lambda m, i, output: water.append(output)))
        try:
            with eval_mode(self.model), torch.enable_grad():
                logits = self.model(x) if evidence_mask is None else self.model(x, evidence_mask=evidence_mask)
                if not captured:
                    raise RuntimeError("the target layer was not called in the forward pass")
                activations = captured[-1]
                score = self.target_fn(logits).sum()  # images are independent in eval mode
                (gradients,) = torch.autograd.grad(score, activations)
                weights = self.channel_weights(activations.detach(), gradients)
                cam = torch.relu((weights * activations.detach()).sum(dim=1))
        finally:
            for handle in handles:
                handle.remove()
        return CamOutput(logits.detach(), cam, torch.sigmoid(water[-1].detach()) if water else None)


class GradCAM(BaseCAM):
    """Selvaraju et al. 2017: weights are the spatially averaged gradients."""

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        return gradients.mean(dim=(2, 3), keepdim=True)


class GradCAMPlusPlus(BaseCAM):
    """Chattopadhay et al. 2018: second-order weighting of positive gradients."""

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        grads_2, grads_3 = gradients.pow(2), gradients.pow(3)
        sum_activations = activations.sum(dim=(2, 3), keepdim=True)
        denominator = 2 * grads_2 + sum_activations * grads_3
        alpha = grads_2 / torch.where(denominator != 0, denominator, torch.ones_like(denominator))
        return (alpha * torch.relu(gradients)).sum(dim=(2, 3), keepdim=True)


class LayerCAM(BaseCAM):
    """Jiang et al. 2021: element-wise positive gradients as weights."""

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        return torch.relu(gradients)


GRADIENT_METHODS: dict[str, type[BaseCAM]] = {"gradcam": GradCAM, "gradcampp": GradCAMPlusPlus, "layercam": LayerCAM}


def supports_fast_path(model: nn.Module, layer: str | None) -> bool:
    """True when ``layer`` feeds global average pooling and then a linear head (Grad-CAM == CAM)."""
    return (isinstance(model, RipClassifier) and (layer in (None, model.cam_layer))
            and isinstance(model.pool, nn.AdaptiveAvgPool2d) and model.pool.output_size in (1, (1, 1))
            and isinstance(model.head, nn.Linear))


def forward_cam(model: RipClassifier, x: torch.Tensor, evidence_mask: torch.Tensor | None = None) -> CamOutput:
    """Logits, raw CAM and water probability as a pure function of the input: the graph that the ONNX export
    carries (no hooks, no gradients, no mode switch). ``evidence_mask`` keeps the evidence inside a region of
    interest (see ``RipClassifier.outputs``)."""
    out = model.outputs(x, evidence_mask)
    height, width = out.evidence.shape[-2:]
    water = torch.sigmoid(out.water_logits) if out.water_logits is not None else None
    return CamOutput(out.logits, torch.relu(out.evidence) / (height * width), water)


@torch.no_grad()
def fast_cam_and_whole_logits(model: RipClassifier, x: torch.Tensor,
                              evidence_mask: torch.Tensor) -> tuple[CamOutput, torch.Tensor]:
    """The forward-pass CAM inside a region of interest, and the whole frame's logits, from one pass (the same
    features pooled with and without the region)."""
    with eval_mode(model):
        out = model.outputs(x, evidence_mask)
    height, width = out.evidence.shape[-2:]
    water = torch.sigmoid(out.water_logits) if out.water_logits is not None else None
    return CamOutput(out.logits, torch.relu(out.evidence) / (height * width), water), out.whole_logits


@torch.no_grad()
def _fast_path(model: RipClassifier, x: torch.Tensor, evidence_mask: torch.Tensor | None = None) -> CamOutput:
    with eval_mode(model):
        return forward_cam(model, x, evidence_mask)


def fast_gradcam(model: RipClassifier, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, cam)`` from the classifying forward pass: no backward, no second model call."""
    return _fast_path(model, x)[:2]


def compute_cam(model: nn.Module, x: torch.Tensor, method: str = "gradcam", layer: str | None = None,
                evidence_mask: torch.Tensor | None = None) -> CamOutput:
    """Logits, raw CAM and (with a water head) the water probability for a batch. ``gradcam`` uses the fast
    path where it is exact; ``gradcam_fast`` requires it; other methods use gradients. ``evidence_mask`` (B or 1,
    H, W in 0..1) keeps a ``RipClassifier``'s evidence, and so the logits, inside a region of interest."""
    if method in ("gradcam", "gradcam_fast"):
        if supports_fast_path(model, layer):
            return _fast_path(model, x, evidence_mask)
        if method == "gradcam_fast":
            raise ConfigError(f"the forward-pass CAM needs the CAM layer '{getattr(model, 'cam_layer', 'features')}' "
                              f"of a GAP + linear head model; got layer {layer!r}")
        log.info("layer %r is not followed by GAP + linear head: using gradient Grad-CAM", layer)
        method = "gradcam"
    cam_cls = GRADIENT_METHODS.get(method)
    if cam_cls is None:
        raise ConfigError(f"unknown CAM method '{method}'; choose one of {', '.join(CAM_METHODS)}")
    return cam_cls(model, layer).run(x, evidence_mask)

