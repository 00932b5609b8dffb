"""The model card's fields for ``ripdetect export --card``, from a cross-validation run's own outputs: the pooled
out-of-fold results (confusion matrices, intervals) overall and per viewpoint, the localisation on the labelled real
rips, and false alarms on real no-rip video (``ripdetect eval-video --out``). The training data and the limits are
the words given here.

    python train/model_card.py --run runs/v3 --video runs/v3/boomerang-eval/metrics.json --out runs/v3/card.json
"""

import argparse
import csv
import json
from pathlib import Path

TRAINING_DATA = (
    "1,200 plain synthetic surf-zone scenes with exact rip and water masks (ripdetect synth --no-realism), 300 "
    "synthetic ordinary surf zones with unbroken breaking bands (hard negatives), 208 composites (rip channels "
    "painted into the 40 real no-rip photos, with matched edits that are not rips), 101 frames of a real no-rip "
    "beach-camera video (hard negatives), and 62 real photos from 42 sites (22 rips), each repeated 6 times. Only the "
    "last stages of an ImageNet EfficientNet-Lite0 were trained.")
LIMITS = [
    "Not a swim / no-swim tool: it does not measure rip strength, and it can miss rips and raise false alarms.",
    "It learnt from only 62 real photos; it is weakest on fixed beach cameras, at night, in heavy rain, on very "
    "distant views and on rips without a visible gap in the breakers.",
    "Its regions are in the sea but often not on the rip: on real frames the region's centre fell in the labelled "
    "rip box on few of the labelled rips.",
    "The false-alarm rate on real video comes from one 50-second clip of one camera: an estimate, not a guarantee. "
    "Check it on your own camera's footage (ripdetect eval-video), and teach it your camera (ripdetect adapt).",
    "A region of interest never raises a frame's probability (the whole frame's evidence caps it), so a rip that "
    "only the region shows clearly can be missed.",
]


def cross_validation(report: dict, sites: int | None) -> dict:
    keep = ("n", "confusion_matrix", "balanced_accuracy", "roc_auc", "brier", "intervals")
    return {"folds": report["folds"], "sites": sites,
            "overall": {k: report["overall"][k] for k in keep if k in report["overall"]},
            "by_viewpoint": {view: {k: m[k] for k in keep if k in m} for view, m in report["by"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, type=Path, help="a cross-validation run (ripdetect train --folds)")
    parser.add_argument("--video", type=Path, default=None, help="metrics.json of ripdetect eval-video on no-rip video")
    parser.add_argument("--sites", type=int, default=None, help="(default: the groups in the run's out-of-fold file)")
    parser.add_argument("--localised", default="Haeundae CCTV frames", help="what the labelled real rips are")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--cameras", type=int, default=1, help="how many cameras the no-rip video came from")
    parser.add_argument("--docs", default="docs/model-card.md in the repository (bash run.sh docs serves it)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    if args.out.exists() and not args.overwrite:
        raise SystemExit(f"model_card: {args.out} exists (--overwrite replaces it)")
    try:
        report = json.loads((args.run / "cv_report.json").read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"model_card: {args.run / 'cv_report.json'}: cannot be read ({exc})") from None
    if args.sites is None:
        with open(args.run / "oof_predictions.csv", newline="") as handle:
            args.sites = len({row["group"] for row in csv.DictReader(handle)})
    card = {"training_data": TRAINING_DATA, "cross_validation": cross_validation(report, args.sites),
            "limits": LIMITS, "docs": args.docs}
    localisation = report.get("localisation") or {}
    if localisation.get("n"):
        hits = sum(bool(row.get("centroid_hit")) for row in localisation.get("per_image", []))
        card["localisation"] = {"centroid_hits": hits, "n": localisation["n"], "what": args.localised}
    if args.video:
        metrics = json.loads(args.video.read_text())
        card["video"] = {"false_events": metrics["false_events"], "hours": metrics["hours_without_rip"],
                         "cameras": args.cameras}
    args.out.write_text(json.dumps(card, indent=1))
    print(args.out)


if __name__ == "__main__":
    main()
