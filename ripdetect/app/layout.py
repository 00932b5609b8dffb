"""The Gradio layout, then its wiring: every event has an ``api_name`` (a stable HTTP API). Nothing heavy
happens at import; the model is loaded once when the app is built."""

from __future__ import annotations

from pathlib import Path

from ripdetect.app.handlers import DISCLAIMER, RipApp
from ripdetect.config import CAM_METHODS, AppLimits


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
           limits: AppLimits | None = None, block: bool = True, samples_dir: str | Path | None = None):
    """Build and start the app; returns the demo (non-blocking when ``block=False``)."""
    import torch

    torch.set_flush_denormal(True)  # faster CPU inference (see ripdetect.inference.predictor)
    limits = limits or AppLimits()
    app = RipApp(model_path, limits, samples_dir)
    demo = build_demo(app)
    demo.queue(default_concurrency_limit=limits.concurrency, max_size=64)
    demo.launch(server_name=host, server_port=port, share=share, max_file_size=f"{limits.max_upload_mb:.0f}mb",
                show_error=True, prevent_thread_lock=not block, quiet=False)
    return demo

