"""App handlers called directly, and the HTTP API through gradio_client on a free local port."""

import json
import logging
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import ffmpeg_clip, free_port, make_scene, run_cli, write_clip, write_png

gr = pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def app(tiny_checkpoint):
    from ripdetect.app.handlers import RipApp
    from ripdetect.config import AppLimits

    app = RipApp(str(tiny_checkpoint), AppLimits(max_video_s=30, max_upload_mb=5, max_batch=3))
    yield app
    app.results.remove_all()


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    rng = np.random.default_rng(0)
    return str(write_png(tmp_path_factory.mktemp("img") / "beach.png", make_scene(rng, True, 90, 140)))


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory):
    return str(write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=2.0, fps=10))


def sixteen_bit_gray_png(path: Path) -> Path:
    """A 16-bit grayscale beach photo: values up to 65535, which an 8-bit conversion turns white."""
    gray = make_scene(np.random.default_rng(3), True, 90, 140).mean(axis=2)
    Image.fromarray(np.uint16(gray * 257)).save(path)
    assert Image.open(path).mode == "I;16"
    return path


def pixel_bomb_png(path: Path, side: int = 20_000) -> Path:
    """A tiny file whose header claims side x side pixels (400 Mpx)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_image_handler(app, image_path):
    from ripdetect.viz.draw import banner_height

    headline, decision, overlay, summary, details = app.predict_image(image_path, 0.0, "gradcam", 0.5, 0.5)
    record = json.loads(Path(details).read_text())
    assert ">RIP CURRENT<" in headline and "threshold 0.00" in headline and "beach.png" in headline
    assert decision == {"file": "beach.png", "label": "rip", "prob_rip": record["prob_rip"], "threshold": 0.0,
                        "verdict": "RIP CURRENT"}
    assert overlay.shape == (90 + banner_height(90), 140, 3)
    assert record["label"] == "rip" and record["region"] is not None and record["path"] == "beach.png"
    assert summary.startswith("**RIP CURRENT** · p = ") and "threshold 0.00" in summary
    assert "Region:" in summary and "exterior" not in summary  # compact, not the JSON
    headline_pp, decision_pp, _, summary_pp, details_pp = app.predict_image(image_path, 1.0, "gradcampp", 0.5, 0.5)
    record_pp = json.loads(Path(details_pp).read_text())
    assert record_pp["label"] == "no_rip" and record_pp["region"] is None and summary_pp.startswith("**no rip**")
    assert ">no rip<" in headline_pp and decision_pp["label"] == "no_rip"


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.45, 0.5, 0.55, 1.0])
def test_every_verdict_on_the_page_is_the_one_decision(app, image_path, threshold):
    """A p between the threshold and 0.5 once gave a 'no rip' headline beside a rip banner: now the headline, the
    decision, the summary and the details all read the library's one decision at the threshold in use."""
    headline, decision, _, summary, details = app.predict_image(image_path, threshold, "gradcam", 0.5, 0.5)
    record = json.loads(Path(details).read_text())
    is_rip = record["prob_rip"] >= threshold
    word = "RIP CURRENT" if is_rip else "no rip"
    assert f">{word}<" in headline and decision["verdict"] == word and summary.startswith(f"**{word}**")
    assert decision["label"] == record["label"] == ("rip" if is_rip else "no_rip")


def test_a_new_upload_shows_the_photo_and_clears_the_last_result(app, image_path, tmp_path):
    photo, headline, decision, overlay, summary, details = app.show_upload(image_path)
    assert photo.shape == (90, 140, 3) and (headline, decision, overlay, summary, details) == ("", None, None, "", None)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    photo, headline, *_ = app.show_upload(str(bad))
    assert photo is None and "Could not read notes.jpg" in headline


@pytest.mark.parametrize("content,message", [(b"", "empty"), (b"plain text", "not an image")])
def test_image_handler_bad_input_is_one_log_line_and_a_readable_error(app, tmp_path, caplog, content, message):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    with caplog.at_level(logging.DEBUG, logger="ripdetect.app"):
        with pytest.raises(gr.Error, match=f"Could not analyse bad.jpg: .*{message}") as info:
            app.predict_image(str(bad), 0.5, "gradcam", 0.5, 0.5)
    assert info.value.print_exception is False  # Gradio prints no traceback for it
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "bad.jpg" in warnings[0].getMessage() and "\n" not in warnings[0].getMessage()
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)  # the details, for debugging
    with pytest.raises(gr.Error, match="upload"):
        app.predict_image(None, 0.5, "gradcam", 0.5, 0.5)


