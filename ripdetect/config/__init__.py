"""Frozen config dataclasses: every knob's default, range, allowed values and help text is written once.

The package is split by concern; every name is importable from ``ripdetect.config``:

- ``knobs``: the machinery (``knob``, validation, to/from dict, reading JSON and YAML files);
- ``model``: the model and its training (``ModelConfig``, ``AugmentConfig``, ``TrainConfig``, ``DistillConfig``,
  ``QuantConfig``, ``AdaptConfig``);
- ``tuning``: a hyperparameter study (``TuneConfig``);
- ``runtime``: inference, video, the app and synthetic scenes (``InferenceConfig``, ``VideoConfig``, ``AppLimits``,
  ``SynthConfig``);
- ``cameras``: the watcher and its alerts (``WatchConfig``, ``AlertConfig``).

The resolved ``ModelConfig`` and ``TrainConfig`` travel inside every checkpoint, so inference needs nothing but the
checkpoint. What the configs mean at run time (the decision thresholds, the sampler a study uses) lives with the code
that uses them (``ripdetect.decision``, ``ripdetect.training.tuning``).
"""

from ripdetect.config.cameras import AlertConfig, WatchConfig
from ripdetect.config.knobs import (THRESHOLD_DECIMALS, allowed_values, check_field, decision_threshold, describe_range,
                                    from_dict, knob, load_json_config, read_data_file, replace, scalar_type, shown,
                                    to_dict, validate_fields, yaml_text)
from ripdetect.config.model import (ARCHITECTURES, CLASS_NAMES, KEEP_FLOAT_CHOICES, MONITORS, AdaptConfig,
                                    AugmentConfig, DistillConfig, ModelConfig, QuantConfig, TrainConfig)
from ripdetect.config.runtime import (CAM_METHODS, CAM_THRESHOLD_MODES, FAITHFULNESS_DEFAULT, AppLimits,
                                      InferenceConfig, SynthConfig, VideoConfig)
from ripdetect.config.tuning import (FIDELITIES, OBJECTIVE_DIRECTIONS, PRUNERS, SAMPLERS, SINGLE_OBJECTIVE_SAMPLERS,
                                     TuneConfig)

__all__ = [
    "ARCHITECTURES", "CAM_METHODS", "CAM_THRESHOLD_MODES", "CLASS_NAMES", "FAITHFULNESS_DEFAULT", "FIDELITIES",
    "KEEP_FLOAT_CHOICES", "MONITORS", "OBJECTIVE_DIRECTIONS", "PRUNERS", "SAMPLERS", "SINGLE_OBJECTIVE_SAMPLERS",
    "THRESHOLD_DECIMALS", "AdaptConfig", "AlertConfig", "AppLimits", "AugmentConfig", "DistillConfig", "InferenceConfig",
    "ModelConfig", "QuantConfig", "SynthConfig", "TrainConfig", "TuneConfig", "VideoConfig", "WatchConfig",
    "allowed_values", "check_field", "decision_threshold", "describe_range", "from_dict", "knob", "load_json_config",
    "read_data_file", "replace", "scalar_type", "shown", "to_dict", "validate_fields", "yaml_text",
]
