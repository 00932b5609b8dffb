"""Handlers of the Cameras tab and the camera-profile editor: a few lines each over ``CameraBoard`` and
``profile_editor``, bound to the app's loaded model and its result folders."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ripdetect.app.cameras import CameraBoard
from ripdetect.app.handlers import RipApp, user_error
from ripdetect.app.profile_editor import RoiDraft, draw, profile_text, read_frame, read_upload
from ripdetect.cameras.profiles import CameraProfile
from ripdetect.config import InferenceConfig
from ripdetect.decision import prob_text
from ripdetect.errors import RipdetectError
from ripdetect.files import write_text

log = logging.getLogger(__name__)


class CameraHandlers:
    def __init__(self, app: RipApp, board: CameraBoard | None = None):
        self.app, self.board = app, board

    # the Cameras tab
    def cameras(self) -> list:
        """Per camera: status (Markdown), latest frame with its overlay, last events, today's timeline."""
        return self.app.results.filled("cameras", self.board.refresh)

    # the profile editor: (draft, drawn frame, description) after each step
    def frame(self, path: str | None, draft: RoiDraft):
        """-> (frame, drawn frame, description) for an uploaded photo or clip (its first frame)."""
        if not path:
            return None, None, draft.describe()
        try:
            frame_rgb = read_frame(path, self.app.predictor.load)
        except RipdetectError as exc:
            raise user_error(f"Could not read {Path(path).name}: {exc.reason}", exc) from None
        return frame_rgb, draw(frame_rgb, draft), draft.describe()

    def click(self, frame_rgb: np.ndarray | None, draft: RoiDraft, x: float, y: float):
        if frame_rgb is None:
            raise user_error("Upload a frame from the camera first.")
        draft = draft.add(x, y, frame_rgb.shape[1], frame_rgb.shape[0])
        return draft, draw(frame_rgb, draft), draft.describe()

    def edit(self, frame_rgb: np.ndarray | None, draft: RoiDraft, action: str):
        """``close`` the polygon being drawn, ``undo`` the last point or polygon, or ``clear`` everything."""
        try:
            draft = {"close": draft.close, "undo": draft.undo, "clear": RoiDraft}[action]()
        except RipdetectError as exc:
            raise user_error(exc.reason, exc) from None
        return draft, draw(frame_rgb, draft), draft.describe()

    def upload(self, path: str | None, name: str, source: str, frame_rgb: np.ndarray | None, draft: RoiDraft):
        """An ROI or profile file -> (draft, profile kept for its other settings, name, source, drawn, text)."""
        if not path:
            return draft, None, name, source, draw(frame_rgb, draft), draft.describe()
        try:
            draft, profile = read_upload(path, name)
        except RipdetectError as exc:
            raise user_error(f"Could not use {Path(path).name}: {exc.reason}", exc) from None
        if profile is not None:
            name, source = profile.name, profile.source
        return draft, profile, name, source, draw(frame_rgb, draft), draft.describe()

    def test(self, frame_rgb: np.ndarray | None, draft: RoiDraft, threshold: float):
        """-> (overlay, verdict): the frame analysed with the ROI (the evidence comes from the ROI alone)."""
        if frame_rgb is None:
            raise user_error("Upload a frame from the camera first.")
        predictor = self.app.predictor.with_config(InferenceConfig(threshold=threshold)).with_roi(draft.roi)
        prediction = predictor.predict_image(frame_rgb)
        area = "the whole frame" if draft.roi is None else "the region of interest"
        decision = prediction.decision
        text = f"**{decision.verdict}** · {prob_text(decision.prob_rip)} in {area} · threshold {decision.threshold:.2f}"
        return predictor.render(frame_rgb, prediction), text

    def download(self, name: str, source: str, draft: RoiDraft, base: CameraProfile | None,
                 threshold: float | None = None) -> str:
        """The camera's profile file (YAML), ready for ``ripdetect watch --cameras``, with the threshold tried."""
        try:
            text = profile_text(name, source, draft, base, threshold)
        except RipdetectError as exc:
            raise user_error(exc.reason, exc) from None
        file_name = f"{name.strip() or 'camera'}.yaml"
        return str(self.app.results.filled("profile", lambda folder: write_text(folder / file_name, text)))
