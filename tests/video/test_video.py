import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ripdetect.config import InferenceConfig, VideoConfig
from ripdetect.errors import InputError
from ripdetect.video.io import VideoWriter, iter_frames, prefetch
from tests.helpers import run_cli, write_clip


@pytest.fixture
def predictor(tiny_checkpoint):
    from ripdetect.inference.predictor import Predictor

    return Predictor(tiny_checkpoint, InferenceConfig(batch_size=4))


def ffmpeg_codec(path: Path) -> str:
    import imageio_ffmpeg

    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                            text=True)
    line = next(line for line in result.stderr.splitlines() if "Video:" in line)
    return line.split("Video:")[1].split()[0]


@pytest.mark.parametrize("sample_fps,stride,expected",
                         [(2.0, None, 6), (5.0, None, 15), (None, 3, 10), (100, None, 30)])
def test_sampling(clip, sample_fps, stride, expected):
    frames = list(iter_frames(clip, sample_fps=sample_fps, stride=stride))
    assert len(frames) == expected
    times = [f.time_s for f in frames]
    assert times == sorted(times) and times[0] == pytest.approx(0.0)
    if sample_fps == 2.0:
        assert [f.index for f in frames] == [0, 5, 10, 15, 20, 25]


@pytest.mark.slow
def test_float_fps_and_downscale(tmp_path):
    path = write_clip(tmp_path / "ntsc.mp4", seconds=1.0, fps=29.97, size=(320, 240))
    from ripdetect.video.io import probe

    assert probe(path).fps == pytest.approx(29.97, abs=0.01)
    frame = next(iter_frames(path, max_side=160))
    assert frame.image_rgb.shape == (120, 160, 3)


def test_writer_makes_h264_and_leaves_nothing_on_error(tmp_path):
    path = write_clip(tmp_path / "ok.mp4", seconds=0.5)
    assert ffmpeg_codec(path) == "h264"
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "bad.mp4", 5) as writer:
            writer.write(np.zeros((32, 32, 3), np.uint8))
            raise RuntimeError("boom")
    assert not [p for p in tmp_path.iterdir() if p.name != "ok.mp4"]


def test_prefetch_propagates_errors_and_stops():
    def frames():
        yield 1
        yield 2
        raise InputError("decoder died", "x.mp4")

    got = []
    with pytest.raises(InputError, match="decoder died"):
        for item in prefetch(frames(), size=1):
            got.append(item)
    assert got == [1, 2]


def test_closing_the_consumer_stops_the_producer():
    import threading

    produced, finished = [], threading.Event()

    def frames():
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            finished.set()

    consumer = prefetch(frames(), size=2)
    assert [next(consumer) for _ in range(3)] == [0, 1, 2]
    consumer.close()
    assert finished.wait(5), "the producer's generator was not closed"
    assert len(produced) < 10 and not any(t.name == "ripdetect-decoder" and t.is_alive()
                                          for t in threading.enumerate())


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_text("not a video at all"), "not a video|no decodable"),
    (lambda p: p.write_bytes(Path(p.parent / "src.mp4").read_bytes()[:1500]), "no decodable|not a video"),
])
def test_bad_videos(tmp_path, clip, make, message):
    (tmp_path / "src.mp4").write_bytes(clip.read_bytes())
    bad = tmp_path / "bad.mp4"
    make(bad)
    with pytest.raises(InputError, match=message):
        list(iter_frames(bad))


def test_unreadable_stream_url():
    with pytest.raises(InputError, match="cannot open stream"):
        list(iter_frames("rtsp://127.0.0.1:9/none"))


@pytest.mark.slow
def test_process_video_outputs(clip, predictor, tmp_path):
    from ripdetect.video.process import OUTPUT_FILES, process_video
    from ripdetect.video.provenance import is_done

    config = VideoConfig(sample_fps=5, window_s=1, on_threshold=0.0, min_event_s=0.5)
    summary = process_video(clip, predictor, config, tmp_path / "out")
    for name in OUTPUT_FILES:
        assert (tmp_path / "out" / name).exists(), name
    assert is_done(tmp_path / "out") and not list(tmp_path.glob(".out.*"))  # no staging left behind
    assert summary["rip_detected"] and summary["n_frames"] == 15 and summary["clips"][0]["rip_detected"]
    timeline = json.loads((tmp_path / "out" / "timeline.json").read_text())
    assert set(timeline[0]) >= {"time_s", "frame", "prob_rip", "aggregated_prob", "state", "region_area",
                                "centroid_x", "centroid_y"}
    assert ffmpeg_codec(tmp_path / "out" / "annotated.mp4") == "h264"
    quiet = process_video(clip, predictor, VideoConfig(sample_fps=5, on_threshold=1.0, write_video=False),
                          tmp_path / "quiet")
    assert not quiet["rip_detected"] and not (tmp_path / "quiet" / "annotated.mp4").exists()


def test_stride_mode_duration_and_video_rate(clip, predictor, tmp_path):
    """Every 3rd frame of a 3 s, 10 fps clip: frames 0.3 s apart, so 3.0 s long and a 3.33 fps annotated video."""
    from ripdetect.video.io import probe
    from ripdetect.video.process import process_video

    summary = process_video(clip, predictor, VideoConfig(stride=3), tmp_path / "out")
    assert summary["n_frames"] == 10 and summary["duration_s"] == pytest.approx(3.0, abs=0.01)
    assert probe(tmp_path / "out" / "annotated.mp4").fps == pytest.approx(10 / 3, abs=0.01)


