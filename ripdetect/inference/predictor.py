"""One Predictor: images in, ``Prediction(decision, cam, region)`` out. Used by the CLI, the app, video and
evaluation. It runs on a backend (``ripdetect.inference.backends``): PyTorch for a ``.safetensors`` checkpoint,
ONNX Runtime for a ``.onnx`` export; everything after the forward pass is the same code.

With a region of interest (``Roi``, a camera's water), the evidence behind the decision comes from the region
alone (the model pools its feature map gated by the share of each cell inside it, as a water head gates by the
sea), the map is zero outside it and regions never leave it.

Speed: on CPU, call ``torch.set_flush_denormal(True)`` once at program start (the CLI and the app do).
Trained weights produce denormal activations that slow convolutions by about a third; flushing them does
not change predictions measurably. The Predictor itself changes no process-wide setting.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple
from pathlib import Path

import numpy as np
import torch

from ripdetect.config import InferenceConfig
from ripdetect.data.images import load_image_rgb
from ripdetect.decision import Decision, applied_threshold, decide, model_video_threshold
from ripdetect.errors import ConfigError, InputError

from ripdetect.explain.display import display_scale
from ripdetect.explain.regions import Region, region_from_cam, upsample_cam
from ripdetect.inference.backends import Backend, backend_for, load_model
from ripdetect.inference.roi import Roi
from ripdetect.models.checkpoint import Checkpoint
from ripdetect.models.classifier import rip_prob
from ripdetect.viz.draw import render_prediction

REGION_MAX_SIDE = 640  # regions are thresholded on a grid of at most this many pixels (the CAM is coarse)
WATER_THRESHOLD = 0.5  # where p(sea) is at least this, a region may be


class ModelRun(NamedTuple):
    """One batch through the model: logits, raw CAMs, water probabilities and, with a region of interest, the whole
    frame's logits."""

    logits: torch.Tensor
    cams: torch.Tensor
    water: torch.Tensor | None
    whole_logits: torch.Tensor | None = None


@dataclass
class Prediction:
    decision: Decision  # the one verdict every output reads
    cam: np.ndarray  # raw map at feature resolution (h, w)
    cam_display: np.ndarray  # 0..1 with the model's fixed display scale
    region: Region | None
    image_size: tuple[int, int]  # (width, height)
    water: np.ndarray | None = None  # p(sea) on the water head's grid; regions never leave it
    roi: Roi | None = None  # the region of interest the evidence came from (None: the whole image)

    @property
    def prob_rip(self) -> float:
        return self.decision.prob_rip

    @property
    def threshold(self) -> float:
        return self.decision.threshold

    @property
    def label(self) -> str:
        return self.decision.label

    @property
    def is_rip(self) -> bool:
        return self.decision.is_rip

    def to_json(self, path: str | None = None, overlay: str | None = None) -> dict:
        """The ``ripdetect predict`` line (also the app's JSON details)."""
        record = {"path": path} if path is not None else {}
        record.update({**self.decision.to_dict(), "region": self.region.to_dict() if self.region else None})
        if self.roi is not None:
            record["roi"] = self.roi.to_list()
        if overlay is not None:
            record["overlay"] = overlay
        return record


