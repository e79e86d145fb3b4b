r"""Binary Dense Associative Memory (Krotov & Hopfield 2016; Demircigil et al. 2017).

States :math:`s \in \{-1,+1\}^N`, memories :math:`\xi^\mu` (rows of ``patterns``, shape (K, N)),
energy :math:`E(s) = -\sum_\mu F(\xi^\mu \cdot s)`.

The update rule of the papers sets :math:`s_i \leftarrow \mathrm{Sign}[\sum_\mu F(\xi_{\mu i} +
\sum_{j\ne i}\xi_{\mu j}s_j) - F(-\xi_{\mu i} + \sum_{j\ne i}\xi_{\mu j}s_j)]`, i.e. to the value of
lower energy. Here this energy difference is computed *exactly* for all neurons with two matrix
products (see :meth:`AbstractInteraction.field_terms`):

.. math:: h = g_1(m)\,\Xi + s \sum_\mu g_0(m), \qquad m = \Xi s.

Ties keep the current value, so fixed points are well defined and asynchronous dynamics never
increase the energy. A field counts as a tie when it is below the float rounding level of its own
sum, ``|h_i| <= 8 sqrt(K) eps (sum_mu |g_1| + |sum_mu g_0|)`` (exact ties of integer-valued F, e.g.
n = 2, otherwise come out as +-eps with a sign that depends on the summation order, and
synchronous and asynchronous updates would disagree on what a fixed point is).

Precision: the overlaps :math:`\Xi s` are products of +-1 values and are exact in any matmul
precision (up to N = 2^24). The field product :math:`g_1(m)\Xi` is not: on GPU/TPU JAX's default
float32 matmul uses reduced-precision (bf16/tf32) passes, so it is computed with
``precision=HIGHEST`` (a no-op on CPU).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Float, Int, Scalar, is_concrete
from .._validation import check_binary_patterns
from ..interactions import AbstractInteraction
from ._base import AbstractBinaryMemory, AbstractPatternMemory, sign_keep_ties

_HI = jax.lax.Precision.HIGHEST


class BinaryDAM(AbstractBinaryMemory, AbstractPatternMemory):
    r"""Dense Associative Memory over {-1,+1}^N with interaction function ``F``.

    **Arguments:**

    * ``patterns`` — (K, N) array of +-1 memories.
    * ``F`` — an interaction function (:class:`damjax.Polynomial`, ...).
    * ``mask`` — optional (K,) array of 0/1 weights: patterns with weight 0 are absent. Lets
      capacity searches vary K without changing array shapes (no recompilation).

    **Raises:** ``ValueError`` if ``patterns`` is not a 2-D array of +-1 or K = 0.
    """

    patterns: Float[Array, "K N"]
    F: AbstractInteraction
    mask: Float[Array, " K"] | None
    # (N, K) copy of the patterns with each neuron's column contiguous; set by ``async_prepare``
    # for the duration of an asynchronous retrieval (a strided column read per neuron and cue
    # made the sweep ~3x slower on CPU).
    _columns: Float[Array, "N K"] | None

    def __init__(self, patterns, F: AbstractInteraction, *, mask=None):
        if not isinstance(F, AbstractInteraction):
            raise TypeError(
                f"`F` must be an interaction function such as damjax.Polynomial(3); got {F!r}"
            )
        self.patterns = check_binary_patterns(patterns)
        self.F = F
        if mask is not None:
            mask = jnp.asarray(mask, dtype=self.patterns.dtype)
            if mask.shape != (self.patterns.shape[0],):
                raise ValueError(
                    f"`mask` must have shape (K,) = ({self.patterns.shape[0]},); got {mask.shape}"
                )
            if is_concrete(mask) and not bool(jnp.any(mask > 0)):
                raise ValueError("`mask` must keep at least one pattern (K >= 1); all are zero")
        self.mask = mask
        self._columns = None

    def overlaps(self, state: Float[Array, "*B N"]) -> Float[Array, "*B K"]:
        """``m = Xi s`` (exact for +-1 entries in any matmul precision)."""
        return state @ self.patterns.T

    def _weights(self, x):
        return x if self.mask is None else x * self.mask

    def energy(self, state: Float[Array, " N"]) -> Scalar:
        r""":math:`E = -\sum_\mu F(\xi^\mu\cdot s)`, via the rescaled F (finite whenever E is)."""
        e, ls = self.scaled_energy(state)
        return e * jnp.exp(ls)

    def _scaled_energy_from_overlaps(self, m):
        ls = self.F.log_scale(m)
        return -jnp.sum(self._weights(self.F.scaled(m, ls))), ls

    def scaled_energy(self, state: Float[Array, " N"]) -> tuple[Scalar, Scalar]:
        """``(E * exp(-L), L)``: the energy divided by a positive scale; finite even where
        ``energy`` overflows (n = 30 at N = 1000 gives |E| ~ 1e90 > float32 max)."""
        return self._scaled_energy_from_overlaps(self.overlaps(state))

    def scaled_field(self, state: Float[Array, " N"]) -> tuple[Float[Array, " N"], Scalar]:
        r"""``(h * exp(-L), L)``: the exact field divided by a positive scale (overflow-free).

        ``h_i = E(s with s_i=-1) - E(s with s_i=+1)``; its sign is the update.
        """
        m = self.overlaps(state)
        g0, g1, ls = self.F.field_terms(m)
        g0, g1 = self._weights(g0), self._weights(g1)
        h = jnp.matmul(g1, self.patterns, precision=_HI) + state * jnp.sum(g0, axis=-1)
        return h, ls

    def field(self, state: Float[Array, " N"]) -> Float[Array, " N"]:
        r"""Exact energy differences ``h_i = E(s_i=-1) - E(s_i=+1)`` in true units.

        May overflow to +-inf when the true value exceeds the dtype; use :meth:`scaled_field`.
        """
        h, ls = self.scaled_field(state)
        return h * jnp.exp(ls)

    def _tie_level(self, abs_g1_sum, g0_sum):
        """``8 sqrt(K) eps (sum|g1| + |sum g0|)``: fields at most this large count as ties."""
        eps = jnp.finfo(jnp.result_type(abs_g1_sum)).eps
        return 8.0 * math.sqrt(self.patterns.shape[0]) * eps * (abs_g1_sum + jnp.abs(g0_sum))

    def _tie_tol(self, g0, g1):
        return self._tie_level(jnp.sum(jnp.abs(g1), axis=-1), jnp.sum(g0, axis=-1))

    def update(self, state: Float[Array, " N"]) -> Float[Array, " N"]:
        """Synchronous update: every neuron to the sign of its field (ties keep their value)."""
        m = self.overlaps(state)
        g0, g1, _ = self.F.field_terms(m)
        g0, g1 = self._weights(g0), self._weights(g1)
        h = jnp.matmul(g1, self.patterns, precision=_HI) + state * jnp.sum(g0, axis=-1)
        return sign_keep_ties(h, state, self._tie_tol(g0, g1))

    # --- asynchronous interface: aux = (overlaps m, log-scale L, log tie magnitude), O(K) ------

    def async_prepare(self):
        columns = jnp.transpose(self.patterns)
        return eqx.tree_at(lambda d: d._columns, self, columns, is_leaf=lambda x: x is None)

    def async_init(self, state):
        return self.async_refresh(state, (self.overlaps(state), None, None))

    def async_step(self, s_i, aux, i: Int[Array, ""]):
        # aux = (m, L, A): overlaps, a valid log-scale for m, and log of sum_mu |g1| in true
        # units at the last refresh (the magnitude behind the tie level). One fused pass over the
        # K overlaps gives sum_mu g1 xi_mu,i and sum_mu g0; a second updates m after a flip. The
        # scale is bumped by one flip's worth instead of recomputed (each overlap moves by at
        # most 2); ``async_refresh`` recomputes L and A exactly every few neurons. At a fixed
        # point nothing moves between refreshes, so the tie level is exactly the one ``update``
        # uses and the two rules agree on what a fixed point is. No O(N K) work.
        m, ls, log_mag = aux
        g0, g1, _ = self.F.field_terms(m, ls)
        g0, g1 = self._weights(g0), self._weights(g1)
        if self._columns is None:
            col = jax.lax.dynamic_index_in_dim(self.patterns, i, axis=1, keepdims=False)
        else:
            col = jax.lax.dynamic_index_in_dim(self._columns, i, axis=0, keepdims=False)
        a, b = jnp.sum(jnp.stack([g1 * col, g0]), axis=-1)
        h_i = a + s_i * b
        new = sign_keep_ties(h_i, s_i, self._tie_level(jnp.exp(log_mag - ls), b))
        flipped = new != s_i
        m = m + jnp.where(flipped, 2.0 * new, 0.0) * col
        ls = jnp.where(flipped, self.F.log_scale_after_flip(ls), ls)
        return new, (m, ls, log_mag)

    def async_refresh(self, state, aux):
        m = aux[0]
        _, g1, ls = self.F.field_terms(m)
        log_mag = jnp.log(jnp.sum(jnp.abs(self._weights(g1)))) + ls
        return m, ls, log_mag

    def aux_energy(self, aux, state=None) -> Scalar:
        m = aux[0] if isinstance(aux, tuple) else aux
        e, ls = self._scaled_energy_from_overlaps(m)
        return e * jnp.exp(ls)
