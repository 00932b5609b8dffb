"""Where the notes of the cameras land (in the watcher's process, whatever runs the cameras): the state database,
the published files, the alert outbox and the metrics.

Files in ``--out``, per camera (``<camera>/`` holds a ``.ripdetect-camera`` marker; nothing else is touched):

- ``latest.jpg``: the latest analysed frame with its overlay, every few seconds;
- ``<YYYY-MM-DD>/<HH-MM-SS>/``: one clip's ``summary.json``, ``events.json``, ``timeline.csv/.json/.png`` and
  ``summary.png``, moved in complete (a rename);
- ``<YYYY-MM-DD>/alerts/<HH-MM-SS>-<start|end>.jpg``: the frame sent with an alert.

**No duplicate alerts.** An event's key is its start in the file (files) or on the clock (streams); the outbox
takes each event's start and end once. A stream's event that was open when the camera went down or the watcher
stopped is continued, not alerted again, when the camera comes back within ``event_gap_s`` still showing the rip
(its first settled frame is ``rip``); otherwise it ends at the last frame seen.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ripdetect import records
from ripdetect.cameras.alerts import AlertSender
from ripdetect.cameras.clips import iso_time
from ripdetect.cameras.database import StateStore
from ripdetect.cameras.label_queue import LabelQueue
from ripdetect.cameras.messages import (DOWN, FINISHED, UP, ClipNote, ErrorNote, EventNote, FileDoneNote, FrameNote,
                                        QueueNote, SnapshotNote, StatusNote)
from ripdetect.cameras.monitoring import WatchMetrics
from ripdetect.cameras.profiles import CameraProfile
from ripdetect.config import WatchConfig
from ripdetect.decision import NO_RIP_WORD, RIP_WORD, prob_text
from ripdetect.errors import RipdetectError, first_line
from ripdetect.files import atomic_path, publish_folder, staging_folder
from ripdetect.version import __version__

log = logging.getLogger(__name__)
CAMERA_MARKER = ".ripdetect-camera"
DAY_MARKER = ".ripdetect-day"
FLUSH_S = 1.0  # frames are written to the database in batches this far apart
EXPIRY_CHECK_S = 5.0  # how often events left open by cameras that are down are looked at


class ResultSink:
    def __init__(self, out_dir: Path, store: StateStore, metrics: WatchMetrics, alerts: AlertSender,
                 profiles: list[CameraProfile], watch_config: WatchConfig):
        self.out_dir, self.store, self.metrics, self.alerts = Path(out_dir), store, metrics, alerts
        self.watch_config = watch_config
        self.live = {p.name: p.live for p in profiles}
        self.health_state = {p.name: {"status": "starting", "detail": "", "last_frame": None, "state": None}
                             for p in profiles}
        self._rows: list[tuple] = []
        self._current: dict[str, int] = {}  # camera -> its open event's id
        self._last_rip: dict[str, float] = {}  # camera -> wall time of its latest rip frame (not yet stored)
        self._aliases: dict[str, int] = {}  # a stream event's key -> the earlier event it continues
        self._adoptable: dict[str, int] = {}  # camera -> open event, until the session's first frame decides
        self._adopt_next: dict[str, int] = {}  # camera -> open event the next start continues
        self._first_frame: set[str] = set()  # cameras whose session has not sent a frame yet
        self._last_flush = self._last_expiry_check = time.monotonic()

    # notes in
    def apply(self, note: object) -> None:
        """Apply one note. A note that cannot be applied (a damaged database row, a full disk) is logged and counted
        against its camera; the others go on."""
        try:
            self._apply(note)
        except (RipdetectError, OSError) as exc:
            camera = getattr(note, "camera", None)
            log.warning("%s: %s could not be recorded: %s", camera, type(note).__name__, first_line(exc))
            if camera in self.health_state:
                self.metrics.errors.labels(camera).inc()
                self.health_state[camera]["errors"] = self.health_state[camera].get("errors", 0) + 1

    def _apply(self, note: object) -> None:
        handler = {StatusNote: self._status, FrameNote: self._frame, EventNote: self._event,
                   SnapshotNote: self._snapshot, ClipNote: self._clip, FileDoneNote: self._file_done,
                   ErrorNote: self._error, QueueNote: self._queue}[type(note)]
        handler(note)

    def _error(self, note: ErrorNote) -> None:
        self.metrics.errors.labels(note.camera).inc()
        self.health_state[note.camera]["errors"] = self.health_state[note.camera].get("errors", 0) + 1

    def _status(self, note: StatusNote) -> None:
        health = self.health_state[note.camera]
        if note.status == DOWN and health["status"] == UP:
            self.metrics.disconnects.labels(note.camera).inc()
        health.update(status=note.status, detail=note.detail, since=note.wall)
        self.metrics.up.labels(note.camera).set(0 if note.status == DOWN else 1)
        self.store.set_status(note.camera, note.status, note.detail, note.wall)
        if note.status == DOWN:
            self._store_last_rip(note.camera)
        if note.status == UP and self.live[note.camera]:
            self._first_frame.add(note.camera)
            self._adopt_next.pop(note.camera, None)
            self._adoptable.pop(note.camera, None)
            gap = self.watch_config.event_gap_s
            for event in (e for e in self.store.open_events(note.camera) if e["live"]):
                if note.wall - event["end_wall"] <= gap and note.camera not in self._adoptable:
                    self._adoptable[note.camera] = event["id"]  # the session's first frame decides
                else:
                    self._end(event["id"], event["end_wall"], event["end_s"], event["peak_prob"], event["mean_prob"])

    def _frame(self, note: FrameNote) -> None:
        camera = note.camera
        self._rows.append((camera, note.wall, note.prob_rip, note.aggregated_prob, note.state))
        self.health_state[camera].update(last_frame=note.wall, state=note.state)
        self.metrics.frames.labels(camera).inc()
        self.metrics.latency.labels(camera).observe(note.latency_s)
        self.metrics.prob.labels(camera).set(note.prob_rip)
        self.metrics.window_prob.labels(camera).set(note.aggregated_prob)
        if note.state == "rip":
            self._last_rip[camera] = note.wall
        if camera in self._first_frame:  # the session's first settled frame decides an event left open
            self._first_frame.discard(camera)
            event_id = self._adoptable.pop(camera, None)
            if event_id is not None and note.state == "rip":
                self._adopt_next[camera] = event_id
            elif event_id is not None:
                event = self.store.event_by_id(event_id)
                self._end(event_id, event["end_wall"], event["end_s"], event["peak_prob"], event["mean_prob"])
        if time.monotonic() - self._last_flush >= FLUSH_S:
            self.flush()

    def _event(self, note: EventNote) -> None:
        if note.kind == "start":
            self._start(note)
            return
        event_id = self._aliases.pop(note.key, None)
        if event_id is None:
            event = self.store.event(note.key)
            if event is None or not event["open"]:
                return
            event_id = event["id"]
        snapshot = self._save_snapshot(note, "end")
        self._end(event_id, note.end_wall, note.end_s, note.peak_prob, note.mean_prob, snapshot)

    def _start(self, note: EventNote) -> None:
        camera = note.camera
        adopted = self._adopt_next.pop(camera, None)
        if adopted is not None:
            log.info("%s: the rip seen before the camera went down goes on; no new alert", camera)
            self._aliases[note.key] = adopted
            self._current[camera] = adopted
            return
        existing = self.store.event(note.key)
        if existing is not None:  # a file analysed again after a restart
            if existing["open"]:
                self._current[camera] = existing["id"]
            return
        event_id = self.store.add_event(camera, note.key, note.source, note.live, note.start_wall, note.start_s,
                                        note.peak_prob, note.mean_prob)
        self._current[camera] = event_id
        self.metrics.events.labels(camera).inc()
        log.warning("%s: %s event started at %s (%s)", camera, RIP_WORD, iso_time(note.start_wall),
                    prob_text(note.peak_prob))
        interval = self.alerts.configs[camera].min_interval_s
        last = self.store.last_alerted_start(camera)
        if last is not None and note.start_wall - last < interval:
            log.info("%s: start alert held back (the last one was %.0f s ago; --min-interval-s %g)", camera,
                     note.start_wall - last, interval)
            return
        payload = self._payload(note, "start", event_id, self._save_snapshot(note, "start"))
        if self.alerts.queue(camera, event_id, "start", payload, time.time()):
            self.store.set_alerted(event_id, True)

    def _end(self, event_id: int, end_wall: float, end_s: float, peak_prob: float, mean_prob: float,
             snapshot: str | None = None) -> None:
        self.store.end_event(event_id, end_wall, end_s, peak_prob, mean_prob)
        event = self.store.event_by_id(event_id)
        camera = event["camera"]
        if self._current.get(camera) == event_id:
            del self._current[camera]
            self._last_rip.pop(camera, None)
        for key in [key for key, adopted in self._aliases.items() if adopted == event_id]:
            del self._aliases[key]  # however it ended: a watcher runs for weeks
        log.warning("%s: event ended at %s (peak %s)", camera, iso_time(event["end_wall"]), prob_text(event["peak_prob"]))
        if event["alerted"]:
            note = EventNote(camera, "end", event["key"], event["start_wall"], event["end_wall"], event["start_s"],
                             event["end_s"], event["peak_prob"], event["mean_prob"], event["source"],
                             bool(event["live"]))
            self.alerts.queue(camera, event_id, "end", self._payload(note, "end", event_id, snapshot), time.time())

    def _payload(self, note: EventNote, kind: str, event_id: int, snapshot: str | None) -> dict:
        return {"camera": note.camera, "kind": kind, "event_id": event_id, "event_key": note.key,
                "start_time": iso_time(note.start_wall), "end_time": iso_time(note.end_wall) if kind == "end" else None,
                "start_wall": records.seconds(note.start_wall),
                "end_wall": records.seconds(note.end_wall) if kind == "end" else None,
                "start_s": records.seconds(note.start_s), "end_s": records.seconds(note.end_s) if kind == "end" else None,
                "peak_prob": records.prob(note.peak_prob), "mean_prob": records.prob(note.mean_prob), "source": note.source,
                "snapshot_path": snapshot, "ripdetect_version": __version__}

    def _snapshot(self, note: SnapshotNote) -> None:
        if note.jpeg:
            with atomic_path(self.camera_dir(note.camera) / "latest.jpg") as tmp:
                tmp.write_bytes(note.jpeg)

    def _save_snapshot(self, note: EventNote, kind: str) -> str | None:
        """The alert's frame as ``<camera>/<day>/alerts/<time>-<kind>.jpg``; its path relative to ``--out``."""
        if not note.snapshot_jpeg:
            return None
        wall = note.start_wall if kind == "start" else note.end_wall
        name = f"{time.strftime('%H-%M-%S', time.localtime(wall))}-{kind}.jpg"
        path = self.day_dir(note.camera, wall) / "alerts" / name
        with atomic_path(path) as tmp:
            tmp.write_bytes(note.snapshot_jpeg)
        return str(path.relative_to(self.out_dir))

    def _clip(self, note: ClipNote) -> None:
        """Publish a clip's files. A clip is published once; one published incomplete (the watcher stopped in it, or
        the file was cut short) is replaced in its folder when the same clip comes complete (a restart redid it)."""
        earlier = self.store.clip(note.key)
        if earlier is not None and (earlier["complete"] or not note.summary["complete"]):
            return
        if earlier is not None:
            folder = self.out_dir / earlier["folder"]
        else:
            day = self.day_dir(note.camera, note.start_wall)
            name = time.strftime("%H-%M-%S", time.localtime(note.start_wall))
            folder, count = day / name, 1
            while folder.exists():
                count += 1
                folder = day / f"{name}_{count}"
        with staging_folder(folder) as staging:
            for file_name, data in note.files.items():
                (staging / file_name).write_bytes(data)
            publish_folder(staging, folder)
        self.store.add_clip(note.key, note.camera, note.start_wall, note.end_wall,
                            str(folder.relative_to(self.out_dir)), note.summary)
        self.metrics.clips.labels(note.camera).inc()
        summary = note.summary
        log.info("%s: clip %s: %s, max %s", note.camera, folder.relative_to(self.out_dir),
                 RIP_WORD if summary["rip_detected"] else NO_RIP_WORD, "none" if summary["max_prob"] is None
                 else prob_text(summary["max_prob"]))

    def _queue(self, note: QueueNote) -> None:
        LabelQueue(self.camera_dir(note.camera), self.watch_config.queue_max).add(note)

    def _file_done(self, note: FileDoneNote) -> None:
        self.store.add_file(note.camera, note.identity, note.path, note.error)
        for event in self.store.open_events(note.camera):
            if f":{note.path_key}:" in event["key"]:  # a file that ended mid-event, analysed before a restart
                self._end(event["id"], event["end_wall"], event["end_s"], event["peak_prob"], event["mean_prob"])

    # housekeeping
    def tick(self) -> None:
        if time.monotonic() - self._last_flush >= FLUSH_S:
            self.flush()
        if time.monotonic() - self._last_expiry_check >= EXPIRY_CHECK_S:
            self._close_expired(time.time())
            self._last_expiry_check = time.monotonic()

    def flush(self) -> None:
        self.store.add_frames(self._rows)
        self._rows = []
        for camera in list(self._last_rip):
            self._store_last_rip(camera)
        self._last_flush = self._last_expiry_check = time.monotonic()

    def stopped(self) -> None:
        """The watcher is ending: cameras still followed are recorded as down, so that the app never shows a
        camera as up while no watcher follows it."""
        for camera, health in self.health_state.items():
            if health["status"] not in (FINISHED, DOWN):
                self.store.set_status(camera, DOWN, "ripdetect watch stopped", time.time())

    def _store_last_rip(self, camera: str) -> None:
        wall = self._last_rip.pop(camera, None)
        if wall is not None and camera in self._current:
            self.store.extend_event(self._current[camera], wall)

    def _close_expired(self, now: float) -> None:
        """End the stream events left open longer than ``event_gap_s`` by a camera that is not up."""
        for camera, live in self.live.items():
            if not live or self.health_state[camera]["status"] == UP:
                continue
            for event in self.store.open_events(camera):
                if now - event["end_wall"] > self.watch_config.event_gap_s:
                    self._adoptable.pop(camera, None)
                    self._end(event["id"], event["end_wall"], event["end_s"], event["peak_prob"], event["mean_prob"])

    def health(self) -> dict:
        now = time.time()
        cameras = {name: {"status": h["status"], "detail": h["detail"], "state": h["state"], "errors": h.get("errors", 0),
                          "last_frame_age_s": None if h["last_frame"] is None else records.tenths(now - h["last_frame"])}
                   for name, h in self.health_state.items()}
        ok = all(c["status"] in (UP, FINISHED) for c in cameras.values())
        return {"status": "ok" if ok else "degraded", "cameras": cameras}

    # folders
    def camera_dir(self, camera: str) -> Path:
        folder = self.out_dir / camera
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def day_dir(self, camera: str, wall: float) -> Path:
        folder = self.camera_dir(camera) / time.strftime("%Y-%m-%d", time.localtime(wall))
        if not (folder / DAY_MARKER).exists():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / DAY_MARKER).write_text("made by ripdetect watch; removed after --keep-days\n")
        return folder
