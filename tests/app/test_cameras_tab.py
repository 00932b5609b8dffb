"""The app's camera tabs: the Cameras tab over a real ``ripdetect watch`` folder (handlers, and the HTTP API of a
running app), and the profile editor from clicks to a profile file that ``ripdetect watch`` reads."""

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import FAST_VIDEO, free_port, two_cameras, write_png

gr = pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def watched(tmp_path_factory, stills, toy_checkpoint):
    """Two cameras watched to the end of their clips (one with a rip), and a third the watcher saw go down."""
    from ripdetect.cameras.database import STATE_NAME, StateStore
    from ripdetect.cameras.profiles import load_profiles
    from ripdetect.cameras.watch import Watcher

    root = tmp_path_factory.mktemp("watched")
    two_cameras(root, stills, toy_checkpoint, rip_s=5,
                more=f"  - {{name: pier, source: 'http://127.0.0.1:9/none.mjpg', video: {FAST_VIDEO}}}\n")
    profiles = load_profiles(root / "cameras.yaml")
    Watcher(profiles[:2], root / "out", once=True).run()
    store = StateStore(root / "out" / STATE_NAME)
    store.set_status("pier", "down", "cannot open stream", 0.0)
    store.close()
    return root, profiles


@pytest.fixture(scope="module")
def handlers(watched, tiny_checkpoint):
    from ripdetect.app.camera_handlers import CameraHandlers
    from ripdetect.app.cameras import CameraBoard
    from ripdetect.app.handlers import RipApp

    root, profiles = watched
    app = RipApp(str(tiny_checkpoint))
    return CameraHandlers(app, CameraBoard(profiles, root / "out"))


@pytest.mark.slow
def test_cameras_tab_shows_each_camera_state_frame_events_and_today(handlers):
    views = handlers.cameras()
    north, south, pier = (views[i:i + 4] for i in range(0, 12, 4))
    assert north[0].startswith("### north: **✔ all files analysed**")  # no stale state word for a finished file
    assert "model: the embedded default" not in north[0] and "(the camera's own)" in north[0]
    assert Path(north[1]).name == "latest.jpg" and Path(north[3]).is_file()
    (event,) = north[2]  # one event: where in the file, its peak probability, and why no alert went out
    assert event[0].startswith("north.mp4 ") and event[0].endswith(" s") and event[2] > 0.9
    assert event[3] == "none: no alert channel configured"
    assert south[0].startswith("### south: **✔ all files analysed") and south[2] == []
    assert pier[0].startswith("### pier: **⚫ down**") and pier[1] is None and pier[3] is None
    assert "cannot open stream" in pier[0]


def test_profile_editor_from_clicks_to_a_profile_watch_reads(handlers, tmp_path, stills):
    from ripdetect.app.profile_editor import RoiDraft
    from ripdetect.cameras.profiles import load_profiles

    frame_path = write_png(tmp_path / "frame.png", stills["rip"])
    frame, drawn, text = handlers.frame(str(frame_path), RoiDraft())
    assert frame.shape == (224, 384, 3) and drawn.shape == frame.shape and "whole frame" in text
    draft = RoiDraft()
    for x, y in ((191.5, 0), (383, 0), (383, 223), (191.5, 223)):  # the right half, by its corner pixels
        draft, drawn, text = handlers.click(frame, draft, x, y)
    assert not np.array_equal(drawn, frame) and "4 points" in text
    draft, drawn, text = handlers.edit(frame, draft, "close")
    assert "1 polygon" in text and draft.polygons[0][0] == (0.5, round(0.5 / 224, 5))
    overlay, verdict = handlers.test(frame, draft, 0.35)
    assert verdict.startswith("**RIP CURRENT**") and "region of interest" in verdict and overlay.shape[1] == 384
    path = handlers.download("east-pier", "rtsp://192.0.2.7/stream", draft, None, 0.35)
    (profile,) = load_profiles(path)
    assert profile.name == "east-pier" and profile.live and profile.roi.polygons == draft.polygons
    assert profile.inference.threshold == 0.35  # the threshold tried is the one saved
    uploaded, base, name, source, _, _ = handlers.upload(path, "", "", frame, RoiDraft())
    assert uploaded.polygons == draft.polygons and (name, source) == ("east-pier", "rtsp://192.0.2.7/stream")
    assert handlers.edit(frame, draft, "undo")[0].polygons == () and handlers.edit(frame, draft, "clear")[0] == RoiDraft()
    with pytest.raises(gr.Error, match="a polygon needs at least 3 points; 1 placed"):
        handlers.edit(frame, RoiDraft().add(3, 4, 384, 224), "close")
    with pytest.raises(gr.Error, match="is not a camera name"):
        handlers.download("east pier", "x.mp4", draft, None)


