"""What a video file says about itself, read from its header by the ffmpeg that imageio-ffmpeg ships: the
container format, codec, pixel format, size, frame rate and claimed duration. Used to tell whether its
timestamps can be trusted (raw elementary streams have none), and whether a browser can play it; plus a
browser-playable preview for files it cannot play."""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ripdetect.errors import InputError
from ripdetect.files import atomic_path

log = logging.getLogger(__name__)
# ffmpeg demuxers of raw elementary streams: no timestamps, so the frame rate is the demuxer's guess (often 25)
RAW_STREAM_FORMATS = frozenset({"h264", "hevc", "vvc", "mjpeg", "jpeg_pipe", "mpegvideo", "m4v", "cavsvideo", "avs2",
                                "avs3", "h261", "h263", "vc1", "obu", "rawvideo", "dirac", "mjpeg_2000", "image2pipe"})
BROWSER_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
BROWSER_PIXEL_FORMATS = frozenset({"yuv420p", "yuvj420p"})
PROBE_TIMEOUT_S = 30


@dataclass(frozen=True)
class ContainerFacts:
    format: str  # ffmpeg's demuxer name(s), e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "h264"
    codec: str  # e.g. "h264", "mpeg4"
    pixel_format: str
    width: int
    height: int
    fps: float | None
    duration_s: float | None  # what the header claims; None when it says N/A
    suffix: str = ""

    @property
    def has_timestamps(self) -> bool:
        return self.format not in RAW_STREAM_FORMATS

    @property
    def browser_playable(self) -> bool:
        """Whether Chromium, Firefox and Safari-class browsers play the file as it is."""
        formats = self.format.split(",")
        container_ok = "mp4" in formats or ("webm" in formats and self.suffix == ".webm")
        return container_ok and self.codec in BROWSER_CODECS and self.pixel_format in BROWSER_PIXEL_FORMATS

    def describe(self) -> str:
        """e.g. '20.0 s, 640x480, mpeg4' (duration 'unknown' when the header has none)."""
        duration = f"{self.duration_s:.1f} s" if self.duration_s else "duration unknown"
        return f"{duration}, {self.width}x{self.height}, {self.codec}"


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def read_container(path: str | Path) -> ContainerFacts | None:
    """The header facts of a video file; ``None`` when ffmpeg finds no video stream in it (the decoder then
    gives the reason)."""
    try:
        result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True,
                                timeout=PROBE_TIMEOUT_S, text=True, errors="replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s: could not read the container header (%s)", path, exc)
        return None
    return parse_header(result.stderr, Path(path).suffix.lower())


def parse_header(text: str, suffix: str = "") -> ContainerFacts | None:
    """``ContainerFacts`` from the input section that ``ffmpeg -i`` prints."""
    fmt = re.search(r"Input #0, (.+?), from ", text)
    stream = re.search(r"Stream #0:\d+.*?: Video: (.*)", text)
    if not fmt or not stream:
        return None
    parts = re.split(r",\s*(?![^()]*\))", stream.group(1))  # commas inside parentheses do not split
    codec = parts[0].split()[0] if parts[0].split() else "unknown"
    pixel_format = parts[1].split("(")[0].strip() if len(parts) > 1 else ""
    size = re.search(r"(?:^|,\s)(\d{1,5})x(\d{1,5})\b", stream.group(1))
    fps = re.search(r"([\d.]+) fps", stream.group(1))
    duration = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    seconds = int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3)) if duration \
        else None
    return ContainerFacts(fmt.group(1), codec, pixel_format, int(size.group(1)) if size else 0,
                          int(size.group(2)) if size else 0, float(fps.group(1)) if fps else None, seconds, suffix)


def make_preview(source: str | Path, target: str | Path, max_s: float, max_side: int = 640) -> Path:
    """A browser-playable H.264 MP4 of the first ``max_s`` seconds of ``source``, at most ``max_side`` pixels."""
    scale = (f"scale='if(gte(iw,ih),min({max_side},iw),-2)':'if(gte(iw,ih),-2,min({max_side},ih))'")
    with atomic_path(target) as tmp:
        command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source),
                   "-t", f"{max_s:g}", "-an", "-vf", scale, "-c:v", "libx264", "-preset", "ultrafast",
                   "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(tmp)]
        try:
            result = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=600)
        except subprocess.TimeoutExpired:
            raise InputError("making a playable preview took too long", source) from None
        if result.returncode != 0 or not tmp.stat().st_size:
            reason = (result.stderr.strip().splitlines() or ["no frames"])[-1]
            raise InputError(f"cannot make a playable preview ({reason})", source)
    return Path(target)
