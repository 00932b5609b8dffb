"""Shared helpers for the benchmarks: interleaved repeats (median seconds per call), and a run in a fresh process."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved_medians(functions: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 2) -> dict[str, float]:
    """Run each function ``repeats`` times in turn (A B C A B C ...), so drift hits all equally."""
    for _ in range(warmup):
        for function in functions.values():
            function()
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def in_fresh_process(target: Callable, *args):
    """What ``target(*args, queue)`` puts on its queue, run in a fresh (spawned) process: for peak-memory figures
    that nothing else in this process has inflated."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result
