"""Frozen config dataclasses: every knob's default, range, allowed values and help text are written once, here.

Each field is declared with ``knob(...)``; validation, the CLI flags (``ripdetect.cli.flags``) and the help
text all read the same metadata. The resolved ``ModelConfig`` and ``TrainConfig`` travel inside every
checkpoint, so inference needs nothing but the checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from ripdetect.errors import ConfigError

T = TypeVar("T")

CLASS_NAMES = ("no_rip", "rip")
CAM_METHODS = ("gradcam", "gradcam_fast", "gradcampp", "layercam")
CAM_THRESHOLD_MODES = ("fraction", "percentile", "otsu")
THRESHOLD_DECIMALS = 2  # decision thresholds are used, shown and echoed at this precision, everywhere
FAITHFULNESS_DEFAULT = 50  # labelled rip images that ``eval`` gives deletion/insertion AUCs (34 passes each)


def decision_threshold(value: float) -> float:
    """A decision threshold as it is used: rounded to ``THRESHOLD_DECIMALS``, so the value shown (app, banners,
    JSON) is exactly the value applied."""
    return round(float(value), THRESHOLD_DECIMALS)


def knob(default: Any = None, help: str = "", *, low: float | None = None, high: float | None = None,
         choices: tuple | Callable[[], tuple] | None = None, none_means: str | None = None, low_exclusive: bool = False,
         factory: Any = None) -> Any:
    """A config field with its range or allowed values and its help text (read by validation and the CLI).

    ``none_means`` documents what a ``None`` default stands for (e.g. "the model's threshold")."""
    metadata = {"help": help, "low": low, "high": high, "choices": choices, "none_means": none_means,
                "low_exclusive": low_exclusive}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def allowed_values(meta: dict) -> tuple | None:
    """A field's allowed values; ``choices`` may be a callable, for lists kept elsewhere (the backbone registry)."""
    choices = meta.get("choices")
    return choices() if callable(choices) else choices


def describe_range(meta: dict) -> str:
    """'one of a, b' or 'a number in [low, high]' for a field's metadata."""
    if allowed_values(meta):
        return "one of " + ", ".join(map(str, allowed_values(meta)))
    low, high = meta.get("low"), meta.get("high")
    left = "(" if meta.get("low_exclusive") else "["
    return f"a number in {left}{low:g}, {high:g}]"


def scalar_type(config_field: dataclasses.Field) -> type | None:
    """``int``, ``float``, ``str`` or ``bool`` of a field typed ``X`` or ``X | None``; ``None`` for the rest (nested
    configs, tuples): the fields a flag or a search space can set."""
    annotation = config_field.type
    if isinstance(annotation, str):
        return {"int": int, "float": float, "str": str, "bool": bool}.get(annotation.replace(" | None", "").strip())
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return scalar_type(dataclasses.replace(config_field, type=args[0])) if len(args) == 1 else None
    return annotation if annotation in (int, float, str, bool) else None


def _check(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"config field '{name}' = {value!r} is invalid: expected {expected}")


def validate_fields(config: Any) -> None:
    """Check every field against its ``knob`` metadata; ``None`` is allowed where the default is ``None``."""
    for f in fields(config):
        value, meta = getattr(config, f.name), f.metadata
        if value is None and f.default is None:
            continue
        if meta.get("choices"):
            _check(value in allowed_values(meta), f.name, value, describe_range(meta))
        elif meta.get("low") is not None:
            number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            low_ok = number and (value > meta["low"] if meta["low_exclusive"] else value >= meta["low"])
            _check(low_ok and value <= meta["high"], f.name, value, describe_range(meta))


