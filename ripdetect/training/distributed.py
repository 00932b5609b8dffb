"""Training in several processes: ``torchrun --nproc-per-node N -m ripdetect train ...`` runs
DistributedDataParallel on the gloo backend on CPU and nccl on GPU (one GPU per process).

The program starts and ends the process group (``start_process_group``, from torchrun's environment); the
library reads it through ``current()``, so ``fit`` and ``train_model`` work the same whether one process or
many call them. Every rank trains on its share of each epoch; rank 0 alone validates, reports progress,
writes files and finishes the model, and tells the others when to stop early.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ripdetect.errors import ConfigError, first_line

log = logging.getLogger(__name__)
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Workers:
    """This process's place among the training processes (rank 0 of 1 when training alone)."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Rank 0: validates, reports, writes files."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def shard(self) -> tuple[int, int] | None:
        """``(rank, world_size)`` for the data loader, or ``None`` alone."""
        return (self.rank, self.world_size) if self.is_distributed else None


def launched_by_torchrun() -> bool:
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def start_process_group() -> Workers:
    """Join the process group torchrun describes: nccl with one GPU per local rank where CUDA is available, gloo
    on CPU otherwise. For programs (the CLI), not the library: it changes process-wide state."""
    import torch.distributed as dist

    if not dist.is_available():
        raise ConfigError("this PyTorch build has no torch.distributed; train in one process")
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    try:
        dist.init_process_group(backend=backend)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot join the torchrun process group ({backend}): "
                          f"{first_line(exc)}") from None
    workers = current()
    log.info("rank %d of %d on %s (%s)", workers.rank, workers.world_size, workers.device, backend)
    return workers


def end_process_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def current() -> Workers:
    """The processes training together: from ``torch.distributed`` when a group is running, else one on CPU."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return Workers()
    cuda = dist.get_backend() == "nccl"
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if cuda else torch.device("cpu")
    return Workers(dist.get_rank(), dist.get_world_size(), device)


class _AllOutputs(nn.Module):
    """DDP synchronises gradients through ``forward`` only, so this forward returns every output a loss uses."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor):
        return self.model.outputs(images)


class DistributedModel:
    """What the training step sees of a DDP-wrapped ``RipClassifier``: ``model(x)`` (logits),
    ``model.outputs(x)`` and ``model.model_config``, with every forward going through DDP."""

    def __init__(self, model: nn.Module, workers: Workers):
        from torch.nn.parallel import DistributedDataParallel

        self.model = model
        device_ids = [workers.device.index] if workers.device.type == "cuda" else None
        # the water head learns only from batches with water masks (its gate is detached from the rip loss)
        self.ddp = DistributedDataParallel(_AllOutputs(model), device_ids=device_ids,
                                           find_unused_parameters=model.model_config.water_head)

    @property
    def model_config(self):
        return self.model.model_config

    def train(self, mode: bool = True) -> DistributedModel:
        self.model.train(mode)
        return self

    def outputs(self, images: torch.Tensor):
        return self.ddp(images)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.ddp(images).logits


def for_training(model: nn.Module, workers: Workers) -> Any:
    """The model the training step calls: ``model`` itself alone, a ``DistributedModel`` among several."""
    return DistributedModel(model, workers) if workers.is_distributed else model


def all_ranks_agree(workers: Workers, flag: bool) -> bool:
    """True when ``flag`` is true on every rank (a step every rank can take)."""
    if not workers.is_distributed:
        return flag
    import torch.distributed as dist

    value = torch.tensor([int(flag)], device=workers.device)
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def sum_over_ranks(workers: Workers, *values: float) -> tuple[float, ...]:
    if not workers.is_distributed:
        return values
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=workers.device)
    dist.all_reduce(tensor)
    return tuple(tensor.tolist())


def from_main(workers: Workers, value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a small picklable object)."""
    if not workers.is_distributed:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def wait_for_all(workers: Workers) -> None:
    if workers.is_distributed:
        import torch.distributed as dist

        dist.barrier()
