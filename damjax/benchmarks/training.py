"""Training benchmark: one epoch of the n = 3 Krotov-Hopfield classifier on the 8x8 digits (K = 100)
against the bare matrix products that epoch needs."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..datasets import load_digits
from ..learning import init_classifier, krotov_hopfield_optimizer, make_epoch
from ._timing import median_time

SUITE = "training"


def run(quick: bool = False) -> dict:
    K, n, batch = 100, 3, 100
    reps = 3 if quick else 7
    data = load_digits()
    images, labels = data.images, data.labels
    steps = images.shape[0] // batch
    model = init_classifier(
        jax.random.key(0), n_memories=K, n_pixels=data.n_pixels, n_classes=10, n=n
    )
    tx = krotov_hopfield_optimizer(0.04, steps_per_epoch=steps)
    epoch = make_epoch(tx, m=4, batch_size=batch)
    state = tx.init(model.memories)
    key = jax.random.key(1)
    T = jnp.float32(20.0)

    def one_epoch(model, state):
        return epoch(model, state, images, labels, key, T)

    t_epoch = median_time(one_epoch, model, state, repeats=reps)

    # The products an epoch cannot avoid, per minibatch: overlaps X_b Xi_p^T (B x P x K) and the
    # weight gradient W^T X_b (K x B x P), over the same minibatches.
    Xi = model.memories[:, : data.n_pixels]
    xb = images[: steps * batch].reshape(steps, batch, data.n_pixels)

    @jax.jit
    def gemms(Xi, xb):
        def body(acc, x):
            ov = x @ Xi.T
            return acc + ov.T @ x, None

        out, _ = jax.lax.scan(body, jnp.zeros_like(Xi), xb)
        return out

    t_gemm = median_time(gemms, Xi, xb, repeats=reps)
    return {
        "train_epoch_s": t_epoch,
        "train_vs_gemm": t_epoch / t_gemm,
        "train_gemm_s": t_gemm,
        "train_shapes": {
            "images": int(images.shape[0]),
            "P": data.n_pixels,
            "K": K,
            "n": n,
            "batch": batch,
            "C": 10,
        },
    }
