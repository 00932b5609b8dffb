"""Resumable batch processing of many videos: one output folder per input, a report of every input,
finished inputs skipped on re-run, failures recorded without stopping the batch.

With ``jobs > 1`` the inputs are shared among worker processes. Each worker receives the caller's own
model (the Predictor's checkpoint, sent once when the worker starts) and reports per-frame progress back,
so a batch gives the same results whatever the number of jobs.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ripdetect.config import VideoConfig
from ripdetect.errors import RipdetectError
from ripdetect.files import write_json, write_text
from ripdetect.inference.predictor import Predictor
from ripdetect.video.report import is_done, process_video

log = logging.getLogger(__name__)
OnFrame = Callable[[float, float], None]
OnFrameFactory = Callable[[str], OnFrame]


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
    """A distinct folder per input, named after its stem; the parent folder and then the extension are added
    where stems clash, and a counter as the last resort."""
    def safe(name: str) -> str:
        return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "stream"

    def candidates(source: str) -> list[str]:
        path = Path(source)
        stem = path.stem or "stream"
        return [stem, f"{path.parent.name}_{stem}", f"{path.parent.name}_{stem}_{path.suffix.lstrip('.')}"]

    levels = [candidates(source) for source in inputs]
    names = []
    for level in range(3):
        names = [safe(options[level]) for options in levels]
        if len(set(names)) == len(names):
            break
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(out_root / (name if seen[name] == 1 else f"{name}_{seen[name]}"))
    return result


def process_one(source: str, out_dir: Path, predictor: Predictor, video_config: VideoConfig,
                on_frame: OnFrame | None = None) -> BatchItem:
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


def run_batch(inputs: list[str], out_root: str | Path, predictor: Predictor, video_config: VideoConfig,
              jobs: int = 1, on_frame_factory: OnFrameFactory | None = None) -> Iterator[BatchItem]:
    """Items in completion order (input order when ``jobs == 1``); ``batch.csv``/``batch.json`` are rewritten
    after each. ``on_frame_factory(source)`` gives a per-frame progress callback, in every mode."""
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    tasks = list(zip(inputs, output_dirs(inputs, out_root)))
    items: list[BatchItem] = []
    if jobs <= 1:
        results = (process_one(source, out_dir, predictor, video_config,
                               on_frame_factory(source) if on_frame_factory else None) for source, out_dir in tasks)
    else:
        results = _in_workers(tasks, predictor, video_config, jobs, on_frame_factory)
    for item in results:
        items.append(item)
        write_report(out_root, items)
        yield item


def _worker_main(predictor: Predictor, threads: int, tasks, results) -> None:
    """A worker process: the caller's predictor, one input at a time, frame progress sent back."""
    import torch

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    while (task := tasks.get()) is not None:
        index, source, out_dir, video_config = task
        on_frame = lambda t, p, i=index: results.put(("frame", i, t, p))  # noqa: E731
        try:
            item = process_one(source, Path(out_dir), predictor, video_config, on_frame)
        except Exception as exc:  # noqa: BLE001 - an unexpected failure is one input's error record
            item = BatchItem(source, out_dir, "error", f"internal error: {type(exc).__name__}: {exc}")
        results.put(("item", index, item))


def _in_workers(tasks: list[tuple[str, Path]], predictor: Predictor, video_config: VideoConfig, jobs: int,
                on_frame_factory: OnFrameFactory | None) -> Iterator[BatchItem]:
    context = multiprocessing.get_context("spawn")  # no fork of a process with torch threads
    task_queue, result_queue = context.Queue(), context.Queue()
    for index, (source, out_dir) in enumerate(tasks):
        task_queue.put((index, source, str(out_dir), video_config))
    jobs = min(jobs, len(tasks))
    for _ in range(jobs):
        task_queue.put(None)
    threads = max(1, (os.cpu_count() or 2) // jobs)
    workers = [context.Process(target=_worker_main, args=(predictor, threads, task_queue, result_queue), daemon=True)
               for _ in range(jobs)]
    for worker in workers:
        worker.start()
    callbacks: dict[int, OnFrame] = {}
    remaining = len(tasks)
    try:
        while remaining:
            try:
                kind, index, *payload = result_queue.get(timeout=1.0)
            except queue.Empty:
                if not any(worker.is_alive() for worker in workers):
                    raise RipdetectError("every video worker process has stopped unexpectedly") from None
                continue
            if kind == "frame" and on_frame_factory is not None:
                if index not in callbacks:
                    callbacks[index] = on_frame_factory(tasks[index][0])
                callbacks[index](*payload)
            elif kind == "item":
                remaining -= 1
                yield payload[0]
    finally:
        for worker in workers:
            worker.join(timeout=5 if not remaining else 0)
            if worker.is_alive():
                worker.terminate()


def write_report(out_root: Path, items: list[BatchItem]) -> None:
    rows = [asdict(item) for item in items]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(BatchItem)])
    writer.writeheader()
    writer.writerows(rows)
    write_text(out_root / "batch.csv", buffer.getvalue())
    write_json(out_root / "batch.json", rows)
