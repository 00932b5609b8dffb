"""Layout and wiring of the two camera tabs, built inside the app's ``gr.Blocks``:

- **Cameras** (when the app runs with ``--cameras FILE --watch-dir DIR``): per camera its state (clear /
  possible rip / RIP CURRENT / down), the latest frame with its overlay, its last events and today's timeline,
  refreshed every few seconds;
- **Camera profile**: a frame from the camera, a region of interest drawn on it point by point (or uploaded),
  tried on the frame, and the profile to download;
- **Teach a camera**: label the camera's frames (its labelling queue, or uploads), adapt the model to it, and read
  the before/after.
"""

from __future__ import annotations

from ripdetect.app.camera_handlers import CameraHandlers
from ripdetect.app.cameras import EVENT_HEADERS
from ripdetect.app.profile_editor import RoiDraft
from ripdetect.app.teach import LabelSession, TeachHandlers
from ripdetect.data.images import IMAGE_EXTENSIONS
from ripdetect.video.io import VIDEO_EXTENSIONS

REFRESH_S = 5.0


def cameras_tab(gr, handlers: CameraHandlers) -> None:
    outputs = []
    with gr.Tab("Cameras"):
        refresh = gr.Button("Refresh", elem_id="cameras-refresh")
        for profile in handlers.board.profiles:
            with gr.Group(elem_id=f"camera-{profile.name}"):
                status = gr.Markdown(f"### {profile.name}", elem_id=f"camera-{profile.name}-status")
                with gr.Row():
                    latest = gr.Image(label=f"{profile.name}: latest frame", show_label=False, format="jpeg")
                    timeline = gr.Image(label=f"{profile.name}: today", show_label=False, format="png")
                events = gr.Dataframe(headers=EVENT_HEADERS, label=f"{profile.name}: last events")
            outputs += [status, latest, events, timeline]
    refresh.click(handlers.cameras, None, outputs, api_name="cameras")
    gr.Timer(REFRESH_S).tick(handlers.cameras, None, outputs, api_visibility="private")


def profile_tab(gr, handlers: CameraHandlers, threshold: float) -> None:
    with gr.Tab("Camera profile"):
        frame = gr.State(None)
        draft = gr.State(RoiDraft())
        base = gr.State(None)
        with gr.Row():
            with gr.Column():
                frame_in = gr.File(label="A photo or clip from the camera",
                                   file_types=list(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS), elem_id="roi-frame-in")
                upload_in = gr.File(label="Or upload a region of interest or a profile (JSON, YAML)",
                                    file_types=[".json", ".yaml", ".yml"], elem_id="roi-upload")
                name = gr.Textbox(label="Camera name", value="camera-1", elem_id="roi-name")
                source = gr.Textbox(label="Source (file, folder, rtsp:// or http(s):// URL, /dev/video0)",
                                    elem_id="roi-source")
                with gr.Row():
                    close = gr.Button("Close polygon", elem_id="roi-close")
                    undo = gr.Button("Undo")
                    clear = gr.Button("Clear")
                roi_threshold = gr.Slider(0, 1, threshold, step=0.01, label="Decision threshold")
                test = gr.Button("Try the ROI on this frame", variant="primary", elem_id="roi-test")
                download = gr.Button("Make the profile", elem_id="roi-download")
                profile_out = gr.File(label="Profile (YAML)", elem_id="roi-profile")
            with gr.Column():
                gr.Markdown("Click on the frame to place the points of a polygon around the water, where rips can "
                            "be; **Close polygon** finishes it. Several polygons may be drawn.")
                drawn = gr.Image(label="Frame and region of interest", interactive=False, format="png",
                                 elem_id="roi-canvas", visible=False)  # shown once a frame is uploaded
                described = gr.Markdown(RoiDraft().describe(), elem_id="roi-text")
                overlay = gr.Image(label="Analysed with the ROI", show_label=False, format="png", visible=False)
                verdict = gr.Markdown(elem_id="roi-verdict")

    def on_click(frame_rgb, current, evt):
        return handlers.click(frame_rgb, current, *evt.index)

    on_click.__annotations__ = {"evt": gr.SelectData}  # Gradio passes the click to a parameter typed so
    # every click counts (a click while the last one is handled is queued, not dropped), and each edit sees the last
    in_turn = {"concurrency_limit": 1, "concurrency_id": "roi-editor", "trigger_mode": "multiple"}
    frame_in.change(handlers.frame, [frame_in, draft], [frame, drawn, described], api_name="roi_frame").then(
        lambda f: (gr.update(visible=f is not None), gr.update(visible=False)), frame, [drawn, overlay],
        api_visibility="private")  # no empty boxes before a frame; a new frame's result comes from its own test
    drawn.select(on_click, [frame, draft], [draft, drawn, described], api_visibility="private", **in_turn)
    for button, action in ((close, "close"), (undo, "undo"), (clear, "clear")):
        button.click(lambda f, d, a=action: handlers.edit(f, d, a), [frame, draft], [draft, drawn, described],
                     api_name=f"roi_{action}", **in_turn)
    upload_in.change(handlers.upload, [upload_in, name, source, frame, draft],
                     [draft, base, name, source, drawn, described], api_name="roi_upload")
    test.click(handlers.test, [frame, draft, roi_threshold], [overlay, verdict], api_name="roi_test").then(
        lambda: gr.update(visible=True), None, overlay, api_visibility="private")
    download.click(handlers.download, [name, source, draft, base, roi_threshold], profile_out, api_name="roi_profile")


