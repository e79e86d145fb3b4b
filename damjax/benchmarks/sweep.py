"""Sweep-engine benchmark: throughput and bookkeeping overhead of :func:`damjax.sweep.run`.

``sweep_overhead`` = wall time of the engine on a fixed grid (grouping, batching, key
derivation, Parquet writes, progress bookkeeping) / wall time of the same per-point computations
called directly in a Python loop of jitted, seed-vmapped calls with results fetched to the host.
Both sides run warm (compiled before timing). Floor from the issue: <= 1.3.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import jax
import numpy as np

from ..sweep import Grid, compilation_count, get_experiment, point_id
from ..sweep import run as sweep_run
from ._timing import median_time

SUITE = "sweep"


def run(quick: bool = False) -> dict:
    N, K = (48, 24) if quick else (96, 48)
    rhos = np.linspace(0.0, 0.3, 6 if quick else 12).tolist()
    seeds = 8 if quick else 16
    grid = Grid({"N": [N], "K": [K, 2 * K], "rho": rhos}, seeds=seeds, fixed={"rule": "sync"})
    exp = get_experiment("retrieval")
    reps = 3 if quick else 5
    configs = [exp.resolve(p) for p in grid.points()]

    tmp = tempfile.TemporaryDirectory()
    counter = itertools.count()

    def engine():
        out = Path(tmp.name) / f"run{next(counter)}"
        return sweep_run(grid, exp, out, progress=False).rows_computed

    c0 = compilation_count()
    engine()  # compiles (cached for later runs)
    first_compilations = compilation_count() - c0
    c1 = compilation_count()
    t_engine = median_time(engine, repeats=reps, warmup=0)
    recompilations = compilation_count() - c1

    # the same computations, called directly: one jitted seed-vmapped call per point
    fns = {}

    def direct_fn(cfg):
        static = {k: v for k, v in cfg.items() if exp.is_static(k, v)}
        sig = tuple(sorted(static.items()))
        if sig not in fns:

            def one(seed, phash, rho):
                key = jax.random.fold_in(jax.random.key(seed), phash)
                return exp.fn({**static, "rho": rho, "beta": cfg["beta"]}, key)

            fns[sig] = jax.jit(jax.vmap(one, in_axes=(0, None, None)))
        return fns[sig]

    seed_arr = np.arange(seeds, dtype=np.int32)
    calls = [
        (direct_fn(c), np.int32(int(point_id(c)[:7], 16)), np.float32(c["rho"])) for c in configs
    ]

    def direct():
        return [jax.device_get(f(seed_arr, ph, r)) for f, ph, r in calls]

    t_direct = median_time(direct, repeats=reps)
    tmp.cleanup()
    return {
        "sweep_points_per_s": len(grid) / t_engine,
        "sweep_rows_per_s": grid.num_rows / t_engine,
        "sweep_overhead": t_engine / t_direct,
        "sweep_compilations": first_compilations,
        "sweep_recompilations": recompilations,
        "sweep_engine_s": t_engine,
        "sweep_direct_s": t_direct,
        "sweep_grid": {
            "points": len(grid),
            "seeds": seeds,
            "N": N,
            "K": [K, 2 * K],
            "experiment": "retrieval",
        },
    }
