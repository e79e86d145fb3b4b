r"""Normalizers that map scores to probability vectors: softmax, sparsemax, 1.5-entmax, alpha-entmax.

The :math:`\alpha`-entmax family (Peters, Niculae & Martins 2019; Blondel et al. 2020) is

.. math:: \alpha\text{-entmax}(z) = \arg\max_{p \in \Delta} \langle p, z\rangle + H^T_\alpha(p),
   \qquad H^T_\alpha(p) = \frac{1}{\alpha(\alpha-1)} \sum_j (p_j - p_j^\alpha),

with the Shannon entropy at :math:`\alpha = 1` (softmax) and sparsemax at :math:`\alpha = 2`
(Martins & Astudillo 2016). Its solution is :math:`p_j = [(\alpha-1) z_j - \tau]_+^{1/(\alpha-1)}`
with the threshold :math:`\tau` fixed by :math:`\sum_j p_j = 1`. These are the separation functions of
the sparse and kernelized Hopfield models (Hu et al. 2023, 2024; PAPERS.md section 5).

Algorithms (all along the LAST axis, any leading batch axes, shift-invariant and computed after
subtracting the maximum, so large scores never overflow):

* exact sort-based: :func:`sparsemax` and :func:`entmax15` (closed-form thresholds from the sorted
  cumulative sums);
* bisection on :math:`\tau`: :func:`entmax_bisect` for any :math:`\alpha > 1` (for 1.5 and 2
  followed by the closed-form threshold on the support found; the default algorithm).

Derivatives are given by one ``jax.custom_jvp`` shared by the family (Peters et al. 2019, eq. 10):
with :math:`w = p^{2-\alpha}` on the support and 0 elsewhere,

.. math:: \mathrm{d}p = w \odot \mathrm{d}z - w \frac{\langle w, \mathrm{d}z\rangle}{\sum_j w_j},

so gradients never flow through the sort or the bisection loop.

:meth:`AbstractNormalizer.conjugate` is the convex conjugate :math:`\Psi^*(z) = \max_p \langle p, z
\rangle + H^T_\alpha(p)` (log-sum-exp for softmax), whose gradient is the normalizer itself; it
defines the energies of the models that use these normalizers.
"""

from __future__ import annotations

import abc
import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Float

__all__ = [
    "AbstractNormalizer",
    "Entmax",
    "Entmax15",
    "Softmax",
    "Sparsemax",
    "entmax",
    "entmax15",
    "entmax_bisect",
    "get_normalizer",
    "softmax",
    "sparsemax",
    "tsallis_entropy",
]


def _check_alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise TypeError(f"`alpha` must be a Python number >= 1; got {alpha!r}")
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha < 1.0:
        raise ValueError(f"`alpha` must be a finite number >= 1 (1 = softmax); got {alpha}")
    return alpha


def _check_scores(z, name: str = "z"):
    z = jnp.asarray(z)
    if z.ndim == 0:
        raise ValueError(f"`{name}` must have at least one axis (scores along the last axis)")
    if z.shape[-1] == 0:
        raise ValueError(f"`{name}` must have at least one entry along the last axis")
    if not jnp.issubdtype(z.dtype, jnp.floating):
        z = z.astype(jnp.result_type(float))
    return z


# ----------------------------------------------------------------------------------------------
# shared derivative


def _entmax_tangent(p, dz, alpha: float):
    if alpha == 1.0:
        w = p
    elif alpha == 2.0:
        w = (p > 0).astype(p.dtype)
    else:
        w = jnp.where(p > 0, jnp.where(p > 0, p, 1.0) ** (2.0 - alpha), 0.0)
    q = jnp.sum(w * dz, axis=-1, keepdims=True) / jnp.sum(w, axis=-1, keepdims=True)
    return w * dz - w * q


# ----------------------------------------------------------------------------------------------
# exact sort-based algorithms


def _sparsemax_fwd(z):
    z = z - jnp.max(z, axis=-1, keepdims=True)
    k = z.shape[-1]
    zs = -jnp.sort(-z, axis=-1)  # descending
    rng = jnp.arange(1, k + 1, dtype=z.dtype).reshape((1,) * (z.ndim - 1) + (k,))
    css = jnp.cumsum(zs, axis=-1)
    support = (1.0 + rng * zs) > css
    ks = jnp.sum(support, axis=-1, keepdims=True)
    tau = (jnp.take_along_axis(css, ks - 1, axis=-1) - 1.0) / ks.astype(z.dtype)
    return jnp.maximum(z - tau, 0.0)


