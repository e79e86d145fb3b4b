"""Core benchmark: the exact binary-DAM update against bare GEMMs, a naive rule and NumPy."""

from __future__ import annotations

import statistics

import jax
import jax.numpy as jnp
import numpy as np

from ..components.interactions import Polynomial
from ..dynamics import Async, retrieve
from ..models import BinaryDAM
from ..patterns import random_binary
from ._timing import interleaved_times, median_ratio

SUITE = "core"


def naive_update(X, F, S):
    """The paper's rule taken literally: for every neuron, F at both values of s_i over all
    memories, with the overlaps recomputed from scratch (O(N K) per neuron)."""
    n = X.shape[1]
    eye = jnp.eye(n, dtype=S.dtype)

    def one(s):
        plus = jnp.where(eye > 0, 1.0, s[None, :])  # (N, N): row i has s_i = +1
        minus = jnp.where(eye > 0, -1.0, s[None, :])
        diff = jnp.sum(F(plus @ X.T) - F(minus @ X.T), axis=1)
        return jnp.where(diff > 0, 1.0, jnp.where(diff < 0, -1.0, s))

    return jax.lax.map(one, S)


def numpy_field(X, S, n):
    """NumPy float32 implementation of the same exact field (two GEMMs + elementwise terms)."""
    m = S @ X.T
    c = np.abs(m).max(axis=1, keepdims=True) + np.float32(2)
    fp, fm, f0 = ((m + 2) / c) ** n, ((m - 2) / c) ** n, (m / c) ** n
    g1 = np.float32(0.5) * (fp - fm)
    g0 = f0 - np.float32(0.5) * (fp + fm)
    h = g1 @ X + S * g0.sum(axis=1, keepdims=True)
    return np.where(h > 0, 1, np.where(h < 0, -1, S)).astype(np.float32)


def run(quick: bool = False) -> dict:
    B, K, N, n = (64, 500, 100, 3) if quick else (256, 2000, 400, 3)
    reps = 3 if quick else 9
    kx, ks = jax.random.split(jax.random.key(0))
    X = random_binary(kx, K, N)
    S = random_binary(ks, B, N)
    model = BinaryDAM(X, Polynomial(n))

    gemm = jax.jit(lambda S, X: (S @ X.T) @ X)
    sync = jax.jit(lambda model, S: jax.vmap(model.update)(S))
    rule = Async()

    @jax.jit
    def async_sweep(model, S):
        return retrieve(model, S, rule=rule, max_steps=1).states

    naive = jax.jit(lambda X, S: naive_update(X, Polynomial(n), S))
    Xn, Sn = np.asarray(X), np.asarray(S)
    times = interleaved_times(
        {"gemm": (gemm, (S, X)), "sync": (sync, (model, S)), "async": (async_sweep, (model, S))},
        repeats=reps,
    )
    # NumPy in rounds of its own: its BLAS threads keep spinning for a while after each call and
    # would slow whichever XLA computation ran next, distorting the JAX-vs-JAX ratios above
    with_np = interleaved_times(
        {"sync": (sync, (model, S)), "numpy": (lambda: numpy_field(Xn, Sn, n), ())}, repeats=reps
    )
    # the naive rule is ~100x slower: fewer rounds, each paired with its own sync timing
    slow = interleaved_times({"sync": (sync, (model, S)), "naive": (naive, (X, S))}, repeats=2)
    t_sync = statistics.median(times["sync"])

    # the naive rule and NumPy must agree with damjax (same decisions) for the ratios to be fair
    ours = np.asarray(sync(model, S))
    agree_naive = float(np.mean(np.asarray(naive(X, S)) == ours))
    agree_np = float(np.mean(numpy_field(Xn, Sn, n) == ours))
    return {
        "sync_vs_gemm": median_ratio(times, "sync", "gemm"),
        "naive_speedup": median_ratio(slow, "naive", "sync"),
        "async_vs_sync": median_ratio(times, "async", "sync"),
        "numpy_speedup": median_ratio(with_np, "numpy", "sync"),
        "sync_update_s": t_sync,
        "gemm_s": statistics.median(times["gemm"]),
        "async_sweep_s": statistics.median(times["async"]),
        "naive_update_s": statistics.median(slow["naive"]),
        "numpy_update_s": statistics.median(with_np["numpy"]),
        "agreement_naive": agree_naive,
        "agreement_numpy": agree_np,
        "core_shapes": {"B": B, "K": K, "N": N, "F": f"x^{n}"},
    }
