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
sum, ``|h_i| <= 8 sqrt(K) eps sum_mu (|g_1| + |g_0|)`` (exact ties of integer-valued F, e.g.
n = 2, otherwise come out as +-eps with a sign that depends on the summation order, and
synchronous and asynchronous updates would disagree on what a fixed point is).

Precision: the overlaps :math:`\Xi s` are products of +-1 values and are exact in any matmul
precision (up to N = 2^24). The field product :math:`g_1(m)\Xi` is not: on GPU/TPU JAX's default
float32 matmul uses reduced-precision (bf16/tf32) passes, so it is computed with
``precision=HIGHEST`` (a no-op on CPU).
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Float, Int, Scalar, is_concrete
from .._numerics import HI as _HI
from .._validation import check_binary_patterns, check_positive_int
from ..components.interactions import AbstractInteraction, agreement_cap, unscale
from ._base import (
    AbstractAsyncKernel,
    AbstractBinaryMemory,
    AbstractPatternMemory,
    sign_keep_ties,
)


def _sum_last(x):
    """Sum over the last axis, as two halves.

    On CPU, XLA then materialises the summands in two slices and reduces each with its library
    (YNNPACK) reduction: ~15% faster per asynchronous neuron update than one reduction with the
    elementwise producer fused in (native code, one thread) or a stacked two-row reduction. The
    result differs from ``jnp.sum`` by rounding only.
    """
    half = x.shape[-1] // 2
    return jnp.sum(x[..., :half], axis=-1) + jnp.sum(x[..., half:], axis=-1)


