"""The Gradio layout, then its wiring: every event has an ``api_name`` (a stable HTTP API). Nothing heavy
happens at import; the model is loaded once when the app is built.

Uploads are ``gr.File`` components: Gradio passes the file through untouched and ripdetect decodes it. Result
images and clips carry their own banner above the picture, so their component labels are hidden (a label would
cover the banner's first words); galleries show whole images."""

from __future__ import annotations

import atexit
from pathlib import Path

from ripdetect.app.camera_handlers import CameraHandlers
from ripdetect.app.camera_layout import cameras_tab, profile_tab, teach_tab
from ripdetect.app.cameras import CameraBoard
from ripdetect.app.handlers import DISCLAIMER, RipApp
from ripdetect.app.teach import TeachHandlers
from ripdetect.cameras.profiles import load_profiles
from ripdetect.config import AppLimits
from ripdetect.data.images import IMAGE_EXTENSIONS
from ripdetect.errors import ConfigError, require_extra
from ripdetect.video.io import VIDEO_EXTENSIONS

CSS = """
#batch-gallery, #batch-gallery .grid-wrap { height: auto !important; max-height: none !important; }
#batch-gallery .grid-wrap { overflow-y: visible !important; }
#batch-gallery img { object-fit: contain !important; }
#batch-gallery .caption-label { white-space: normal !important; overflow-wrap: anywhere; text-overflow: clip; }
"""  # the batch gallery grows with its images instead of scrolling them out of sight; long file names wrap


def _examples(folder: Path | None, suffixes: tuple[str, ...]) -> list[str]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in suffixes)


def build_demo(app: RipApp, board: CameraBoard | None = None):
    """The page; with ``board`` (``--cameras`` and ``--watch-dir``), a Cameras tab too."""
    gr = require_extra("gradio", "app", "the web app")

    threshold = app.predictor.threshold  # already at the 2 decimals every threshold is used and shown with
    camera_handlers = CameraHandlers(app, board)
    # Gradio's own copies of uploads and results are deleted as ours are: checked every 10 minutes, gone once older
    # than the results' time to live
    with gr.Blocks(title="ripdetect", delete_cache=(600, int(app.limits.result_ttl_s))) as demo:
        gr.Markdown("# ripdetect: rip-current detection\nUpload a beach-camera frame or clip. " + DISCLAIMER)
        with gr.Tab("Image"):
            with gr.Row():
                with gr.Column():
                    image_in = gr.File(label="Beach image", file_types=list(IMAGE_EXTENSIONS), elem_id="image-in")
                    photo = gr.Image(label="Photo", interactive=False, format="jpeg", elem_id="image-photo")
                    image_threshold = gr.Slider(0, 1, threshold, step=0.01, label="Decision threshold",
                                                elem_id="image-threshold")
                    cam_method = gr.Dropdown(list(app.predictor.backend.cam_methods), value="gradcam",
                                             label="Map method (how the heat map is computed)")
                    cam_threshold = gr.Slider(0.05, 0.95, 0.5, step=0.05,
                                              label="Region threshold (share of the map's peak)")
                    opacity = gr.Slider(0, 1, 0.45, step=0.05, label="Overlay opacity")
                    image_map = gr.Checkbox(False, label="Show map for no-rip")
                    image_button = gr.Button("Detect rips", variant="primary", elem_id="image-button")
                with gr.Column():
                    verdict_html = gr.HTML(elem_id="image-verdict")
                    overlay_out = gr.Image(label="Overlay", show_label=False, format="png", elem_id="image-overlay")
                    summary_out = gr.Markdown(label="Summary", elem_id="image-summary")
                    details_out = gr.File(label="Details (JSON, same object as ripdetect predict)",
                                          elem_id="image-details")
                    with gr.Accordion("Decision for machines", open=False):
                        decision_out = gr.JSON(label="Decision", elem_id="image-decision")
            if _examples(app.samples_dir, (".jpg", ".png")):
                gr.Examples(_examples(app.samples_dir, (".jpg", ".png")), inputs=image_in)
        with gr.Tab("Video"):
            with gr.Row():
                with gr.Column():
                    video_in = gr.File(label="Beach-camera clip", file_types=list(VIDEO_EXTENSIONS), elem_id="video-in")
                    upload_info = gr.Markdown(elem_id="video-upload-info")
                    preview = gr.Video(label="Uploaded clip", interactive=False, elem_id="video-preview")
                    sample_fps = gr.Slider(0.5, 10, 2, step=0.5, label="Frames analysed per second")
                    window = gr.Slider(1, 60, 10, step=1, label="Aggregation window (s)")
                    video_threshold = gr.Slider(0, 1, app.predictor.video_threshold, step=0.01,
                                                label="Rip threshold (on)")
                    video_cam_threshold = gr.Slider(0.05, 0.95, 0.5, step=0.05, label="Region threshold")
                    video_map = gr.Checkbox(False, label="Show map for no-rip")
                    video_flow = gr.Checkbox(False, label="Show how the water moves (seaward flow as arrows)",
                                             elem_id="video-flow")
                    video_button = gr.Button("Analyse clip", variant="primary", elem_id="video-button")
                with gr.Column():
                    verdict_out = gr.Markdown(label="Verdict", elem_id="video-verdict")
                    video_out = gr.Video(label="Annotated clip", show_label=False, elem_id="video-out")
                    timeline_out = gr.Image(label="Timeline", show_label=False, format="png", elem_id="video-timeline")
                    summary_image_out = gr.Image(label="Time-averaged rip locations", show_label=False, format="png",
                                                 elem_id="video-summary")
                    events_out = gr.Dataframe(headers=["start_s", "end_s", "duration_s", "peak_prob", "mean_prob"],
                                              label="Events", elem_id="video-events")
                    files_out = gr.File(label="Downloads (CSV, JSON)", file_count="multiple")
            if _examples(app.samples_dir, (".mp4",)):
                gr.Examples(_examples(app.samples_dir, (".mp4",)), inputs=video_in)
        with gr.Tab("Batch"):
            batch_in = gr.File(label="Images", file_count="multiple", file_types=list(IMAGE_EXTENSIONS),
                               elem_id="batch-in")
            batch_threshold = gr.Slider(0, 1, threshold, step=0.01, label="Decision threshold")
            batch_map = gr.Checkbox(False, label="Show map for no-rip")
            batch_button = gr.Button("Analyse all", variant="primary", elem_id="batch-button")
            gallery_out = gr.Gallery(label="Overlays", show_label=False, columns=3, object_fit="contain",
                                     fit_columns=False, elem_id="batch-gallery")
            not_analysed_out = gr.Dataframe(headers=["file", "reason"], label="Files not analysed",
                                            elem_id="batch-not-analysed")
            batch_csv = gr.File(label="Results CSV")
        if board is not None:
            cameras_tab(gr, camera_handlers)
        profile_tab(gr, camera_handlers, threshold)
        teach_tab(gr, TeachHandlers(app, board.watch_dir if board else None),
                  [p.name for p in board.profiles] if board else [])
        with gr.Tab("About"):
            gr.Markdown(app.model_card())

        def predict_video(video_path, sample_fps, window_s, on_threshold, cam_threshold, show_map, show_flow,
                          progress=gr.Progress()):
            return app.predict_video(video_path, sample_fps, window_s, on_threshold, cam_threshold, show_map,
                                     show_flow, progress)

        image_outputs = [verdict_html, decision_out, overlay_out, summary_out, details_out]
        image_button.click(app.predict_image,
                           [image_in, image_threshold, cam_method, cam_threshold, opacity, image_map],
                           image_outputs, api_name="predict_image")
        image_in.change(app.show_upload, image_in, [photo, *image_outputs], api_visibility="private")
        video_in.change(app.describe_upload, video_in, [upload_info, preview], api_visibility="private")
        video_button.click(predict_video,
                           [video_in, sample_fps, window, video_threshold, video_cam_threshold, video_map, video_flow],
                           [verdict_out, video_out, timeline_out, summary_image_out, events_out, files_out],
                           api_name="predict_video", show_progress_on=[verdict_out])
        gr.api(app.model_info, api_name="model_info")
        batch_button.click(app.predict_batch, [batch_in, batch_threshold, batch_map],
                           [gallery_out, not_analysed_out, batch_csv], api_name="predict_batch")
    return demo


