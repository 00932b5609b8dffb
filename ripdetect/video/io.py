"""Video I/O: ``VideoInfo``, a streaming sampled-frame reader, a threaded prefetcher and an H.264 writer
(imageio-ffmpeg ships the encoder; OpenCV's wheel cannot write browser-playable MP4)."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ripdetect.data.images import resize_long_side
from ripdetect.errors import InputError
from ripdetect.files import atomic_path
from ripdetect.video.container import read_container

log = logging.getLogger(__name__)
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".ts", ".wmv", ".h264", ".264",
                    ".mjpeg", ".mjpg")
FALLBACK_FPS = 25.0


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float  # kept as a float: 29.97 stays 29.97
    total_frames: int  # 0 when unknown (streams, raw elementary streams)
    fps_from_container: bool = True
    codec: str = ""  # from the container header; "" for streams
    header_duration_s: float | None = None  # what the container header claims, when it says
    timestamps_estimated: bool = False  # no timestamps in the source: times assume ``fps``

    @property
    def duration_s(self) -> float:
        """The duration the container claims (0 when unknown): the video stream's frame count over its rate, or
        the header's duration. Decoding may find it wrong; ``FrameStream`` measures the real one."""
        if self.timestamps_estimated or not self.fps_from_container:
            return 0.0
        if self.total_frames and self.fps:
            return self.total_frames / self.fps
        return self.header_duration_s or 0.0


@dataclass(frozen=True)
class Frame:
    index: int
    time_s: float
    image_rgb: np.ndarray
    decoded_at: float = field(default_factory=time.monotonic)  # when it was decoded (monotonic clock)
    earlier_rgb: np.ndarray | None = field(default=None, repr=False)  # a frame a moment before (motion), if asked
    earlier_time_s: float | None = None


def is_stream(source: str | Path) -> bool:
    """A URL or a capture device (``0``, ``/dev/video0``): live, not a file."""
    return "://" in str(source) or str(source).isdigit() or str(source).startswith("/dev/")


def _capture(source: str, timeout_s: float | None) -> cv2.VideoCapture:
    if source.isdigit():
        return cv2.VideoCapture(int(source))
    if timeout_s is None or "://" not in source:  # the timeouts are the network backend's (a device has its own)
        return cv2.VideoCapture(source)
    timeout_ms = max(1, round(timeout_s * 1000))
    return cv2.VideoCapture(source, cv2.CAP_ANY, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms,
                                                   cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms])


