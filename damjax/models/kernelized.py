r"""Kernelized Hopfield model (KHM; Hu, Wu & Liu 2024, "Provably Optimal Memory Capacity for Modern
Hopfield Models", NeurIPS).

Memories :math:`\xi^\mu \in \mathbb{R}^d` (rows of ``patterns``, shape (M, d)), a feature map
:math:`\Phi: \mathbb{R}^d \to \mathbb{R}^{D_\Phi}` and the kernel
:math:`\mathcal{K}(x, y) = \langle\Phi(x), \Phi(y)\rangle`. One retrieval step is

.. math:: p = \mathrm{Sep}\big(\beta\, \mathcal{K}(\Xi, x)\big), \qquad x \leftarrow \Xi^\top p,

with the separation function Sep a normalizer (softmax, 1.5-entmax, sparsemax, alpha-entmax;
:mod:`damjax.normalizers`). The energy (the sparse/generalized Hopfield energy of Hu et al. 2023 with
the kernel in place of the dot product) is

.. math:: E(x) = \tfrac12 \langle x, x\rangle - \tfrac1\beta\, \Psi^*\big(\beta\,\mathcal{K}(\Xi, x)\big),

where :math:`\Psi^*` is the convex conjugate of the normalizer's entropy (log-sum-exp for softmax),
so with :math:`\Phi = \mathrm{id}` and softmax this is the modern Hopfield model of Ramsauer et al.
(2020) up to constants, and the update is its concave-convex (CCCP) step. For a general
:math:`\Phi` the update is the retrieval map of the paper; the energy describes the landscape but is
not guaranteed to decrease along it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._custom_types import Array, Float, Scalar
from .._numerics import HI as _HI
from .._validation import as_real_float, check_finite_array, check_positive_scalar
from ..components.feature_maps import check_feature_map
from ..components.normalizers import AbstractNormalizer, get_normalizer
from ._base import AbstractPatternMemory
from ._continuous import AbstractContinuousMemory


class KernelizedHopfield(AbstractContinuousMemory, AbstractPatternMemory):
    r"""Kernelized Hopfield model with retrieval :math:`x \leftarrow \Xi^\top
    \mathrm{Sep}(\beta \langle\Phi(\Xi), \Phi(x)\rangle)` (Hu, Wu & Liu 2024).

    Use with :func:`damjax.retrieve` (e.g. ``rule=damjax.Sync(tol=1e-6)``). The continuous-time
    rules (``Euler``, ``ODE``) integrate :math:`dx/dt = \Xi^\top p(x) - x`, which is the gradient
    flow :math:`-\nabla E` when :math:`\Phi` is the identity (for other maps ``ode_energy`` is
    the energy above but need not decrease along the flow).

    **Arguments:**

    * ``patterns`` — (M, d) real memories.
    * ``feature_map`` — :class:`damjax.IdentityMap`, :class:`damjax.LinearMap`,
      :class:`damjax.MLPMap` or any callable mapping (d,) to (D_Phi,).
    * ``beta`` — inverse temperature (> 0).
    * ``normalizer`` — separation function: a normalizer object, ``"softmax"``, ``"entmax15"``,
      ``"sparsemax"`` or a number alpha >= 1 (default softmax).

    **Raises:** ``ValueError`` if ``patterns`` is not 2-D with M, d >= 1, the feature map does not
    produce 1-D features of the right input width, ``beta`` is not finite and positive, or alpha < 1.
    """

    patterns: Float[Array, "M d"]
    feature_map: object
    beta: Float[Array, ""]
    normalizer: AbstractNormalizer

    def __init__(self, patterns, feature_map=None, beta=1.0, normalizer="softmax"):
        patterns = jnp.asarray(patterns)
        if patterns.ndim != 2:
            raise ValueError(
                f"`patterns` must be a 2-D array of shape (M, d); got {patterns.shape}"
            )
        if patterns.shape[0] < 1 or patterns.shape[1] < 1:
            raise ValueError(f"`patterns` must have M >= 1 and d >= 1; got shape {patterns.shape}")
        patterns = check_finite_array(as_real_float(patterns, "patterns"), "patterns")
        if feature_map is None:
            from ..components.feature_maps import IdentityMap

            feature_map = IdentityMap(patterns.shape[1])
        check_feature_map(feature_map, patterns.shape[1], patterns.dtype)
        self.patterns = patterns
        self.feature_map = feature_map
        self.beta = check_positive_scalar(beta, "beta", patterns.dtype)
        self.normalizer = get_normalizer(normalizer)

    @property
    def num_memories(self) -> int:
        return self.patterns.shape[0]

    def memory_features(self) -> Float[Array, "M D"]:
        r""":math:`\Phi(\xi^\mu)` for every memory, shape (M, D_Phi)."""
        return jax.vmap(self.feature_map)(self.patterns)

    def similarities(self, state: Float[Array, " d"]) -> Float[Array, " M"]:
        r"""Kernel values :math:`\mathcal{K}(\xi^\mu, x) = \langle\Phi(\xi^\mu), \Phi(x)\rangle`."""
        return jnp.dot(self.memory_features(), self.feature_map(state), precision=_HI)

    def probabilities(self, state: Float[Array, " d"]) -> Float[Array, " M"]:
        r"""The retrieval distribution :math:`p = \mathrm{Sep}(\beta\,\mathcal{K}(\Xi, x))`."""
        return self.normalizer(self.beta * self.similarities(state))

    def update(self, state: Float[Array, " d"]) -> Float[Array, " d"]:
        r"""One retrieval step :math:`x \leftarrow \Xi^\top p`."""
        return jnp.dot(self.probabilities(state), self.patterns, precision=_HI)

    def energy(self, state: Float[Array, " d"]) -> Scalar:
        r""":math:`E(x) = \frac12\langle x,x\rangle - \beta^{-1}\Psi^*(\beta\,\mathcal{K}(\Xi,x))`."""
        z = self.beta * self.similarities(state)
        return 0.5 * jnp.dot(state, state) - self.normalizer.conjugate(z) / self.beta

    # --- continuous time: dxi/dt = update(xi) - xi -----------------------------------------------

    def ode_field(self, y):
        return self.update(y) - y