class BinaryDAM(AbstractBinaryMemory, AbstractPatternMemory):
    r"""Dense Associative Memory over {-1,+1}^N with interaction function ``F``.

    **Arguments:**

    * ``patterns`` — (K, N) array of +-1 memories.
    * ``F`` — an interaction function (:class:`damjax.Polynomial`, ...).
    * ``mask`` — optional (K,) array of 0/1 values: patterns with 0 are absent. Lets
      capacity searches vary K without changing array shapes (no recompilation). Any other value
      (NaN, negative, fractional) is rejected when the mask is concrete.
    * ``tie_patterns`` — the pattern count K of the tie rule ``8 sqrt(K) eps sum|terms|``
      (default: K, the rows of ``patterns``, masked ones included). A model over the first rows
      of a larger masked pool passes the pool's size, so that it decides ties as the model over
      the whole pool does (the capacity searches' size buckets).

    **Raises:** ``ValueError`` if ``patterns`` is not a 2-D array of +-1 or K = 0, ``mask`` is
    not 0/1, or ``tie_patterns`` is below 1 (``TypeError`` if it is not an integer). Cues given to :func:`damjax.retrieve` must be +-1 (bool cues are converted,
    ``True`` -> +1).

    For an ``F`` with ``separates_agreement`` (:class:`damjax.Exponential`) the field is formed
    from two sums of positive terms per neuron (:meth:`Exponential.agreement_terms`), four matrix
    products instead of one, so that its sign is exact at any beta; fields beyond ``e^C`` times the
    largest agreeing term saturate in :meth:`scaled_field` (:meth:`field` recomputes them on a
    second scale).
    """

    patterns: Float[Array, "K N"]
    F: AbstractInteraction
    mask: Float[Array, " K"] | None
    tie_patterns: int = eqx.field(static=True)

    def __init__(self, patterns, F: AbstractInteraction, *, mask=None, tie_patterns=None):
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
            if is_concrete(mask):
                host = np.asarray(mask)
                if not np.all((host == 0) | (host == 1)):
                    bad = host[~((host == 0) | (host == 1))]
                    raise ValueError(
                        "`mask` must contain only 0 (pattern absent) and 1 (present); found e.g. "
                        f"{bad.ravel()[:3].tolist()}"
                    )
                if not bool(np.any(host > 0)):
                    raise ValueError("`mask` must keep at least one pattern (K >= 1); all are zero")
        self.mask = mask
        if tie_patterns is None:
            tie_patterns = self.patterns.shape[0]
        check_positive_int(tie_patterns, "tie_patterns")
        self.tie_patterns = int(tie_patterns)

    @property
    def active_patterns(self) -> Bool[Array, " K"]:
        """The patterns with a positive ``mask`` weight (all without a mask)."""
        if self.mask is None:
            return jnp.ones((self.patterns.shape[0],), bool)
        return self.mask > 0

    def overlaps(self, state: Float[Array, "*B N"]) -> Float[Array, "*B K"]:
        """``m = Xi s`` (exact for +-1 entries in any matmul precision)."""
        return state @ self.patterns.T

    def _weights(self, x):
        # where, not a product: a masked-out term may be inf (0 * inf = NaN)
        return x if self.mask is None else jnp.where(self.mask > 0, x, 0.0)

    def energy(self, state: Float[Array, " N"]) -> Scalar:
        r""":math:`E = -\sum_\mu F(\xi^\mu\cdot s)`, via the rescaled F (finite whenever E is)."""
        e, ls = self.scaled_energy(state)
        return unscale(e, ls)

    @property
    def _keep(self):
        return None if self.mask is None else self.mask > 0

    def _scaled_energy_from_overlaps(self, m):
        # the scale from the kept patterns only (for exponential F a masked-out pattern with a
        # larger overlap would otherwise push every kept term into underflow)
        ms = m if self.mask is None else jnp.where(self._keep, m, jnp.min(m, -1, keepdims=True))
        ls = self.F.log_scale(ms)
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
        if self.F.separates_agreement:
            a, b, ls = self._agreement_sums(state, m)
            return state * (a - b), ls
        g0, g1, ls = self._field_terms(m)
        h = jnp.matmul(g1, self.patterns, precision=_HI) + state * jnp.sum(g0, axis=-1)
        return h, ls

    def field(self, state: Float[Array, " N"]) -> Float[Array, " N"]:
        r"""Exact energy differences ``h_i = E(s_i=-1) - E(s_i=+1)`` in true units.

        May overflow to +-inf when the true value exceeds the dtype; use :meth:`scaled_field`.
        """
        h, ls = self.scaled_field(state)
        if not self.F.separates_agreement:
            return unscale(h, ls)
        # Fields with a capped term (saturated in scaled_field) are dominated by the disagreeing
        # terms (B > e^C / 2 >> K >= A): recompute them as -e^{L + 2 beta} sum_{disagree} u.
        m = self.overlaps(state)
        u, v, _ = self.F.agreement_terms(m, self._keep)
        b = self._split_products(state, v)[1]
        saturated = b >= 0.5 * jnp.exp(agreement_cap(b.dtype, self.patterns.shape[0]))
        b2 = self._split_products(state, u)[1]
        ls, ls2 = ls[..., None], (ls + 2.0 * self.F.beta)[..., None]
        return jnp.where(saturated, unscale(-state * b2, ls2), unscale(h, ls))

    def _split_products(self, state, w):
        """``(sum_{xi = s} w, sum_{xi != s} w)`` per neuron: two products with the 0/1 pattern
        indicators, so that neither sum is formed as a difference (no cancellation)."""
        pos = (self.patterns > 0).astype(w.dtype)
        neg = 1.0 - pos
        wp = jnp.matmul(w, pos, precision=_HI)
        wn = jnp.matmul(w, neg, precision=_HI)
        up = state > 0
        return jnp.where(up, wp, wn), jnp.where(up, wn, wp)

    def _agreement_sums(self, state, m):
        """``(A, B, L)`` of :meth:`Exponential.agreement_terms` for every neuron: ``s_i h_i =
        e^L (A_i - B_i)``."""
        u, v, ls = self.F.agreement_terms(m, self._keep)
        a = self._split_products(state, u)[0]
        b = self._split_products(state, v)[1]
        return a, b, ls

    def _field_terms(self, m, log_scale=None):
        """``F.field_terms`` with the pattern mask applied: ``(g0, g1, L)``."""
        g0, g1, ls = self.F.field_terms(m, log_scale)
        return self._weights(g0), self._weights(g1), ls

    @staticmethod
    def _tie_magnitude(g0, g1, halves: bool = False):
        """``sum_mu (|g1| + |g0|)``: the size of the terms the field sums (its rounding scale);
        ``halves`` sums as the asynchronous step does (faster there, see ``_sum_last``)."""
        terms = jnp.abs(g1) + jnp.abs(g0)
        return _sum_last(terms) if halves else jnp.sum(terms, axis=-1)

    def _tie_level(self, magnitude):
        """``8 sqrt(K) eps magnitude`` (K = ``tie_patterns``): fields at most this large count
        as ties."""
        eps = jnp.finfo(jnp.result_type(magnitude)).eps
        return 8.0 * math.sqrt(self.tie_patterns) * eps * magnitude

    @property
    def _static_log_scale(self) -> float | None:
        return self.F.static_log_scale(self.patterns.shape[1])

    def _dynamics_log_scale(self, m):
        """The log-scale the dynamics use: the interaction's constant one for this dimension if
        it has one (then asynchronous dynamics need not track it), else one from the overlaps."""
        if self._static_log_scale is None:
            return self.F.log_scale(m)
        return jnp.asarray(self._static_log_scale, dtype=jnp.result_type(m))

    def update(self, state: Float[Array, " N"]) -> Float[Array, " N"]:
        """Synchronous update: every neuron to the sign of its field (ties keep their value)."""
        m = self.overlaps(state)
        if self.F.separates_agreement:
            a, b, _ = self._agreement_sums(state, m)
            return sign_keep_ties(state * (a - b), state, self._tie_level(a + b))
        g0, g1, _ = self._field_terms(m, self._dynamics_log_scale(m))
        h = jnp.matmul(g1, self.patterns, precision=_HI) + state * jnp.sum(g0, axis=-1)
        return sign_keep_ties(h, state, self._tie_level(self._tie_magnitude(g0, g1)))

    def async_kernel(self) -> _BinaryDAMKernel:
        """O(K)-per-neuron asynchronous updates (:class:`_BinaryDAMKernel`)."""
        return _BinaryDAMKernel(self, jnp.transpose(self.patterns).astype(jnp.int8))


