"""ripdetect: rip-current detection and explainability toolkit.

The public API is importable from here; the heavy modules (torch, cv2, albumentations) load only when a name
that needs them is first used, so ``import ripdetect`` stays cheap::

    from ripdetect import Predictor, InferenceConfig
    predictor = Predictor()                     # the embedded default model
    prediction = predictor.predict_image(predictor.load("beach.jpg"))
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

from ripdetect.errors import RipdetectError  # noqa: E402

_PUBLIC = {
    # configs
    "ModelConfig": "config", "AugmentConfig": "config", "TrainConfig": "config", "InferenceConfig": "config",
    "VideoConfig": "config", "SynthConfig": "config", "AppLimits": "config", "WatchConfig": "config",
    "AlertConfig": "config",
    # models
    "create_model": "models.classifier", "RipClassifier": "models.classifier", "rip_score": "models.classifier",
    "rip_prob": "models.classifier", "Checkpoint": "models.checkpoint", "load_checkpoint": "models.checkpoint",
    "save_checkpoint": "models.checkpoint", "export_checkpoint": "models.checkpoint",
    # data
    "load_image_rgb": "data.images", "load_samples": "data.layouts", "load_many": "data.layouts",
    "Sample": "data.layouts",
    # explain
    "GradCAM": "explain.cam", "GradCAMPlusPlus": "explain.cam", "LayerCAM": "explain.cam",
    "fast_gradcam": "explain.cam", "compute_cam": "explain.cam", "region_from_cam": "explain.regions",
    # training
    "train_model": "training.run", "fit": "training.engine", "finalise": "training.finalise",
    "evaluate_checkpoint": "training.evaluation",
    # inference
    "Predictor": "inference.predictor", "Prediction": "inference.predictor", "Roi": "inference.roi",
    # video
    "analyse_video": "video.analyse", "process_video": "video.process", "run_batch": "video.batch",
    "FrameAggregator": "video.aggregate", "VideoInfo": "video.io", "VideoWriter": "video.io", "probe": "video.io",
    # cameras
    "CameraProfile": "cameras.profiles", "load_profiles": "cameras.profiles", "Watcher": "cameras.watch",
}

__all__ = ["RipdetectError", "__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(f"ripdetect.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module 'ripdetect' has no attribute {name!r}")
