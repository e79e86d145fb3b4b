r"""Closed-form capacity theory: Krotov & Hopfield 2016 (polynomial F) and Demircigil et al. 2017
(exponential F). Plain floats (Python / NumPy), no JAX: these are reference curves.

**Krotov & Hopfield 2016** (Sec. 2 and Appendix A of "Dense Associative Memory for Pattern
Recognition"). For F(x) = x^n and K random memories on N neurons, flipping bit i of a stored
pattern changes the energy by a signal :math:`\approx 2n N^{n-1}` plus a noise term from the other
K - 1 memories that is approximately Gaussian with variance :math:`\Omega_n (K-1) N^{n-1}`,
:math:`\Omega_n = 4 n^2 (2n-3)!!`. The probability that a given bit of a stored pattern is
unstable (one update flips it) is therefore

.. math:: P_\mathrm{err} = \bar\Phi\Big(\sqrt{N^{n-1} / ((2n-3)!!\,(K-1))}\Big),

with :math:`\bar\Phi` the standard normal upper tail. **Error-rate convention used here:**
``error_rate`` is this per-bit instability probability; fixing it gives
:math:`K_\max = \alpha_n N^{n-1}`, :math:`\alpha_n = 1 / ((2n-3)!!\, z^2)`,
:math:`z = \bar\Phi^{-1}(\mathrm{error\_rate})`. The default 0.0036 gives the classical
:math:`\alpha_2 \approx 0.138` (the n = 2 Hopfield limit, K_max ≈ 0.14 N).
With no errors allowed (every bit of every memory stable) the paper gives
:math:`K_\max \approx N^{n-1} / (2 (2n-3)!! \ln N)` (n = 2: N / (2 ln N), McEliece et al. 1987).

**Demircigil et al. 2017**. For F(x) = exp(x), M = exp(alpha N) + 1 random patterns are retrieved
with high probability from cues with rho N flipped bits when
:math:`\alpha < I(1 - 2\rho)/2`, :math:`I(x) = ((1+x)\ln(1+x) + (1-x)\ln(1-x))/2`; rho = 0 gives
:math:`M = 2^{N/2}`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = [
    "HOPFIELD_ALPHA",
    "demircigil_alpha",
    "demircigil_info",
    "demircigil_max_patterns",
    "double_factorial",
    "krotov_alpha",
    "krotov_bit_error_rate",
    "krotov_k_all_stable",
    "krotov_k_half",
    "krotov_kmax",
    "krotov_kmax_no_errors",
    "krotov_omega",
]

#: Classical capacity of the n = 2 (Hopfield) network, K_max / N at the 0.0036 per-bit error rate.
HOPFIELD_ALPHA = 0.138

DEFAULT_ERROR_RATE = 0.0036


def _degree(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"`n` (interaction degree) must be an integer >= 2; got {n!r}")
    return int(n)


def _dim(N, name="N"):
    a = np.asarray(N, dtype=float)
    if np.any(~np.isfinite(a)) or np.any(a < 2):
        raise ValueError(f"`{name}` (number of neurons) must be >= 2; got {N!r}")
    return a


def double_factorial(k: int) -> int:
    """``k!! = k (k-2) (k-4) ...`` (1 for k <= 0, so that (2n-3)!! = 1 at n = 2 and (-1)!! = 1)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"`k` must be an integer; got {k!r}")
    return math.prod(range(int(k), 0, -2)) if k > 0 else 1


def krotov_omega(n: int) -> int:
    r""":math:`\Omega_n = 4 n^2 (2n-3)!!`: noise variance per memory and per :math:`N^{n-1}`."""
    n = _degree(n)
    return 4 * n * n * double_factorial(2 * n - 3)


def _check_rate(error_rate):
    if not (isinstance(error_rate, (int, float)) and 0.0 < error_rate < 0.5):
        raise ValueError(f"`error_rate` must lie in (0, 0.5); got {error_rate!r}")


def krotov_alpha(n: int, *, error_rate: float = DEFAULT_ERROR_RATE) -> float:
    r""":math:`\alpha_n = 1 / ((2n-3)!!\, z^2)` with :math:`z = \bar\Phi^{-1}(\mathrm{error\_rate})`.

    **Arguments:** ``n`` — degree >= 2; ``error_rate`` — tolerated per-bit instability
    probability of a stored pattern (default 0.0036, which gives alpha_2 = 0.138).

    **Returns:** the capacity prefactor, :math:`K_\max = \alpha_n N^{n-1}`.

    **Raises:** ``ValueError`` for n < 2 or an error rate outside (0, 0.5).
    """
    n = _degree(n)
    _check_rate(error_rate)
    z = -ndtri(error_rate)
    return float(1.0 / (double_factorial(2 * n - 3) * z * z))


def krotov_kmax(N, n: int, *, error_rate: float = DEFAULT_ERROR_RATE):
    r"""Krotov-Hopfield capacity with errors allowed, :math:`K_\max = \alpha_n N^{n-1}` (n = 2:
    the classical :math:`\approx 0.138 N`). Works elementwise on arrays of N."""
    return krotov_alpha(n, error_rate=error_rate) * _dim(N) ** (n - 1)


