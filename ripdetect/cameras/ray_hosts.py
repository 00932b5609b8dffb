"""Cameras on Ray (``ripdetect watch ... --executor ray``): the cameras dealt to Ray workers, each a ``CameraHost``
seen through the same calls as a local one. The watcher alone writes results, state and alerts, so its ``--out`` may
stay local to the machine it runs on."""

from __future__ import annotations

import logging
import time

from ripdetect.cameras.host import CameraHost
from ripdetect.cameras.messages import DOWN, StatusNote
from ripdetect.cameras.profiles import CameraProfile
from ripdetect.config import WatchConfig
from ripdetect.errors import first_line
from ripdetect.inference.predictor import Predictor
from ripdetect.video.ray_batch import connect, worker_count

log = logging.getLogger(__name__)


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
            detail = f"the Ray worker failed: {first_line(exc)}"
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
