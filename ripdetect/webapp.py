"""The Gradio app: layout first, then wiring. Handlers are a few lines over ``ripdetect``; the model is
loaded once when the app is built, never at import. Every event has an ``api_name`` (stable HTTP API)."""

from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ripdetect.config import CAM_METHODS, InferenceConfig, VideoConfig
from ripdetect.errors import RipdetectError

DISCLAIMER = ("**Not a swim / no-swim tool.** ripdetect flags likely rip currents in camera images to support "
              "trained lifeguards and researchers. It does not measure rip strength, can miss rips, and can "
              "raise false alarms. Always follow local lifeguard advice and beach signage.")


@dataclass
class AppLimits:
    max_video_s: float = 600.0
    max_video_mb: float = 200.0
    max_batch: int = 50


class RipApp:
    """Handlers bound to one loaded Predictor."""

    def __init__(self, model_path: str | None = None, limits: AppLimits | None = None,
                 samples_dir: str | Path | None = None):
        from ripdetect.predict import Predictor

        self.predictor = Predictor(model_path)
        self.limits = limits or AppLimits()
        self.samples_dir = Path(samples_dir) if samples_dir else None

    def _predictor(self, threshold: float | None, cam_method: str = "gradcam", cam_threshold: float = 0.5):
        return self.predictor.with_config(InferenceConfig(threshold=threshold, cam_method=cam_method,
                                                          cam_threshold=cam_threshold))

    def predict_image(self, image_path: str | None, threshold: float, cam_method: str, cam_threshold: float,
                      opacity: float):
        """-> (label dict, overlay, region mask, JSON details as text: the ``ripdetect predict`` object)."""
        import gradio as gr

        if not image_path:
            raise gr.Error("Please upload an image first.")
        try:
            predictor = self._predictor(threshold, cam_method, cam_threshold)
            image_rgb = predictor.load(image_path)
            prediction = predictor.predict_image(image_rgb)
        except RipdetectError as exc:
            raise gr.Error(f"Could not analyse {Path(image_path).name}: {exc.reason}") from None
        overlay = predictor.render(image_rgb, prediction, opacity)
        mask_view = (image_rgb * 0.25).astype(np.uint8)
        if prediction.region is not None:
            mask_view[prediction.region.mask] = (255, 80, 40)
        labels = {"rip": prediction.prob_rip, "no rip": 1 - prediction.prob_rip}
        return labels, overlay, mask_view, json.dumps(prediction.to_json(Path(image_path).name), indent=1)

    def predict_video(self, video_path: str | None, sample_fps: float, window_s: float, on_threshold: float,
                      cam_threshold: float, progress=None):
        """-> (annotated mp4, timeline png, summary png, events rows, [timeline.csv, summary.json])."""
        import gradio as gr

        from ripdetect.video import probe
        from ripdetect.video_report import process_video

        if not video_path:
            raise gr.Error("Please upload a video first.")
        name = Path(video_path).name
        size_mb = Path(video_path).stat().st_size / 1e6
        if size_mb > self.limits.max_video_mb:
            raise gr.Error(f"{name} is {size_mb:.0f} MB; the limit is {self.limits.max_video_mb:.0f} MB.")
        try:
            info = probe(video_path)
            if info.duration_s > self.limits.max_video_s:
                raise gr.Error(f"{name} lasts {info.duration_s:.0f} s; the limit is {self.limits.max_video_s:.0f} s.")
            out_dir = Path(tempfile.mkdtemp(prefix="ripdetect-video-")) / Path(video_path).stem
            on_frame = None
            if progress is not None and info.duration_s:
                on_frame = lambda t, p: progress(min(t / info.duration_s, 1.0), desc=f"{t:.0f}/{info.duration_s:.0f} s")  # noqa: E731
            config = VideoConfig(sample_fps=sample_fps, window_s=window_s, on_threshold=on_threshold)
            summary = process_video(video_path, self._predictor(on_threshold, cam_threshold=cam_threshold), config,
                                    out_dir, on_frame)
        except RipdetectError as exc:
            raise gr.Error(f"Could not analyse {name}: {exc.reason}") from None
        events = [[e["start_s"], e["end_s"], e["duration_s"], e["peak_prob"], e["mean_prob"]] for e in summary["events"]]
        return (str(out_dir / "annotated.mp4"), str(out_dir / "timeline.png"), str(out_dir / "summary.png"), events,
                [str(out_dir / "timeline.csv"), str(out_dir / "summary.json")])

    def predict_batch(self, files: list[str] | None, threshold: float):
        """-> (gallery of (overlay, caption), results CSV)."""
        import gradio as gr

        if not files:
            raise gr.Error("Please upload one or more images.")
        if len(files) > self.limits.max_batch:
            raise gr.Error(f"{len(files)} files uploaded; the limit is {self.limits.max_batch}.")
        predictor = self._predictor(threshold)
        gallery, rows = [], []
        for path, image_rgb, result in predictor.predict_paths(files):
            if isinstance(result, RipdetectError):
                rows.append({"file": path.name, "label": "", "prob_rip": "", "error": result.reason})
                continue
            gallery.append((predictor.render(image_rgb, result), f"{path.name}: {result.label} {result.prob_rip:.2f}"))
            rows.append({"file": path.name, "label": result.label, "prob_rip": round(result.prob_rip, 5), "error": ""})
        csv_path = Path(tempfile.mkdtemp(prefix="ripdetect-batch-")) / "ripdetect_batch.csv"
        with open(csv_path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["file", "label", "prob_rip", "error"])
            writer.writeheader()
            writer.writerows(rows)
        return gallery, str(csv_path)

    def model_card(self) -> str:
        meta = self.predictor.checkpoint.metadata
        config = self.predictor.model_config
        metrics = meta.get("metrics") or {}
        shown = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float))
        card = meta.get("model_card", {})
        return "\n".join([
            "## Model card",
            f"- **Model**: `{self.predictor.checkpoint.model_id}` ({config.arch}, input {config.input_size} px, "
            f"{config.num_classes}-logit head)",
            f"- **Decision threshold**: {self.predictor.checkpoint.threshold:.3f} (chosen on validation)",
            f"- **Training data**: {card.get('training_data', 'see the training config in the checkpoint')}",
            f"- **Validation metrics** (held-out set, n={metrics.get('n', '?')}): {shown or 'not recorded'}",
            f"- **ripdetect version**: {meta.get('library_version', '?')}, created {meta.get('created', '?')}",
            "", "## Limits", DISCLAIMER,
        ])


