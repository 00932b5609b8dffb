"""The app's "Teach a camera" tab, through its handlers: frames from the camera's labelling queue and from uploads,
labelled by buttons and a click on the rip, then adapted, with the before/after and the adapted model to download;
labels too few to teach anything are refused on the page."""

import csv

import pytest

from ripdetect.config import AdaptConfig
from tests.cameras.test_adapt import pier_frame, rip_frame
from tests.helpers import write_png

gr = pytest.importorskip("gradio")


@pytest.fixture
def teach(tmp_path, toy_checkpoint):
    from ripdetect.app.handlers import RipApp
    from ripdetect.app.teach import TeachHandlers

    app = RipApp(str(toy_checkpoint))
    return TeachHandlers(app, tmp_path / "watch", AdaptConfig(views=3, composites=0, replay=0))


def test_label_and_adapt_from_the_queue_and_uploads(teach, tmp_path, stills):
    from ripdetect.app.teach import LabelSession
    from ripdetect.cameras.label_queue import LabelQueue, encode_frame
    from ripdetect.cameras.messages import QueueNote

    queue = LabelQueue(tmp_path / "watch" / "pier-cam", 50)  # two days in the queue, named by their date
    for day, wall in enumerate((1_780_000_000.0, 1_780_090_000.0)):
        for i in range(5):
            image = rip_frame(stills["rip"], i) if i == 4 else pier_frame(stills["calm"], day * 10 + i)
            queue.add(QueueNote("pier-cam", wall + i * 61, "near_threshold", 0.6, encode_frame(image)))
    uploads = [str(write_png(tmp_path / "up" / f"2026-06-{12}_{i}.png", pier_frame(stills["calm"], 50 + i)))
               for i in range(4)]
    session, gallery, shown, caption, counts = teach.load(LabelSession(), "pier-cam", uploads)
    assert len(session.frames) == 14 and len(gallery) == 14 and shown is not None and "14 frames" in counts
    queued = sorted(r["file"] for r in queue.rows())
    for name in queued:  # the watcher trims its queue while the operator labels: the session has copies
        (tmp_path / "watch" / "pier-cam" / "queue" / name).unlink()
    with pytest.raises(gr.Error, match="too few"):
        teach.adapt(teach.label(session, "no_rip")[0], "pier-cam", 0.1)
    for index, path in enumerate(session.frames):
        session = teach.select(session, index)[0]
        if "_" in path and path.endswith(".jpg") and rip_like(path, queued):
            session = teach.click(session, 300.0, 70.0)[0]  # on the rip: labels it rip, with a point
        else:
            session = teach.label(session, "no_rip")[0]
    assert sum(v == "rip" for v in session.labels.values()) == 2 and len(session.labels) == 14
    text, table, model, labels = teach.adapt(session, "pier-cam", 0.1)
    assert "held-out days" in text and table[0][0] == "rips caught" and model.endswith("pier-cam.adapted.safetensors")
    with open(labels, newline="") as handle:
        rows = list(csv.DictReader(handle))
    boxes = [r["box"] for r in rows if r["label"] == "rip"]
    assert len(boxes) == 2 and all(len(b.split()) == 4 for b in boxes)


def test_a_click_on_a_large_frame_marks_the_rip_where_it_was_clicked(teach, tmp_path):
    """The frame is shown at most 1,280 px wide (and read at most 1,600): the box is in the stored file's pixels."""
    import numpy as np

    from ripdetect.app.teach import LabelSession

    big = write_png(tmp_path / "up" / "2026-06-12_big.png", np.full((1200, 2400, 3), 90, np.uint8))
    session = teach.load(LabelSession(), None, [str(big)])[0]
    session, _, shown, _, _ = teach.click(session, 640.0, 320.0)  # the shown frame's middle, a quarter down
    ring = max(6, shown.shape[1] // 60)  # the circle drawn where the click was, on the frame as shown
    assert tuple(shown[320, 640 + ring]) == (255, 60, 40) and tuple(shown[320, 640]) == (90, 90, 90)
    with open(teach.labels_csv(session, tmp_path), newline="") as handle:
        x1, y1, x2, y2 = (float(v) for v in next(csv.DictReader(handle))["box"].split())
    assert (x1 + x2) / 2 == pytest.approx(1200, abs=2) and (y1 + y2) / 2 == pytest.approx(600, abs=2)


def rip_like(path: str, names: list[str]) -> bool:
    """The queue's fifth frame of each day is the rip (its file name sorts last within its day)."""
    return path.endswith(names[4]) or path.endswith(names[9])
