"""A video result is reported only for the input, settings and model it was made from (provenance.json), every
input has its own folder, and an unusable --out gives error records instead of a traceback."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ripdetect.config import InferenceConfig, VideoConfig
from ripdetect.video.batch import run_batch
from tests.helpers import ffmpeg_clip, write_clip


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    from ripdetect.inference.predictor import Predictor

    return Predictor(tiny_checkpoint, InferenceConfig(batch_size=8))


def summary_of(item) -> dict:
    return json.loads((Path(item.output_dir) / "summary.json").read_text())


@pytest.mark.slow
def test_same_stem_other_extension_gets_its_own_folder_and_its_own_results(tmp_path, predictor):
    cam = tmp_path / "cam"
    cam.mkdir()
    long_clip = ffmpeg_clip(cam / "clip.mp4", 8, 5)
    short_clip = ffmpeg_clip(cam / "clip.avi", 3, 5, "96x64", "-c:v", "mjpeg")
    config = VideoConfig(write_video=False)
    items = list(run_batch([str(long_clip), str(short_clip)], tmp_path / "out", predictor, config))
    assert [Path(i.output_dir).name for i in items] == ["cam_clip_mp4", "cam_clip_avi"]
    assert [summary_of(i)["duration_s"] for i in items] == [pytest.approx(8, abs=0.01), pytest.approx(3, abs=0.01)]
    again = list(run_batch([str(long_clip), str(short_clip)], tmp_path / "out", predictor, config))
    assert [(i.status, i.duration_s) for i in again] == [("skipped", items[0].duration_s),
                                                         ("skipped", items[1].duration_s)]


@pytest.mark.slow
def test_a_folder_holding_another_inputs_results_is_left_alone(tmp_path, predictor):
    first = write_clip(tmp_path / "a" / "clip.mp4", seconds=2.0)
    (tmp_path / "b").mkdir()
    second = ffmpeg_clip(tmp_path / "b" / "clip.mp4", 5, 5)
    config = VideoConfig(write_video=False)
    [done_first] = run_batch([str(first)], tmp_path / "out", predictor, config)
    [done_second] = run_batch([str(second)], tmp_path / "out", predictor, config)
    assert Path(done_first.output_dir).name == "clip" and Path(done_second.output_dir).name == "clip_2"
    assert summary_of(done_first)["duration_s"] == pytest.approx(2.0) and done_second.duration_s == pytest.approx(5.0)
    [again] = run_batch([str(first)], tmp_path / "out", predictor, config)
    assert again.status == "skipped" and again.output_dir == done_first.output_dir


@pytest.mark.slow
def test_a_rerun_with_other_settings_model_or_input_redoes_the_input(tmp_path, predictor, tiny_checkpoint):
    import torch

    from ripdetect.inference.predictor import Predictor
    from ripdetect.models.checkpoint import load_checkpoint

    clip = write_clip(tmp_path / "beach.mp4", seconds=3.0)
    out = tmp_path / "out"
    [first] = run_batch([str(clip)], out, predictor, VideoConfig(sample_fps=2, write_video=False))
    assert first.status == "done" and first.note is None
    changed = VideoConfig(sample_fps=5, on_threshold=0.1, write_video=False)
    [redone] = run_batch([str(clip)], out, predictor, changed)
    assert redone.status == "done" and "video_config.sample_fps" in redone.note and "on_threshold" in redone.note
    summary = summary_of(redone)
    assert (summary["sample_fps"], summary["on_threshold"], summary["n_frames"]) == (5, 0.1, 15)
    [same] = run_batch([str(clip)], out, predictor, changed)
    assert same.status == "skipped" and same.note is None

    other = load_checkpoint(tiny_checkpoint)  # the same model id, other weights
    with torch.no_grad():
        other.model.head.bias += 1.0
    [other_model] = run_batch([str(clip)], out, Predictor(other, predictor.config), changed)
    assert other_model.status == "done" and "model.weights" in other_model.note

    os.utime(clip, ns=(time.time_ns(), time.time_ns() + 10**9))  # the input changed since
    [touched] = run_batch([str(clip)], out, Predictor(other, predictor.config), changed)
    assert touched.status == "done" and "input.mtime_ns" in touched.note
    provenance = json.loads((out / "beach" / "provenance.json").read_text())
    assert provenance["made_from"]["input"]["path"] == str(clip.resolve())
    assert provenance["made_from"]["video_config"]["sample_fps"] == 5


@pytest.mark.parametrize("kind", ["file", "read-only folder"])
def test_an_unusable_out_gives_an_error_record_per_input(cli, tmp_path, tiny_checkpoint, kind):
    clip = write_clip(tmp_path / "beach.mp4", seconds=1.0)
    if kind == "file":
        out = tmp_path / "results"
        out.write_text("a file the user keeps")
        expected = "is a file, not a folder"
    elif os.geteuid() == 0:
        out, expected = Path("/sys"), "cannot write output"  # root may write anywhere else; sysfs refuses
    else:
        out, expected = tmp_path / "locked", "cannot write output: Permission denied"
        out.mkdir()
        out.chmod(0o500)
    result = cli("video", clip, tmp_path / "missing.mp4", "--out", out, "--model", tiny_checkpoint)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert [line["path"] for line in lines] == [str(clip), str(tmp_path / "missing.mp4")]
    assert expected in lines[0]["error"] and lines[1]["error"] == "no such file"
    if kind == "file":
        assert out.read_text() == "a file the user keeps"


def _video(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ripdetect", "video", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_killed_batch_rerun_with_changed_settings_reports_nothing_stale_and_keeps_user_files(tmp_path,
                                                                                             tiny_checkpoint):
    clips = [write_clip(tmp_path / "a.mp4", seconds=2.0, fps=10)]  # quick to finish; b and c take a while
    clips += [ffmpeg_clip(tmp_path / f"{name}.mp4", seconds, 10) for name, seconds in (("b", 30), ("c", 60))]
    out = tmp_path / "out"
    mine = {out / "notes.txt": "my notes", out / "b.partial" / "keep.txt": "mine too", out / ".b.keep": "hidden"}
    for path, text in mine.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    process = _video(*clips, "--out", out, "--model", tiny_checkpoint, "--sample-fps", "10", "--batch-size", "1")
    deadline = time.time() + 120
    while not (out / "a" / ".done").exists() and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate()
    assert (out / "a" / ".done").exists(), stderr
    assert not (out / "c" / ".done").exists(), sorted(p.name for p in out.iterdir())  # killed midway

    process = _video(*clips, "--out", out, "--model", tiny_checkpoint, "--sample-fps", "2", "--on-threshold", "0.1",
                     "--no-video")
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["status"] for line in lines] == ["done", "done", "done"], lines  # a was finished: other settings
    assert "redone" in lines[0]["note"] and "video_config.sample_fps" in lines[0]["note"]
    for clip, line in zip(clips, lines):
        summary = json.loads((Path(line["output_dir"]) / "summary.json").read_text())
        assert (summary["sample_fps"], summary["on_threshold"]) == (2, 0.1) and summary["source"] == str(clip)
        assert not (Path(line["output_dir"]) / "annotated.mp4").exists()  # nothing left from the first settings
    for path, text in mine.items():
        assert path.read_text() == text, path
    assert not list(out.glob("*.ripdetect-partial")) and not list(out.glob("**/*.ripdetect-tmp*"))