def _friendly_upload(component, what: str):
    """Make ``component``'s upload decoding fail with a ``gr.Error`` a person understands. Gradio passes
    ``gr.Error`` through unchanged but wraps anything else in a technical message. The instance's
    ``preprocess`` is wrapped rather than subclassed, because Gradio writes a ``.pyi`` stub beside every
    component subclass, which fails in a read-only install."""
    import gradio as gr

    original = component.preprocess

    def preprocess(payload):
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 - any decoder failure becomes one readable message
            name = getattr(payload, "orig_name", None) or Path(str(getattr(payload, "path", "upload"))).name
            raise gr.Error(f"Could not read {name}: not {what}, or the file is corrupt or unsupported.") from None

    component.preprocess = preprocess
    return component


def _examples(folder: Path | None, suffixes: tuple[str, ...]) -> list[str]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in suffixes)


def build_demo(app: RipApp):
    import gradio as gr

    threshold = round(app.predictor.checkpoint.threshold, 3)
    with gr.Blocks(title="ripdetect") as demo:
        gr.Markdown("# ripdetect: rip-current detection\nUpload a beach-camera frame or clip. " + DISCLAIMER)
        with gr.Tab("Image"):
            with gr.Row():
                with gr.Column():
                    image_in = _friendly_upload(gr.Image(type="filepath", label="Beach image", elem_id="image-in",
                                                         sources=["upload", "clipboard", "webcam"]), "an image")
                    image_threshold = gr.Slider(0, 1, threshold, step=0.01, label="Decision threshold")
                    cam_method = gr.Dropdown(list(CAM_METHODS), value="gradcam", label="CAM method")
                    cam_threshold = gr.Slider(0.05, 0.95, 0.5, step=0.05, label="Region threshold (fraction of max)")
                    opacity = gr.Slider(0, 1, 0.45, step=0.05, label="Overlay opacity")
                    image_button = gr.Button("Detect rips", variant="primary", elem_id="image-button")
                with gr.Column():
                    label_out = gr.Label(label="Result", elem_id="image-label")
                    overlay_out = gr.Image(label="Heatmap and region", elem_id="image-overlay")
                    mask_out = gr.Image(label="Region mask")
                    json_out = gr.Code(language="json", label="Details (same object as ripdetect predict)",
                                       elem_id="image-details")
            if _examples(app.samples_dir, (".jpg", ".png")):
                gr.Examples(_examples(app.samples_dir, (".jpg", ".png")), inputs=image_in)
        with gr.Tab("Video"):
            with gr.Row():
                with gr.Column():
                    video_in = _friendly_upload(gr.Video(label="Beach-camera clip", sources=["upload"],
                                                         elem_id="video-in"), "a video")
                    sample_fps = gr.Slider(0.5, 10, 2, step=0.5, label="Frames analysed per second")
                    window = gr.Slider(1, 60, 10, step=1, label="Aggregation window (s)")
                    video_threshold = gr.Slider(0, 1, threshold, step=0.01, label="Rip threshold (on)")
                    video_cam_threshold = gr.Slider(0.05, 0.95, 0.5, step=0.05, label="Region threshold")
                    video_button = gr.Button("Analyse clip", variant="primary", elem_id="video-button")
                with gr.Column():
                    video_out = gr.Video(label="Annotated clip", elem_id="video-out")
                    timeline_out = gr.Image(label="Timeline")
                    summary_out = gr.Image(label="Time-averaged rip locations")
                    events_out = gr.Dataframe(headers=["start_s", "end_s", "duration_s", "peak_prob", "mean_prob"],
                                              label="Events")
                    files_out = gr.File(label="Downloads (CSV, JSON)", file_count="multiple")
            if _examples(app.samples_dir, (".mp4",)):
                gr.Examples(_examples(app.samples_dir, (".mp4",)), inputs=video_in)
        with gr.Tab("Batch"):
            batch_in = gr.File(label="Images", file_count="multiple", file_types=["image"], elem_id="batch-in")
            batch_threshold = gr.Slider(0, 1, threshold, step=0.01, label="Decision threshold")
            batch_button = gr.Button("Analyse all", variant="primary", elem_id="batch-button")
            gallery_out = gr.Gallery(label="Overlays", columns=4)
            batch_csv = gr.File(label="Results CSV")
        with gr.Tab("About"):
            gr.Markdown(app.model_card())

        def run_video(video, fps, win, thr, cam_thr, progress=gr.Progress()):
            return app.predict_video(video, fps, win, thr, cam_thr, progress)

        image_button.click(app.predict_image, [image_in, image_threshold, cam_method, cam_threshold, opacity],
                           [label_out, overlay_out, mask_out, json_out], api_name="predict_image")
        video_button.click(run_video, [video_in, sample_fps, window, video_threshold, video_cam_threshold],
                           [video_out, timeline_out, summary_out, events_out, files_out], api_name="predict_video")
        batch_button.click(app.predict_batch, [batch_in, batch_threshold], [gallery_out, batch_csv],
                           api_name="predict_batch")
    return demo


def launch(model_path: str | None = None, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
           limits: AppLimits | None = None, block: bool = True, concurrency: int = 2,
           samples_dir: str | Path | None = None):
    """Build and start the app; returns the demo (non-blocking when ``block=False``)."""
    app = RipApp(model_path, limits, samples_dir)
    demo = build_demo(app)
    demo.queue(default_concurrency_limit=concurrency, max_size=64)
    max_mb = (limits or AppLimits()).max_video_mb
    demo.launch(server_name=host, server_port=port, share=share, max_file_size=f"{max_mb:.0f}mb", show_error=True,
                prevent_thread_lock=not block, quiet=False)
    return demo

