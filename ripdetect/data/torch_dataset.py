"""A torch Dataset over ``Sample`` lists that reports unreadable files instead of crashing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, WeightedRandomSampler

from ripdetect.data.images import TRAINING_MAX_SIDE, load_image_rgb, stored_size
from ripdetect.data.layouts import Sample
from ripdetect.errors import InputError


class ImageDataset(Dataset):
    """Items are ``(tensor, label, index, rip_mask, water_mask)``, or ``(None, path, reason)`` for a file that
    cannot be read.

    With ``with_masks`` (and a transform that has ``with_masks``), rip samples that carry a region label also
    return their augmented rip mask, and samples that carry a water label their augmented water mask (each
    ``SxS`` float, following the same geometric augmentation as the image); otherwise they are ``None``."""

    def __init__(self, samples: list[Sample], transform: Callable[[np.ndarray], torch.Tensor],
                 with_masks: bool = False):
        self.samples = samples
        self.transform = transform
        self.with_masks = with_masks and hasattr(transform, "with_masks")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        try:
            image_rgb = load_image_rgb(sample.path, max_side=TRAINING_MAX_SIDE)
            wanted = {"rip": sample.region if sample.label == 1 else None, "water": sample.water}
            labels = {name: label for name, label in wanted.items() if label is not None and not label.is_empty}
            if self.with_masks and labels:
                source_size = stored_size(sample.path)  # pixel boxes refer to it (images may load downscaled)
                masks = {name: label.to_mask(*image_rgb.shape[:2], source_size=source_size)
                         for name, label in labels.items()}
                tensor, augmented = self.transform.with_masks(image_rgb, masks)
                return tensor, sample.label, index, augmented.get("rip"), augmented.get("water")
        except InputError as exc:
            return None, sample.path, exc.reason
        except OSError as exc:
            return None, sample.path, f"unreadable region or water label ({exc})"
        return self.transform(image_rgb), sample.label, index, None, None


def _stack_optional(tensors: list[torch.Tensor | None], size) -> tuple[torch.Tensor, torch.Tensor]:
    present = torch.tensor([t is not None for t in tensors])
    return torch.stack([t if t is not None else torch.zeros(size) for t in tensors]), present


def collate_skipping_errors(items: list) -> dict:
    """Stack the good items; collect ``(path, reason)`` of the bad ones."""
    good = [item for item in items if item[0] is not None]
    errors = [(item[1], item[2]) for item in items if item[0] is None]
    if not good:
        return {"images": None, "labels": None, "indices": None, "masks": None, "has_mask": None, "water": None,
                "has_water": None, "errors": errors}
    images = torch.stack([item[0] for item in good])
    masks, has_mask = _stack_optional([item[3] for item in good], images.shape[-2:])
    water, has_water = _stack_optional([item[4] for item in good], images.shape[-2:])
    return {
        "images": images,
        "labels": torch.tensor([item[1] for item in good], dtype=torch.long),
        "indices": torch.tensor([item[2] for item in good], dtype=torch.long),
        "masks": masks,
        "has_mask": has_mask,
        "water": water,
        "has_water": has_water,
        "errors": errors,
    }


def _seed_worker(worker_id: int) -> None:
    info = torch.utils.data.get_worker_info()
    transform = getattr(info.dataset, "transform", None)
    if hasattr(transform, "set_random_seed"):
        transform.set_random_seed(info.seed % 2**31)


def make_loader(dataset: ImageDataset, batch_size: int, num_workers: int, seed: int, shuffle: bool = False,
                balanced: bool = False, shard: tuple[int, int] | None = None) -> DataLoader:
    """A seeded DataLoader; ``balanced`` draws classes equally via WeightedRandomSampler. ``shard`` is
    ``(rank, world_size)`` under DistributedDataParallel: each rank loads its own share of every epoch (call
    ``loader.sampler.set_epoch`` where it has one, so each epoch shuffles anew)."""
    rank, world_size = shard or (0, 1)
    generator = torch.Generator().manual_seed(seed + rank)
    sampler = None
    if balanced:
        labels = np.array([s.label for s in dataset.samples])
        counts = np.bincount(labels, minlength=2).clip(min=1)
        weights = torch.as_tensor(1.0 / counts[labels], dtype=torch.double)
        sampler = WeightedRandomSampler(weights, num_samples=-(-len(labels) // world_size), replacement=True,
                                        generator=generator)
        shuffle = False
    elif world_size > 1:
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed)
        shuffle = False
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, sampler=sampler, num_workers=num_workers,
        collate_fn=collate_skipping_errors, worker_init_fn=_seed_worker, generator=generator,
        persistent_workers=num_workers > 0, drop_last=False,
    )
