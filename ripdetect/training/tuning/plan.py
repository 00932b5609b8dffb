"""What one study is: its settings, the base training config, the search space and the data, checked together
before any trial runs. A ``StudyPlan`` is picklable, so ``--jobs`` worker processes receive it whole."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ripdetect.config import MONITORS, TrainConfig, TuneConfig, to_dict
from ripdetect.data.layouts import Sample, manifest_hash
from ripdetect.errors import ConfigError, DataError
from ripdetect.training.crossval import grouped_folds
from ripdetect.training.tuning.algorithms import pruner_name, sampler_name
from ripdetect.training.tuning.space import SearchSpace

PROGRESSIVE_FIELDS = ("progressive_epochs", "progressive_data", "progressive_size")


@dataclass(frozen=True)
class StudyPlan:
    """``train`` holds the training images (with ``real``: the other images trained beside the real ones);
    ``val`` the validation images of a single split; ``real`` and ``folds`` the grouped cross-validation."""

    out_dir: Path
    tune_config: TuneConfig
    base_config: TrainConfig
    space: SearchSpace
    train: tuple[Sample, ...]
    val: tuple[Sample, ...] = ()
    real: tuple[Sample, ...] = ()
    folds: int | None = None

    @property
    def storage_url(self) -> str:
        return self.tune_config.storage or f"sqlite:///{(self.out_dir / 'study.db').resolve()}"

    @property
    def cross_validated(self) -> bool:
        return self.folds is not None

    @property
    def max_steps(self) -> int:
        """Intermediate values a full trial reports: one per epoch (of every fold)."""
        return self.base_config.epochs * (self.folds or 1)

    @property
    def data_sha256(self) -> str:
        return manifest_hash(list(self.train + self.val + self.real))

    def trial_config(self, params: dict[str, Any]) -> TrainConfig:
        """The config a trial trains with: the base config with the trial's parameters."""
        return self.space.apply(self.base_config, params)

    def trial_dir(self, number: int) -> Path:
        return self.out_dir / "trials" / f"trial_{number:04d}"

    def signature(self) -> dict[str, Any]:
        """What the study optimises; a stored study is only continued with the same."""
        return json.loads(json.dumps({
            "space": self.space.to_dict(), "objective": list(self.tune_config.objectives),
            "fidelity": [self.tune_config.fidelity, self.tune_config.reduction_factor],
            "evaluation": f"grouped {self.folds}-fold cross-validation" if self.folds else "validation split",
            "data": self.data_sha256, "base config": _digest(to_dict(self.base_config)),
        }))


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def make_plan(out_dir: str | Path, tune_config: TuneConfig, base_config: TrainConfig, space: SearchSpace,
              train: list[Sample], val: list[Sample] | None = None, real: list[Sample] | None = None,
              folds: int | None = None, space_name: str = "search space") -> StudyPlan:
    """Check the study as a whole (one-line errors) and fix its base config: model selection monitors the
    objective where it can, and ``data``/``size`` fidelity become the progressive epochs of every trial."""
    if (real is None) != (folds is None):
        raise ConfigError("--real and --folds go together (grouped cross-validation over the real images)")
    if folds is not None and folds < 2:
        raise ConfigError(f"--folds {folds}: a cross-validation needs at least 2 folds")
    if folds is None and not val:
        raise DataError("a study needs validation images: --val-data, a val_fraction above 0 in --config, or --real "
                        "with --folds")
    if folds is None and not train:
        raise DataError("no training images")
    base = _study_base(base_config, tune_config, space)
    space.check_against(base, space_name)
    if sampler_name(tune_config) == "grid":
        space.grid()
    if folds is not None:

        grouped_folds(real, folds, base.seed)
    return StudyPlan(Path(out_dir), tune_config, base, space, tuple(train), tuple(val or ()), tuple(real or ()), folds)


def _study_base(base_config: TrainConfig, tune_config: TuneConfig, space: SearchSpace) -> TrainConfig:
    changes: dict[str, Any] = {}
    first = tune_config.objectives[0]
    if first in MONITORS and "monitor" not in space.names:
        changes["monitor"] = first
    if tune_config.fidelity != "epochs":
        searched = [name for name in PROGRESSIVE_FIELDS if name in space.names]
        if searched:
            raise ConfigError(f"--fidelity {tune_config.fidelity} sets {searched[0]} itself; search it only with "
                              "--fidelity epochs")
        factor = tune_config.reduction_factor
        if base_config.epochs < factor:
            raise ConfigError(f"--fidelity {tune_config.fidelity} trains the first epochs/{factor} epochs at low "
                              f"fidelity, so the base config needs at least {factor} epochs; it has "
                              f"{base_config.epochs}")
        changes["progressive_epochs"] = base_config.epochs // factor
        changes["progressive_data" if tune_config.fidelity == "data" else "progressive_size"] = (
            round(1 / factor, 4) if tune_config.fidelity == "data" else round(factor ** -0.5, 4))
    return dataclasses.replace(base_config, **changes)


def describe(plan: StudyPlan) -> dict[str, Any]:
    """The plan in a few JSON fields, for summary.json."""
    return {"objective": list(plan.tune_config.objectives), "directions": plan.tune_config.directions,
            "sampler": sampler_name(plan.tune_config), "pruner": pruner_name(plan.tune_config),
            "fidelity": plan.tune_config.fidelity, "evaluation": plan.signature()["evaluation"],
            "epochs_per_trial": plan.base_config.epochs, "data_sha256": plan.data_sha256,
            "n_train": len(plan.train), "n_val": len(plan.val), "n_real": len(plan.real),
            "space": plan.space.to_dict(), "base_config": to_dict(plan.base_config)}
