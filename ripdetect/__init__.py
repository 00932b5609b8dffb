"""ripdetect: rip-current detection and explainability toolkit.

The public API is importable from here, and ``__all__`` lists it. The heavy modules (torch, cv2, albumentations)
load only when a name that needs them is first used, so ``import ripdetect`` stays cheap; type checkers and IDEs
see every name through the ``TYPE_CHECKING`` imports below::

    from ripdetect import Predictor, InferenceConfig
    predictor = Predictor()                     # the embedded default model
    prediction = predictor.predict_image(predictor.load("beach.jpg"))
    print(prediction.decision.verdict, prediction.prob_rip)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ripdetect.errors import RipdetectError
from ripdetect.version import __version__

__all__ = [
    "AlertConfig", "AppLimits", "AugmentConfig", "CameraProfile", "Checkpoint", "Decision", "FrameAggregator",
    "GradCAM", "GradCAMPlusPlus", "InferenceConfig", "LayerCAM", "ModelConfig", "Prediction", "Predictor",
    "RipClassifier", "RipdetectError", "Roi", "Sample", "SynthConfig", "TrainConfig", "VideoConfig", "VideoInfo",
    "VideoWriter", "WatchConfig", "Watcher", "__version__", "analyse_video", "compute_cam", "create_model", "decide",
    "evaluate_checkpoint", "export_checkpoint", "fast_gradcam", "finalise", "fit", "load_checkpoint", "load_image_rgb",
    "load_many", "load_profiles", "load_samples", "probe", "process_video", "region_from_cam", "rip_prob",
    "rip_score", "run_batch", "sample_path", "save_checkpoint", "train_model",
]

if TYPE_CHECKING:  # what each public name is, for tools; at run time they load on first use (``__getattr__``)
    from ripdetect.cameras.profiles import CameraProfile, load_profiles
    from ripdetect.cameras.watch import Watcher
    from ripdetect.config import (AlertConfig, AppLimits, AugmentConfig, InferenceConfig, ModelConfig, SynthConfig,
                                  TrainConfig, VideoConfig, WatchConfig)
    from ripdetect.data.images import load_image_rgb
    from ripdetect.data.layouts import Sample, load_many, load_samples
    from ripdetect.decision import Decision, decide
    from ripdetect.explain.cam import GradCAM, GradCAMPlusPlus, LayerCAM, compute_cam, fast_gradcam
    from ripdetect.explain.regions import region_from_cam
    from ripdetect.files import sample_path
    from ripdetect.inference.predictor import Prediction, Predictor
    from ripdetect.inference.roi import Roi
    from ripdetect.models.checkpoint import Checkpoint, export_checkpoint, load_checkpoint, save_checkpoint
    from ripdetect.models.classifier import RipClassifier, create_model, rip_prob, rip_score
    from ripdetect.training.engine import fit
    from ripdetect.training.evaluation import evaluate_checkpoint
    from ripdetect.training.finalise import finalise
    from ripdetect.training.run import train_model
    from ripdetect.video.aggregate import FrameAggregator
    from ripdetect.video.analyse import analyse_video
    from ripdetect.video.batch import run_batch
    from ripdetect.video.io import VideoInfo, VideoWriter, probe
    from ripdetect.video.process import process_video

_HOMES = {
    "cameras.profiles": ("CameraProfile", "load_profiles"),
    "cameras.watch": ("Watcher",),
    "config": ("AlertConfig", "AppLimits", "AugmentConfig", "InferenceConfig", "ModelConfig", "SynthConfig",
               "TrainConfig", "VideoConfig", "WatchConfig"),
    "data.images": ("load_image_rgb",),
    "data.layouts": ("Sample", "load_many", "load_samples"),
    "decision": ("Decision", "decide"),
    "explain.cam": ("GradCAM", "GradCAMPlusPlus", "LayerCAM", "compute_cam", "fast_gradcam"),
    "explain.regions": ("region_from_cam",),
    "files": ("sample_path",),
    "inference.predictor": ("Prediction", "Predictor"),
    "inference.roi": ("Roi",),
    "models.checkpoint": ("Checkpoint", "export_checkpoint", "load_checkpoint", "save_checkpoint"),
    "models.classifier": ("RipClassifier", "create_model", "rip_prob", "rip_score"),
    "training.engine": ("fit",),
    "training.evaluation": ("evaluate_checkpoint",),
    "training.finalise": ("finalise",),
    "training.run": ("train_model",),
    "video.aggregate": ("FrameAggregator",),
    "video.analyse": ("analyse_video",),
    "video.batch": ("run_batch",),
    "video.io": ("VideoInfo", "VideoWriter", "probe"),
    "video.process": ("process_video",),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}



def __getattr__(name: str):
    if name in _HOME_OF:
        value = getattr(importlib.import_module(f"ripdetect.{_HOME_OF[name]}"), name)
        globals()[name] = value  # loaded once
        return value
    raise AttributeError(f"module 'ripdetect' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
