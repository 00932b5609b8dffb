"""One camera followed without end: its source analysed frame by frame (``VideoAnalysis``), cut into clips,
with events, snapshots and status told to the watcher as notes (``messages``). Nothing here writes a file.

- A **stream** (URL or device) is timed by the clock. When it cannot be opened, drops or stalls for
  ``stall_s``, the camera is reported down and reconnected after 1, 2, 4, ... s (at most ``reconnect_max_s``).
  Its clips are aligned to the clock (10:00, 10:10, ...).
- A **file** is analysed to its end; a **folder** is analysed file by file, in name order, and then looked at
  again every ``folder_poll_s`` for new files (a file is taken once its size has stopped changing). Files already
  done (``done_files``) are skipped, so a restart does not analyse them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2

from ripdetect.cameras.clips import ClipAccumulator
from ripdetect.cameras.label_queue import QueueChooser
from ripdetect.cameras.messages import (DOWN, FINISHED, UP, ClipNote, ErrorNote, EventNote, FileDoneNote, FrameNote,
                                        SnapshotNote, StatusNote)
from ripdetect.cameras.profiles import CameraProfile
from ripdetect.config import WatchConfig
from ripdetect.data.images import resize_long_side
from ripdetect.data.inputs import expand_inputs
from ripdetect.decision import video_thresholds
from ripdetect.errors import InputError, first_line
from ripdetect.inference.predictor import Predictor
from ripdetect.video.aggregate import Event
from ripdetect.video.analyse import FrameResult, VideoAnalysis
from ripdetect.video.io import VIDEO_EXTENSIONS
from ripdetect.video.outputs import ANNOTATED_MAX_SIDE, annotate_frame
from ripdetect.video.provenance import input_identity

log = logging.getLogger(__name__)
Emit = Callable[[object], None]
SNAPSHOT_QUALITY = 85


def path_key(path: str | Path) -> str:
    """A short hash of a file's resolved path and inode: a file keeps it while a recorder is still writing it, so its
    events and clips keep their keys when it is analysed again (and are not alerted twice); a new recording saved
    under the same name is a new file (a new inode), with keys of its own."""
    path = Path(path).resolve()
    try:
        inode = path.stat().st_ino
    except OSError:
        inode = 0
    return hashlib.blake2b(f"{path}\0{inode}".encode(), digest_size=8).hexdigest()


def file_identity(path: str | Path) -> str:
    """A short hash of a file's resolved path, size and modification time."""
    return hashlib.blake2b(json.dumps(input_identity(path), sort_keys=True).encode(), digest_size=8).hexdigest()