def open_capture(source: str | Path, timeout_s: float | None = None) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a file, URL or device; one-line ``InputError`` when it cannot be decoded. ``timeout_s`` bounds how
    long opening a stream and reading each of its frames may block (a stalled stream then ends)."""
    source = str(source)
    if not is_stream(source):
        path = Path(source)
        if not path.is_file():
            raise InputError("no such file" if not path.exists() else "not a file", source)
        if path.stat().st_size == 0:
            raise InputError("empty file (0 bytes)", source)
        if not os.access(path, os.R_OK):
            raise InputError("permission denied", source)
    capture = _capture(source, timeout_s)
    if not capture.isOpened():
        capture.release()
        reason = "cannot open stream" if is_stream(source) else "not a video, or an unsupported codec/container"
        raise InputError(reason, source)
    try:
        capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # honour rotation metadata
    except cv2.error:
        pass
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    from_container = 0.5 < fps < 1000
    if not from_container:
        log.warning("%s: missing or invalid fps (%s); times assume %.0f fps", source, fps, FALLBACK_FPS)
        fps = FALLBACK_FPS
    facts = None if is_stream(source) else read_container(source)
    estimated = not from_container or (facts is not None and not facts.has_timestamps)  # warned in the summary
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0
    info = VideoInfo(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), fps,
                     int(count) if 0 < count < 1e12 else 0, from_container, facts.codec if facts else "",
                     facts.duration_s if facts else None, estimated)
    if info.width <= 0 or info.height <= 0:
        capture.release()
        raise InputError("video has no decodable frames", source)
    return capture, info


def probe(source: str | Path) -> VideoInfo:
    """``VideoInfo`` of a source, with one-line errors."""
    capture, info = open_capture(source)
    capture.release()
    return info


class FrameStream:
    """Sampled frames of one source, streamed: every ``stride``-th frame, or ``sample_fps`` frames per second.

    Skipped frames are only grabbed (not decoded). Timestamps come from the container when it has them, else
    from the frame index and fps. The source is opened on construction (so ``info`` is known before the first
    frame) and released when iteration ends. Iterating raises ``InputError`` if no frame decodes, or once the
    decoded time passes ``max_duration_s`` (decoded time, not what the container claims). After iterating,
    ``duration_s`` is the decoded duration and ``partial`` says whether decoding stopped well before the end
    the container claims (a truncated or damaged file).

    A ``live`` source (a camera) is timed by the clock since it was opened, not by its own timestamps, so frames
    are sampled in real time; ``timeout_s`` ends it when opening or reading blocks that long.

    With ``pair_gap_s`` each sampled frame also carries the frame about that long before it (``earlier_rgb``), for
    optical flow: one more frame decoded per sampled frame, none per skipped one."""

    def __init__(self, source: str | Path, sample_fps: float | None, stride: int | None = None,
                 max_side: int | None = None, max_duration_s: float | None = None, live: bool = False,
                 timeout_s: float | None = None, pair_gap_s: float | None = None, max_pixels: int | None = None):
        self.source = str(source)
        self.sample_fps, self.stride, self.max_side = sample_fps, stride, max_side
        self.pair_gap_s = pair_gap_s
        self.max_duration_s, self.live = max_duration_s, live
        self.capture, self.info = open_capture(source, timeout_s)
        pixels = self.info.width * self.info.height
        if max_pixels is not None and pixels > max_pixels:
            self.capture.release()
            raise InputError(f"frames of {self.info.width}x{self.info.height} ({pixels / 1e6:.0f} million pixels) are "
                             f"above the cap of {max_pixels / 1e6:.0f} million (--max-pixels)", self.source)
        self.opened_at = time.monotonic()
        self.last_time_s: float | None = None  # timestamp of the last frame decoded (grabbed)

    @property
    def duration_s(self) -> float:
        """Decoded duration so far: the last frame's timestamp plus one frame period."""
        return 0.0 if self.last_time_s is None else self.last_time_s + 1.0 / self.info.fps

    @property
    def partial(self) -> bool:
        """Decoding ended clearly before the duration the container claims."""
        claimed = self.info.duration_s
        return bool(claimed) and self.duration_s < claimed - max(0.5, 3.0 / self.info.fps)

    @property
    def interval_s(self) -> float:
        """Seconds between analysed frames: ``stride`` source frames, or one ``sample_fps`` period."""
        return self.stride / self.info.fps if self.stride else 1.0 / self.sample_fps

    def __iter__(self) -> Iterator[Frame]:
        capture = self.capture
        next_time, index, yielded = 0.0, -1, 0
        earlier: tuple[float, np.ndarray] | None = None  # the pair frame kept for the next sampled one
        gap = self.pair_gap_s
        try:
            while True:
                if not capture.grab():
                    break
                index += 1
                time_s = self._time_s(index)
                if self.max_duration_s is not None and time_s >= self.max_duration_s:
                    raise InputError(f"lasts longer than the limit of {self.max_duration_s:g} s (stopped after "
                                     f"decoding {self.max_duration_s:g} s)", self.source)
                self.last_time_s = time_s
                take = index % self.stride == 0 if self.stride else time_s + 1e-6 >= next_time
                due = next_time if not self.stride else time_s + (self.stride - index % self.stride) / self.info.fps
                if gap and not take and earlier is None and time_s + 1e-6 >= due - gap:
                    earlier = self._decoded(time_s)  # about ``gap`` before the next sampled frame
                if not take:
                    continue
                frame = self._decoded(time_s)
                if frame is None:
                    log.warning("%s: frame %d could not be decoded; skipped", self.source, index)
                    continue
                if not self.stride:
                    next_time = (np.floor(time_s * self.sample_fps + 1e-6) + 1) / self.sample_fps
                yielded += 1
                pair = earlier if earlier is not None and earlier[0] < time_s else (None, None)
                earlier = None
                yield Frame(index, time_s, frame[1], earlier_rgb=pair[1], earlier_time_s=pair[0])
        finally:
            capture.release()
        if yielded == 0:
            raise InputError("no decodable frames (empty, truncated or unsupported video)", self.source)

    def _decoded(self, time_s: float) -> tuple[float, np.ndarray] | None:
        """The grabbed frame decoded, downscaled and in RGB, with its time; ``None`` when it does not decode."""
        ok, frame_bgr = self.capture.retrieve()
        if not ok or frame_bgr is None:
            return None
        if self.max_side:
            frame_bgr = resize_long_side(frame_bgr, self.max_side)
        return time_s, cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)

    def _time_s(self, index: int) -> float:
        """The grabbed frame's time: the clock (live), the container's timestamp, or index / fps."""
        if self.live:
            return time.monotonic() - self.opened_at
        position_ms = self.capture.get(cv2.CAP_PROP_POS_MSEC)
        if self.info.fps_from_container and (position_ms > 0 or index == 0):
            return position_ms / 1000.0
        return index / self.info.fps


