"""A region of interest on real beach-camera photos: drawing the sea as the ROI (the hand-drawn water polygons of the
real-dev manifest) must never turn a calm frame into a rip, nor raise its probability by more than 0.10, while a rip
inside the sea stays detected. Each photo is scored with and without its ROI.

With ``--run`` (a cross-validation run), each photo is scored by the fold model that never trained on its site, at
the cross-validated temperature and threshold (honest, like the model card's figures); with ``--model``, by one
model.

    python bench/roi_bench.py --manifest train/real_dev.csv --run runs/v3 [--out roi.json]
    python bench/roi_bench.py --manifest train/real_dev.csv --model CKPT
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from ripdetect.data.layouts import load_samples
from ripdetect.inference.backends import load_model
from ripdetect.inference.predictor import Predictor
from ripdetect.inference.roi import Roi
from ripdetect.models.checkpoint import Checkpoint, load_checkpoint


def fold_models(run: Path) -> tuple[dict[str, int], dict[int, Predictor]]:
    """Each photo's fold, and each fold's model with the cross-validated temperature and threshold."""
    report = json.loads((run / "cv_report.json").read_text())
    with open(run / "oof_predictions.csv", newline="") as handle:
        fold_of = {Path(row["path"]).name: int(row["fold"]) for row in csv.DictReader(handle)}
    predictors = {}
    for fold in sorted(set(fold_of.values())):
        checkpoint = load_checkpoint(run / f"fold_{fold}" / "last.safetensors")
        checkpoint = Checkpoint(**{**vars(checkpoint), "metadata": {**checkpoint.metadata,
                                                                      "temperature": report["temperature"]},
                                   "threshold": report["threshold"]})
        predictors[fold] = Predictor(checkpoint)
    return fold_of, predictors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", default="train/real_dev.csv")
    parser.add_argument("--run", default=None, help="a cross-validation run: its fold models score the photos")
    parser.add_argument("--model", default=None, help="one model instead (default: the embedded model)")
    parser.add_argument("--viewpoint", default="beach_camera")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    samples = [s for s in load_samples(args.manifest) if s.viewpoint == args.viewpoint and s.water.polygons]
    if args.run:
        fold_of, predictors = fold_models(Path(args.run))
    else:
        single = Predictor(load_model(args.model))
    rows = []
    for sample in samples:
        predictor = predictors[fold_of[Path(sample.path).name]] if args.run else single
        image = predictor.load(sample.path)
        whole = predictor.predict_image(image)
        inside = predictor.with_roi(Roi(tuple(sample.water.polygons))).predict_image(image)
        rows.append({"photo": Path(sample.path).name, "label": sample.label, "threshold": whole.decision.threshold,
                     "p_whole": round(whole.prob_rip, 4), "p_roi": round(inside.prob_rip, 4),
                     "rip_whole": whole.is_rip, "rip_roi": inside.is_rip})
        print(json.dumps(rows[-1]), flush=True)
    calm = [r for r in rows if r["label"] == 0]
    rips = [r for r in rows if r["label"] == 1]
    raise_ = [r["p_roi"] - r["p_whole"] for r in calm]
    summary = {
        "photos": len(rows), "calm": len(calm), "rips": len(rips),
        "calm_turned_rip_by_the_roi": sum(r["rip_roi"] and not r["rip_whole"] for r in calm),
        "calm_called_rip_with_the_roi": sum(r["rip_roi"] for r in calm),
        "calm_called_rip_without": sum(r["rip_whole"] for r in calm),
        "largest_raise_of_a_calm_frame": round(float(max(raise_)), 4) if raise_ else None,
        "mean_change_calm": round(float(np.mean(raise_)), 4) if raise_ else None,
        "rips_detected_with_the_roi": sum(r["rip_roi"] for r in rips),
        "rips_detected_without": sum(r["rip_whole"] for r in rips),
    }
    print(json.dumps(summary, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
