"""Kernelized Hopfield benchmark: U-Hop+ stage-I training speed and 1.5-entmax against softmax."""

from __future__ import annotations

import jax
import optax

from ..components.feature_maps import LinearMap
from ..components.normalizers import entmax15, softmax, sparsemax
from ..learning.uhop import train_feature_map
from ._timing import median_time

SUITE = "kernelized"


def run(quick: bool = False) -> dict:
    reps = 3 if quick else 7
    # U-Hop+ stage I: M memories, d = D_Phi, Adam, a fixed number of steps jitted end-to-end
    m, d, dphi, steps = (250, 64, 64, 20) if quick else (1000, 64, 64, 100)
    kx, kw, kz = jax.random.split(jax.random.key(0), 3)
    patterns = jax.random.normal(kx, (m, d))
    fmap = LinearMap.random(kw, d, dphi)
    opt = optax.adam(1e-3)

    def train():
        return train_feature_map(fmap, patterns, steps=steps, optimizer=opt)

    t_train = median_time(train, repeats=reps)

    # normalizers at B x K
    b, k = (64, 1024) if quick else (256, 4096)
    z = 3.0 * jax.random.normal(kz, (b, k))
    f_soft, f_ent, f_sparse = jax.jit(softmax), jax.jit(entmax15), jax.jit(sparsemax)
    t_soft = median_time(f_soft, z, repeats=reps)
    t_ent = median_time(f_ent, z, repeats=reps)
    t_sparse = median_time(f_sparse, z, repeats=reps)
    f_sort = jax.jit(lambda v: entmax15(v, method="sort"))
    t_sort = median_time(f_sort, z, repeats=min(reps, 3))
    return {
        "uhop_train_steps_per_s": steps / t_train,
        "entmax_vs_softmax": t_ent / t_soft,
        "sparsemax_vs_softmax": t_sparse / t_soft,
        "entmax_sort_vs_softmax": t_sort / t_soft,
        "softmax_s": t_soft,
        "entmax15_s": t_ent,
        "kernelized_shapes": {"M": m, "d": d, "D_Phi": dphi, "steps": steps, "B": b, "K": k},
    }
