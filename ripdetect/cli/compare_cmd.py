"""``ripdetect compare``: cross-validations side by side (an ablation table), and what averaging them gives."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub) -> None:
    parser = sub.add_parser("compare", help="cross-validation runs side by side as a Markdown table (ablations), "
                                            "and the ensemble of runs made on the same folds")
    parser.add_argument("runs", nargs="+", help="folders written by `ripdetect train --real ... --folds K`")
    parser.add_argument("--ensemble", nargs="+", default=None, metavar="RUN",
                        help="also report the average of these runs' out-of-fold scores (same folds needed)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ripdetect.errors import DataError
    from ripdetect.training.crossval import REPORT_NAME, ensemble_report

    rows = []
    for run_dir in args.runs:
        path = Path(run_dir) / REPORT_NAME
        try:
            rows.append((Path(run_dir).name, json.loads(path.read_text())))
        except (OSError, ValueError) as exc:
            raise DataError(f"has no readable {REPORT_NAME} ({exc.__class__.__name__}): not a finished "
                            "cross-validation", run_dir) from None
    if args.ensemble:
        if len(args.ensemble) < 2:
            raise DataError("--ensemble needs at least two runs")
        rows.append(("ensemble of " + " + ".join(Path(r).name for r in args.ensemble), ensemble_report(args.ensemble)))
    print(markdown_table(rows))
    return 0


def markdown_table(rows: list[tuple[str, dict]]) -> str:
    """Balanced accuracy and ROC-AUC with 95% intervals, overall and per viewpoint, Brier and localisation."""
    viewpoints = sorted({v for _, report in rows for v in report.get("by", {})})
    header = ["run", "overall BA", "overall AUC"] + [f"{v} {m}" for v in viewpoints for m in ("BA", "AUC")]
    header += ["Brier", "centroid in box"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, report in rows:
        cells = [name] + [_with_interval(report["overall"], key) for key in ("balanced_accuracy", "roc_auc")]
        for viewpoint in viewpoints:
            metrics = report.get("by", {}).get(viewpoint, {})
            cells += [_with_interval(metrics, key) for key in ("balanced_accuracy", "roc_auc")]
        cells.append(_number(report["overall"].get("brier")))
        localisation = report.get("localisation")
        cells.append(f"{localisation['centroid_in_region']:.2f} (n={localisation['n']})" if localisation else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _with_interval(metrics: dict, key: str) -> str:
    value, interval = metrics.get(key), (metrics.get("intervals") or {}).get(key)
    if value is None:
        return "–"
    return f"{value:.2f} [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else f"{value:.2f}"


def _number(value) -> str:
    return "–" if value is None else f"{value:.3f}"