def _architectures() -> tuple[str, ...]:
    from ripdetect.models.registry import architecture_names  # torch-free registry

    return architecture_names()


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and preprocessing. ``None`` input size, mean and std mean the architecture's own."""

    arch: str = knob("efficientnet_lite0", "backbone architecture", choices=_architectures)
    pretrained: bool = knob(True, "start from ImageNet weights where they ship offline")
    weights_path: str | None = knob(None, "a backbone weights file (safetensors or tensor-only .pth)",
                                    none_means="none")
    num_classes: int = knob(2, "2 logits (no_rip, rip) or 1 rip logit", choices=(1, 2))
    freeze_stages: int = knob(0, "freeze the first N backbone stages", low=0, high=10)
    input_size: int | None = knob(None, "square input size in pixels", low=32, high=1024,
                                  none_means="the architecture's native size")
    mean: tuple[float, float, float] | None = knob(None, "RGB mean (0..1)", none_means="the architecture's")
    std: tuple[float, float, float] | None = knob(None, "RGB std (0..1)", none_means="the architecture's")
    dropout: float = knob(0.2, "dropout before the head", low=0.0, high=0.9)
    water_head: bool = knob(False, "predict where the sea is and take rip evidence only from there (needs water "
                                   "masks in some training data, e.g. synthetic scenes)")
    class_names: tuple[str, str] = knob(CLASS_NAMES, "names of the negative and positive class")

    def __post_init__(self) -> None:
        validate_fields(self)
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None:
                _check(len(value) == 3 and all(isinstance(v, (int, float)) for v in value), name, value,
                       "three numbers (R, G, B)")
                object.__setattr__(self, name, tuple(float(v) for v in value))
        object.__setattr__(self, "class_names", tuple(self.class_names))
        _check(len(self.class_names) == 2 and all(isinstance(n, str) and n for n in self.class_names),
               "class_names", self.class_names, "two names (negative, positive)")

    @property
    def is_resolved(self) -> bool:
        return None not in (self.input_size, self.mean, self.std)


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation. ``strength`` scales magnitudes; ``p_*`` are per-group probabilities."""

    strength: float = knob(1.0, "scale of augmentation magnitudes", low=0.0, high=2.0)
    p_geometric: float = knob(0.7, "probability of perspective/affine", low=0.0, high=1.0)
    p_photometric: float = knob(0.8, "probability of colour/contrast/blur", low=0.0, high=1.0)
    p_weather: float = knob(0.4, "probability of fog, rain, shadow or sun flare", low=0.0, high=1.0)
    p_noise: float = knob(0.3, "probability of noise or JPEG artefacts", low=0.0, high=1.0)
    hflip: bool = knob(True, "random horizontal flips")
    crop_scale_min: float = knob(0.5, "smallest random-resized-crop area", low=0.05, high=1.0)
    weather_copies: int = knob(0, "offline fog/rain/shadow/flare copies of every training image", low=0, high=50)

    def __post_init__(self) -> None:
        validate_fields(self)


MONITORS = ("f1", "roc_auc", "balanced_accuracy")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the data paths."""

    model: ModelConfig = knob(help="architecture and preprocessing", factory=ModelConfig)
    augment: AugmentConfig = knob(help="augmentation", factory=AugmentConfig)
    epochs: int = knob(20, "maximum epochs", low=1, high=10_000)
    batch_size: int = knob(16, "images per step", low=1, high=4096)
    lr: float = knob(1e-3, "head learning rate", low=1e-7, high=1.0)
    backbone_lr_scale: float = knob(0.3, "backbone learning rate as a fraction of --lr", low=0.0, high=1.0)
    weight_decay: float = knob(1e-4, "AdamW weight decay", low=0.0, high=1.0)
    scheduler: str = knob("cosine", "learning-rate schedule after warm-up", choices=("cosine", "step", "none"))
    warmup_epochs: int = knob(1, "linear warm-up epochs", low=0, high=100)
    patience: int = knob(6, "epochs without improvement before stopping (0: never)", low=0, high=10_000)
    monitor: str = knob("f1", "validation metric for model selection and early stopping", choices=MONITORS)
    seed: int = knob(0, "seed for splits, augmentation and initialisation", low=0, high=2**31 - 1)
    val_fraction: float = knob(0.2, "validation share when no split is given", low=0.0, high=0.9)
    imbalance: str = knob("weighted_loss", "class-imbalance handling",
                          choices=("weighted_loss", "balanced_sampler", "none"))
    threshold_mode: str = knob("max_f1", "how the decision threshold is chosen on validation",
                               choices=("max_f1", "max_f2", "max_balanced_accuracy", "recall", "fixed"))
    target_recall: float = knob(0.9, "recall to reach with --threshold-mode recall", low=0.0, high=1.0)
    label_smoothing: float = knob(0.05, "label smoothing", low=0.0, high=0.5)
    real_repeat: int = knob(1, "times each --real image appears per epoch beside the --data images", low=1,
                            high=1000)
    cam_loss_weight: float = knob(0.0, "weight of the loss pulling the CAM into labelled rip regions",
                                  low=0.0, high=100.0)
    cam_loss_temperature: float = knob(1.0, "softmax temperature of the CAM localisation losses", low=0.01,
                                       high=100.0)
    water_loss_weight: float = knob(1.0, "weight of the water head's segmentation loss (images with water masks)",
                                    low=0.0, high=100.0)
    water_cam_loss_weight: float = knob(0.0, "weight of the penalty on rip evidence outside the water (images with "
                                             "water masks, rip and no-rip alike)", low=0.0, high=100.0)
    num_workers: int = knob(2, "DataLoader worker processes", low=0, high=64)
    max_steps_per_epoch: int = knob(0, "cap on steps per epoch (0: no cap)", low=0, high=10**9)
    tensorboard: bool = knob(False, "also log to TensorBoard")
    progressive_epochs: int = knob(0, "train the first N epochs on a subsample (--progressive-data) or at a smaller "
                                      "input (--progressive-size), as the early rungs of a tuning study do; none of "
                                      "them is kept as the best epoch", low=0, high=10_000)
    progressive_data: float = knob(1.0, "share of the training images in the progressive epochs", low=0.01,
                                   high=1.0)
    progressive_size: float = knob(1.0, "input side, as a share of the model's, in the progressive epochs", low=0.1,
                                   high=1.0)

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.progressive_data < 1 or self.progressive_size < 1:
            _check(self.progressive_epochs < self.epochs, "progressive_epochs", self.progressive_epochs,
                   f"fewer than epochs ({self.epochs}), so a full epoch can be kept as the best")


