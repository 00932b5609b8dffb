"""Video as operators see it (``ripdetect eval-video``): false alarms per camera-hour, missed rip clips and the time
to the first alert, computed from known scores by the same decision as ``video`` and ``watch``; the command on real
clips of the toy camera, its sweep, and its output folder."""

import json

import numpy as np
import pytest

from ripdetect.config import VideoConfig
from ripdetect.video.evaluation import ClipScores, LabelledClip, clip_outcome, outcome_of, replay, summarise, sweep
from tests.helpers import still_clip

CONFIG = VideoConfig(sample_fps=2, window_s=2, min_event_s=1)


def scores(pattern: list[tuple[float, float]], fps: float = 2.0) -> ClipScores:
    """Scores of a clip: (seconds, probability) segments, sampled at ``fps``."""
    probs = [p for seconds, p in pattern for _ in range(int(seconds * fps))]
    return ClipScores(np.arange(len(probs)) / fps, np.asarray(probs), len(probs) / fps)


def test_a_calm_clip_with_one_flicker_is_one_false_alarm_and_the_rate_is_per_hour_without_rip():
    calm = scores([(60, 0.1), (5, 0.9), (55, 0.1)])  # 2 minutes, a 5 s flicker
    row = outcome_of(LabelledClip("calm.mp4", False), calm, CONFIG, 0.5)
    assert row["events"] == 1 and row["false_events"] == 1 and row["detected"] is None
    quiet = outcome_of(LabelledClip("quiet.mp4", False), scores([(120, 0.1)]), CONFIG, 0.5)
    summary = summarise([row, quiet])
    assert summary["hours_without_rip"] == round(240 / 3600, 4) and summary["false_events"] == 1
    assert summary["false_alarms_per_camera_hour"] == round(1 / (240 / 3600), 2)  # 15 per camera-hour


def test_a_rip_found_late_is_timed_from_its_onset_and_one_never_found_is_missed():
    clip = LabelledClip("rip.mp4", True, ((30.0, 60.0),))
    alerts, highest = replay(scores([(30, 0.1), (30, 0.9), (30, 0.1)]), CONFIG, 0.5)
    (alert,) = alerts
    row = clip_outcome(clip, alerts, 90.0, slack_s=CONFIG.window_s)
    assert row["detected"] is True and row["false_events"] == 0 and highest > 0.85
    assert 0 < row["time_to_first_alert_s"] <= CONFIG.window_s + CONFIG.min_event_s  # the window, then confirmation
    assert row["no_rip_s"] == 60.0
    missed = outcome_of(LabelledClip("faint.mp4", True), scores([(60, 0.3)]), CONFIG, 0.5)
    summary = summarise([row, {**missed}])
    assert summary["rip_clips_detected"] == 1 and summary["rip_clips_missed"] == 1
    assert summary["false_alarms_per_camera_hour"] == 0.0
    outside = clip_outcome(clip, replay(scores([(5, 0.9), (85, 0.1)]), CONFIG, 0.5)[0], 90.0)
    assert outside["false_events"] == 1 and outside["detected"] is False  # an event away from the rip: a false one


def test_the_sweep_trades_false_alarms_for_time_to_alert_on_the_same_scores():
    clips = [LabelledClip("calm.mp4", False), LabelledClip("rip.mp4", True)]
    by_path = {"calm.mp4": scores([(60, 0.1), (4, 0.62), (56, 0.1)]), "rip.mp4": scores([(10, 0.1), (50, 0.75)])}
    rows = sweep(clips, by_path, CONFIG, 0.5, {"on_threshold": [0.5, 0.7], "min_event_s": [1.0, 10.0]})
    table = {(r["on_threshold"], r["min_event_s"]): r for r in rows}
    assert table[(0.5, 1.0)]["false_events"] == 1 and table[(0.7, 1.0)]["false_events"] == 0
    assert table[(0.5, 10.0)]["false_events"] == 0  # a longer minimum event outlasts the flicker
    assert table[(0.7, 1.0)]["rip_clips_missed"] == 0
    later = table[(0.7, 10.0)]["time_to_first_alert_s"]["median"]
    assert later > table[(0.7, 1.0)]["time_to_first_alert_s"]["median"]  # ... and alerts later


@pytest.mark.slow
def test_eval_video_on_the_toy_camera_and_its_output_folder(cli, tmp_path, stills, toy_checkpoint):
    calm, rip = stills["calm"], stills["rip"]
    still_clip(tmp_path / "no_rip" / "calm.mp4", [(calm, 12)])
    still_clip(tmp_path / "rip" / "rip.mp4", [(calm, 3), (rip, 8), (calm, 3)])
    (tmp_path / "rip" / "broken.mp4").write_bytes(b"not a video")
    out = tmp_path / "report"
    out.mkdir()
    (out / "metrics.json").write_text("the user's")
    args = ("eval-video", tmp_path, "--model", toy_checkpoint, "--window", "2", "--min-event", "1", "--out", out)
    refused = cli(*args)
    assert refused.returncode == 2 and "metrics.json, which ripdetect eval-video did not write" in refused.stderr
    assert (out / "metrics.json").read_text() == "the user's"
    result = cli(*args, "--overwrite", "--sweep")
    assert result.returncode == 1  # one clip could not be analysed; the others were
    report = json.loads((out / "metrics.json").read_text())
    assert report["clips"] == 2 and report["clips_not_analysed"] == 1 and report["rip_clips_detected"] == 1
    assert report["false_events"] == 0 and "broken.mp4" in result.stderr
    assert (out / "sweep.csv").read_text().startswith("window_s,on_threshold,min_event_s")
    again = cli(*args)  # its own files: replaced without --overwrite
    assert again.returncode == 1 and "did not write" not in again.stderr
    assert not (out / "sweep.csv").exists()  # the earlier sweep does not sit beside results it did not come from
