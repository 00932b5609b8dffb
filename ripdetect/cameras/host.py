"""A camera host runs cameras, one thread each, in one process: the watcher's own (``--executor local``) or a Ray
worker's (``--executor ray``, see ``ripdetect.cameras.ray_hosts``). It receives the loaded models from the watcher (each
loaded once per host, shared by the cameras that use it; model calls take turns) and keeps the notes its cameras
send until the watcher collects them with ``poll``."""

from __future__ import annotations

import logging
import threading

from ripdetect.cameras.profiles import CameraProfile
from ripdetect.cameras.runner import CameraRunner
from ripdetect.config import WatchConfig
from ripdetect.inference.predictor import Predictor

log = logging.getLogger(__name__)


def model_key(profile: CameraProfile) -> str:
    """The key of a camera's model among the loaded ones ('' for the embedded default model)."""
    return profile.model or ""


class CameraHost:
    def __init__(self, profiles: list[CameraProfile], predictors: dict[str, Predictor], watch_config: WatchConfig,
                 once: bool = False, done_files: dict[str, set[str]] | None = None, threads: int | None = None):
        if threads is not None:  # a worker process of its own: the settings a program makes at start
            import torch

            torch.set_num_threads(threads)
            torch.set_flush_denormal(True)
        self._stop = threading.Event()
        self._notes: list[object] = []
        self._lock = threading.Lock()
        done_files = done_files or {}
        self._runners = [CameraRunner(profile, camera_predictor(profile, predictors), watch_config, self._emit,
                                      self._stop, once, done_files.get(profile.name)) for profile in profiles]
        self._threads = [threading.Thread(target=runner.run, daemon=True,
                                          name=f"ripdetect-camera-{runner.profile.name}") for runner in self._runners]

    def _emit(self, note: object) -> None:
        with self._lock:
            self._notes.append(note)

    def start(self) -> list[str]:
        for thread in self._threads:
            thread.start()
        return [runner.profile.name for runner in self._runners]

    def poll(self) -> list[object]:
        """The notes sent since the last poll, in the order they were sent."""
        with self._lock:
            notes, self._notes = self._notes, []
        return notes

    def running(self) -> list[str]:
        """The cameras whose thread is still running."""
        return [runner.profile.name for runner, thread in zip(self._runners, self._threads) if thread.is_alive()]

    def stop(self, timeout_s: float = 10.0) -> list[object]:
        """Stop every camera (each finishes the frame at hand and publishes its partial clip); the last notes."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s / max(1, len(self._threads)))
            if thread.is_alive():
                log.warning("%s: still waiting for its source; left behind", thread.name)
        return self.poll()


def camera_predictor(profile: CameraProfile, predictors: dict[str, Predictor]) -> Predictor:
    """The camera's model with its inference settings and region of interest."""
    return predictors[model_key(profile)].with_config(profile.inference).with_roi(profile.roi)