@pytest.mark.parametrize("side,message", [
    (13_000, "image is 13000x13000 = 169,000,000 pixels, above the cap of 120,000,000"),
    (20_000, "image has 400,000,000 pixels, above the cap of 120,000,000"),  # Pillow itself refuses this one
])
def test_pixel_bomb_is_refused_with_the_cap(app, tmp_path, side, message):
    with pytest.raises(gr.Error, match=f"bomb.png: {message}"):
        app.predict_image(str(pixel_bomb_png(tmp_path / "bomb.png", side)), 0.5, "gradcam", 0.5, 0.5)


def test_video_handler(app, clip_path):
    calls = []
    verdict, video, timeline, summary, events, files = app.predict_video(clip_path, 5, 1, 0.0, 0.5,
                                                                         progress=lambda f, desc: calls.append(f))
    assert Path(video).exists() and Path(timeline).exists() and Path(summary).exists()
    assert events and len(events[0]) == 5 and len(files) == 2 and calls
    assert json.loads(Path(files[1]).read_text())["rip_detected"]
    assert verdict.startswith("**RIP CURRENT** · 1 event: 0.0–") and "on threshold 0.00" in verdict


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


def test_an_upload_the_browser_cannot_play_gets_a_playable_preview(app, tmp_path, clip_path):
    from ripdetect.video.container import read_container

    mp4v = ffmpeg_clip(tmp_path / "old_camera.mp4", 2, 10, "96x64", "-c:v", "mpeg4")
    line, preview = app.describe_upload(str(mp4v))
    assert line.startswith("**old_camera.mp4**: 2.0 s, 96x64, mpeg4") and "a copy made for the browser" in line
    facts = read_container(preview)
    assert facts.browser_playable and facts.codec == "h264" and facts.duration_s == pytest.approx(2.0, abs=0.1)
    line, same = app.describe_upload(clip_path)
    assert same == clip_path and "h264" in line and "converted" not in line
    text = tmp_path / "notes.mp4"
    text.write_text("not a clip")
    with pytest.raises(gr.Error, match="notes.mp4: not a video"):
        app.describe_upload(str(text))


