r"""The exact log-sum-exp Dense Associative Memory ("MrDAM", Hoover et al. 2024).

Continuous states :math:`x \in \mathbb{R}^D`, memories :math:`\xi_\mu` (rows of ``patterns``),

.. math:: E(x) = -\frac{1}{\beta}\log\sum_\mu \exp\!\left(-\frac{\beta}{2}\lVert x - \xi_\mu
   \rVert^2\right),

the energy that DrDAM (:class:`damjax.RandomFeatureDAM`) approximates with random features
(Hoover et al. 2024, "Dense Associative Memory Through the Lens of Random Features", Eq. 2). Its
gradient is :math:`\nabla E(x) = x - \sum_\mu p_\mu(x)\,\xi_\mu` with
:math:`p = \mathrm{softmax}(-\frac{\beta}{2}\lVert x - \xi_\mu\rVert^2)`, so a unit gradient step
is the mean-shift / CCCP fixed-point update :math:`x \leftarrow \sum_\mu p_\mu(x)\xi_\mu`.

Convention: beta multiplies squared *distances* (Gaussian kernel of width :math:`1/\sqrt\beta`);
the paper's binary data are :math:`\{0, 1/\sqrt D\}^D`, so all distances are at most 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._custom_types import Array, Float, Scalar
from .._numerics import HI as _HI
from .._validation import check_positive_scalar, check_real_matrix, check_state_width
from ._base import AbstractPatternMemory
from ._continuous import AbstractContinuousMemory


class ExpDAM(AbstractContinuousMemory, AbstractPatternMemory):
    r"""Exact log-sum-exp DAM (MrDAM): :math:`E(x) = -\beta^{-1}\log\sum_\mu
    \exp(-\frac{\beta}{2}\lVert x-\xi_\mu\rVert^2)`.

    Evaluated with a max-subtracted log-sum-exp (finite for any beta and distance). Squared
    distances use :math:`\lVert x\rVert^2 - 2x\cdot\xi + \lVert\xi\rVert^2` (one matrix product,
    memory O(K) per state), clipped at 0.

    ``update`` is a unit gradient step :math:`x - \nabla E(x) = \sum_\mu p_\mu \xi_\mu` (energy
    never increases: it is the CCCP / mean-shift step). For damped gradient descent with a clamp
    mask use ``damjax.retrieve(model, cues, rule=damjax.GradientDescent(step_size))``.

    **Arguments:**

    * ``patterns`` — (K, D) real memories.
    * ``beta`` — inverse temperature (> 0).

    **Raises:** ``ValueError`` for a non-2-D or empty ``patterns``, non-finite entries, or
    ``beta <= 0``; ``ValueError`` from :meth:`energy` for a state of the wrong width.
    """

    patterns: Float[Array, "K D"]
    beta: Float[Array, ""]

    def __init__(self, patterns, beta):
        self.patterns = check_real_matrix(patterns, "patterns", "(K, D)")
        self.beta = check_positive_scalar(beta, "beta", self.patterns.dtype)

    def sq_distances(self, state: Float[Array, " D"]) -> Float[Array, " K"]:
        r""":math:`\lVert x - \xi_\mu\rVert^2` for every memory (clipped at 0)."""
        check_state_width(state, self.dim, "state")
        cross = jnp.matmul(self.patterns, state, precision=_HI)
        sq = jnp.sum(state * state) - 2.0 * cross + jnp.sum(self.patterns**2, axis=1)
        return jnp.maximum(sq, 0.0)

    def log_kernel_sum(self, state: Float[Array, " D"]) -> Scalar:
        r""":math:`\log\sum_\mu \exp(-\frac{\beta}{2}\lVert x-\xi_\mu\rVert^2)` (log domain)."""
        sq = self.sq_distances(state)
        near = jax.lax.stop_gradient(jnp.min(sq))  # the shift cancels; gradient through lse only
        return -0.5 * self.beta * near + jax.nn.logsumexp(self._shifted_logits(sq))

    def _shifted_logits(self, sq):
        """``-beta/2 (d^2 - min d^2)``: shifted before multiplying, so no ``inf - inf`` at large
        beta (NaN states at beta ~ 1e30 otherwise); the nearest memory's logit is exactly 0."""
        return -0.5 * self.beta * (sq - jax.lax.stop_gradient(jnp.min(sq)))

    def energy(self, state: Float[Array, " D"]) -> Scalar:
        r""":math:`E(x) = -\beta^{-1}\log\sum_\mu \exp(-\frac{\beta}{2}\lVert x-\xi_\mu\rVert^2)`."""
        sq = self.sq_distances(state)
        near = jax.lax.stop_gradient(jnp.min(sq))  # the shift cancels; gradient through lse only
        return 0.5 * near - jax.nn.logsumexp(self._shifted_logits(sq)) / self.beta

    def weights(self, state: Float[Array, " D"]) -> Float[Array, " K"]:
        r"""Softmax weights :math:`p_\mu(x)` of the memories."""
        return jax.nn.softmax(self._shifted_logits(self.sq_distances(state)))

    def update(self, state: Float[Array, " D"]) -> Float[Array, " D"]:
        r"""Unit gradient step :math:`x - \nabla E(x) = \sum_\mu p_\mu(x)\,\xi_\mu`."""
        return jnp.matmul(self.weights(state), self.patterns, precision=_HI)
