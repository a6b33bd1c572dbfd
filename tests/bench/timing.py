"""Timing helpers shared by the benchmarks (``tests/bench/bench_*.py``, run as scripts: ``make bench``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls of ``fn``, seconds."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def interleaved(fns: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median ``(wall s, CPU s)`` of each function; one warm-up call each, then ``repeats`` rounds in
    which the functions alternate, so load drifts of a shared machine hit all alike.

    CPU time (``time.process_time``, this process only) is far less sensitive to other processes than
    the wall clock: on a shared machine the ratios of single-threaded runs use it.
    """
    for fn in fns.values():  # warm-up
        fn()
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            cpu[k].append(time.process_time() - c0)
            wall[k].append(time.perf_counter() - w0)
    return {k: (float(statistics.median(wall[k])), float(statistics.median(cpu[k]))) for k in fns}
