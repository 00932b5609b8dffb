"""Runtime knobs: one image's inference, a video's sampling and aggregation, the web app's limits and what
``ripdetect synth`` renders. Set by CLI flags, app sliders and camera profiles; never stored as training state."""

from __future__ import annotations

from dataclasses import dataclass

from ripdetect.config.knobs import check_field, decision_threshold, knob, validate_fields
from ripdetect.errors import ConfigError

CAM_METHODS = ("gradcam", "gradcam_fast", "gradcampp", "layercam")
CAM_THRESHOLD_MODES = ("fraction", "percentile", "otsu")
FAITHFULNESS_DEFAULT = 50  # labelled rip images that ``eval`` gives deletion/insertion AUCs (34 passes each)


@dataclass(frozen=True)
class InferenceConfig:
    """Runtime knobs: set by CLI flags or app sliders, never stored as training state."""

    threshold: float | None = knob(None, "decision threshold (used to 2 decimals)", low=0.0, high=1.0,
                                   none_means="the model's")
    cam_method: str = knob("gradcam", "how the heat map (class activation map, CAM) of where the model saw the rip is "
                                      "computed: gradcam (Grad-CAM), gradcam_fast (the same in one pass), gradcampp "
                                      "(Grad-CAM++), layercam (LayerCAM)", choices=CAM_METHODS)
    cam_layer: str | None = knob(None, "dotted name of the layer the heat map is taken from",
                                 none_means="the model's feature layer")
    cam_threshold: float = knob(0.5, "where the heat map becomes the rip region: a share of the map's peak from 0 to "
                                     "1 (fraction mode), or a percentile from 0 to 100 (percentile mode)",
                                low=0.0, high=100.0, show_range=False)
    cam_threshold_mode: str = knob("fraction", "how the heat map becomes a region: fraction (of its peak), "
                                               "percentile (of its values) or otsu (Otsu's automatic threshold)",
                                   choices=CAM_THRESHOLD_MODES)
    min_region_fraction: float = knob(0.002, "smallest region blob, as a share of the image", low=0.0, high=1.0)
    region_when_negative: bool = knob(False, "also report regions for no-rip images")
    map_when_negative: bool = knob(False, "also draw the heat map on no-rip overlays")
    show_water: bool = knob(False, "outline the estimated sea in overlays (models whose water head marks the sea)")
    batch_size: int = knob(8, "images or frames per model call", low=1, high=1024)
    max_pixels: int = knob(120_000_000, "refuse images above this many pixels before decoding", low=1,
                           high=10**10)
    max_side: int = knob(1600, "downscale images so the long side is at most this while decoding", low=64,
                         high=20_000)

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.threshold is not None:
            object.__setattr__(self, "threshold", decision_threshold(self.threshold))
        if self.cam_threshold_mode != "percentile":
            check_field(self.cam_threshold <= 1.0, "cam_threshold", self.cam_threshold,
                        "a number from 0 to 1 (a share of the map's peak) unless cam_threshold_mode is percentile")