def teach_tab(gr, handlers: TeachHandlers, cameras: list[str]) -> None:
    with gr.Tab("Teach a camera"):
        session = gr.State(LabelSession())
        gr.Markdown("Label a few dozen frames of one camera, from at least two days: calm ones teach it the camera's "
                    "normal, rips (click on the rip) keep what it knows of rips. **Adapt** then fits the model to the "
                    "camera and shows, day by held-out day, how it does against the model it started from.")
        with gr.Row():
            with gr.Column(scale=1):
                camera = gr.Dropdown(cameras, value=cameras[0] if cameras else None, allow_custom_value=True,
                                     label="Camera (its queue from ripdetect watch, when the app has --watch-dir)",
                                     elem_id="teach-camera")
                uploads = gr.File(label="Or upload frames of the camera", file_count="multiple",
                                  file_types=list(IMAGE_EXTENSIONS), elem_id="teach-uploads")
                load = gr.Button("Load frames", elem_id="teach-load")
                counts = gr.Markdown(LabelSession().describe(), elem_id="teach-counts")
                gallery = gr.Gallery(label="Frames", columns=3, height=320, allow_preview=False,
                                     elem_id="teach-gallery")
            with gr.Column(scale=2):
                caption = gr.Markdown(elem_id="teach-caption")
                shown = gr.Image(label="Click on the rip, or label the frame", interactive=False, format="jpeg",
                                 elem_id="teach-frame")
                with gr.Row():
                    rip = gr.Button("Rip", variant="stop", elem_id="teach-rip")
                    calm = gr.Button("No rip", elem_id="teach-calm")
                    skip = gr.Button("Unlabel / skip", elem_id="teach-skip")
        with gr.Row():
            strength = gr.Slider(0.1, 10, 1.0, step=0.1, label="Pull toward the base model (higher keeps more of it)")
            adapt = gr.Button("Adapt", variant="primary", elem_id="teach-adapt")
        with gr.Row():
            report = gr.Markdown(elem_id="teach-report")
            table = gr.Dataframe(headers=["", "base model", "adapted"], label="Held-out days: before and after",
                                 elem_id="teach-table")
        with gr.Row():
            model_out = gr.File(label="Adapted model (.safetensors: set it as the camera's model:)",
                                elem_id="teach-model")
            labels_out = gr.File(label="Labels (CSV, for ripdetect adapt)")

    views = [session, gallery, shown, caption, counts]
    load.click(handlers.load, [session, camera, uploads], views, api_visibility="private")

    def on_pick(current, evt):
        return handlers.select(current, evt.index)

    def on_point(current, evt):
        return handlers.click(current, *evt.index)

    for listener in (on_pick, on_point):  # Gradio passes the click to a parameter typed so
        listener.__annotations__ = {"evt": gr.SelectData}
    gallery.select(on_pick, [session], views, api_visibility="private")
    shown.select(on_point, [session], views, api_visibility="private")
    for button, label in ((rip, "rip"), (calm, "no_rip"), (skip, "skip")):
        button.click(lambda s, a=label: handlers.label(s, a), [session], views, api_visibility="private")

    def run_adapt(current, camera_name, pull, progress=gr.Progress()):
        return handlers.adapt(current, camera_name, pull, progress)

    adapt.click(run_adapt, [session, camera, strength], [report, table, model_out, labels_out],
                api_visibility="private", show_progress_on=[report])
