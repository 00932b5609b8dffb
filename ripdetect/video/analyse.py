"""Streaming video analysis: sampled frames -> batched Predictor calls (CAM from the same forward pass) ->
temporal aggregation. Memory does not grow with the video's length (bounded decode queue, bounded batches,
running sums only)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ripdetect.config import VideoConfig
from ripdetect.inference.predictor import Prediction, Predictor
from ripdetect.video.aggregate import AggregatedFrame, FrameAggregator
from ripdetect.video.io import Frame, FrameStream, prefetch


@dataclass
class FrameResult:
    frame: Frame
    prediction: Prediction
    aggregated: AggregatedFrame


class VideoAnalysis:
    """Per-frame results of one source, in time order; iterate it once. ``info`` and ``interval_s`` are known
    as soon as it is created (the source is opened then), and ``aggregator`` holds the events."""

    def __init__(self, source: str | Path, predictor: Predictor, video_config: VideoConfig):
        self.predictor, self.video_config = predictor, video_config
        self.aggregator = FrameAggregator.from_config(video_config, predictor.threshold)
        self.stream = FrameStream(source, video_config.sample_fps, video_config.stride, video_config.max_side)

    @property
    def info(self):
        return self.stream.info

    @property
    def interval_s(self) -> float:
        return self.stream.interval_s

    def __iter__(self) -> Iterator[FrameResult]:
        frames = prefetch(iter(self.stream), self.video_config.queue_size)
        batch: list[Frame] = []
        try:
            for frame in frames:
                batch.append(frame)
                if len(batch) >= self.predictor.config.batch_size:
                    yield from self._run_batch(batch)
                    batch = []
            if batch:
                yield from self._run_batch(batch)
        finally:
            frames.close()

    def _run_batch(self, batch: list[Frame]) -> Iterator[FrameResult]:
        probs, cams, water = self.predictor.forward([frame.image_rgb for frame in batch])
        for i, (frame, prob, cam) in enumerate(zip(batch, probs, cams)):
            prediction = self.predictor.finish(frame.image_rgb, float(prob), cam, None if water is None else water[i])
            yield FrameResult(frame, prediction, self.aggregator.update(frame.time_s, float(prob), cam))


def analyse_video(source: str | Path, predictor: Predictor, video_config: VideoConfig | None = None) -> VideoAnalysis:
    """Per-frame results of ``source`` (a file, URL or device): iterate the returned ``VideoAnalysis``.
    Decoding runs in its own thread behind a bounded queue."""
    return VideoAnalysis(source, predictor, video_config or VideoConfig())