def _entmax15_fwd(z):
    z = (z - jnp.max(z, axis=-1, keepdims=True)) / 2.0
    k = z.shape[-1]
    zs = -jnp.sort(-z, axis=-1)
    rng = jnp.arange(1, k + 1, dtype=z.dtype).reshape((1,) * (z.ndim - 1) + (k,))
    mean = jnp.cumsum(zs, axis=-1) / rng
    mean_sq = jnp.cumsum(zs**2, axis=-1) / rng
    ss = rng * (mean_sq - mean**2)
    delta = (1.0 - ss) / rng
    tau = mean - jnp.sqrt(jnp.maximum(delta, 0.0))
    support = tau <= zs
    ks = jnp.sum(support, axis=-1, keepdims=True)
    tau_star = jnp.take_along_axis(tau, ks - 1, axis=-1)
    p = jnp.maximum(z - tau_star, 0.0) ** 2
    # exact up to rounding; renormalise so that the output sums to one in float32
    return p / jnp.sum(p, axis=-1, keepdims=True)


@jax.custom_jvp
def _sparsemax(z):
    return _sparsemax_fwd(z)


@_sparsemax.defjvp
def _sparsemax_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    p = _sparsemax(z)
    return p, _entmax_tangent(p, dz, 2.0)


@jax.custom_jvp
def _entmax15(z):
    return _entmax15_fwd(z)


@_entmax15.defjvp
def _entmax15_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    p = _entmax15(z)
    return p, _entmax_tangent(p, dz, 1.5)


def softmax(z: Float[Array, "*B K"]) -> Float[Array, "*B K"]:
    r"""Softmax along the last axis, :math:`p_j = e^{z_j} / \sum_k e^{z_k}` (:math:`\alpha = 1`).

    **Arguments:** ``z`` — scores, shape (..., K).

    **Returns:** probabilities of the same shape (strictly positive, summing to one).
    """
    return jax.nn.softmax(_check_scores(z), axis=-1)


def sparsemax(z: Float[Array, "*B K"], *, method: str = "bisect") -> Float[Array, "*B K"]:
    r"""Sparsemax (Martins & Astudillo 2016): the Euclidean projection of ``z`` on the simplex,
    :math:`p = [z - \tau]_+` (2-entmax), :math:`\tau = (\sum_{j\in S} z_j - 1)/|S|`.

    **Arguments:** ``z`` — scores, shape (..., K); ``method`` — ``"sort"`` (the exact O(K log K)
    algorithm of the paper) or ``"bisect"`` (support by bisection, then the same closed-form
    threshold; equal to float precision and much faster on CPU, see :func:`entmax_bisect`).

    **Returns:** probabilities of the same shape (sparse, summing to one).
    """
    return entmax(z, 2.0, method=method)


def entmax15(z: Float[Array, "*B K"], *, method: str = "bisect") -> Float[Array, "*B K"]:
    r"""1.5-entmax (Peters et al. 2019): :math:`p_j = [z_j/2 - \tau]_+^2`, with
    :math:`\tau = \bar z_S - \sqrt{(1 - \sum_{j\in S}(z_j/2 - \bar z_S)^2)/|S|}` on the support S
    (:math:`\bar z_S` the mean of :math:`z_j/2` over S).

    **Arguments:** ``z`` — scores, shape (..., K); ``method`` — ``"sort"`` (exact: S from the
    cumulative mean and mean of squares of the sorted scores) or ``"bisect"`` (S by bisection,
    then the same closed form; equal to float precision and much faster on CPU).

    **Returns:** probabilities of the same shape (sparse, summing to one).
    """
    return entmax(z, 1.5, method=method)


def _power(u, exponent: float):
    """``u ** exponent`` for u >= 0, with cheap special cases (pow is slow elementwise)."""
    if exponent == 1.0:
        return u
    if exponent == 2.0:
        return u * u
    return u**exponent