@pytest.mark.parametrize("last_frame_age_s, word", [(5, "🟢 no rip"), (600, "⚫ down")])
def test_a_stream_camera_without_recent_frames_is_down_whatever_its_last_status(tmp_path, last_frame_age_s, word):
    """A watcher killed without a chance to record it (power cut, kill -9) leaves its cameras 'up'."""
    import time

    from ripdetect.app.cameras import CameraBoard
    from ripdetect.cameras.database import STATE_NAME, StateStore
    from ripdetect.cameras.profiles import load_profiles

    (tmp_path / "cameras.yaml").write_text("cameras:\n  - {name: pier, source: 'http://127.0.0.1:9/cam.mjpg'}\n")
    (tmp_path / "out").mkdir()
    store = StateStore(tmp_path / "out" / STATE_NAME)
    now = time.time()
    store.set_status("pier", "up", "640x360", now - 3600)
    store.add_frames([("pier", now - last_frame_age_s, 0.05, 0.05, "clear")])
    store.close()
    status = CameraBoard(load_profiles(tmp_path / "cameras.yaml"), tmp_path / "out").refresh(tmp_path)[0]
    assert status.startswith(f"### pier: **{word}**")
    assert ("is ripdetect watch running?" in status) == word.endswith("down")


def test_camera_tab_files_are_removed_after_their_time_to_live(watched, tiny_checkpoint):
    """The tab refreshes all day: each refresh's timeline images (and each downloaded profile) are cleared up."""
    import time

    from ripdetect.app.camera_handlers import CameraHandlers
    from ripdetect.app.cameras import CameraBoard
    from ripdetect.app.handlers import RipApp
    from ripdetect.app.profile_editor import RoiDraft
    from ripdetect.config import AppLimits

    root, profiles = watched
    app = RipApp(str(tiny_checkpoint), limits=AppLimits(result_ttl_s=1.0))
    handlers = CameraHandlers(app, CameraBoard(profiles, root / "out"))
    written = [Path(handlers.cameras()[3]), Path(handlers.download("north", "north.mp4", RoiDraft(), None))]
    assert all(path.is_file() for path in written) and len(app.results) == 2
    deadline = time.time() + 10
    while any(path.parent.exists() for path in written) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(path.parent.exists() for path in written) and len(app.results) == 0


@pytest.mark.slow
def test_app_started_with_cameras_serves_the_tab(watched, tiny_checkpoint):
    from gradio_client import Client

    from ripdetect.app.layout import launch

    root, _ = watched
    port = free_port()
    demo = launch(str(tiny_checkpoint), port=port, block=False, cameras_path=root / "cameras.yaml",
                  watch_dir=root / "out")
    try:
        labels = {c.get("props", {}).get("label") for c in demo.config["components"]}
        assert {"Cameras", "Camera profile"} <= labels
        views = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(api_name="/cameras")
        assert len(views) == 12 and views[0].startswith("### north") and views[4].startswith("### south")
        assert "**⚫ down**" in views[8] and len(views[2]["data"]) == 1 and Path(views[1]).suffix in (".jpg", ".jpeg")
    finally:
        demo.close()


def test_an_uploaded_profile_keeps_its_own_source_and_model(handlers, tmp_path):
    """Gradio hands the upload over as a copy in its own folder: the profile that comes back must still name the
    camera's source and model as its file wrote them, not paths in that folder."""
    from ripdetect.app.profile_editor import RoiDraft
    from ripdetect.cameras.profiles import load_profiles

    copy = tmp_path / "gradio-upload-copy"
    copy.mkdir()
    path = copy / "cams.yaml"
    path.write_text("cameras:\n  - {name: north, source: recordings/north.mp4, model: models/north.safetensors, "
                    "roi: [[[0, 0.4], [1, 0.4], [1, 1], [0, 1]]]}\n")
    draft, base, name, source, _, _ = handlers.upload(str(path), "north", "", None, RoiDraft())
    assert (name, source) == ("north", "recordings/north.mp4") and base.model == "models/north.safetensors"
    (profile,) = load_profiles(handlers.download(name, source, draft, base))
    downloaded = Path(handlers.download(name, source, draft, base)).read_text()
    assert "gradio-upload-copy" not in downloaded and "recordings/north.mp4" in downloaded
    assert "models/north.safetensors" in downloaded and profile.roi is not None