def launch(model_path: str | None = None, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
           limits: AppLimits | None = None, block: bool = True, samples_dir: str | Path | None = None,
           cameras_path: str | Path | None = None, watch_dir: str | Path | None = None):
    """Build and start the app; returns the demo (non-blocking when ``block=False``). The request result
    folders are removed when the process exits. With ``cameras_path`` and ``watch_dir`` (a ``ripdetect watch``
    ``--out``), the Cameras tab shows those cameras."""
    import torch

    torch.set_flush_denormal(True)  # faster CPU inference (see ripdetect.inference.predictor)
    limits = limits or AppLimits()
    app = RipApp(model_path, limits, samples_dir)
    board = None
    if cameras_path is not None or watch_dir is not None:
        if cameras_path is None or watch_dir is None:
            raise ConfigError("the Cameras tab needs both --cameras FILE and --watch-dir DIR")
        board = CameraBoard(load_profiles(cameras_path), watch_dir)
    atexit.register(app.results.remove_all)
    demo = build_demo(app, board)
    demo.ripdetect_app = app  # the handlers, for whoever holds the demo (tests, embedding)
    demo.queue(default_concurrency_limit=limits.concurrency, max_size=64)
    demo.launch(server_name=host, server_port=port, share=share, max_file_size=f"{limits.max_upload_mb:.0f}mb",
                show_error=True, prevent_thread_lock=not block, quiet=True, css=CSS,
                allowed_paths=[str(Path(watch_dir).resolve())] if board is not None else None)
    print(f"ripdetect app: serving {demo.local_url} (Ctrl+C stops it; --share makes a public link)", flush=True)
    return demo