def test_clip_segments():
    from ripdetect.video.aggregate import Event
    from ripdetect.video.outputs import clip_segments

    rows = [{"time_s": t, "prob_rip": p} for t, p in [(0, 0.1), (50, 0.2), (70, 0.9), (130, 0.3)]]
    segments = clip_segments(rows, [Event(65, 80, 0.9, 0.9, 2)], 60, 140)
    assert [s["rip_detected"] for s in segments] == [False, True, False]
    assert segments[1]["max_prob"] == 0.9 and segments[0]["n_frames"] == 2


def test_batch_resumes_and_reports_errors(clip, predictor, tmp_path):
    from ripdetect.video.batch import run_batch

    bad = tmp_path / "broken.mp4"
    bad.write_text("nope")
    config = VideoConfig(sample_fps=2, write_video=False)
    items = list(run_batch([str(clip), str(bad)], tmp_path / "out", predictor, config))
    assert [i.status for i in items] == ["done", "error"] and "not a video" in items[1].error
    report = json.loads((tmp_path / "out" / "batch.json").read_text())
    assert len(report) == 2 and (tmp_path / "out" / "batch.csv").exists()
    again = list(run_batch([str(clip), str(bad)], tmp_path / "out", predictor, config))
    assert [i.status for i in again] == ["skipped", "error"]


def test_read_only_output_is_an_error_record(clip, predictor, tmp_path):
    from ripdetect.video.batch import process_one

    if os.geteuid() == 0:
        target = Path("/proc/ripdetect-cannot-write")  # root ignores chmod; /proc refuses writes
    else:
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o500)
        target = tmp_path / "ro" / "x"
    item = process_one(str(clip), target, predictor, VideoConfig(write_video=False))
    assert item.status == "error" and "cannot write" in item.error


def _video_cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "ripdetect", "video", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.slow
def test_cli_video_killed_run_resumes(tiny_checkpoint, tmp_path):
    long_clip = write_clip(tmp_path / "long.mp4", seconds=40, fps=10, size=(320, 240))
    out = tmp_path / "out"
    process = _video_cli(str(long_clip), "--out", str(out), "--model", str(tiny_checkpoint), "--sample-fps", "10",
                         "--batch-size", "1")
    deadline = time.time() + 60
    while not list(out.glob(".long.*.ripdetect-partial/.annotated.*")) and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "long" / ".done").exists()
    assert not (out / "long" / "summary.json").exists()
    process = _video_cli(str(long_clip), str(tmp_path / "missing.mp4"), "--out", str(out), "--model",
                         str(tiny_checkpoint), "--sample-fps", "1")
    stdout, stderr = process.communicate(timeout=300)
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert process.returncode == 1, stderr
    assert lines[0]["status"] == "done" and lines[1]["error"] == "no such file"
    assert (out / "long" / ".done").exists() and not list(out.glob(".long.*"))
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_batch_with_two_jobs_uses_the_callers_model(clip, tiny_checkpoint, tmp_path):
    """Workers get the caller's in-memory model (here with an edited head, saved nowhere), report frame
    progress, and give exactly the single-process results."""
    import torch

    from ripdetect.inference.predictor import Predictor
    from ripdetect.models.checkpoint import load_checkpoint
    from ripdetect.video.batch import run_batch

    checkpoint = load_checkpoint(tiny_checkpoint)
    with torch.no_grad():
        checkpoint.model.head.bias += torch.tensor([-1.5, 1.5])
    checkpoint.metadata["model_id"] = "edited-in-memory"
    predictor = Predictor(checkpoint, InferenceConfig(batch_size=4))
    second = tmp_path / "other" / "beach.mp4"
    second.parent.mkdir()
    second.write_bytes(clip.read_bytes())
    config = VideoConfig(sample_fps=2, write_video=False)
    inputs = [str(clip), str(second)]
    frames_seen: dict[str, int] = {}

    def factory(source):
        def on_frame(t, p):
            frames_seen[source] = frames_seen.get(source, 0) + 1
        return on_frame

    parallel = {i.input: i for i in run_batch(inputs, tmp_path / "par", predictor, config, jobs=2,
                                              on_frame_factory=factory)}
    serial = {i.input: i for i in run_batch(inputs, tmp_path / "ser", predictor, config)}
    assert [parallel[s].status for s in inputs] == ["done", "done"]
    assert len({i.output_dir for i in parallel.values()}) == 2  # same stem, distinct folders
    assert frames_seen == {s: 6 for s in inputs}
    for source in inputs:
        par = json.loads((Path(parallel[source].output_dir) / "summary.json").read_text())
        ser = json.loads((Path(serial[source].output_dir) / "summary.json").read_text())
        assert par["model_id"] == "edited-in-memory" and par["max_prob"] == ser["max_prob"]
        assert par["mean_prob"] == ser["mean_prob"] and par["max_prob"] > 0.8


@pytest.mark.slow
@pytest.mark.system
def test_cli_video_off_threshold_above_model_threshold(tiny_checkpoint, clip, tmp_path):
    result = run_cli("video", clip, "--out", tmp_path / "o", "--model", tiny_checkpoint, "--off-threshold", "0.9")
    assert result.returncode == 2 and "must not exceed the on threshold" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()
