"""CAM speed, measured side by side in one run on the same model, batch and inputs.

    python bench/cam_bench.py [--batch 8] [--size 224] [--repeats 7]

(a) classify + forward-pass CAM versus classify only (goal: at most 1.10);
(b) our gradient Grad-CAM and our fast path versus pytorch-grad-cam's GradCAM (goal: fast path at least 2x).
"""

import argparse
import json

import torch
from timing import interleaved_medians

from ripdetect.config import ModelConfig
from ripdetect.explain.cam import GradCAM, fast_gradcam
from ripdetect.models.classifier import create_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = create_model(ModelConfig(input_size=args.size, pretrained=False)).eval()
    x = torch.randn(args.batch, 3, args.size, args.size)
    ours_gradient = GradCAM(model, "features")

    def classify():
        with torch.no_grad():
            model(x)

    functions = {"classify": classify, "classify+fast_cam": lambda: fast_gradcam(model, x),
                 "ours_gradient_gradcam": lambda: ours_gradient(x)}
    try:
        from pytorch_grad_cam import GradCAM as ReferenceGradCAM

        reference = ReferenceGradCAM(model=model, target_layers=[model.features])
        targets = [lambda out: out[1] - out[0]] * args.batch
        functions["pytorch_grad_cam"] = lambda: reference(input_tensor=x, targets=targets)
    except ImportError:
        reference = None
    seconds = interleaved_medians(functions, args.repeats)
    result = {"batch": args.batch, "size": args.size, "threads": torch.get_num_threads(),
              "images_per_s": {k: round(args.batch / v, 2) for k, v in seconds.items()},
              "ratio_fast_cam_over_classify": round(seconds["classify+fast_cam"] / seconds["classify"], 3)}
    if reference is not None:
        result["speedup_fast_vs_pytorch_grad_cam"] = round(seconds["pytorch_grad_cam"] / seconds["classify+fast_cam"], 2)
        result["speedup_ours_gradient_vs_pytorch_grad_cam"] = round(
            seconds["pytorch_grad_cam"] / seconds["ours_gradient_gradcam"], 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
