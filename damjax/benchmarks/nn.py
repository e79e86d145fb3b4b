"""Hopfield-layer benchmark (suite ``nn``): a one-step :class:`damjax.nn.Hopfield` against
:class:`equinox.nn.MultiheadAttention` with the same weights (forward + backward), and its forward
pass against the bare matrix products of the same shapes.

Keys: ``hopfield_fwd_bwd_vs_mha`` (floor <= 1.2) and ``hopfield_vs_gemm`` (floor <= 1.5), both
ratios of times measured in one run, interleaved round by round.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..nn import Hopfield
from ._timing import interleaved_times, median_ratio

SUITE = "nn"


def run(quick: bool = False) -> dict:
    if quick:
        B, S, D, H, reps = 4, 64, 64, 4, 5
    else:
        B, S, D, H, reps = 32, 256, 256, 8, 9
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(k1, (B, S, D))
    hop = Hopfield(D, num_heads=H, key=k2)
    mha = eqx.nn.MultiheadAttention(H, D, key=k3)
    proj = lambda m: (m.query_proj, m.key_proj, m.value_proj, m.output_proj)  # noqa: E731
    mha = eqx.tree_at(proj, mha, proj(hop))

    def loss(m, x):
        return jnp.sum(jax.vmap(lambda s: m(s, s, s))(x) ** 2)

    fwd_bwd = eqx.filter_jit(eqx.filter_grad(loss))
    forward = eqx.filter_jit(lambda m, x: jax.vmap(lambda s: m(s, s, s))(x))

    wq, wk, wv, wo = (lin.weight for lin in proj(hop))
    dk = D // H

    @jax.jit
    def gemm(x, wq, wk, wv, wo):
        q = (x @ wq.T).reshape(B, S, H, dk)
        k = (x @ wk.T).reshape(B, S, H, dk)
        v = (x @ wv.T).reshape(B, S, H, dk)
        a = jnp.einsum("bshd,bthd->bhst", q, k)
        z = jnp.einsum("bhst,bthd->bshd", a, v).reshape(B, S, D)
        return z @ wo.T

    times = interleaved_times(
        {
            "hopfield_fwd_bwd": (fwd_bwd, (hop, x)),
            "mha_fwd_bwd": (fwd_bwd, (mha, x)),
            "hopfield_fwd": (forward, (hop, x)),
            "gemm": (gemm, (x, wq, wk, wv, wo)),
        },
        repeats=reps,
    )
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    return {
        "hopfield_fwd_bwd_vs_mha": median_ratio(times, "hopfield_fwd_bwd", "mha_fwd_bwd"),
        "hopfield_vs_gemm": median_ratio(times, "hopfield_fwd", "gemm"),
        "hopfield_fwd_bwd_s": med["hopfield_fwd_bwd"],
        "mha_fwd_bwd_s": med["mha_fwd_bwd"],
        "hopfield_fwd_s": med["hopfield_fwd"],
        "hopfield_gemm_s": med["gemm"],
        "nn_shapes": {"B": B, "S": S, "width": D, "heads": H, "update_steps_max": 0},
    }
