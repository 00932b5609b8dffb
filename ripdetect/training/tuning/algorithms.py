"""Which of Optuna's search algorithms and pruners a study uses when its ``TuneConfig`` names none: TPE and
Hyperband for one objective; NSGA-II and no pruning for two (Optuna prunes single-objective studies only)."""

from __future__ import annotations

from ripdetect.config import TuneConfig


def sampler_name(tune_config: TuneConfig) -> str:
    return tune_config.sampler or ("tpe" if len(tune_config.objectives) == 1 else "nsga2")


def pruner_name(tune_config: TuneConfig) -> str:
    return tune_config.pruner or ("hyperband" if len(tune_config.objectives) == 1 else "none")