def iter_frames(source: str | Path, sample_fps: float | None = 2.0, stride: int | None = None,
                max_side: int | None = None, max_duration_s: float | None = None) -> Iterator[Frame]:
    """The sampled frames of ``source`` (see ``FrameStream``)."""
    return iter(FrameStream(source, sample_fps, stride, max_side, max_duration_s))


def prefetch(frames: Iterator, size: int = 16, drop_oldest: bool = False) -> Iterator:
    """Run ``frames`` in a background thread behind a bounded queue, so decoding overlaps inference.
    Exceptions from the producer are re-raised in the consumer; closing the consumer stops the producer.
    With ``drop_oldest`` (a live camera) the producer never waits: when the queue is full, its oldest item is
    dropped, so a slow consumer sees the latest frames instead of falling ever further behind."""
    items: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()
    done = object()
    dropped = 0

    def produce() -> None:
        nonlocal dropped
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        if drop_oldest:
                            items.put_nowait(item)
                        else:
                            items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        if drop_oldest:
                            dropped += _drop_one(items)
                if stop.is_set():
                    return
            items.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            items.put(exc)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, daemon=True, name="ripdetect-decoder")
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
        if dropped:
            log.warning("%d decoded frames were dropped because analysis fell behind the live source", dropped)


def _drop_one(items: queue.Queue) -> int:
    try:
        items.get_nowait()
        return 1
    except queue.Empty:
        return 0


ENCODE_PRESET = "veryfast"  # x264's: annotated clips are for looking at, and encoding shares the analysis' cores


class VideoWriter:
    """H.264 / yuv420p MP4 writer that opens lazily on the first frame and closes in ``__exit__``.
    Writes to a temporary name of its own and renames on a clean close (``ripdetect.files.atomic_path``), so a
    killed run leaves no finished-looking file."""

    def __init__(self, path: str | Path, fps: float, quality: int = 7):
        self.path, self.fps, self.quality = Path(path), float(fps), quality
        self._target = None  # the atomic_path context while a file is open
        self._writer = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def __enter__(self) -> VideoWriter:
        return self

    def write(self, image_rgb: np.ndarray) -> None:
        if self._writer is None:
            import imageio_ffmpeg

            height, width = image_rgb.shape[:2]
            self._size = (width - width % 2, height - height % 2)
            self._target = atomic_path(self.path)
            tmp_path = self._target.__enter__()
            self._writer = imageio_ffmpeg.write_frames(
                str(tmp_path), self._size, fps=self.fps, codec="libx264", pix_fmt_in="rgb24",
                pix_fmt_out="yuv420p", quality=self.quality, macro_block_size=2,
                output_params=["-preset", ENCODE_PRESET, "-movflags", "+faststart"], ffmpeg_log_level="error")
            self._writer.send(None)
        if (image_rgb.shape[1], image_rgb.shape[0]) != self._size:
            image_rgb = cv2.resize(image_rgb, self._size, interpolation=cv2.INTER_AREA)
        self._writer.send(np.ascontiguousarray(image_rgb))
        self.frames += 1

    def close(self, keep: bool = True) -> None:
        """Finish the file: it takes its name when ``keep`` and a frame was written; else nothing is left."""
        try:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                writer.close()
        except Exception:
            keep = False  # the encoder failed: its half-written temporary file goes
            raise
        finally:
            self._finish_target(keep)

    def _finish_target(self, keep: bool) -> None:
        if self._target is not None:
            target, self._target = self._target, None
            if keep and self.frames:
                target.__exit__(None, None, None)
            else:
                target.__exit__(RuntimeError, RuntimeError("not kept"), None)

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(keep=exc_type is None)
