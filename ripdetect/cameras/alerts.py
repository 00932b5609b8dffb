"""Alerts when an event starts and ends: a JSON POST to a webhook and/or a command (the JSON on its stdin), sent
from an outbox in the state database by a thread of their own, so analysis never waits for a receiver.

- **Rate limit**: a camera's start alerts are at least ``min_interval_s`` apart; an event that starts sooner is
  recorded but not alerted, and neither is its end. An end is alerted exactly when its start was.
- **Retries**: a failed delivery is tried again after 1, 2, 4, ... s (at most 5 minutes apart), up to
  ``max_attempts`` tries; it stays in the outbox meanwhile, so a restart carries on with it.
- **Order**: one delivery per camera and channel at a time (a thread each), oldest first, so an end never
  overtakes its start, and a receiver that hangs holds up only its own camera's alerts.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ripdetect.cameras.database import StateStore
from ripdetect.config import AlertConfig
from ripdetect.errors import RipdetectError
from ripdetect.version import __version__

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 300.0
CHANNELS = ("webhook", "command")


def channels(config: AlertConfig) -> list[str]:
    return [name for name in CHANNELS if getattr(config, name)]


class AlertSender:
    """The outbox's delivery thread. ``on_sent(camera, kind, channel, ok)`` is told of every final outcome."""

    def __init__(self, store: StateStore, configs: dict[str, AlertConfig], out_dir: Path,
                 on_sent: Callable[[str, str, str, bool], None] | None = None):
        self.store, self.configs, self.out_dir = store, configs, Path(out_dir)
        self.on_sent = on_sent
        self._busy: set[tuple[str, str]] = set()  # (camera, channel) with a delivery in flight
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._draining = False  # at a back-fill's end: every pending alert gets a try, a failed one blocks no other
        self._thread = threading.Thread(target=self._loop, daemon=True, name="ripdetect-alerts")

    def start(self) -> AlertSender:
        self._thread.start()
        return self

    def queue(self, camera: str, event_id: int, kind: str, payload: dict, wall: float) -> int:
        """Put an alert for each of the camera's channels in the outbox (never twice for one event and kind);
        returns how many were queued."""
        text = json.dumps(payload)
        queued = sum(self.store.add_alert(camera, event_id, kind, channel, text, wall)
                     for channel in channels(self.configs[camera]))
        if queued:
            self._wake.set()
        return queued

    def pending(self) -> int:
        return len(self.store.pending_alerts())

    def untried(self) -> int:
        return sum(alert["attempts"] == 0 for alert in self.store.pending_alerts())

    def stop(self, drain_s: float = 0.0, cancel: threading.Event | None = None, each_once: bool = False) -> None:
        """Stop after at most ``drain_s`` seconds of delivering what is pending, or as soon as ``cancel`` is set
        (what is left stays queued for the next run). ``each_once`` (a back-fill's end) goes on until every pending
        alert has had one full try, however many there are (each at most its timeout), and a failed alert waiting
        to be tried again holds up none of the others meanwhile."""
        deadline = time.monotonic() + drain_s
        if each_once:
            self._draining = True
            longest = max((c.timeout_s for c in self.configs.values()), default=0.0)
            deadline += self.untried() * (longest + 1.0)
        while time.monotonic() < deadline and not (cancel and cancel.is_set()):
            if not (self.pending() or self._busy) or (each_once and not self.untried() and not self._busy):
                break
            self._wake.set()
            time.sleep(0.1)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)  # a delivery still in flight is a daemon thread: it never holds up the exit

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            try:
                self._dispatch()
            except Exception:  # noqa: BLE001 - the outbox thread must outlive any one bad row
                log.exception("alert outbox: unexpected failure")

    def _dispatch(self) -> None:
        now = time.time()
        for alert in self.store.pending_alerts():
            lane = (alert["camera"], alert["channel"])
            if self._draining and alert["next_try"] > now:
                continue  # draining: the lane's next untried alert goes now
            with self._lock:
                if lane in self._busy:
                    continue
                self._busy.add(lane)  # the lane's oldest pending alert holds it until it is delivered or due
            if alert["next_try"] > now:
                self._release_later(lane, alert["next_try"] - now)
            else:
                threading.Thread(target=self._deliver, args=(alert, lane), daemon=True,
                                 name=f"ripdetect-alert-{lane[0]}-{lane[1]}").start()

    def _release_later(self, lane: tuple[str, str], seconds: float) -> None:
        def release() -> None:
            with self._lock:
                self._busy.discard(lane)
            self._wake.set()

        timer = threading.Timer(seconds, release)
        timer.daemon = True
        timer.start()

    def _deliver(self, alert: dict, lane: tuple[str, str]) -> None:
        try:
            self._try(alert)
        except (sqlite3.ProgrammingError, RipdetectError):
            if not getattr(self.store, "closed", False):
                raise
            # the watcher closed the state meanwhile: the alert stays pending
            log.info("%s: %s alert by %s still pending at exit; the next run sends it", alert["camera"],
                     alert["kind"], alert["channel"])
        finally:
            with self._lock:
                self._busy.discard(lane)
            self._wake.set()

    def _try(self, alert: dict) -> None:
        camera, kind, channel = alert["camera"], alert["kind"], alert["channel"]
        config = self.configs.get(camera) or AlertConfig()
        attempts = alert["attempts"] + 1
        try:
            body = self._body(alert["payload"], config)
            if channel == "webhook":
                post_json(config.webhook, body, config.timeout_s)
            else:
                run_command(config.command, body, config.timeout_s)
        except AlertError as exc:
            if attempts >= config.max_attempts:
                self.store.alert_done(alert["id"], "failed", attempts, time.time(), str(exc))
                log.warning("%s: %s alert by %s given up after %d tries: %s", camera, kind, channel, attempts, exc)
                self._tell(camera, kind, channel, False)
            else:
                wait = min(MAX_BACKOFF_S, 2.0 ** (attempts - 1))
                self.store.alert_retry(alert["id"], attempts, time.time() + wait, str(exc))
                log.warning("%s: %s alert by %s failed (try %d of %d; again in %.0f s): %s", camera, kind, channel,
                            attempts, config.max_attempts, wait, exc)
        else:
            self.store.alert_done(alert["id"], "sent", attempts, time.time())
            log.info("%s: %s alert sent by %s", camera, kind, channel)
            self._tell(camera, kind, channel, True)

    def _body(self, payload_text: str, config: AlertConfig) -> bytes:
        """The alert JSON, with the snapshot attached as base64 when the config asks for it."""
        payload = json.loads(payload_text)
        snapshot = payload.get("snapshot_path")
        if config.snapshot and snapshot and (self.out_dir / snapshot).is_file():
            payload["snapshot_jpeg_base64"] = base64.b64encode((self.out_dir / snapshot).read_bytes()).decode()
        return json.dumps(payload).encode()

    def _tell(self, camera: str, kind: str, channel: str, ok: bool) -> None:
        if self.on_sent is not None:
            self.on_sent(camera, kind, channel, ok)


class AlertError(Exception):
    """One failed delivery (the receiver is down, refused it, or took too long)."""


def post_json(url: str, body: bytes, timeout_s: float) -> None:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json",
                                                 "User-Agent": f"ripdetect/{__version__}"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        raise AlertError(f"{url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise AlertError(f"{url}: {getattr(exc, 'reason', exc)}") from None


def run_command(command: str, body: bytes, timeout_s: float) -> None:
    payload = json.loads(body)
    env = {**os.environ, **{f"RIPDETECT_{key.upper()}": str(payload[key]) for key in
                            ("camera", "kind", "start_time", "end_time", "peak_prob", "snapshot_path")
                            if payload.get(key) is not None}}
    try:  # a session of its own: on a timeout the command and every process it started are ended together
        process = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=env, start_new_session=True)
    except OSError as exc:
        raise AlertError(f"command could not run: {exc}") from None
    try:
        _, stderr = process.communicate(body, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise AlertError(f"command took longer than {timeout_s:g} s (it and what it started were ended)") from None
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise AlertError(f"command exited with {process.returncode} {tail[0]}".strip())


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.communicate()
