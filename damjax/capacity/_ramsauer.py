r"""Storage and retrieval theory of the continuous modern Hopfield network (Ramsauer et al. 2020,
"Hopfield Networks is All You Need", ICLR 2021): pattern separation, the Theorem 3 storage
constants (with the Lambert W function) and the Theorem 5 one-step retrieval error bound.

Conventions are the paper's, with its N (number of patterns) called K here where it is an array
size; beta multiplies raw inner products.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, Scalar
from .._numerics import HI as _HI

__all__ = [
    "StorageConstants",
    "lambertw",
    "retrieval_error_bound",
    "separation",
    "storage_constants",
]


def separation(patterns: Float[Array, "K d"]) -> Float[Array, " K"]:
    r"""Separation of every pattern from the others,
    :math:`\Delta_i = x_i^T x_i - \max_{j\ne i} x_i^T x_j` (Ramsauer et al. 2020, Def. 1).

    **Arguments:** ``patterns`` — (K, d) array, one pattern per row.

    **Returns:** (K,) separations; ``inf`` for K = 1 (no other pattern).

    **Raises:** ``ValueError`` if ``patterns`` is not 2-D.
    """
    x = jnp.asarray(patterns)
    if x.ndim != 2:
        raise ValueError(f"`patterns` must be a 2-D array of shape (K, d); got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    gram = jnp.matmul(x, x.T, precision=_HI)
    k = x.shape[0]
    others = jnp.where(jnp.eye(k, dtype=bool), -jnp.inf, gram)
    return jnp.diagonal(gram) - jnp.max(others, axis=1)


def _lambertw_exp(z):
    r""":math:`W_0(e^z)` for real z: Newton on :math:`w + \log w = z` (no overflow for large z).

    Start: :math:`e^z` for z <= 1 (right of the root), :math:`z - \log z` for z > 1 (left of the
    root). The function is increasing and concave, so after at most one step the iterates
    increase monotonically to the root; 8 quadratic steps reach float64 round-off.
    """
    z = jnp.asarray(z)
    w = jnp.where(z <= 1.0, jnp.exp(jnp.minimum(z, 1.0)), z - jnp.log(jnp.maximum(z, 1.0)))
    for _ in range(8):
        w = jnp.where(w > 0, w * (1.0 + z - jnp.log(jnp.where(w > 0, w, 1.0))) / (1.0 + w), w)
    return w


@jax.jit
def lambertw(x: ArrayLike) -> Array:
    r"""Principal branch :math:`W_0(x)` of the Lambert W function (:math:`W e^W = x`), real
    x >= -1/e, in pure JAX (differentiable, jit/vmap-able, no SciPy).

    x > 0 uses Newton's method on :math:`w + \log w = \log x`; -1/e <= x <= 0 uses Halley's
    method on :math:`w e^w - x` from the branch-point series
    :math:`w \approx -1 + p - p^2/3 + 11p^3/72`, :math:`p = \sqrt{2(ex + 1)}`.

    **Returns:** W0(x) in the input's floating dtype; NaN for x < -1/e.
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    pos = x > 0
    w_pos = _lambertw_exp(jnp.log(jnp.where(pos, x, 1.0)))

    xn = jnp.where(pos, -0.1, x)  # negative branch, x in [-1/e, 0]
    p = jnp.sqrt(jnp.maximum(2.0 * (math.e * xn + 1.0), 0.0))
    w = jnp.where(xn < -0.25, -1.0 + p - p * p / 3.0 + 11.0 / 72.0 * p**3, xn)
    for _ in range(10):
        ew = jnp.exp(w)
        f = w * ew - xn
        wp1 = w + 1.0
        denom = ew * wp1 - (w + 2.0) * f / (2.0 * wp1)
        safe = (jnp.abs(wp1) > 1e-7) & (denom != 0)
        w = jnp.where(safe, w - f / jnp.where(safe, denom, 1.0), w)
    w_neg = jnp.where(xn < -1.0 / math.e - 1e-7, jnp.nan, w)
    return jnp.where(pos, w_pos, w_neg)


class StorageConstants(NamedTuple):
    r"""Constants of Ramsauer et al. 2020, Theorem 3 (random patterns on the sphere of radius
    :math:`M = K\sqrt{d-1}`).

    * ``a`` :math:`= \frac{2}{d-1}\big(1 + \ln(2\beta K^2 p (d-1))\big)`
    * ``b`` :math:`= \frac{2 K^2 \beta}{5}`
    * ``c`` :math:`= b / W_0(\exp(a + \ln b))`
    * ``capacity`` :math:`= \sqrt{p}\, c^{(d-1)/4}` (patterns storable with probability 1 - p)
    * ``c_min`` :math:`= (2/\sqrt{p})^{4/(d-1)}` (the theorem needs ``c >= c_min``)
    * ``valid`` — ``c >= c_min``
    * ``radius`` — :math:`M = K\sqrt{d-1}`
    """

    a: Scalar
    b: Scalar
    c: Scalar
    capacity: Scalar
    c_min: Scalar
    valid: Scalar
    radius: Scalar


