r"""U-Hop+ (Hu, Wu & Liu 2024, "Provably Optimal Memory Capacity for Modern Hopfield Models",
NeurIPS): learn the feature map of a kernelized Hopfield model so that the memories form a
well-separated spherical code in feature space, then retrieve with the learned kernel.

Stage I minimises the separation loss on normalised features
:math:`\hat\Phi_\mu = \Phi(\xi^\mu) / \lVert\Phi(\xi^\mu)\rVert`,

.. math:: \mathcal{L}(\Phi) = \frac1M \log\Big[\frac{2}{M(M-1)} \sum_{\mu<\nu}
   \exp\big(\langle\hat\Phi_\mu, \hat\Phi_\nu\rangle / \tau\big)\Big],

a smoothed maximum of the pairwise cosines (temperature :math:`\tau`, about 0.1 in the paper),
over the parameters of :math:`\Phi` with an optax optimiser for a fixed number of steps; stage II is
ordinary retrieval with :class:`damjax.KernelizedHopfield` and the learned map
(:func:`damjax.retrieve`). The whole of stage I is one ``lax.scan`` under ``eqx.filter_jit`` and can
be vmapped over seeds (``eqx.filter_vmap`` over a batch of initial feature maps and keys).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._custom_types import Array, Float, PRNGKeyArray, Scalar, is_concrete
from .._numerics import HI as _HI
from .._validation import check_positive_int
from ..components.feature_maps import check_feature_map
from ..models.kernelized import KernelizedHopfield

__all__ = ["feature_separation_loss", "separation_loss", "train_feature_map", "uhop_plus"]


def _check_tau(tau):
    if isinstance(tau, bool):
        raise TypeError(f"`tau` must be a number > 0; got {tau!r}")
    if isinstance(tau, (int, float)) or is_concrete(tau):
        v = float(np.asarray(tau))
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"`tau` (temperature of the separation loss) must be > 0; got {v}")
    return tau


def separation_loss(features: Float[Array, "M D"], tau: float = 0.1) -> Scalar:
    r"""The U-Hop+ separation loss :math:`\frac1M \log[\frac{2}{M(M-1)}\sum_{\mu<\nu}
    e^{\langle\hat\Phi_\mu,\hat\Phi_\nu\rangle/\tau}]` (computed with log-sum-exp, no overflow).

    **Arguments:** ``features`` — (M, D) feature vectors (normalised here); ``tau`` — temperature.

    **Returns:** a scalar, smaller the more evenly the features spread out on the sphere.

    **Raises:** ``ValueError`` if ``features`` is not 2-D, M < 2 or ``tau <= 0``.
    """
    features = jnp.asarray(features)
    if features.ndim != 2:
        raise ValueError(
            f"`features` must be a 2-D array of shape (M, D_Phi); got shape {features.shape}"
        )
    m = features.shape[0]
    if m < 2:
        raise ValueError(f"the separation loss needs at least two memories (M >= 2); got M = {m}")
    _check_tau(tau)
    norms = jnp.sqrt(jnp.sum(features**2, axis=1, keepdims=True) + 1e-30)
    unit = features / norms
    gram = jnp.dot(unit, unit.T, precision=_HI)
    idx = jnp.arange(m)
    upper = idx[:, None] < idx[None, :]
    lse = jax.nn.logsumexp(jnp.where(upper, gram / tau, -jnp.inf))
    return (lse + math.log(2.0 / (m * (m - 1)))) / m


def feature_separation_loss(feature_map, patterns: Float[Array, "M d"], tau: float = 0.1) -> Scalar:
    r""":func:`separation_loss` of the memories' features :math:`\Phi(\xi^\mu)`.

    **Raises:** ``ValueError`` / ``TypeError`` when ``feature_map`` does not take the patterns'
    width d (:func:`damjax.components.feature_maps.check_feature_map`)."""
    patterns = jnp.asarray(patterns)
    if patterns.ndim != 2:
        raise ValueError(f"`patterns` must have shape (M, d); got {patterns.shape}")
    check_feature_map(feature_map, patterns.shape[1], patterns.dtype)
    return separation_loss(jax.vmap(feature_map)(patterns), tau)


@eqx.filter_jit
def _train(feature_map, patterns, optimizer, steps, tau, batch_size, key):
    params, static = eqx.partition(feature_map, eqx.is_inexact_array)
    m = patterns.shape[0]

    def loss_fn(params, batch):
        return feature_separation_loss(eqx.combine(params, static), batch, tau)

    def step(carry, k):
        params, state = carry
        if batch_size is None:
            batch = patterns
        else:
            batch = patterns[jax.random.choice(k, m, (batch_size,), replace=False)]
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        return (params, state), loss

    keys = jax.random.split(key, steps)
    (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), keys)
    return eqx.combine(params, static), losses


def train_feature_map(
    feature_map,
    patterns: Float[Array, "M d"],
    *,
    steps: int = 500,
    tau: float = 0.1,
    optimizer: optax.GradientTransformation | None = None,
    batch_size: int | None = None,
    key: PRNGKeyArray | None = None,
) -> tuple[object, Float[Array, " steps"]]:
    r"""U-Hop+ stage I: minimise the separation loss of ``patterns`` over the feature map's
    parameters (all inexact-array leaves of the module), jitted end-to-end as one ``lax.scan``.

    **Arguments:**

    * ``feature_map`` — the initial map (:class:`damjax.LinearMap`, :class:`damjax.MLPMap`, ...).
    * ``patterns`` — (M, d) memories.
    * ``steps`` — number of optimiser steps.
    * ``tau`` — loss temperature (> 0).
    * ``optimizer`` — any optax transformation, e.g. ``optax.adam(optax.cosine_decay_schedule(
      1e-2, steps))`` or ``optax.sgd(0.1)`` (default ``optax.adam(1e-2)``).
    * ``batch_size`` — if set, each step uses a random subset of that many memories (needs ``key``).
    * ``key`` — PRNG key for the subsets.

    **Returns:** ``(trained_feature_map, losses)`` with the loss BEFORE each step (shape (steps,)).

    **Raises:** ``ValueError`` for ``tau <= 0``, M < 2, a bad ``steps``/``batch_size``, a missing
    ``key`` with ``batch_size``, or a feature map whose output is not a 1-D vector.

    To train several seeds at once, vmap over a batch of initial maps::

        maps = eqx.filter_vmap(lambda k: damjax.LinearMap.random(k, d, D))(keys)
        trained, losses = eqx.filter_vmap(
            lambda fm: train_feature_map(fm, patterns, steps=200))(maps)
    """
    patterns = jnp.asarray(patterns)
    if patterns.ndim != 2:
        raise ValueError(f"`patterns` must be a 2-D array of shape (M, d); got {patterns.shape}")
    m = patterns.shape[0]
    if m < 2:
        raise ValueError(f"U-Hop+ needs at least two memories (M >= 2); got M = {m}")
    check_feature_map(feature_map, patterns.shape[1], patterns.dtype)
    _check_tau(tau)
    steps = check_positive_int(steps, "steps")
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size", minimum=2)
        if batch_size > m:
            raise ValueError(f"`batch_size` must be <= M = {m}; got {batch_size}")
        if key is None:
            raise ValueError("`key` is required when `batch_size` is set (random memory subsets)")
        if batch_size == m:
            batch_size = None
    if key is None:
        key = jax.random.key(0)
    if optimizer is None:
        optimizer = _default_optimizer()
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"`optimizer` must be an optax GradientTransformation; got {optimizer!r}")
    return _train(feature_map, patterns, optimizer, steps, tau, batch_size, key)


_DEFAULT_OPT: list = []


def _default_optimizer():
    # one shared object so that repeated calls hit the jit cache
    if not _DEFAULT_OPT:
        _DEFAULT_OPT.append(optax.adam(1e-2))
    return _DEFAULT_OPT[0]


def uhop_plus(
    patterns: Float[Array, "M d"],
    feature_map,
    *,
    beta: float = 1.0,
    normalizer="softmax",
    steps: int = 500,
    tau: float = 0.1,
    optimizer: optax.GradientTransformation | None = None,
    batch_size: int | None = None,
    key: PRNGKeyArray | None = None,
) -> tuple[KernelizedHopfield, Float[Array, " steps"]]:
    r"""U-Hop+: stage I (:func:`train_feature_map`) and the stage II model
    :class:`damjax.KernelizedHopfield` with the learned feature map; retrieve with
    :func:`damjax.retrieve`.

    **Arguments:** ``patterns``, ``feature_map`` (initial map), ``beta`` and ``normalizer`` of the
    stage II model, and the stage I settings of :func:`train_feature_map`.

    **Returns:** ``(model, losses)``.

    **Raises:** as :func:`train_feature_map` and :class:`damjax.KernelizedHopfield`.
    """
    trained, losses = train_feature_map(
        feature_map,
        patterns,
        steps=steps,
        tau=tau,
        optimizer=optimizer,
        batch_size=batch_size,
        key=key,
    )
    return KernelizedHopfield(patterns, trained, beta, normalizer), losses
