"""The Optuna side of a study: storage, sampler, pruner, the study itself, and the trials a stopped run left.

The storage is a database URL (SQLite in the output folder by default), so a killed study resumes with the same
command, and several processes or machines given one URL work one study together. A study remembers what it
optimises (the search space, objectives and fidelity); opening it with anything else is refused.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from ripdetect.config import TuneConfig
from ripdetect.errors import ConfigError, first_line
from ripdetect.training.tuning.algorithms import pruner_name, sampler_name
from ripdetect.training.tuning.space import SearchSpace

log = logging.getLogger(__name__)
SIGNATURE_ATTR = "ripdetect_signature"
HEARTBEAT_S, GRACE_S = 60, 180


def redact(url: str) -> str:
    """The URL without its password, for messages and reports."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL sqlalchemy can parse: show it as given
        return url


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage with heartbeats (a trial whose worker vanished is failed and re-queued after
    GRACE_S seconds); a one-line ConfigError when the URL is bad or the database unreachable."""
    if "://" not in url:
        raise ConfigError(f"--storage {url!r} is not a database URL (e.g. sqlite:///study.db, "
                          "postgresql://user@host/db)")
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        with warnings.catch_warnings():  # heartbeats are an experimental Optuna feature, chosen knowingly
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S,
                                              grace_period=GRACE_S, heartbeat_stale_trial_callback=requeue)
    except Exception as exc:  # noqa: BLE001 - sqlalchemy, driver and alembic errors alike
        raise ConfigError(f"cannot open the study storage {redact(url)}: {first_line(exc)}") from None


def sampler_seed(tune_config: TuneConfig, trials_so_far: int = 0) -> int:
    """``--sampler-seed`` for a new study run by one process on its own storage, so it is reproducible. A
    resumed study mixes in how many trials it holds, and where several workers may share the study (``--jobs``
    above 1, or a ``--storage`` URL) each mixes in its machine and process: the same seed again would propose
    the trials already run."""
    if tune_config.jobs == 1 and tune_config.storage is None and trials_so_far == 0:
        return tune_config.seed
    import hashlib

    worker = f"{tune_config.seed}:{trials_so_far}"
    if tune_config.jobs > 1 or tune_config.storage is not None:
        worker += f":{socket.gethostname()}:{os.getpid()}"
    return int.from_bytes(hashlib.sha256(worker.encode()).digest()[:4], "little")


def make_sampler(tune_config: TuneConfig, space: SearchSpace, trials_so_far: int = 0) -> optuna.samplers.BaseSampler:
    seed, name = sampler_seed(tune_config, trials_so_far), sampler_name(tune_config)
    samplers = optuna.samplers
    if name == "grid":
        return samplers.GridSampler(space.grid(), seed=seed)
    if name == "tpe":
        return samplers.TPESampler(seed=seed, constant_liar=tune_config.jobs > 1 or tune_config.storage is not None)
    if name == "cmaes":
        return samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    factories = {"random": samplers.RandomSampler, "gp": samplers.GPSampler, "qmc": samplers.QMCSampler,
                 "nsga2": samplers.NSGAIISampler}
    return factories[name](seed=seed)


def make_pruner(tune_config: TuneConfig, max_steps: int) -> optuna.pruners.BasePruner:
    """Hyperband and successive halving over ``max_steps`` reported steps (epochs, or fold-epochs)."""
    name, factor, first = pruner_name(tune_config), tune_config.reduction_factor, tune_config.min_epochs
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=max_steps, reduction_factor=factor)
    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=factor)
    if name == "median":
        return optuna.pruners.MedianPruner(n_warmup_steps=first - 1)
    return optuna.pruners.NopPruner()


def open_study(storage: optuna.storages.BaseStorage, tune_config: TuneConfig, signature: dict[str, Any],
               space: SearchSpace, max_steps: int) -> optuna.Study:
    """Create the study, or load it when it exists with the same signature (a one-line ConfigError otherwise),
    with its sampler and pruner."""
    check_signature(storage, tune_config.study, signature)
    try:
        trials_so_far = len(storage.get_all_trials(storage.get_study_id_from_name(tune_config.study), deepcopy=False))
    except KeyError:
        trials_so_far = 0
    study = optuna.create_study(storage=storage, study_name=tune_config.study, directions=tune_config.directions,
                                sampler=make_sampler(tune_config, space, trials_so_far),
                                pruner=make_pruner(tune_config, max_steps), load_if_exists=True)
    if SIGNATURE_ATTR not in study.user_attrs:
        study.set_user_attr(SIGNATURE_ATTR, signature)
    return study


def check_signature(storage: optuna.storages.BaseStorage, name: str, signature: dict[str, Any]) -> None:
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return
    saved = storage.get_study_user_attrs(study_id).get(SIGNATURE_ATTR)
    if saved is None:
        raise ConfigError(f"study '{name}' exists in this storage but was not made by ripdetect tune; use another "
                          "--study")
    later = ("data", "base config")  # signed since ripdetect 0.3: a study signed before is continued without them
    differs = [key for key in signature if saved.get(key) != signature[key] and (key in saved or key not in later)]
    if differs:
        detail = ""
        if "space" in differs:
            space, other = signature["space"], saved.get("space", {})
            changed = sorted(n for n in set(space) | set(other) if space.get(n) != other.get(n))
            detail = f" (search space: {', '.join(changed)})"
        raise ConfigError(f"study '{name}' exists with another {', '.join(differs)}{detail}; use the same settings to "
                          "continue it, or another --study")


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a stopped trial's parameters again, once (a retry that stops too is left failed)."""
    if trial.user_attrs.get("retry_of") is None:
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        log.info("trial %d stopped before it finished; its parameters are queued again", trial.number)


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return True  # unknown: leave it to the heartbeat
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_stopped_trials(study: optuna.Study) -> None:
    """Fail the running trials whose process on this machine is gone (a SIGKILL), and queue every stopped
    trial (interrupted, killed, or lost on another machine) again once."""
    storage, host = study._storage, socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker") or {}
        if worker.get("host") == host and not _alive(worker.get("pid")):
            try:
                storage.set_trial_user_attr(trial._trial_id, "fail_reason",
                                            "its process stopped before the trial finished (killed?)")
                storage.set_trial_user_attr(trial._trial_id, "stopped", True)
                storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # another worker got there first
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    for trial in trials:
        if trial.state == TrialState.FAIL and trial.user_attrs.get("stopped") and trial.number not in retried:
            requeue(study, trial)


def counted(trial: FrozenTrial, retried: set) -> bool:
    """Whether a trial counts towards ``--trials``: finished, and not stopped from outside (those run again)."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and trial.number not in retried and not trial.user_attrs.get("stopped")


def finished_trials(study: optuna.Study) -> int:
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    return sum(counted(t, retried) for t in trials)


def best_values(study: optuna.Study) -> list[float] | None:
    """The best value (one objective) or ``None``; for two objectives, ``None`` (there is a front instead)."""
    if len(study.directions) != 1:
        return None
    try:
        return [study.best_value]
    except ValueError:
        return None
