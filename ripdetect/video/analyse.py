"""Streaming video analysis: sampled frames -> batched Predictor calls (CAM from the same forward pass) ->
temporal aggregation. Memory does not grow with the video's length (bounded decode queue, bounded batches,
running sums only).

Every frame comes out with its settled state, so the banner, the timeline, the events and the summary tell one
story. While the window mean is above the on threshold for less than the minimum event duration, the outcome is
not known yet: those frames are held back (a few seconds' worth) until it is. If the event is confirmed they
are ``rip`` (the event starts at the first crossing); if not, they stay ``possible_rip``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ripdetect.config import VideoConfig
from ripdetect.decision import motion_fusion
from ripdetect.explain.regions import upsample_cam
from ripdetect.inference.predictor import WATER_THRESHOLD, Prediction, Predictor
from ripdetect.video.aggregate import AggregatedFrame, Event, EventChange, FrameAggregator, SettledStates
from ripdetect.video.io import Frame, FrameStream, prefetch
from ripdetect.video.motion import MotionSummary, MotionWindow, offshore_field, optical_flow, seaward_speed, small_grey

MAX_HELD_FRAMES = 512  # frames held back while a possible rip is undecided; past this they go out as possible_rip
LIVE_EVENTS_KEPT = 16  # ended events a live source keeps (older ones were told as they ended)


@dataclass
class FrameResult:
    frame: Frame
    prediction: Prediction
    aggregated: AggregatedFrame
    motion: MotionSummary | None = None  # the window's motion evidence (``VideoConfig.motion``)


class VideoAnalysis:
    """Per-frame results of one source, in time order, each with its settled state; iterate it once. ``info``
    and ``interval_s`` are known as soon as it is created (the source is opened then); after iterating,
    ``events`` holds the events, ``closing`` the event changes the source's end made (see ``FrameAggregator.finish``;
    only once the iteration ran to its end), and ``stream`` the decoded duration and whether decoding stopped early. A ``live``
    source (a camera) is timed and sampled by the clock, and its oldest decoded frames are dropped when analysis
    falls behind (see ``FrameStream`` and ``prefetch``)."""

    def __init__(self, source: str | Path, predictor: Predictor, video_config: VideoConfig,
                 max_duration_s: float | None = None, live: bool = False, timeout_s: float | None = None):
        self.predictor, self.video_config = predictor, video_config
        fusion = motion_fusion(predictor.checkpoint.metadata) if video_config.motion else None
        # a camera runs for weeks: its ended events are told as they happen, and only the last few are kept
        self.aggregator = FrameAggregator.from_config(video_config, predictor.video_threshold, fusion,
                                                      LIVE_EVENTS_KEPT if live else None)
        self.stream = FrameStream(source, video_config.sample_fps, video_config.stride, video_config.max_side,
                                  max_duration_s, live, timeout_s,
                                  video_config.motion_gap_s if video_config.motion else None, video_config.max_pixels)
        self.motion = MotionWindow(video_config.window_s) if video_config.motion else None
        self._dis = None
        self.events: list[Event] = []
        self.closing: tuple[EventChange, ...] = ()

    @property
    def info(self):
        return self.stream.info

    @property
    def interval_s(self) -> float:
        return self.stream.interval_s

    def __iter__(self) -> Iterator[FrameResult]:
        states = SettledStates(MAX_HELD_FRAMES)
        for result in self._live():
            yield from _with_states(states.push(result, result.aggregated.state))
        self.events = self.aggregator.finish()
        yield from _with_states(states.finish(self.events, lambda result: result.frame.time_s))
        self.closing = self.aggregator.closing

    def _live(self) -> Iterator[FrameResult]:
        """Results with the aggregator's state at the time of each frame."""
        frames = prefetch(iter(self.stream), self.video_config.queue_size, drop_oldest=self.stream.live)
        batch_size = 1 if self.stream.live else self.predictor.config.batch_size  # a camera's frame waits for none
        batch: list[Frame] = []
        try:
            for frame in frames:
                batch.append(frame)
                if len(batch) >= batch_size:
                    yield from self._run_batch(batch)
                    batch = []
            if batch:
                yield from self._run_batch(batch)
        finally:
            frames.close()

    def _run_batch(self, batch: list[Frame]) -> Iterator[FrameResult]:
        probs, cams, water = self.predictor.probabilities_and_maps([frame.image_rgb for frame in batch])
        for i, (frame, prob, cam) in enumerate(zip(batch, probs, cams)):
            prediction = self.predictor.finish(frame.image_rgb, float(prob), cam, None if water is None else water[i])
            motion = self._motion(frame, prediction)
            aggregated = self.aggregator.update(frame.time_s, float(prob), cam,
                                                None if motion is None else motion.strength)
            yield FrameResult(frame, prediction, aggregated, motion)

    def _motion(self, frame: Frame, prediction: Prediction) -> MotionSummary | None:
        """The window's motion after this frame: seaward flow between it and its partner frame, inside the sea (the
        water head's map and the region of interest, where there are)."""
        if self.motion is None:
            return None
        grey = small_grey(frame.image_rgb)
        sea = self._sea(prediction, grey.shape)
        if frame.earlier_rgb is None:
            return self.motion.summary()
        if self._dis is None and self.video_config.flow_method == "dis":
            # this analysis' own: OpenCV's DIS is not thread-safe, and cameras run in threads
            self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flow = optical_flow(small_grey(frame.earlier_rgb), grey, self.video_config.flow_method, self._dis)
        offshore = offshore_field(sea)
        speed = seaward_speed(flow, offshore, frame.time_s - frame.earlier_time_s)
        return self.motion.update(frame.time_s, speed, sea, offshore)

    def _sea(self, prediction: Prediction, shape: tuple[int, int]) -> np.ndarray:
        height, width = shape
        sea = np.ones(shape, bool)
        if prediction.water is not None:
            sea &= upsample_cam(prediction.water, height, width) >= WATER_THRESHOLD
        if prediction.roi is not None:
            sea &= prediction.roi.mask(height, width)
        return sea


def _with_states(settled: list[tuple[FrameResult, str]]) -> Iterator[FrameResult]:
    for result, state in settled:
        yield result if result.aggregated.state == state else dataclasses.replace(
            result, aggregated=dataclasses.replace(result.aggregated, state=state))


def analyse_video(source: str | Path, predictor: Predictor, video_config: VideoConfig | None = None,
                  max_duration_s: float | None = None) -> VideoAnalysis:
    """Per-frame results of ``source`` (a file, URL or device): iterate the returned ``VideoAnalysis``.
    Decoding runs in its own thread behind a bounded queue; ``max_duration_s`` stops it (with an
    ``InputError``) once that much video has been decoded."""
    return VideoAnalysis(source, predictor, video_config or VideoConfig(), max_duration_s)
