"""Input arguments: every argument that yields nothing is an error record, our own outputs are never read
back as inputs, and a permission problem is called one."""

import json

import numpy as np
import pytest
from PIL import Image

from ripdetect.data.inputs import expand_inputs
from ripdetect.errors import InputError
from tests.helpers import call_without_root, make_scene, write_clip, write_png


def test_files_folders_and_globs_in_order_without_repeats(tmp_path):
    for name in ("a.jpg", "b.png", "sub/c.jpeg", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = expand_inputs([str(tmp_path), str(tmp_path / "*.jpg"), str(tmp_path / "notes.txt")])
    assert [p.name for p in found] == ["a.jpg", "b.png", "c.jpeg", "notes.txt"]  # a.jpg once; named files kept


@pytest.mark.parametrize("argument,message", [
    ("missing.jpg", "no such file"),
    ("*.nothing", "no files match this pattern"),
    ("x.jpg", "folder contains no supported files"),  # a folder that happens to be named like an image
])
def test_an_argument_that_yields_nothing_is_an_error_in_its_place(tmp_path, argument, message):
    (tmp_path / "x.jpg").mkdir()
    (tmp_path / "x.jpg" / "notes.txt").write_text("no images here")
    write_png(tmp_path / "good.png", np.zeros((8, 8, 3), np.uint8))
    found = expand_inputs([str(tmp_path / "good.png"), str(tmp_path / argument)])
    assert found[0] == tmp_path / "good.png" and isinstance(found[1], InputError)
    assert found[1].path == str(tmp_path / argument) and message in found[1].reason


def test_own_temporary_files_and_skipped_folders_are_not_inputs(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    write_png(tmp_path / ".a.x1y2.ripdetect-tmp.png", np.zeros((8, 8, 3), np.uint8))
    write_png(tmp_path / ".out.abcd1234.ripdetect-partial" / "f.png", np.zeros((8, 8, 3), np.uint8))
    write_png(tmp_path / "results" / "r.png", np.zeros((8, 8, 3), np.uint8))
    found = expand_inputs([str(tmp_path)], skip=lambda p: p.name == "results")
    assert [p.name for p in found] == ["a.png"]


def test_cli_predict_reports_each_empty_argument(cli, tiny_checkpoint, tmp_path, rng):
    good = write_png(tmp_path / "a.png", make_scene(rng, True, 60, 90))
    (tmp_path / "x.jpg").mkdir()
    result = cli("predict", good, tmp_path / "cams" / "*.png", tmp_path / "x.jpg", "--model", tiny_checkpoint)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert lines[0]["label"] in ("rip", "no_rip")
    assert lines[1] == {"path": str(tmp_path / "cams" / "*.png"), "error": "no files match this pattern"}
    assert lines[2]["path"] == str(tmp_path / "x.jpg") and "folder contains no supported files" in lines[2]["error"]


def test_predict_out_inside_the_input_folder_is_not_read_back(cli, tiny_checkpoint, tmp_path, rng):
    write_png(tmp_path / "in" / "a.png", make_scene(rng, True, 60, 90))
    for _ in range(2):
        result = cli("predict", tmp_path / "in", "--model", tiny_checkpoint, "--out", tmp_path / "in" / "o",
                         "--overwrite")
        assert result.returncode == 0, result.stderr
        assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == [str(tmp_path / "in" / "a.png")]


def test_video_out_inside_the_input_folder_is_not_read_back(cli, tiny_checkpoint, tmp_path):
    clips = tmp_path / "clips"
    write_clip(clips / "beach.mp4", seconds=1.0)
    for run in range(2):
        result = cli("video", clips, "--out", clips / "results", "--model", tiny_checkpoint, "--sample-fps", "2")
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(line["path"], line["status"]) for line in lines] == [(str(clips / "beach.mp4"),
                                                                      "done" if run == 0 else "skipped")]
    assert sorted(p.name for p in (clips / "results").iterdir()) == ["batch.csv", "batch.json", "beach"]


def _load(path):
    from ripdetect.data.images import load_image_rgb

    return load_image_rgb(path)


def _open_video(path):
    from ripdetect.video.io import probe

    return probe(path)


@pytest.mark.slow
def test_permission_denied_is_called_so(open_folder, clip):
    image = open_folder / "locked.png"
    Image.new("RGB", (8, 8)).save(image)
    video = open_folder / "locked.mp4"
    video.write_bytes(clip.read_bytes())
    for path in (image, video):
        path.chmod(0o000)
    with pytest.raises(InputError, match="permission denied"):
        call_without_root(_load, image)
    with pytest.raises(InputError, match="permission denied"):
        call_without_root(_open_video, video)