class CameraRunner:
    def __init__(self, profile: CameraProfile, predictor: Predictor, watch_config: WatchConfig, emit: Emit,
                 stop: threading.Event, once: bool = False, done_files: set[str] | None = None):
        self.profile, self.predictor, self.watch_config = profile, predictor, watch_config
        self.emit, self.stop, self.once = emit, stop, once
        self.done_files = set(done_files or ())
        self.on_threshold, self.off_threshold = video_thresholds(profile.video, predictor.video_threshold)
        self.session = 0
        self.queue = QueueChooser(profile.name, watch_config, self.on_threshold, profile.video.min_event_s)

    def run(self) -> None:
        """Follow the camera until the watcher stops. No error of one file, folder or stream ends the camera: it is
        logged, counted (``ripdetect_camera_errors_total``), shown as the camera's status, and the camera starts
        again after 1, 2, 4, ... s (``--once``: it gives up instead, reported down)."""
        delay = self.watch_config.reconnect_min_s
        while not self.stop.is_set():
            try:
                self._follow()
                return
            except Exception as exc:  # noqa: BLE001 - a camera reports its failure and carries on
                log.warning("%s: unexpected error: %s: %s", self.profile.name, type(exc).__name__, first_line(exc))
                log.debug("details", exc_info=exc)
                self.emit(ErrorNote(self.profile.name, f"{type(exc).__name__}: {first_line(exc)}", time.time()))
                if self.once:
                    self._status(DOWN, f"internal error: {type(exc).__name__}: {first_line(exc)}")
                    return
                self._status(DOWN, f"internal error: {type(exc).__name__}: {first_line(exc)}; retrying in {delay:g} s")
                if self.stop.wait(delay):
                    return
                delay = min(delay * 2, self.watch_config.reconnect_max_s)

    def _follow(self) -> None:
        if self.profile.live:
            self._follow_stream()
        elif self.profile.kind == "folder":
            self._follow_folder()
        else:
            error = self._analyse_file(Path(self.profile.source))
            if not self.stop.is_set():
                self._status(DOWN if error else FINISHED, error or "file analysed")

    # sources
    def _follow_stream(self) -> None:
        config = self.watch_config
        delay = config.reconnect_min_s
        opened = False
        while not self.stop.is_set():
            self.session += 1
            try:
                analysis = VideoAnalysis(self.profile.source, self.predictor, self.profile.video, live=True,
                                         timeout_s=config.stall_s)
            except InputError as exc:
                self._status(DOWN, exc.reason)
                if self.once:  # a back-fill of a stream that never opened did nothing: it is down, not finished
                    return
            else:
                opened = True
                self._status(UP, f"{analysis.info.width}x{analysis.info.height}")
                frames, reason = self._analyse(analysis, None)
                if self.stop.is_set():
                    return
                self._status(DOWN, reason or "the stream ended")
                if frames:
                    delay = config.reconnect_min_s
            if self.once:
                self._status(FINISHED if opened else DOWN, "stream ended (--once)")
                return
            log.info("%s: reconnecting in %.1f s", self.profile.name, delay)
            if self.stop.wait(delay):
                return
            delay = min(delay * 2, config.reconnect_max_s)

    def _follow_folder(self) -> None:
        seen: dict[Path, tuple[int, int]] = {}  # path -> (size, mtime_ns) at the previous look
        folder, there = Path(self.profile.source), None
        while not self.stop.is_set():
            if folder.is_dir() != there:  # a recorder's folder may be made after the watcher starts, or vanish
                there = folder.is_dir()
                self._status(UP if there else DOWN, "watching the folder" if there else "no such folder")
            for path in self._new_files(seen) if there else []:
                if self.stop.is_set():
                    return
                self._analyse_file(path)
            if self.once:
                if there:
                    self._status(FINISHED, "folder analysed")
                return
            if self.stop.wait(self.watch_config.folder_poll_s):
                return

    def _new_files(self, seen: dict[Path, tuple[int, int]]) -> list[Path]:
        """Videos not done yet; outside ``--once``, only those whose size and time did not change since the last
        look (a recorder may still be writing the newest one)."""
        found = [p for p in expand_inputs([self.profile.source], VIDEO_EXTENSIONS) if isinstance(p, Path)]
        ready = []
        for path in sorted(found):
            try:
                stat = path.stat()
            except OSError:
                continue
            signature = (stat.st_size, stat.st_mtime_ns)
            stable = self.once or seen.get(path) == signature
            seen[path] = signature
            try:
                done = file_identity(path) in self.done_files
            except OSError:  # gone, or cannot be read, since it was listed: the next look decides
                continue
            if stable and not done:
                ready.append(path)
        for gone in seen.keys() - set(found):  # a recorder deletes old files: forget them
            del seen[gone]
        return ready

    def _analyse_file(self, path: Path) -> str | None:
        """Analyse one file (unless it was done before); why it could not be, or ``None``."""
        identity = file_identity(path)
        if identity in self.done_files:
            log.info("%s: %s was analysed before; skipped", self.profile.name, path)
            return None
        self.session += 1
        error = None
        try:
            analysis = VideoAnalysis(path, self.predictor, self.profile.video)
        except InputError as exc:
            error = exc.reason
        else:
            if not self.profile.kind == "folder":
                self._status(UP, f"analysing {path.name}")
            _, error = self._analyse(analysis, path_key(path))
        if self.stop.is_set():
            return None  # not done: a restart analyses it again (its events keep their keys)
        if error:
            log.warning("%s: %s: %s", self.profile.name, path, error)
        self.done_files.add(identity)
        self.emit(FileDoneNote(self.profile.name, identity, str(path), error, path_key(path)))
        return error

    # one connection or one file
    def _analyse(self, analysis: VideoAnalysis, file_id: str | None) -> tuple[int, str | None]:
        """Analyse until the source ends or the watcher stops: ``(frames, why it ended early or None)``. ``file_id``
        (``path_key``) keys a file's events and clips; ``None`` for a live stream."""
        live = file_id is None
        source = self.profile.source if live else str(analysis.stream.source)
        wall_offset = time.time() - (time.monotonic() - analysis.stream.opened_at) if live else time.time()
        clip_s = self.profile.video.clip_minutes * 60
        clip, clip_index, open_event, last = None, None, None, None
        frames, last_snapshot, last_s, reason, unseen = 0, -math.inf, 0.0, None, None
        try:
            for result in analysis:
                time_s = result.frame.time_s
                shift = wall_offset if live else 0.0  # live clips follow the clock: 10:00, 10:10, ...
                index = math.floor((time_s + shift) / clip_s)
                if index != clip_index:
                    if clip is not None:
                        self._publish(clip, index * clip_s - shift, True)
                    clip_index = index
                    key = f"{time_s + wall_offset:.3f}" if live else f"{file_id}-{index}"
                    clip = self._clip(source, key, max(index * clip_s - shift, time_s if live else 0.0), wall_offset,
                                      open_event)
                clip.add(result)
                frames, last_s, last = frames + 1, time_s, result
                self._frame(result, wall_offset)
                agg = result.aggregated
                for note in self.queue.frame(result.frame.image_rgb, agg.prob_rip, agg.state, time_s + wall_offset):
                    self.emit(note)
                for change in agg.changes:  # the aggregator's events: the one events model
                    open_event = change.event if change.kind == "start" else None
                    self._event(change.kind, change.event, result, source, live, wall_offset, file_id)
                unseen = result  # the latest frame not yet in latest.jpg
                if time.monotonic() - last_snapshot >= self.watch_config.snapshot_s:
                    last_snapshot, unseen = time.monotonic(), None
                    self.emit(SnapshotNote(self.profile.name, time_s + wall_offset, self._jpeg(result)))
                if self.stop.is_set():
                    reason = "stopped"
                    break
        except InputError as exc:
            reason = exc.reason
        ended = reason is None
        # what the source's end settled: an event confirmed by it starts; a file that ended mid-event ends it (a
        # stream's open event is continued or ended by the watcher, see ``ResultSink``)
        closing = [change for change in analysis.closing if change.kind == "start" or (ended and not live)]
        if unseen is not None:  # the last frame is what latest.jpg shows once a file ends or a stream drops
            self.emit(SnapshotNote(self.profile.name, unseen.frame.time_s + wall_offset, self._jpeg(unseen)))
        if clip is not None:
            clip.apply(closing)
            partial = not live and analysis.stream.partial  # a file cut short: its last clip is not complete
            clip.partial_decode = partial
            self._publish(clip, last_s + analysis.interval_s, ended and not live and not partial)
        for change in closing:
            self._event(change.kind, change.event, last if change.kind == "start" else None, source, live,
                        wall_offset, file_id)
        self.queue.source_ended()  # a peak frame never carries over to another file or connection
        return frames, reason

    def _clip(self, source: str, key: str, start_s: float, wall_offset: float,
              open_event: Event | None) -> ClipAccumulator:
        video = self.profile.video
        settings = {"window_s": video.window_s, "min_event_s": video.min_event_s, "sample_fps": video.sample_fps,
                    "stride": video.stride, "clip_minutes": video.clip_minutes}
        return ClipAccumulator(self.profile.name, source, key, start_s, wall_offset, self.predictor,
                               self.on_threshold, self.off_threshold, settings, open_event,
                               show_flow=video.motion and video.show_flow)

    def _publish(self, clip: ClipAccumulator, end_s: float, complete: bool) -> None:
        summary, files = clip.finish(end_s, complete)
        start_wall = clip.start_s + clip.wall_offset
        self.emit(ClipNote(self.profile.name, clip.key, start_wall, end_s + clip.wall_offset, summary, files))

    # notes
    def _status(self, status: str, detail: str) -> None:
        (log.info if status != DOWN else log.warning)("%s: %s (%s)", self.profile.name, status, detail)
        self.emit(StatusNote(self.profile.name, status, detail, time.time(), self.session))

    def _frame(self, result: FrameResult, wall_offset: float) -> None:
        agg = result.aggregated
        self.emit(FrameNote(self.profile.name, result.frame.time_s + wall_offset, result.prediction.prob_rip,
                            agg.aggregated_prob, agg.state, time.monotonic() - result.frame.decoded_at, self.session))

    def _event(self, kind: str, event: Event, result: FrameResult | None, source: str, live: bool,
               wall_offset: float, file_id: str | None) -> None:
        key = f"{self.profile.name}:{event.start_s + wall_offset:.3f}" if live else \
            f"{self.profile.name}:{file_id}:{event.start_s:.3f}"
        self.emit(EventNote(self.profile.name, kind, key, event.start_s + wall_offset, event.end_s + wall_offset,
                            event.start_s, event.end_s, event.peak_prob, event.mean_prob, source, live,
                            None if result is None else self._jpeg(result)))
        if kind == "end":  # a short event's peak frame goes to the labelling queue
            for note in self.queue.event_ended(event.end_s - event.start_s):
                self.emit(note)

    def _jpeg(self, result: FrameResult) -> bytes:
        image = resize_long_side(annotate_frame(self.predictor, result, self.on_threshold), ANNOTATED_MAX_SIDE)
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_QUALITY])
        return encoded.tobytes() if ok else b""
