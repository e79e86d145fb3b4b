r"""Modern Hopfield network with continuous states (Ramsauer et al. 2020, "Hopfield Networks is
All You Need", ICLR 2021).

Stored patterns :math:`x_1,\dots,x_K \in \mathbb{R}^d` are the rows of ``patterns`` (the paper's
:math:`X = (x_1,\dots,x_N)` is ``patterns.T``; the paper's N is our K). With
:math:`M = \max_i \|x_i\|` and :math:`\mathrm{lse}(\beta, z) = \beta^{-1}\log\sum_i e^{\beta z_i}`,

.. math::

    E(\xi) = -\mathrm{lse}(\beta, X^T\xi) + \tfrac12\xi^T\xi + \beta^{-1}\log K + \tfrac12 M^2,

    \xi^{\text{new}} = X\,\mathrm{softmax}(\beta X^T \xi).

The update is the CCCP step of E (the energy never increases, Theorem 1), and the continuous-time
flow :math:`d\xi/dt = X\,\mathrm{softmax}(\beta X^T\xi) - \xi = -\nabla E` is a gradient flow.
Convention: beta multiplies raw inner products :math:`x_i^T\xi` (attention uses
:math:`\beta = 1/\sqrt{d_k}`). Everything is evaluated in the log domain (finite for any beta).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._custom_types import Array, Float, Scalar
from .._numerics import HI as _HI
from .._validation import check_positive_scalar, check_real_matrix, check_state_width
from ._base import AbstractPatternMemory
from ._continuous import AbstractContinuousMemory


class ModernHopfield(AbstractContinuousMemory, AbstractPatternMemory):
    r"""Continuous modern Hopfield network of Ramsauer et al. 2020.

    **Arguments:**

    * ``patterns`` — (K, d) real array, one stored pattern per row.
    * ``beta`` — finite inverse temperature > 0 (multiplies raw inner products).

    **Raises:** ``ValueError`` when ``patterns`` is not a finite 2-D array with K, d >= 1, or when
    ``beta`` is not finite and > 0.

    Works with :func:`damjax.retrieve` and the rules ``Sync(tol=...)`` (iterate the update to a
    fixed point within ``tol``), ``OneStep()``, ``Euler(dt)`` and ``ODE()`` (the gradient flow).
    Batched over queries the update is two matrix products and a softmax.
    """

    patterns: Float[Array, "K d"]
    beta: Float[Array, ""] | float

    def __init__(self, patterns, beta: float = 1.0):
        self.patterns = check_real_matrix(patterns, "patterns", "(K, d)")
        self.beta = check_positive_scalar(beta, "beta", self.patterns.dtype)

    def overlaps(self, state: Float[Array, "*B d"]) -> Float[Array, "*B K"]:
        r""":math:`X^T\xi`: the inner products of the state with every pattern."""
        check_state_width(state, self.dim, "state")
        return jnp.matmul(state, self.patterns.T, precision=_HI)

    def probabilities(self, state: Float[Array, "*B d"]) -> Float[Array, "*B K"]:
        r""":math:`p = \mathrm{softmax}(\beta X^T\xi)` (the attention weights)."""
        return jax.nn.softmax(self._shifted_logits(self.overlaps(state)), axis=-1)

    def _shifted_logits(self, m):
        """``beta (m - max m)``: shifted *before* multiplying, so that ``beta m`` never overflows
        (``inf - inf = NaN`` at beta ~ 1e30 otherwise); the top logit is exactly 0."""
        top = jax.lax.stop_gradient(jnp.max(m, axis=-1, keepdims=True))
        return self.beta * (m - top)

    def max_norm(self) -> Scalar:
        r""":math:`M = \max_i \|x_i\|`."""
        return jnp.sqrt(jnp.max(jnp.sum(self.patterns**2, axis=-1)))

    def energy(self, state: Float[Array, " d"]) -> Scalar:
        r""":math:`E = -\mathrm{lse}(\beta, X^T\xi) + \frac12\xi^T\xi + \beta^{-1}\log K
        + \frac12 M^2` (lse as max + log-sum-exp of the shifted arguments, no overflow)."""
        m = self.overlaps(state)
        top = jnp.max(m, axis=-1)
        lse = top + jax.nn.logsumexp(self.beta * (m - top[..., None]), axis=-1) / self.beta
        k = self.num_patterns
        return (
            -lse
            + 0.5 * jnp.sum(state * state, axis=-1)
            + jnp.log(jnp.asarray(k, m.dtype)) / self.beta
            + 0.5 * self.max_norm() ** 2
        )

    def update(self, state: Float[Array, " d"]) -> Float[Array, " d"]:
        r""":math:`\xi \leftarrow X\,\mathrm{softmax}(\beta X^T\xi)` (also works on a (B, d) batch).

        The softmax is normalised after the second product, :math:`X e / \sum_j e_j` with
        :math:`e = \exp(\beta(X^T\xi - \max))`, which saves a pass over the (B, K) weights.
        """
        e = jnp.exp(self._shifted_logits(self.overlaps(state)))
        num = jnp.matmul(e, self.patterns, precision=_HI)
        return num / jnp.sum(e, axis=-1, keepdims=True)

    # --- continuous time: dxi/dt = update(xi) - xi (= -grad E for the softmax update) ----------

    def ode_field(self, y):
        return self.update(y) - y
