"""Running a study: ``tune`` opens (or resumes) it, runs trials until it holds ``--trials`` finished ones, and
writes its outputs. With ``jobs`` above 1 the trials run in that many worker processes on this machine, all
working the one study through its storage, as workers on other machines do.

Stopping: ``should_stop`` is asked after every trial (the CLI sets it on the first Ctrl-C), so the running
trials finish and the study can be resumed; a KeyboardInterrupt stops at once, and the trials it cut short run
again when the study resumes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import optuna

from ripdetect.errors import ConfigError, RipdetectError
from ripdetect.files import write_json
from ripdetect.training.tuning import study as studies
from ripdetect.training.tuning.plan import StudyPlan
from ripdetect.training.tuning.report import OUTPUT_NAMES, write_outputs, write_tables
from ripdetect.training.tuning.trial import ProgressFn, run_trial

log = logging.getLogger(__name__)
MARKER_NAME = "study.json"
POLL_S = 2.0


def tune(plan: StudyPlan, progress: ProgressFn | None = None,
         should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Run or resume the study of ``plan``; returns the summary (also in ``summary.json``). ``progress`` gets
    ``trial_end`` events (``finished``, ``trials``, ``best``) and, with one job, every training event."""
    check_out_dir(plan)
    if plan.tune_config.storage is None:
        plan.out_dir.mkdir(parents=True, exist_ok=True)  # the default storage lives there
    storage = studies.open_storage(plan.storage_url)
    study = studies.open_study(storage, plan.tune_config, plan.signature(), plan.space, plan.max_steps)
    trials_dir = plan.out_dir / "trials"
    if not study.trials and trials_dir.is_dir() and any(trials_dir.iterdir()):
        raise ConfigError("holds trial folders of an earlier study; use another --out", plan.out_dir)
    write_json(plan.out_dir / MARKER_NAME, {"study": plan.tune_config.study})
    studies.recover_stopped_trials(study)
    if progress:
        progress("trial_end", {"finished": studies.finished_trials(study), "trials": plan.tune_config.trials,
                               "best": studies.best_values(study)})
    started = time.time()
    try:
        if plan.tune_config.jobs == 1:
            optimise(plan, study, progress, should_stop)
        else:
            run_workers(plan, study, progress, should_stop)
    finally:
        summary = write_outputs(plan, study, elapsed_s=time.time() - started)
    return summary


def check_out_dir(plan: StudyPlan) -> None:
    """``--out`` belongs to one study: refuse a file, or a folder holding another study's outputs. Only reads:
    ``tune`` writes the marker once the study has opened, so a refused run leaves no claim behind."""
    import json

    out_dir, marker = plan.out_dir, plan.out_dir / MARKER_NAME
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError("--out is a file, not a folder", out_dir)
    if marker.is_file():
        try:
            saved = json.loads(marker.read_text()).get("study")
        except (ValueError, AttributeError):
            raise ConfigError(f"{MARKER_NAME} is damaged (not a JSON object naming the study); use another --out",
                              out_dir) from None
        if saved != plan.tune_config.study:
            raise ConfigError(f"holds the outputs of study '{saved}'; use another --out", out_dir)
        return
    foreign = [name for name in OUTPUT_NAMES if (out_dir / name).exists()]
    if foreign:
        raise ConfigError(f"holds {foreign[0]} but no {MARKER_NAME}: not the outputs of a ripdetect study; use "
                          "another --out", out_dir)


def optimise(plan: StudyPlan, study: optuna.Study, progress: ProgressFn | None,
             should_stop: Callable[[], bool]) -> None:
    """Run trials in this process until the study holds ``trials`` finished ones, the timeout passes or
    ``should_stop`` says so."""
    wanted = plan.tune_config.trials
    if studies.finished_trials(study) >= wanted:
        log.info("study '%s' already holds %d finished trials", study.study_name, wanted)
        return
    if isinstance(study.sampler, optuna.samplers.GridSampler) and study.sampler.is_exhausted(study):
        log.info("study '%s' has visited its whole grid", study.study_name)
        return

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        finished = studies.finished_trials(study)
        write_tables(plan, study)
        if progress:
            progress("trial_end", {"trial": trial.number, "state": trial.state.name.lower(), "finished": finished,
                                   "trials": wanted, "best": studies.best_values(study),
                                   "reason": trial.user_attrs.get("fail_reason")})
        if finished >= wanted or should_stop():
            study.stop()

    study.optimize(lambda trial: run_trial(plan, trial, progress), timeout=plan.tune_config.timeout_s,
                   catch=(Exception,), callbacks=[after_trial], gc_after_trial=True)


def run_workers(plan: StudyPlan, study: optuna.Study, progress: ProgressFn | None,
                should_stop: Callable[[], bool]) -> None:
    """``jobs`` worker processes on this study; this process watches the storage and passes on a stop."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    threads = max(1, (os.cpu_count() or 1) // plan.tune_config.jobs)
    workers = [context.Process(target=work_on_study, args=(plan, stop, threads), name=f"ripdetect-tune-{index}")
               for index in range(plan.tune_config.jobs)]
    reported = None
    try:
        for worker in workers:
            worker.start()
        while any(worker.is_alive() for worker in workers):
            time.sleep(POLL_S)
            if should_stop():
                stop.set()
            finished = studies.finished_trials(study)
            if progress and finished != reported:
                reported = finished
                progress("trial_end", {"finished": finished, "trials": plan.tune_config.trials,
                                       "best": studies.best_values(study)})
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()  # a second Ctrl-C: their trials run again on resume
            worker.join()
    failed = [worker.exitcode for worker in workers if worker.exitcode]
    if failed and not stop.is_set():
        raise RipdetectError(f"{len(failed)} of {len(workers)} tuning workers stopped with an error (exit code "
                             f"{failed[0]}); see their messages above")


def work_on_study(plan: StudyPlan, stop, threads: int) -> None:
    """A worker process: trials of the study until it is done or ``stop`` is set. Ctrl-C reaches the parent,
    which passes it on as ``stop``."""
    import sys

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = studies.open_study(studies.open_storage(plan.storage_url), plan.tune_config, plan.signature(),
                                   plan.space, plan.max_steps)
        optimise(plan, study, None, stop.is_set)
    except RipdetectError as exc:
        print(f"ripdetect: error: {exc}", file=sys.stderr)
        sys.exit(2)
