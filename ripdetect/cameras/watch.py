"""``ripdetect watch``: every camera of a profile file followed at once, with rolling clip results, alerts,
metrics and state that survives a restart.

The watcher loads each model once, hands the cameras to hosts (threads of this process, or Ray workers), and
applies what they report (``ResultSink``): it alone writes ``--out``, the state database, the alert outbox and the
metrics. ``stop()`` (the CLI calls it on SIGTERM and Ctrl-C) ends every camera after the frame at hand, publishes
the partial clips, gives pending alerts a moment and closes the database; what is still pending is sent by the
next run.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from ripdetect.cameras.alerts import AlertSender
from ripdetect.cameras.database import STATE_NAME, StateStore
from ripdetect.cameras.host import CameraHost, camera_predictor, model_key
from ripdetect.cameras.monitoring import HealthServer, WatchMetrics
from ripdetect.cameras.profiles import CameraProfile
from ripdetect.cameras.rotation import rotate
from ripdetect.cameras.sink import CAMERA_MARKER, ResultSink
from ripdetect.config import WatchConfig
from ripdetect.decision import video_thresholds
from ripdetect.errors import ConfigError, RipdetectError
from ripdetect.files import OutputExistsError
from ripdetect.inference.backends import analysis_model
from ripdetect.inference.predictor import Predictor

log = logging.getLogger(__name__)
POLL_S = 0.2
ROTATE_EVERY_S = 3600.0
STOP_DRAIN_S = 2.0


class Watcher:
    def __init__(self, profiles: list[CameraProfile], out_dir: str | Path, watch_config: WatchConfig | None = None,
                 once: bool = False, metrics_port: int | None = None, metrics_host: str = "127.0.0.1",
                 executor: str = "local", ray_address: str | None = None, jobs: int | None = None):
        if executor not in ("local", "ray"):
            raise ConfigError(f"unknown executor '{executor}'; choose local or ray")
        self.profiles, self.out_dir = profiles, Path(out_dir)
        self.watch_config = watch_config or WatchConfig()
        self.once, self.executor, self.ray_address, self.jobs = once, executor, ray_address, jobs
        self.metrics_port, self.metrics_host = metrics_port, metrics_host
        self.server: HealthServer | None = None
        self.sink: ResultSink | None = None
        self.started = threading.Event()  # set once the cameras run (and the metrics server answers)
        self._stop = threading.Event()

    def cameras_down(self) -> dict[str, str]:
        """The cameras whose last status is down, with why (after ``run``: with ``--once``, those that could not
        be analysed to their end)."""
        if self.sink is None:
            return {}
        return {name: health["detail"] for name, health in self.sink.health_state.items()
                if health["status"] == "down"}

    @property
    def port(self) -> int | None:
        return None if self.server is None else self.server.port

    def stop(self) -> None:
        """Ask the watcher to stop (safe from a signal handler or another thread)."""
        self._stop.set()

    def run(self) -> None:
        if self.executor == "ray":
            from ripdetect.video.ray_batch import require_ray

            require_ray()
        claim_out_dir(self.out_dir, [p.name for p in self.profiles])
        predictors = load_models(self.profiles)
        metrics = WatchMetrics([p.name for p in self.profiles])  # before the database opens: it needs an extra
        store = StateStore(self.out_dir / STATE_NAME)
        alerts = AlertSender(store, {p.name: p.alerts for p in self.profiles}, self.out_dir, metrics.alert_outcome)
        self.sink = sink = ResultSink(self.out_dir, store, metrics, alerts, self.profiles, self.watch_config)
        hosts: list = []
        try:
            alerts.start()
            if self.metrics_port is not None:
                self.server = HealthServer(metrics, sink.health, self.metrics_host, self.metrics_port).start()
            done = {p.name: store.done_files(p.name) for p in self.profiles}
            hosts = self._hosts(predictors, done)
            for host in hosts:
                host.start()
            self.started.set()
            self._loop(hosts, sink, store)
        finally:
            for host in hosts:
                for note in host.stop():
                    sink.apply(note)
            sink.flush()
            sink.stopped()
            finished = self.once and not self._stop.is_set()  # a back-fill's alerts get one full try each
            drain = 2 * max(p.alerts.timeout_s for p in self.profiles) + 1 if finished else STOP_DRAIN_S
            alerts.stop(drain_s=drain, cancel=self._stop, each_once=finished)
            if undelivered := alerts.pending():
                log.warning("%d alert(s) not delivered yet: the next ripdetect watch with this --out sends them",
                            undelivered)
            if self.server is not None:
                self.server.stop()
            store.close()
            log.info("watch stopped; state in %s", self.out_dir / STATE_NAME)

    def _hosts(self, predictors: dict[str, Predictor], done: dict[str, set[str]]) -> list:
        if self.executor == "ray":
            from ripdetect.cameras.ray_hosts import ray_camera_hosts

            return ray_camera_hosts(self.profiles, predictors, self.watch_config, self.once, done, self.jobs,
                                    self.ray_address)
        return [CameraHost(self.profiles, predictors, self.watch_config, self.once, done)]

    def _loop(self, hosts: list, sink: ResultSink, store: StateStore) -> None:
        names = [p.name for p in self.profiles]
        last_rotation = -ROTATE_EVERY_S
        while True:
            for host in hosts:
                for note in host.poll():
                    sink.apply(note)
            sink.tick()
            if time.monotonic() - last_rotation >= ROTATE_EVERY_S:
                rotate(self.out_dir, store, names, self.watch_config.keep_days)
                last_rotation = time.monotonic()
            if self._stop.is_set():
                return
            if self.once and not any(host.running() for host in hosts):
                for host in hosts:  # what the cameras said last
                    for note in host.poll():
                        sink.apply(note)
                return
            self._stop.wait(POLL_S)


def claim_out_dir(out_dir: Path, cameras: list[str]) -> None:
    """Make ``out_dir`` and each camera's folder; a camera folder that holds files ripdetect did not write is
    refused (``OutputExistsError``); a ``--out`` that cannot be written is one line too."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for camera in cameras:
            folder = out_dir / camera
            if folder.is_dir() and not (folder / CAMERA_MARKER).exists() and any(folder.iterdir()):
                raise OutputExistsError(f"holds files that ripdetect watch did not write; use another --out for "
                                        f"camera '{camera}'", folder)
            folder.mkdir(exist_ok=True)
            (folder / CAMERA_MARKER).touch()
    except OSError as exc:
        if isinstance(exc, RipdetectError):
            raise
        raise RipdetectError(f"cannot write the watch folder: {exc.strerror or exc}", exc.filename or out_dir) from None


def load_models(profiles: list[CameraProfile]) -> dict[str, Predictor]:
    """Each model the cameras use, loaded once (one-line errors name the camera, its model field and the
    checkpoint)."""
    predictors: dict[str, Predictor] = {}
    for profile in profiles:
        if model_key(profile) not in predictors:
            roi_given = any(p.roi is not None for p in profiles if model_key(p) == model_key(profile))
            try:
                predictors[model_key(profile)] = Predictor(analysis_model(profile.model, roi_given))
            except RipdetectError as exc:
                raise ConfigError(f"camera '{profile.name}': model: {exc}") from None
    for profile in profiles:  # each camera's thresholds, checked before anything runs
        try:
            video_thresholds(profile.video, camera_predictor(profile, predictors).video_threshold)
        except ConfigError as exc:
            raise ConfigError(f"camera '{profile.name}': {exc.reason}") from None
    return predictors