SAMPLERS = ("tpe", "random", "grid", "cmaes", "gp", "qmc", "nsga2")
SINGLE_OBJECTIVE_SAMPLERS = ("cmaes",)
PRUNERS = ("hyperband", "sha", "median", "none")
FIDELITIES = ("epochs", "data", "size")
# what a study can optimise, and which way
OBJECTIVE_DIRECTIONS = {"roc_auc": "maximize", "f2": "maximize", "f1": "maximize", "balanced_accuracy": "maximize",
                        "brier": "minimize", "latency": "minimize"}


@dataclass(frozen=True)
class TuneConfig:
    """A hyperparameter study (``ripdetect tune``): the objective, the search, the pruning and the budget. The
    search space is a file of its own (``ripdetect.training.tuning.space``); each trial trains with the base
    ``TrainConfig`` changed by the trial's parameters."""

    trials: int = knob(20, "finished trials the study should hold; a resumed study runs only the missing ones",
                       low=1, high=1_000_000)
    timeout_s: float | None = knob(None, "start no new trial after this many seconds (per process)", low=1.0,
                                   high=1e8, none_means="no limit")
    objective: str = knob("roc_auc", "what to maximise (brier and latency: minimise), from the grouped "
                                     "cross-validation with --real, else on the validation split; two joined by a "
                                     "comma (e.g. f2,latency) ask for a Pareto front; one of "
                                     + ", ".join(OBJECTIVE_DIRECTIONS))
    sampler: str | None = knob(None, "search algorithm (Optuna's)", choices=SAMPLERS,
                               none_means="tpe, or nsga2 for two objectives")
    pruner: str | None = knob(None, "how bad trials are stopped early", choices=PRUNERS,
                              none_means="hyperband, or none for two objectives")
    fidelity: str = knob("epochs", "what the early rungs save: epochs only, or also a data subsample (data) or a "
                                   "smaller input (size) in their epochs", choices=FIDELITIES)
    reduction_factor: int = knob(3, "keep the best 1/N of the trials at every rung; data and size fidelity train "
                                    "the first epochs/N epochs on 1/N of the images or pixels", low=2, high=10)
    min_epochs: int = knob(1, "epochs every trial trains before it can be pruned", low=1, high=10_000)
    jobs: int = knob(1, "trials at once on this machine, each in its own process", low=1, high=256)
    seed: int = knob(0, "sampler seed (the trials train with the base config's seed)", low=0, high=2**31 - 1)
    study: str = knob("ripdetect", "study name in the storage")
    storage: str | None = knob(None, "database URL that every worker of the study shares (e.g. "
                                     "postgresql://user@host/db)", none_means="sqlite:///OUT/study.db")

    def __post_init__(self) -> None:
        validate_fields(self)
        names = self.objectives
        expected = ("one or two of " + ", ".join(OBJECTIVE_DIRECTIONS) + " joined by a comma, not 'latency' alone")
        _check(0 < len(names) <= 2 and len(set(names)) == len(names) and names != ("latency",)
               and all(name in OBJECTIVE_DIRECTIONS for name in names), "objective", self.objective, expected)
        _check(isinstance(self.study, str) and bool(self.study.strip()), "study", self.study, "a non-empty name")
        if len(names) == 2:
            _check(self.sampler not in SINGLE_OBJECTIVE_SAMPLERS, "sampler", self.sampler,
                   "a sampler that handles two objectives (not " + ", ".join(SINGLE_OBJECTIVE_SAMPLERS) + ")")
            _check(self.pruner in (None, "none"), "pruner", self.pruner,
                   "none with two objectives (Optuna prunes single-objective studies only)")

    @property
    def objectives(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in str(self.objective).split(","))

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVE_DIRECTIONS[name] for name in self.objectives]

    @property
    def chosen_sampler(self) -> str:
        return self.sampler or ("tpe" if len(self.objectives) == 1 else "nsga2")

    @property
    def chosen_pruner(self) -> str:
        return self.pruner or ("hyperband" if len(self.objectives) == 1 else "none")


