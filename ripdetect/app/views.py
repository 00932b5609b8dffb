"""What the app shows, as short text: verdicts, captions and the compact details of a result. Pure functions
over predictions and summaries (no Gradio), so the page, the captions and the banners say the same."""

from __future__ import annotations

from ripdetect.decision import RIP_WORD, prob_text
from ripdetect.inference.predictor import Prediction


def caption(name: str, prediction: Prediction) -> str:
    """A gallery caption: verdict and probability first (a long file name is what gets cut), then the file."""
    return f"{prediction.decision.verdict} {prob_text(prediction.prob_rip)} · {name}"


def image_summary(prediction: Prediction) -> str:
    """Markdown: verdict, probability and threshold, then the region in one line (area, centroid, box,
    polygons); the full object is the JSON download."""
    decision = prediction.decision
    lines = [f"**{decision.verdict}** · {prob_text(decision.prob_rip)} · threshold {decision.threshold:.2f}"]
    region = prediction.region
    if region is None:
        lines.append("No rip region" + ("" if prediction.is_rip else " (regions are outlined for rips only)") + ".")
    else:
        x0, y0, x1, y1 = region.bbox
        lines.append(f"Region: {region.area_fraction:.1%} of the image · centroid ({region.centroid[0]:.0f}, "
                     f"{region.centroid[1]:.0f}) · box ({x0}, {y0})–({x1}, {y1}) · "
                     f"{len(region.polygons)} polygon{'s' if len(region.polygons) != 1 else ''}")
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
