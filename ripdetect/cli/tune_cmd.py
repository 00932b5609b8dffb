"""``ripdetect tune``: argument parsing, a progress bar over trials and Ctrl-C handling around
``ripdetect.training.tuning.tune``.

    ripdetect tune --data synth/ --val-data real_val.csv --out runs/tune --config train/configs/default.json
    ripdetect tune --real train/real_dev.csv --data synth/ --out runs/tune --trials 40 --timeout 28800
"""

from __future__ import annotations

import argparse
import signal
import sys
from importlib import resources
from pathlib import Path

from ripdetect.cli.flags import add_config_flags, add_data_flags, given, print_json
from ripdetect.config import TuneConfig
from ripdetect.errors import require_extra

RENAMED = {"timeout_s": "timeout", "seed": "sampler_seed"}
DEFAULT_FOLDS = 5  # with --real: the objective is the grouped cross-validation, as `ripdetect train --folds 5`


def default_space_path() -> Path:
    """The shipped space for fine-tuning EfficientNet-Lite0 on rip data."""
    return Path(str(resources.files("ripdetect.training.tuning").joinpath("spaces", "default.json")))


def add_parser(sub) -> None:
    parser = sub.add_parser("tune", help="search hyperparameters (Optuna): pruned trials, a resumable shared study, "
                                         "the best config and charts")
    add_data_flags(parser, data_help="training folder(s) or CSV manifest(s); with --real, the images trained beside "
                                     "the real ones (e.g. synthetic scenes)",
                   real_help="real images (a manifest with group and viewpoint columns): the objective is then their "
                             "grouped cross-validation by site (default: none, the validation split of --data)",
                   folds_help=f"folds of the grouped cross-validation over --real (default: {DEFAULT_FOLDS})")
    parser.add_argument("--space", default=None,
                        help="search space, JSON or YAML (default: the shipped space for fine-tuning "
                             "EfficientNet-Lite0, ripdetect/training/tuning/spaces/default.json)")
    parser.add_argument("--config", default=None,
                        help="the base training config every trial starts from, e.g. train/configs/default.json "
                             "(default: the TrainConfig defaults)")
    parser.add_argument("--out", required=True,
                        help="study folder: study.db, trials/, best_config.json, trials.csv, summary.json, plots/")
    names = add_config_flags(parser.add_argument_group("study"), TuneConfig, rename=RENAMED)
    parser.set_defaults(run=run, tune_flags=names)


def run(args: argparse.Namespace) -> int:
    from ripdetect.errors import ConfigError
    from ripdetect.training.distributed import launched_by_torchrun

    if launched_by_torchrun():
        raise ConfigError("ripdetect tune runs every trial in one process; use --jobs, or several workers on one "
                          "--storage, instead of torchrun")
    optuna = require_extra("optuna", "tune", "ripdetect tune")
    _quiet_optuna(optuna, args.verbose)
    plan = build_plan(args)
    from ripdetect.training.tuning import tune
    from ripdetect.training.tuning.algorithms import pruner_name, sampler_name
    from ripdetect.training.tuning.study import redact

    tune_config = plan.tune_config
    epochs, storage = plan.base_config.epochs, redact(plan.storage_url)  # a database password is never printed
    print(f"ripdetect: study '{tune_config.study}' in {storage}: {tune_config.trials} trials of up to {epochs} "
          f"epoch{'' if epochs == 1 else 's'} ({plan.signature()['evaluation']}), {sampler_name(tune_config)} "
          f"sampler, {pruner_name(tune_config)} pruner; watch it with: optuna-dashboard {storage}", file=sys.stderr)
    stop = GracefulStop()
    bar, progress = progress_bar(tune_config)
    previous = signal.signal(signal.SIGINT, stop)
    try:
        summary = tune(plan, progress, stop.should_stop)
    except KeyboardInterrupt:
        print(f"ripdetect: interrupted; the outputs in {plan.out_dir} are up to date. Run the same command to "
              "resume", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    print_json({"study": summary["study"], "best": summary["best"], "trials": summary["trials"],
                "epochs": summary["epochs"], "out": str(plan.out_dir)})
    if stop.requested:
        print("ripdetect: stopped after the running trial; run the same command to resume", file=sys.stderr)
        return 130
    return 0


def build_plan(args: argparse.Namespace):
    """The study's settings, base config, space and data, checked before any trial runs."""
    import dataclasses

    from ripdetect.config import TrainConfig, load_json_config
    from ripdetect.data.layouts import load_many, training_sets
    from ripdetect.errors import DataError
    from ripdetect.training.tuning import load_space, make_plan

    tune_config = dataclasses.replace(TuneConfig(), **given(args, args.tune_flags))
    base = load_json_config(TrainConfig, args.config) if args.config else TrainConfig()
    space_path = args.space or default_space_path()
    space = load_space(space_path)
    if args.real is not None or args.folds is not None:
        real = load_many(args.real) if args.real else None
        folds = DEFAULT_FOLDS if args.folds is None else args.folds
        return make_plan(args.out, tune_config, base, space, load_many(args.data) if args.data else [], real=real,
                         folds=folds, space_name=str(space_path))
    if not args.data:
        raise DataError("--data is required (folder(s) or CSV manifest(s)), or --real with --folds")
    train, val = training_sets(args.data, args.val_data, base.val_fraction, base.seed)
    return make_plan(args.out, tune_config, base, space, train, val, space_name=str(space_path))


class GracefulStop:
    """The SIGINT handler: the first Ctrl-C lets the running trial finish, the second stops at once."""

    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nripdetect: stopping after the running trial (Ctrl-C again to stop now)", file=sys.stderr)

    def should_stop(self) -> bool:
        return self.requested


def progress_bar(tune_config: TuneConfig):
    """A tqdm bar over the study's trials, with the best value so far and the running trial's epoch."""
    from tqdm import tqdm

    bar = tqdm(total=tune_config.trials, file=sys.stderr, dynamic_ncols=True, unit="trial")
    metric = tune_config.objectives[0]

    def progress(event: str, info: dict) -> None:
        if event == "epoch":
            bar.set_description(f"trial {info['trial']} epoch {info['epoch']}/{info['epochs']}")
        elif event == "fold":
            tqdm.write(f"trial {info['trial']}: fold {info['fold']}/{info['folds']}", file=sys.stderr)
        elif event == "trial_end":
            bar.n = min(info["finished"], bar.total)
            if info.get("best"):
                bar.set_postfix({f"best {metric}": f"{info['best'][0]:.4f}"})
            if info.get("state") == "fail":
                tqdm.write(f"trial {info['trial']} failed: {info.get('reason')}", file=sys.stderr)
            bar.refresh()

    return bar, progress


def _quiet_optuna(optuna, verbose: bool) -> None:
    """Optuna logs every trial and warns about experimental features; the bar and one line per failure say
    enough (``-v`` shows Optuna's messages)."""
    import warnings

    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
