"""The charts of a tuning study, from plain numbers (no Optuna here): optimisation history, parallel coordinates,
parameter importances, intermediate values with the pruned trials, and the Pareto front of two objectives.
matplotlib's object API, as in ``ripdetect.viz.plots``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ripdetect.viz.plots import _figure, _save

STATE_COLOURS = {"complete": "C0", "pruned": "C3", "fail": "grey"}


@dataclass(frozen=True)
class TrialPoint:
    """One trial as the charts see it."""

    number: int
    state: str  # complete, pruned, fail
    values: tuple[float, ...]
    params: dict
    intermediate: dict[int, float]


def plot_history(trials: list[TrialPoint], metric: str, maximise: bool, path: str | Path) -> Path:
    """The objective of every complete trial in trial order, and the best so far."""
    done = sorted((t for t in trials if t.state == "complete"), key=lambda t: t.number)
    fig, ax = _figure(7, 4)
    if done:
        numbers, values = [t.number for t in done], [t.values[0] for t in done]
        best = np.maximum.accumulate(values) if maximise else np.minimum.accumulate(values)
        ax.plot(numbers, values, "o", color="C0", label="trial")
        ax.step(numbers, best, where="post", color="C3", label="best so far")
        ax.legend(loc="best", fontsize=8)
    pruned = sum(t.state == "pruned" for t in trials)
    ax.set(xlabel="trial", ylabel=metric, title=f"Optimisation history ({len(done)} complete, {pruned} pruned)")
    _whole_number_ticks(ax)
    return _save(fig, path)


def plot_parallel_coordinates(trials: list[TrialPoint], names: list[str], log_names: set[str], metric: str,
                              path: str | Path) -> Path:
    """One line per complete trial through every parameter (scaled to its range; categories in order) and the
    objective, coloured by the objective."""
    done = [t for t in trials if t.state == "complete"]
    axes_names = names + [metric]
    fig, ax = _figure(max(6, 1.6 * len(axes_names)), 4.5)
    columns = [[t.params.get(n) for t in done] for n in names] + [[t.values[0] for t in done]]
    scaled, labels = [], []
    for name, column in zip(axes_names, columns):
        position, low_label, high_label = _scale(column, name in log_names)
        scaled.append(position)
        labels.append((low_label, high_label))
    if done:
        values = np.array(columns[-1], dtype=float)
        span = np.ptp(values) or 1.0
        colours = _colormap()((values - values.min()) / span)
        for index in range(len(done)):
            ax.plot(range(len(axes_names)), [column[index] for column in scaled], color=colours[index], alpha=0.8)
    for x, (low_label, high_label) in enumerate(labels):
        ax.axvline(x, color="black", lw=0.8)
        ax.annotate(low_label, (x, -0.04), ha="center", va="top", fontsize=7)
        ax.annotate(high_label, (x, 1.04), ha="center", va="bottom", fontsize=7)
    ax.set(xticks=range(len(axes_names)), ylim=(-0.15, 1.15), yticks=[], title="Parallel coordinates")
    ax.set_xticklabels(axes_names, rotation=20, fontsize=8)
    return _save(fig, path)


def _colormap():
    from matplotlib import colormaps

    return colormaps["viridis"]


def _scale(column: list, log: bool) -> tuple[list[float], str, str]:
    """Positions in 0..1 for a column of values, and the labels of its ends."""
    if not column:
        return [], "", ""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in column):
        numbers = np.log10(np.array(column, float)) if log else np.array(column, float)
        low, high = numbers.min(), numbers.max()
        positions = ((numbers - low) / (high - low) if high > low else np.full(len(numbers), 0.5)).tolist()
        return positions, f"{min(column):.3g}", f"{max(column):.3g}"
    categories = sorted({str(v) for v in column})
    index = {c: i for i, c in enumerate(categories)}
    positions = [index[str(v)] / max(len(categories) - 1, 1) for v in column]
    return positions, categories[0], categories[-1]


def plot_importances(importances: dict[str, float], metric: str, path: str | Path) -> Path:
    """Horizontal bars: each parameter's share of the objective's variance (fANOVA)."""
    ordered = sorted(importances.items(), key=lambda item: item[1])
    fig, ax = _figure(6, max(2.5, 0.45 * len(ordered) + 1.2))
    ax.barh([name for name, _ in ordered], [value for _, value in ordered], color="C0")
    for y, (_, value) in enumerate(ordered):
        ax.annotate(f"{value:.2f}", (value, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set(xlabel=f"importance for {metric}", xlim=(0, 1.1), title="Parameter importances")
    return _save(fig, path)


def plot_intermediate_values(trials: list[TrialPoint], metric: str, path: str | Path) -> Path:
    """The objective after every epoch of every trial: pruned trials in red end where they were stopped."""
    fig, ax = _figure(7, 4)
    for state in ("fail", "complete", "pruned"):
        drawn = False
        for trial in (t for t in trials if t.state == state and t.intermediate):
            steps = sorted(trial.intermediate)
            ax.plot(steps, [trial.intermediate[s] for s in steps], "-", color=STATE_COLOURS[state], alpha=0.7,
                    lw=1.2, label=None if drawn else state)
            if state == "pruned":
                ax.plot(steps[-1], trial.intermediate[steps[-1]], "x", color=STATE_COLOURS[state])
            drawn = True
    if ax.get_lines():
        ax.legend(loc="best", fontsize=8)
    ax.set(xlabel="epoch (across folds with cross-validation)", ylabel=metric, title="Intermediate values")
    _whole_number_ticks(ax)
    return _save(fig, path)


def plot_pareto_front(trials: list[TrialPoint], front: set[int], names: list[str], path: str | Path) -> Path:
    """Two objectives of every complete trial; the Pareto-optimal ones highlighted and joined."""
    done = [t for t in trials if t.state == "complete" and len(t.values) == 2]
    fig, ax = _figure(5.5, 4.5)
    others = [t for t in done if t.number not in front]
    best = sorted((t for t in done if t.number in front), key=lambda t: t.values[0])
    if others:
        ax.plot([t.values[0] for t in others], [t.values[1] for t in others], "o", color="lightgrey", label="trial")
    if best:
        ax.plot([t.values[0] for t in best], [t.values[1] for t in best], "o-", color="C3", label="Pareto front")
        for t in best:
            ax.annotate(str(t.number), (t.values[0], t.values[1]), xytext=(3, 3), textcoords="offset points",
                        fontsize=7)
        ax.legend(loc="best", fontsize=8)
    ax.set(xlabel=names[0], ylabel=names[1], title="Pareto front")
    return _save(fig, path)


def _whole_number_ticks(ax) -> None:
    """Trial numbers and epochs are whole: no 1.2, 1.4 … ticks when a study has one or two of them."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
