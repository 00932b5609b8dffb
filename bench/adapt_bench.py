"""Teach it your camera, measured on synthetic fixed cameras: one camera geometry and beach each (with its own
structures: a pier, a groyne, rocks, gaps in the bar), days that differ in light, haze, warmth, surf and cloud, and
rips that come and go. For 5, 10, 20 and 50 labelled frames from the first days, the base model and the adapted one
are scored on the later days, which no label came from: balanced accuracy, rips caught and false alarms.

    python bench/adapt_bench.py [--model CKPT] [--cameras 3] [--labels 5 10 20 50] [--strength 1.0] [--out adapt.json]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from ripdetect.cameras.adapt import adapt_camera, save_adapted
from ripdetect.cameras.adapt_labels import check_enough, read_camera_labels
from ripdetect.config import AdaptConfig
from ripdetect.inference.backends import load_model
from ripdetect.inference.predictor import Predictor
from ripdetect.synth.projection import SceneCamera
from ripdetect.synth.scene import RipParams, sample_scene
from ripdetect.training.metrics import classification_metrics

TRAIN_DAYS, TEST_DAYS, FRAMES_A_DAY = 6, 4, 10
RIP_SHARE = 0.3  # of the frames: rips come and go


def camera_scene(seed: int):
    """One fixed camera: an oblique scene with its hard negatives, and the rip channels its beach forms."""
    rng = np.random.default_rng([seed, 1])
    params = sample_scene(rng, seed, rip=False, view="oblique")
    params.breaking = float(rng.uniform(0.6, 0.9))
    params.rips = [RipParams(x=float(rng.uniform(0.25, 0.75)), width=float(rng.uniform(0.05, 0.1)),
                             angle_deg=float(rng.uniform(-20, 20)), neck=float(rng.uniform(0.06, 0.15)),
                             head_radius=float(rng.uniform(0.05, 0.1)), strength=float(rng.uniform(0.6, 0.9)))]
    return params


def day_frames(params, camera_seed: int, day: int, folder: Path, size: tuple[int, int]) -> list[dict]:
    """One day's frames: the day's light, haze, warmth, surf and cloud; a rip in about ``RIP_SHARE`` of them."""
    rng = np.random.default_rng([camera_seed, day, 7])
    today = dataclasses.replace(params, light=float(rng.uniform(0.7, 1.15)), haze=float(rng.uniform(0.05, 0.5)),
                                warmth=float(rng.uniform(-0.1, 0.3)), breaking=float(rng.uniform(0.5, 1.0)),
                                cloud_shadow=float(rng.uniform(0, 0.4) if rng.random() < 0.4 else 0.0))
    camera = SceneCamera(today, *size)
    rows = []
    for index in range(FRAMES_A_DAY):
        rip = bool(rng.random() < RIP_SHARE)
        image = camera.render(float(rng.uniform(0, 600)), rip_level=1.0 if rip else 0.0).image
        path = folder / f"cam{camera_seed}_2026-07-{day + 1:02d}_{index:02d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        rows.append({"path": str(path), "label": "rip" if rip else "no_rip", "day": f"day {day + 1}"})
    return rows


def scores(predictor: Predictor, rows: list[dict]) -> np.ndarray:
    return np.array([predictor.predict_image(predictor.load(row["path"])).prob_rip for row in rows])


def summary(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict:
    called = probs >= threshold
    metrics = classification_metrics(labels, probs, threshold)
    return {"balanced_accuracy": round(metrics["balanced_accuracy"], 3), "roc_auc": round(metrics["roc_auc"], 3),
            "rips_caught": int((called & (labels == 1)).sum()), "rips": int(labels.sum()),
            "false_alarms": int((called & (labels == 0)).sum()), "calm": int((labels == 0).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="base checkpoint (default: the embedded model)")
    parser.add_argument("--cameras", type=int, default=3)
    parser.add_argument("--labels", type=int, nargs="+", default=[5, 10, 20, 50])
    parser.add_argument("--strength", type=float, default=AdaptConfig().strength)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    base = load_model(args.model)
    base_predictor = Predictor(base)
    threshold = base_predictor.threshold
    folder = Path(tempfile.mkdtemp(prefix="ripdetect-adapt-bench-"))
    results = []
    for camera_seed in range(1, args.cameras + 1):
        params = camera_scene(1000 + camera_seed)
        train_rows = [r for d in range(TRAIN_DAYS) for r in day_frames(params, camera_seed, d, folder, size)]
        test_rows = [r for d in range(TRAIN_DAYS, TRAIN_DAYS + TEST_DAYS)
                     for r in day_frames(params, camera_seed, d, folder, size)]
        truth = np.array([int(r["label"] == "rip") for r in test_rows])
        base_scores = scores(base_predictor, test_rows)
        rng = np.random.default_rng(camera_seed)
        for count in args.labels:
            chosen = [train_rows[i] for i in sorted(rng.permutation(len(train_rows))[:count])]
            labels_path = folder / f"cam{camera_seed}_labels_{count}.csv"
            with open(labels_path, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=["path", "label", "day"])
                writer.writeheader()
                writer.writerows(chosen)
            row = {"camera": camera_seed, "labels": count, "labelled_rips": sum(r["label"] == "rip" for r in chosen),
                   "labelled_days": len({r["day"] for r in chosen}), "base": summary(truth, base_scores, threshold)}
            try:
                labels = read_camera_labels(labels_path)
                check_enough(labels, labels_path)
                started = time.perf_counter()
                model, report = adapt_camera(base, labels, AdaptConfig(strength=args.strength), threshold)
                row["adapt_s"] = round(time.perf_counter() - started, 1)
                adapted_path = save_adapted(folder / f"cam{camera_seed}_{count}.safetensors", base, model, labels,
                                            f"cam{camera_seed}", AdaptConfig(strength=args.strength), report,
                                            threshold, overwrite=True)
                row["adapted"] = summary(truth, scores(Predictor(adapted_path), test_rows), threshold)
                row["within_labels"] = report["sentence"]
            except Exception as exc:  # noqa: BLE001 - a refusal is a result of the table
                row["adapted"] = None
                row["refused"] = str(exc)
            results.append(row)
            print(json.dumps(row), flush=True)
    table = {}
    for count in args.labels:
        rows = [r for r in results if r["labels"] == count and r["adapted"]]
        if rows:
            table[count] = {
                "base_balanced_accuracy": round(float(np.mean([r["base"]["balanced_accuracy"] for r in rows])), 3),
                "adapted_balanced_accuracy": round(float(np.mean([r["adapted"]["balanced_accuracy"] for r in rows])), 3),
                "base_false_alarms": sum(r["base"]["false_alarms"] for r in rows),
                "adapted_false_alarms": sum(r["adapted"]["false_alarms"] for r in rows),
                "base_rips_caught": sum(r["base"]["rips_caught"] for r in rows),
                "adapted_rips_caught": sum(r["adapted"]["rips_caught"] for r in rows),
                "rips": sum(r["base"]["rips"] for r in rows), "calm": sum(r["base"]["calm"] for r in rows),
                "cameras": len(rows)}
        else:
            table[count] = {"refused": [r.get("refused") for r in results if r["labels"] == count]}
    print(json.dumps({"table": table}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": results, "table": table}, indent=1))


if __name__ == "__main__":
    main()
