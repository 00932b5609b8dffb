"""The search space of a study: a JSON or YAML file over the fields of ``TrainConfig``, ``ModelConfig`` and
``AugmentConfig``, by dotted or nested name, checked against their knobs before any trial runs.

    {"lr": {"type": "float", "low": 1e-4, "high": 3e-3, "log": true},
     "model.freeze_stages": {"type": "int", "low": 0, "high": 5},
     "augment": {"p_weather": {"type": "float", "low": 0.0, "high": 0.8, "step": 0.1}},
     "imbalance": {"type": "categorical", "choices": ["weighted_loss", "balanced_sampler"]}}

``float`` and ``int`` take ``low``, ``high`` and optionally ``log`` or ``step``; ``categorical`` takes
``choices``. The grid sampler needs every parameter enumerable: categorical, int, or float with a ``step``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ripdetect.config import AugmentConfig, ModelConfig, TrainConfig, read_data_file, scalar_type, shown
from ripdetect.errors import ConfigError

NESTED = {"model": ModelConfig, "augment": AugmentConfig}
KINDS = ("float", "int", "categorical")
SPEC_KEYS = {"float": {"type", "low", "high", "log", "step"}, "int": {"type", "low", "high", "log", "step"},
             "categorical": {"type", "choices"}}
# fields a study keeps fixed, and why
NOT_TUNED = {
    "seed": "every trial trains with the base config's seed, so trials differ by their parameters alone",
    "epochs": "it is the budget each trial may spend (set it in --config); pruning shortens bad trials",
    "val_fraction": "the validation split must be the same for every trial",
    "num_workers": "it changes speed, not the model", "tensorboard": "it changes logging, not the model",
    "max_steps_per_epoch": "it is a budget, not a hyperparameter",
}
MAX_GRID_POINTS = 100_000
MAX_CORNERS = 4096


@dataclass(frozen=True)
class Parameter:
    """One searched field: ``name`` is dotted (``lr``, ``model.freeze_stages``)."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def grid_values(self) -> list:
        """Every value of the parameter, for the grid sampler."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.step is None and self.kind == "float":
            raise ConfigError(f"the grid sampler needs every parameter enumerable; give '{self.name}' a step or "
                              "make it categorical")
        step = self.step or 1
        count = round((self.high - self.low) / step) + 1
        if count > MAX_GRID_POINTS:
            raise ConfigError(f"'{self.name}' has {count} grid points; the grid sampler takes at most "
                              f"{MAX_GRID_POINTS}")
        values = [self.low + i * step for i in range(count) if self.low + i * step <= self.high + 1e-12]
        return [int(v) for v in values] if self.kind == "int" else [round(v, 12) for v in values]

    def extremes(self) -> list:
        return list(self.choices) if self.kind == "categorical" else [self.low, self.high]

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        spec = {"type": self.kind, "low": self.low, "high": self.high}
        return spec | ({"log": True} if self.log else {}) | ({"step": self.step} if self.step is not None else {})


@dataclass(frozen=True)
class SearchSpace:
    parameters: tuple[Parameter, ...]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def suggest(self, trial) -> dict[str, Any]:
        """The trial's value of every parameter (Optuna's sampler chooses)."""
        return {p.name: p.suggest(trial) for p in self.parameters}

    def apply(self, base: TrainConfig, params: dict[str, Any]) -> TrainConfig:
        """``base`` with ``params`` (dotted names) set; a ``ConfigError`` if the combination is invalid."""
        top = {name: value for name, value in params.items() if "." not in name}
        nested = {group: dataclasses.replace(getattr(base, group), **{name.split(".", 1)[1]: value
                                                                      for name, value in params.items()
                                                                      if name.startswith(group + ".")})
                  for group in NESTED}
        return dataclasses.replace(base, **nested, **top)

    def grid(self) -> dict[str, list]:
        return {p.name: p.grid_values() for p in self.parameters}

    def to_dict(self) -> dict[str, dict]:
        """The canonical form, stored with the study: a study is only continued with the same space."""
        return {p.name: p.to_dict() for p in self.parameters}

    def check_against(self, base: TrainConfig, where: str) -> None:
        """The ends of every parameter's range (or its choices), in every combination when there are at most
        MAX_CORNERS of them, applied to ``base`` give valid configs (e.g. progressive_epochs below the base
        config's epochs)."""
        extremes = [p.extremes() for p in self.parameters]
        if math.prod(len(values) for values in extremes) <= MAX_CORNERS:
            corners = itertools.product(*extremes)
        else:
            corners = ([value if i == j else None for j in range(len(extremes))]
                       for i, values in enumerate(extremes) for value in values)
        for corner in corners:
            params = {name: value for name, value in zip(self.names, corner) if value is not None}
            try:
                self.apply(base, params)
            except ConfigError as exc:
                listed = ", ".join(f"{name}={shown(value)}" for name, value in params.items())
                raise ConfigError(f"{where}: {listed} does not fit the base config: {exc.reason}") from None


def load_space(path: str | Path) -> SearchSpace:
    """Read and check a space file (``.json``, ``.yaml`` or ``.yml``); every problem is a one-line ConfigError."""
    if not Path(path).exists():
        raise ConfigError("search space file not found", path)
    return parse_space(read_data_file(path), str(path))


def parse_space(data: Any, where: str = "search space") -> SearchSpace:
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{where}: a search space is a non-empty mapping of field names to "
                          "{type: float|int|categorical, ...}")
    parameters = [_parameter(name, spec, where) for name, spec in _flatten(data, where)]
    names = [p.name for p in parameters]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"{where}: field '{repeated[0]}' is given twice")
    return SearchSpace(tuple(parameters))