@dataclass(frozen=True)
class InferenceConfig:
    """Runtime knobs: set by CLI flags or app sliders, never stored as training state."""

    threshold: float | None = knob(None, "decision threshold (used to 2 decimals)", low=0.0, high=1.0,
                                   none_means="the model's")
    cam_method: str = knob("gradcam", "CAM method", choices=CAM_METHODS)
    cam_layer: str | None = knob(None, "dotted layer name for the CAM", none_means="the model's feature layer")
    cam_threshold: float = knob(0.5, "region threshold (a fraction of the map's max, or a percentile)",
                                low=0.0, high=100.0)
    cam_threshold_mode: str = knob("fraction", "how the map becomes a region", choices=CAM_THRESHOLD_MODES)
    min_region_fraction: float = knob(0.002, "smallest region blob, as a share of the image", low=0.0, high=1.0)
    region_when_negative: bool = knob(False, "also report regions for no-rip images")
    map_when_negative: bool = knob(False, "also draw the heat map on no-rip overlays")
    show_water: bool = knob(False, "outline the estimated sea in overlays (models with a water head)")
    batch_size: int = knob(8, "images or frames per model call", low=1, high=1024)
    max_pixels: int = knob(120_000_000, "refuse images above this many pixels before decoding", low=1,
                           high=10**10)
    max_side: int = knob(1600, "downscale images so the long side is at most this while decoding", low=64,
                         high=20_000)

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.threshold is not None:
            object.__setattr__(self, "threshold", decision_threshold(self.threshold))
        if self.cam_threshold_mode != "percentile":
            _check(self.cam_threshold <= 1.0, "cam_threshold", self.cam_threshold, "a number in [0, 1]")


@dataclass(frozen=True)
class DistillConfig:
    """What a student learns from its teacher (``ripdetect distill``); the optimiser, data and the student's
    architecture come from ``TrainConfig``."""

    steps: int = knob(300, "optimisation steps", low=1, high=10**8)
    temperature: float = knob(4.0, "softening temperature T of the teacher's soft targets", low=0.1, high=100.0)
    alpha: float = knob(0.7, "weight of the soft targets (1 - alpha: the labels)", low=0.0, high=1.0)
    cam_weight: float = knob(1.0, "weight of the map loss: the student's CAM matches the teacher's", low=0.0,
                             high=100.0)
    init_from_teacher: bool = knob(True, "start the student from the teacher's weights when the architectures match "
                                         "(else from ImageNet weights)")

    def __post_init__(self) -> None:
        validate_fields(self)


