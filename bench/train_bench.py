"""Training throughput, measured side by side in one run:

1. a real step (JPEG decoding + augmentation in DataLoader workers, every stage run) against a pure
   forward+backward on tensors already in memory (goal: ratio at most 1.3: the input pipeline keeps up);
2. the feature cache (``--feature-cache-views``): images per second of an epoch that runs only the stages that
   train, against the uncached epoch of the same recipe, and what building the cache costs, amortised over a run.

    python bench/train_bench.py [--batch 32] [--size 224] [--workers 2] [--steps 12] [--freeze 5 7] [--views 8]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from ripdetect.config import AugmentConfig, ModelConfig, SynthConfig, TrainConfig
from ripdetect.data.augment import TrainTransform
from ripdetect.data.torch_dataset import ImageDataset, make_loader
from ripdetect.data.layouts import load_samples
from ripdetect.models.classifier import create_model
from ripdetect.synth.writer import generate_images
from ripdetect.training.feature_cache import FeatureCache
from ripdetect.training.losses import batch_loss, make_loss
from ripdetect.training.optim import make_optimizer


def rate(step, batches, steps: int, batch: int) -> float:
    """Images per second over ``steps`` steps of ``batches`` (cycled)."""
    start, done = time.perf_counter(), 0
    while done < steps:
        for item in batches():
            step(item)
            done += 1
            if done >= steps:
                break
    return batch * steps / (time.perf_counter() - start)


def pipeline_ratio(samples, args) -> dict:
    """Real steps against steps on one batch held in memory (the input pipeline's cost)."""
    model_config = ModelConfig(input_size=args.size, freeze_stages=3)
    train_config = TrainConfig(model=model_config, batch_size=args.batch, num_workers=args.workers)
    model = create_model(model_config).train()
    optimizer = make_optimizer(model, train_config)
    loss_fn = make_loss(model.model_config, train_config, samples)
    loader = make_loader(ImageDataset(samples, TrainTransform(model.preprocessing, AugmentConfig(), 0)), args.batch,
                         args.workers, 0, shuffle=True)

    def step(batch):
        loss = loss_fn(model(batch["images"]), batch["labels"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    held = next(iter(loader))
    step(held)  # warm-up
    in_memory = rate(step, lambda: [held] * args.steps, args.steps, args.batch)
    real = rate(step, lambda: loader, args.steps, args.batch)
    in_memory = (in_memory + rate(step, lambda: [held] * args.steps, args.steps, args.batch)) / 2
    return {"images_per_s_real": round(real, 2), "images_per_s_in_memory": round(in_memory, 2),
            "ratio_real_step_over_in_memory": round(in_memory / real, 3)}


def cache_speedup(samples, args, freeze: int) -> dict:
    """Uncached epochs against cached ones, for the water-head recipe with ``freeze`` frozen stages."""
    model_config = ModelConfig(input_size=args.size, freeze_stages=freeze, water_head=True)
    train_config = TrainConfig(model=model_config, batch_size=args.batch, num_workers=args.workers,
                               cam_loss_weight=0.3, water_cam_loss_weight=0.3, feature_cache_views=args.views)
    model = create_model(model_config).train()
    optimizer = make_optimizer(model, train_config)
    loss_fn = make_loss(model.model_config, train_config, samples)

    def step(batch):
        loss = batch_loss(model, batch, loss_fn, train_config)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    loader = make_loader(ImageDataset(samples, TrainTransform(model.preprocessing, train_config.augment, 0),
                                      with_masks=True), args.batch, args.workers, 0, shuffle=True)
    started = time.perf_counter()
    cache = FeatureCache(model, samples, model.preprocessing, train_config)
    build_s = time.perf_counter() - started
    model.train()
    step(next(iter(cache.epoch(0, 0, args.batch, False))))  # warm-up
    uncached = rate(step, lambda: loader, args.steps, args.batch)
    cached = rate(step, lambda: cache.epoch(1, 0, args.batch, False), args.steps * 3, args.batch)
    uncached = (uncached + rate(step, lambda: loader, args.steps, args.batch)) / 2
    views_per_s = len(samples) * args.views / build_s
    epochs = args.amortise_epochs
    run_uncached = epochs * len(samples) / uncached
    run_cached = build_s + epochs * len(samples) / cached
    return {"freeze_stages": freeze, "views": args.views, "images_per_s_uncached": round(uncached, 2),
            "images_per_s_cached": round(cached, 2), "epoch_speedup": round(cached / uncached, 2),
            "cache_build_s": round(build_s, 1), "cache_views_per_s": round(views_per_s, 1),
            f"run_speedup_{epochs}_epochs": round(run_uncached / run_cached, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--images", type=int, default=128, help="synthetic training images")
    parser.add_argument("--freeze", type=int, nargs="+", default=[5, 7], help="frozen stages for the cache part")
    parser.add_argument("--views", type=int, default=8, help="augmented views cached per image")
    parser.add_argument("--amortise-epochs", type=int, default=30, help="run length the cache build is spread over")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ripdetect-bench-"))
    generate_images(folder, SynthConfig(n=args.images, seed=0, width=640, height=384))
    samples = load_samples(folder)
    report = {"batch": args.batch, "size": args.size, "workers": args.workers, "pipeline": pipeline_ratio(samples, args),
              "feature_cache": [cache_speedup(samples, args, freeze) for freeze in args.freeze]}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
