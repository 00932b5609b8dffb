"""PyTorch fp32 vs ONNX Runtime fp32 vs ONNX Runtime int8: accuracy against PyTorch and speed, side by side.

    python bench/onnx_bench.py [--model CKPT] [--search | --try M:PC:RR:KEEP ... | --speed INT8_ONNX] [--work DIR]
        [--write-default]

Accuracy, on the real-dev photos (train/real_dev.csv) and on 300 held-out synthetic scenes (seed 99, unseen in
training): label agreement with PyTorch fp32, the change in balanced accuracy and ROC-AUC, mean and max |delta p|,
and the IoU of the regions (on the images PyTorch calls rip). Speed: images per second of the model (forward pass
and CAM) at batch 1 and 8, the three runtimes interleaved in one run.

Calibration (int8) uses the real-dev *training* photos (train/splits/real_dev_train.csv) and synthetic scenes of
the training distribution (seed 1); ``--search`` chooses the calibration method, per-channel weights, reduced
range and the layers kept in float by measurement (a staged grid), otherwise the ``QuantConfig`` defaults are
measured. Goal: agreement >= 99 %, balanced accuracy within 1 point and region IoU >= 0.9 on both sets, at >= 2.5x
PyTorch's throughput. ``--write-default`` writes ``ripdetect/weights/default.int8.onnx`` (video and the app then
use it) when the default model's int8 export meets the goal.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from timing import interleaved_medians

ROOT = Path(__file__).resolve().parent.parent
GOAL = {"agreement": 0.99, "balanced_accuracy_drop": 0.01, "region_iou": 0.9, "speedup": 2.5}


def synth(folder: Path, n: int, seed: int) -> Path:
    if not (folder / "manifest.csv").exists():
        subprocess.run([sys.executable, "-m", "ripdetect", "synth", "--out", str(folder), "--n", str(n), "--seed",
                        str(seed), "--size", "384x256"], check=True, capture_output=True)
    return folder


def load_set(source: Path) -> tuple[list[np.ndarray], np.ndarray]:
    from ripdetect.data.images import TRAINING_MAX_SIDE, load_image_rgb
    from ripdetect.data.layouts import load_samples

    samples = load_samples(source)
    return [load_image_rgb(s.path, max_side=TRAINING_MAX_SIDE) for s in samples], np.array([s.label for s in samples])


def predictions(predictor, images: list[np.ndarray]) -> tuple[np.ndarray, list]:
    """Probabilities, and the region mask of every image (regions for all, as ``--regions-always``)."""
    results = predictor.predict_images(images)
    return np.array([r.prob_rip for r in results]), [None if r.region is None else r.region.mask for r in results]


def compare(reference, candidate, labels: np.ndarray, threshold: float) -> dict:
    from ripdetect.explain.localisation import mask_iou
    from ripdetect.training.metrics import classification_metrics

    (ref_probs, ref_masks), (probs, masks) = reference, candidate
    ref_labels, new_labels = ref_probs >= threshold, probs >= threshold
    ref_metrics, new_metrics = (classification_metrics(labels, p, threshold) for p in (ref_probs, probs))
    ious = []
    for is_rip, a, b in zip(ref_labels, ref_masks, masks):
        if is_rip:
            ious.append(1.0 if a is None and b is None else 0.0 if a is None or b is None else mask_iou(a, b))
    return {"n": int(len(labels)), "agreement": round(float(np.mean(ref_labels == new_labels)), 4),
            "flips": int(np.sum(ref_labels != new_labels)),
            "delta_balanced_accuracy": round(new_metrics["balanced_accuracy"] - ref_metrics["balanced_accuracy"], 4),
            "delta_roc_auc": round(new_metrics["roc_auc"] - ref_metrics["roc_auc"], 4),
            "mean_abs_delta_p": round(float(np.mean(np.abs(probs - ref_probs))), 4),
            "max_abs_delta_p": round(float(np.max(np.abs(probs - ref_probs))), 4),
            "region_iou": round(float(np.mean(ious)), 4) if ious else None}


def meets_accuracy_goal(report: dict) -> bool:
    return all(r["agreement"] >= GOAL["agreement"] and r["delta_balanced_accuracy"] >= -GOAL["balanced_accuracy_drop"]
               and (r["region_iou"] or 1.0) >= GOAL["region_iou"] for r in report.values())


def parse_try(text: str, base):
    """``method:per_channel:reduce_range:keep_float``, e.g. ``minmax:1:1:head``."""
    method, per_channel, reduce_range, keep_float = text.split(":")
    return dataclasses.replace(base, calib_method=method, per_channel=per_channel == "1",
                               reduce_range=reduce_range == "1", keep_float=keep_float)


def candidates(search: bool, base, tries: list[str]) -> list:
    """``--try`` configs, else the QuantConfig defaults, or (``--search``) stage 1: method x per-channel, everything
    quantised."""
    if tries:
        return [parse_try(text, base) for text in tries]
    if not search:
        return [base]
    return [dataclasses.replace(base, calib_method=m, per_channel=pc, reduce_range=False, keep_float="none")
            for m in ("minmax", "percentile", "entropy") for pc in (True, False)]


def stage_two(best, base) -> list:
    """Stage 2 of ``--search``: the best of stage 1 with reduced range and each choice of float layers."""
    return [dataclasses.replace(best, reduce_range=rr, keep_float=kf) for rr in (False, True)
            for kf in ("none", "stem", "head", "stem+head") if (rr, kf) != (best.reduce_range, best.keep_float)]


def rank(item) -> tuple:
    """Meeting the goal first, then fewer layers in float (faster), then the smallest mean |delta p|."""
    config, report = item
    cost = {"none": 0, "stem": 1, "head": 1, "stem+head": 2}[config.keep_float]
    return (not meets_accuracy_goal(report), cost, sum(r["mean_abs_delta_p"] for r in report.values()))


def throughput(backends: dict, images: list[np.ndarray], batch_sizes=(1, 8), repeats: int = 7) -> dict:
    """Images per second of each backend's forward pass (with the CAM) on real preprocessed images."""
    preprocessing = next(iter(backends.values())).preprocessing
    result = {}
    for batch in batch_sizes:
        x = torch.stack([preprocessing(image) for image in images[:batch]])
        calls = max(1, 8 // batch)  # about 8 images per timed call, so batch 1 is not all timer noise

        def timed(backend):
            return lambda: [backend.run(x) for _ in range(calls)]

        seconds = interleaved_medians({name: timed(b) for name, b in backends.items()}, repeats)
        ips = {name: batch * calls / s for name, s in seconds.items()}
        result[f"batch_{batch}"] = {name: {"images_per_s": round(v, 1), "vs_pytorch": round(v / ips["pytorch"], 2)}
                                    for name, v in ips.items()}
    return result


def main() -> None:
    from ripdetect.config import InferenceConfig, QuantConfig
    from ripdetect.data.layouts import load_samples
    from ripdetect.inference.backends import DEPLOYMENT_RESOURCE, available_cores
    from ripdetect.inference.onnx_export import export_onnx
    from ripdetect.inference.predictor import Predictor
    from ripdetect.models.checkpoint import default_model_path

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="checkpoint (default: the embedded default model)")
    parser.add_argument("--work", default=None, help="folder for the synthetic sets and exports (default: a temp dir)")
    parser.add_argument("--search", action="store_true", help="choose the quantisation settings by measurement")
    parser.add_argument("--try", dest="tries", nargs="+", default=[], metavar="M:PC:RR:KEEP",
                        help="int8 settings to measure instead of the defaults, e.g. minmax:1:1:head "
                             "(method, per-channel, reduced range, layers kept in float)")
    parser.add_argument("--speed", default=None, metavar="INT8_ONNX",
                        help="speed only: PyTorch, ONNX fp32 and this int8 export of --model (no accuracy table)")
    parser.add_argument("--calib-n", type=int, default=QuantConfig().calib_n)
    parser.add_argument("--write-default", action="store_true",
                        help=f"write ripdetect/weights/{DEPLOYMENT_RESOURCE} when the goal is met (default model only)")
    args = parser.parse_args()
    torch.set_num_threads(available_cores())
    torch.set_flush_denormal(True)  # as the CLI does
    work = Path(args.work or tempfile.mkdtemp(prefix="ripdetect-onnx-bench-"))
    source = Path(args.model) if args.model else default_model_path()
    if args.speed:  # speed only: PyTorch, its fp32 export and the given int8 export, at batch 1 and 8
        fp32 = export_onnx(source, work / "speed.fp32.onnx", overwrite=True)
        backends = {"pytorch": Predictor(source).backend, "onnx_fp32": Predictor(fp32).backend,
                    "onnx_int8": Predictor(args.speed).backend}
        report = {"model": str(source), "int8": args.speed, "threads": available_cores(), "load_average":
                  os.getloadavg(), "throughput": throughput(backends, load_set(ROOT / "train" / "real_dev.csv")[0])}
        print(json.dumps(report, indent=1))
        return
    sets = {"real_dev": load_set(ROOT / "train" / "real_dev.csv"),
            "synthetic_300": load_set(synth(work / "synth-heldout", 300, 99))}
    calib_real = [Path(s.path) for s in load_samples(ROOT / "train" / "splits" / "real_dev_train.csv")]
    calib_synth = [Path(s.path) for s in load_samples(synth(work / "synth-calib", 200, 1))]  # not its masks
    calibration = calib_real + calib_synth[:max(0, args.calib_n - len(calib_real))]
    config = InferenceConfig(region_when_negative=True)
    reference = Predictor(source, config)
    threshold = reference.threshold
    ref = {name: predictions(reference, images) for name, (images, _) in sets.items()}

    def measure(predictor) -> dict:
        return {name: compare(ref[name], predictions(predictor, images), labels, threshold)
                for name, (images, labels) in sets.items()}

    fp32 = export_onnx(source, work / "model.fp32.onnx", overwrite=True)
    report = {"model": str(source), "threshold": threshold, "calibration_images": len(calibration),
              "onnx_fp32": measure(Predictor(fp32, config))}

    def quantised(quant: QuantConfig) -> tuple:
        name = f"{quant.calib_method}-pc{int(quant.per_channel)}-rr{int(quant.reduce_range)}-{quant.keep_float}"
        path = export_onnx(source, work / f"model.int8.{name}.onnx", int8=True, calibration=calibration,
                           quant_config=quant, overwrite=True)
        result = measure(Predictor(path, config))
        print(json.dumps({"int8": name, **result}), file=sys.stderr, flush=True)
        return quant, result, path

    base = dataclasses.replace(QuantConfig(), calib_n=len(calibration))
    tried = [quantised(q) for q in candidates(args.search, base, args.tries)]
    if args.search:
        best = min(((q, r) for q, r, _ in tried), key=rank)[0]
        tried += [quantised(q) for q in stage_two(best, base)]
    chosen, chosen_report, chosen_path = min(tried, key=lambda item: rank(item[:2]))
    report["int8_tried"] = [{"config": dataclasses.asdict(q), **r} for q, r, _ in tried]
    report["int8_chosen"] = {"config": dataclasses.asdict(chosen), **chosen_report}
    report["threads"], report["load_average"] = available_cores(), os.getloadavg()
    report["throughput"] = throughput({"pytorch": reference.backend, "onnx_fp32": Predictor(fp32).backend,
                                       "onnx_int8": Predictor(chosen_path).backend}, sets["real_dev"][0])
    speedup = min(report["throughput"][b]["onnx_int8"]["vs_pytorch"] for b in report["throughput"])
    report["goal_met"] = meets_accuracy_goal(chosen_report) and speedup >= GOAL["speedup"]
    print(json.dumps(report, indent=1))
    if args.write_default and args.model is None and report["goal_met"]:
        from ripdetect.files import atomic_path

        target = default_model_path().with_name(DEPLOYMENT_RESOURCE)
        with atomic_path(target) as tmp:
            tmp.write_bytes(chosen_path.read_bytes())
        print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
