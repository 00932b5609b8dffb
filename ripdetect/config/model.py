"""What a model is and how it trains: architecture and preprocessing, augmentation, the training run, distillation
and int8 quantisation. ``ModelConfig`` and ``TrainConfig`` travel inside every checkpoint."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ripdetect.config.knobs import check_field, knob, validate_fields

CLASS_NAMES = ("no_rip", "rip")
# the backbones ``ripdetect.models.registry`` can build (it checks at import that it builds exactly these)
ARCHITECTURES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "mobilenet_v3_small",
                 "mobilenet_v3_large", "resnet18", "tiny_cnn")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and preprocessing. ``None`` input size, mean and std mean the architecture's own."""

    arch: str = knob("efficientnet_lite0", "backbone architecture", choices=ARCHITECTURES)
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
    water_head: bool = knob(False, "a water head: a second output that marks where the sea is, so rip evidence is "
                                   "taken only from there (needs water masks in some training data, e.g. synthetic "
                                   "scenes)")
    class_names: tuple[str, str] = knob(CLASS_NAMES, "names of the negative and positive class")

    def __post_init__(self) -> None:
        validate_fields(self)
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None:
                numbers = isinstance(value, (list, tuple)) and len(value) == 3 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
                check_field(numbers and (name == "mean" or min(value) > 0), name, value,
                            "three numbers (R, G, B)" + ("" if name == "mean" else ", each above 0"))
                object.__setattr__(self, name, tuple(float(v) for v in value))
        names = self.class_names
        check_field(isinstance(names, (list, tuple)) and len(names) == 2 and all(isinstance(n, str) and n for n in names)
                    and names[0] != names[1], "class_names", names, "two different names, a list [negative, positive]")
        object.__setattr__(self, "class_names", tuple(names))

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
    feature_cache_views: int = knob(0, "with frozen stages: run them once for N augmented views of every training "
                                       "image and train only the rest each epoch, on one of those views (0: augment "
                                       "and run every stage every epoch)", low=0, high=256)

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.feature_cache_views:
            check_field(self.model.freeze_stages > 0, "feature_cache_views", self.feature_cache_views,
                        "0 unless model.freeze_stages > 0 (only frozen stages can be cached)")
            check_field(self.progressive_size == 1, "feature_cache_views", self.feature_cache_views,
                        "0 with progressive_size below 1 (the cache holds one input size)")
        if self.progressive_data < 1 or self.progressive_size < 1:
            check_field(self.progressive_epochs < self.epochs, "progressive_epochs", self.progressive_epochs,
                        f"fewer than epochs ({self.epochs}), so a full epoch can be kept as the best")


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
class AdaptConfig:
    """Teaching the model one camera (``ripdetect adapt``): a new head on the frozen, water-gated evidence features,
    pulled toward the base model's head. Travels in the adapted checkpoint."""

    views: int = knob(8, "augmented views of every labelled frame (crop, flip, light)", low=1, high=64)
    composites: int = knob(3, "rips painted into each calm frame of the camera, as positives (0: none)", low=0, high=20)
    replay: int = knob(24, "synthetic rip and calm scenes that keep the base model's knowledge of rips", low=0,
                       high=1000)
    strength: float = knob(1.0, "pull toward the base model's head: higher keeps more of it, lower fits the camera "
                                "more", low=0.0, high=1000.0, low_exclusive=True)
    seed: int = knob(0, "seed for the views, the composites and the replayed scenes", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        validate_fields(self)
