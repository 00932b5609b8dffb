"""The app's handlers: a few lines each over the library, bound to one loaded Predictor. Gradio is imported
inside them, so the library never imports it."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import numpy as np

from ripdetect.config import AppLimits, InferenceConfig, VideoConfig
from ripdetect.errors import RipdetectError
from ripdetect.inference.predictor import Predictor

DISCLAIMER = ("**Not a swim / no-swim tool.** ripdetect flags likely rip currents in camera images to support "
              "trained lifeguards and researchers. It does not measure rip strength, can miss rips, and can "
              "raise false alarms. Always follow local lifeguard advice and beach signage.")


class RipApp:
    """Handlers bound to one loaded Predictor."""

    def __init__(self, model_path: str | None = None, limits: AppLimits | None = None,
                 samples_dir: str | Path | None = None):
        self.predictor = Predictor(model_path)
        self.limits = limits or AppLimits()
        self.samples_dir = Path(samples_dir) if samples_dir else None

    def _predictor(self, **knobs) -> Predictor:
        """The loaded model with the request's ``InferenceConfig`` knobs (the rest at their defaults)."""
        return self.predictor.with_config(InferenceConfig(**knobs))

    def predict_image(self, image_path: str | None, threshold: float, cam_method: str, cam_threshold: float,
                      opacity: float):
        """-> (label dict, overlay, region mask, JSON details as text: the ``ripdetect predict`` object)."""
        import gradio as gr

        if not image_path:
            raise gr.Error("Please upload an image first.")
        try:
            predictor = self._predictor(threshold=threshold, cam_method=cam_method, cam_threshold=cam_threshold)
            image_rgb = predictor.load(image_path)
            prediction = predictor.predict_image(image_rgb)
        except RipdetectError as exc:
            raise gr.Error(f"Could not analyse {Path(image_path).name}: {exc.reason}") from None
        overlay = predictor.render(image_rgb, prediction, opacity)
        mask_view = (image_rgb * 0.25).astype(np.uint8)
        if prediction.region is not None:
            mask_view[prediction.region.mask] = (255, 80, 40)
        labels = {"rip": prediction.prob_rip, "no rip": 1 - prediction.prob_rip}
        return labels, overlay, mask_view, json.dumps(prediction.to_json(Path(image_path).name), indent=1)

    def predict_video(self, video_path: str | None, sample_fps: float, window_s: float, on_threshold: float,
                      cam_threshold: float, progress=None):
        """-> (annotated mp4, timeline png, summary png, events rows, [timeline.csv, summary.json])."""
        import gradio as gr

        from ripdetect.video.io import probe
        from ripdetect.video.report import process_video

        if not video_path:
            raise gr.Error("Please upload a video first.")
        name = Path(video_path).name
        size_mb = Path(video_path).stat().st_size / 1e6
        if size_mb > self.limits.max_upload_mb:
            raise gr.Error(f"{name} is {size_mb:.0f} MB; the limit is {self.limits.max_upload_mb:.0f} MB.")
        try:
            info = probe(video_path)
            if info.duration_s > self.limits.max_video_s:
                raise gr.Error(f"{name} lasts {info.duration_s:.0f} s; "
                               f"the limit is {self.limits.max_video_s:.0f} s.")
            out_dir = Path(tempfile.mkdtemp(prefix="ripdetect-video-")) / Path(video_path).stem
            on_frame = None
            if progress is not None and info.duration_s:
                def on_frame(t: float, p: float) -> None:
                    progress(min(t / info.duration_s, 1.0), desc=f"{t:.0f}/{info.duration_s:.0f} s")
            config = VideoConfig(sample_fps=sample_fps, window_s=window_s, on_threshold=on_threshold)
            predictor = self._predictor(threshold=on_threshold, cam_threshold=cam_threshold)
            summary = process_video(video_path, predictor, config, out_dir, on_frame)
        except RipdetectError as exc:
            raise gr.Error(f"Could not analyse {name}: {exc.reason}") from None
        events = [[e["start_s"], e["end_s"], e["duration_s"], e["peak_prob"], e["mean_prob"]]
                  for e in summary["events"]]
        return (str(out_dir / "annotated.mp4"), str(out_dir / "timeline.png"), str(out_dir / "summary.png"), events,
                [str(out_dir / "timeline.csv"), str(out_dir / "summary.json")])

    def predict_batch(self, files: list[str] | None, threshold: float):
        """-> (gallery of (overlay, caption), results CSV)."""
        import gradio as gr

        if not files:
            raise gr.Error("Please upload one or more images.")
        if len(files) > self.limits.max_batch:
            raise gr.Error(f"{len(files)} files uploaded; the limit is {self.limits.max_batch}.")
        predictor = self._predictor(threshold=threshold)
        gallery, rows = [], []
        for path, image_rgb, result in predictor.predict_paths(files):
            if isinstance(result, RipdetectError):
                rows.append({"file": path.name, "label": "", "prob_rip": "", "error": result.reason})
                continue
            gallery.append((predictor.render(image_rgb, result), f"{path.name}: {result.label} {result.prob_rip:.2f}"))
            rows.append({"file": path.name, "label": result.label, "prob_rip": round(result.prob_rip, 5), "error": ""})
        csv_path = Path(tempfile.mkdtemp(prefix="ripdetect-batch-")) / "ripdetect_batch.csv"
        with open(csv_path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["file", "label", "prob_rip", "error"])
            writer.writeheader()
            writer.writerows(rows)
        return gallery, str(csv_path)

    def model_card(self) -> str:
        meta = self.predictor.checkpoint.metadata
        config = self.predictor.checkpoint.model_config
        metrics = meta.get("metrics") or {}
        shown = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float))
        card = meta.get("model_card", {})
        return "\n".join([
            "## Model card",
            f"- **Model**: `{self.predictor.checkpoint.model_id}` ({config.arch}, input {config.input_size} px, "
            f"{config.num_classes}-logit head)",
            f"- **Decision threshold**: {self.predictor.checkpoint.threshold:.3f} (chosen on validation)",
            f"- **Training data**: {card.get('training_data', 'see the training config in the checkpoint')}",
            f"- **Validation metrics** (held-out set, n={metrics.get('n', '?')}): {shown or 'not recorded'}",
            f"- **ripdetect version**: {meta.get('library_version', '?')}, created {meta.get('created', '?')}",
            "", "## Limits", DISCLAIMER,
        ])
