"""``ripdetect adapt`` on a tiny camera: its calm frames show a dark pier in the surf that the base model takes for
a rip; a few labelled days teach it the pier (false alarms on held-out days drop, the rips are still caught), and
what cannot teach anything is refused in one line with the base model and the profile untouched."""

import csv
import json

import numpy as np
import pytest

from ripdetect.files import file_digest
from tests.helpers import TOY_GAP_X, TOY_GAP_Y, write_png

FAST = ("--views", "3", "--composites", "0", "--replay", "0", "--strength", "0.1")


def pier_frame(calm: np.ndarray, seed: int) -> np.ndarray:
    """The camera's calm frame with its pier: a dark post through the surf band, smaller than a rip's gap."""
    rng = np.random.default_rng(seed)
    frame = calm.astype(np.float32) + rng.normal(0, 3, calm.shape)
    height, width = calm.shape[:2]
    x0 = int(width * 0.2)
    y0, y1 = int(height * TOY_GAP_Y[0]), int(height * TOY_GAP_Y[1])
    frame[y0:y1, x0:x0 + int(width * (TOY_GAP_X[1] - TOY_GAP_X[0]) * 0.7)] = (10, 30, 50)
    return np.clip(frame, 0, 255).astype(np.uint8)


def rip_frame(rip: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rip.astype(np.float32) + rng.normal(0, 3, rip.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def camera(tmp_path, stills):
    """Three days of one camera: four pier (calm) frames and one rip each, listed in labels.csv with their day. The
    toy model's features are few, so its held-out days keep a false alarm or two after adapting."""
    rows = []
    for day in range(3):
        for i in range(5):
            rip = i == 4
            image = rip_frame(stills["rip"], day * 10 + i) if rip else pier_frame(stills["calm"], day * 10 + i)
            path = write_png(tmp_path / "frames" / f"day{day}_{i}.png", image)
            rows.append({"path": f"frames/{path.name}", "label": "rip" if rip else "no_rip", "day": f"day {day}"})
    with open(tmp_path / "labels.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "day"])
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def test_adapt_teaches_the_camera_its_pier(cli, camera, toy_checkpoint):
    before = cli("predict", camera / "frames" / "day0_0.png", "--model", toy_checkpoint)
    assert json.loads(before.stdout)["label"] == "rip"  # the base model takes the pier for a rip
    result = cli("adapt", "--labels", camera / "labels.csv", "--model", toy_checkpoint, "--out",
                 camera / "adapted.safetensors", *FAST)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["before_after"]
    assert report["days"] == 3 and report["frames"] == 15 and report["rips"] == 3
    base, adapted = report["base"], report["adapted"]
    assert base["false_alarms"] >= 6 and adapted["false_alarms"] <= base["false_alarms"] // 2  # on held-out days
    assert adapted["rips_caught"] == base["rips_caught"] == 3
    assert f"the adapted model caught 3 of 3 rips and raised {adapted['false_alarms']} false alarm(s)" in report["sentence"]
    pier = json.loads(cli("predict", camera / "frames" / "day2_1.png", "--model", camera / "adapted.safetensors").stdout)
    rip = json.loads(cli("predict", camera / "frames" / "day2_4.png", "--model", camera / "adapted.safetensors").stdout)
    assert pier["label"] == "no_rip" and rip["label"] == "rip"
    from ripdetect.models.checkpoint import read_metadata

    adapted = read_metadata(camera / "adapted.safetensors")
    assert adapted["model_id"] == f"{camera.name}-adapted-toy-dark-gap" and adapted["adapted"]["base_model"] == "toy-dark-gap"


def test_adapt_writes_the_camera_profile_and_keeps_a_copy(cli, camera, toy_checkpoint):
    profile = camera / "cameras.yaml"
    profile.write_text(f"cameras:\n  - {{name: pier-cam, source: pier.mp4, model: {toy_checkpoint}}}\n")
    original = profile.read_text()
    result = cli("adapt", "--cameras", profile, "--camera", "pier-cam", "--labels", camera / "labels.csv", *FAST)
    assert result.returncode == 0, result.stderr
    from ripdetect.cameras.profiles import load_profiles

    (loaded,) = load_profiles(profile)
    assert loaded.model.endswith("pier-cam.adapted.safetensors")
    assert (camera / "cameras.before-adapt.yaml").read_text() == original


@pytest.mark.parametrize("change, message", [
    (lambda rows: rows[:4], "too few to say anything about this camera"),
    (lambda rows: [r for r in rows if r["label"] == "rip"] * 3, "every frame is labelled rip"),
    (lambda rows: [{**r, "day": "day 0"} for r in rows], "every frame is from one day"),
    (lambda rows: rows[:-1] + [{**rows[-1], "label": "maybe"}], "unknown label 'maybe'"),
    (lambda rows: rows + [{"path": "frames/small.png", "label": "no_rip", "day": "day 1"}], "small.png is 40x30"),
])
def test_labels_that_cannot_teach_are_one_line_and_nothing_is_lost(cli, camera, toy_checkpoint, change, message):
    write_png(camera / "frames" / "small.png", np.zeros((30, 40, 3), np.uint8))
    with open(camera / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(camera / "bad.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "day"])
        writer.writeheader()
        writer.writerows(change(rows))
    profile = camera / "cameras.yaml"
    profile.write_text(f"cameras:\n  - {{name: pier-cam, source: pier.mp4, model: {toy_checkpoint}}}\n")
    digest, original = file_digest(toy_checkpoint), profile.read_text()
    result = cli("adapt", "--cameras", profile, "--camera", "pier-cam", "--labels", camera / "bad.csv", *FAST)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert "bad.csv" in result.stderr
    assert file_digest(toy_checkpoint) == digest and profile.read_text() == original
    assert not (camera / "pier-cam.adapted.safetensors").exists() and not (camera / "cameras.before-adapt.yaml").exists()
