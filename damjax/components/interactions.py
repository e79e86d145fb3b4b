r"""Interaction (separation) functions ``F`` of Dense Associative Memories.

The energy of a binary DAM is :math:`E(\sigma) = -\sum_\mu F(\xi^\mu \cdot \sigma)`
(Krotov & Hopfield 2016; Demircigil et al. 2017). Capacity sweeps use degrees n up to 30+ and
N in the thousands in float32, where ``F`` itself overflows (1000^30, exp(1000)). Every ``F``
therefore knows how to evaluate itself *rescaled*: for a vector of overlaps ``m`` it returns a
scalar ``log_scale(m)`` and ``scaled(x, log_scale) = F(x) * exp(-log_scale)``, computed without
forming ``F(x)``:

* homogeneous F (``Polynomial``, ``RectifiedPolynomial``): ``F(c x) = c^n F(x)``, so
  ``scaled(x) = F(x / c)`` with ``c = max|m| + 2`` and ``log_scale = n log c``;
* exponential F: log-domain, ``scaled(x) = exp(beta x - log_scale)`` with
  ``log_scale = max(beta m)``; its field is evaluated as two sums of positive terms
  (:meth:`Exponential.agreement_terms`), exact in sign for any beta.

Dividing every energy difference by the same positive number keeps all signs, so the dynamics are
exact; energies in true units are ``exp(log_scale) * sum(scaled)`` (which overflows only when the
true value does not fit in the dtype).
"""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Float, Scalar
from .._validation import check_positive_scalar

__all__ = [
    "AbstractInteraction",
    "AbstractHomogeneous",
    "Polynomial",
    "RectifiedPolynomial",
    "Exponential",
]


class AbstractInteraction(eqx.Module):
    r"""An interaction function ``F`` with an overflow-free rescaled evaluation.

    Subclasses implement ``__call__`` (the plain F), ``log_scale`` and ``scaled``.
    ``field_terms`` is derived from them and is what :class:`damjax.BinaryDAM` uses.
    """

    @abc.abstractmethod
    def __call__(self, x: Float[Array, ...]) -> Float[Array, ...]:
        """Plain ``F(x)`` (may overflow for large arguments)."""

    @abc.abstractmethod
    def log_scale(self, m: Float[Array, " K"]) -> Scalar:
        """A scalar ``L`` such that ``F(m_mu +- 2) exp(-L)`` is at most O(1) for every mu."""

    @abc.abstractmethod
    def scaled(self, x: Float[Array, ...], log_scale: Scalar) -> Float[Array, ...]:
        """``F(x) * exp(-log_scale)`` evaluated without overflow."""

    # True for an F whose field BinaryDAM must form from ``agreement_terms`` (two positive sums
    # per neuron) instead of ``field_terms`` (one product, cancels when F(m+2) >> F(m)).
    separates_agreement: ClassVar[bool] = False

    def log_scale_after_flip(self, log_scale: Scalar) -> Scalar:
        """A log-scale still valid (an upper bound) after one neuron flip, when every overlap
        moves by at most 2. Lets asynchronous dynamics reuse the scale of the previous step."""
        return log_scale

    def static_log_scale(self, dim: int) -> float | None:
        """A log-scale valid for every state of ``dim`` +-1 neurons (``|m| <= dim``) that still
        keeps the largest term of any such state far above float32 underflow, or ``None`` when
        no such constant exists. Dynamics that have one need not track the scale at all."""
        return None

    def field_terms(
        self, m: Float[Array, " K"], log_scale: Scalar | None = None
    ) -> tuple[Float[Array, " K"], Float[Array, " K"], Scalar]:
        r"""The two elementwise functions of the exact energy-difference field.

        With overlaps :math:`m_\mu = \xi^\mu\cdot s`, flipping neuron i changes overlap mu by
        :math:`-2 a_{\mu i}`, :math:`a_{\mu i} = \xi_{\mu i} s_i \in \{-1,+1\}`. The field
        :math:`h_i = E(s_i=-1) - E(s_i=+1) = \sum_\mu g_1(m_\mu)\xi_{\mu i} + s_i \sum_\mu g_0(m_\mu)`
        with

        * :math:`g_1(m) = [F(m+2) - F(m-2)] / 2`,
        * :math:`g_0(m) = [2F(m) - F(m+2) - F(m-2)] / 2`.

        Returns ``(g0 * exp(-L), g1 * exp(-L), L)``; ``L = log_scale(m)`` unless given.
        """
        ls = self.log_scale(m) if log_scale is None else log_scale
        fp = self.scaled(m + 2.0, ls)
        fm = self.scaled(m - 2.0, ls)
        f0 = self.scaled(m, ls)
        g1 = 0.5 * (fp - fm)
        g0 = f0 - 0.5 * (fp + fm)
        return g0, g1, ls


