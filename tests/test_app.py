"""App handlers called directly, and the HTTP API through gradio_client on a free local port."""

import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import make_scene, write_clip, write_png

gr = pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def app(tiny_checkpoint):
    from ripdetect.app.handlers import RipApp
    from ripdetect.config import AppLimits

    return RipApp(str(tiny_checkpoint), AppLimits(max_video_s=30, max_upload_mb=5, max_batch=3))


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    rng = np.random.default_rng(0)
    return str(write_png(tmp_path_factory.mktemp("img") / "beach.png", make_scene(rng, True, 90, 140)))


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory):
    return str(write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=2.0, fps=10))


def test_image_handler(app, image_path):
    labels, overlay, mask, details = app.predict_image(image_path, 0.0, "gradcam", 0.5, 0.5)
    details = json.loads(details)
    assert set(labels) == {"rip", "no rip"} and labels["rip"] == pytest.approx(1 - labels["no rip"])
    assert overlay.shape == (90, 140, 3) and mask.shape == (90, 140, 3)
    assert details["label"] == "rip" and details["region"] is not None and details["path"] == "beach.png"
    details_pp = json.loads(app.predict_image(image_path, 1.0, "gradcampp", 0.5, 0.5)[3])
    assert details_pp["label"] == "no_rip" and details_pp["region"] is None


@pytest.mark.parametrize("content,message", [(b"", "empty"), (b"plain text", "not an image")])
def test_image_handler_bad_input_gives_gr_error(app, tmp_path, content, message):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    with pytest.raises(gr.Error, match=message):
        app.predict_image(str(bad), 0.5, "gradcam", 0.5, 0.5)
    with pytest.raises(gr.Error, match="upload"):
        app.predict_image(None, 0.5, "gradcam", 0.5, 0.5)


def test_video_handler(app, clip_path):
    calls = []
    video, timeline, summary, events, files = app.predict_video(clip_path, 5, 1, 0.0, 0.5,
                                                                progress=lambda f, desc: calls.append(f))
    assert Path(video).exists() and Path(timeline).exists() and Path(summary).exists()
    assert events and len(events[0]) == 5 and len(files) == 2 and calls
    assert json.loads(Path(files[1]).read_text())["rip_detected"]


def test_video_handler_limits_and_corrupt(app, tmp_path, clip_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_text("no video here")
    with pytest.raises(gr.Error, match="corrupt.mp4.*not a video"):
        app.predict_video(str(corrupt), 2, 10, 0.5, 0.5)
    long_clip = write_clip(tmp_path / "long.mp4", seconds=31, fps=2, size=(64, 64))
    with pytest.raises(gr.Error, match="limit is 30 s"):
        app.predict_video(str(long_clip), 2, 10, 0.5, 0.5)
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * 6_000_000)
    with pytest.raises(gr.Error, match="limit is 5 MB"):
        app.predict_video(str(big), 2, 10, 0.5, 0.5)


def test_batch_handler(app, image_path, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("x")
    gallery, csv_path = app.predict_batch([image_path, str(bad)], 0.5)
    assert len(gallery) == 1
    lines = Path(csv_path).read_text().splitlines()
    assert lines[0] == "file,label,prob_rip,error" and "bad.png" in lines[2] and "not an image" in lines[2]
    with pytest.raises(gr.Error, match="limit is 3"):
        app.predict_batch([image_path] * 4, 0.5)


def test_model_card_has_disclaimer(app):
    card = app.model_card()
    assert "tiny_cnn" in card and "Not a swim / no-swim tool" in card and "threshold" in card


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_checkpoint):
    from ripdetect.app.layout import launch
    from ripdetect.config import AppLimits

    port = free_port()
    demo = launch(str(tiny_checkpoint), port=port, block=False, limits=AppLimits(max_video_s=60, max_upload_mb=50))
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_api_with_gradio_client(server, image_path, clip_path):
    from gradio_client import Client, handle_file

    client = Client(server, verbose=False)
    labels, overlay, mask, details = client.predict(handle_file(image_path), 0.0, "gradcam", 0.5, 0.45,
                                                    api_name="/predict_image")
    assert {c["label"] for c in labels["confidences"]} == {"rip", "no rip"}
    assert json.loads(details)["label"] == "rip" and Path(overlay).exists()
    video, timeline, summary, events, files = client.predict(handle_file(clip_path), 5, 2, 0.0, 0.5,
                                                             api_name="/predict_video")
    video_path = video["video"] if isinstance(video, dict) else video
    assert Path(video_path).suffix == ".mp4" and Path(video_path).exists() and events["data"]
    bad = Path(image_path).with_name("text.jpg")
    bad.write_text("hello")
    start = time.time()
    with pytest.raises(Exception, match="not an image"):
        client.predict(handle_file(str(bad)), 0.5, "gradcam", 0.5, 0.45, api_name="/predict_image")
    labels, *_ = client.predict(handle_file(image_path), 0.5, "gradcam", 0.5, 0.45, api_name="/predict_image")
    assert labels["label"] in ("rip", "no rip") and time.time() - start < 120  # still up
