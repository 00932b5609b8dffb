"""Streaming video analysis: sampled frames -> batched Predictor calls (CAM from the same forward pass)
-> temporal aggregation. ``analyse_video`` is a generator of per-frame results; memory does not grow
with the video's length (bounded decode queue, bounded batches, running sums only)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ripdetect.aggregate import AggregatedFrame, FrameAggregator
from ripdetect.config import VideoConfig
from ripdetect.predict import Prediction, Predictor
from ripdetect.video_io import Frame, iter_frames, open_capture, prefetch


@dataclass
class FrameResult:
    frame: Frame
    prediction: Prediction
    aggregated: AggregatedFrame


def make_aggregator(predictor: Predictor, video_config: VideoConfig) -> FrameAggregator:
    on = video_config.on_threshold if video_config.on_threshold is not None else predictor.threshold
    return FrameAggregator(video_config.window_s, on, video_config.off_threshold, video_config.min_event_s)


def analyse_video(source: str | Path, predictor: Predictor, video_config: VideoConfig,
                  aggregator: FrameAggregator | None = None) -> Iterator[FrameResult]:
    """Per-frame results in time order. Decoding runs in its own thread behind a bounded queue."""
    aggregator = aggregator or make_aggregator(predictor, video_config)
    frames = prefetch(iter_frames(source, video_config.sample_fps, video_config.stride, video_config.max_side),
                      video_config.queue_size)
    batch: list[Frame] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) >= predictor.config.batch_size:
            yield from _run_batch(batch, predictor, aggregator)
            batch = []
    if batch:
        yield from _run_batch(batch, predictor, aggregator)


def _run_batch(batch: list[Frame], predictor: Predictor, aggregator: FrameAggregator) -> Iterator[FrameResult]:
    probs, cams = predictor.forward([frame.image_rgb for frame in batch])
    for frame, prob, cam in zip(batch, probs, cams):
        prediction = predictor.finish(frame.image_rgb, float(prob), cam)
        yield FrameResult(frame, prediction, aggregator.update(frame.time_s, float(prob), cam))


class RunningMean:
    """Mean of equally sized images without keeping them (the timex of the sampled frames)."""

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.count = 0

    def add(self, image: np.ndarray) -> None:
        if self.total is None:
            self.total = image.astype(np.float64)
        elif image.shape == self.total.shape:
            self.total += image
        else:
            return
        self.count += 1

    @property
    def mean(self) -> np.ndarray | None:
        return None if self.total is None else np.uint8(self.total / self.count)


def probe(source: str | Path):
    """``VideoInfo`` of a source, with one-line errors."""
    capture, info = open_capture(source)
    capture.release()
    return info
