"""Shared helpers of the Hu, Wu & Liu (2024) reproductions (not a reproduction itself)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

import damjax

PAPER = (
    "Hu, Wu & Liu 2024, 'Provably Optimal Memory Capacity for Modern Hopfield Models: "
    "Transformer-Compatible Dense Associative Memories as Spherical Codes' (NeurIPS)"
)

#: The authors' code (github MAGICS-LAB/Optimal-Hopfield-Memory), cited by file name.
CODE = "github MAGICS-LAB/Optimal-Hopfield-Memory"


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


def digits_pm1():
    """scikit-learn's digits with pixels mapped from [0, 16] to [-1, 1] (no norm scaling), as the
    authors' MNIST script maps MNIST pixels (``Normalize(0.5, 0.5)``), with their labels."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x.astype(np.float32) / 8.0 - 1.0), y


def kaiming_weight(key, in_dim: int, out_dim: int):
    """W ~ N(0, 2 / in_dim), shape (out_dim, in_dim): the initialisation of the authors'
    ``FeatureMap`` (``kaiming_normal_``, feature_map.py)."""
    return jax.random.normal(key, (out_dim, in_dim)) * jnp.sqrt(2.0 / in_dim)


@functools.partial(jax.jit, static_argnames=("normalizer", "n_iter", "cosine"))
def metastable_probabilities(mems, queries, weight, beta, *, normalizer, n_iter, cosine=False):
    r"""Run the (kernelized) CCCP retrieval :math:`x \leftarrow \Xi^\top
    \mathrm{Sep}(\beta\,\langle\Phi(\Xi), \Phi(x)\rangle)` for ``n_iter`` steps from every query and
    return the retrieval distribution p at the state reached (the metastable state) and the
    residual :math:`\max_i |T(x) - x|_i` of one more step there.

    **Arguments:** ``mems`` (M, d); ``queries`` (Q, d); ``weight`` — (D_Phi, d) W of
    :math:`\Phi(x) = W x`, or None for :math:`\Phi` = id; ``beta``; ``normalizer``; ``n_iter``;
    ``cosine`` — normalise the features (cosine kernel) instead of the raw kernel.

    **Returns:** ``(p, residual)`` of shapes (Q, M) and (Q,).
    """
    d = mems.shape[-1]
    fm = damjax.IdentityMap(d) if weight is None else damjax.LinearMap(weight)
    if cosine:
        fm = damjax.NormalizedMap(fm)
    model = damjax.KernelizedHopfield(mems, fm, beta, normalizer)
    step = jax.vmap(model.update)
    x = jax.lax.fori_loop(0, n_iter, lambda _, s: step(s), queries)
    p = jax.vmap(model.probabilities)(x)
    return p, jnp.max(jnp.abs(step(x) - x), axis=-1)


def support_sizes(p, eps: float):
    """k = number of entries of each row of p above ``eps`` (the authors count p > 0 for the
    sparse entmax and p > 0.01 for softmax: synthetic_metastable.py, MNIST_metastable.py)."""
    return np.asarray(jnp.sum(p > eps, axis=-1))


def k_shares(k, kmax: int = 10):
    """Share of queries with k = 1..kmax entries (index 0 is k = 1) and the share with k > kmax."""
    k = np.asarray(k)
    return np.array([np.mean(k == i) for i in range(1, kmax + 1)]), float(np.mean(k > kmax))
