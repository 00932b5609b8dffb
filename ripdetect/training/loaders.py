"""What each epoch of a run trains and validates on: the loaders, built from the model's preprocessing.

The first ``progressive_epochs`` epochs can train on a seeded, stratified subsample of the training images
(``progressive_data``) or at a smaller input (``progressive_size``, validated at that size too): the early rungs
of a tuning study then cost a fraction of a full epoch. Under DistributedDataParallel every rank loads its own
share (``ripdetect.training.distributed``).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from torch.utils.data import DataLoader

from ripdetect.config import TrainConfig
from ripdetect.data.augment import TrainTransform
from ripdetect.data.layouts import Sample
from ripdetect.data.torch_dataset import ImageDataset, make_loader
from ripdetect.models.preprocess import Preprocessing
from ripdetect.training.distributed import Workers

SIZE_MULTIPLE, SMALLEST_SIZE = 16, 32


@dataclass(frozen=True)
class EpochInputs:
    """The share of the training images and the input size of one epoch."""

    data_fraction: float
    input_size: int


def is_progressive(train_config: TrainConfig, epoch: int) -> bool:
    """Whether ``epoch`` (0-based) is one of the progressive epochs (never kept as the best epoch)."""
    return epoch < train_config.progressive_epochs and (train_config.progressive_data < 1
                                                         or train_config.progressive_size < 1)


def epoch_inputs(train_config: TrainConfig, epoch: int, input_size: int) -> EpochInputs:
    """Full data at the model's size, except in the progressive epochs."""
    if not is_progressive(train_config, epoch):
        return EpochInputs(1.0, input_size)
    size = round(input_size * train_config.progressive_size / SIZE_MULTIPLE) * SIZE_MULTIPLE
    return EpochInputs(train_config.progressive_data, min(input_size, max(SMALLEST_SIZE, size)))


def subsample(samples: list[Sample], fraction: float, seed: int) -> list[Sample]:
    """A seeded share of each class (at least one image of each), in the original order; a smaller fraction
    gives a subset of a larger one."""
    if fraction >= 1:
        return samples
    kept: set[int] = set()
    for label in (0, 1):
        members = [i for i, s in enumerate(samples) if s.label == label]
        random.Random(seed * 2 + label).shuffle(members)
        kept.update(members[:max(1, round(len(members) * fraction))] if members else [])
    return [s for i, s in enumerate(samples) if i in kept]


class EpochLoaders:
    """The training and validation loaders of the current epoch's inputs, rebuilt only when they change."""

    def __init__(self, train_samples: list[Sample], val_samples: list[Sample], preprocessing: Preprocessing,
                 train_config: TrainConfig, workers: Workers):
        self.train_samples, self.val_samples = train_samples, val_samples
        self.preprocessing, self.train_config, self.workers = preprocessing, train_config, workers
        self._inputs: EpochInputs | None = None
        self._train: DataLoader | None = None
        self._val: DataLoader | None = None

    def for_epoch(self, inputs: EpochInputs, epoch: int) -> tuple[DataLoader, DataLoader | None]:
        """(training loader, validation loader or ``None``) for ``inputs``, reshuffled for ``epoch``."""
        if inputs != self._inputs:
            self._build(inputs)
        if hasattr(self._train.sampler, "set_epoch"):
            self._train.sampler.set_epoch(epoch)
        return self._train, self._val

    def _build(self, inputs: EpochInputs) -> None:
        config, workers = self.train_config, self.workers
        preprocessing = dataclasses.replace(self.preprocessing, input_size=inputs.input_size)
        seed = config.seed + workers.rank
        train = subsample(self.train_samples, inputs.data_fraction, config.seed)
        self._train = make_loader(ImageDataset(train, TrainTransform(preprocessing, config.augment, seed),
                                               with_masks=True),
                                  config.batch_size, config.num_workers, config.seed, shuffle=True,
                                  balanced=config.imbalance == "balanced_sampler", shard=workers.shard)
        self._val = (make_loader(ImageDataset(self.val_samples, preprocessing), config.batch_size, config.num_workers,
                                 config.seed) if self.val_samples and workers.is_main else None)
        self._inputs = inputs