@dataclass(frozen=True)
class VideoConfig:
    """Sampling and temporal aggregation of a video."""

    OFF_THRESHOLD_RATIO = 0.8  # the off threshold, when not given, as a share of the on threshold

    sample_fps: float = knob(2.0, "frames analysed per second", low=0.01, high=240.0)
    stride: int | None = knob(None, "analyse every Nth frame instead of --sample-fps", low=1, high=100_000,
                              none_means="use --sample-fps")
    window_s: float = knob(10.0, "aggregation window in seconds", low=0.0, high=86_400.0, low_exclusive=True)
    on_threshold: float | None = knob(None, "window mean that starts an event (used to 2 decimals)", low=0.0,
                                      high=1.0, none_means="the model's threshold")
    off_threshold: float | None = knob(None, "window mean that ends an event", low=0.0, high=1.0,
                                       none_means="0.8 x the on threshold")
    min_event_s: float = knob(2.0, "seconds above the on threshold before an event is confirmed", low=0.0,
                              high=86_400.0)
    clip_minutes: float = knob(10.0, "length of the per-clip decisions in minutes", low=0.01, high=10_000.0)
    video_fps: float | None = knob(None, "frame rate of annotated.mp4", low=0.1, high=240.0,
                                   none_means="the analysed frame rate")
    write_video: bool = knob(True, "write annotated.mp4")
    max_side: int = knob(960, "downscale frames so the long side is at most this", low=64, high=20_000)
    queue_size: int = knob(16, "decoded frames buffered ahead of the model", low=1, high=1024)

    def __post_init__(self) -> None:
        validate_fields(self)
        for name in ("on_threshold", "off_threshold"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, decision_threshold(getattr(self, name)))
        if self.on_threshold is not None and self.off_threshold is not None:
            _check(self.off_threshold <= self.on_threshold, "off_threshold", self.off_threshold,
                   f"at most on_threshold ({self.on_threshold})")

    def thresholds(self, model_threshold: float) -> tuple[float, float]:
        """The (on, off) thresholds of the hysteresis, with the defaults filled in from the model's threshold
        (both used to 2 decimals)."""
        on = decision_threshold(model_threshold if self.on_threshold is None else self.on_threshold)
        off = decision_threshold(on * self.OFF_THRESHOLD_RATIO if self.off_threshold is None else self.off_threshold)
        if off > on:
            raise ConfigError(f"off threshold {off:g} must not exceed the on threshold {on:g}")
        return on, off


KEEP_FLOAT_CHOICES = ("none", "stem", "head", "stem+head")


@dataclass(frozen=True)
class QuantConfig:
    """Static int8 quantisation of an exported ONNX model (``ripdetect export OUT.onnx --int8``). The defaults
    were chosen by measurement against the float model (``bench/onnx_bench.py``)."""

    calib_n: int = knob(200, "calibration images used (evenly spaced over those given)", low=1, high=100_000)
    calib_method: str = knob("minmax", "how activation ranges are calibrated",
                             choices=("minmax", "percentile", "entropy"))
    per_channel: bool = knob(True, "one weight scale per output channel (else one per tensor)")
    reduce_range: bool = knob(True, "7-bit weights: avoids the int16 saturation of u8 x s8 products on CPUs "
                                    "without VNNI (AVX2); measured better there on every accuracy figure")
    keep_float: str = knob("head", "layers left in float: the first conv (stem), the last conv and everything after "
                                   "it (head: the CAM and the logits)", choices=KEEP_FLOAT_CHOICES)

    def __post_init__(self) -> None:
        validate_fields(self)


@dataclass(frozen=True)
class SynthConfig:
    """What ``ripdetect synth`` renders."""

    n: int = knob(100, "images to render", low=0, high=10_000_000)
    seed: int = knob(0, "seed: the same seed renders the same scenes", low=0, high=2**31 - 1)
    view: str = knob("mixed", "camera", choices=("oblique", "aerial", "mixed"))
    width: int = knob(640, "image width", low=64, high=8192)
    height: int = knob(384, "image height", low=64, high=8192)
    rip_fraction: float = knob(0.5, "share of scenes with rips", low=0.0, high=1.0)
    clips: int = knob(0, "MP4 clips to render", low=0, high=100_000)
    clip_seconds: float = knob(10.0, "clip length in seconds", low=0.5, high=3600.0)
    fps: float = knob(10.0, "clip frame rate", low=1.0, high=60.0)
    realism: bool = knob(True, "real-camera detail: dunes and vegetation, headlands, clear/overcast/sunset skies, "
                               "swell and lens distortion (--no-realism: the plain scenes of ripdetect 0.1)")

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.n == 0 and self.clips == 0:
            raise ConfigError("nothing to render: --n and --clips are both 0")


