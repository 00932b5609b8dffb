import numpy as np
import pytest

from ripdetect.config import VideoConfig
from ripdetect.decision import video_thresholds
from ripdetect.errors import ConfigError
from ripdetect.video.aggregate import Event, FrameAggregator, mean_event_cam

DEFAULTS = dict(window_s=2.0, on_threshold=0.5, off_threshold=0.4, min_event_s=2.0)


def run(probs, dt=0.5, times=None, **kwargs):
    aggregator = FrameAggregator(**{**DEFAULTS, **kwargs})
    times = times if times is not None else [i * dt for i in range(len(probs))]
    states = [aggregator.update(t, p).state for t, p in zip(times, probs)]
    return states, aggregator.finish()


@pytest.mark.parametrize("name,probs,kwargs,expected_events", [
    ("steady rip", [0.9] * 20, dict(window_s=2, min_event_s=2), [(0.0, 9.5)]),
    ("never", [0.1] * 20, dict(window_s=2, min_event_s=2), []),
    ("single spike suppressed", [0.1] * 8 + [0.99] + [0.1] * 8, dict(window_s=2, min_event_s=1), []),
    ("too short for min duration", [0.1] * 6 + [0.9] * 3 + [0.1] * 10, dict(window_s=0.1, min_event_s=2), []),
    ("long enough", [0.1] * 6 + [0.9] * 6 + [0.1] * 10, dict(window_s=0.1, min_event_s=2), [(3.0, 5.5)]),
    ("two events", [0.9] * 6 + [0.0] * 10 + [0.9] * 6, dict(window_s=0.1, min_event_s=1), [(0.0, 2.5), (8.0, 10.5)]),
])
def test_event_table(name, probs, kwargs, expected_events):
    _, events = run(probs, **kwargs)
    assert [(e.start_s, e.end_s) for e in events] == expected_events, name


def test_possible_rip_until_the_minimum_duration_then_rip_from_the_first_crossing():
    states, events = run([0.1] * 4 + [0.9] * 8 + [0.1] * 4, window_s=0.1, min_event_s=1.5)
    assert states[:4] == ["clear"] * 4
    assert states[4:7] == ["possible_rip"] * 3  # 2.0, 2.5, 3.0 s: crossed, not yet 1.5 s long
    assert states[7:12] == ["rip"] * 5 and states[12:] == ["clear"] * 4
    assert [(e.start_s, e.end_s) for e in events] == [(2.0, 5.5)]  # starts at the first crossing


def test_hysteresis_stops_flicker():
    """Probabilities hovering around one threshold flip a plain threshold many times, hysteresis once."""
    probs = [0.9] * 4 + [0.45, 0.55] * 10 + [0.1] * 4
    states, events = run(probs, window_s=0.1, on_threshold=0.5, off_threshold=0.3, min_event_s=1)
    flips = sum(a != b for a, b in zip(states, states[1:]))
    assert flips == 2 and states[:3] == ["possible_rip", "possible_rip", "rip"] and len(events) == 1
    plain = [p >= 0.5 for p in probs]
    assert sum(a != b for a, b in zip(plain, plain[1:])) > 10


def test_short_clip_with_rip_every_frame_is_detected():
    """A 5-second clip (shorter than window and minimum duration) with a rip in every frame."""
    _, events = run([0.95] * 10, dt=0.5, window_s=10, min_event_s=10)
    assert len(events) == 1 and events[0].peak_prob == pytest.approx(0.95) and events[0].start_s == 0


def test_rip_starting_near_the_end_of_a_short_clip_is_not_an_event():
    """The last 1 s of a 5 s clip crosses the threshold; with a 2 s minimum it stays a possible rip."""
    states, events = run([0.05] * 8 + [0.95] * 2, dt=0.5, window_s=0.5, min_event_s=2)
    assert states[-1] == "possible_rip" and events == []