def _bisect_threshold(z, alpha: float, n_iter: int):
    """Lower end of the bisection bracket of tau for scores ``z`` already scaled by (alpha - 1) and
    shifted so that max z = 0."""
    am1 = alpha - 1.0
    inv = 1.0 / am1
    k = z.shape[-1]

    def mass(tau):
        return jnp.sum(_power(jnp.maximum(z - tau, 0.0), inv), axis=-1, keepdims=True)

    # at tau = max - 1 the largest entry alone has mass 1; at max - K^(1-alpha) every entry is
    # <= 1/K, so the root lies in between
    lo = jnp.full(z.shape[:-1] + (1,), -1.0, z.dtype)
    hi = jnp.full(z.shape[:-1] + (1,), -((1.0 / k) ** am1), z.dtype)

    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        too_much = mass(mid) >= 1.0
        return jnp.where(too_much, mid, lo), jnp.where(too_much, hi, mid)

    lo, _ = jax.lax.fori_loop(0, n_iter, body, (lo, hi))
    return lo


_SUPPORT_ITERS = 14
_CLOSED_FORM_ROUNDS = 3


def _closed_form_threshold(z, s, alpha: float):
    """Threshold of 1.5-entmax / sparsemax on a given support ``s`` (scaled, max-shifted z)."""
    k = jnp.maximum(jnp.sum(s, axis=-1, keepdims=True), 1).astype(z.dtype)
    total = jnp.sum(jnp.where(s, z, 0.0), axis=-1, keepdims=True)
    if alpha == 2.0:
        return (total - 1.0) / k
    mean = total / k
    ss = jnp.sum(jnp.where(s, (z - mean) ** 2, 0.0), axis=-1, keepdims=True)
    return mean - jnp.sqrt(jnp.maximum((1.0 - ss) / k, 0.0))


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _entmax_bisect(z, alpha: float, n_iter: int):
    am1 = alpha - 1.0
    z = am1 * (z - jnp.max(z, axis=-1, keepdims=True))  # max is 0
    if alpha in (1.5, 2.0):
        # a short bisection brackets the threshold; the support S = {z > tau} is then settled by
        # rounds of the closed-form threshold on S (Michelot's algorithm for sparsemax), exact up
        # to entries within 2^-_SUPPORT_ITERS of the threshold whose mass is negligible
        tau = _bisect_threshold(z, alpha, min(n_iter, _SUPPORT_ITERS))
        for _ in range(_CLOSED_FORM_ROUNDS):
            tau = _closed_form_threshold(z, z > tau, alpha)
    else:
        tau = _bisect_threshold(z, alpha, n_iter)
    p = _power(jnp.maximum(z - tau, 0.0), 1.0 / am1)
    return p / jnp.sum(p, axis=-1, keepdims=True)


@_entmax_bisect.defjvp
def _entmax_bisect_jvp(alpha, n_iter, primals, tangents):
    (z,), (dz,) = primals, tangents
    p = _entmax_bisect(z, alpha, n_iter)
    return p, _entmax_tangent(p, dz, alpha)


def _check_n_iter(n_iter):
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"`n_iter` must be an integer >= 1; got {n_iter!r}")
    return n_iter


def entmax_bisect(
    z: Float[Array, "*B K"], alpha: float = 1.5, *, n_iter: int = 30
) -> Float[Array, "*B K"]:
    r"""Alpha-entmax for any :math:`\alpha > 1` by bisection on the threshold :math:`\tau`.

    Solves :math:`\sum_j [(\alpha-1) z_j - \tau]_+^{1/(\alpha-1)} = 1`; :math:`\tau` lies in
    :math:`[(\alpha-1)\max z - 1,\ (\alpha-1)\max z - K^{1-\alpha}]`, an interval that ``n_iter``
    halvings shrink to :math:`2^{-n_{iter}}`; the output is renormalised. For alpha = 1.5 and 2
    at most 14 halvings only bracket the support, which three rounds of the closed-form threshold
    on the current support (:math:`S \leftarrow \{z > \tau(S)\}`, Michelot's algorithm for
    sparsemax) then settle, so the result equals the exact sort-based one to float precision.
    Costs O(n_iter K) elementwise work with no sort (sorting is slow under XLA on CPU).

    **Arguments:**

    * ``z`` — scores, shape (..., K).
    * ``alpha`` — a Python float > 1 (1.5 = :func:`entmax15`, 2 = :func:`sparsemax`).
    * ``n_iter`` — number of bisection steps.

    **Returns:** probabilities of the same shape.

    **Raises:** ``ValueError`` if ``alpha <= 1`` (use :func:`softmax` for 1) or ``n_iter < 1``.
    """
    alpha = _check_alpha(alpha)
    if alpha == 1.0:
        raise ValueError("`alpha` must be > 1 for bisection; alpha = 1 is softmax (use softmax)")
    return _entmax_bisect(_check_scores(z), alpha, _check_n_iter(n_iter))


