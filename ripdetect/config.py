"""Frozen config dataclasses. Defaults live here once; CLIs build their flags from them.

The resolved ``ModelConfig`` and ``TrainConfig`` travel inside every checkpoint, so
inference needs nothing but the checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from ripdetect.errors import ConfigError

T = TypeVar("T")

CLASS_NAMES = ("no_rip", "rip")


def _check(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"config field '{name}' = {value!r} is invalid: expected {expected}")


def _in_range(name: str, value: float, low: float, high: float) -> None:
    _check(isinstance(value, (int, float)) and low <= value <= high, name, value, f"a number in [{low}, {high}]")


def _one_of(name: str, value: Any, choices: tuple) -> None:
    _check(value in choices, name, value, f"one of {', '.join(map(str, choices))}")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and preprocessing. ``mean``/``std``/``input_size`` are the model's own."""

    arch: str = "efficientnet_lite0"
    pretrained: bool = True
    weights_path: str | None = None
    num_classes: int = 2
    freeze_stages: int = 0
    input_size: int = 224
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    dropout: float = 0.2
    class_names: tuple[str, str] = CLASS_NAMES

    def __post_init__(self) -> None:
        _one_of("num_classes", self.num_classes, (1, 2))
        _in_range("freeze_stages", self.freeze_stages, 0, 10)
        _in_range("input_size", self.input_size, 32, 1024)
        _in_range("dropout", self.dropout, 0.0, 0.9)
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None:
                _check(len(value) == 3, name, value, "three numbers (R, G, B)")
                object.__setattr__(self, name, tuple(float(v) for v in value))
        object.__setattr__(self, "class_names", tuple(self.class_names))
        _check(len(self.class_names) == 2, "class_names", self.class_names, "two names (negative, positive)")


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation. ``strength`` scales magnitudes; ``p_*`` are per-group probabilities."""

    strength: float = 1.0
    p_geometric: float = 0.7
    p_photometric: float = 0.8
    p_weather: float = 0.4
    p_noise: float = 0.3
    hflip: bool = True
    crop_scale_min: float = 0.5
    weather_copies: int = 0

    def __post_init__(self) -> None:
        _in_range("strength", self.strength, 0.0, 2.0)
        for name in ("p_geometric", "p_photometric", "p_weather", "p_noise"):
            _in_range(name, getattr(self, name), 0.0, 1.0)
        _in_range("crop_scale_min", self.crop_scale_min, 0.05, 1.0)
        _in_range("weather_copies", self.weather_copies, 0, 50)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the data paths."""

    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-3
    backbone_lr_scale: float = 0.3
    weight_decay: float = 1e-4
    scheduler: str = "cosine"
    warmup_epochs: int = 1
    patience: int = 6
    monitor: str = "f1"
    seed: int = 0
    val_fraction: float = 0.2
    imbalance: str = "weighted_loss"
    threshold_mode: str = "max_f1"
    target_recall: float = 0.9
    label_smoothing: float = 0.05
    cam_loss_weight: float = 0.0
    cam_loss_temperature: float = 1.0
    num_workers: int = 2
    max_steps_per_epoch: int = 0
    tensorboard: bool = False

    def __post_init__(self) -> None:
        _in_range("epochs", self.epochs, 1, 10_000)
        _in_range("batch_size", self.batch_size, 1, 4096)
        _in_range("lr", self.lr, 1e-7, 1.0)
        _in_range("backbone_lr_scale", self.backbone_lr_scale, 0.0, 1.0)
        _in_range("weight_decay", self.weight_decay, 0.0, 1.0)
        _one_of("scheduler", self.scheduler, ("cosine", "step", "none"))
        _in_range("warmup_epochs", self.warmup_epochs, 0, 100)
        _in_range("patience", self.patience, 0, 10_000)
        _one_of("monitor", self.monitor, ("f1", "roc_auc", "balanced_accuracy"))
        _in_range("val_fraction", self.val_fraction, 0.0, 0.9)
        _one_of("imbalance", self.imbalance, ("weighted_loss", "balanced_sampler", "none"))
        _one_of("threshold_mode", self.threshold_mode, ("max_f1", "recall", "fixed"))
        _in_range("target_recall", self.target_recall, 0.0, 1.0)
        _in_range("label_smoothing", self.label_smoothing, 0.0, 0.5)
        _in_range("cam_loss_weight", self.cam_loss_weight, 0.0, 100.0)
        _in_range("cam_loss_temperature", self.cam_loss_temperature, 0.01, 100.0)
        _in_range("num_workers", self.num_workers, 0, 64)
        _in_range("max_steps_per_epoch", self.max_steps_per_epoch, 0, 10**9)