@dataclass(frozen=True)
class AppLimits:
    """What one web-app request may ask for."""

    max_video_s: float = knob(600.0, "longest clip the app analyses, in seconds", low=1.0, high=86_400.0)
    max_upload_mb: float = knob(200.0, "largest upload in MB", low=1.0, high=100_000.0)
    max_batch: int = knob(50, "most images in one batch request", low=1, high=10_000)
    concurrency: int = knob(2, "requests processed at once", low=1, high=64)
    preview_s: float = knob(60.0, "seconds of a clip the browser cannot play that are transcoded for its preview",
                            low=1.0, high=3600.0)
    result_ttl_s: float = knob(600.0, "seconds a request's result files are kept after the response", low=1.0,
                               high=86_400.0)

    def __post_init__(self) -> None:
        validate_fields(self)


@dataclass(frozen=True)
class AlertConfig:
    """Where a camera's alerts go (an event starting and ending), and how often."""

    webhook: str | None = knob(None, "URL that receives each alert as a JSON POST", none_means="none")
    command: str | None = knob(None, "command run for each alert, with the alert JSON on its stdin (run through "
                                     "the shell)", none_means="none")
    min_interval_s: float = knob(600.0, "least time between two start alerts of one camera; events in between are "
                                        "recorded but not alerted", low=0.0, high=7 * 86_400.0)
    max_attempts: int = knob(8, "tries per alert before it is given up (the wait doubles from 1 s)", low=1, high=1000)
    timeout_s: float = knob(10.0, "seconds a webhook call or the command may take", low=0.1, high=600.0)
    snapshot: bool = knob(True, "attach the frame with its overlay (base64 JPEG) to the alert")

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.webhook is not None:
            _check(isinstance(self.webhook, str) and self.webhook.startswith(("http://", "https://")), "webhook",
                   self.webhook, "an http:// or https:// URL")
        if self.command is not None:
            _check(isinstance(self.command, str) and bool(self.command.strip()), "command", self.command,
                   "a command line")


@dataclass(frozen=True)
class WatchConfig:
    """How ``ripdetect watch`` follows its cameras."""

    keep_days: float = knob(7.0, "days of clip results kept (older ones are removed)", low=0.0, high=36_500.0,
                            low_exclusive=True)
    reconnect_min_s: float = knob(1.0, "first wait before reconnecting a lost stream (it doubles up to "
                                       "--reconnect-max-s)", low=0.01, high=3600.0)
    reconnect_max_s: float = knob(60.0, "longest wait between reconnection attempts", low=0.01, high=86_400.0)
    stall_s: float = knob(20.0, "a stream that delivers nothing for this long is dropped and reconnected", low=0.5,
                          high=3600.0)
    event_gap_s: float = knob(300.0, "an event open when a camera went down (or the watcher stopped) continues if "
                                     "the camera comes back within this long still showing the rip; otherwise it "
                                     "ends at the last frame seen", low=0.0, high=86_400.0)
    snapshot_s: float = knob(5.0, "seconds between updates of a camera's latest frame (latest.jpg)", low=0.1,
                             high=3600.0)
    folder_poll_s: float = knob(30.0, "seconds between looks for new videos in a folder source", low=0.1,
                                high=86_400.0)

    def __post_init__(self) -> None:
        validate_fields(self)
        _check(self.reconnect_max_s >= self.reconnect_min_s, "reconnect_max_s", self.reconnect_max_s,
               f"at least reconnect_min_s ({self.reconnect_min_s:g})")


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
        factory = known[name].default_factory
        nested_cls = factory if isinstance(factory, type) and dataclasses.is_dataclass(factory) else None
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
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.reason}") from None


def load_json_config(cls: type[T], path: str | Path) -> T:
    """Read a JSON config file into ``cls`` with a one-line error on failure."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError("config file not found", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", path) from None
    return from_dict(cls, data, where=str(path))


def read_data_file(path: str | Path) -> Any:
    """The data in a JSON file, or a YAML one (``.yaml``/``.yml``), with a one-line error naming the file."""
    path = Path(path)
    yaml_file = path.suffix.lower() in (".yaml", ".yml")
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError("file not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", path) from None
    try:
        if yaml_file:
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as exc:  # noqa: BLE001 - json and yaml raise their own kinds; one line either way
        reason = " ".join(str(exc).split())
        raise ConfigError(f"not valid {'YAML' if yaml_file else 'JSON'}: {reason}", path) from None


def replace(config: T, **changes: Any) -> T:
    """``dataclasses.replace`` that drops ``None`` values (flags the user did not give)."""
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})
