"""The app's "Teach a camera" tab: label a camera's frames (from its labelling queue in ``--watch-dir``, or
uploaded), then adapt the loaded model to that camera and read the before/after, as ``ripdetect adapt`` does.

The labelling is a small state (``LabelSession``) that Gradio keeps per browser: the frames, and each one's label
and, for a rip, the point clicked on it (a box around it goes to the labels file). ``adapt`` writes the labels as
``ripdetect adapt`` reads them, so the tab and the command share every check and refusal."""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from ripdetect import records
from ripdetect.app.handlers import RipApp, user_error
from ripdetect.app.views import adapt_report
from ripdetect.cameras.adapt import adapt_camera, save_adapted
from ripdetect.cameras.adapt_labels import check_enough, read_camera_labels
from ripdetect.cameras.label_queue import QUEUE_DIR, LabelQueue, most_worth_first
from ripdetect.cameras.profiles import NAME_PATTERN
from ripdetect.config import AdaptConfig
from ripdetect.data.images import resize_long_side, stored_size
from ripdetect.decision import applied_threshold
from ripdetect.errors import RipdetectError

LABEL_FIELDS = ("path", "label", "box")
POINT_BOX = 0.06  # a clicked rip becomes a box this share of the frame's width on each side of the point
SHOWN_SIDE = 1280  # the frame being labelled, long side in pixels


@dataclass(frozen=True)
class LabelSession:
    """The frames being labelled, their labels (``rip``/``no_rip``) and the rip points (pixels), and which is shown."""

    frames: tuple[str, ...] = ()
    labels: dict = field(default_factory=dict)  # path -> "rip" | "no_rip"
    points: dict = field(default_factory=dict)  # path -> (x, y) in the frame's pixels
    current: int = 0

    def with_frames(self, paths: list[str]) -> LabelSession:
        known = set(self.frames)
        return replace(self, frames=self.frames + tuple(p for p in paths if p not in known))

    def describe(self) -> str:
        rips = sum(1 for v in self.labels.values() if v == "rip")
        return (f"{len(self.frames)} frames · {len(self.labels)} labelled ({rips} rip, {len(self.labels) - rips} no "
                f"rip)" if self.frames else "No frames yet: load the camera's queue or upload frames.")

    def next_unlabelled(self) -> int:
        order = list(range(self.current + 1, len(self.frames))) + list(range(0, self.current + 1))
        return next((i for i in order if self.frames[i] not in self.labels), self.current)


def camera_name(name: str) -> str:
    """A camera's name as profiles write it (letters, digits, ``.``, ``_`` and ``-``): it names files and folders, so
    anything else is refused on the page."""
    if not NAME_PATTERN.fullmatch(name):
        raise user_error(f"{name!r} is not a camera name (1 to 64 letters, digits, '.', '_' or '-')")
    return name


