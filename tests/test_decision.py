"""One decision for every output: the threshold applied, the verdict words and labels, the video thresholds."""

import numpy as np
import pytest

from ripdetect.config import VideoConfig
from ripdetect.decision import applied_threshold, decide, rip_mask, video_thresholds
from ripdetect.errors import ConfigError


@pytest.mark.parametrize("prob,threshold,is_rip,label,verdict", [
    (0.91, 0.52, True, "rip", "RIP CURRENT"),
    (0.519, 0.5171, False, "no_rip", "no rip"),  # the threshold is used as shown: 0.52
    (0.52, 0.5171, True, "rip", "RIP CURRENT"),
    (0.46, 0.40, True, "rip", "RIP CURRENT"),  # between the threshold and 0.5: a rip, everywhere
    (0.0, 0.0, True, "rip", "RIP CURRENT"),
])
def test_a_decision_says_one_thing_everywhere(prob, threshold, is_rip, label, verdict):
    decision = decide(prob, threshold)
    assert (decision.is_rip, decision.label, decision.verdict) == (is_rip, label, verdict)
    assert decision.headline().startswith(verdict) and f"(threshold {decision.threshold:.2f})" in decision.headline()
    assert decision.to_dict() == {"label": label, "prob_rip": prob, "threshold": round(threshold, 2)}
    assert bool(rip_mask([prob], threshold)[0]) == (prob >= threshold)  # arrays: the raw comparison for metrics


def test_a_models_own_class_names_are_the_machine_labels():
    assert decide(0.9, 0.5, ("calm", "current")).label == "current"
    assert decide(0.1, 0.5, ("calm", "current")).label == "calm"


@pytest.mark.parametrize("configured,model,expected", [(None, 0.5171, 0.52), (0.0, 0.5171, 0.0), (0.349, 0.7, 0.35)])
def test_the_configured_threshold_wins_even_when_it_is_zero(configured, model, expected):
    assert applied_threshold(configured, model) == expected


@pytest.mark.parametrize("video,model,expected", [
    (VideoConfig(), 0.5, (0.5, 0.4)),
    (VideoConfig(on_threshold=0.12345), 0.5, (0.12, 0.1)),
    (VideoConfig(), 0.34534, (0.35, 0.28)),
    (VideoConfig(on_threshold=0.6, off_threshold=0.2), 0.5, (0.6, 0.2)),
    (VideoConfig(off_threshold=0.0), 0.5, (0.5, 0.0)),
])
def test_video_thresholds(video, model, expected):
    assert video_thresholds(video, model) == expected


def test_an_off_threshold_above_on_is_refused():
    with pytest.raises(ConfigError, match="must not exceed the on threshold"):
        video_thresholds(VideoConfig(off_threshold=0.7), 0.5)


def test_rip_mask_takes_a_threshold_per_probability():
    assert rip_mask(np.array([0.3, 0.3]), np.array([0.2, 0.4])).tolist() == [True, False]


def test_a_models_video_threshold_starts_its_events_unless_a_threshold_is_given(cli, tmp_path, tiny_checkpoint):
    """export --video-threshold stores the on threshold chosen on real video; video and watch start events there,
    a --threshold or --on-threshold given wins, and a model without one uses its image threshold."""
    from ripdetect.config import InferenceConfig
    from ripdetect.decision import model_video_threshold
    from ripdetect.inference.predictor import Predictor

    assert model_video_threshold({}, 0.42) == 0.42 and model_video_threshold({"video_on_threshold": 0.6}, 0.42) == 0.6
    out = tmp_path / "video.safetensors"
    result = cli("export", tiny_checkpoint, out, "--video-threshold", "0.61")
    assert result.returncode == 0, result.stderr
    predictor = Predictor(out)
    assert predictor.threshold == 0.5 and predictor.video_threshold == 0.61
    assert predictor.with_config(InferenceConfig(threshold=0.3)).video_threshold == 0.3
    bad = cli("export", tiny_checkpoint, tmp_path / "bad.safetensors", "--video-threshold", "1.5")
    assert bad.returncode == 2 and "--video-threshold" in bad.stderr and not (tmp_path / "bad.safetensors").exists()
