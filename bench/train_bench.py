"""Training throughput: a real step (JPEG decoding + augmentation in DataLoader workers) versus a pure
forward+backward on cached tensors, in one run (goal: ratio at most 1.3).

    python bench/train_bench.py [--batch 32] [--size 224] [--workers 2] [--steps 12]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from ripdetect.config import AugmentConfig, ModelConfig, SynthConfig, TrainConfig
from ripdetect.data.augment import TrainTransform
from ripdetect.data.layouts import load_samples
from ripdetect.data.torch_dataset import ImageDataset, make_loader
from ripdetect.models.classifier import create_model
from ripdetect.synth.writer import generate_images
from ripdetect.training.losses import make_loss
from ripdetect.training.optim import make_optimizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--freeze", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ripdetect-bench-"))
    generate_images(folder, SynthConfig(n=args.batch * 4, seed=0, width=640, height=384))
    samples = load_samples(folder)
    model_config = ModelConfig(input_size=args.size, freeze_stages=args.freeze)
    train_config = TrainConfig(model=model_config, batch_size=args.batch, num_workers=args.workers)
    model = create_model(model_config).train()
    optimizer = make_optimizer(model, train_config)
    loss_fn = make_loss(model.model_config, train_config, samples)
    loader = make_loader(ImageDataset(samples, TrainTransform(model.preprocessing, AugmentConfig(), 0)), args.batch,
                         args.workers, 0, shuffle=True)

    def step(images, labels):
        loss = loss_fn(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    cached = next(iter(loader))
    step(cached["images"], cached["labels"])  # warm-up
    results = {}
    for name in ("cached", "real", "cached_again"):
        start, done = time.perf_counter(), 0
        while done < args.steps:
            for batch in (loader if name == "real" else [cached] * args.steps):
                step(batch["images"], batch["labels"])
                done += 1
                if done >= args.steps:
                    break
        results[name] = args.batch * args.steps / (time.perf_counter() - start)
    cached_rate = (results["cached"] + results["cached_again"]) / 2
    print(json.dumps({"batch": args.batch, "size": args.size, "workers": args.workers,
                      "images_per_s_real": round(results["real"], 2), "images_per_s_cached": round(cached_rate, 2),
                      "ratio_real_step_over_cached": round(cached_rate / results["real"], 3)}, indent=1))


if __name__ == "__main__":
    main()
