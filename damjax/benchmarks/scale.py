"""Scale benchmark: capacity estimators at N = 400 / 1000, peak memory per pattern entry (XLA
memory analysis), the paper's random-start K_1/2 at N = 200 / 400 (``k_half_random_n3_s``) and
the refilled lanes its dynamics run on (``random_start_lanes``), one candidate K of it on the
pool's size buckets against the whole masked pool (``random_start_buckets``), how often the tie
rule applies at random starts and float32's actual error against it (``random_start_tie_level``,
no timing), the blocked field against bare
GEMMs, the asynchronous sweep at N = 1600 (as
shipped, and the cue-blocked prototype of ``damjax.capacity._async_blocked``), the async kernel's
float32 and integer overlaps beyond the cache and in it (``async_overlap_layouts``), K-sharding on 4
fake devices (update, no-error capacity and sampled K_1/2), and the time of the n = 3 K_1/2
curve N = 100 ... 1000. The N = 2000 point of that curve is the opt-in suite ``scale-n2000``
(:mod:`damjax.benchmarks.scale_n2000`), not part of ``--suite all``."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import capacity as cap
from ..capacity._async_blocked import blocked_async
from ..capacity._blocked import tie_level
from ..capacity._sampled import _Probe, async_buckets, async_slots
from ..components.interactions import Polynomial
from ..dynamics import Async, retrieve, settle_async
from ..models import BinaryDAM
from ..patterns import random_binary
from ._timing import interleaved_times, median_ratio

SUITE = "scale"

_F = Polynomial(3)


def _k_half(N: int, seeds: int = 1, key=0):
    th = float(cap.krotov_k_half(N, 3))
    t0 = time.perf_counter()
    est = cap.sampled_k_half(
        _F,
        key=jax.random.key(key),
        dim=N,
        k_max=int(2 * th),
        k_min=max(1, int(th / 2)),
        seeds=seeds,
        k_width=0.05,
    )
    jax.block_until_ready(est.k_half)
    return time.perf_counter() - t0, est


def _summary(est) -> dict:
    return {
        "k_half": [int(x) for x in est.k_half],
        "lower": [int(x) for x in est.lower],
        "upper": [int(x) for x in est.upper],
        "num_probes": est.num_probes,
        "confidence": est.confidence,
        "ci_width_rel": max(float(x) for x in est.relative_width),
        "k_resolution": est.resolution,
    }


def _k_half_random(N: int, F=_F) -> tuple[float, dict]:
    """The paper's K_1/2 (random starts, random-order asynchronous dynamics, 93 probes for a
    Wilson half-width 0.1, bisection to 1% of K) for one seed, n = 3 (power F unless ``F``):
    seconds and the estimate. K in [0.05, 1.5] x theory as in ``krotov2016-capacity``."""
    th = float(cap.krotov_k_half(N, 3))
    t0 = time.perf_counter()
    est = cap.sampled_k_half(
        F,
        key=jax.random.key(N),
        dim=N,
        k_max=int(1.5 * th) + 10,
        k_min=max(1, int(0.05 * th)),
        starts="random",
        rule=Async(order="random"),
        halfwidth=0.1,
        k_resolution=0.01,
    )
    jax.block_until_ready(est.k_half)
    return time.perf_counter() - t0, {**_summary(est), "evaluations": int(est.evaluations[0])}


def _lanes_vs_batched(N: int, K: int, B: int, reps: int) -> dict:
    """Random starts run to convergence: the refilled lanes of ``settle_async`` (as the
    random-start K_1/2 uses them) against one batched ``retrieve`` of the same B starts (the
    same states); the ratio is batched / lanes time, in one run."""
    kx, ks = jax.random.split(jax.random.key(5))
    model = BinaryDAM(random_binary(kx, K, N), _F)
    S = random_binary(ks, B, N)
    rule, key = Async(order="random"), jax.random.key(6)
    slots = async_slots(B)
    batched = jax.jit(lambda m, S: retrieve(m, S, rule=rule, key=key, max_steps=50))
    lanes = jax.jit(lambda m, S: settle_async(m, S, rule=rule, key=key, max_steps=50, slots=slots))
    times = interleaved_times(
        {"batched": (batched, (model, S)), "lanes": (lanes, (model, S))}, reps
    )
    ref, got = batched(model, S), lanes(model, S)
    return {
        "N": N,
        "K": K,
        "B": B,
        "slots": slots,
        "ratio": median_ratio(times, "batched", "lanes"),
        "equal": int(bool(jnp.array_equal(ref.states, got.states))),
        "sweeps_sum": int(jnp.sum(ref.steps)),
        "sweeps_max": int(jnp.max(ref.steps)),
        "batched_s": statistics.median(times["batched"]),
        "lanes_s": statistics.median(times["lanes"]),
    }


def _buckets_vs_pool(N: int, reps: int) -> dict:
    """One candidate K of the random-start K_1/2 (K = 0.5 x theory, pool = 1.5 x theory + 10,
    93 probes, the reproduction's settings): the probes' dynamics over the whole masked pool
    against the smallest size bucket holding K (``_Probe(buckets=True)``); ratio pool / bucket
    time in one run, ``equal`` = 1 when the final states agree."""
    th = float(cap.krotov_k_half(N, 3))
    pool, K = int(1.5 * th) + 10, jnp.int32(int(0.5 * th))
    src = cap.StoredPatterns(random_binary(jax.random.key(7), pool, N))
    kw = dict(F=_F, rule=Async(order="random"), rho=0.0, num_probes=93, max_steps=50)
    kw.update(starts="random", method="exact")
    probes = {"pool": _Probe(**kw), "bucket": _Probe(**kw, buckets=True)}
    cues = random_binary(jax.random.key(8), 93, N)
    key = jax.random.key(9)
    run = eqx.filter_jit(lambda p, K: p._dynamics(src, K, cues, key)[0])
    times = interleaved_times({name: (run, (p, K)) for name, p in probes.items()}, reps)
    equal = jnp.array_equal(run(probes["pool"], K), run(probes["bucket"], K))
    return {
        "N": N,
        "K": int(K),
        "pool": pool,
        "bucket": min(s for s in async_buckets(pool) if s >= int(K)),
        "ratio": median_ratio(times, "pool", "bucket"),
        "equal": int(bool(equal)),
        "pool_s": statistics.median(times["pool"]),
        "bucket_s": statistics.median(times["bucket"]),
    }


def _tie_level_at_random_starts(N: int, K: int, P: int = 93) -> dict:
    """How often the tie rule (``|h| <= 8 sqrt(K) eps sum|terms|`` keeps the value) applies at
    random starts, and how large float32's actual error is against it: exact n = 3 fields in
    float64 for P random states against K random patterns (no timing)."""
    kx, ks = jax.random.split(jax.random.key(10))
    X, S = random_binary(kx, K, N), random_binary(ks, P, N)
    Xd, Sd = np.asarray(X, np.float64), np.asarray(S, np.float64)
    m = Sd @ Xd.T
    g1 = 0.5 * ((m + 2) ** 3 - (m - 2) ** 3)
    g0 = m**3 - 0.5 * ((m + 2) ** 3 + (m - 2) ** 3)
    h = g1 @ Xd + Sd * g0.sum(-1, keepdims=True)
    eps_sum = float(jnp.finfo(jnp.float32).eps) * (np.abs(g1) + np.abs(g0)).sum(-1, keepdims=True)
    tol = tie_level(K) / float(jnp.finfo(jnp.float32).eps) * eps_sum  # the rule BinaryDAM uses
    scaled, ls = jax.vmap(BinaryDAM(X, _F).scaled_field)(S)
    err = np.abs(np.asarray(scaled, np.float64) * np.exp(np.asarray(ls, np.float64))[:, None] - h)
    return {
        "N": N,
        "K": K,
        "starts": P,
        "within_tie_level": float(np.mean(np.abs(h) <= tol)),
        "max_error_over_tie_level": float(np.max(err / tol)),
        "max_error_over_eps_sum": float(np.max(err / eps_sum)),
    }


def _no_error(N: int):
    st = float(cap.krotov_k_all_stable(N, 3))
    t0 = time.perf_counter()
    k = cap.no_error_capacity(
        _F, key=jax.random.key(0), dim=N, k_max=int(3 * st), k_min=max(1, int(st / 3))
    )
    return time.perf_counter() - t0, int(k[0])


def _peak_bytes(N: int, K: int, B: int) -> dict:
    src = cap.RandomPatterns(jax.random.key(0), K, N)
    out = {}
    for name, s in (("stored_int8", src.stored()), ("regenerated", src)):
        mem = cap.field_memory(cap.BlockedDAM(s, _F), B)
        out[name] = {
            "temp_per_entry": mem["temp_bytes"] / (K * N),
            "resident_per_entry": (mem["temp_bytes"] + s.resident_bytes) / (K * N),
        }
    dense = jax.ShapeDtypeStruct((K, N), jnp.float32)
    mem = (
        jax.jit(lambda X, S: jax.vmap(BinaryDAM(X, _F).update)(S))
        .lower(dense, jax.ShapeDtypeStruct((B, N), jnp.float32))
        .compile()
        .memory_analysis()
    )
    out["float32_dense"] = {
        "temp_per_entry": mem.temp_size_in_bytes / (K * N),
        "resident_per_entry": (mem.temp_size_in_bytes + 4 * K * N) / (K * N),
    }
    return out


def _step_vs_gemm(N: int, K: int, B: int, reps: int) -> dict:
    kx, ks = jax.random.split(jax.random.key(1))
    X = random_binary(kx, K, N)
    S = random_binary(ks, B, N)
    model = cap.BlockedDAM(cap.StoredPatterns(X), _F)
    step = jax.jit(lambda m, S: m.batch_update(S))
    gemm = jax.jit(lambda S, X: (S @ X.T) @ X)
    times = interleaved_times({"step": (step, (model, S)), "gemm": (gemm, (S, X))}, repeats=reps)
    return {
        "ratio": median_ratio(times, "step", "gemm"),
        "step_s": statistics.median(times["step"]),
        "gemm_s": statistics.median(times["gemm"]),
    }


def _overlap_layouts(N: int, K: int, B: int, reps: int) -> dict:
    """One asynchronous sweep with the kernel's overlaps kept as float32 / as integers (traced
    with ``_BinaryDAMKernel.INTEGER_FROM_K`` forced either way), each / one synchronous update."""
    from unittest import mock

    from ..models.binary import _BinaryDAMKernel

    kx, ks = jax.random.split(jax.random.key(2))
    model = BinaryDAM(random_binary(kx, K, N), _F)
    S = random_binary(ks, B, N)
    rule = Async()
    calls = {"sync": (jax.jit(lambda m, S: jax.vmap(m.update)(S)), (model, S))}
    for name, threshold in (("float", K + 1), ("integer", 1)):
        # compiled ahead of time with the layout forced; the caches are cleared first, or the
        # trace would reuse retrieve's inner jit from the other layout
        jax.clear_caches()
        with mock.patch.object(_BinaryDAMKernel, "INTEGER_FROM_K", threshold):
            fn = jax.jit(lambda m, S: retrieve(m, S, rule=rule, max_steps=1).states)
            calls[name] = (fn.lower(model, S).compile(), (model, S))
    times = interleaved_times(calls, reps)
    return {
        "N": N,
        "K": K,
        "B": B,
        "float_ratio": median_ratio(times, "float", "sync"),
        "integer_ratio": median_ratio(times, "integer", "sync"),
        "float_over_integer": median_ratio(times, "float", "integer"),
    }


def _async_vs_sync(N: int, K: int, B: int, reps: int, cue_block: int = 4) -> dict:
    kx, ks = jax.random.split(jax.random.key(2))
    model = BinaryDAM(random_binary(kx, K, N), _F)
    S = random_binary(ks, B, N)
    sync = jax.jit(lambda m, S: jax.vmap(m.update)(S))
    rule = Async()

    @jax.jit
    def sweep(m, S):
        key = jax.random.key(0)
        return retrieve(m, S, rule=rule, max_steps=1, key=key).states

    @jax.jit
    def blocked(m, S):
        return blocked_async(m, S, key=jax.random.key(0), max_steps=1, cue_block=cue_block).states

    calls = {"async": (sweep, (model, S)), "sync": (sync, (model, S))}
    calls["blocked"] = (blocked, (model, S))
    times = interleaved_times(calls, reps)
    return {
        "ratio": median_ratio(times, "async", "sync"),
        "blocked_ratio": median_ratio(times, "blocked", "sync"),
        "blocked_equal": int(bool(jnp.array_equal(blocked(model, S), sweep(model, S)))),
        "cue_block": cue_block,
        "async_sweep_s": statistics.median(times["async"]),
        "blocked_sweep_s": statistics.median(times["blocked"]),
        "sync_update_s": statistics.median(times["sync"]),
    }


_KSHARD = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    import damjax as dj
    from damjax import capacity as cap
    from damjax.patterns import flip
    assert jax.local_device_count() == 4
    N, K, B = {N}, {K}, 64
    F = dj.Polynomial(3)
    ok = True
    for kind in ("stored", "regenerated"):
        src = cap.RandomPatterns(jax.random.key(0), K, N, block_size=256)
        src = src.stored() if kind == "stored" else src
        model = cap.BlockedDAM(src, F)
        cues = flip(jax.random.key(1), src.rows(jnp.arange(B)), 0.2)
        one = cues
        for _ in range(3):
            one = model.batch_update(one)
        for batch, k in ((1, 4), (2, 2)):
            mesh = cap.kshard_mesh(k, batch_devices=batch)
            ok &= bool(np.array_equal(one, cap.kshard_update(model, cues, mesh, steps=3)))
        small = cap.RandomPatterns(jax.random.key(2), {KC}, 100, block_size=64)
        small = small.stored() if kind == "stored" else small
        got = cap.kshard_no_error_capacity(F, small, cap.kshard_mesh(2, batch_devices=2))
        ok &= got == int(cap.no_error_capacity(F, patterns=small, block_size=64)[0])
        pool = cap.RandomPatterns(jax.random.key(3), 700, 64, block_size=32)
        pool = pool.stored() if kind == "stored" else pool
        for kw in (dict(k_min=30), dict(rho=0.1, k_min=20, num_probes=96, halfwidth=0.1)):
            ref = cap.sampled_k_half(F, key=jax.random.key(4), patterns=pool, **kw)
            est = cap.kshard_sampled_k_half(
                F, pool, cap.kshard_mesh(2, batch_devices=2), key=jax.random.key(4), **kw
            )
            ok &= all(bool(np.array_equal(getattr(est, f), getattr(ref, f)))
                      for f in ("k_half", "lower", "upper"))
    print("KSHARD", int(ok))
    """
)