def krotov_kmax_no_errors(N, n: int):
    r"""Krotov-Hopfield capacity with no errors allowed,
    :math:`K_\max = N^{n-1} / (2 (2n-3)!! \ln N)` (n = 2: N / (2 ln N), McEliece et al. 1987).

    Convention: every bit of a *given* memory is stable with high probability (N Gaussian tails
    :math:`\bar\Phi(z) \sim e^{-z^2/2}` with :math:`z^2 = 2 \ln N`); it is the large-N form of
    :func:`krotov_k_half`. Requiring ALL K memories to be stable at once
    (:func:`krotov_k_all_stable`) has the same :math:`N^{n-1}/\ln N` scaling with a prefactor
    smaller by 1/n asymptotically (n = 2: McEliece's N / (4 ln N)).
    """
    n = _degree(n)
    N = _dim(N)
    return N ** (n - 1) / (2.0 * double_factorial(2 * n - 3) * np.log(N))


def krotov_bit_error_rate(N, K, n: int):
    r"""Predicted per-bit instability of a stored pattern,
    :math:`\bar\Phi(\sqrt{N^{n-1} / ((2n-3)!!\,(K-1))})` (0 for K = 1)."""
    n = _degree(n)
    N = _dim(N)
    K = np.asarray(K, dtype=float)
    if np.any(K < 1):
        raise ValueError(f"`K` must be >= 1; got {K!r}")
    with np.errstate(divide="ignore"):
        snr = np.sqrt(N ** (n - 1) / (double_factorial(2 * n - 3) * (K - 1)))
    return ndtr(-snr)


def krotov_k_half(N, n: int):
    r"""K at which half of the stored patterns are fixed points in the Gaussian theory above:
    all N bits stable with probability :math:`(1-P_\mathrm{err})^N = 1/2`, i.e.
    :math:`K_{1/2} = 1 + N^{n-1} / ((2n-3)!!\, z^2)`, :math:`z = \bar\Phi^{-1}(1 - 2^{-1/N})`."""
    n = _degree(n)
    N = _dim(N)
    p = -np.expm1(-np.log(2.0) / N)  # 1 - 2^(-1/N), accurate for large N
    z = -ndtri(p)
    return 1.0 + N ** (n - 1) / (double_factorial(2 * n - 3) * z * z)


def krotov_k_all_stable(N, n: int, *, prob: float = 0.5) -> float:
    r"""Finite-N version of the no-error capacity: the K at which ALL K memories are fixed points
    with probability ``prob``, treating the N K bit instabilities as independent events of the
    Gaussian theory above, :math:`(1 - P_\mathrm{err}(N, K))^{N K} = \mathrm{prob}`. It scales
    like :func:`krotov_kmax_no_errors` (:math:`N^{n-1}/\ln N`) with a prefactor tending to
    1/n of it (slowly: ln ln N / ln N corrections); at the N of simulations it is the sharp
    reference for "every stored memory is a fixed point".

    **Raises:** ``ValueError`` for N < 2, n < 2 or prob outside (0, 1).
    """
    from scipy.optimize import brentq

    n = _degree(n)
    N = float(_dim(N))
    if not 0.0 < prob < 1.0:
        raise ValueError(f"`prob` must lie in (0, 1); got {prob!r}")
    dd = double_factorial(2 * n - 3)

    def gap(K):
        p_err = ndtr(-np.sqrt(N ** (n - 1) / (dd * (K - 1.0))))
        return N * K * np.log1p(-p_err) - np.log(prob)

    lo, hi = 1.0 + 1e-9, 2.0
    while gap(hi) > 0:
        hi *= 2.0
    return float(brentq(gap, lo, hi, xtol=1e-6, rtol=1e-10))


def demircigil_info(x):
    r""":math:`I(x) = ((1+x)\ln(1+x) + (1-x)\ln(1-x)) / 2` for x in [-1, 1] (I(±1) = ln 2)."""
    x = np.asarray(x, dtype=float)
    if np.any(np.abs(x) > 1) or np.any(~np.isfinite(x)):
        raise ValueError(f"`x` must lie in [-1, 1]; got {x!r}")

    def xlogx(y):
        return np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)

    return 0.5 * (xlogx(1 + x) + xlogx(1 - x))


def demircigil_alpha(rho):
    r"""Demircigil et al.'s storage threshold :math:`\alpha(\rho) = I(1 - 2\rho) / 2`: patterns
    M = exp(alpha N) + 1 are retrieved from cues with rho N flipped bits when alpha is below it.
    rho = 0 gives ln(2)/2 (M = 2^(N/2)).

    **Raises:** ``ValueError`` unless 0 <= rho < 1/2.
    """
    r = np.asarray(rho, dtype=float)
    if np.any(~np.isfinite(r)) or np.any(r < 0) or np.any(r >= 0.5):
        raise ValueError(f"`rho` must lie in [0, 1/2); got {rho!r}")
    out = 0.5 * demircigil_info(1.0 - 2.0 * r)
    return float(out) if out.ndim == 0 else out


def demircigil_max_patterns(N, rho):
    """Largest number of patterns M = exp(alpha(rho) N) + 1 retrievable in the Demircigil theory
    (as a float; it overflows to inf only for astronomically large N)."""
    N = _dim(N)
    with np.errstate(over="ignore"):
        return np.exp(demircigil_alpha(rho) * N) + 1.0
