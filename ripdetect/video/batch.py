"""Resumable batch processing of many videos: one output folder per input, a report of every input,
finished inputs skipped on re-run, failures recorded without stopping the batch.

A finished result is reused only when its ``provenance.json`` says it was made from this very input (path,
size, modification time), these video settings and this model; otherwise the input is redone, and the record
says why. A folder holding another input's results is never reused: the next free name is taken. Files that
ripdetect did not write are never replaced without ``overwrite``.

With ``jobs > 1`` the inputs are shared among worker processes. Each worker receives the caller's own
model (the Predictor's checkpoint, sent once when the worker starts) and reports per-frame progress back,
so a batch gives the same results whatever the number of jobs. ``executor="ray"`` shares them among Ray workers
instead (``ripdetect.video.ray_batch``; a local Ray, or the cluster at ``ray_address``), with the same folders, resume
and error records, without per-frame progress.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ripdetect import records
from ripdetect.config import VideoConfig
from ripdetect.errors import InputError, RipdetectError
from ripdetect.files import OutputExistsError, write_json
from ripdetect.inference.predictor import Predictor
from ripdetect.records import write_csv
from ripdetect.video.io import is_stream
from ripdetect.video.process import process_video
from ripdetect.video.provenance import differences, input_identity, is_done, made_from, read_provenance

log = logging.getLogger(__name__)
OnFrame = Callable[[float, float], None]
OnFrameFactory = Callable[[str], OnFrame]
REPORT_NAMES = ("batch.csv", "batch.json")


@dataclass
class BatchItem:
    input: str
    output_dir: str
    status: str  # done | skipped | error
    error: str | None = None
    duration_s: float | None = None
    processing_s: float | None = None
    rip_detected: bool | None = None
    duration_estimated: bool | None = None  # the source has no timestamps: times assume its nominal fps
    partial_decode: bool | None = None  # decoding stopped before the end the container claims
    note: str | None = None  # e.g. why a finished result was redone

    @classmethod
    def from_summary(cls, source: str, out_dir: Path, status: str, summary: dict, note: str | None = None):
        return cls(source, str(out_dir), status, None, summary.get("duration_s"),
                   summary.get("processing_s") if status == "done" else 0.0, summary.get("rip_detected"),
                   summary.get("duration_estimated"), summary.get("partial_decode"), note)


def error_item(source: str, out_dir: str, reason: str) -> BatchItem:
    """The record of an input that could not be processed."""
    return BatchItem(source, out_dir, "error", reason)


def output_dirs(inputs: list[str], out_root: Path) -> list[Path]:
    """A distinct folder per input, named after its stem; the parent folder and then the extension are added
    where stems clash, and a counter as the last resort. A folder that holds another input's results is
    skipped for the next free name, so no input is ever reported with another's results."""
    def safe(name: str) -> str:
        cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).lstrip(".")
        return cleaned or "input"

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
    taken: set[str] = set(REPORT_NAMES)
    result = []
    for source, name in zip(inputs, names):
        candidate, count = name, 1
        while candidate in taken or _holds_another_input(out_root / candidate, source):
            count += 1
            candidate = f"{name}_{count}"
        taken.add(candidate)
        result.append(out_root / candidate)
    return result


def _holds_another_input(folder: Path, source: str) -> bool:
    record = read_provenance(folder)
    if record is None:
        return False
    recorded, wanted = record["made_from"].get("input", {}), input_identity(source)
    key = "stream" if is_stream(source) else "path"
    return recorded.get(key) != wanted.get(key)


def process_one(source: str, out_dir: Path, predictor: Predictor, video_config: VideoConfig,
                on_frame: OnFrame | None = None, overwrite: bool = False) -> BatchItem:
    """Process one input, or reuse its finished result when it was made from exactly this input, these
    settings and this model; every expected failure becomes an error record."""
    started = time.time()
    note = None
    try:
        record = read_provenance(out_dir)
        if is_done(out_dir):
            changed = differences(record["made_from"], made_from(source, predictor, video_config)) if record \
                else ["input or settings (not recorded by an older ripdetect)"]
            summary = None if changed else _finished_summary(out_dir)
            if summary is not None:
                return BatchItem.from_summary(source, out_dir, "skipped", summary)
            note = "redone: " + (f"the finished result was made from another {', '.join(changed)}" if changed
                                 else "the finished result's summary.json is unreadable")
            log.warning("%s: %s", source, note)
        summary = process_video(source, predictor, video_config, out_dir, on_frame, overwrite=overwrite)
    except RipdetectError as exc:
        return BatchItem(source, str(out_dir), "error", exc.reason, processing_s=records.seconds(time.time() - started))
    except OSError as exc:
        return BatchItem(source, str(out_dir), "error", _write_error(exc),
                         processing_s=records.seconds(time.time() - started))
    return BatchItem.from_summary(source, out_dir, "done", summary, note)