def _flatten(data: dict, where: str, prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted name, spec)`` pairs; ``{"augment": {"p_weather": {...}}}`` is ``augment.p_weather``."""
    pairs = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if not prefix and key in NESTED and isinstance(value, dict) and "type" not in value:
            pairs += _flatten(value, where, f"{key}.")
        else:
            pairs.append((name, value))
    return pairs


def _field(name: str, where: str) -> dataclasses.Field:
    group, _, leaf = name.rpartition(".")
    cls = NESTED.get(group) if group else TrainConfig
    if cls is None:
        raise ConfigError(f"{where}: unknown field '{name}'; nested fields are model.* and augment.*")
    known = {f.name: f for f in dataclasses.fields(cls) if scalar_type(f) is not None}
    if leaf not in known:
        label = f"{group}." if group else ""
        raise ConfigError(f"{where}: unknown field '{name}'; {cls.__name__} fields that can be searched: "
                          + ", ".join(label + n for n in known if n not in NOT_TUNED))
    if leaf in NOT_TUNED and not group:
        raise ConfigError(f"{where}: field '{name}' is not searched: {NOT_TUNED[leaf]}")
    return known[leaf]


def _parameter(name: str, spec: Any, where: str) -> Parameter:
    field = _field(name, where)
    kind_of_field = scalar_type(field)
    if not isinstance(spec, dict) or spec.get("type") not in KINDS:
        raise ConfigError(f"{where}: '{name}' needs a mapping with type float, int or categorical, got {shown(spec)}")
    kind = spec["type"]
    unknown = sorted(set(spec) - SPEC_KEYS[kind])
    if unknown:
        raise ConfigError(f"{where}: '{name}' ({kind}) has unknown key(s) {', '.join(unknown)}; allowed: "
                          + ", ".join(sorted(SPEC_KEYS[kind])))
    if kind == "categorical":
        return _categorical(name, spec, field, kind_of_field, where)
    if kind_of_field not in (int, float) or (kind == "float" and kind_of_field is int):
        raise ConfigError(f"{where}: '{name}' is a {kind_of_field.__name__} field; type {kind} does not fit it"
                          + (" (use type int)" if kind_of_field is int else " (use type categorical)"))
    return _numeric(name, spec, kind, field, where)


def _number(value: Any, integer: bool) -> bool:
    return (isinstance(value, int) if integer else isinstance(value, (int, float))) and not isinstance(value, bool)


def _numeric(name: str, spec: dict, kind: str, field: dataclasses.Field, where: str) -> Parameter:
    integer = kind == "int"
    low, high, log, step = spec.get("low"), spec.get("high"), spec.get("log", False), spec.get("step")
    expected = "integers" if integer else "numbers"
    if not (_number(low, integer) and _number(high, integer)) or not low < high:
        raise ConfigError(f"{where}: '{name}' needs low < high, both {expected}; got low={shown(low)}, high={shown(high)}")
    meta = field.metadata
    if meta.get("low") is not None:
        below = low <= meta["low"] if meta.get("low_exclusive") else low < meta["low"]
        if below or high > meta["high"]:
            left = "(" if meta.get("low_exclusive") else "["
            raise ConfigError(f"{where}: '{name}' range [{low:g}, {high:g}] is outside the field's range "
                              f"{left}{meta['low']:g}, {meta['high']:g}]")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: '{name}' log must be true or false, got {shown(log)}")
    if log and (low <= 0 or step is not None):
        raise ConfigError(f"{where}: '{name}' on a log scale needs low > 0 and no step")
    if step is not None and (not _number(step, integer) or step <= 0 or step > high - low):
        raise ConfigError(f"{where}: '{name}' step must be a positive {expected[:-1]} no larger than high - low, "
                          f"got {shown(step)}")
    cast = int if integer else float
    return Parameter(name, kind, cast(low), cast(high), log, None if step is None else cast(step))


def _categorical(name: str, spec: dict, field: dataclasses.Field, kind_of_field: type, where: str) -> Parameter:
    choices = spec.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ConfigError(f"{where}: '{name}' needs a non-empty list of choices, got {shown(choices)}")
    if len({json.dumps(c) for c in choices}) != len(choices):
        raise ConfigError(f"{where}: '{name}' lists a choice twice")
    for choice in choices:
        fits = (choice is None and field.default is None) or (
            isinstance(choice, bool) if kind_of_field is bool else
            _number(choice, kind_of_field is int) if kind_of_field in (int, float) else isinstance(choice, str))
        if not fits:
            raise ConfigError(f"{where}: '{name}' choice {shown(choice)} is not a {kind_of_field.__name__}")
        group, _, leaf = name.rpartition(".")
        try:
            (NESTED[group] if group else TrainConfig)(**{leaf: choice})
        except ConfigError as exc:
            raise ConfigError(f"{where}: '{name}' choice {shown(choice)}: {exc.reason}") from None
    return Parameter(name, "categorical", choices=tuple(choices))
