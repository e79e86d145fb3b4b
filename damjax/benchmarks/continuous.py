"""Continuous-model benchmark: one ModernHopfield update and one Euler step of a Model A
LagrangianNetwork, each against the two bare matrix products of the same shapes."""

from __future__ import annotations

import statistics

import jax
import jax.numpy as jnp

from ..components.interactions import RectifiedPolynomial
from ..dynamics.continuous import Euler
from ..models import LagrangianNetwork, ModernHopfield
from ..patterns import random_binary
from ._timing import median_time

SUITE = "continuous"


def _interleaved(base, base_args, fn, fn_args, rounds):
    """Alternate timings of ``base`` and ``fn`` (3 calls each per round) and return the median
    times and the median of the per-round ratios, robust to a machine whose load changes."""
    ratios, tb, tf = [], [], []
    for _ in range(rounds):
        b = median_time(base, *base_args, repeats=3)
        f = median_time(fn, *fn_args, repeats=3)
        tb.append(b)
        tf.append(f)
        ratios.append(f / b)
    return statistics.median(tb), statistics.median(tf), statistics.median(ratios)


def run(quick: bool = False) -> dict:
    if quick:
        B, K, d = 64, 512, 64
        Bl, n_f, n_h = 64, 196, 400
        reps = 3
    else:
        B, K, d = 256, 4096, 256
        Bl, n_f, n_h = 256, 784, 2000
        reps = 7
    k1, k2, k3, k4 = jax.random.split(jax.random.key(0), 4)

    # --- ModernHopfield: softmax(beta Q X^T) X vs (Q X^T) X ---------------------------------------
    X = jax.random.normal(k1, (K, d)) / jnp.sqrt(d)
    Q = jax.random.normal(k2, (B, d)) / jnp.sqrt(d)
    model = ModernHopfield(X, 4.0)
    gemm = jax.jit(lambda Q, X: (Q @ X.T) @ X)
    update = jax.jit(lambda model, Q: jax.vmap(model.update)(Q))
    t_gemm, t_modern, r_modern = _interleaved(gemm, (Q, X), update, (model, Q), reps)

    # --- Model A: one Euler step of (v, h), tau_h finite ----------------------------------------
    xi = random_binary(k3, n_h, n_f)
    net = LagrangianNetwork.model_a(xi, RectifiedPolynomial(3), tau_h=0.5)
    v = random_binary(k4, Bl, n_f)
    h = jax.vmap(net.hidden)(v)
    rule = Euler(0.05)

    @jax.jit
    def euler_step(net, v, h):
        def one(v, h):
            dv, dh = net.ode_field((v, h))
            return v + rule.dt * dv, h + rule.dt * dh

        return jax.vmap(one)(v, h)

    gemm_l = jax.jit(lambda V, H, W: (V @ W.T, H @ W))
    t_gemm_l, t_step, r_step = _interleaved(gemm_l, (v, h, xi), euler_step, (net, v, h), reps)
    return {
        "modern_vs_gemm": r_modern,
        "lagrangian_step_vs_gemm": r_step,
        "modern_update_s": t_modern,
        "modern_gemm_s": t_gemm,
        "lagrangian_step_s": t_step,
        "lagrangian_gemm_s": t_gemm_l,
        "continuous_shapes": {
            "modern": {"B": B, "K": K, "d": d},
            "lagrangian": {"B": Bl, "N_f": n_f, "N_h": n_h, "model": "A, F=ReLU^3"},
        },
    }
