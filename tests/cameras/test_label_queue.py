"""The labelling queue: unsure frames (throttled), a thin sample of calm ones and the peaks of short events are
kept, bounded on disk by priority, and nothing the queue did not write is ever removed; ``watch`` fills it."""

import csv

import numpy as np

from ripdetect.cameras.label_queue import QUEUE_CSV, LabelQueue, QueueChooser
from ripdetect.cameras.messages import QueueNote
from ripdetect.config import WatchConfig

FRAME = np.full((48, 64, 3), 90, np.uint8)


def chooser(**knobs) -> QueueChooser:
    return QueueChooser("north", WatchConfig(**knobs), threshold=0.5, min_event_s=2.0, seed=1)


def test_unsure_frames_are_throttled_and_calm_frames_sampled_once_a_period():
    queue = chooser(queue_gap_s=10, queue_calm_every_s=60, queue_margin=0.1)
    reasons = []
    for t in range(0, 120):  # 2 minutes at 1 frame a second: unsure for the first 30 s, then calm
        prob = 0.55 if t < 30 else 0.1
        reasons += [(t, n.reason) for n in queue.frame(FRAME, prob, "clear", 1000.0 + t)]
    unsure = [t for t, r in reasons if r == "near_threshold"]
    calm = [t for t, r in reasons if r == "calm_sample"]
    assert unsure == [0, 10, 20] and len(calm) <= 2 and all(t >= 30 for t in calm)
    assert len(calm) >= 1


def test_a_short_events_peak_is_queued_and_a_long_ones_is_not():
    queue = chooser()
    for t, p in enumerate((0.7, 0.95, 0.8)):
        queue.frame(np.full((8, 8, 3), int(p * 100), np.uint8), p, "rip", 50.0 + t)
    (note,) = queue.event_ended(3.0)
    assert note.reason == "short_event" and note.prob_rip == 0.95 and note.wall == 51.0
    queue.frame(FRAME, 0.9, "rip", 80.0)
    assert queue.event_ended(30.0) == []
    assert chooser(queue_max=0).frame(FRAME, 0.5, "clear", 0.0) == []


def test_the_queue_is_bounded_by_priority_and_leaves_other_files_alone(tmp_path):
    from ripdetect.cameras.label_queue import encode_frame

    queue = LabelQueue(tmp_path, queue_max=3)
    (tmp_path / "queue").mkdir()
    mine = tmp_path / "queue" / "my_notes.jpg"
    mine.write_bytes(b"the operator's")
    lookalike = tmp_path / "queue" / "20200101-000000-000_calm_sample.jpg"  # our pattern, not in queue.csv
    lookalike.write_bytes(b"not listed")
    jpeg = encode_frame(FRAME)
    for i, reason in enumerate(["short_event", "calm_sample", "near_threshold", "calm_sample", "near_threshold"]):
        queue.add(QueueNote("north", 1_700_000_000.0 + i * 61, reason, 0.5, jpeg))
    rows = queue.rows()
    assert [r["reason"] for r in rows] == ["short_event", "near_threshold", "near_threshold"]
    kept = sorted(p.name for p in (tmp_path / "queue").glob("*_*.jpg"))
    assert len(kept) == 5 and lookalike.name in kept and mine.read_bytes() == b"the operator's"
    with open(tmp_path / "queue" / QUEUE_CSV, newline="") as handle:
        assert [r["file"] for r in csv.DictReader(handle)] == [r["file"] for r in rows]


def test_watch_fills_each_cameras_queue(tmp_path, stills, toy_checkpoint):
    from ripdetect.cameras.profiles import load_profiles
    from ripdetect.cameras.watch import Watcher
    from tests.helpers import two_cameras

    two_cameras(tmp_path, stills, toy_checkpoint, rip_s=1.5)
    config = WatchConfig(queue_max=5, queue_calm_every_s=2, queue_margin=0.5, queue_gap_s=1)
    Watcher(load_profiles(tmp_path / "cameras.yaml"), tmp_path / "out", config, once=True).run()
    for camera in ("north", "south"):
        rows = LabelQueue(tmp_path / "out" / camera, 5).rows()
        assert 1 <= len(rows) <= 5, camera
        assert all((tmp_path / "out" / camera / "queue" / r["file"]).is_file() for r in rows)
    assert len(list((tmp_path / "out" / "south" / "queue").glob("*.jpg"))) <= 5
