"""The app's camera-profile editor: a frame from the camera, a region of interest drawn on it point by point (or
uploaded), tried on the frame, and the profile to download. The ROI being drawn is plain data (``RoiDraft``), so
every step is a small pure function; the drawing is ``ripdetect.viz.draw.draw_polygons``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ripdetect.cameras.profiles import CameraProfile, load_profiles, parse_camera, profiles_yaml
from ripdetect.config import read_data_file
from ripdetect.errors import ConfigError
from ripdetect.inference.roi import Roi
from ripdetect.video.io import VIDEO_EXTENSIONS, FrameStream
from ripdetect.viz.draw import draw_polygons


@dataclass(frozen=True)
class RoiDraft:
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    points: tuple[tuple[float, float], ...] = field(default=())  # the polygon being drawn

    def add(self, x_px: float, y_px: float, width: int, height: int) -> RoiDraft:
        """A click at pixel (x, y) of a ``width x height`` frame, as a point in 0..1."""
        point = tuple(round(min(1.0, max(0.0, (pixel + 0.5) / size)), 5) for pixel, size in ((x_px, width), (y_px, height)))
        return replace(self, points=self.points + (point,))

    def close(self) -> RoiDraft:
        if len(self.points) < 3:
            raise ConfigError(f"a polygon needs at least 3 points; {len(self.points)} placed so far")
        return RoiDraft(self.polygons + (self.points,), ())

    def undo(self) -> RoiDraft:
        if self.points:
            return replace(self, points=self.points[:-1])
        return RoiDraft(self.polygons[:-1], ())

    @property
    def roi(self) -> Roi | None:
        return Roi.parse([list(map(list, p)) for p in self.polygons]) if self.polygons else None

    def describe(self) -> str:
        if not self.polygons and not self.points:
            return "No region of interest: the whole frame counts. Click on the frame to place points."
        text = f"{len(self.polygons)} polygon{'s' if len(self.polygons) != 1 else ''}"
        if self.points:
            text += f"; {len(self.points)} point{'s' if len(self.points) != 1 else ''} of the next one (close it)"
        roi = self.roi
        return text + ("" if roi is None else f"\n\n```json\n{roi.to_list()}\n```")


def read_frame(path: str | Path, load_image) -> np.ndarray:
    """The first frame of a clip, or the image itself (``load_image``: the app's guarded decoder)."""
    if Path(path).suffix.lower() in VIDEO_EXTENSIONS:
        return next(iter(FrameStream(path, sample_fps=1.0, max_side=1600))).image_rgb
    return load_image(path)


def draw(frame_rgb: np.ndarray | None, draft: RoiDraft) -> np.ndarray | None:

    return None if frame_rgb is None else draw_polygons(frame_rgb, list(draft.polygons), list(draft.points))


def read_upload(path: str | Path, camera: str = "") -> tuple[RoiDraft, CameraProfile | None]:
    """An uploaded ROI (polygons) or profile (the camera named ``camera``, else the first): the draft, and the
    profile when it was one."""
    data = read_data_file(path)
    if isinstance(data, dict) and "cameras" in data:
        profiles = load_profiles(path)
        index, profile = next(((i, p) for i, p in enumerate(profiles) if p.name == camera), (0, profiles[0]))
        # the source and model as the file wrote them: resolved, they would name the server's copy of the upload
        written = data["cameras"][index] if isinstance(data["cameras"], list) else {}
        profile = replace(profile, source=str(written.get("source", profile.source)),
                          model=None if written.get("model") is None else str(written["model"]))
        return RoiDraft(profile.roi.polygons if profile.roi else ()), profile
    return RoiDraft(Roi.parse(data, str(Path(path).name)).polygons), None


def profile_text(name: str, source: str, draft: RoiDraft, base: CameraProfile | None = None,
                 threshold: float | None = None) -> str:
    """The profile file for one camera (its other settings kept from ``base``; ``threshold``, the one tried on the
    frame, as its decision threshold), validated as a profile file is."""
    entry = {**(base.to_dict() if base else {}), "name": (name or "").strip(), "source": (source or "").strip()}
    if threshold is not None:
        entry["inference"] = {**entry.get("inference", {}), "threshold": round(float(threshold), 2)}
    if draft.roi is not None:
        entry["roi"] = draft.roi.to_list()
    else:
        entry.pop("roi", None)
    return profiles_yaml([parse_camera(entry, 0, "profile")])