class Predictor:
    """Batched classification + CAM + region for a loaded checkpoint or ONNX export (``.onnx``), restricted to a
    region of interest when ``roi`` is given."""

    def __init__(self, checkpoint: Checkpoint | str | Path | None = None,
                 inference_config: InferenceConfig | None = None, device: str = "cpu", roi: Roi | None = None):
        if isinstance(checkpoint, Checkpoint):  # the caller's model: work on a copy, never change theirs
            checkpoint = copy.copy(checkpoint)
            if isinstance(checkpoint.model, torch.nn.Module):
                checkpoint.model = copy.deepcopy(checkpoint.model)
        else:
            checkpoint = load_model(checkpoint, device)
        self.checkpoint = checkpoint
        self.backend: Backend = backend_for(checkpoint, device)
        self.config = inference_config or InferenceConfig()
        self.backend.check(self.config)
        self.device = device
        self.roi = self._usable_roi(roi)
        self._lock = threading.Lock()  # one model call at a time (gradient CAMs hook the model); clones share it

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}  # sent to worker processes

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def model(self):
        """The PyTorch model, or the ``OnnxBackend`` of an ONNX export."""
        return self.checkpoint.model

    @property
    def preprocessing(self):
        return self.backend.preprocessing

    @property
    def threshold(self) -> float:
        """The decision threshold applied (to 2 decimals, as shown everywhere): the config's or the model's."""
        return applied_threshold(self.config.threshold, self.checkpoint.threshold)

    @property
    def video_threshold(self) -> float:
        """What a video's on threshold defaults to: the configured threshold, else the model's video threshold."""
        model = model_video_threshold(self.checkpoint.metadata, self.checkpoint.threshold)
        return applied_threshold(self.config.threshold, model)

    @property
    def cam_scale(self) -> float | None:
        return self.checkpoint.cam_scale

    def with_config(self, inference_config: InferenceConfig) -> Predictor:
        """The same loaded model with other runtime knobs (cheap: no reload); knobs the backend cannot honour (a
        gradient CAM method with an ONNX model) are a one-line ``ConfigError``."""
        self.backend.check(inference_config)
        clone = copy.copy(self)
        clone.config = inference_config
        return clone

    def with_roi(self, roi: Roi | None) -> Predictor:
        """The same loaded model restricted to another region of interest (``None``: the whole image)."""
        clone = copy.copy(self)
        clone.roi = self._usable_roi(roi)
        return clone

    def _usable_roi(self, roi: Roi | None) -> Roi | None:
        """``roi``, or a one-line ``ConfigError`` for an ONNX model (its graph has no evidence mask)."""
        if roi is not None and self.backend.name == "onnx":
            raise ConfigError(f"a region of interest needs the PyTorch checkpoint (.safetensors); "
                              f"{self.backend.path.name} is an ONNX model whose graph has no evidence mask")
        return roi

    def run(self, images_rgb: list[np.ndarray]) -> ModelRun:
        """Logits, raw CAMs and water probabilities (tensors) of a batch of images, from one backend call. With a
        region of interest, ``logits`` are the ROI's and ``whole_logits`` the whole frame's (see ``probabilities``)."""
        batch = torch.stack([self.preprocessing(image) for image in images_rgb])
        with self._lock:
            if self.roi is None:
                return ModelRun(*self.backend.run(batch, self.config.cam_method, self.config.cam_layer))
            out, whole = self.backend.run_in_roi(batch, self.config.cam_method, self.config.cam_layer,
                                                 self._evidence_mask(batch.shape[-1]))
        return ModelRun(*out, whole)

    def probabilities(self, out: ModelRun) -> torch.Tensor:
        """p(rip) of a batch's outputs. A region of interest only ever lowers it: p is the smaller of the ROI's and
        the whole frame's, so drawing the sea never turns a calm frame into a rip (the ROI's mean evidence can be
        higher than the frame's on local texture), while a rip outside the ROI is still removed."""
        probs = rip_prob(out.logits, self.checkpoint.temperature)
        if out.whole_logits is not None:
            probs = torch.minimum(probs, rip_prob(out.whole_logits.to(probs.device), self.checkpoint.temperature))
        return probs

    def probabilities_and_maps(self, images_rgb: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Rip probabilities (B,), raw CAMs (B, h, w) and water probabilities (B, h', w'; ``None`` without a
        water head) from one batched call."""
        out = self.run(images_rgb)
        cams, water = out.cams, out.water
        probs = self.probabilities(out).float().cpu().numpy()
        cams = cams.float().cpu().numpy()
        if self.roi is not None:  # gradient maps of other layers spread their channel weights everywhere
            cams = cams * (self.roi.weights(*cams.shape[-2:]) > 0)
        return probs, cams, None if water is None else water.float().cpu().numpy()

    def _evidence_mask(self, size: int) -> torch.Tensor:
        """The ROI as the model's evidence gate (1, size, size): each pixel's share inside the ROI divided by the
        ROI's share of the image. The decision then rests on the mean evidence over the ROI, as if the ROI filled
        the frame. (Zeroing the evidence outside without dividing would pull every small ROI towards the head's
        bias, p = 0.5 for the default model, a false alarm on calm water.)"""
        weights = self.roi.weights(size, size)
        return torch.from_numpy(weights / max(float(weights.mean()), 1e-6))[None].to(self.device)

    def predict_images(self, images_rgb: list[np.ndarray]) -> list[Prediction]:
        predictions = []
        for start in range(0, len(images_rgb), self.config.batch_size):
            chunk = images_rgb[start:start + self.config.batch_size]
            probs, cams, water = self.probabilities_and_maps(chunk)
            predictions.extend(self.finish(image, float(prob), cam, None if water is None else water[i])
                               for i, (image, prob, cam) in enumerate(zip(chunk, probs, cams)))
        return predictions

    def predict_image(self, image_rgb: np.ndarray) -> Prediction:
        return self.predict_images([image_rgb])[0]

    def finish(self, image_rgb: np.ndarray, prob: float, cam: np.ndarray,
               water: np.ndarray | None = None) -> Prediction:
        """Label, display map and region for one image's probability, raw CAM and water map. The region is
        thresholded on a grid of at most ``REGION_MAX_SIDE`` px (the CAM is coarse), kept inside the water, and
        scaled back to the image."""
        height, width = image_rgb.shape[:2]
        decision = decide(prob, self.threshold, self.checkpoint.class_names)
        region = None
        if decision.is_rip or self.config.region_when_negative:
            scale = min(1.0, REGION_MAX_SIDE / max(height, width))
            grid_h, grid_w = max(1, round(height * scale)), max(1, round(width * scale))
            inside = None if water is None else upsample_cam(water, grid_h, grid_w) >= WATER_THRESHOLD
            if self.roi is not None:
                inside = self.roi.mask(grid_h, grid_w) & (True if inside is None else inside)
            region = region_from_cam(upsample_cam(cam, grid_h, grid_w), self.config.cam_threshold_mode,
                                     self.config.cam_threshold, self.config.min_region_fraction, inside)
            if region is not None and scale < 1.0:
                region = region.scaled(height, width)
        return Prediction(decision, cam, display_scale(cam, self.cam_scale), region, (width, height), water, self.roi)

    def load(self, path: str | Path) -> np.ndarray:
        return load_image_rgb(path, max_pixels=self.config.max_pixels, max_side=self.config.max_side)

    def predict_paths(self, paths: Iterable[str | Path]) -> Iterator[tuple[Path, np.ndarray | None,
                                                                          Prediction | InputError]]:
        """``(path, image_rgb, prediction)`` in input order; unreadable files yield ``(path, None, InputError)``, and
        so does an ``InputError`` given in place of a path (an input argument that named nothing usable)."""
        pending: list[tuple[Path, np.ndarray | None, InputError | None]] = []

        def flush() -> Iterator:
            good = [(p, img) for p, img, err in pending if err is None]
            results = iter(self.predict_images([img for _, img in good])) if good else iter(())
            for path, image, error in pending:
                yield path, image, error if error is not None else next(results)
            pending.clear()

        for path in paths:
            if isinstance(path, InputError):
                pending.append((Path(path.path or ""), None, path))
                continue
            path = Path(path)
            try:
                pending.append((path, self.load(path), None))
            except InputError as exc:
                pending.append((path, None, exc))
            if sum(1 for _, _, err in pending if err is None) >= self.config.batch_size:
                yield from flush()
        yield from flush()

    def render(self, image_rgb: np.ndarray, prediction: Prediction, opacity: float = 0.45,
               banner: tuple[str, tuple[int, int, int]] | None = None, show_map: bool | None = None) -> np.ndarray:
        """Heatmap, region outline and a banner strip above ``image_rgb`` (default: verdict and probability).
        With a water head, the heatmap is drawn only over the estimated sea. It is drawn for rips, and for no-rips
        with the config's ``map_when_negative``; ``show_map`` decides instead when given (video frames follow the
        aggregated state)."""

        if show_map is None:
            show_map = prediction.is_rip or self.config.map_when_negative
        mask = prediction.region.mask if prediction.region else None
        sea = None  # at image size, only when a heat map or the outline will use it (every video frame renders)
        if prediction.water is not None and (show_map or self.config.show_water):
            sea = upsample_cam(prediction.water, *image_rgb.shape[:2]) >= WATER_THRESHOLD
        heat = None
        if show_map:  # like the regions, the heat map stays in the estimated sea
            heat = prediction.cam_display if sea is None else upsample_cam(prediction.cam_display, *sea.shape) * sea
        roi = None if prediction.roi is None else prediction.roi.mask(*image_rgb.shape[:2])
        return render_prediction(image_rgb, heat, mask, prediction.decision, opacity, banner,
                                 sea if self.config.show_water else None, roi)
