"""The app's handlers: a few lines each over the library, bound to one loaded Predictor. Gradio is imported
inside them, so the library never imports it.

Uploads arrive as files and are decoded by ripdetect's own decoder (``Predictor.load``: the pixel cap first,
then 16-bit, palette and EXIF handled as the CLI does), so an upload gets exactly the CLI's answer. A handled
failure is one WARNING line in the server log (the traceback only at DEBUG) and a readable message on the page.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from ripdetect.app.results import ResultFolders
from ripdetect.app.views import caption, decision_record, image_summary, verdict_html, video_verdict
from ripdetect.config import AppLimits, InferenceConfig, VideoConfig
from ripdetect.data.images import resize_long_side
from ripdetect.decision import NO_RIP_WORD, RIP_WORD
from ripdetect.errors import RipdetectError
from ripdetect.files import sample_path, write_json
from ripdetect.inference.backends import analysis_model
from ripdetect.inference.predictor import Predictor
from ripdetect.models.card import card_text
from ripdetect.records import write_csv
from ripdetect.video.container import make_preview, read_container
from ripdetect.video.io import probe
from ripdetect.video.process import process_video

log = logging.getLogger(__name__)
BATCH_FIELDS = ("file", "label", "prob_rip", "threshold", "error")
PREVIEW_SIDE = 960  # the uploaded photo as the page shows it, long side in pixels
DISCLAIMER = ("**Not a swim / no-swim tool.** ripdetect flags likely rip currents in camera images to support "
              "trained lifeguards and researchers. It does not measure rip strength, can miss rips, and can "
              "raise false alarms. Always follow local lifeguard advice and beach signage.")


def user_error(message: str, cause: BaseException | None = None):
    """A ``gr.Error`` for the page; the server log gets one WARNING line (the traceback only at DEBUG)."""
    import gradio as gr

    log.warning("%s", message)
    if cause is not None:
        log.debug("details of: %s", message, exc_info=cause)
    return gr.Error(message, print_exception=False)


class RipApp:
    """Handlers bound to one loaded Predictor."""

    def __init__(self, model_path: str | None = None, limits: AppLimits | None = None,
                 samples_dir: str | Path | None = None):
        self.predictor = Predictor(analysis_model(model_path))
        self.limits = limits or AppLimits()
        self.samples_dir = Path(samples_dir) if samples_dir else sample_path()
        self.results = ResultFolders(self.limits.result_ttl_s)

    def _predictor(self, **knobs) -> Predictor:
        """The loaded model with the request's ``InferenceConfig`` knobs (the rest at their defaults)."""
        return self.predictor.with_config(InferenceConfig(**knobs))

    def predict_image(self, image_path: str | None, threshold: float, cam_method: str, cam_threshold: float,
                      opacity: float, show_map: bool = False):
        """-> (the verdict headline (HTML), the decision (dict: file, label, prob_rip, threshold, verdict), overlay,
        compact details (Markdown), details JSON file: the ``ripdetect predict`` object). All from one decision."""
        if not image_path:
            raise user_error("Please upload an image first.")
        name = Path(image_path).name
        try:
            predictor = self._predictor(threshold=threshold, cam_method=cam_method, cam_threshold=cam_threshold,
                                        map_when_negative=show_map)
            image_rgb = predictor.load(image_path)
            prediction = predictor.predict_image(image_rgb)
        except RipdetectError as exc:
            raise user_error(f"Could not analyse {name}: {exc.reason}", exc) from None
        overlay = predictor.render(image_rgb, prediction, opacity)
        folder = self.results.new("image")
        details = write_json(folder / f"{Path(name).stem}_details.json", prediction.to_json(name))
        self.results.ready(folder)
        decision = prediction.decision
        return (verdict_html(decision, name), decision_record(decision, name), overlay, image_summary(prediction),
                str(details))

    def show_upload(self, image_path: str | None):
        """A new upload: the photo itself (decoded as the analysis will decode it), and every result of the last one
        cleared, so no verdict stands beside a file it was not made for."""
        cleared = ("", None, None, "", None)
        if not image_path:
            return (None, *cleared)
        try:
            image_rgb = self.predictor.load(image_path)
        except RipdetectError as exc:
            return (None, f"<div>Could not read {html.escape(Path(image_path).name)}: {html.escape(exc.reason)}</div>",
                    *cleared[1:])
        return (resize_long_side(image_rgb, PREVIEW_SIDE), *cleared)

    def describe_upload(self, video_path: str | None):
        """-> (a line naming the uploaded clip's duration, size and codec; a preview the browser can play: the
        upload itself, or the first ``preview_s`` seconds transcoded to H.264)."""

        if not video_path:
            return "", None
        name = Path(video_path).name
        facts = read_container(video_path)
        if facts is None:
            raise user_error(f"Could not read {name}: not a video, or an unsupported codec or container")
        line = f"**{name}**: {facts.describe()}"
        if facts.browser_playable:
            return line, video_path
        folder = self.results.new("preview")
        try:
            preview = make_preview(video_path, folder / "preview.mp4", self.limits.preview_s)
        except RipdetectError as exc:
            self.results.remove(folder)
            return f"{line} · no preview: {exc.reason}", None
        self.results.ready(folder)
        part = "" if facts.duration_s and facts.duration_s <= self.limits.preview_s else \
            f" (its first {self.limits.preview_s:g} s)"
        return (f"{line}\n\nBrowsers cannot play this clip's video format ({facts.codec}), so the preview below is a "
                f"copy made for the browser{part}; the analysis reads the original.", str(preview))

    def predict_video(self, video_path: str | None, sample_fps: float, window_s: float, on_threshold: float,
                      cam_threshold: float, show_map: bool = False, show_flow: bool = False, progress=None):
        """-> (verdict (Markdown), annotated mp4, timeline png, summary png, events rows,
        [timeline.csv, summary.json]). The clip is analysed up to ``max_video_s`` of *decoded* time; ``show_flow``
        measures the water's motion too and draws its seaward flow."""

        if not video_path:
            raise user_error("Please upload a video first.")
        name = Path(video_path).name
        size_mb = Path(video_path).stat().st_size / 1e6
        limit_s = self.limits.max_video_s
        if size_mb > self.limits.max_upload_mb:
            raise user_error(f"{name} is {size_mb:.0f} MB; the limit is {self.limits.max_upload_mb:.0f} MB.")
        folder = self.results.new("video")
        try:
            info = probe(video_path)
            if info.duration_s > limit_s:
                raise user_error(f"{name} lasts {info.duration_s:.0f} s; the limit is {limit_s:g} s.")
            on_frame = None
            if progress is not None:
                expected = info.duration_s or limit_s

                def on_frame(t: float, p: float) -> None:
                    progress(min(t / expected, 1.0), desc=f"{t:.0f} s analysed")
            config = VideoConfig(sample_fps=sample_fps, window_s=window_s, on_threshold=on_threshold,
                                 motion=bool(show_flow), show_flow=bool(show_flow))
            predictor = self._predictor(threshold=on_threshold, cam_threshold=cam_threshold,
                                        map_when_negative=show_map)
            out_dir = folder / "result"
            summary = process_video(video_path, predictor, config, out_dir, on_frame, max_duration_s=limit_s)
        except RipdetectError as exc:
            self.results.remove(folder)
            raise user_error(f"Could not analyse {name}: {exc.reason}", exc) from None
        except BaseException:
            self.results.remove(folder)
            raise
        self.results.ready(folder)
        events = [[e["start_s"], e["end_s"], e["duration_s"], e["peak_prob"], e["mean_prob"]]
                  for e in summary["events"]]
        annotated = str(out_dir / "annotated.mp4") if (out_dir / "annotated.mp4").exists() else None
        return (video_verdict(summary), annotated, str(out_dir / "timeline.png"), str(out_dir / "summary.png"),
                events, [str(out_dir / "timeline.csv"), str(out_dir / "summary.json")])

    def predict_batch(self, files: list[str] | None, threshold: float, show_map: bool = False):
        """-> (gallery of (overlay, caption), rows of [file, reason] for files not analysed, results CSV)."""
        if not files:
            raise user_error("Please upload one or more images.")
        if len(files) > self.limits.max_batch:
            raise user_error(f"{len(files)} files uploaded; the limit is {self.limits.max_batch}.")
        predictor = self._predictor(threshold=threshold, map_when_negative=show_map)
        gallery, rows, not_analysed = [], [], []
        for path, image_rgb, result in predictor.predict_paths(files):
            if isinstance(result, RipdetectError):
                log.warning("batch: %s: %s", path.name, result.reason)
                not_analysed.append([path.name, result.reason])
                rows.append({"file": path.name, "error": result.reason})
                continue
            gallery.append((predictor.render(image_rgb, result), caption(path.name, result)))
            rows.append({"file": path.name, **result.decision.to_dict(), "error": ""})
        folder = self.results.new("batch")
        csv_path = write_csv(folder / "ripdetect_batch.csv", rows, BATCH_FIELDS)
        self.results.ready(folder)
        return gallery, not_analysed, str(csv_path)

    def model_info(self) -> dict:
        """The loaded model as the HTTP API reads it: its id, and the thresholds the page starts with (the image
        decision's, and the on threshold of the video decision)."""
        return {"model_id": self.predictor.checkpoint.model_id, "threshold": self.predictor.threshold,
                "video_threshold": self.predictor.video_threshold}

    def model_card(self) -> str:
        """The About tab: the model card a coordinator can read, in sentences from the checkpoint's own records."""
        checkpoint = self.predictor.checkpoint
        meta, config = checkpoint.metadata, checkpoint.model_config
        text = card_text(meta)
        lines = [f"## {checkpoint.model_id}", "",
                 f"**What it does:** says whether a beach-camera frame shows a rip current ({RIP_WORD} or "
                 f"{NO_RIP_WORD}) and outlines where. It decides at p ≥ {self.predictor.threshold:.2f}; in a video, "
                 f"an event starts when the mean over the last seconds reaches {self.predictor.video_threshold:.2f}.",
                 "",
                 f"**What it learnt from:** {text.trained_on}", "", "### How well it does"]
        lines += [f"- {sentence}" for sentence in text.results] or ["- No cross-validated results are recorded in "
                                                                    "this checkpoint."]
        lines += ["", "### Limits"] + [f"- {limit}" for limit in text.limits] + ["", DISCLAIMER, "", "### Details",
                  f"- Model `{checkpoint.model_id}`: {config.arch}, input {config.input_size} px, decision threshold "
                  f"{self.predictor.threshold:.2f}, ripdetect {meta.get('library_version', '?')}, created "
                  f"{meta.get('created', '?')}"]
        lines.append(f"- The full model card: {text.docs}" if text.docs else
                     "- The full model card: `docs/model-card.md` in the repository (`bash run.sh docs` serves it)")
        return "\n".join(lines)
