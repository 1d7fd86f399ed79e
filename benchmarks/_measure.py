"""Shared timing helper of the in-process benchmarks (bench_health.py, bench_segment.py)."""
from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

__all__ = ["measure"]


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time (s) over ``repeat`` calls of ``fn``, the largest traced Python peak
    (MiB) among them, and the last call's result."""
    best, peak, out = float("inf"), 0, None
    for _ in range(repeat):
        gc.collect()
        tracemalloc.start()
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        _, pk = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        best, peak = min(best, dt), max(peak, pk)
    return best, peak / 2**20, out
