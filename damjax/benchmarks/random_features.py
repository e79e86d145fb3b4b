"""DrDAM benchmark: energy + gradient of a random-feature DAM, its peak memory, and its speed
against the exact log-sum-exp DAM with many memories.

Keys:

* ``rf_energy_grad_us`` — microseconds per query for energy and gradient of
  :class:`damjax.RandomFeatureDAM` at D = 100, Y = 2^16 SinCos projections (batch of queries,
  S regenerated from the key on the fly, as by default).
* ``rf_peak_bytes`` — bytes of the compiled single-query energy+gradient function (temporaries +
  arguments + outputs, from XLA's memory analysis), against ``rf_S_bytes`` (Y x D x 4, the bytes
  the projection matrix S would take) and ``rf_T_bytes``; ``rf_peak_over_S`` is their ratio.
* ``rf_vs_exact`` — time of the DrDAM energy+gradient over the time of the exact
  :class:`damjax.ExpDAM` energy+gradient for the same queries, both models storing the same
  K = 10^5 patterns (values < 1: DrDAM is faster). ``rf_stored_S_energy_grad_us`` is the
  per-query time when S is stored (:meth:`RandomFeatureDAM.with_projections`) instead of
  regenerated: the price of the O(chunk x D) memory.
* ``rf_energy_grad_vs_gemm`` — time of the batched energy + gradient of
  :class:`damjax.RandomFeatureDAM` (S kept, as chosen automatically under the memory budget) over
  the time of the bare matrix products of the same shapes, ``Q S^T`` (B x D by D x Y) and
  ``G S`` (B x Y by Y x D), measured interleaved in one run, at the paper's largest width
  D = 500 (Hoover et al. 2024, Fig. 3); target <= 1.5. ``rf_energy_grad_vs_gemm_by_D`` gives the
  same ratio for D = 30, 100, 500, with S kept and regenerated: at small D the cos / sin of the
  B x Y projections cost as much as the products themselves, so the ratio is larger there.

The first three keys time S regenerated (``store_projections=False``), the low-memory mode.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from ..models import ExpDAM, RandomFeatureDAM
from ._timing import interleaved_times, median_ratio, median_time

SUITE = "random_features"


@eqx.filter_jit
def _energy_grad(model, x):
    return jax.vmap(jax.value_and_grad(model.energy))(x)


def energy_grad_memory(model, x):
    """XLA's memory analysis of the compiled single-state ``value_and_grad(model.energy)``
    (``None`` on backends without one). The model is an argument, not a baked-in constant."""
    params, static = eqx.partition(model, eqx.is_array)

    def f(params, x):
        return jax.value_and_grad(eqx.combine(params, static).energy)(x)

    return jax.jit(f).lower(params, x).compile().memory_analysis()


@jax.jit
def _bare_products(S, Q, G):
    return Q @ S.T, G @ S


def vs_gemm(D: int, Y: int, B: int, repeats: int, *, store: bool) -> float:
    """Median over interleaved rounds of (energy + gradient time) / (bare products time)."""
    kx, kq, ks = jax.random.split(jax.random.key(D), 3)
    X = jax.random.bernoulli(kx, 0.5, (1000, D)).astype(jnp.float32) / math.sqrt(D)
    Q = jax.random.bernoulli(kq, 0.5, (B, D)).astype(jnp.float32) / math.sqrt(D)
    rf = RandomFeatureDAM(X, 30.0, num_features=Y, key=ks, store_projections=store)
    S, _ = rf.projections()
    G = jnp.ones((B, Y), jnp.float32)
    times = interleaved_times(
        {"rf": (_energy_grad, (rf, Q)), "gemm": (_bare_products, (S, Q, G))}, repeats=repeats
    )
    return median_ratio(times, "rf", "gemm")


def run(quick: bool = False) -> dict:
    D = 100
    Y = 2**12 if quick else 2**16
    K = 10**4 if quick else 10**5
    B = 32 if quick else 128
    chunk = 1024
    reps = 3 if quick else 5
    kx, kq, ks = jax.random.split(jax.random.key(0), 3)
    X = jax.random.bernoulli(kx, 0.5, (K, D)).astype(jnp.float32) / math.sqrt(D)
    Q = jax.random.bernoulli(kq, 0.5, (B, D)).astype(jnp.float32) / math.sqrt(D)

    rf = RandomFeatureDAM(
        X, 30.0, num_features=Y, key=ks, chunk_size=chunk, store_projections=False
    )
    exact = ExpDAM(X, 30.0)

    t_rf = median_time(_energy_grad, rf, Q, repeats=reps)
    t_exact = median_time(_energy_grad, exact, Q, repeats=reps)
    t_stored = median_time(_energy_grad, rf.with_projections(), Q, repeats=reps)

    mem = energy_grad_memory(rf, Q[0])
    if mem is not None:
        peak = int(mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes)
    else:  # pragma: no cover - backends without memory analysis
        peak = -1
    s_bytes = Y * D * 4
    Yg, Bg = (2**13, 64) if quick else (2**16, 128)
    by_d = {
        f"D={d},{'stored' if store else 'regenerated'}": vs_gemm(d, Yg, Bg, reps, store=store)
        for d in (30, 100, 500)
        for store in (True, False)
    }
    return {
        "rf_energy_grad_vs_gemm": by_d["D=500,stored"],
        "rf_energy_grad_vs_gemm_by_D": by_d,
        "rf_gemm_shapes": {"Y": Yg, "batch": Bg, "K": 1000},
        "rf_energy_grad_us": t_rf / B * 1e6,
        "rf_peak_bytes": peak,
        "rf_S_bytes": s_bytes,
        "rf_T_bytes": int(rf.T.nbytes),
        "rf_peak_over_S": peak / s_bytes,
        "rf_vs_exact": t_rf / t_exact,
        "rf_exact_energy_grad_us": t_exact / B * 1e6,
        "rf_stored_S_energy_grad_us": t_stored / B * 1e6,
        "rf_shapes": {"D": D, "Y": Y, "K": K, "batch": B, "chunk": rf.chunk_size},
    }