class TeachHandlers:
    def __init__(self, app: RipApp, watch_dir: str | Path | None = None, adapt_config: AdaptConfig | None = None):
        self.app, self.watch_dir = app, Path(watch_dir) if watch_dir else None
        self.adapt_config = adapt_config or AdaptConfig()
        self._copies: dict[str, Path] = {}  # camera -> the folder of its queued frames' copies

    def queue_frames(self, camera: str) -> list[str]:
        """The camera's queued frames (``ripdetect watch``'s labelling queue), the most worth a label first."""
        if self.watch_dir is None or not camera:
            return []
        camera = camera_name(camera)
        queue = LabelQueue(self.watch_dir / camera, 0)
        return [str(self.watch_dir / camera / QUEUE_DIR / r["file"]) for r in most_worth_first(queue.rows())]

    def load(self, session: LabelSession, camera: str | None, uploads: list[str] | None):
        """Add the camera's queue (when a camera is chosen) and the uploaded frames -> the tab's views."""
        paths = self.copied(camera or "", self.queue_frames(camera or "")) + [str(p) for p in uploads or []]
        if not paths:
            raise user_error("No frames: this camera's queue is empty and nothing was uploaded.")
        return self.views(session.with_frames(paths))

    def copied(self, camera: str, frames: list[str]) -> list[str]:
        """Copies of the camera's queued frames, in one folder per camera kept until the app stops: the watcher
        trims its queue while an operator labels (a frame that went before it was copied is left out)."""
        if not frames:
            return []
        if camera not in self._copies:
            self._copies[camera] = self.app.results.new("teach-frames")
        copies = []
        for frame in frames:
            copy_path = self._copies[camera] / Path(frame).name
            try:
                if not copy_path.exists():
                    shutil.copy2(frame, copy_path)
            except FileNotFoundError:
                continue
            copies.append(str(copy_path))
        return copies

    def views(self, session: LabelSession):
        """-> (session, gallery of (frame, caption), the frame shown, its caption, the counts)."""
        gallery = [(path, self.caption(session, path)) for path in session.frames]
        shown, caption = None, ""
        if session.frames:
            path = session.frames[session.current]
            try:
                shown = self.shown(path, session.points.get(path))
            except RipdetectError as exc:
                raise user_error(f"Could not read {Path(path).name}: {exc.reason}", exc) from None
            caption = f"**{Path(path).name}**: {self.caption(session, path)}"
        return session, gallery, shown, caption, session.describe()

    @staticmethod
    def caption(session: LabelSession, path: str) -> str:
        label = session.labels.get(path)
        return {"rip": "rip", "no_rip": "no rip", None: "not labelled"}[label]

    def shown(self, path: str, point: tuple[float, float] | None) -> np.ndarray:
        """The frame at display size, with the clicked rip point (in the stored file's pixels) drawn."""
        image = resize_long_side(self.app.predictor.load(path), SHOWN_SIDE).copy()
        if point is not None:
            scale = max(image.shape[:2]) / max(stored_size(path))
            centre = (round(point[0] * scale), round(point[1] * scale))
            cv2.circle(image, centre, max(6, image.shape[1] // 60), (255, 60, 40), 3, cv2.LINE_AA)
        return image

    def select(self, session: LabelSession, index: int):
        return self.views(replace(session, current=int(index)))

    def label(self, session: LabelSession, label: str):
        """Label the frame shown (``rip``, ``no_rip``, or ``skip``) and move to the next one not labelled."""
        if not session.frames:
            raise user_error("Load or upload frames first.")
        path = session.frames[session.current]
        labels, points = dict(session.labels), dict(session.points)
        if label == "skip":
            labels.pop(path, None)
        else:
            labels[path] = label
        if label != "rip":
            points.pop(path, None)
        session = replace(session, labels=labels, points=points)
        return self.views(replace(session, current=session.next_unlabelled()))

    def click(self, session: LabelSession, x: float, y: float):
        """A click on the frame shown marks where the rip is (and labels the frame rip)."""
        if not session.frames:
            raise user_error("Load or upload frames first.")
        path = session.frames[session.current]
        height, width = self.app.predictor.load(path).shape[:2]  # what is shown comes from this (capped at max_side)
        scale = max(stored_size(path)) / min(SHOWN_SIDE, max(height, width))  # points are in the stored file's pixels
        points = {**session.points, path: (x * scale, y * scale)}
        return self.views(replace(session, labels={**session.labels, path: "rip"}, points=points))

    def labels_csv(self, session: LabelSession, folder: Path) -> Path:
        """The labels as ``ripdetect adapt`` reads them: ``path,label,box``."""
        rows = []
        for path, label in session.labels.items():
            box = ""
            if label == "rip" and path in session.points:
                width, height = stored_size(path)
                half = POINT_BOX * width
                x, y = session.points[path]
                box = " ".join(str(round(v)) for v in (max(0, x - half), max(0, y - half), min(width, x + half),
                                                        min(height, y + half)))
            rows.append({"path": path, "label": label, "box": box})
        return records.write_csv(folder / "labels.csv", rows, LABEL_FIELDS)

    def adapt(self, session: LabelSession, camera: str, strength: float, progress=None):
        """Adapt the loaded model to the labelled frames -> (the before/after (Markdown), its table, the adapted
        checkpoint, the labels file)."""
        base = self.app.predictor.checkpoint
        if base.path and Path(base.path).suffix.lower() == ".onnx":
            raise user_error("Adapting needs the app to run a PyTorch checkpoint (.safetensors), not an ONNX model.")
        camera = camera_name((camera or "").strip() or "camera")
        folder = self.app.results.new("adapt")
        try:
            labels_path = self.labels_csv(session, folder)
            labels = read_camera_labels(labels_path)
            check_enough(labels, "the labels")
            threshold = applied_threshold(None, base.threshold)
            config = replace(self.adapt_config, strength=strength)
            own = replace(base, model=copy.deepcopy(base.model))  # requests keep using the app's model
            model, report = adapt_camera(own, labels, config, threshold,
                                         progress=(lambda what, share: progress(share, desc=what)) if progress else None)
            out = save_adapted(folder / f"{camera}.adapted.safetensors", own, model, labels, camera, config, report,
                               threshold)
        except RipdetectError as exc:
            self.app.results.remove(folder)
            raise user_error(f"Could not adapt: {exc.reason}", exc) from None
        except BaseException:
            self.app.results.remove(folder)
            raise
        self.app.results.ready(folder)
        text, table = adapt_report(report)
        return text, table, str(out), str(labels_path)
