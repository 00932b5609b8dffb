"""Resumable batch processing of many videos: one output folder per input, a report of every input,
finished inputs skipped on re-run, failures recorded without stopping the batch."""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from ripdetect.config import InferenceConfig, VideoConfig
from ripdetect.errors import RipdetectError
from ripdetect.video_report import is_done, process_video

log = logging.getLogger(__name__)


@dataclass
class BatchItem:
    input: str
    output_dir: str
    status: str  # done | skipped | error
    error: str | None = None
    duration_s: float | None = None
    processing_s: float | None = None
    rip_detected: bool | None = None


def output_dirs(inputs: list[str], out_root: Path) -> list[Path]:
    """A distinct folder per input, named after its stem (parent folder added on clashes)."""
    names: dict[str, int] = {}
    for source in inputs:
        stem = Path(source).stem or "stream"
        names[stem] = names.get(stem, 0) + 1
    result = []
    for source in inputs:
        path = Path(source)
        stem = path.stem or "stream"
        name = stem if names[stem] == 1 else f"{path.parent.name}_{stem}"
        result.append(out_root / "".join(c if c.isalnum() or c in "._-" else "_" for c in name))
    return result


def process_one(source: str, out_dir: Path, predictor, video_config: VideoConfig,
                on_frame: Callable[[float, float], None] | None = None) -> BatchItem:
    """Process one input, turning every expected failure into an error record."""
    if is_done(out_dir):
        summary = json.loads((out_dir / "summary.json").read_text()) if (out_dir / "summary.json").exists() else {}
        return BatchItem(source, str(out_dir), "skipped", None, summary.get("duration_s"), 0.0,
                         summary.get("rip_detected"))
    started = time.time()
    try:
        summary = process_video(source, predictor, video_config, out_dir, on_frame)
    except RipdetectError as exc:
        return BatchItem(source, str(out_dir), "error", exc.reason, processing_s=round(time.time() - started, 3))
    except OSError as exc:
        reason = f"cannot write output: {exc.strerror or exc}" if exc.filename else f"I/O error: {exc}"
        return BatchItem(source, str(out_dir), "error", reason, processing_s=round(time.time() - started, 3))
    return BatchItem(source, str(out_dir), "done", None, summary["duration_s"], summary["processing_s"],
                     summary["rip_detected"])


_WORKER: dict = {}


def _init_worker(model_path: str | None, inference_config: InferenceConfig, threads: int) -> None:
    import torch

    from ripdetect.predict import Predictor

    torch.set_num_threads(threads)
    _WORKER["predictor"] = Predictor(model_path, inference_config)


def _work(args: tuple[str, str, VideoConfig]) -> BatchItem:
    source, out_dir, video_config = args
    return process_one(source, Path(out_dir), _WORKER["predictor"], video_config)


def run_batch(inputs: list[str], out_root: str | Path, predictor, video_config: VideoConfig, jobs: int = 1,
              model_path: str | None = None, on_frame_factory=None) -> Iterator[BatchItem]:
    """Items in completion order (input order when ``jobs == 1``); writes ``batch.csv``/``batch.json`` after each."""
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    dirs = output_dirs(inputs, out_root)
    items: list[BatchItem] = []
    if jobs <= 1:
        for source, out_dir in zip(inputs, dirs):
            on_frame = on_frame_factory(source) if on_frame_factory else None
            item = process_one(source, out_dir, predictor, video_config, on_frame)
            items.append(item)
            write_report(out_root, items)
            yield item
        return
    threads = max(1, (os.cpu_count() or 2) // jobs)
    with ProcessPoolExecutor(jobs, initializer=_init_worker,
                             initargs=(model_path, predictor.config, threads)) as pool:
        for item in pool.map(_work, [(s, str(d), video_config) for s, d in zip(inputs, dirs)]):
            items.append(item)
            write_report(out_root, items)
            yield item


def write_report(out_root: Path, items: list[BatchItem]) -> None:
    rows = [asdict(item) for item in items]
    tmp = out_root / "batch.csv.tmp"
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(BatchItem("", "", ""))))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out_root / "batch.csv")
    tmp = out_root / "batch.json.tmp"
    tmp.write_text(json.dumps(rows, indent=1))
    tmp.replace(out_root / "batch.json")
