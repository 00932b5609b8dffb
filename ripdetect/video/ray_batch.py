"""Batches on Ray (``ripdetect video ... --executor ray``; ``pip install 'ripdetect[ray]'``).

The inputs are spread over Ray workers; each receives the caller's loaded model once (through Ray's object store, so
a cluster's nodes need no copy of the checkpoint) and keeps it for every input it gets. The work one input needs is
the ``process`` function the batch passes in (``ripdetect.video.batch.process_one``), so this runner knows nothing of
what a result is. Without ``address`` a local Ray starts in this process; with one (``auto``, or
``ray://head:10001``) the work goes to that cluster, and the workers write into ``--out`` themselves (on a cluster: a
folder every node mounts at the same path). ``connect`` and ``worker_count`` serve the cameras on Ray too
(``ripdetect.cameras.ray_hosts``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from ripdetect.config import VideoConfig
from ripdetect.errors import first_line, require_extra
from ripdetect.inference.predictor import Predictor

log = logging.getLogger(__name__)
ProcessOne = Callable[..., object]  # (source, out_dir, predictor, video_config, on_frame, overwrite) -> BatchItem
ErrorItem = Callable[[str, str, str], object]  # (source, out_dir, reason) -> an error record


def require_ray():
    """The ``ray`` module; a one-line error saying how to install it when it is missing."""
    return require_extra("ray", "ray", "--executor ray")


def connect(address: str | None = None):
    """The ``ray`` module, connected: to ``address``, or to a new local Ray when it is ``None``."""
    ray = require_ray()
    if not ray.is_initialized():
        options = {"include_dashboard": False} if address is None else {}
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True, **options)
        log.info("Ray: %s CPUs in the cluster", ray.cluster_resources().get("CPU", 0))
    return ray


def worker_count(ray, jobs: int | None, tasks: int) -> int:
    """``jobs`` workers, or one per CPU of the cluster; never more than there are tasks."""
    available = int(ray.cluster_resources().get("CPU", 1)) or 1
    return max(1, min(jobs or available, tasks))


class VideoWorker:
    """A Ray actor: one model, many inputs, one at a time (``process_one``, as a local batch does)."""

    def __init__(self, predictor: Predictor, threads: int, process: ProcessOne):
        torch.set_num_threads(threads)
        torch.set_flush_denormal(True)
        self.predictor, self.process_one = predictor, process

    def process(self, source: str, out_dir: str, video_config: VideoConfig, overwrite: bool):
        return self.process_one(source, Path(out_dir), self.predictor, video_config, None, overwrite)


def run_batch_on_ray(tasks: list[tuple[str, Path]], predictor: Predictor, video_config: VideoConfig,
                     jobs: int | None, overwrite: bool, process: ProcessOne, error_item: ErrorItem,
                     address: str | None = None) -> Iterator:
    """What ``process`` returns for each task, in completion order; a worker that dies gives its input
    ``error_item(source, out_dir, reason)`` and is replaced."""
    ray = connect(address)
    count = worker_count(ray, jobs, len(tasks))
    threads = max(1, (os.cpu_count() or 2) // count) if address is None else 1
    actor_class = ray.remote(num_cpus=1)(VideoWorker)
    model = ray.put(predictor)
    idle = [actor_class.remote(model, threads, process) for _ in range(count)]
    pending = list(enumerate(tasks))[::-1]
    running: dict = {}  # future -> (actor, (source, out_dir))
    try:
        while pending or running:
            while idle and pending:
                actor, (_, (source, out_dir)) = idle.pop(), pending.pop()
                future = actor.process.remote(source, str(out_dir), video_config, overwrite)
                running[future] = (actor, (source, out_dir))
            ready, _ = ray.wait(list(running), num_returns=1)
            actor, (source, out_dir) = running.pop(ready[0])
            try:
                item = ray.get(ready[0])
                idle.append(actor)
            except ray.exceptions.RayError as exc:
                item = error_item(source, str(out_dir), f"internal error: the Ray worker failed: {first_line(exc)}")
                ray.kill(actor)
                idle.append(actor_class.remote(model, threads, process))
            yield item
    finally:
        for actor in idle + [actor for actor, _ in running.values()]:
            ray.kill(actor)