def _kshard_equal(N: int, K: int, KC: int) -> int:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    r = subprocess.run(
        [sys.executable, "-c", _KSHARD.format(N=N, K=K, KC=KC)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    for line in r.stdout.splitlines():
        if line.startswith("KSHARD "):
            return int(line.split()[1])
    raise RuntimeError(f"K-sharding check failed to run:\n{r.stderr[-2000:]}")


def run(quick: bool = False) -> dict:
    sizes = (100, 200) if quick else (400, 1000)
    out: dict = {"k_half_n3_s": {}, "k_half_n3": {}, "no_error_capacity_n3_s": {}}
    out["no_error_capacity_n3"] = {}
    for N in sizes:
        t, est = _k_half(N)
        out["k_half_n3_s"][f"N{N}"] = t
        out["k_half_n3"][f"N{N}"] = _summary(est)
        t, k = _no_error(N)
        out["no_error_capacity_n3_s"][f"N{N}"] = t
        out["no_error_capacity_n3"][f"N{N}"] = k
    N, K, B = (200, 4096, 64) if quick else (1000, 32768, 64)
    peak = _peak_bytes(N, K, B)
    out["capacity_peak_bytes_per_entry"] = peak["stored_int8"]["temp_per_entry"]
    out["capacity_peak_bytes_per_entry_regenerated"] = peak["regenerated"]["temp_per_entry"]
    out["capacity_memory"] = {"N": N, "K": K, "B": B, **peak}
    N, K, B = (200, 4096, 64) if quick else (1000, 16384, 256)
    step = _step_vs_gemm(N, K, B, reps=3 if quick else 5)
    out["capacity_step_vs_gemm"] = step["ratio"]
    out["capacity_step"] = {"N": N, "K": K, "B": B, **step}
    N, K, B = (200, 4000, 16) if quick else (1600, 64000, 64)
    asy = _async_vs_sync(N, K, B, reps=2 if quick else 3)
    out["async_vs_sync_large"] = asy["ratio"]
    out["async_vs_sync_large_cue_blocked"] = asy["blocked_ratio"]
    out["async_large"] = {"N": N, "K": K, "B": B, **asy}
    # the asynchronous kernel's two overlap layouts, beyond the cache and in it (the kernel picks
    # integers from _BinaryDAMKernel.INTEGER_FROM_K patterns on)
    shapes = ((200, 4000, 16), (100, 500, 64)) if quick else ((1600, 64000, 64), (400, 2000, 256))
    out["async_overlap_layouts"] = [_overlap_layouts(*sh, reps=2 if quick else 3) for sh in shapes]
    # the paper's K_1/2 definition (random starts, asynchronous dynamics) and its lanes
    N, frac = (64, 0.6) if quick else (400, 0.5)
    out["random_start_lanes"] = _lanes_vs_batched(
        N, int(frac * float(cap.krotov_k_half(N, 3))), 93, reps=1 if quick else 2
    )
    out["random_start_buckets"] = _buckets_vs_pool(200 if quick else 400, reps=1 if quick else 2)
    out["random_start_tie_level"] = [
        _tie_level_at_random_starts(N, K)
        for N, K in (((64, 100), (64, 400)) if quick else ((1000, 1000), (1000, 11000)))
    ]
    out["k_half_random_n3_s"], out["k_half_random_n3"] = {}, {}
    for N in (40, 64) if quick else (200, 400):
        t, est = _k_half_random(N)
        out["k_half_random_n3_s"][f"N{N}"] = t
        out["k_half_random_n3"][f"N{N}"] = est
    out["kshard_equal"] = _kshard_equal(64, 1024, 600) if quick else _kshard_equal(400, 8192, 600)
    curve = (100, 150) if quick else tuple(range(100, 1001, 100))
    t0 = time.perf_counter()
    pts = {}
    for N in curve:
        _, est = _k_half(N, seeds=5, key=N)
        pts[f"N{N}"] = _summary(est)
    out["k_half_curve_n3_s"] = time.perf_counter() - t0
    out["k_half_curve_n3"] = {"seeds": 5, "ci_target_rel": 0.05, "points": pts}
    return out
