"""Outputs read at a glance: the banner is a strip above the picture with the verdict word first, one threshold
format everywhere, no heat on no-rip results unless asked, the video banner agrees with the events, and the
timeline legend sits off the data."""

import json

import cv2
import numpy as np
import pytest

from ripdetect.config import InferenceConfig, VideoConfig
from tests.helpers import make_scene, write_clip, write_png


@pytest.fixture(scope="module")
def checkpoint_0_34534(tmp_path_factory):
    """A tiny model whose chosen threshold has more decimals than anyone shows (like the default's 0.34534)."""
    import torch

    from ripdetect.models.checkpoint import save_checkpoint
    from ripdetect.models.classifier import create_model
    from tests.helpers import tiny_model_config

    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "m.safetensors", create_model(tiny_model_config()),
                           0.34534, {"model_id": "tiny-0.34534"})


def _prediction(checkpoint, image, **knobs):
    from ripdetect.inference.predictor import Predictor

    predictor = Predictor(checkpoint, InferenceConfig(**knobs))
    return predictor, predictor.predict_image(image)


def test_the_banner_is_a_strip_above_the_untouched_photo(tiny_checkpoint, rng):
    from ripdetect.viz.draw import CLEAR_COLOUR, banner_height

    image = make_scene(rng, True, 120, 200)
    predictor, prediction = _prediction(tiny_checkpoint, image, threshold=1.0)  # a no-rip: no heat, no outline
    overlay = predictor.render(image, prediction)
    bar = banner_height(120)
    assert overlay.shape == (120 + bar, 200, 3)
    assert np.array_equal(overlay[bar:], image)  # the photo itself is not painted over
    assert np.abs(overlay[2, -3].astype(int) - CLEAR_COLOUR).max() < 5  # the strip's colour says no rip


def test_no_heat_on_a_no_rip_unless_asked(tiny_checkpoint, rng):
    from ripdetect.viz.draw import banner_height

    image = make_scene(rng, True, 120, 200)
    bar = banner_height(120)
    predictor, prediction = _prediction(tiny_checkpoint, image, threshold=1.0, map_when_negative=True)
    assert not prediction.is_rip and not np.array_equal(predictor.render(image, prediction)[bar:], image)
    predictor, prediction = _prediction(tiny_checkpoint, image, threshold=0.0)
    assert prediction.is_rip and not np.array_equal(predictor.render(image, prediction)[bar:], image)


def test_cli_map_always_flag(cli, tiny_checkpoint, tmp_path, rng):
    image = write_png(tmp_path / "a.png", make_scene(rng, True, 60, 90))
    plain = cli("predict", image, "--model", tiny_checkpoint, "--threshold", "1", "--out", tmp_path / "plain")
    mapped = cli("predict", image, "--model", tiny_checkpoint, "--threshold", "1", "--out", tmp_path / "mapped",
                     "--map-always")
    assert plain.returncode == mapped.returncode == 0, mapped.stderr
    from ripdetect.data.images import load_image_rgb

    original = load_image_rgb(image)
    plain_overlay, mapped_overlay = (load_image_rgb(tmp_path / d / "a_overlay.png") for d in ("plain", "mapped"))
    assert np.array_equal(plain_overlay[-60:], original) and not np.array_equal(mapped_overlay[-60:], original)


def test_one_threshold_format_everywhere(cli, checkpoint_0_34534, class_folder, tmp_path, rng):
    from ripdetect.decision import video_thresholds
    from ripdetect.viz.draw import verdict_banner

    image = write_png(tmp_path / "a.png", make_scene(rng, True, 60, 90))
    predictor, prediction = _prediction(checkpoint_0_34534, make_scene(rng, True, 60, 90))
    assert predictor.threshold == 0.35 and prediction.to_json()["threshold"] == 0.35
    assert "(threshold 0.35)" in verdict_banner(prediction.decision)[0]
    assert prediction.label == ("rip" if prediction.prob_rip >= 0.35 else "no_rip")  # the value shown is the one used
    line = json.loads(cli("predict", image, "--model", checkpoint_0_34534, "--threshold", "0.3449").stdout)
    assert line["threshold"] == 0.34
    metrics = json.loads(cli("eval", "--data", class_folder, "--model", checkpoint_0_34534, "--no-localisation").stdout)
    assert metrics["threshold"] == 0.35
    assert video_thresholds(VideoConfig(on_threshold=0.12345), 0.5) == (0.12, 0.1)
    assert video_thresholds(VideoConfig(), 0.34534) == (0.35, 0.28)


@pytest.mark.slow
def test_the_video_banner_agrees_with_the_events(tiny_checkpoint, tmp_path):
    """Every frame is above the on threshold, confirmed after 1 s: the event starts at the first frame, so the
    timeline says rip from the first frame and so does the first frame's banner."""
    from ripdetect.inference.predictor import Predictor
    from ripdetect.video.process import process_video
    from ripdetect.viz.draw import RIP_COLOUR, banner_height

    clip = write_clip(tmp_path / "rip.mp4", seconds=3.0, size=(128, 96))
    predictor = Predictor(tiny_checkpoint, InferenceConfig(batch_size=4))
    summary = process_video(clip, predictor, VideoConfig(sample_fps=5, on_threshold=0.0, min_event_s=1.0,
                                                         window_s=1.0), tmp_path / "out")
    timeline = json.loads((tmp_path / "out" / "timeline.json").read_text())
    assert summary["events"][0]["start_s"] == timeline[0]["time_s"] == 0.0
    assert {row["state"] for row in timeline} == {"rip"}
    capture = cv2.VideoCapture(str(tmp_path / "out" / "annotated.mp4"))
    ok, first = capture.read()
    capture.release()
    assert ok and first.shape[0] == 96 + banner_height(96)
    strip = cv2.cvtColor(first[3:banner_height(96) - 3, -12:-3], cv2.COLOR_BGR2RGB).reshape(-1, 3).mean(0)
    assert np.abs(strip - RIP_COLOUR).max() < 40, strip


def test_the_timeline_legend_is_off_the_data():
    from ripdetect.viz.plots import timeline_figure

    rows = [{"time_s": t / 2, "prob_rip": 1.0, "aggregated_prob": 1.0, "state": "rip" if t > 4 else "possible_rip"}
            for t in range(40)]
    figure = timeline_figure(rows, [{"start_s": 2.5, "end_s": 19.5}], 0.35, 0.28)
    figure.canvas.draw()
    axes = figure.axes[0]
    legend = axes.get_legend().get_window_extent()
    assert not legend.overlaps(axes.get_window_extent())
    assert len(axes.get_legend().get_texts()) == 6  # frame, window mean, on, off, rip event, possible rip
