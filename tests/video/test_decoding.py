"""Durations come from decoded timestamps; a source without timestamps is flagged as estimated, a decode that
stops before the end the container claims is flagged as partial, and the app stops at its limit of decoded
time whatever the container says. Clips are made with the ffmpeg that imageio-ffmpeg ships."""

import json
import logging

import pytest

from ripdetect.config import InferenceConfig, VideoConfig
from tests.helpers import ffmpeg_clip, run_cli


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    from ripdetect.inference.predictor import Predictor

    return Predictor(tiny_checkpoint, InferenceConfig(batch_size=8))


@pytest.mark.slow
@pytest.mark.parametrize("name,output_args,real_s", [
    ("one_fps.h264", ("-f", "h264"), 60.0),  # one frame per second: 60 s, but nothing in the file says so
    ("camera.mjpeg", ("-c:v", "mjpeg", "-f", "mjpeg"), 12.0),
])
def test_a_source_without_timestamps_has_an_estimated_duration(tmp_path, predictor, caplog, name, output_args,
                                                               real_s):
    from ripdetect.video.batch import run_batch

    fps = 1 if name.endswith(".h264") else 5
    source = ffmpeg_clip(tmp_path / name, real_s, fps, "96x64", *output_args)
    with caplog.at_level(logging.WARNING):
        [item] = run_batch([str(source)], tmp_path / "out", predictor, VideoConfig(write_video=False))
    summary = json.loads((tmp_path / "out" / source.stem / "summary.json").read_text())
    assert summary["duration_estimated"] is True and item.duration_estimated is True
    assert summary["duration_s"] == pytest.approx(real_s * fps / 25, abs=0.05)  # what 25 fps would give
    assert "duration estimated" in summary["warnings"][0] and "assume 25 fps" in summary["warnings"][0]
    assert any("duration estimated" in r.getMessage() and name in r.getMessage() for r in caplog.records)
    assert json.loads((tmp_path / "out" / "batch.json").read_text())[0]["duration_estimated"] is True


@pytest.mark.slow
def test_a_live_mkv_without_a_frame_count_is_timed_by_its_timestamps(tmp_path, predictor):
    from ripdetect.video.io import probe
    from ripdetect.video.process import process_video

    live = ffmpeg_clip(tmp_path / "live.mkv", 30, 2, "96x64", "-live", "1", "-f", "matroska")
    assert probe(live).duration_s == 0  # the container claims nothing
    summary = process_video(live, predictor, VideoConfig(write_video=False), tmp_path / "out")
    assert summary["duration_s"] == pytest.approx(30.0, abs=0.01)
    assert summary["duration_estimated"] is False and summary["partial_decode"] is False


def test_the_app_stops_at_its_limit_of_decoded_time(tmp_path, tiny_checkpoint):
    gr = pytest.importorskip("gradio")
    from ripdetect.app.handlers import RipApp
    from ripdetect.config import AppLimits

    app = RipApp(str(tiny_checkpoint), AppLimits(max_video_s=10))
    live = ffmpeg_clip(tmp_path / "live.mkv", 30, 2, "96x64", "-live", "1", "-f", "matroska")
    with pytest.raises(gr.Error, match=r"live.mkv: lasts longer than the limit of 10 s \(stopped after decoding "
                                       r"10 s"):
        app.predict_video(str(live), 2, 5, 0.5, 0.5)
    assert len(app.results) == 0  # the failed request left no folder behind


@pytest.mark.slow
@pytest.mark.system
def test_a_truncated_file_is_flagged_as_a_partial_decode(cli, tmp_path, tiny_checkpoint):
    full = ffmpeg_clip(tmp_path / "full.mp4", 20, 10, "96x64", "-movflags", "+faststart")  # index at the front
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    result = run_cli("video", cut, "--out", tmp_path / "out", "--model", tiny_checkpoint, "--no-video")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    summary = json.loads((tmp_path / "out" / "cut" / "summary.json").read_text())
    assert line["partial_decode"] is True and summary["partial_decode"] is True
    assert summary["claimed_duration_s"] == 20.0 and 3 < summary["duration_s"] < 15
    assert "partial decode" in summary["warnings"][0] and "cut.mp4" in result.stderr and "partial" in result.stderr
    assert json.loads((tmp_path / "out" / "batch.json").read_text())[0]["partial_decode"] is True
    whole = cli("video", full, "--out", tmp_path / "out", "--model", tiny_checkpoint, "--no-video")
    assert "partial_decode" not in json.loads(whole.stdout) and whole.returncode == 0