def entmax(
    z: Float[Array, "*B K"], alpha: float = 1.5, *, method: str = "bisect", n_iter: int = 30
) -> Float[Array, "*B K"]:
    r"""Alpha-entmax along the last axis (softmax at 1, 1.5-entmax, sparsemax at 2, any alpha >= 1).

    **Arguments:**

    * ``z`` — scores, shape (..., K).
    * ``alpha`` — a Python float >= 1.
    * ``method`` — ``"bisect"`` (default; any alpha > 1, see :func:`entmax_bisect`) or ``"sort"``
      (exact sort-based algorithm; alpha in {1.5, 2}). Alpha = 1 is softmax for either method.
    * ``n_iter`` — bisection steps.

    **Returns:** probabilities of the same shape.

    **Raises:** ``ValueError`` for ``alpha < 1``, an unknown ``method``, or ``method="sort"`` with
    an alpha that has no exact algorithm.
    """
    alpha = _check_alpha(alpha)
    if method not in ("sort", "bisect"):
        raise ValueError(f"`method` must be 'sort' or 'bisect'; got {method!r}")
    if alpha == 1.0:
        return softmax(z)
    if method == "sort":
        if alpha == 1.5:
            return _entmax15(_check_scores(z))
        if alpha == 2.0:
            return _sparsemax(_check_scores(z))
        raise ValueError(
            f"no exact sort-based algorithm for alpha = {alpha}; exact sort-based algorithms exist "
            "for alpha in {1, 1.5, 2}; use method='bisect'"
        )
    return entmax_bisect(z, alpha, n_iter=n_iter)


def tsallis_entropy(p: Float[Array, "*B K"], alpha: float) -> Float[Array, "*B"]:
    r"""Tsallis entropy :math:`H^T_\alpha(p) = \frac{1}{\alpha(\alpha-1)}\sum_j (p_j - p_j^\alpha)`
    along the last axis; Shannon entropy :math:`-\sum_j p_j \log p_j` at ``alpha = 1``.

    **Raises:** ``ValueError`` if ``alpha < 1``.
    """
    alpha = _check_alpha(alpha)
    p = jnp.asarray(p)
    if alpha == 1.0:
        safe = jnp.where(p > 0, p, 1.0)
        return -jnp.sum(jnp.where(p > 0, p * jnp.log(safe), 0.0), axis=-1)
    return jnp.sum(p - p**alpha, axis=-1) / (alpha * (alpha - 1.0))


# ----------------------------------------------------------------------------------------------
# normalizer objects


class AbstractNormalizer(eqx.Module):
    r"""A map from scores to the probability simplex, applied along the last axis.

    ``conjugate(z)`` is :math:`\Psi^*(z) = \max_{p\in\Delta}\langle p,z\rangle + H(p)`; its gradient
    is ``self(z)`` (Danskin), so energies built from it have the normalizer as their force.
    """

    alpha: eqx.AbstractVar[float]

    @abc.abstractmethod
    def __call__(self, z: Float[Array, "*B K"]) -> Float[Array, "*B K"]:
        """Probabilities along the last axis."""

    def conjugate(self, z: Float[Array, "*B K"]) -> Float[Array, "*B"]:
        r""":math:`\Psi^*(z) = \langle p^*, z\rangle + H^T_\alpha(p^*)`, with
        :math:`\nabla\Psi^* = p^*`."""
        return _conjugate(self, jnp.asarray(z))


@eqx.filter_custom_jvp
def _conjugate(normalizer, z):
    if normalizer.alpha == 1.0:
        return jax.nn.logsumexp(z, axis=-1)
    p = normalizer(z)
    return jnp.sum(p * z, axis=-1) + tsallis_entropy(p, normalizer.alpha)