def test_batch_handler_shows_bad_files_on_the_page(app, image_path, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("x")
    gallery, not_analysed, csv_path = app.predict_batch([image_path, str(bad)], 0.5)
    assert len(gallery) == 1 and gallery[0][1].endswith(" · beach.png")
    assert gallery[0][1].split(" p = ")[0] in ("RIP CURRENT", "no rip")
    assert not_analysed == [["bad.png", "not an image or unsupported format"]]
    lines = Path(csv_path).read_text().splitlines()
    assert lines[0] == "file,label,prob_rip,threshold,error" and "bad.png" in lines[2] and "not an image" in lines[2]
    with pytest.raises(gr.Error, match="limit is 3"):
        app.predict_batch([image_path] * 4, 0.5)


def test_result_folders_are_removed_after_their_time(tiny_checkpoint, image_path):
    from ripdetect.app.handlers import RipApp
    from ripdetect.config import AppLimits

    app = RipApp(str(tiny_checkpoint), AppLimits(result_ttl_s=1))
    details = Path(app.predict_image(image_path, 0.5, "gradcam", 0.5, 0.5)[4])
    assert details.exists() and len(app.results) == 1
    deadline = time.time() + 10
    while details.parent.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert not details.parent.exists() and len(app.results) == 0


def test_model_card_has_disclaimer(app):
    card = app.model_card()
    assert "tiny_cnn" in card and "Not a swim / no-swim tool" in card and "decides at p ≥ 0.50; in a video, an event starts when the mean" in card


@pytest.fixture(scope="module")
def server(tiny_checkpoint):
    from ripdetect.app.layout import launch
    from ripdetect.config import AppLimits

    port = free_port()
    demo = launch(str(tiny_checkpoint), port=port, block=False,
                  limits=AppLimits(max_video_s=60, max_upload_mb=50, result_ttl_s=2))
    yield f"http://127.0.0.1:{port}/", demo.ripdetect_app
    demo.close()


@pytest.mark.slow
def test_api_with_gradio_client(server, image_path, clip_path, capfd):
    from gradio_client import Client, handle_file

    url, app = server
    client = Client(url, verbose=False)
    headline, decision, overlay, summary, details = client.predict(handle_file(image_path), 0.0, "gradcam", 0.5,
                                                                   0.45, False, api_name="/predict_image")
    assert decision["label"] == "rip" and decision["verdict"] == "RIP CURRENT" and "RIP CURRENT" in headline
    assert Path(overlay).suffix == ".png" and Path(details).suffix == ".json"
    assert json.loads(Path(details).read_text())["label"] == "rip" and summary.startswith("**RIP CURRENT**")
    verdict, video, timeline, summary_png, events, files = client.predict(handle_file(clip_path), 5, 2, 0.0, 0.5,
                                                                          False, False, api_name="/predict_video")
    video_path = video["video"] if isinstance(video, dict) else video
    assert Path(video_path).suffix == ".mp4" and Path(video_path).exists() and events["data"]
    assert Path(timeline).suffix == ".png" and [Path(f).suffix for f in files] == [".csv", ".json"]
    gallery, not_analysed, csv_file = client.predict([handle_file(image_path)], 0.5, False, api_name="/predict_batch")
    assert len(gallery) == 1 and gallery[0]["caption"].endswith(" · beach.png") and not_analysed["data"] == []
    bad = Path(image_path).with_name("text.jpg")
    bad.write_text("hello")
    start = time.time()
    with pytest.raises(Exception, match="not an image"):
        client.predict(handle_file(str(bad)), 0.5, "gradcam", 0.5, 0.45, False, api_name="/predict_image")
    _, decision, *_ = client.predict(handle_file(image_path), 0.5, "gradcam", 0.5, 0.45, False,
                                     api_name="/predict_image")
    assert decision["label"] in ("rip", "no_rip") and time.time() - start < 120  # still up
    assert "Traceback" not in capfd.readouterr().err  # a handled error is one log line, not a traceback
    deadline = time.time() + 15
    while len(app.results) and time.time() < deadline:
        time.sleep(0.2)
    assert len(app.results) == 0  # every request's folder is gone once its response was served


@pytest.mark.slow
@pytest.mark.system
def test_api_decodes_uploads_like_the_cli(server, tiny_checkpoint, tmp_path):
    """A 16-bit grayscale PNG gives the CLI's probability (Gradio's own RGB conversion would white it out), and
    a pixel bomb is refused by ripdetect's cap before anything decodes it."""
    from gradio_client import Client, handle_file

    url, _ = server
    image = sixteen_bit_gray_png(tmp_path / "deep.png")
    cli = json.loads(run_cli("predict", image, "--model", tiny_checkpoint).stdout)
    client = Client(url, verbose=False)
    *_, details = client.predict(handle_file(str(image)), 0.5, "gradcam", 0.5, 0.45, False, api_name="/predict_image")
    assert json.loads(Path(details).read_text())["prob_rip"] == cli["prob_rip"]
    whited_out = np.asarray(Image.open(image).convert("RGB"))
    assert (whited_out == 255).mean() > 0.5  # what an 8-bit conversion makes of it: a different picture
    with pytest.raises(Exception, match="above the cap of 120,000,000"):
        client.predict(handle_file(str(pixel_bomb_png(tmp_path / "bomb.png"))), 0.5, "gradcam", 0.5, 0.45, False,
                       api_name="/predict_image")


def test_result_folders_count_down_only_once_the_results_are_ready():
    """A request slower than the time-to-live keeps the folder it is still writing into."""
    from ripdetect.app.results import ResultFolders

    folders = ResultFolders(ttl_s=0.2)
    folder = folders.new("video")
    time.sleep(0.5)
    assert folder.is_dir()  # still being written: no countdown yet
    folders.ready(folder)
    deadline = time.time() + 5
    while folder.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert not folder.exists() and len(folders) == 0


@pytest.mark.slow
@pytest.mark.system
def test_the_docs_api_example_runs_from_any_folder_and_prints_the_pages_verdict(server, tmp_path):
    """The Python block of docs/http-api.md, run as a user runs it (another folder, a fresh interpreter), against
    the running app: it prints the decision the page shows."""
    import re
    import subprocess
    import sys

    from tests.test_docs import ROOT

    url, _ = server
    code = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "http-api.md").read_text(), re.DOTALL).group(1)
    code = code.replace("http://127.0.0.1:7860/", url)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    import ast

    decision = ast.literal_eval(next(line for line in result.stdout.splitlines() if line.startswith("{'file'")))
    assert decision["file"] == "synthetic_rip_oblique.jpg" and decision["label"] in ("rip", "no_rip")
    assert decision["verdict"] == ("RIP CURRENT" if decision["label"] == "rip" else "no rip")
    assert decision["threshold"] == 0.5  # the model's own, as the page starts
