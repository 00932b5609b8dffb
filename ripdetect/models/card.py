"""A model card in plain sentences, from what a checkpoint carries: its ``model_card`` metadata (what it was trained
on, its cross-validated results with their confusion matrices and intervals, false alarms on real video, its
limits), written at export (``ripdetect export --card FILE``), and the cross-validation the training stored.

Everything here reads numbers and writes words; nothing is typed in by hand. The app's About tab and the docs'
model card show these sentences."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ripdetect.errors import ConfigError

CARD_FIELDS = ("training_data", "cross_validation", "video", "localisation", "limits", "docs")
VIEW_WORDS = {"beach_camera": "fixed beach cameras", "aerial": "aerial and drone views"}


@dataclass(frozen=True)
class CardText:
    """The card as sentences: what it learnt from, how it did, the limits."""

    trained_on: str
    results: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    docs: str | None = None


def check_card(card: Any, where: str = "model card") -> dict:
    """A card file's content: a mapping of the known fields (one ``ConfigError`` line for anything else)."""
    if not isinstance(card, dict):
        raise ConfigError(f"{where}: expected a mapping of {', '.join(CARD_FIELDS)}")
    unknown = sorted(set(card) - set(CARD_FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(CARD_FIELDS)})")
    if "limits" in card and not (isinstance(card["limits"], list) and all(isinstance(x, str) for x in card["limits"])):
        raise ConfigError(f"{where}: limits must be a list of sentences")
    return card


def _interval(metrics: dict, key: str) -> str:
    low_high = (metrics.get("intervals") or {}).get(key)
    return f" (95 % interval {low_high[0]:.2f}–{low_high[1]:.2f})" if low_high else ""


def caught_sentence(metrics: dict, what: str) -> str | None:
    """'On fixed beach cameras (48 photos): it caught 7 of 12 rips and raised a false alarm on 2 of 36 calm photos;
    balanced accuracy 0.76 (95 % interval 0.62–0.99), ROC-AUC 0.81 (…).'"""
    matrix = metrics.get("confusion_matrix")
    if not matrix:
        return None
    (calm_right, calm_wrong), (rip_missed, rip_caught) = matrix
    scores = [f"{name} {metrics[key]:.2f}{_interval(metrics, key)}" for name, key in
              (("balanced accuracy", "balanced_accuracy"), ("ROC-AUC", "roc_auc")) if metrics.get(key) is not None]
    return (f"On {what} ({metrics.get('n', calm_right + calm_wrong + rip_missed + rip_caught)} photos): it caught "
            f"{rip_caught} of {rip_caught + rip_missed} rips and raised a false alarm on {calm_wrong} of "
            f"{calm_right + calm_wrong} calm photos" + (f"; {', '.join(scores)}." if scores else "."))


def video_sentence(video: dict) -> str | None:
    """'On 50 s of real no-rip beach-camera video (1 camera), it raised 0 false alarms: 0 per camera-hour.'"""
    if not video or "false_events" not in video or not video.get("hours"):
        return None
    seconds = video["hours"] * 3600
    length = f"{seconds:.0f} s" if seconds < 600 else f"{video['hours']:.1f} h"
    events = video["false_events"]
    return (f"On {length} of real no-rip beach-camera video ({video.get('cameras', 1)} camera"
            f"{'s' if video.get('cameras', 1) != 1 else ''}), it raised {events} false alarm"
            f"{'s' if events != 1 else ''}: {events / video['hours']:.1f} per camera-hour"
            f"{' (a short sample: an estimate, not a guarantee)' if video['hours'] < 1 else ''}.")


def localisation_sentence(localisation: dict) -> str | None:
    if not localisation or not localisation.get("n"):
        return None
    return (f"Where it points: the centre of its region fell inside the labelled rip box on "
            f"{localisation['centroid_hits']} of {localisation['n']} {localisation.get('what', 'labelled rips')}.")


def card_text(metadata: dict) -> CardText:
    """The sentences of a checkpoint's card (fields it lacks are left out, never guessed)."""
    card = metadata.get("model_card") or {}
    cv = card.get("cross_validation") or metadata.get("cross_validation") or {}
    results = []
    adapted = metadata.get("adapted")
    if isinstance(adapted, dict):  # its own before/after first: the figures after it are its base model's
        report = (adapted.get("report") or {}).get("sentence")
        results.append(f"Adapted to the camera '{adapted.get('camera')}' from {adapted.get('base_model')}"
                       + (f": {report}" if report else ".") + " The figures below are the base model's.")
    if isinstance(cv, dict) and cv.get("overall"):
        folds = cv.get("folds", "?")
        sites = f" from {cv['sites']} sites" if cv.get("sites") else ""
        results.append(f"Tested on real photos of beaches it had not seen ({folds}-fold cross-validation grouped by "
                       f"site, {cv['overall'].get('n', '?')} photos{sites}; each photo judged by a model that never "
                       f"trained on its beach).")
        sentence = caught_sentence(cv["overall"], "all viewpoints together")
        results += [sentence] if sentence else []
        for view, metrics in (cv.get("by_viewpoint") or {}).items():
            sentence = caught_sentence(metrics, VIEW_WORDS.get(view, view))
            results += [sentence] if sentence else []
    for sentence in (video_sentence(card.get("video") or {}), localisation_sentence(card.get("localisation") or {})):
        results += [sentence] if sentence else []
    trained_on = card.get("training_data") or "not recorded in this checkpoint"
    return CardText(trained_on, results, list(card.get("limits") or []), card.get("docs"))
