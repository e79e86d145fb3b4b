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


def interleaved_times(calls: dict, repeats: int = 7) -> dict:
    """Time every ``name -> (fn, args)`` once per round, rounds repeated ``repeats`` times.

    Timing the candidates back to back within each round keeps ratios honest on a busy machine:
    take ``median(t_a[r] / t_b[r])`` over rounds r (see :func:`median_ratio`).
    """
    for fn, args in calls.values():
        jax.block_until_ready(fn(*args))
    times: dict = {k: [] for k in calls}
    for _ in range(repeats):
        for name, (fn, args) in calls.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times[name].append(time.perf_counter() - t0)
    return times


def median_ratio(times: dict, num: str, den: str) -> float:
    """Median over rounds of ``times[num][r] / times[den][r]``."""
    return statistics.median(a / b for a, b in zip(times[num], times[den]))