def _finished_summary(out_dir: Path) -> dict | None:
    try:
        summary = json.loads((out_dir / "summary.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return summary if isinstance(summary, dict) else None


def _write_error(exc: OSError) -> str:
    return f"cannot write output: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")


def run_batch(inputs: list[str | InputError], out_root: str | Path, predictor: Predictor, video_config: VideoConfig,
              jobs: int = 1, on_frame_factory: OnFrameFactory | None = None, overwrite: bool = False,
              executor: str = "local", ray_address: str | None = None) -> Iterator[BatchItem]:
    """Items in completion order (input order when ``jobs == 1``); ``batch.csv``/``batch.json`` are rewritten
    after each. ``on_frame_factory(source)`` gives a per-frame progress callback, in every mode. An
    ``InputError`` in ``inputs`` (an argument that named nothing usable) becomes its error record. An unusable
    ``out_root`` (a file, a read-only folder) gives every input an error record; a ``batch.csv`` or
    ``batch.json`` there that ripdetect did not write is an ``OutputExistsError`` unless ``overwrite``."""
    out_root = Path(out_root)
    root_error = _prepare_root(out_root, overwrite)
    sources = [item for item in inputs if not isinstance(item, InputError)]
    items: list[BatchItem] = []
    results: Iterator[BatchItem]
    in_order = jobs <= 1 and executor == "local"
    if root_error is not None:
        results = iter([BatchItem(source, str(out_root), "error", root_error) for source in sources])
    elif executor == "ray":
        from ripdetect.video.ray_batch import run_batch_on_ray  # Ray is an extra: loaded only when asked for

        results = run_batch_on_ray(list(zip(sources, output_dirs(sources, out_root))), predictor, video_config,
                                   jobs if jobs > 1 else None, overwrite, process_one, error_item, ray_address)
    elif jobs <= 1:
        results = (process_one(source, out_dir, predictor, video_config,
                               on_frame_factory(source) if on_frame_factory else None, overwrite)
                   for source, out_dir in zip(sources, output_dirs(sources, out_root)))
    else:
        results = _in_workers(list(zip(sources, output_dirs(sources, out_root))), predictor, video_config, jobs,
                              on_frame_factory, overwrite)
    for item in _in_input_order(inputs, results, in_order):
        items.append(item)
        if root_error is None:
            _write_report_or_warn(out_root, items)
        yield item


def _in_input_order(inputs: list[str | InputError], results: Iterator[BatchItem],
                    in_order: bool) -> Iterator[BatchItem]:
    """The error records of bad input arguments in their place (first, when the results come in completion
    order) among the results."""
    for item in inputs:
        if isinstance(item, InputError):
            yield BatchItem(item.path or "", "", "error", item.reason)
        elif in_order:
            yield next(results)
    yield from results


def _prepare_root(out_root: Path, overwrite: bool) -> str | None:
    """Make ``out_root``; the reason it cannot be used, or ``None``. Refuses a report that is not ours."""
    if out_root.exists() and not out_root.is_dir():
        return f"cannot write output: {out_root} is a file, not a folder"
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _write_error(exc)
    if not overwrite:
        for name in REPORT_NAMES:
            if (out_root / name).exists() and not _is_our_report(out_root / name):
                raise OutputExistsError("was not written by ripdetect video; use another --out, or --overwrite to "
                                        "replace it", out_root / name)
    return None


def _is_our_report(path: Path) -> bool:
    try:
        text = path.read_text()
        if path.suffix == ".csv":
            return text.startswith("input,output_dir,status")
        rows = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(rows, list) and all(isinstance(r, dict) and {"input", "status"} <= set(r) for r in rows)


def _write_report_or_warn(out_root: Path, items: list[BatchItem]) -> None:
    try:
        write_report(out_root, items)
    except OSError as exc:
        log.warning("%s: cannot write the batch report: %s", out_root, exc.strerror or exc)


def _worker_main(predictor: Predictor, threads: int, tasks, results, overwrite: bool) -> None:
    """A worker process: the caller's predictor, one input at a time, frame progress sent back."""
    import torch

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    predictor.backend.set_threads(threads)  # ONNX Runtime's own thread pool, when the model is an ONNX export
    while (task := tasks.get()) is not None:
        index, source, out_dir, video_config = task
        on_frame = lambda t, p, i=index: results.put(("frame", i, t, p))  # noqa: E731
        try:
            item = process_one(source, Path(out_dir), predictor, video_config, on_frame, overwrite)
        except Exception as exc:  # noqa: BLE001 - an unexpected failure is one input's error record
            item = BatchItem(source, out_dir, "error", f"internal error: {type(exc).__name__}: {exc}")
        results.put(("item", index, item))


def _in_workers(tasks: list[tuple[str, Path]], predictor: Predictor, video_config: VideoConfig, jobs: int,
                on_frame_factory: OnFrameFactory | None, overwrite: bool) -> Iterator[BatchItem]:
    context = multiprocessing.get_context("spawn")  # no fork of a process with torch threads
    task_queue, result_queue = context.Queue(), context.Queue()
    for index, (source, out_dir) in enumerate(tasks):
        task_queue.put((index, source, str(out_dir), video_config))
    jobs = min(jobs, len(tasks))
    for _ in range(jobs):
        task_queue.put(None)
    threads = max(1, (os.cpu_count() or 2) // jobs)
    workers = [context.Process(target=_worker_main, args=(predictor, threads, task_queue, result_queue, overwrite),
                               daemon=True)
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
    write_csv(out_root / "batch.csv", rows, [f.name for f in fields(BatchItem)])
    write_json(out_root / "batch.json", rows)
