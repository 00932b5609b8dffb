"""Layout and wiring of the two camera tabs, built inside the app's ``gr.Blocks``:

- **Cameras** (when the app runs with ``--cameras FILE --watch-dir DIR``): per camera its state (clear /
  possible rip / RIP CURRENT / down), the latest frame with its overlay, its last events and today's timeline,
  refreshed every few seconds;
- **Camera profile**: a frame from the camera, a region of interest drawn on it point by point (or uploaded),
  tried on the frame, and the profile to download.
"""

from __future__ import annotations

from ripdetect.app.camera_handlers import CameraHandlers
from ripdetect.app.cameras import EVENT_HEADERS
from ripdetect.app.profile_editor import RoiDraft
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
                                 elem_id="roi-canvas")
                described = gr.Markdown(RoiDraft().describe(), elem_id="roi-text")
                overlay = gr.Image(label="Analysed with the ROI", show_label=False, format="png")
                verdict = gr.Markdown(elem_id="roi-verdict")

    def on_click(frame_rgb, current, evt):
        return handlers.click(frame_rgb, current, *evt.index)

    on_click.__annotations__ = {"evt": gr.SelectData}  # Gradio passes the click to a parameter typed so
    # every click counts (a click while the last one is handled is queued, not dropped), and each edit sees the last
    in_turn = {"concurrency_limit": 1, "concurrency_id": "roi-editor", "trigger_mode": "multiple"}
    frame_in.change(handlers.frame, [frame_in, draft], [frame, drawn, described], api_name="roi_frame")
    drawn.select(on_click, [frame, draft], [draft, drawn, described], api_visibility="private", **in_turn)
    for button, action in ((close, "close"), (undo, "undo"), (clear, "clear")):
        button.click(lambda f, d, a=action: handlers.edit(f, d, a), [frame, draft], [draft, drawn, described],
                     api_name=f"roi_{action}", **in_turn)
    upload_in.change(handlers.upload, [upload_in, name, source, frame, draft],
                     [draft, base, name, source, drawn, described], api_name="roi_upload")
    test.click(handlers.test, [frame, draft, roi_threshold], [overlay, verdict], api_name="roi_test")
    download.click(handlers.download, [name, source, draft, base], profile_out, api_name="roi_profile")
