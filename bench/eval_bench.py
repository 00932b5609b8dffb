"""``ripdetect eval`` time over ``ripdetect predict`` time on the same labelled images, in one run.

    python bench/eval_bench.py [--model M] [--n 2000] [--data DIR] [--faithfulness N]

The images are synthetic scenes with rip masks (``ripdetect synth``, seed 7, 640x384), so eval computes every
metric it has: classification, pointing and IoU of the regions from the one forward pass, and deletion/insertion
on ``--faithfulness`` sampled rip images (eval's default). Both commands run as a user runs them (a fresh process
each, model loading included, output to /dev/null); predict runs before and after eval, and the ratio is taken
against their mean, so the drift of a shared machine hits both sides. Goal: eval at most 3x predict.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ripdetect", *command], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="checkpoint or .onnx (default: the embedded default model)")
    parser.add_argument("--n", type=int, default=2000, help="labelled images (default: 2000)")
    parser.add_argument("--data", default=None, help="a rendered set (a folder with manifest.csv) to use as it is, "
                                                     "or a folder that keeps the rendered scenes (default: temp)")
    parser.add_argument("--faithfulness", type=int, default=None, help="eval's --faithfulness (default: eval's)")
    args = parser.parse_args()
    data = Path(args.data or tempfile.mkdtemp(prefix="ripdetect-eval-bench-"))
    if (data / "manifest.csv").exists():  # a rendered set given: use it as it is
        args.n = sum(1 for _ in (data / "manifest.csv").open()) - 1
    else:
        data = data / f"synth_{args.n}"
    if not (data / "manifest.csv").exists():
        subprocess.run([sys.executable, "-m", "ripdetect", "synth", "--out", str(data), "--n", str(args.n),
                        "--seed", "7"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    model = ["--model", args.model] if args.model else []
    faithfulness = ["--faithfulness", str(args.faithfulness)] if args.faithfulness is not None else []
    manifest = str(data / "manifest.csv")
    predict_s = [timed(["predict", str(data / "rip"), str(data / "no_rip"), *model])]
    eval_s = timed(["eval", "--data", manifest, *model, *faithfulness])
    eval_no_faithfulness_s = timed(["eval", "--data", manifest, *model, "--faithfulness", "0"])
    predict_s.append(timed(["predict", str(data / "rip"), str(data / "no_rip"), *model]))
    mean_predict = sum(predict_s) / 2
    print(json.dumps({
        "images": args.n, "model": args.model or "embedded default",
        "predict_s": [round(s, 1) for s in predict_s], "eval_s": round(eval_s, 1),
        "eval_faithfulness_0_s": round(eval_no_faithfulness_s, 1),
        "ratio_eval_over_predict": round(eval_s / mean_predict, 2),
        "ratio_eval_faithfulness_0_over_predict": round(eval_no_faithfulness_s / mean_predict, 2),
        # the neighbours in time, for when the machine's load drifts between the two predict runs
        "ratio_eval_over_the_predict_before": round(eval_s / predict_s[0], 2),
        "ratio_eval_faithfulness_0_over_the_predict_after": round(eval_no_faithfulness_s / predict_s[1], 2),
        "seconds_per_image": {"predict": round(mean_predict / args.n, 4), "eval": round(eval_s / args.n, 4)},
    }, indent=1))


if __name__ == "__main__":
    main()
