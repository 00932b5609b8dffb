"""Video I/O: ``VideoInfo``, a streaming frame generator with sampling, a threaded prefetcher and an
H.264 writer (imageio-ffmpeg ships the encoder; OpenCV's wheel cannot write browser-playable MP4)."""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ripdetect.errors import InputError

log = logging.getLogger(__name__)
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".ts", ".wmv")
FALLBACK_FPS = 25.0


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float  # kept as a float: 29.97 stays 29.97
    total_frames: int  # 0 when unknown (streams)
    fps_from_container: bool = True

    @property
    def duration_s(self) -> float:
        return self.total_frames / self.fps if self.total_frames and self.fps else 0.0


@dataclass(frozen=True)
class Frame:
    index: int
    time_s: float
    image_rgb: np.ndarray


def is_stream(source: str) -> bool:
    return "://" in str(source) or str(source).isdigit()


def open_capture(source: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a file, URL or device; one-line ``InputError`` when it cannot be decoded."""
    source = str(source)
    if not is_stream(source):
        path = Path(source)
        if not path.is_file():
            raise InputError("no such file" if not path.exists() else "not a file", source)
        if path.stat().st_size == 0:
            raise InputError("empty file (0 bytes)", source)
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
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
        log.warning("%s: missing or invalid fps (%s); assuming %.0f", source, fps, FALLBACK_FPS)
        fps = FALLBACK_FPS
    info = VideoInfo(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), fps,
                     max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)), from_container)
    if info.width <= 0 or info.height <= 0:
        capture.release()
        raise InputError("video has no decodable frames", source)
    return capture, info


def iter_frames(source: str | Path, sample_fps: float | None = 2.0, stride: int | None = None,
                max_side: int | None = 1280) -> Iterator[Frame]:
    """Sampled frames, streamed. Skipped frames are only grabbed (not decoded); timestamps come from the
    container when it has them, else from the frame index and fps. Raises ``InputError`` if no frame decodes."""
    capture, info = open_capture(source)
    step_s = 1.0 / sample_fps if sample_fps and not stride else None
    next_time, index, yielded = 0.0, -1, 0
    try:
        while True:
            if not capture.grab():
                break
            index += 1
            position_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
            use_container = info.fps_from_container and (position_ms > 0 or index == 0)
            time_s = position_ms / 1000.0 if use_container else index / info.fps
            take = index % stride == 0 if stride else time_s + 1e-6 >= next_time
            if not take:
                continue
            ok, frame_bgr = capture.retrieve()
            if not ok or frame_bgr is None:
                log.warning("%s: frame %d could not be decoded; skipped", source, index)
                continue
            if step_s:
                next_time = (np.floor(time_s / step_s + 1e-6) + 1) * step_s
            if max_side and max(frame_bgr.shape[:2]) > max_side:
                scale = max_side / max(frame_bgr.shape[:2])
                frame_bgr = cv2.resize(frame_bgr, (round(frame_bgr.shape[1] * scale), round(frame_bgr.shape[0] * scale)),
                                       interpolation=cv2.INTER_AREA)
            yielded += 1
            yield Frame(index, time_s, cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if yielded == 0:
        raise InputError("no decodable frames (empty, truncated or unsupported video)", source)


def prefetch(frames: Iterator, size: int = 16) -> Iterator:
    """Run ``frames`` in a background thread behind a bounded queue, so decoding overlaps inference.
    Exceptions from the producer are re-raised in the consumer; closing the consumer stops the producer."""
    items: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            items.put(exc)

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


class VideoWriter:
    """H.264 / yuv420p MP4 writer that opens lazily on the first frame and closes in ``__exit__``.
    Writes to ``path.tmp.mp4`` and renames on a clean close, so a killed run leaves no finished-looking file."""

    def __init__(self, path: str | Path, fps: float, quality: int = 7):
        self.path, self.fps, self.quality = Path(path), float(fps), quality
        self.tmp_path = self.path.with_name(self.path.stem + ".tmp.mp4")
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
            self._writer = imageio_ffmpeg.write_frames(
                str(self.tmp_path), self._size, fps=self.fps, codec="libx264", pix_fmt_in="rgb24",
                pix_fmt_out="yuv420p", quality=self.quality, macro_block_size=2,
                output_params=["-movflags", "+faststart"], ffmpeg_log_level="error")
            self._writer.send(None)
        if (image_rgb.shape[1], image_rgb.shape[0]) != self._size:
            image_rgb = cv2.resize(image_rgb, self._size, interpolation=cv2.INTER_AREA)
        self._writer.send(np.ascontiguousarray(image_rgb))
        self.frames += 1

    def close(self, keep: bool = True) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            if keep and self.frames:
                os.replace(self.tmp_path, self.path)
        if self.tmp_path.exists():
            self.tmp_path.unlink()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(keep=exc_type is None)