@dataclass(frozen=True)
class InferenceConfig:
    """Runtime knobs: set by CLI flags or app sliders, never stored as training state."""

    threshold: float | None = None
    cam_method: str = "gradcam"
    cam_layer: str | None = None
    cam_threshold: float = 0.5
    cam_threshold_mode: str = "fraction"
    min_region_fraction: float = 0.002
    region_when_negative: bool = False
    batch_size: int = 8
    max_pixels: int = 120_000_000
    max_side: int = 1600

    def __post_init__(self) -> None:
        if self.threshold is not None:
            _in_range("threshold", self.threshold, 0.0, 1.0)
        _one_of("cam_method", self.cam_method, CAM_METHODS)
        _one_of("cam_threshold_mode", self.cam_threshold_mode, ("fraction", "percentile", "otsu"))
        upper = 100.0 if self.cam_threshold_mode == "percentile" else 1.0
        _in_range("cam_threshold", self.cam_threshold, 0.0, upper)
        _in_range("min_region_fraction", self.min_region_fraction, 0.0, 1.0)
        _in_range("batch_size", self.batch_size, 1, 1024)
        _in_range("max_pixels", self.max_pixels, 1, 10**10)
        _in_range("max_side", self.max_side, 64, 20_000)


CAM_METHODS = ("gradcam", "gradcam_fast", "gradcampp", "layercam")


@dataclass(frozen=True)
class VideoConfig:
    """Sampling and temporal aggregation of a video."""

    sample_fps: float = 2.0
    stride: int | None = None
    window_s: float = 10.0
    on_threshold: float | None = None
    off_threshold: float | None = None
    min_event_s: float = 2.0
    clip_minutes: float = 10.0
    video_fps: float | None = None
    write_video: bool = True
    max_side: int = 960
    queue_size: int = 16

    def __post_init__(self) -> None:
        _in_range("sample_fps", self.sample_fps, 0.01, 240.0)
        if self.stride is not None:
            _in_range("stride", self.stride, 1, 100_000)
        _in_range("window_s", self.window_s, 0.0, 86_400.0)
        for name in ("on_threshold", "off_threshold"):
            if getattr(self, name) is not None:
                _in_range(name, getattr(self, name), 0.0, 1.0)
        if self.on_threshold is not None and self.off_threshold is not None:
            _check(self.off_threshold <= self.on_threshold, "off_threshold", self.off_threshold,
                   f"at most on_threshold ({self.on_threshold})")
        _in_range("min_event_s", self.min_event_s, 0.0, 86_400.0)
        _in_range("clip_minutes", self.clip_minutes, 0.01, 10_000.0)
        if self.video_fps is not None:
            _in_range("video_fps", self.video_fps, 0.1, 240.0)
        _in_range("max_side", self.max_side, 64, 20_000)
        _in_range("queue_size", self.queue_size, 1, 1024)


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build ``cls`` from a dict, recursing into nested dataclasses; unknown keys are errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a JSON object, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(known)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = known[name].default_factory if known[name].default_factory is not dataclasses.MISSING else None
        nested_cls = type(default()) if default is not None and dataclasses.is_dataclass(default()) else None
        if nested_cls is not None and isinstance(value, dict):
            kwargs[name] = from_dict(nested_cls, value, f"{where}.{name}")
        elif isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_json_config(cls: type[T], path: str | Path) -> T:
    """Read a JSON config file into ``cls`` with a one-line error on failure."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError("config file not found", path) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", path) from None
    return from_dict(cls, data, where=str(path))


def replace(config: T, **changes: Any) -> T:
    """``dataclasses.replace`` that drops ``None`` values (flags the user did not give)."""
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})
