"""Timing helper: median wall time of repeated calls after a warm-up (compilation) call."""

from __future__ import annotations

import statistics
import time

import jax


def median_time(fn, *args, repeats: int = 7, warmup: int = 1) -> float:
    """Median seconds of ``fn(*args)`` (outputs blocked on), after ``warmup`` untimed calls."""
    for _ in range(warmup):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