class _BinaryDAMKernel(AbstractAsyncKernel):
    """Asynchronous kernel of :class:`BinaryDAM`: ``aux = (m, L, T)``, the overlaps, a valid
    log-scale for them and the log of the tie magnitude ``sum_mu (|g1| + |g0|)`` in true units at
    the last refresh; O(K) per neuron.

    Each neuron reads its pattern column from ``columns``, an (N, K) int8 copy of the patterns
    with each neuron's column contiguous (a strided column read per neuron and cue made the sweep
    ~3x slower on CPU). With many patterns (K >= :attr:`INTEGER_FROM_K`) the overlaps ``m`` are
    kept as integers (they are sums of N +-1 terms): int16 while N < 2^15, else int32, converted
    to the state's float type inside the fused elementwise work. Exact, like float ones, and half
    the bytes: beyond the cache the sweep is bound by its passes over the (cues x K) overlaps.
    ``damjax bench --suite scale`` reports both layouts (key ``async_overlap_layouts``); on 2 CPU
    cores integers were 1.27x faster at N = 1600, K = 64,000, 64 cues and 1.56x slower in cache
    at N = 400, K = 2000, 256 cues (the conversions), so fewer patterns keep float overlaps (the
    two were even near K = 8000 with 64 cues, N = 800).
    """

    model: BinaryDAM
    columns: Int[Array, "N K"]  # int8
    refresh_every: ClassVar[int] = 16

    #: From this many patterns on, the overlaps are kept as integers (below it, float32).
    INTEGER_FROM_K: ClassVar[int] = 8192

    @classmethod
    def overlap_dtype(cls, n: int, k: int, float_dtype=jnp.float32):
        """How the overlaps of ``n`` +-1 neurons with ``k`` patterns are kept: ``float_dtype``
        for ``k`` below :attr:`INTEGER_FROM_K`, else the integer type that holds every overlap
        exactly (int16 below 2^15 neurons, int32 above)."""
        if k < cls.INTEGER_FROM_K:
            return float_dtype
        return jnp.int16 if n < 2**15 else jnp.int32

    def init(self, state):
        k = self.columns.shape[-1]
        dtype = self.overlap_dtype(state.shape[-1], k, state.dtype)
        m = self.model.overlaps(state).astype(dtype)
        return self.refresh(state, (m, None, None))

    def step(self, s_i, aux, i: Int[Array, ""]):
        # One pass over the K overlaps gives h_i = sum_mu (g1 xi_mu,i + s_i g0); a second updates
        # m after a flip. No O(N K) work. Unless F has a constant scale for this dimension (small
        # degrees), L is bumped by one flip's worth (each overlap moves by at most 2) instead of
        # recomputed, and ``refresh`` recomputes it every ``refresh_every`` neurons, with T. At a
        # fixed point nothing moves, so the tie level is the one ``update`` uses (up to rounding)
        # and the two rules agree on what a fixed point is.
        dam = self.model
        m, ls, log_tie = aux
        # the column enters as a sign test, not a product with a converted copy (measured
        # faster both in cache and beyond it)
        up = jax.lax.dynamic_index_in_dim(self.columns, i, axis=0, keepdims=False) > 0
        mf = m.astype(s_i.dtype)
        if dam.F.separates_agreement:
            # two positive sums (no cancellation); the scale is recomputed from m at every step
            u, v, _ = dam.F.agreement_terms(mf, dam._keep)
            agree = up == (s_i > 0)
            a = _sum_last(jnp.where(agree, u, 0.0))
            b = _sum_last(jnp.where(agree, 0.0, v))
            new = sign_keep_ties(s_i * (a - b), s_i, dam._tie_level(a + b))
            return new, (self._moved(m, new != s_i, new, up), ls, log_tie)
        g0, g1, _ = dam._field_terms(mf, ls)
        terms = jnp.where(up, g1, -g1) + s_i * g0
        h_i = _sum_last(terms)
        new = sign_keep_ties(h_i, s_i, dam._tie_level(jnp.exp(log_tie - ls)))
        flipped = new != s_i
        m = self._moved(m, flipped, new, up)
        if dam._static_log_scale is None:
            ls = jnp.where(flipped, dam.F.log_scale_after_flip(ls), ls)
        return new, (m, ls, log_tie)

    @staticmethod
    def _moved(m, flipped, new, up):
        """The overlaps after neuron i took the value ``new`` (each moves by 2 if it flipped);
        ``up``: where the neuron's pattern entries are +1."""
        step = jnp.where(flipped, 2 * new, 0).astype(m.dtype)
        return m + jnp.where(up, step, -step)

    def refresh(self, state, aux):
        dam = self.model
        m = aux[0]
        if dam.F.separates_agreement:  # nothing tracked: step works from m alone
            zero = jnp.zeros((), state.dtype)
            return m, zero, zero
        mf = m.astype(state.dtype)
        ls = dam._dynamics_log_scale(mf)
        g0, g1, _ = dam._field_terms(mf, ls)
        return m, ls, jnp.log(dam._tie_magnitude(g0, g1, halves=True)) + ls

    def scaled_energy(self, aux, state):
        return self.model._scaled_energy_from_overlaps(aux[0].astype(state.dtype))

    def energy(self, aux, state):
        e, ls = self.model._scaled_energy_from_overlaps(aux[0].astype(state.dtype))
        return unscale(e, ls)