def _check_degree(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"degree `n` must be an integer >= 1; got {n!r}")
    if n < 1:
        raise ValueError(f"degree `n` must be an integer >= 1; got {n}")
    return int(n)


class AbstractHomogeneous(AbstractInteraction):
    """A homogeneous F of integer degree n: ``F(c x) = c^n F(x)`` for ``c > 0``."""

    n: eqx.AbstractVar[int]

    @abc.abstractmethod
    def _unit(self, x):
        """F evaluated on an argument already divided by the scale."""

    def __call__(self, x):
        return self._unit(x)

    def log_scale(self, m):
        # max|m| as max(max m, -min m): two plain reductions measured ~25% faster than one over
        # |m| on CPU (this runs at every refresh of asynchronous dynamics)
        c = jnp.maximum(jnp.max(m), -jnp.min(m)) + 2.0
        return self.n * jnp.log(c)

    def scaled(self, x, log_scale):
        inv_c = jnp.exp(-log_scale / self.n)
        return self._unit(x * inv_c)

    def log_scale_after_flip(self, log_scale):
        return self.n * jnp.log(jnp.exp(log_scale / self.n) + 2.0)

    def static_log_scale(self, dim):
        # c = dim + 2 bounds every |m| + 2; the largest term of a state, ((max|m| + 2) / c)^n, is
        # at least (2 / c)^n, i.e. above e^-60 while n log(c / 2) <= 60 (float32 underflows
        # below ~e^-87, and terms 2^-24 below the largest no longer matter). Small degrees
        # qualify at any practical size (n = 3 up to N ~ 10^9), large ones fall back to tracking.
        c = float(dim) + 2.0
        return self.n * math.log(c) if self.n * math.log(c / 2.0) <= 60.0 else None

    def _unit_and_step(self, m, log_scale):
        """``u = m / c`` and ``d = 2 / c`` with ``c = exp(log_scale / n)``, so ``|u| + d <= 1``."""
        ls = self.log_scale(m) if log_scale is None else log_scale
        inv_c = jnp.exp(-ls / self.n)
        return m * inv_c, 2.0 * inv_c, ls


def _binomial_differences(n: int, u, d):
    r"""``((u+d)^n - (u-d)^n) / 2`` and ``u^n - ((u+d)^n + (u-d)^n) / 2`` without cancellation.

    Expanded by the binomial theorem, the first is :math:`\sum_{k\,odd} \binom{n}{k} d^k u^{n-k}`
    and the second :math:`-\sum_{k\,even \ge 2} \binom{n}{k} d^k u^{n-k}`: every term of a sum
    has the same sign, so nothing cancels. (Forming ``(u+d)^n - (u-d)^n`` directly loses about
    ``log10(n |u| / d)`` digits for the odd part and twice that for the even part once the overlaps
    are large, i.e. at large N.) Horner in ``u^2``; the coefficients ``C(n,k) d^k`` are per-call
    scalars, taken through logs so that no ``C(n,k)`` overflows (each is at most 1 when
    ``|u| + d <= 1``).
    """
    log_d = jnp.log(d)
    u2 = u * u

    def horner(ks):
        acc = None
        for k in ks:
            coeff = jnp.exp(math.log(math.comb(n, k)) + k * log_d)
            acc = coeff if acc is None else acc * u2 + coeff
        if acc is None:
            return jnp.zeros_like(u)
        return acc * u if (n - ks[-1]) % 2 else acc * jnp.ones_like(u)

    g1 = horner(list(range(1, n + 1, 2)))
    g0 = -horner(list(range(2, n + 1, 2)))
    return g0, g1


