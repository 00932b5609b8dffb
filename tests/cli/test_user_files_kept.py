"""Nothing a user placed in an output folder is deleted or replaced unless they say --overwrite; temporary
names are ours alone."""

import json

import numpy as np

from tests.helpers import make_scene, write_clip, write_png


def test_video_keeps_the_users_files_in_out(cli, tmp_path, tiny_checkpoint):
    clip = write_clip(tmp_path / "beach.mp4", seconds=1.0)
    out = tmp_path / "out"
    mine = {out / "beach.partial" / "keep.txt": "a folder of mine", out / "beach" / "summary.json": '{"mine": 1}',
            out / "beach" / "notes.txt": "notes", out / "batch.csv.tmp": "old temp name", out / ".beach.done": "x"}
    for path, text in mine.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    refused = cli("video", clip, "--out", out, "--model", tiny_checkpoint)
    [line] = [json.loads(line) for line in refused.stdout.splitlines()]
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "holds summary.json, which ripdetect did not write" in line["error"] and "--overwrite" in line["error"]
    for path, text in mine.items():
        assert path.read_text() == text, path
    replaced = cli("video", clip, "--out", out, "--model", tiny_checkpoint, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads((out / "beach" / "summary.json").read_text())["n_frames"] == 2
    for path, text in mine.items():
        if path.name != "summary.json":
            assert path.read_text() == text, path


def test_video_refuses_a_batch_report_it_did_not_write(cli, tmp_path, tiny_checkpoint):
    clip = write_clip(tmp_path / "beach.mp4", seconds=1.0)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "batch.csv").write_text("my,own,table\n")
    result = cli("video", clip, "--out", tmp_path / "out", "--model", tiny_checkpoint)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "batch.csv: was not written by ripdetect video" in result.stderr and "--overwrite" in result.stderr
    assert (tmp_path / "out" / "batch.csv").read_text() == "my,own,table\n"


def test_predict_never_replaces_existing_overlays_without_overwrite(cli, tmp_path, tiny_checkpoint, rng):
    image = write_png(tmp_path / "a.png", make_scene(rng, True, 60, 90))
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "a_overlay.png").write_bytes(b"my picture")
    result = cli("predict", image, "--model", tiny_checkpoint, "--out", tmp_path / "o")
    record = json.loads(result.stdout)
    assert result.returncode == 1 and record["label"] in ("rip", "no_rip") and "prob_rip" in record
    assert "use --overwrite to replace it" in record["overlay_error"] and "overlay" not in record
    assert (tmp_path / "o" / "a_overlay.png").read_bytes() == b"my picture"
    again = cli("predict", image, "--model", tiny_checkpoint, "--out", tmp_path / "o", "--overwrite")
    assert again.returncode == 0 and (tmp_path / "o" / "a_overlay.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_with_an_unwritable_out_still_prints_every_prediction(cli, tmp_path, tiny_checkpoint, rng):
    images = [write_png(tmp_path / f"{name}.png", make_scene(rng, True, 60, 90)) for name in "ab"]
    (tmp_path / "o").write_text("a file, not a folder")
    result = cli("predict", *images, "--model", tiny_checkpoint, "--out", tmp_path / "o")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert [r["path"] for r in records] == [str(p) for p in images]
    assert all("prob_rip" in r and "is a file, not a folder" in r["overlay_error"] for r in records)


def test_synth_refuses_a_manifest_it_did_not_write(cli, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "manifest.csv").write_text("my,own,manifest\n")
    result = cli("synth", "--out", tmp_path / "s", "--n", "2", "--size", "96x64")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "manifest.csv: holds a manifest.csv that ripdetect synth did not write" in result.stderr
    assert "--overwrite" in result.stderr and (tmp_path / "s" / "manifest.csv").read_text() == "my,own,manifest\n"
    assert not (tmp_path / "s" / "rip").exists()


def test_temporary_names_are_hidden_unique_and_never_a_users_file(tmp_path):
    from ripdetect.files import temporary_sibling, write_image, write_json

    for name in ("x.png.tmp", "x.tmp.png", ".x.png.tmp", "x.json.tmp", "x.tmp"):
        (tmp_path / name).write_text("mine")
    first, second = temporary_sibling(tmp_path / "x.png"), temporary_sibling(tmp_path / "x.png")
    assert first != second and first.name.startswith(".x.") and first.name.endswith(".ripdetect-tmp.png")
    first.unlink()
    second.unlink()
    write_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.uint8))
    write_json(tmp_path / "x.json", {"a": 1})
    assert all((tmp_path / name).read_text() == "mine" for name in ("x.png.tmp", "x.tmp.png", ".x.png.tmp",
                                                                     "x.json.tmp", "x.tmp"))
    assert sorted(p.name for p in tmp_path.iterdir() if "ripdetect-tmp" in p.name) == []
