"""Training and evaluation charts as PNG. Uses matplotlib's object API (``Figure``), never pyplot, so no
global backend is switched and no figure outlives its call."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ripdetect.files import atomic_path


def _figure(width: float, height: float, columns: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(1, columns)


def plot_history(history: list[dict], path: str | Path) -> Path:
    """Loss (train/val) and validation metrics per epoch."""
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_metric) = _figure(10, 4, 2)
    for key in ("train_loss", "val_loss"):
        if any(key in row for row in history):
            ax_loss.plot(epochs, [row.get(key, np.nan) for row in history], marker="o", label=key)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_loss.legend()
    for key in ("f1", "roc_auc", "balanced_accuracy"):
        values = [row.get(key) for row in history]
        if any(v is not None for v in values):
            ax_metric.plot(epochs, [np.nan if v is None else v for v in values], marker="o", label=key)
    ax_metric.set(xlabel="epoch", ylim=(0, 1.02), title="Validation")
    if ax_metric.get_lines():
        ax_metric.legend()
    return _save(fig, path)


def plot_evaluation(labels: np.ndarray, probs: np.ndarray, confusion: list[list[int]], threshold: float,
                    out_dir: str | Path) -> list[Path]:
    """The confusion matrix (``[[tn, fp], [fn, tp]]``, as the metrics computed it), ROC and PR curves (ROC/PR need
    both classes)."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    matrix = np.array(confusion)
    fig, ax = _figure(4, 4)
    ax.imshow(matrix, cmap="Blues")
    for (row, col), value in np.ndenumerate(matrix):
        ax.text(col, row, str(value), ha="center", va="center", fontsize=14,
                color="white" if value > matrix.max() / 2 else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["no_rip", "rip"], yticklabels=["no_rip", "rip"],
           xlabel="predicted", ylabel="true", title=f"Confusion (threshold {threshold:.2f})")
    paths.append(_save(fig, out_dir / "confusion_matrix.png"))
    if len(np.unique(labels)) == 2:
        fpr, tpr, _ = roc_curve(labels, probs)
        fig, ax = _figure(4, 4)
        ax.plot(fpr, tpr, label=f"AUC {auc(fpr, tpr):.3f}")
        ax.plot([0, 1], [0, 1], "--", color="grey")
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
        ax.legend()
        paths.append(_save(fig, out_dir / "roc.png"))
        precision, recall, _ = precision_recall_curve(labels, probs)
        fig, ax = _figure(4, 4)
        ax.plot(recall, precision)
        ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
        paths.append(_save(fig, out_dir / "pr.png"))
    return paths


def plot_reliability(bins: list[dict], brier: float, ece: float, path: str | Path) -> Path:
    """Reliability diagram: observed rip frequency against mean predicted probability per bin (``bins``: rows of
    ``mean_prob``, ``observed`` and ``n``, as ``ripdetect.training.metrics.reliability_bins`` gives them), with
    counts, the diagonal of perfect calibration, and the Brier score and ECE in the title."""
    fig, ax = _figure(4.5, 4.5)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect calibration")
    if bins:
        ax.plot([r["mean_prob"] for r in bins], [r["observed"] for r in bins], "o-", color="C3", label="model")
        for r in bins:
            ax.annotate(str(r["n"]), (r["mean_prob"], r["observed"]), textcoords="offset points", xytext=(4, -10),
                        fontsize=7)
    ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), xlabel="predicted p(rip)", ylabel="observed rip frequency",
           title=f"Reliability (Brier {brier:.3f}, ECE {ece:.3f})")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return Path(path)


def timeline_figure(rows: list[dict], events: list[dict], on_threshold: float, off_threshold: float,
                    xlabel: str = "time (s)", xlim: tuple[float, float] | None = None):
    """Per-frame and window-mean rip probability against time, the threshold lines, events shaded red and
    possible rips that were not confirmed shaded amber (the same states as the banner and the timeline table).
    The legend sits outside the axes, off the data. ``time_s`` may be in any unit ``xlabel`` names (a day's
    timeline uses hours)."""
    fig, ax = _figure(10, 3.2)
    times = [row["time_s"] for row in rows]
    ax.plot(times, [row["prob_rip"] for row in rows], ".", color="grey", alpha=0.6, label="frame p(rip)")
    ax.plot(times, [row["aggregated_prob"] for row in rows], "-", color="C3", lw=2, label="window mean")
    ax.axhline(on_threshold, color="C3", ls="--", lw=1, label=f"on {on_threshold:.2f}")
    ax.axhline(off_threshold, color="C0", ls=":", lw=1, label=f"off {off_threshold:.2f}")
    step = min((b - a for a, b in zip(times, times[1:]) if b > a), default=0.5)
    for row in rows:
        if row["state"] == "possible_rip":
            ax.axvspan(row["time_s"] - step / 2, row["time_s"] + step / 2, color="orange", alpha=0.2, lw=0)
    span = (xlim[1] - xlim[0]) if xlim is not None else (max(times, default=0) - min(times, default=0)) or 1.0
    for event in events:  # a very short event is still a visible band: at least 0.5 % of the axis
        ax.axvspan(event["start_s"], max(event["end_s"], event["start_s"] + 0.005 * span), color="C3", alpha=0.15,
                   lw=0)
    ax.set(xlabel=xlabel, ylabel="p(rip)", ylim=(-0.02, 1.02), title="Rip probability over time")
    if xlim is not None:
        ax.set_xlim(*xlim)
    from matplotlib.patches import Patch

    handles = ax.get_legend_handles_labels()[0] + [Patch(color="C3", alpha=0.15, label="rip event"),
                                                   Patch(color="orange", alpha=0.2, label="possible rip")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=11, frameon=False)
    ax.tick_params(labelsize=11)
    ax.xaxis.label.set_size(12)
    ax.yaxis.label.set_size(12)
    ax.title.set_size(13)
    fig.tight_layout()
    return fig


def plot_timeline(rows: list[dict], events: list[dict], on_threshold: float, off_threshold: float,
                  path: str | Path, xlabel: str = "time (s)", xlim: tuple[float, float] | None = None) -> Path:
    """``timeline_figure`` as a PNG."""
    return _save(timeline_figure(rows, events, on_threshold, off_threshold, xlabel, xlim), path)
