"""The outputs of a study, rewritten from the storage (so they cover every worker's trials):

- ``best_config.json``: the best trial's config, ready for ``ripdetect train --config`` (two objectives: the
  front's best on the first, and every Pareto-optimal config in ``pareto/``);
- ``trials.csv``: one row per trial (state, values, epochs trained, parameters, failure reason, run folder);
- ``summary.json``: what was searched and how, the counts, the best trial or the Pareto front, and the share
  of the epoch budget that pruning saved;
- ``plots/``: optimisation history, parallel coordinates, parameter importances, intermediate values (and
  the Pareto front).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from ripdetect import records
from ripdetect.config import to_dict
from ripdetect.files import write_json
from ripdetect.records import write_csv
from ripdetect.training.tuning import study as studies
from ripdetect.training.tuning.plan import StudyPlan, describe
from ripdetect.viz import study_charts as charts

log = logging.getLogger(__name__)
BEST_NAME, TRIALS_NAME, SUMMARY_NAME, PLOTS_NAME, PARETO_NAME = ("best_config.json", "trials.csv", "summary.json",
                                                                 "plots", "pareto")
OUTPUT_NAMES = ("study.db", "trials", BEST_NAME, TRIALS_NAME, SUMMARY_NAME, PLOTS_NAME, PARETO_NAME)
STATE_NAMES = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "fail",
               TrialState.RUNNING: "running", TrialState.WAITING: "waiting"}


def write_tables(plan: StudyPlan, study: optuna.Study, elapsed_s: float | None = None) -> dict[str, Any]:
    """``trials.csv``, ``summary.json`` and the best config(s); returns the summary."""
    trials = study.get_trials(deepcopy=False)
    _write_trials_csv(plan, trials, plan.out_dir / TRIALS_NAME)
    summary = _summary(plan, study, trials)
    if elapsed_s is not None:
        summary["elapsed_s"] = records.tenths(elapsed_s)
    write_json(plan.out_dir / SUMMARY_NAME, summary)
    return summary


def write_outputs(plan: StudyPlan, study: optuna.Study, elapsed_s: float | None = None) -> dict[str, Any]:
    """Every output, the plots included; returns the summary."""
    summary = write_tables(plan, study, elapsed_s)
    summary["plots"] = [str(path) for path in write_plots(plan, study)]
    write_json(plan.out_dir / SUMMARY_NAME, summary)
    return summary


def _write_trials_csv(plan: StudyPlan, trials: list[FrozenTrial], path: Path) -> None:
    objectives, names = list(plan.tune_config.objectives), plan.space.names
    rows = []
    for trial in trials:
        values = trial.values if trial.state == TrialState.COMPLETE else [None] * len(objectives)
        duration = trial.duration.total_seconds() if trial.duration else None
        rows.append([trial.number, STATE_NAMES.get(trial.state, trial.state.name.lower()), *values,
                     _epochs_trained(trial), records.tenths(duration), *[trial.params.get(name) for name in names],
                     trial.user_attrs.get("retry_of"), _fail_reason(trial), trial.user_attrs.get("run_dir")])
    write_csv(path, rows, ["number", "state", *objectives, "epochs_trained", "duration_s", *names, "retry_of",
                           "fail_reason", "run_dir"])


def _fail_reason(trial: FrozenTrial) -> str | None:
    if trial.state != TrialState.FAIL:
        return None
    return trial.user_attrs.get("fail_reason") or "stopped before it finished (its worker was lost)"


def _epochs_trained(trial: FrozenTrial) -> int:
    return int(trial.user_attrs.get("epochs_trained", len(trial.intermediate_values)))


def _summary(plan: StudyPlan, study: optuna.Study, trials: list[FrozenTrial]) -> dict[str, Any]:
    retried = {t.user_attrs.get("retry_of") for t in trials}
    finished = [t for t in trials if studies.counted(t, retried)]
    trained = sum(_epochs_trained(t) for t in finished)
    budget = len(finished) * plan.max_steps
    counts = {name: sum(t.state == state for t in trials) for state, name in STATE_NAMES.items()}
    summary = {"study": study.study_name, "storage": studies.redact(plan.storage_url), **describe(plan),
               "trials": {"wanted": plan.tune_config.trials, "finished": len(finished), **counts},
               "epochs": {"trained": trained, "budget": budget,
                          "saved_by_pruning": round(1 - trained / budget, 4) if budget else None},
               "best": None}
    summary.pop("base_config")
    front = _front(study)
    if front:
        summary["best"] = _write_best(plan, front[0], plan.out_dir / BEST_NAME)
    if len(study.directions) > 1:
        folder = plan.out_dir / PARETO_NAME
        summary["pareto_front"] = [_write_best(plan, t, folder / f"trial_{t.number:04d}.json") for t in front]
        kept = {Path(row["config"]).name for row in summary["pareto_front"]}
        for path in folder.glob("trial_*.json"):  # written by this study for a trial no longer on the front
            if path.name not in kept:
                path.unlink()
    return summary


def _front(study: optuna.Study) -> list[FrozenTrial]:
    """The best trial, or the Pareto-optimal trials best-first on the first objective."""
    try:
        if len(study.directions) == 1:
            return [study.best_trial]
    except ValueError:
        return []
    sign = 1 if study.directions[0] == optuna.study.StudyDirection.MINIMIZE else -1
    return sorted(study.best_trials, key=lambda t: sign * t.values[0])


def _write_best(plan: StudyPlan, trial: FrozenTrial, path: Path) -> dict[str, Any]:
    write_json(path, to_dict(plan.trial_config(trial.params)))
    return {"trial": trial.number, "values": dict(zip(plan.tune_config.objectives, trial.values)),
            "params": trial.params, "config": str(path), "run_dir": trial.user_attrs.get("run_dir")}


def write_plots(plan: StudyPlan, study: optuna.Study) -> list[Path]:
    """The PNG charts; a chart the trials cannot support yet (e.g. importances before two complete trials) is
    left out."""
    folder = plan.out_dir / PLOTS_NAME
    objectives = list(plan.tune_config.objectives)
    points = [charts.TrialPoint(t.number, STATE_NAMES[t.state], tuple(t.values or ()), t.params,
                                dict(t.intermediate_values))
              for t in study.get_trials(deepcopy=False)
              if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)]
    log_names = {p.name for p in plan.space.parameters if p.log}
    maximise = plan.tune_config.directions[0] == "maximize"
    paths = [charts.plot_history(points, objectives[0], maximise, folder / "optimisation_history.png"),
             charts.plot_parallel_coordinates(points, plan.space.names, log_names, objectives[0],
                                              folder / "parallel_coordinates.png"),
             charts.plot_intermediate_values(points, objectives[0], folder / "intermediate_values.png")]
    importances = _importances(study)
    if importances:
        paths.append(charts.plot_importances(importances, objectives[0], folder / "param_importances.png"))
    if len(objectives) == 2:
        front = {t.number for t in _front(study)}
        paths.append(charts.plot_pareto_front(points, front, objectives, folder / "pareto_front.png"))
    return paths


def _importances(study: optuna.Study) -> dict[str, float] | None:
    """fANOVA importances of the parameters for the first objective (Optuna's), or ``None`` when there are too
    few complete trials or nothing varied."""
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return None
    try:
        return get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0),
                                     target=(lambda t: t.values[0]) if len(study.directions) > 1 else None)
    except (RuntimeError, ValueError) as exc:
        log.info("no parameter importances yet: %s", exc)
        return None
