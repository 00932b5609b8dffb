"""What the app shows, as short text: verdicts, captions and the compact details of a result. Pure functions
over predictions and summaries (no Gradio), so the page, the captions and the banners say the same."""

from __future__ import annotations

import html

from ripdetect.decision import RIP_WORD, Decision, prob_text
from ripdetect.inference.predictor import Prediction

RIP_COLOUR, CLEAR_COLOUR = "#c62828", "#2e7d32"


def caption(name: str, prediction: Prediction) -> str:
    """A gallery caption: verdict and probability first (a long file name is what gets cut), then the file."""
    return f"{prediction.decision.verdict} {prob_text(prediction.prob_rip)} · {name}"


def verdict_html(decision: Decision, name: str) -> str:
    """The Image tab's headline, from the library's decision: the verdict word big (red for a rip), then the
    probability, the threshold it was judged against and the file, so a headline never outlives its photo."""
    colour = RIP_COLOUR if decision.is_rip else CLEAR_COLOUR
    return (f'<div class="verdict" style="border-left: 6px solid {colour}; padding: 4px 12px">'
            f'<div style="font-size: 2em; font-weight: 700; color: {colour}">{decision.verdict}</div>'
            f'<div>{prob_text(decision.prob_rip)} · threshold {decision.threshold:.2f} · {html.escape(name)}</div></div>')


def decision_record(decision: Decision, name: str) -> dict:
    """The decision as machines read it (the HTTP API's second output): the file, ``label`` (``rip`` / ``no_rip``),
    ``prob_rip``, ``threshold`` and the ``verdict`` the page shows."""
    return {"file": name, **decision.to_dict(), "verdict": decision.verdict}


def image_summary(prediction: Prediction) -> str:
    """Markdown: verdict, probability and threshold, then the region in one line (how many separate channels, area,
    centroid, box); the full object is the JSON download."""
    decision = prediction.decision
    lines = [f"**{decision.verdict}** · {prob_text(decision.prob_rip)} · threshold {decision.threshold:.2f}"]
    region = prediction.region
    if region is None:
        lines.append("No rip region" + ("" if prediction.is_rip else " (regions are outlined for rips only)") + ".")
    else:
        x0, y0, x1, y1 = region.bbox
        parts = f"{region.count} separate channels · " if region.count > 1 else ""
        lines.append(f"Region: {parts}{region.area_fraction:.1%} of the image · centroid ({region.centroid[0]:.0f}, "
                     f"{region.centroid[1]:.0f}) · box ({x0}, {y0})–({x1}, {y1})")
    return "\n\n".join(lines)


def video_verdict(summary: dict) -> str:
    """Markdown: the clip's decision, its events and any warning about the duration or a partial decode."""
    on = f"on threshold {summary['on_threshold']:.2f}"
    events = summary["events"]
    if events:
        spans = ", ".join(f"{e['start_s']:.1f}–{e['end_s']:.1f} s" for e in events[:3]) + (" …" if len(events) > 3
                                                                                          else "")
        peak = max(e["peak_prob"] for e in events)
        text = (f"**{RIP_WORD}** · {len(events)} event{'s' if len(events) != 1 else ''}: {spans} · "
                f"peak {prob_text(peak)} · {on}")
    else:
        highest = "" if summary["max_prob"] is None else f" · max {prob_text(summary['max_prob'])}"
        text = f"**no rip detected** in {summary['duration_s']:.1f} s{highest} · {on}"
    return "\n\n".join([text, *(f"⚠ {warning}" for warning in summary.get("warnings", []))])


ADAPT_ROWS = (("rips caught", "rips_caught"), ("false alarms", "false_alarms"),
              ("balanced accuracy", "balanced_accuracy"), ("ROC-AUC", "roc_auc"),
              ("mean p on calm frames", "mean_prob_calm"))


def adapt_report(report: dict) -> tuple[str, list[list]]:
    """The before/after of an adaptation: its sentence (Markdown), and a table of base against adapted, each day
    scored by a model that never saw it."""
    def shown(value) -> str:
        return "–" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)

    table = [[name, shown(report["base"][key]), shown(report["adapted"][key])] for name, key in ADAPT_ROWS]
    text = (f"**{report['sentence']}**\n\nLeave-one-day-out: every held-out day judged by a head fitted on the other "
            f"days only, at threshold {report['threshold']:.2f}; {report['frames']} frames, {report['rips']} rips, "
            f"{report['days']} days.")
    return text, table
