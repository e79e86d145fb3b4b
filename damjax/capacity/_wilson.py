"""Binomial intervals for sampled capacity estimates: the Wilson score interval, the probe count
a half-width at rate 1/2 needs, and the check that refuses a probe count too small for it."""

from __future__ import annotations

import math
import statistics

import jax.numpy as jnp
import numpy as np

from .._custom_types import is_concrete
from .._validation import check_positive_int

__all__ = ["probes_for_halfwidth", "wilson_interval"]


def _z(confidence: float) -> float:
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"`confidence` must lie in (0, 1); got {confidence}")
    return statistics.NormalDist().inv_cdf(0.5 + 0.5 * float(confidence))


def wilson_interval(successes, trials, confidence: float = 0.95, population=None):
    r"""Wilson score interval for a binomial proportion (Wilson 1927):

    .. math:: \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n},

    :math:`\hat p = s / n`, z the two-sided normal quantile of ``confidence``. With
    ``population`` M (sampling n of M without replacement), z is multiplied by the finite
    population correction :math:`\sqrt{(M - n)/(M - 1)}` (0 when all M are sampled: the share
    is then known exactly). Works on arrays and inside ``jit``. **Returns:** ``(lower, upper)``.

    **Raises:** ``ValueError`` (for concrete values) unless ``trials`` >= 1, ``successes`` are
    whole numbers in ``[0, trials]`` and ``population`` >= ``trials``.
    """
    _check_counts(successes, trials, population)
    s = jnp.asarray(successes, jnp.float32)
    n = jnp.asarray(trials, jnp.float32)
    z = _z(confidence)
    if population is not None:
        M = jnp.asarray(population, jnp.float32)
        z = z * jnp.sqrt(jnp.clip((M - n) / jnp.maximum(M - 1.0, 1.0), 0.0, 1.0))
    p = s / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2.0 * n)) / denom
    half = z / denom * jnp.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return center - half, center + half


def _check_counts(successes, trials, population):
    """Value checks of :func:`wilson_interval` on concrete inputs (traced ones pass)."""
    named = {"successes": successes, "trials": trials, "population": population}
    if any(v is not None and not is_concrete(v) for v in named.values()):
        return
    host = {k: np.asarray(v, np.float64) for k, v in named.items() if v is not None}
    for name, v in host.items():
        if not (np.all(np.isfinite(v)) and np.all(v == np.round(v))):
            raise ValueError(f"`{name}` must be whole, finite counts; got {named[name]!r}")
    s, n = host["successes"], host["trials"]
    if np.any(n < 1):
        raise ValueError(f"`trials` must be >= 1; got {trials!r}")
    if np.any(s < 0) or np.any(s > n):
        raise ValueError(f"`successes` must lie in [0, trials]; got {successes!r} of {trials!r}")
    if "population" in host and np.any(host["population"] < n):
        raise ValueError(
            f"`population` must be >= `trials` (the sample is drawn from it); got {population!r}"
        )


def _wilson_halfwidth_at_half(n: int, z: float) -> float:
    # = z / (2 sqrt(n + z^2)) at a rate of 1/2
    return z / (1.0 + z * z / n) * math.sqrt(0.25 / n + z * z / (4.0 * n * n))


def probes_for_halfwidth(halfwidth: float, confidence: float = 0.95) -> int:
    r"""Smallest probe count whose Wilson interval at a rate of 1/2 (the widest case, and the
    criterion of K_1/2) has half-width at most ``halfwidth`` h.

    At :math:`\hat p = 1/2` the half-width is :math:`z / (2\sqrt{n + z^2})`, so the answer is
    :math:`n = \lceil z^2 / (4 h^2) - z^2 \rceil` (checked against the interval itself, so float
    rounding cannot move it)."""
    if not 0.0 < float(halfwidth) < 0.5:
        raise ValueError(f"`halfwidth` must lie in (0, 1/2); got {halfwidth}")
    z = _z(confidence)
    # the half-width at 1/2 is z / (2 sqrt(n + z^2)): solved for n, then checked by the formula
    # itself at a count or two below (float rounding), so the answer is the smallest
    n = max(1, math.ceil(z * z / (4.0 * halfwidth * halfwidth) - z * z) - 2)
    while _wilson_halfwidth_at_half(n, z) > halfwidth:
        n += 1
    return n


def _resolve_probes(num_probes, halfwidth: float, confidence: float) -> int:
    """``num_probes``, or the count ``halfwidth`` needs; refused when below that count."""
    needed = probes_for_halfwidth(halfwidth, confidence)
    if num_probes is None:
        return needed
    if check_positive_int(num_probes, "num_probes") < needed:
        raise ValueError(
            f"`num_probes` = {num_probes} cannot give a {confidence:.0%} interval of half-width "
            f"{halfwidth} at rate 1/2: that needs >= {needed} probes (or a larger `halfwidth`)"
        )
    return int(num_probes)