def storage_constants(
    dim: int, *, beta: float = 1.0, radius_scale: float = 1.0, failure_prob: float = 0.001
) -> StorageConstants:
    r"""Theorem 3 of Ramsauer et al. 2020: exponential storage capacity of the continuous modern
    Hopfield network for random patterns on a sphere.

    "With probability 1 - p, the number of random patterns that can be stored is
    :math:`N \ge \sqrt{p}\,c^{(d-1)/4}`", with the constants of :class:`StorageConstants`.
    The paper's examples: beta = 1, K = 3, d = 20, p = 0.001 give c = 3.1546; beta = 1, K = 1,
    d = 75, p = 0.001 give c = 1.3718.

    **Arguments:**

    * ``dim`` — pattern dimension d (integer >= 2).
    * ``beta`` — inverse temperature (> 0).
    * ``radius_scale`` — the paper's K: patterns lie on the sphere of radius K sqrt(d - 1).
    * ``failure_prob`` — p in (0, 1].

    **Returns:** :class:`StorageConstants`. The Lambert W is evaluated on :math:`\log` of its
    argument, so large a + ln b do not overflow.

    **Raises:** ``ValueError`` for d < 2, beta or radius_scale <= 0, p outside (0, 1].
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
        raise ValueError(f"`dim` must be an integer >= 2; got {dim!r}")
    for name, v in (("beta", beta), ("radius_scale", radius_scale)):
        if not (math.isfinite(float(v)) and float(v) > 0):
            raise ValueError(f"`{name}` must be a finite number > 0; got {v}")
    if not (0.0 < float(failure_prob) <= 1.0):
        raise ValueError(f"`failure_prob` must lie in (0, 1]; got {failure_prob}")
    dt = jnp.result_type(float)
    d1 = jnp.asarray(dim - 1, dt)
    beta = jnp.asarray(beta, dt)
    k2 = jnp.asarray(radius_scale, dt) ** 2
    p = jnp.asarray(failure_prob, dt)
    a = 2.0 / d1 * (1.0 + jnp.log(2.0 * beta * k2 * p * d1))
    b = 2.0 * k2 * beta / 5.0
    c = b / _lambertw_exp(a + jnp.log(b))
    capacity = jnp.sqrt(p) * c ** (d1 / 4.0)
    c_min = (2.0 / jnp.sqrt(p)) ** (4.0 / d1)
    return StorageConstants(
        a=a,
        b=b,
        c=c,
        capacity=capacity,
        c_min=c_min,
        valid=c >= c_min,
        radius=jnp.asarray(radius_scale, dt) * jnp.sqrt(d1),
    )


def retrieval_error_bound(
    beta: ArrayLike,
    separation: ArrayLike,
    distance: ArrayLike,
    max_norm: ArrayLike,
    num_patterns: int,
) -> Array:
    r"""Theorem 5 of Ramsauer et al. 2020: the error of ONE update from a query near pattern i,

    .. math::

        \|f(\xi) - x_i\| \le 2 (N-1) \exp\!\big(-\beta(\Delta_i - 2\,r\,M)\big)\, M,

    with :math:`r = \max\{\|\xi - x_i\|, \|x_i^* - x_i\|\}` in the paper. The proof needs only
    :math:`r = \|\xi - x_i\|` (then :math:`1 - p_i \le (N-1)e^{-\beta(\Delta_i - 2rM)}` and
    :math:`\|f(\xi)-x_i\| \le 2M(1-p_i)`), and a larger r only loosens the bound, so passing
    :math:`\|\xi - x_i\|` gives a valid (tighter) bound.

    **Arguments:** ``beta``; ``separation`` :math:`\Delta_i`; ``distance`` r; ``max_norm``
    :math:`M = \max_j\|x_j\|`; ``num_patterns`` N (broadcasting arrays).

    **Returns:** the bound, evaluated in the log domain (``inf`` only when it exceeds the dtype).
    """
    beta, sep, r, m = (jnp.asarray(v) for v in (beta, separation, distance, max_norm))
    n = jnp.asarray(num_patterns, jnp.result_type(float))
    log_bound = jnp.log(2.0 * (n - 1.0) * m) - beta * (sep - 2.0 * r * m)
    return jnp.exp(log_bound)
