"""Training on cached frozen features: the frozen stages run once per training image and augmented view, so every
epoch runs only the stages that train.

With ``freeze_stages`` N the first N stages of the backbone never change (weights and BatchNorm statistics), so
their output for a given augmented image never changes either. ``FeatureCache`` gives every training sample
``feature_cache_views`` augmented views (each seeded by the run's seed, the sample's position and the view, so a
cache is the same whatever the number of workers), pushes each once through the frozen stages and keeps the result
in memory as float16, with the view's rip and water masks at 1/``MASK_STRIDE`` of the input side (the losses pool
them to the feature grid, and area pooling composes). Each epoch then draws one view per sample (a sample repeated
in the training list, such as a real photo under ``real_repeat``, gets its own views for every repeat) and trains
the rest of the model on it: augmentation and the frozen stages, most of a step's cost, are paid once.

The outputs are those of the uncached path for the same augmented views (tested), up to float16 rounding of the
cached features.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from ripdetect.config import TrainConfig
from ripdetect.data.augment import TrainTransform
from ripdetect.data.torch_dataset import ImageDataset
from ripdetect.data.layouts import Sample
from ripdetect.models.classifier import FrozenFeatures, RipClassifier
from ripdetect.models.preprocess import Preprocessing

log = logging.getLogger(__name__)
MASK_STRIDE = 8  # masks are kept at this fraction of the input side


def sample_keys(samples: list[Sample]) -> list[tuple[str, int]]:
    """Each sample's key in a cache: its path and how many times that path came before it in the list (a photo
    repeated under ``real_repeat`` is several entries, each with views of its own)."""
    seen: dict[str, int] = {}
    keys = []
    for sample in samples:
        keys.append((sample.path, seen.get(sample.path, 0)))
        seen[sample.path] = keys[-1][1] + 1
    return keys


def view_seed(seed: int, key: tuple[str, int], view: int) -> int:
    """The augmentation seed of one view of one cache entry: the same whatever list the entry came in, so one cache
    serves every fold of a cross-validation."""
    digest = int.from_bytes(hashlib.blake2b(key[0].encode(), digest_size=8).digest(), "little")
    return int(np.random.SeedSequence([seed, digest, key[1], view]).generate_state(1)[0])


class _SampleViews(Dataset):
    """Item ``i``: every augmented view of sample ``i``, or ``(None, path, reason)`` (the image is decoded for each
    view: the cache is built once, so this is paid once)."""

    def __init__(self, samples: list[Sample], transform: TrainTransform, views: int, seed: int):
        self.images = ImageDataset(samples, transform, with_masks=True)
        self.transform, self.views, self.seed = transform, views, seed
        self.keys = sample_keys(samples)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        views = []
        for view in range(self.views):
            self.transform.set_random_seed(view_seed(self.seed, self.keys[index], view))
            item = self.images[index]
            if item[0] is None:
                return item
            views.append(item)
        return views, index


def _collate(items: list) -> list:
    return items


def _pooled(mask: torch.Tensor | None, size: int) -> torch.Tensor | None:
    if mask is None:
        return None
    return F.adaptive_avg_pool2d(mask[None, None].float(), size)[0, 0].half()


class FeatureCache:
    """The frozen stages' outputs for ``views`` augmented views of every sample, and their masks."""

    def __init__(self, model: RipClassifier, samples: list[Sample], preprocessing: Preprocessing,
                 train_config: TrainConfig, progress=None):
        if model.frozen_stage_count == 0:
            raise ValueError("a feature cache needs frozen stages (freeze_stages > 0)")
        self.views = train_config.feature_cache_views
        self.labels = np.array([s.label for s in samples], dtype=np.int64)
        self.entries = {key: index for index, key in enumerate(sample_keys(samples))}
        self.mask_size = max(1, preprocessing.input_size // MASK_STRIDE)
        self.usable = np.zeros(len(samples), dtype=bool)
        self.errors: list[tuple[str, str]] = []
        self.features: torch.Tensor | None = None
        self.taps: torch.Tensor | None = None
        count, size = len(samples) * self.views, self.mask_size
        self.rip_masks = torch.zeros(count, size, size, dtype=torch.float16)
        self.water_masks = torch.zeros(count, size, size, dtype=torch.float16)
        self.has_mask = torch.zeros(count, dtype=torch.bool)
        self.has_water = torch.zeros(count, dtype=torch.bool)
        self._build(model, samples, preprocessing, train_config, progress)

    def _build(self, model: RipClassifier, samples: list[Sample], preprocessing: Preprocessing,
               train_config: TrainConfig, progress) -> None:
        transform = TrainTransform(preprocessing, train_config.augment, train_config.seed)
        dataset = _SampleViews(samples, transform, self.views, train_config.seed)
        per_batch = max(1, train_config.batch_size // self.views)
        loader = DataLoader(dataset, batch_size=per_batch, num_workers=train_config.num_workers, collate_fn=_collate)
        was_training = model.training
        model.eval()
        done = 0
        try:
            for batch in loader:
                good = [item for item in batch if item[0] is not None]
                self.errors += [(item[1], item[2]) for item in batch if item[0] is None]
                if good:
                    images = torch.stack([view[0] for views, _ in good for view in views])
                    frozen = model.frozen_features(images.to(next(model.parameters()).device))
                    self._store(good, frozen)
                done += len(batch)
                if progress:
                    progress("cache", {"step": done, "steps": len(samples)})
        finally:
            model.train(was_training)
        if self.errors:
            log.warning("%d training image(s) could not be read; first: %s: %s", len(self.errors), *self.errors[0])

    def _store(self, good: list, frozen: FrozenFeatures) -> None:
        features = frozen.features.detach().cpu().half()
        taps = None if frozen.tap is None else frozen.tap.detach().cpu().half()
        if self.features is None:
            total = len(self.labels) * self.views
            self.features = torch.zeros((total, *features.shape[1:]), dtype=torch.float16)
            if taps is not None:
                self.taps = torch.zeros((total, *taps.shape[1:]), dtype=torch.float16)
            self.stages_run = frozen.stages_run
            log.info("feature cache: %d views of %s (%.0f MB)", total, tuple(features.shape[1:]),
                     self.features.numel() * 2 / 1e6 + (0 if taps is None else self.taps.numel() * 2 / 1e6))
        row = 0
        for views, index in good:
            self.usable[index] = True
            for view, (_, _, _, rip, water) in enumerate(views):
                slot = index * self.views + view
                self.features[slot] = features[row]
                if taps is not None:
                    self.taps[slot] = taps[row]
                if rip is not None:
                    self.rip_masks[slot], self.has_mask[slot] = _pooled(rip, self.mask_size), True
                if water is not None:
                    self.water_masks[slot], self.has_water[slot] = _pooled(water, self.mask_size), True
                row += 1

    def entries_of(self, samples: list[Sample]) -> np.ndarray:
        """The cache entries of a training list (one fold's share of the list the cache was built from)."""
        try:
            return np.array([self.entries[key] for key in sample_keys(samples)], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"{exc.args[0][0]} (occurrence {exc.args[0][1] + 1}) is not in the feature cache") from None

    def epoch(self, epoch: int, seed: int, batch_size: int, balanced: bool,
              entries: np.ndarray | None = None) -> _CachedEpoch:
        """The batches of one epoch over ``entries`` (default: all): every readable one once (or drawn
        class-balanced), one random view each."""
        entries = np.arange(len(self.labels)) if entries is None else entries
        return _CachedEpoch(self, entries[self.usable[entries]], epoch, seed, batch_size, balanced)


class _CachedEpoch:
    """An epoch's batches, shaped like the image loader's (``images`` holds ``FrozenFeatures``)."""

    def __init__(self, cache: FeatureCache, usable: np.ndarray, epoch: int, seed: int, batch_size: int,
                 balanced: bool):
        rng = np.random.default_rng([seed, epoch, 11])
        if balanced and len(usable):
            labels = cache.labels[usable]
            weights = 1.0 / np.bincount(labels, minlength=2).clip(min=1)[labels]
            order = rng.choice(usable, size=len(usable), replace=True, p=weights / weights.sum())
        else:
            order = rng.permutation(usable)
        self.slots = order * cache.views + rng.integers(0, cache.views, size=len(order))
        self.order, self.cache, self.batch_size = order, cache, batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.slots) / self.batch_size)

    def __iter__(self) -> Iterator[dict]:
        cache = self.cache
        for start in range(0, len(self.slots), self.batch_size):
            slots = torch.from_numpy(self.slots[start:start + self.batch_size])
            taps = None if cache.taps is None else cache.taps[slots].float()
            yield {"images": FrozenFeatures(cache.features[slots].float(), taps, cache.stages_run),
                   "labels": torch.from_numpy(cache.labels[self.order[start:start + self.batch_size]]),
                   "indices": torch.from_numpy(self.order[start:start + self.batch_size]),
                   "masks": cache.rip_masks[slots].float(), "has_mask": cache.has_mask[slots],
                   "water": cache.water_masks[slots].float(), "has_water": cache.has_water[slots],
                   "errors": []}