@dataclass(frozen=True)
class VideoConfig:
    """Sampling and temporal aggregation of a video."""

    sample_fps: float = knob(2.0, "frames analysed per second", low=0.01, high=240.0)
    stride: int | None = knob(None, "analyse every Nth frame instead of --sample-fps", low=1, high=100_000,
                              none_means="use --sample-fps")
    window_s: float = knob(10.0, "aggregation window in seconds", low=0.0, high=86_400.0, low_exclusive=True)
    on_threshold: float | None = knob(None, "window mean that starts an event (used to 2 decimals)", low=0.0,
                                      high=1.0, none_means="--threshold when given, else the model's video "
                                                           "threshold")
    off_threshold: float | None = knob(None, "window mean that ends an event", low=0.0, high=1.0,
                                       none_means="0.8 x the on threshold")
    min_event_s: float = knob(2.0, "seconds above the on threshold before an event is confirmed", low=0.0,
                              high=86_400.0)
    clip_minutes: float = knob(10.0, "length of the per-clip decisions in minutes", low=0.01, high=10_000.0)
    video_fps: float | None = knob(None, "frame rate of annotated.mp4", low=0.1, high=240.0,
                                   none_means="the analysed frame rate")
    write_video: bool = knob(True, "write annotated.mp4")
    max_side: int = knob(960, "downscale frames so the long side is at most this", low=64, high=20_000)
    max_pixels: int = knob(40_000_000, "refuse a video whose frames are larger than this many pixels, before decoding "
                                       "one (8K is 33 million)", low=1, high=10**10)
    queue_size: int = knob(16, "decoded frames buffered ahead of the model", low=1, high=1024)
    motion: bool = knob(False, "also measure how the water moves (optical flow between each analysed frame and one "
                               "--motion-gap-s before it) and take seaward flow as rip evidence beside the model's")
    flow_method: str = knob("farneback", "the optical flow the motion evidence uses: farneback (Farneback's: on "
                                         "held-out synthetic clips it separated rips better than DIS) or dis "
                                         "(OpenCV's DIS: up to a fifth faster end to end)", choices=("farneback", "dis"))
    motion_gap_s: float = knob(0.2, "seconds between the two frames of each optical-flow pair", low=0.02, high=5.0)
    show_flow: bool = knob(False, "draw the seaward flow (arrows out to sea) in annotated.mp4 and summary.png (needs "
                                  "--motion)")

    def __post_init__(self) -> None:
        validate_fields(self)
        for name in ("on_threshold", "off_threshold"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, decision_threshold(getattr(self, name)))
        if self.on_threshold is not None and self.off_threshold is not None:
            check_field(self.off_threshold <= self.on_threshold, "off_threshold", self.off_threshold,
                        f"at most on_threshold ({self.on_threshold})")


@dataclass(frozen=True)
class SynthConfig:
    """What ``ripdetect synth`` renders."""

    n: int = knob(100, "images to render", low=0, high=10_000_000)
    seed: int = knob(0, "seed: the same seed renders the same scenes", low=0, high=2**31 - 1)
    view: str = knob("mixed", "camera", choices=("oblique", "aerial", "mixed"))
    width: int = knob(640, "image width", low=64, high=8192)
    height: int = knob(384, "image height", low=64, high=8192)
    rip_fraction: float = knob(0.5, "share of scenes with rips", low=0.0, high=1.0)
    clips: int = knob(0, "MP4 clips to render", low=0, high=100_000)
    clip_seconds: float = knob(10.0, "clip length in seconds", low=0.5, high=3600.0)
    fps: float = knob(10.0, "clip frame rate", low=1.0, high=60.0)
    realism: bool = knob(True, "real-camera detail: dunes and vegetation, headlands, clear/overcast/sunset skies, "
                               "swell and lens distortion (--no-realism: the plain scenes of ripdetect 0.1)")
    uniform_surf: float = knob(0.0, "share of the no-rip scenes that are an ordinary surf zone: breaking bands "
                                    "unbroken along the shore (hard negatives)", low=0.0, high=1.0)

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.n == 0 and self.clips == 0:
            raise ConfigError("nothing to render: --n and --clips are both 0")


@dataclass(frozen=True)
class AppLimits:
    """What one web-app request may ask for."""

    max_video_s: float = knob(600.0, "longest clip the app analyses, in seconds", low=1.0, high=86_400.0)
    max_upload_mb: float = knob(200.0, "largest upload in MB", low=1.0, high=100_000.0)
    max_batch: int = knob(50, "most images in one batch request", low=1, high=10_000)
    concurrency: int = knob(2, "requests processed at once", low=1, high=64)
    preview_s: float = knob(60.0, "seconds of a clip the browser cannot play that are transcoded for its preview",
                            low=1.0, high=3600.0)
    result_ttl_s: float = knob(600.0, "seconds a request's result files are kept after the response", low=1.0,
                               high=86_400.0)

    def __post_init__(self) -> None:
        validate_fields(self)
