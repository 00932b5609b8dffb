import numpy as np
import pytest

from ripdetect.aggregate import Event, FrameAggregator, merge_events


def run(probs, dt=0.5, **kwargs):
    aggregator = FrameAggregator(**kwargs)
    states = [aggregator.update(i * dt, p).state for i, p in enumerate(probs)]
    return states, aggregator.finish()


@pytest.mark.parametrize("name,probs,kwargs,expected_events", [
    ("steady rip", [0.9] * 20, dict(window_s=2, on_threshold=0.5, min_event_s=2), [(0.0, 9.5)]),
    ("never", [0.1] * 20, dict(window_s=2, on_threshold=0.5, min_event_s=2), []),
    ("single spike suppressed", [0.1] * 8 + [0.99] + [0.1] * 8, dict(window_s=2, on_threshold=0.5, min_event_s=1), []),
    ("too short for min duration", [0.1] * 6 + [0.9] * 3 + [0.1] * 10,
     dict(window_s=0.1, on_threshold=0.5, min_event_s=2), []),
    ("long enough", [0.1] * 6 + [0.9] * 6 + [0.1] * 10, dict(window_s=0.1, on_threshold=0.5, min_event_s=2),
     [(3.0, 5.5)]),
    ("two events", [0.9] * 6 + [0.0] * 10 + [0.9] * 6, dict(window_s=0.1, on_threshold=0.5, min_event_s=1),
     [(0.0, 2.5), (8.0, 10.5)]),
])
def test_event_table(name, probs, kwargs, expected_events):
    _, events = run(probs, **kwargs)
    assert [(e.start_s, e.end_s) for e in events] == expected_events, name


def test_hysteresis_stops_flicker():
    """Probabilities hovering around one threshold flip a plain threshold many times, hysteresis once."""
    probs = [0.9] * 4 + [0.45, 0.55] * 10 + [0.1] * 4
    states, events = run(probs, window_s=0.1, on_threshold=0.5, off_threshold=0.3, min_event_s=1)
    flips = sum(a != b for a, b in zip(states, states[1:]))
    assert flips == 2 and len(events) == 1
    plain = [p >= 0.5 for p in probs]
    assert sum(a != b for a, b in zip(plain, plain[1:])) > 10


def test_short_clip_with_rip_every_frame_is_detected():
    """A 5-second clip (shorter than window and minimum duration) with a rip in every frame."""
    _, events = run([0.95] * 10, dt=0.5, window_s=10, on_threshold=0.5, min_event_s=10)
    assert len(events) == 1 and events[0].peak_prob == pytest.approx(0.95)


def test_window_mean_and_event_cam():
    aggregator = FrameAggregator(window_s=1.0, on_threshold=0.5, min_event_s=0)
    cam = np.ones((2, 2))
    out = [aggregator.update(t, p, cam * p) for t, p in [(0, 0.2), (0.5, 0.8), (1.0, 0.8), (1.5, 0.8)]]
    assert out[1].aggregated_prob == pytest.approx(0.5)
    assert out[2].aggregated_prob == pytest.approx(0.8)  # t=0 left the 1 s window
    events = aggregator.finish()
    assert events[0].mean_cam == pytest.approx(np.full((2, 2), 0.8))
    assert aggregator.window_cam() == pytest.approx(np.full((2, 2), 0.8))


def test_merge_events():
    events = [Event(0, 2, 0.9, 0.8, 4), Event(2.5, 4, 0.7, 0.6, 3), Event(10, 11, 0.6, 0.6, 2)]
    merged = merge_events(events, gap_s=1.0)
    assert [(e.start_s, e.end_s, e.n_frames) for e in merged] == [(0, 4, 7), (10, 11, 2)]
    assert merged[0].peak_prob == 0.9 and merged[0].mean_prob == pytest.approx((0.8 * 4 + 0.6 * 3) / 7)


def test_invalid_thresholds():
    with pytest.raises(ValueError):
        FrameAggregator(on_threshold=0.3, off_threshold=0.6)
