"""Hyperparameter search on Optuna (``ripdetect tune``): a search space over the config dataclasses, trials that
train and report every epoch so pruners can stop them, a storage that several workers share and a killed study
resumes from, and the best config, tables and charts as outputs.

    from ripdetect.training.tuning import load_space, make_plan, tune

    plan = make_plan("runs/tune", TuneConfig(trials=40), TrainConfig(), load_space("train/spaces/default.json"),
                     train_samples, val_samples)
    summary = tune(plan)
"""

from ripdetect.training.tuning.plan import StudyPlan, make_plan
from ripdetect.training.tuning.runner import tune
from ripdetect.training.tuning.space import SearchSpace, load_space, parse_space

__all__ = ["SearchSpace", "StudyPlan", "load_space", "make_plan", "parse_space", "tune"]