def test_window_of_zero_is_refused():
    with pytest.raises(ConfigError, match="window must be longer than 0"):
        FrameAggregator(**{**DEFAULTS, "window_s": 0})
    with pytest.raises(ConfigError, match="window_s"):
        VideoConfig(window_s=0)


def test_timestamps_going_backwards_are_clamped():
    times = [0.0, 0.5, 1.0, 0.2, 0.7, 1.5, 2.0, 2.5, 3.0, 3.5]
    aggregator = FrameAggregator(**{**DEFAULTS, "window_s": 1.0, "min_event_s": 1.0})
    out = [aggregator.update(t, 0.9) for t in times]
    assert [a.time_s for a in out] == [0.0, 0.5, 1.0, 1.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    events = aggregator.finish()
    assert [(e.start_s, e.end_s) for e in events] == [(0.0, 3.5)] and events[0].duration_s >= 0


def test_window_mean_and_event_cam():
    aggregator = FrameAggregator(window_s=1.0, on_threshold=0.5, off_threshold=0.4, min_event_s=0)
    cam = np.ones((2, 2))
    out = [aggregator.update(t, p, cam * p) for t, p in [(0, 0.2), (0.5, 0.8), (1.0, 0.8), (1.5, 0.8)]]
    assert out[1].aggregated_prob == pytest.approx(0.5)
    assert out[2].aggregated_prob == pytest.approx(0.8)  # t=0 left the 1 s window
    events = aggregator.finish()
    assert mean_event_cam(events) == pytest.approx(np.full((2, 2), 0.8))
    assert mean_event_cam([Event(0, 1, 0.9, 0.9, 2)]) is None


def test_invalid_thresholds():
    with pytest.raises(ConfigError, match="must not exceed"):
        FrameAggregator(window_s=1, on_threshold=0.3, off_threshold=0.6, min_event_s=0)
    with pytest.raises(ConfigError, match="must not exceed"):
        video_thresholds(VideoConfig(off_threshold=0.7), 0.5)


def test_video_config_fills_thresholds_from_the_model():
    assert video_thresholds(VideoConfig(), 0.5) == (0.5, pytest.approx(0.4))
    assert video_thresholds(VideoConfig(on_threshold=0.6, off_threshold=0.2), 0.5) == (0.6, 0.2)
    aggregator = FrameAggregator.from_config(VideoConfig(window_s=3, min_event_s=1), 0.7)
    assert (aggregator.window_s, aggregator.on_threshold, aggregator.min_event_s) == (3, 0.7, 1)
    assert aggregator.off_threshold == pytest.approx(0.56)


def test_events_crossing_clip_segments_mark_both():
    from ripdetect.video.outputs import clip_segments

    rows = [{"time_s": t, "prob_rip": 0.9 if 50 <= t <= 70 else 0.1} for t in range(0, 130, 5)]
    segments = clip_segments(rows, [Event(50, 70, 0.9, 0.9, 5)], 60, 130)
    assert [s["rip_detected"] for s in segments] == [True, True, False]
    assert [s["end_s"] for s in segments] == [60, 120, 130] and segments[1]["max_prob"] == 0.9


def test_settled_states_hold_a_possible_rip_until_it_is_decided():
    from ripdetect.video.aggregate import SettledStates

    live = ["clear", "possible_rip", "possible_rip", "rip", "rip", "clear", "possible_rip", "clear", "possible_rip"]
    states = SettledStates()
    out = [pair for t, state in enumerate(live) for pair in states.push(t, state)]
    assert [t for t, _ in out] == list(range(8))  # the last frame is still undecided
    assert [s for _, s in out] == ["clear", "rip", "rip", "rip", "rip", "clear", "possible_rip", "clear"]
    assert states.finish([Event(8, 8, 0.9, 0.9, 1)], float) == [(8, "rip")]


def test_held_frames_are_bounded():
    from ripdetect.video.aggregate import SettledStates

    states = SettledStates(max_held=2)
    out = [pair for t in range(3) for pair in states.push(t, "possible_rip")]
    assert out == [(0, "possible_rip"), (1, "possible_rip"), (2, "possible_rip")]


@pytest.mark.parametrize("seed", range(20))
def test_frames_and_events_tell_one_story(seed):
    """Whatever the probabilities, a frame's settled state is ``rip`` exactly when an event covers it."""
    from ripdetect.video.aggregate import SettledStates

    rng = np.random.default_rng(seed)
    levels = np.repeat(rng.uniform(0, 1, 12), rng.integers(1, 8, 12))  # plateaus of random length
    probs = np.clip(levels + rng.normal(0, 0.15, len(levels)), 0, 1)
    aggregator = FrameAggregator(window_s=1.0, on_threshold=0.6, off_threshold=0.45, min_event_s=1.5)
    states = SettledStates()
    settled = []
    for i, p in enumerate(probs):
        time_s = i * 0.5
        settled += states.push(time_s, aggregator.update(time_s, float(p)).state)
    events = aggregator.finish()
    settled += states.finish(events, float)
    assert [t for t, _ in settled] == [i * 0.5 for i in range(len(probs))]
    for time_s, state in settled:
        in_event = any(e.start_s <= time_s <= e.end_s for e in events)
        assert (state == "rip") == in_event, (time_s, state, [(e.start_s, e.end_s) for e in events])


@pytest.mark.parametrize("probs,min_event_s,changes,closing", [
    # confirmed after 1 s: the start is known at t=2.0 and dates from t=1.0; the first frame below off ends it
    ([0, 0, .9, .9, .9, 0, 0], 1.0, [(2.0, "start", 1.0, 2.0), (2.5, "end", 1.0, 2.0)], []),
    # two events, the second still open when the source ends: finish ends it
    ([.9, .9, .9, 0, .9, .9, .9], 1.0, [(1.0, "start", 0.0, 1.0), (1.5, "end", 0.0, 1.0), (3.0, "start", 2.0, 3.0)],
     [("end", 2.0, 3.0)]),
    # a possible rip that never lasts long enough is no event
    ([0, .9, .9, 0, 0], 2.0, [], []),
    # a clip shorter than the minimum, above threshold throughout: finish starts and ends its event
    ([.9, .9], 5.0, [], [("start", 0.0, 0.5), ("end", 0.0, 0.5)]),
])
def test_the_aggregator_tells_each_start_and_end_once(probs, min_event_s, changes, closing):
    """The one events model: every consumer (a video's report, a camera's alerts and clips) reads these changes."""
    aggregator = FrameAggregator(window_s=0.5, on_threshold=0.5, off_threshold=0.4, min_event_s=min_event_s)
    seen = [(frame.time_s, c.kind, c.event.start_s, c.event.end_s)
            for frame in (aggregator.update(i * 0.5, p) for i, p in enumerate(probs)) for c in frame.changes]
    events = aggregator.finish()
    assert seen == changes
    assert [(c.kind, c.event.start_s, c.event.end_s) for c in aggregator.closing] == closing
    assert len(events) == len({id(c.event) for c in aggregator.closing} | {id(e) for e in events})


def test_a_source_without_end_keeps_only_its_last_events_but_tells_every_one():
    """A camera runs for weeks: its aggregator keeps the last few ended events, and still tells each start and end."""
    probs = ([0.9] * 4 + [0.0] * 4) * 50  # 50 events
    bounded = FrameAggregator(**{**DEFAULTS, "window_s": 0.1, "min_event_s": 1.0}, keep_events=3)
    ends = sum(c.kind == "end" for i, p in enumerate(probs) for c in bounded.update(i * 0.5, p).changes)
    _, every = run(probs, window_s=0.1, min_event_s=1.0)
    assert ends == len(every) == 50
    assert len(bounded.finish()) == 3 and [e.start_s for e in bounded.events] == [e.start_s for e in every[-3:]]
