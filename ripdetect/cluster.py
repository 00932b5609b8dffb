"""Fleets and big back-fills on Ray (``--executor ray``; ``pip install 'ripdetect[ray]'``).

- ``ripdetect video ... --executor ray`` spreads the inputs over Ray workers (``run_batch_on_ray``);
- ``ripdetect watch ... --executor ray`` spreads the cameras over them (``ray_camera_hosts``).

Each worker receives the caller's loaded model once (sent through Ray's object store, so a cluster's nodes need
no copy of the checkpoint) and keeps it for every input or camera it gets. Without ``--ray-address`` a local Ray
starts in this process; with one (``auto``, or ``ray://head:10001``) the work goes to that cluster. Video results
are written by the workers into ``--out`` (on a cluster: a folder every node mounts at the same path); a watch's
results, state and alerts are written by the watcher alone, so its ``--out`` may be local to the head.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from ripdetect.cameras.host import CameraHost
from ripdetect.cameras.messages import DOWN, StatusNote
from ripdetect.cameras.profiles import CameraProfile
from ripdetect.config import VideoConfig, WatchConfig
from ripdetect.errors import RipdetectError
from ripdetect.inference.predictor import Predictor

log = logging.getLogger(__name__)
INSTALL_HINT = "--executor ray needs Ray, which is not installed: pip install 'ripdetect[ray]'"


def require_ray():
    """The ``ray`` module; a one-line error saying how to install it when it is missing."""
    try:
        import ray
    except ImportError:
        raise RipdetectError(INSTALL_HINT) from None
    return ray


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

    def __init__(self, predictor: Predictor, threads: int):
        import torch

        torch.set_num_threads(threads)
        torch.set_flush_denormal(True)
        self.predictor = predictor

    def process(self, source: str, out_dir: str, video_config: VideoConfig, overwrite: bool):
        from ripdetect.video.batch import process_one

        return process_one(source, Path(out_dir), self.predictor, video_config, None, overwrite)


def run_batch_on_ray(tasks: list[tuple[str, Path]], predictor: Predictor, video_config: VideoConfig,
                     jobs: int | None, overwrite: bool, address: str | None = None) -> Iterator:
    """``BatchItem``s in completion order; a worker that dies gives its input an error record and is replaced."""
    from ripdetect.video.batch import BatchItem

    ray = connect(address)
    count = worker_count(ray, jobs, len(tasks))
    threads = max(1, (os.cpu_count() or 2) // count) if address is None else 1
    actor_class = ray.remote(num_cpus=1)(VideoWorker)
    model = ray.put(predictor)
    idle = [actor_class.remote(model, threads) for _ in range(count)]
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
                reason = f"internal error: the Ray worker failed: {_first_line(exc)}"
                item = BatchItem(source, str(out_dir), "error", reason)
                ray.kill(actor)
                idle.append(actor_class.remote(model, threads))
            yield item
    finally:
        for actor in idle + [actor for actor, _ in running.values()]:
            ray.kill(actor)


class RayCameraHost:
    """A ``CameraHost`` in a Ray worker, seen through the same ``start``/``poll``/``running``/``stop`` calls. A
    worker that dies reports its cameras down, and a new one takes them over after a pause."""

    def __init__(self, ray, profiles: list[CameraProfile], models, watch_config: WatchConfig, once: bool,
                 done_files: dict[str, set[str]]):
        self.ray, self.profiles, self.models = ray, profiles, models
        self.watch_config, self.once, self.done_files = watch_config, once, done_files
        self.actor = None
        self.retry_at: float | None = None

    def _create(self) -> None:
        actor_class = self.ray.remote(num_cpus=1, max_concurrency=4)(CameraHost)
        self.actor = actor_class.remote(self.profiles, self.models, self.watch_config, self.once, self.done_files, 1)
        self.ray.get(self.actor.start.remote())

    def start(self) -> None:
        self._create()

    def poll(self) -> list[object]:
        if self.actor is None:
            if self.retry_at is not None and time.monotonic() >= self.retry_at:
                self.retry_at = None
                self._create()
            return []
        try:
            return self.ray.get(self.actor.poll.remote())
        except self.ray.exceptions.RayError as exc:
            self.actor = None
            self.retry_at = time.monotonic() + self.watch_config.reconnect_max_s
            detail = f"the Ray worker failed: {_first_line(exc)}"
            log.warning("%s; its cameras are taken over in %.0f s", detail, self.watch_config.reconnect_max_s)
            return [StatusNote(p.name, DOWN, detail, time.time()) for p in self.profiles]

    def running(self) -> list[str]:
        if self.actor is None:
            return [] if self.once else [p.name for p in self.profiles]
        try:
            return self.ray.get(self.actor.running.remote())
        except self.ray.exceptions.RayError:
            return []

    def stop(self) -> list[object]:
        if self.actor is None:
            return []
        try:
            return self.ray.get(self.actor.stop.remote())
        except self.ray.exceptions.RayError:
            return []
        finally:
            self.ray.kill(self.actor)
            self.actor = None


def ray_camera_hosts(profiles: list[CameraProfile], predictors: dict[str, Predictor], watch_config: WatchConfig,
                     once: bool, done_files: dict[str, set[str]], jobs: int | None,
                     address: str | None = None) -> list[RayCameraHost]:
    """The cameras dealt round-robin to ``jobs`` Ray workers (default: one per camera, at most one per CPU)."""
    ray = connect(address)
    count = worker_count(ray, jobs, len(profiles))
    models = ray.put(predictors)
    groups = [profiles[i::count] for i in range(count)]
    return [RayCameraHost(ray, group, models, watch_config, once,
                          {p.name: done_files.get(p.name, set()) for p in group}) for group in groups]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