@_conjugate.def_jvp
def _conjugate_jvp(primals, tangents):
    normalizer, z = primals
    _, dz = tangents
    out = _conjugate(normalizer, z)
    if dz is None:
        return out, jnp.zeros_like(out)
    return out, jnp.sum(normalizer(z) * dz, axis=-1)


class Softmax(AbstractNormalizer):
    """Softmax normalizer (alpha = 1); ``conjugate`` is log-sum-exp."""

    alpha: float = eqx.field(default=1.0, static=True)

    def __check_init__(self):
        if self.alpha != 1.0:
            raise ValueError(f"Softmax has alpha = 1; got {self.alpha}")

    def __call__(self, z):
        return softmax(z)


def _check_method(method, alpha):
    if method not in ("sort", "bisect"):
        raise ValueError(f"`method` must be 'sort' or 'bisect'; got {method!r}")
    if method == "sort" and alpha not in (1.0, 1.5, 2.0):
        raise ValueError(f"no exact sort-based algorithm for alpha = {alpha}; use method='bisect'")


class Sparsemax(AbstractNormalizer):
    """Sparsemax normalizer (alpha = 2); ``method`` as in :func:`sparsemax`."""

    alpha: float = eqx.field(default=2.0, static=True)
    method: str = eqx.field(default="bisect", static=True)

    def __check_init__(self):
        if self.alpha != 2.0:
            raise ValueError(f"Sparsemax has alpha = 2; got {self.alpha}")
        _check_method(self.method, 2.0)

    def __call__(self, z):
        return sparsemax(z, method=self.method)


class Entmax15(AbstractNormalizer):
    """1.5-entmax normalizer; ``method`` as in :func:`entmax15`."""

    alpha: float = eqx.field(default=1.5, static=True)
    method: str = eqx.field(default="bisect", static=True)

    def __check_init__(self):
        if self.alpha != 1.5:
            raise ValueError(f"Entmax15 has alpha = 1.5; got {self.alpha}")
        _check_method(self.method, 1.5)

    def __call__(self, z):
        return entmax15(z, method=self.method)


class Entmax(AbstractNormalizer):
    """General alpha-entmax normalizer (see :func:`entmax`).

    **Arguments:** ``alpha`` (>= 1), ``method`` (``"bisect"`` or ``"sort"``), ``n_iter``.

    **Raises:** ``ValueError`` for ``alpha < 1`` or an invalid method/alpha combination.
    """

    alpha: float = eqx.field(static=True)
    method: str = eqx.field(default="bisect", static=True)
    n_iter: int = eqx.field(default=30, static=True)

    def __check_init__(self):
        _check_method(self.method, _check_alpha(self.alpha))
        _check_n_iter(self.n_iter)

    def __call__(self, z):
        return entmax(z, float(self.alpha), method=self.method, n_iter=self.n_iter)


_NAMES = {
    "softmax": Softmax,
    "sparsemax": Sparsemax,
    "entmax15": Entmax15,
    "1.5-entmax": Entmax15,
}


def get_normalizer(normalizer) -> AbstractNormalizer:
    """Return ``normalizer`` as an :class:`AbstractNormalizer`.

    Accepts a normalizer object, a name (``"softmax"``, ``"sparsemax"``, ``"entmax15"``) or a
    number ``alpha`` (>= 1, giving :class:`Entmax`).

    **Raises:** ``ValueError`` for unknown names or ``alpha < 1``; ``TypeError`` otherwise.
    """
    if isinstance(normalizer, AbstractNormalizer):
        return normalizer
    if isinstance(normalizer, str):
        if normalizer not in _NAMES:
            raise ValueError(
                f"`normalizer` must be one of {sorted(_NAMES)} or an alpha >= 1; got {normalizer!r}"
            )
        return _NAMES[normalizer]()
    if isinstance(normalizer, (int, float, np.integer, np.floating)) and not isinstance(
        normalizer, (bool, np.bool_)
    ):
        alpha = _check_alpha(float(normalizer))
        if alpha == 1.0:
            return Softmax()
        return Entmax(alpha)
    raise TypeError(
        "`normalizer` must be a damjax normalizer (Softmax(), Entmax15(), Sparsemax(), "
        f"Entmax(alpha)), a name or an alpha; got {normalizer!r}"
    )
