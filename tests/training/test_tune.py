"""Hyperparameter search (``ripdetect tune``): the space is checked before any work, Hyperband prunes, the grid
is walked whole, a crashing trial fails alone, a killed study resumes, the best config trains, and the early
rungs can run on less data or a smaller input."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

from ripdetect.config import TrainConfig, TuneConfig, load_json_config
from ripdetect.errors import ConfigError
from ripdetect.training.tuning import load_space, make_plan, parse_space, tune
from tests.helpers import make_scene, run_cli, tiny_train_config, write_png

TINY_BASE = {"model": {"arch": "tiny_cnn", "pretrained": False, "input_size": 64}, "batch_size": 4, "num_workers": 0,
             "patience": 0, "val_fraction": 0.4}
LR_SPACE = {"lr": {"type": "float", "low": 1e-7, "high": 0.3, "log": True}}


@pytest.fixture(scope="module")
def tune_data(tmp_path_factory) -> Path:
    """10 toy beach scenes per class (a split of 6 + 4 per class)."""
    rng = np.random.default_rng(1)
    root = tmp_path_factory.mktemp("tune") / "data"
    for i in range(10):
        for label in ("rip", "no_rip"):
            write_png(root / label / f"{label}_{i}.png", make_scene(rng, rip=label == "rip"))
    return root


def _plan(out, data, space, epochs=3, real=None, folds=None, **tune_fields):
    from ripdetect.data.layouts import load_many, load_samples, split_samples

    base = tiny_train_config(**{k: v for k, v in TINY_BASE.items() if k != "model"}, epochs=epochs)
    tune_config = TuneConfig(**tune_fields)
    if folds:
        return make_plan(out, tune_config, base, parse_space(space), load_many([data]), real=real, folds=folds)
    train, val = split_samples(load_samples(data), base.val_fraction, base.seed)
    return make_plan(out, tune_config, base, parse_space(space), train, val)


def _rows(out: Path) -> list[dict]:
    return list(csv.DictReader(open(out / "trials.csv")))


# --- the search space is checked before any trial runs -------------------------------------------------------------

@pytest.mark.parametrize("space, message", [
    ({"lr": {"type": "float", "low": 1e-4, "high": 1e-2}, "model.colour": {"type": "int", "low": 0, "high": 2}},
     "unknown field 'model.colour'; ModelConfig fields that can be searched: model.arch"),
    ({"learning_rate": {"type": "float", "low": 0.1, "high": 0.2}}, "unknown field 'learning_rate'"),
    ({"optimiser.lr": {"type": "float", "low": 0.1, "high": 0.2}}, "nested fields are model.* and augment.*"),
    ({"lr": {"type": "float", "low": 1e-4, "high": 2.0}},
     "'lr' range [0.0001, 2] is outside the field's range [1e-07, 1]"),
    ({"lr": {"type": "float", "low": 0.01, "high": 0.001}}, "'lr' needs low < high"),
    ({"weight_decay": {"type": "float", "low": 0.0, "high": 0.1, "log": True}},
     "'weight_decay' on a log scale needs low > 0"),
    ({"lr": {"type": "float", "low": 0.001, "high": 0.1, "steps": 3}}, "'lr' (float) has unknown key(s) steps"),
    ({"model": {"freeze_stages": {"type": "float", "low": 0, "high": 3}}},
     "'model.freeze_stages' is a int field; type float does not fit it (use type int)"),
    ({"augment": {"p_weather": {"type": "int", "low": 0.1, "high": 0.9}}}, "needs low < high, both integers"),
    ({"imbalance": {"type": "categorical", "choices": []}}, "'imbalance' needs a non-empty list of choices"),
    ({"imbalance": {"type": "categorical", "choices": ["weighted_loss", "oversample"]}},
     "'imbalance' choice 'oversample': config field 'imbalance' = 'oversample' is invalid"),
    ({"model.water_head": {"type": "categorical", "choices": [True, "yes"]}}, "choice 'yes' is not a bool"),
    ({"seed": {"type": "int", "low": 0, "high": 9}}, "field 'seed' is not searched"),
    ({"lr": {"type": "uniform", "low": 0.1, "high": 0.2}}, "'lr' needs a mapping with type float, int or categorical"),
    ({"lr": {"type": "float", "low": 1e-3, "high": 1e-2}, "model": {"dropout": 0.2}},
     "'model.dropout' needs a mapping"),
    ({}, "a search space is a non-empty mapping"),
])
def test_space_errors_name_the_field_and_the_reason(space, message):
    with pytest.raises(ConfigError) as error:
        parse_space(space, "space.json")
    assert message in str(error.value) and str(error.value).startswith("space.json: ")
    assert "\n" not in str(error.value)


def test_space_files_in_json_and_yaml_by_dotted_or_nested_name(tmp_path):
    (tmp_path / "s.yaml").write_text("lr: {type: float, low: 0.0001, high: 0.01, log: true}\n"
                                     "augment:\n  p_weather: {type: float, low: 0.0, high: 0.8, step: 0.4}\n"
                                     "model.freeze_stages: {type: int, low: 0, high: 2}\n")
    space = load_space(tmp_path / "s.yaml")
    assert space.names == ["lr", "augment.p_weather", "model.freeze_stages"]
    assert space.parameters[1].grid_values() == [0.0, 0.4, 0.8] and space.parameters[2].grid_values() == [0, 1, 2]
    config = space.apply(TrainConfig(), {"lr": 0.002, "augment.p_weather": 0.4, "model.freeze_stages": 2})
    assert (config.lr, config.augment.p_weather, config.model.freeze_stages) == (0.002, 0.4, 2)
    (tmp_path / "bad.json").write_text("{'lr': 1}")
    with pytest.raises(ConfigError, match="bad.json: not valid JSON"):
        load_space(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="search space file not found"):
        load_space(tmp_path / "missing.json")
    default = load_space(Path(__import__("ripdetect").__file__).parent / "training/tuning/spaces/default.json")
    assert {"lr", "model.freeze_stages", "augment.p_weather", "cam_loss_weight", "real_repeat"} <= set(default.names)
    default.check_against(load_json_config(TrainConfig, "train/configs/default.json"), "default.json")


def test_a_plan_that_cannot_work_is_refused_before_any_trial(tune_data, tmp_path):
    with pytest.raises(ConfigError, match="the grid sampler needs every parameter enumerable; give 'lr' a step"):
        _plan(tmp_path / "s", tune_data, LR_SPACE, sampler="grid")
    with pytest.raises(ConfigError, match="progressive_epochs=5, progressive_data=0.2 does not fit the base config: "
                                          ".* fewer than epochs \\(3\\)"):
        _plan(tmp_path / "s", tune_data, {"progressive_epochs": {"type": "int", "low": 1, "high": 5},
                                          "progressive_data": {"type": "float", "low": 0.2, "high": 0.5}})
    with pytest.raises(ConfigError, match="--fidelity data sets progressive_data itself"):
        _plan(tmp_path / "s", tune_data, {"progressive_data": {"type": "float", "low": 0.2, "high": 0.5}},
              fidelity="data")
    with pytest.raises(ConfigError, match="base config needs at least 3 epochs; it has 2"):
        _plan(tmp_path / "s", tune_data, LR_SPACE, epochs=2, fidelity="size")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("fields, message", [
    ({"objective": "accuracy"}, "config field 'objective' = 'accuracy' is invalid"),
    ({"objective": "latency"}, "not 'latency' alone"),
    ({"objective": "f2,latency", "pruner": "hyperband"}, "none with two objectives"),
    ({"objective": "f2,latency", "sampler": "cmaes"}, "a sampler that handles two objectives"),
    ({"sampler": "annealing"}, "expected one of tpe, random, grid, cmaes, gp, qmc, nsga2"),
    ({"pruner": "asha"}, "expected one of hyperband, sha, median, none"),
])
def test_bad_study_settings_are_one_line(fields, message):
    with pytest.raises(ConfigError, match=message.replace("(", "\\(")):
        TuneConfig(**fields)


@pytest.mark.slow
def test_storage_and_study_name_errors_come_before_any_work(tune_data, tmp_path):
    from ripdetect.training.tuning import study as studies

    with pytest.raises(ConfigError, match="cannot open the study storage sqlite:////no/such/folder/s.db"):
        studies.open_storage("sqlite:////no/such/folder/s.db")
    with pytest.raises(ConfigError, match="'runs/study.db' is not a database URL"):
        studies.open_storage("runs/study.db")
    with pytest.raises(ConfigError, match="cannot open the study storage postgresql://me:\\*\\*\\*@localhost:1/db"):
        studies.open_storage("postgresql://me:secret@localhost:1/db")
    plan = _plan(tmp_path / "a", tune_data, LR_SPACE, trials=1)
    storage = studies.open_storage(f"sqlite:///{tmp_path / 'shared.db'}")
    study = studies.open_study(storage, plan.tune_config, plan.signature(), plan.space, plan.max_steps)
    from ripdetect.training.tuning.report import write_outputs

    empty = write_outputs(plan, study)  # a study stopped before its first trial still reports
    assert empty["best"] is None and empty["trials"]["finished"] == 0 and len(empty["plots"]) == 3
    other = _plan(tmp_path / "b", tune_data, {"lr": {"type": "float", "low": 1e-4, "high": 1e-2}}, trials=1)
    with pytest.raises(ConfigError, match=r"study 'ripdetect' exists with another space \(search space: lr\); use "
                                          "the same settings to continue it, or another --study"):
        studies.open_study(storage, other.tune_config, other.signature(), other.space, other.max_steps)
    optuna.create_study(storage=storage, study_name="someone-else")
    with pytest.raises(ConfigError, match="exists in this storage but was not made by ripdetect tune"):
        studies.check_signature(storage, "someone-else", plan.signature())


def test_a_study_is_continued_only_on_the_same_data_and_base_config(tune_data, tmp_path):
    """Trials judged on other images, or trained from another base config, are never ranked together."""
    import dataclasses
    import shutil

    from ripdetect.training.tuning import study as studies

    plan = _plan(tmp_path / "a", tune_data, LR_SPACE, trials=1)
    storage = studies.open_storage(f"sqlite:///{tmp_path / 'shared.db'}")
    studies.open_study(storage, plan.tune_config, plan.signature(), plan.space, plan.max_steps)
    fewer = tmp_path / "fewer"
    shutil.copytree(tune_data, fewer)
    (fewer / "rip" / "rip_0.png").unlink()
    other_data = _plan(tmp_path / "a", fewer, LR_SPACE, trials=1)
    with pytest.raises(ConfigError, match=r"study 'ripdetect' exists with another data; use the same settings"):
        studies.check_signature(storage, "ripdetect", other_data.signature())
    other_base = dataclasses.replace(plan, base_config=dataclasses.replace(plan.base_config, weight_decay=0.01))
    with pytest.raises(ConfigError, match=r"exists with another base config"):
        studies.check_signature(storage, "ripdetect", other_base.signature())
    old = {k: v for k, v in plan.signature().items() if k not in ("data", "base config")}
    study_id = storage.get_study_id_from_name("ripdetect")
    storage.set_study_user_attr(study_id, studies.SIGNATURE_ATTR, old)  # a study signed by ripdetect 0.2
    studies.check_signature(storage, "ripdetect", other_data.signature())  # continued, as it was then


@pytest.mark.system
@pytest.mark.parametrize("args, message", [
    (["--sampler", "annealing"], "argument --sampler: invalid choice: 'annealing'"),
    (["--pruner", "asha"], "argument --pruner: invalid choice: 'asha'"),
    (["--storage", "sqlite:////no/such/folder/s.db"], "ripdetect: error: cannot open the study storage"),
    (["--storage", "postgresql://me:secret@localhost:1/db"], "optuna-dashboard postgresql://me:***@localhost:1/db"),
    (["--space", "SPACE_UNKNOWN"], "ripdetect: error: SPACE_UNKNOWN: unknown field 'model.colour'"),
    (["--objective", "f2,latency", "--pruner", "median"], "none with two objectives"),
])
@pytest.mark.slow
def test_cli_bad_input_is_one_line_before_any_work(tune_data, tmp_path, args, message):
    (tmp_path / "bad.json").write_text(json.dumps({"model.colour": {"type": "int", "low": 0, "high": 2}}))
    args = [str(tmp_path / "bad.json") if a == "SPACE_UNKNOWN" else a for a in args]
    message = message.replace("SPACE_UNKNOWN", str(tmp_path / "bad.json"))
    result = run_cli("tune", "--data", tune_data, "--out", tmp_path / "study", *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "study").exists() and "secret" not in result.stderr


def test_a_refused_run_leaves_out_free_and_a_damaged_marker_is_one_line(tune_data, tmp_path):
    from ripdetect.training.tuning import study as studies

    storage_url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = _plan(tmp_path / "a", tune_data, LR_SPACE, trials=1, storage=storage_url)
    studies.open_study(studies.open_storage(storage_url), first.tune_config, first.signature(), first.space,
                       first.max_steps)
    other = _plan(tmp_path / "b", tune_data, {"lr": {"type": "float", "low": 1e-4, "high": 1e-2}}, trials=1,
                  storage=storage_url)
    with pytest.raises(ConfigError, match="exists with another space"):
        tune(other)
    assert not (tmp_path / "b" / "study.json").exists()  # the refused run did not claim --out
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "study.json").write_text("[1, 2")
    with pytest.raises(ConfigError, match="study.json is damaged") as error:
        tune(_plan(tmp_path / "c", tune_data, LR_SPACE, trials=1))
    assert str(error.value).startswith(str(tmp_path / "c")) and "\n" not in str(error.value)


# --- studies on the tiny CNN -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hyperband_study(tune_data, tmp_path_factory):
    """Six trials of random learning rates from 1e-6 (learns nothing) to 0.3 (diverges), pruned by Hyperband."""
    out = tmp_path_factory.mktemp("hyperband") / "study"
    events = []
    plan = _plan(out, tune_data, LR_SPACE, epochs=3, trials=6, sampler="random", pruner="hyperband", seed=3)
    summary = tune(plan, progress=lambda event, info: events.append((event, info)))
    return out, summary, events


@pytest.mark.slow
def test_hyperband_prunes_trials_and_the_outputs_are_written(hyperband_study):
    out, summary, events = hyperband_study
    rows = _rows(out)
    assert len(rows) == 6 and {row["state"] for row in rows} <= {"complete", "pruned"}
    pruned = [row for row in rows if row["state"] == "pruned"]
    assert pruned and all(int(row["epochs_trained"]) < 3 for row in pruned)
    assert summary["trials"]["pruned"] == len(pruned) and summary["trials"]["finished"] == 6
    assert summary["epochs"]["trained"] == sum(int(row["epochs_trained"]) for row in rows)
    assert summary["epochs"]["budget"] == 18 and 0 < summary["epochs"]["saved_by_pruning"] < 1
    complete = [row for row in rows if row["state"] == "complete"]
    assert summary["best"]["values"]["roc_auc"] == max(float(row["roc_auc"]) for row in complete)
    assert {Path(p).name for p in summary["plots"]} >= {"optimisation_history.png", "parallel_coordinates.png",
                                                        "intermediate_values.png"}
    assert all(Path(p).stat().st_size > 1000 for p in summary["plots"])
    best = load_json_config(TrainConfig, out / "best_config.json")
    assert best.lr == pytest.approx(summary["best"]["params"]["lr"]) and best.monitor == "roc_auc"
    ends = [info for event, info in events if event == "trial_end" and "trial" in info]
    assert [info["finished"] for info in ends] == [1, 2, 3, 4, 5, 6] and ends[-1]["best"] is not None


@pytest.mark.slow
def test_every_trial_folder_records_config_seed_data_hash_and_metrics(hyperband_study):
    out, _, _ = hyperband_study
    for row in _rows(out):
        folder = Path(row["run_dir"])
        record = json.loads((folder / "trial.json").read_text())
        config = load_json_config(TrainConfig, folder / "config.json")
        assert record["state"] == row["state"] and record["seed"] == config.seed == 0
        assert len(record["data_sha256"]) == 64 and config.lr == pytest.approx(float(row["lr"]))
        assert len(record["intermediate_values"]) == int(row["epochs_trained"])
        if row["state"] == "complete":
            assert record["values"]["roc_auc"] == pytest.approx(float(row["roc_auc"]))
            assert {"f2", "brier", "balanced_accuracy"} <= set(record["metrics"])
            assert (folder / "run" / "model.safetensors").is_file()


@pytest.mark.slow
@pytest.mark.system
def test_the_best_config_trains_with_ripdetect_train(hyperband_study, tune_data, tmp_path):
    out, summary, _ = hyperband_study
    result = run_cli("train", "--config", out / "best_config.json", "--data", tune_data, "--out", tmp_path / "run",
                     "--epochs", "1", check=True)
    assert json.loads(result.stdout)["epochs_run"] == 1
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["lr"] == pytest.approx(summary["best"]["params"]["lr"])


@pytest.mark.slow
def test_a_finished_study_run_again_only_rewrites_its_outputs(hyperband_study, tune_data):
    out, summary, _ = hyperband_study
    plan = _plan(out, tune_data, LR_SPACE, epochs=3, trials=6, sampler="random", pruner="hyperband", seed=3)
    again = tune(plan)
    assert again["trials"] == summary["trials"] and len(_rows(out)) == 6
    with pytest.raises(ConfigError, match="holds the outputs of study 'ripdetect'"):
        tune(_plan(out, tune_data, LR_SPACE, study="another"))


@pytest.mark.slow
def test_the_grid_sampler_visits_every_grid_point(tune_data, tmp_path):
    space = {"lr": {"type": "categorical", "choices": [0.001, 0.01]},
             "model.dropout": {"type": "float", "low": 0.0, "high": 0.4, "step": 0.4}}
    summary = tune(_plan(tmp_path / "grid", tune_data, space, epochs=1, trials=10, sampler="grid", pruner="none"))
    rows = _rows(tmp_path / "grid")
    visited = {(float(row["lr"]), float(row["model.dropout"])) for row in rows}
    assert visited == {(0.001, 0.0), (0.001, 0.4), (0.01, 0.0), (0.01, 0.4)} and len(rows) == 4
    assert summary["trials"]["complete"] == 4
    tune(_plan(tmp_path / "grid", tune_data, space, epochs=1, trials=10, sampler="grid", pruner="none"))
    assert len(_rows(tmp_path / "grid")) == 4  # a finished grid is not walked again


@pytest.mark.slow
def test_a_crashing_trial_is_recorded_as_failed_and_the_study_goes_on(tune_data, tmp_path, monkeypatch):
    from ripdetect.training.tuning import trial as trials

    original, calls = trials._train, []

    def out_of_memory_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("CPU ran out of memory")
        return original(*args, **kwargs)

    monkeypatch.setattr(trials, "_train", out_of_memory_once)
    space = {"lr": {"type": "categorical", "choices": [0.001, 0.003, 0.01]}}
    summary = tune(_plan(tmp_path / "crash", tune_data, space, epochs=1, trials=3, sampler="grid", pruner="none"))
    rows = _rows(tmp_path / "crash")
    assert [row["state"] for row in rows] == ["complete", "fail", "complete"]
    assert rows[1]["fail_reason"] == "MemoryError: CPU ran out of memory"
    assert json.loads((Path(rows[1]["run_dir"]) / "trial.json").read_text())["state"] == "failed"
    assert summary["trials"]["finished"] == 3 and summary["best"] is not None


@pytest.mark.slow
def test_two_objectives_give_a_pareto_front(tune_data, tmp_path):
    space = {"lr": {"type": "categorical", "choices": [0.001, 0.01]}, "model.input_size": {"type": "categorical",
                                                                                            "choices": [32, 64]}}
    summary = tune(_plan(tmp_path / "pareto", tune_data, space, epochs=1, trials=3, objective="f2,latency"))
    assert summary["sampler"] == "nsga2" and summary["pruner"] == "none"
    front = summary["pareto_front"]
    assert front and all(set(row["values"]) == {"f2", "latency"} and row["values"]["latency"] > 0 for row in front)
    assert all(Path(row["config"]).is_file() for row in front) and (tmp_path / "pareto" / "best_config.json").is_file()
    assert (tmp_path / "pareto" / "plots" / "pareto_front.png").is_file()


@pytest.mark.slow
def test_cross_validation_is_the_objective_with_real_images(tune_data, tmp_path):
    from ripdetect.data.layouts import Sample, load_samples

    rng = np.random.default_rng(2)
    real = [Sample(str(write_png(tmp_path / "real" / f"g{g}_{i}.png", make_scene(rng, (g + i) % 2 == 0))),
                   int((g + i) % 2 == 0), group=f"site{g}", viewpoint="aerial") for g in range(4) for i in range(2)]
    base = tiny_train_config(**{k: v for k, v in TINY_BASE.items() if k != "model"}, epochs=2)
    plan = make_plan(tmp_path / "cv", TuneConfig(trials=2, sampler="random"), base, parse_space(LR_SPACE),
                     load_samples(tune_data)[:6], real=real, folds=2)
    assert plan.max_steps == 4 and plan.signature()["evaluation"] == "grouped 2-fold cross-validation"
    summary = tune(plan)
    for row in _rows(tmp_path / "cv"):
        folder = Path(row["run_dir"])
        record = json.loads((folder / "trial.json").read_text())
        assert (folder / "run" / "cv_report.json").is_file() == (row["state"] == "complete")
        if row["state"] == "complete":
            report = json.loads((folder / "run" / "cv_report.json").read_text())
            assert record["values"]["roc_auc"] == pytest.approx(report["overall"]["roc_auc"])
            assert sorted(map(int, record["intermediate_values"])) == [1, 2, 3, 4]  # every epoch of every fold
    assert summary["n_real"] == 8


def test_tune_with_real_images_defaults_to_a_grouped_5_fold_cross_validation(tune_data, tmp_path):
    from ripdetect.cli import get_args_parser
    from ripdetect.cli.tune_cmd import build_plan

    rng = np.random.default_rng(4)
    rows = ["path,label,group,viewpoint"]
    for g in range(5):
        for label in ("rip", "no_rip"):
            path = write_png(tmp_path / "real" / f"{label}_{g}.png", make_scene(rng, rip=label == "rip"))
            rows.append(f"{path},{label},site{g},aerial")
    (tmp_path / "real.csv").write_text("\n".join(rows) + "\n")
    base = ["tune", "--data", str(tune_data), "--space", str(write_space(tmp_path)), "--out", str(tmp_path / "s")]
    plan = build_plan(get_args_parser().parse_args(base + ["--real", str(tmp_path / "real.csv")]))
    assert plan.folds == 5 and plan.signature()["evaluation"] == "grouped 5-fold cross-validation"
    assert len(plan.real) == 10 and len(plan.train) == 20
    plan = build_plan(get_args_parser().parse_args(base + ["--real", str(tmp_path / "real.csv"), "--folds", "2"]))
    assert plan.folds == 2
    with pytest.raises(ConfigError, match="--real and --folds go together"):
        build_plan(get_args_parser().parse_args(base + ["--folds", "2"]))
    assert build_plan(get_args_parser().parse_args(base)).folds is None  # no real images: the validation split


def write_space(folder: Path) -> Path:
    (folder / "space.json").write_text(json.dumps(LR_SPACE))
    return folder / "space.json"


# --- multi-fidelity: the early rungs on less data or a smaller input ------------------------------------------------

def test_fidelity_data_and_size_become_progressive_epochs(tune_data, tmp_path):
    from ripdetect.training.loaders import epoch_inputs, subsample

    data_plan = _plan(tmp_path / "d", tune_data, LR_SPACE, epochs=6, fidelity="data")
    size_plan = _plan(tmp_path / "z", tune_data, LR_SPACE, epochs=6, fidelity="size", reduction_factor=4)
    assert (data_plan.base_config.progressive_epochs, data_plan.base_config.progressive_data) == (2, 0.3333)
    assert (size_plan.base_config.progressive_epochs, size_plan.base_config.progressive_size) == (1, 0.5)
    assert epoch_inputs(size_plan.base_config, 0, 64).input_size == 32
    assert epoch_inputs(size_plan.base_config, 1, 64).input_size == 64
    assert epoch_inputs(data_plan.base_config, 1, 224).data_fraction == pytest.approx(0.3333)
    assert epoch_inputs(data_plan.base_config, 2, 224).data_fraction == 1.0
    from ripdetect.data.layouts import load_samples

    samples = load_samples(tune_data)
    third, half = subsample(samples, 1 / 3, 0), subsample(samples, 0.5, 0)
    assert [s.label for s in third].count(1) == 3 and {s.path for s in third} <= {s.path for s in half}


@pytest.mark.slow
def test_progressive_epochs_train_on_a_subsample_and_are_never_the_best(tune_data, tmp_path):
    from ripdetect.data.layouts import load_samples, split_samples
    from ripdetect.training.engine import fit

    train, val = split_samples(load_samples(tune_data), 0.4, 0)
    steps = {}
    config = tiny_train_config(epochs=3, progressive_epochs=2, progressive_data=0.34, progressive_size=0.5,
                               monitor="roc_auc", patience=0)
    result = fit(train, val, config, tmp_path / "run",
                 progress=lambda event, info: steps.update({len(steps): info["steps"]}) if event == "step" else None)
    assert len(result.history) == 3
    per_epoch = [v for v in steps.values()]
    assert per_epoch[0] == 1 and per_epoch[-1] == 3  # 4 of 12 images, then all 12, in batches of 4
    from ripdetect.models.checkpoint import read_metadata

    assert read_metadata(tmp_path / "run" / "best.safetensors")["epoch"] == 3


# --- a killed study resumes with the same command ---------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.system
def test_a_killed_study_resumes_and_finishes(tune_data, tmp_path):
    (tmp_path / "base.json").write_text(json.dumps({**TINY_BASE, "epochs": 2}))
    (tmp_path / "space.json").write_text(json.dumps({"lr": {"type": "float", "low": 1e-4, "high": 1e-2,
                                                            "log": True}}))
    out = tmp_path / "study"
    command = [sys.executable, "-m", "ripdetect", "tune", "--data", str(tune_data), "--config",
               str(tmp_path / "base.json"), "--space", str(tmp_path / "space.json"), "--out", str(out),
               "--trials", "3", "--pruner", "none"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (out / "trials" / "trial_0001" / "trial.json").exists() and process.poll() is None:
        assert time.time() < deadline, "the study never reached its second trial"
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)  # trial 1 has started: it is left running in the storage
    process.wait()
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr
    rows = _rows(out)
    assert rows[0]["state"] == "complete" and rows[1]["state"] == "fail"
    assert rows[1]["fail_reason"] == "its process stopped before the trial finished (killed?)"
    retry = [row for row in rows if row["retry_of"] == "1"]
    assert len(retry) == 1 and retry[0]["state"] == "complete" and retry[0]["lr"] == rows[1]["lr"]
    proposed = [row["lr"] for row in rows if not row["retry_of"]]
    assert len(set(proposed)) == len(proposed)  # the resumed sampler does not propose the first trials again
    summary = json.loads(resumed.stdout)
    assert summary["trials"]["finished"] == 3 and summary["trials"]["running"] == 0
    assert summary["trials"]["complete"] == 3


@pytest.mark.slow
def test_two_worker_processes_share_one_study(tune_data, tmp_path):
    """--jobs 2: two spawned workers on the study's storage; each trial runs once, in one of them."""
    out = tmp_path / "jobs"
    summary = tune(_plan(out, tune_data, LR_SPACE, epochs=1, trials=4, sampler="random", pruner="none", jobs=2))
    rows = _rows(out)
    assert summary["trials"]["finished"] >= 4 and {row["state"] for row in rows} == {"complete"}
    assert len({row["run_dir"] for row in rows}) == len(rows) == summary["trials"]["finished"]
    study = optuna.load_study(study_name="ripdetect", storage=f"sqlite:///{out / 'study.db'}")
    workers = {trial.user_attrs["worker"]["pid"] for trial in study.trials}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2  # the trials ran in the workers
    assert (out / "best_config.json").is_file() and len(list((out / "plots").glob("*.png"))) >= 3


def test_history_and_intermediate_charts_tick_whole_trials_and_epochs(tmp_path, monkeypatch):
    from ripdetect.viz import study_charts as charts

    figures = []
    monkeypatch.setattr(charts, "_save", lambda fig, path: figures.append(fig) or Path(path))
    points = [charts.TrialPoint(1, "complete", (0.71,), {"lr": 0.001}, {1: 0.79, 2: 0.64}),
              charts.TrialPoint(2, "pruned", (), {"lr": 0.01}, {1: 0.54})]
    charts.plot_history(points, "roc_auc", True, tmp_path / "h.png")
    charts.plot_intermediate_values(points, "roc_auc", tmp_path / "i.png")
    for fig in figures:
        ticks = fig.axes[0].get_xticks()
        assert len(ticks) and all(float(t).is_integer() for t in ticks), ticks