class Polynomial(AbstractHomogeneous):
    r"""``F(x) = x^n`` (Krotov & Hopfield 2016). ``n = 2`` is the classical Hopfield network.

    **Arguments:** ``n`` — integer degree >= 1.
    """

    n: int = eqx.field(static=True)

    def __init__(self, n: int):
        self.n = _check_degree(n)

    def _unit(self, x):
        return x**self.n

    def field_terms(self, m, log_scale=None):
        # Closed form (binomial expansion): no cancellation of F(m+2) against F(m-2).
        u, d, ls = self._unit_and_step(m, log_scale)
        g0, g1 = _binomial_differences(self.n, u, d)
        return g0, g1, ls


class RectifiedPolynomial(AbstractHomogeneous):
    r"""``F(x) = x^n`` for ``x >= 0`` and ``0`` otherwise (Krotov & Hopfield 2016)."""

    n: int = eqx.field(static=True)

    def __init__(self, n: int):
        self.n = _check_degree(n)

    def _unit(self, x):
        return jnp.where(x > 0, x, 0.0) ** self.n

    def field_terms(self, m, log_scale=None):
        # m >= 2: both m +- 2 are on the polynomial branch (closed form, no cancellation);
        # m <= -2: F vanishes at m and m +- 2; in between (|m| < 2) F(m - 2) = 0 and the direct
        # formula has nothing to cancel.
        u, d, ls = self._unit_and_step(m, log_scale)
        g0_poly, g1_poly = _binomial_differences(self.n, u, d)
        fp = self._unit(u + d)
        g1_mid = 0.5 * fp
        g0_mid = self._unit(u) - 0.5 * fp
        upper, lower = u >= d, u <= -d
        g1 = jnp.where(upper, g1_poly, jnp.where(lower, 0.0, g1_mid))
        g0 = jnp.where(upper, g0_poly, jnp.where(lower, 0.0, g0_mid))
        return g0, g1, ls


def agreement_cap(dtype, k: int) -> float:
    """``C = log(max float) - log K - 1``: terms capped at ``e^C`` never overflow in a sum of K."""
    return math.log(float(jnp.finfo(dtype).max)) - math.log(k) - 1.0


def _log_one_minus_exp(x):
    """``log(1 - exp(-x))`` for ``x > 0`` without cancellation (``-expm1(-x)``)."""
    return jnp.log(-jnp.expm1(-x))


def _log_sinh(x):
    """``log(sinh(x))`` for ``x > 0``, finite where ``sinh(x)`` itself overflows."""
    return x + _log_one_minus_exp(2.0 * x) - math.log(2.0)


