"""Camera profiles and regions of interest: validation that names the camera and the field, the ROI as the
model's evidence gate (map, regions and decision), and the same profile in ``predict`` and ``video``."""

import json

import numpy as np
import pytest
import torch

from ripdetect.errors import ConfigError
from ripdetect.inference.roi import Roi
from tests.helpers import still_clip, write_png

LEFT_HALF = [[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]]  # the shipped rip photo's rip is in the right half
RIGHT_HALF = [[[0.5, 0], [1, 0], [1, 1], [0.5, 1]]]


def write_profile(path, text: str):
    path.write_text(text)
    return path


@pytest.mark.parametrize("body,message", [
    ("cameras:\n  - {name: north, source: a.mp4, roi: [[[0, 0], [1.2, 0], [1, 1]]]}",
     r"camera 'north': roi\[0\]: point \[1.2, 0\] lies outside 0..1"),
    ("cameras:\n  - {name: north, source: a.mp4, roi: [[[0, 0], [1, 0]], [[0, 0], [1, 1], [0, 1]]]}",
     r"camera 'north': roi\[0\]: a polygon needs at least 3 points, got 2"),
    ("cameras:\n  - {name: north, source: a.mp4, sorce: b.mp4}", r"camera 'north': unknown key 'sorce'; known: name"),
    ("cameras:\n  - {name: north, source: a.mp4, video: {sample_fsp: 2}}",
     r"camera 'north': video: unknown field\(s\) sample_fsp"),
    ("cameras:\n  - {name: north, source: a.mp4, video: {sample_fps: 0}}",
     r"camera 'north': video: config field 'sample_fps' = 0 is invalid"),
    ("cameras:\n  - {name: north, source: a.mp4, alerts: {webhook: ftp://x}}",
     r"camera 'north': alerts: config field 'webhook' = 'ftp://x' is invalid: expected an http"),
    ("cameras:\n  - {name: north, source: a.mp4}\n  - {name: north, source: b.mp4}",
     r"camera 'north': name: used by two cameras"),
    ("cameras:\n  - {name: 'north beach', source: a.mp4}", r"cameras\[0\]: name: 'north beach' is not a camera name"),
    ("cameras:\n  - {name: north}", r"camera 'north': source: expected a file"),
    ("camera:\n  - {name: north, source: a.mp4}", r"unknown key 'camera'; known: cameras, alerts"),
    ("cameras: [\n", r"not valid YAML"),
])
def test_profile_errors_name_the_camera_and_the_field(tmp_path, body, message):
    from ripdetect.cameras.profiles import load_profiles

    path = write_profile(tmp_path / "cameras.yaml", body)
    with pytest.raises(ConfigError, match=message) as caught:
        load_profiles(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_profile_reads_json_and_yaml_alike_and_writes_back(tmp_path):
    from ripdetect.cameras.profiles import load_profiles, profiles_yaml

    (tmp_path / "clips").mkdir()
    body = {"alerts": {"webhook": "http://127.0.0.1:9/rip", "min_interval_s": 60},
            "cameras": [{"name": "north", "source": "clips", "roi": LEFT_HALF, "video": {"sample_fps": 1},
                         "inference": {"cam_threshold": 0.4}, "alerts": {"min_interval_s": 5}},
                        {"name": "cam2", "source": "rtsp://192.0.2.1/stream", "roi": [[0, 0.5], [1, 0.5], [1, 1]]},
                        {"name": "usb", "source": 0}]}
    from_json = load_profiles(write_profile(tmp_path / "cameras.json", json.dumps(body)))
    north, cam2, usb = from_json
    assert north.source == str(tmp_path / "clips") and north.kind == "folder" and not north.live
    assert north.video.sample_fps == 1 and north.inference.cam_threshold == 0.4
    assert north.alerts.webhook == "http://127.0.0.1:9/rip" and north.alerts.min_interval_s == 5  # own beats shared
    assert cam2.kind == "stream" and cam2.alerts.min_interval_s == 60 and len(cam2.roi.polygons) == 1  # bare polygon
    assert usb.source == "0" and usb.live
    again = load_profiles(write_profile(tmp_path / "again.yaml", profiles_yaml(from_json)))
    assert [p.to_dict() for p in again] == [p.to_dict() for p in from_json]


def test_roi_mask_follows_the_polygon_on_a_non_square_image():
    roi = Roi.parse([[[0.25, 0.0], [0.75, 0.0], [0.75, 0.5], [0.25, 0.5]]])
    mask = roi.mask(40, 100)  # pixels whose centre is inside or on the outline
    assert mask.shape == (40, 100) and mask[:20, 25:75].all() and mask.sum() <= 51 * 21
    assert not mask[21:].any() and not mask[:, :24].any() and not mask[:, 76:].any()
    weights = roi.weights(2, 4)
    assert weights == pytest.approx(np.array([[0, 1, 1, 0], [0, 0, 0, 0]]), abs=0.02)
    assert Roi.load(json.dumps(LEFT_HALF)) == Roi.parse(LEFT_HALF)
    with pytest.raises(ConfigError, match="neither a file nor JSON polygons"):
        Roi.load("left half")


@pytest.mark.parametrize("method", ["gradcam", "gradcampp"])
def test_roi_gates_the_evidence_the_map_and_the_regions(tiny_checkpoint, image_rgb, method):
    from ripdetect.config import InferenceConfig
    from ripdetect.inference.predictor import Predictor

    config = InferenceConfig(cam_method=method, threshold=0.0, cam_threshold=0.01, min_region_fraction=0.0)
    predictor = Predictor(tiny_checkpoint, config)
    roi = Roi.parse([[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]])
    whole, inside = predictor.predict_image(image_rgb), predictor.with_roi(roi).predict_image(image_rgb)
    grid_h, grid_w = inside.cam.shape
    assert not inside.cam[:, grid_w // 2:].any() and inside.cam.any()  # no map outside the ROI
    assert not inside.region.mask[:, image_rgb.shape[1] // 2 + 1:].any()  # nor any region
    # the decision is the head applied to the mean evidence over the ROI (as if the ROI filled the frame), and never
    # above the whole frame's: a region of interest only ever lowers p
    model = predictor.model
    with torch.no_grad():
        out = model.outputs(model.preprocessing(image_rgb)[None])
        bias = float(model.head.bias[1] - model.head.bias[0])
        evidence = out.evidence[0].numpy()
    assert whole.prob_rip == pytest.approx(torch.sigmoid(torch.tensor(bias + evidence.mean())).item(), abs=1e-5)
    in_roi = evidence[:, : evidence.shape[1] // 2].mean()
    from_roi = torch.sigmoid(torch.tensor(bias + in_roi)).item()
    assert inside.prob_rip == pytest.approx(min(from_roi, whole.prob_rip), abs=1e-5)
    assert inside.to_json()["roi"] == roi.to_list() and "roi" not in whole.to_json()


def test_roi_removes_a_rip_placed_outside_it(toy_predictor, stills):
    rip = stills["rip"]
    found = toy_predictor.predict_image(rip)
    assert found.is_rip and found.region.centroid[0] > rip.shape[1] / 2
    outside = toy_predictor.with_roi(Roi.parse(LEFT_HALF)).predict_image(rip)
    assert not outside.is_rip and outside.prob_rip < 0.25 and outside.region is None
    around = toy_predictor.with_roi(Roi.parse(RIGHT_HALF)).predict_image(rip)
    assert around.is_rip and around.region.bbox[0] >= rip.shape[1] // 2 - 1
    calm = toy_predictor.with_roi(Roi.parse([[[0.4, 0.4], [0.6, 0.4], [0.6, 0.6], [0.4, 0.6]]]))
    assert not calm.predict_image(stills["calm"]).is_rip  # a small ROI on calm water raises no alarm


@pytest.mark.parametrize("seed", range(6))
def test_a_region_of_interest_never_raises_p(seed, tiny_checkpoint, toy_predictor, stills):
    """Drawing the sea (or any region) never turns a calm frame into a rip: p with an ROI is at most p without it,
    for any model and frame; and a rip inside the ROI stays a rip."""
    from ripdetect.config import InferenceConfig
    from ripdetect.inference.predictor import Predictor

    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (96, 160, 3), dtype=np.uint8)
    x0, y0 = rng.uniform(0, 0.5, 2)
    roi = Roi.parse([[[x0, y0], [x0 + 0.3, y0], [x0 + 0.3, y0 + 0.4], [x0, y0 + 0.4]]])
    for method in ("gradcam", "gradcampp"):
        predictor = Predictor(tiny_checkpoint, InferenceConfig(cam_method=method))
        assert predictor.with_roi(roi).predict_image(image).prob_rip <= predictor.predict_image(image).prob_rip + 1e-6
    sea = Roi.parse([[[0, 0], [1, 0], [1, 0.5], [0, 0.5]]])  # the toy camera's sea, with the rip in it
    assert toy_predictor.with_roi(sea).predict_image(stills["rip"]).is_rip
    assert not toy_predictor.with_roi(sea).predict_image(stills["calm"]).is_rip


def test_predict_and_video_take_the_camera_profile(cli, tmp_path, stills, toy_checkpoint):
    clip = still_clip(tmp_path / "beach.mp4", [(stills["rip"], 4.0)])
    photo = write_png(tmp_path / "rip.png", stills["rip"])
    cameras = write_profile(tmp_path / "cameras.yaml", f"""cameras:
  - name: left
    source: beach.mp4
    model: {toy_checkpoint}
    roi: {json.dumps(LEFT_HALF)}
    video: {{sample_fps: 1, window_s: 2, min_event_s: 1, write_video: false}}
""")
    result = cli("predict", photo, "--cameras", cameras, "--camera", "left")
    record = json.loads(result.stdout)
    assert result.returncode == 0 and record["label"] == "no_rip" and record["roi"] == LEFT_HALF
    assert json.loads(cli("predict", photo, "--model", toy_checkpoint, "--roi", json.dumps(RIGHT_HALF)).stdout)["label"] == "rip"
    # video: no inputs means the camera's source; its settings apply, and flags given here win
    result = cli("video", "--cameras", cameras, "--camera", "left", "--out", tmp_path / "left", "--sample-fps", "2")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "left" / "beach" / "summary.json").read_text())
    assert summary["rip_detected"] is False and summary["sample_fps"] == 2 and summary["window_s"] == 2
    assert not (tmp_path / "left" / "beach" / "annotated.mp4").exists()
    result = cli("video", clip, "--model", toy_checkpoint, "--out", tmp_path / "whole", "--window", "2", "--min-event", "1",
                 "--no-video")
    assert json.loads((tmp_path / "whole" / "beach" / "summary.json").read_text())["rip_detected"] is True
    # the ROI is part of what a result was made from: another ROI redoes it
    result = cli("video", "--cameras", cameras, "--camera", "left", "--out", tmp_path / "left", "--sample-fps", "2",
                 "--roi", json.dumps(RIGHT_HALF))
    assert "roi" in json.loads(result.stdout)["note"]
    assert json.loads((tmp_path / "left" / "beach" / "summary.json").read_text())["rip_detected"] is True


@pytest.mark.parametrize("args,message", [
    (["--camera", "left"], "--camera NAME and --cameras FILE go together"),
    (["--cameras", "{profile}", "--camera", "right"], "no camera named 'right'; cameras: left"),
    (["--roi", "[[[0, 0], [1, 0]]]"], r"--roi\[0\]: a polygon needs at least 3 points"),
])
def test_camera_flag_errors_are_one_line(cli, tmp_path, args, message):
    import re

    profile = write_profile(tmp_path / "cameras.yaml", "cameras:\n  - {name: left, source: a.mp4}\n")
    args = [a.replace("{profile}", str(profile)) for a in args]
    result = cli("video", "--out", tmp_path / "out", *args)
    assert result.returncode == 2 and re.search(message, result.stderr) and len(result.stderr.splitlines()) == 1


def test_a_profile_file_written_by_ripdetect_reads_back_with_a_value_used_twice(tmp_path):
    """PyYAML writes an anchor and an alias for an object used twice, which profile files refuse: ours never do."""
    from ripdetect.cameras.profiles import load_profiles
    from ripdetect.config import yaml_text

    video = {"sample_fps": 2}
    text = yaml_text({"cameras": [{"name": f"cam{i}", "source": f"cam{i}.mp4", "video": video} for i in range(2)]})
    assert "&" not in text and "*" not in text
    (tmp_path / "cameras.yaml").write_text(text)
    assert [p.video.sample_fps for p in load_profiles(tmp_path / "cameras.yaml")] == [2.0, 2.0]
