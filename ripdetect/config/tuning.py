"""A hyperparameter study (``ripdetect tune``): its objective, search, pruning and budget."""

from __future__ import annotations

from dataclasses import dataclass

from ripdetect.config.knobs import check_field, knob, validate_fields

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
        check_field(0 < len(names) <= 2 and len(set(names)) == len(names) and names != ("latency",)
                    and all(name in OBJECTIVE_DIRECTIONS for name in names), "objective", self.objective, expected)
        check_field(isinstance(self.study, str) and bool(self.study.strip()), "study", self.study, "a non-empty name")
        if len(names) == 2:
            check_field(self.sampler not in SINGLE_OBJECTIVE_SAMPLERS, "sampler", self.sampler,
                        "a sampler that handles two objectives (not " + ", ".join(SINGLE_OBJECTIVE_SAMPLERS) + ")")
            check_field(self.pruner in (None, "none"), "pruner", self.pruner,
                        "none with two objectives (Optuna prunes single-objective studies only)")

    @property
    def objectives(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in str(self.objective).split(","))

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVE_DIRECTIONS[name] for name in self.objectives]