class Exponential(AbstractInteraction):
    r"""``F(x) = exp(beta x)`` (Demircigil et al. 2017 use beta = 1), evaluated in the log domain.

    **Arguments:** ``beta`` — finite inverse temperature > 0 (default 1).

    The energy scale is ``log_scale(m) = max_mu beta m_mu`` (the largest term is 1). The field is
    not formed from ``g0, g1`` (their difference cancels catastrophically once ``e^{2 beta}``
    exceeds 1/eps, i.e. from beta ~ 8 in float32, and ``sinh(2 beta)`` overflows from beta ~ 44)
    but from :meth:`agreement_terms`: two sums of positive terms per neuron, exact in sign up to
    the rounding of those sums for every beta (see :class:`damjax.BinaryDAM`).
    """

    beta: Float[Array, ""] | float
    # BinaryDAM evaluates the field of this F from ``agreement_terms`` (see there)
    separates_agreement: ClassVar[bool] = True

    def __init__(self, beta: float = 1.0):
        self.beta = check_positive_scalar(beta, "beta")

    def __call__(self, x):
        return jnp.exp(self.beta * x)

    def log_scale(self, m):
        return jnp.max(self.beta * m, axis=-1)

    def scaled(self, x, log_scale):
        return jnp.exp(self.beta * x - log_scale)

    def log_scale_after_flip(self, log_scale):
        return log_scale + 2.0 * self.beta

    def field_terms(self, m, log_scale=None):
        # Closed form in the log domain: F(m+-2) = F(m) e^{+-2 beta}, g1 = F(m) sinh(2 beta),
        # g0 = -F(m) 2 sinh(beta)^2 (= F(m) (1 - cosh 2 beta)); the default scale makes the
        # largest of them ~1/2. Exact terms, but h = g1 Xi + s sum g0 cancels at large beta:
        # BinaryDAM uses ``agreement_terms`` instead.
        b = self.beta
        ls = self.log_scale(m) + 2.0 * b if log_scale is None else log_scale
        z = b * m - jnp.expand_dims(ls, -1) if jnp.ndim(ls) else b * m - ls
        g1 = jnp.exp(z + _log_sinh(2.0 * b))
        g0 = -jnp.exp(z + math.log(2.0) + 2.0 * _log_sinh(b))
        return g0, g1, ls

    def agreement_terms(
        self, m: Float[Array, "*B K"], keep: Bool[Array, " K"] | None = None
    ) -> tuple[Float[Array, "*B K"], Float[Array, "*B K"], Float[Array, "*B"]]:
        r"""The field as two sums of positive terms: ``(u, v, L)``.

        Flipping neuron i changes overlap mu by ``-2 a`` with ``a = xi_{mu i} s_i``, so
        :math:`s_i h_i = \sum_{a=+1} [F(m_\mu) - F(m_\mu - 2)] - \sum_{a=-1} [F(m_\mu + 2) -
        F(m_\mu)] = (1 - e^{-2\beta}) e^{\beta m^*} (A_i - B_i)` with
        :math:`A_i = \sum_{a=+1} u_\mu`, :math:`B_i = \sum_{a=-1} v_\mu`,
        :math:`u = e^{\beta(m - m^*)}`, :math:`v = e^{\beta(m - m^* + 2)}` and
        :math:`m^* = \max m` over the kept patterns. ``m - m^*`` is an exact integer, so exact
        ties (``A = B``) come out exact. ``v`` is capped at ``e^C`` with ``C = log(max float) -
        log K - 1`` (no sum overflows): a capped term means ``B > e^C > K >= A``, so the sign is
        still exact; only the size of such fields saturates. Masked-out patterns (``keep``
        False) get ``u = v = 0`` and do not count in ``m^*``.

        **Returns:** ``(u, v, L)`` with ``L = beta m^* + log(1 - e^{-2 beta})``, so that
        ``s_i h_i = e^L (A_i - B_i)``.
        """
        b = self.beta
        mk = m if keep is None else jnp.where(keep, m, -jnp.inf)
        top = jnp.max(mk, axis=-1, keepdims=True)
        d = m - top
        cap = agreement_cap(jnp.result_type(m), m.shape[-1])
        u = jnp.exp(b * d)
        v = jnp.exp(jnp.minimum(b * (d + 2.0), cap))
        if keep is not None:
            u = jnp.where(keep, u, 0.0)
            v = jnp.where(keep, v, 0.0)
        return u, v, b * top[..., 0] + _log_one_minus_exp(2.0 * b)


def log_domain_product(x, log_scale, cap=float("inf")):
    """``x * exp(log_scale)`` as ``sign(x) exp(log|x| + log_scale)``, with the exponent capped at
    ``cap`` (saturating) and 0 where ``x`` is 0; no ``log 0``, so its gradient is finite too."""
    nonzero = x != 0
    z = jnp.log(jnp.where(nonzero, jnp.abs(x), 1.0)) + log_scale
    return jnp.where(nonzero, jnp.sign(x) * jnp.exp(jnp.minimum(z, cap)), 0.0)


def unscale(x: Float[Array, ...], log_scale: Scalar) -> Float[Array, ...]:
    """``x * exp(log_scale)``, the true value of a rescaled quantity: +-inf only where that value
    exceeds the dtype, 0 where ``x`` is 0 (never ``0 * inf = NaN``) and finite whenever the
    product is, even where ``exp(log_scale)`` alone would overflow (then in the log domain; the
    plain product otherwise, which keeps the last digits)."""
    direct = x * jnp.exp(log_scale)
    return jnp.where(jnp.isfinite(jnp.exp(log_scale)), direct, log_domain_product(x, log_scale))


def degree_of(F: AbstractInteraction) -> float:
    """The degree n of a homogeneous F, or ``math.inf`` for exponential F (used by theory code)."""
    if isinstance(F, AbstractHomogeneous):
        return F.n
    return math.inf
