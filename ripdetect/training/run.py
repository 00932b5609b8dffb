"""A whole training run in one call: the run folder, the resolved config, weather copies, ``fit`` and
``finalise``. ``ripdetect train`` is this function plus argument parsing and a progress bar.

A run folder holds one run. Training into a folder that already holds a run needs ``resume=True`` (continue
it) or ``overwrite=True`` (start over); nothing else in the folder is touched.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from ripdetect.config import TrainConfig, to_dict
from ripdetect.data.layouts import Sample
from ripdetect.data.weather_copies import write_weather_copies
from ripdetect.errors import DataError
from ripdetect.files import OutputExistsError, write_json
from ripdetect.models.checkpoint import read_metadata
from ripdetect.models.preprocess import resolve_model_config
from ripdetect.training import distributed
from ripdetect.training.engine import BEST_NAME, FINAL_NAME, HISTORY_NAME, LAST_NAME, LOG_NAME, ProgressFn, fit
from ripdetect.training.finalise import finalise
from ripdetect.training.resume import LEGACY_STATE, STATE_JSON, STATE_TENSORS

log = logging.getLogger(__name__)
CONFIG_NAME, SPLIT_NAME, SOURCES_NAME = "config.json", "split.json", "data_sources.json"
# what a run writes: a folder holding any of these holds a run
RUN_FILES = (CONFIG_NAME, SPLIT_NAME, SOURCES_NAME, LOG_NAME, HISTORY_NAME, BEST_NAME, LAST_NAME, FINAL_NAME,
             STATE_TENSORS, STATE_JSON, LEGACY_STATE)


def check_run_dir(run_dir: Path, resume: bool, overwrite: bool, clear: bool = True) -> None:
    """Refuse a ``--out`` that is a file, or that holds a run when neither resuming nor overwriting; with
    ``overwrite`` (and ``clear``), remove the old run's log and state."""
    if run_dir.exists() and not run_dir.is_dir():
        raise DataError("--out is a file, not a folder", run_dir)
    existing = [name for name in RUN_FILES if (run_dir / name).exists()]
    if existing and not resume and not overwrite:
        raise OutputExistsError(f"already holds a training run ({existing[0]}); use --resume to continue it or "
                                "--overwrite to start over", run_dir)
    if overwrite and not resume and clear:
        for name in (LOG_NAME, HISTORY_NAME, STATE_TENSORS, STATE_JSON, LEGACY_STATE):
            (run_dir / name).unlink(missing_ok=True)


def train_model(train_samples: list[Sample], val_samples: list[Sample], train_config: TrainConfig,
                run_dir: str | Path, *, resume: bool = False, overwrite: bool = False,
                init_from: str | Path | None = None, progress: ProgressFn | None = None,
                data_sources: dict[str, Any] | None = None, select_on_val: bool = True,
                feature_cache=None) -> dict[str, Any]:
    """Train, then finalise: returns ``model`` (path), ``threshold``, ``val_metrics``, ``epochs_run`` and
    ``bad_files``. ``data_sources`` (the ``--data`` arguments) is recorded so ``--resume`` can reload them.

    Under ``torchrun`` every rank calls this; rank 0 alone writes the run folder and finishes the model, and every
    rank returns once the model is written (``threshold`` and ``val_metrics`` are rank 0's)."""

    workers = distributed.current()
    run_dir = Path(run_dir)
    check_run_dir(run_dir, resume, overwrite, clear=False)
    if not train_samples:
        raise DataError("no training images")
    distributed.wait_for_all(workers)  # every rank has checked before rank 0 writes
    if workers.is_main:
        check_run_dir(run_dir, resume, overwrite)
    resolved = dataclasses.replace(train_config, model=resolve_model_config(train_config.model))
    if workers.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / CONFIG_NAME, to_dict(resolved))
        if data_sources is not None:
            write_json(run_dir / SOURCES_NAME, data_sources)
        write_json(run_dir / SPLIT_NAME, {"train": [s.path for s in train_samples],
                                          "val": [s.path for s in val_samples]})
    distributed.wait_for_all(workers)
    if resolved.augment.weather_copies:
        def weather_copies() -> list[Sample]:
            return write_weather_copies(train_samples, run_dir / "weather_copies", resolved.augment.weather_copies,
                                        resolved.seed)

        copies = weather_copies() if workers.is_main else []
        distributed.wait_for_all(workers)
        if not workers.is_main:
            copies = weather_copies()  # finds rank 0's copies written
        log.info("added %d synthetic weather copies", len(copies))
        train_samples = train_samples + copies
    result = fit(train_samples, val_samples, resolved, run_dir, resume=resume, progress=progress, init_from=init_from,
                 select_on_val=select_on_val, feature_cache=feature_cache)
    metrics: dict = {}
    if workers.is_main:
        _, metrics = finalise(run_dir, val_samples, train_samples, resolved.batch_size)
    distributed.wait_for_all(workers)
    model_path = run_dir / FINAL_NAME
    return {"model": str(model_path), "threshold": read_metadata(model_path)["threshold"], "val_metrics": metrics,
            "epochs_run": len(result.history), "bad_files": result.bad_files, "n_train": len(train_samples),
            "n_val": len(val_samples)}
