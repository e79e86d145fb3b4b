"""Shared helpers of the Hu, Wu & Liu (2024) reproductions (not a reproduction itself)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

PAPER = (
    "Hu, Wu & Liu 2024, 'Provably Optimal Memory Capacity for Modern Hopfield Models: "
    "Transformer-Compatible Dense Associative Memories as Spherical Codes' (NeurIPS)"
)


def unit(a):
    """Rows scaled to unit Euclidean norm."""
    return a / jnp.linalg.norm(a, axis=-1, keepdims=True)


def digits_unit():
    """scikit-learn's bundled 8x8 digits (1797 x 64), centred by the pixel mean and scaled to unit
    norm, with their labels; no download."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32) / 16.0
    x = x - x.mean(axis=0)
    return np.asarray(unit(jnp.asarray(x))), y


@eqx.filter_jit
def _support_sizes(model, queries, threshold):
    probs = jax.vmap(model.probabilities)(queries)
    return jnp.sum(probs > threshold, axis=-1)


def support_sizes(model, queries, threshold: float = 0.01):
    """k = number of entries of the retrieval distribution p(query) above ``threshold``."""
    return np.asarray(_support_sizes(model, queries, threshold))


def k_shares(k, kmax: int = 10):
    """Share of queries with k = 1..kmax entries (index 0 is k = 1) and the share with k > kmax."""
    k = np.asarray(k)
    return np.array([np.mean(k == i) for i in range(1, kmax + 1)]), float(np.mean(k > kmax))
