r"""Binary pattern sets with controlled feature correlation and pattern separation.

Bielmeier & Friedland 2025, "Effects of Feature Correlations on Associative Memory Capacity"
(arXiv:2508.01395) build data sets that vary two things independently:

* **feature correlation** — how strongly the N features (columns of the (K, N) pattern matrix)
  co-vary across patterns, measured as the mean absolute Pearson correlation
  :math:`\bar c = \binom{N}{2}^{-1}\sum_{i<j} |\mathrm{corr}(x_{\cdot i}, x_{\cdot j})|`;
* **separation** — the minimum pairwise Hamming distance
  :math:`d_{\min} = \min_{\mu<\nu} d_H(\xi^\mu, \xi^\nu)` (or the mean, :math:`\bar d`), with
  :math:`d_H(\xi, \eta) = (N - \xi\cdot\eta)/2` for :math:`\pm 1` vectors.

Correlated patterns are drawn from one of three distributions (``method``), each with a single
parameter ``correlation`` in [0, 1] (0 = i.i.d. uniform patterns):

* ``"latent"`` — a one-factor Gaussian latent model thresholded to +-1:
  :math:`\xi_{\mu i} = \mathrm{sign}(a\, t_i z_\mu + \sqrt{1-a^2}\,\varepsilon_{\mu i})` with a
  shared random sign template :math:`t \in \{\pm1\}^N` and :math:`z_\mu, \varepsilon_{\mu i}
  \sim \mathcal N(0, 1)`. By Sheppard's arcsine law every feature pair has
  :math:`|\mathrm{corr}| = \tfrac{2}{\pi}\arcsin(a^2)`, so :math:`a^2 = \sin(\pi c / 2)` gives
  population correlation exactly ``c`` for every pair.
* ``"template"`` — a shared template with per-pattern flips and a random global sign:
  :math:`\xi_{\mu i} = s_\mu t_i f_{\mu i}` with :math:`s_\mu = \pm1` uniform and
  :math:`f_{\mu i} = -1` with probability p. Every feature pair has
  :math:`|\mathrm{corr}| = (1-2p)^2`, so :math:`p = (1-\sqrt{c})/2`. (Without the random sign
  the features would only be biased, not correlated.)
* ``"markov"`` — every pattern is a stationary +-1 Markov chain along the features:
  :math:`\xi_{\mu,i+1} = \xi_{\mu i}` with probability (1 + c)/2, so
  :math:`\mathrm{corr}(x_{\cdot i}, x_{\cdot j}) = c^{|i-j|}`: ``c`` is the lag-1 correlation and
  the mean over all pairs is smaller. Patterns stay independent and unbiased.

A required separation ``min_distance = d`` is enforced by sequential rejection sampling (a random
greedy code construction): candidates are drawn from the correlated distribution and kept when
their Hamming distance to every kept pattern is at least d. Every prefix of the returned set
therefore also has minimum distance >= d, so capacity searches over K by prefixes (masks) see
the requested separation at every K. The empirical statistics are measured on the returned set,
never assumed.

A target **mean** separation ``mean_distance = D`` switches to flips of the shared template,
:math:`\xi^\mu = t \odot f^\mu` with :math:`P(f_i = -1) = p` and :math:`2p(1-p)N = D` (so
:math:`E\,\bar d = D` exactly), where ``correlation`` now correlates the flips along the features
(``"latent"``: the thresholded one-factor Gaussian with its loading solved for Pearson correlation
c at threshold quantile p; ``"markov"``: a two-state chain with stationary flip probability p and
lag-1 correlation c). Separation and correlation are then independent knobs.

Reachability: no K patterns with minimum distance d exist when d exceeds the Plotkin or Hamming
(sphere-packing) bounds; the Gilbert–Varshamov bound guarantees that uniform random greedy
constructions can reach :math:`K \ge 2^N / V(N, d-1)`, :math:`V(N, r) = \sum_{i\le r}\binom{N}{i}`.
:func:`separation_bounds` reports both.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Float, PRNGKeyArray, is_concrete
from .._validation import check_positive_int
from ._samplers import (
    _METHODS,
    Method,
    _check_correlation,
    _check_mean_distance,
    _draw,
    _flip_probability,
    _sampler,
    expected_feature_correlation,
)
from ._separated import _greedy, separation_bounds
from ._stats import _check_dims, pattern_stats

__all__ = [
    "PatternSet",
    "correlated_patterns",
    "correlated_sample",
    "separated_patterns",
]


class PatternSet(NamedTuple):
    """A generated pattern set together with what was actually produced.

    **Fields:**

    * ``patterns`` — (K, N) array of +-1.
    * ``feature_correlation``, ``min_distance``, ``mean_distance`` — measured on ``patterns``
      (see :class:`PatternStats`).
    * ``expected_feature_correlation`` — the population mean |feature correlation| of the
      sampling distribution before any separation constraint (``correlation`` itself for
      ``"latent"`` and ``"template"``).
    * ``draws`` — number of candidate patterns drawn (K when no separation is required).
    """

    patterns: Float[Array, "K N"]
    feature_correlation: float
    min_distance: int
    mean_distance: float
    expected_feature_correlation: float
    draws: int


def correlated_sample(
    key: PRNGKeyArray,
    K: int,
    N: int,
    *,
    correlation: float | Float[Array, ""] = 0.0,
    mean_distance: float | Float[Array, ""] | None = None,
    method: Method = "markov",
    dtype=jnp.float32,
) -> Float[Array, "K N"]:
    r"""K patterns from the distributions of :func:`correlated_patterns`, traceable.

    No separation constraint and no statistics (those run on the host); for use inside ``jit``,
    ``vmap`` and :func:`damjax.sweep.run` experiments. With ``method="markov"`` (default) or
    ``"template"``, ``correlation`` and ``mean_distance`` may be traced scalars (their values are
    checked only when concrete); ``"latent"`` needs concrete values.

    **Arguments:** as :func:`correlated_patterns` (``K`` and ``N`` static integers).

    **Returns:** a (K, N) array of +-1: with ``mean_distance = D`` the template flips
    :math:`\xi^\mu = t\odot f^\mu` with :math:`2p(1-p)N = D`, otherwise unbiased features.

    **Raises:** ``ValueError`` for N < 2, K < 2, an unknown ``method``, a concrete
    ``correlation`` outside [0, 1] or ``mean_distance`` outside (0, N/2]; ``TypeError`` for
    traced values with ``"latent"``.
    """
    K, N = _check_dims(K, N)
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}; got {method!r}")
    if is_concrete(correlation):
        correlation = _check_correlation(correlation)
    p = None
    if mean_distance is not None:
        if method == "template":
            raise ValueError(
                "`mean_distance` needs method 'latent' or 'markov' (the 'template' method fixes "
                "the mean distance through `correlation`)"
            )
        if is_concrete(mean_distance):
            p = float(_flip_probability(_check_mean_distance(mean_distance, N), N))
        else:
            p = _flip_probability(mean_distance, N)
    k_template, k_draw = jax.random.split(key)
    template = jnp.where(jax.random.bernoulli(k_template, 0.5, (N,)), 1.0, -1.0)
    return _draw(k_draw, K, N, method, correlation, p, template).astype(dtype)


def correlated_patterns(
    key: PRNGKeyArray,
    K: int,
    N: int,
    *,
    correlation: float = 0.0,
    min_distance: int = 0,
    mean_distance: float | None = None,
    method: Method = "latent",
    max_draws: int | None = None,
    dtype=jnp.float32,
) -> PatternSet:
    r"""K binary patterns with controlled feature correlation and minimum Hamming distance.

    Candidates come from the ``method`` distribution with parameter ``correlation`` (see the
    module docstring: ``"latent"`` one-factor thresholded Gaussian, ``"template"`` shared template
    with per-pattern flips and a random sign, ``"markov"`` Markov chain along the features); a
    candidate is kept when its Hamming distance to every kept pattern is at least
    ``min_distance`` (rejection sampling in order, so every prefix keeps the separation).
    Bielmeier & Friedland 2025 vary exactly these two quantities.

    **Arguments:**

    * ``key`` — PRNG key.
    * ``K`` — number of patterns (>= 2); ``N`` — number of features (>= 2).
    * ``correlation`` — in [0, 1]: the population |feature correlation| of every feature pair
      (``"latent"``, ``"template"``) or the lag-1 correlation (``"markov"``); 0 gives i.i.d.
      uniform patterns.
    * ``min_distance`` — required minimum pairwise Hamming distance (0 = no constraint,
      1 = distinct patterns).
    * ``mean_distance`` — target mean pairwise Hamming distance D in (0, N/2] (``None``: N/2 with
      unbiased features). Patterns are then flips of a shared random template,
      :math:`\xi^\mu = t \odot f^\mu` with :math:`P(f_i = -1) = p`, :math:`2p(1-p)N = D`, and
      the flips are correlated across features with ``correlation`` (``"latent"``: thresholded
      one-factor Gaussian, ``"markov"``: Markov chain with lag-1 correlation); so the two knobs
      are independent: the mean distance does not depend on ``correlation``. Not available for
      ``"template"``.
    * ``method`` — ``"latent"``, ``"template"`` or ``"markov"``.
    * ``max_draws`` — budget of candidate patterns (default ``max(100 K, 10^4)``).
    * ``dtype`` — float dtype of the returned patterns.

    **Returns:** a :class:`PatternSet` (the patterns and their measured statistics; its
    ``min_distance`` is always >= the requested one).

    **Raises:** ``ValueError`` for N < 2, K < 2, ``correlation`` outside [0, 1], an unknown
    ``method``, ``mean_distance`` outside (0, N/2] (or with ``"template"``), a
    ``min_distance`` no K patterns of N bits can have (the message gives the reachable range
    from :func:`separation_bounds`), or when the budget of draws runs out before K patterns are
    placed (the message says how many were placed and what is reachable); ``TypeError`` for a
    non-integer ``min_distance``.
    """
    K, N = _check_dims(K, N)
    c = _check_correlation(correlation)
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}; got {method!r}")
    if isinstance(min_distance, bool) or not isinstance(min_distance, (int, np.integer)):
        raise TypeError(f"`min_distance` must be an integer >= 0; got {min_distance!r}")
    d = int(min_distance)
    if d < 0:
        raise ValueError(f"`min_distance` must be an integer >= 0; got {d}")
    if d > 0:
        if math.log2(K) > N:
            raise ValueError(
                f"`K` = {K} patterns with `min_distance` = {d} is impossible: there are only "
                f"2^N = {2**N} distinct patterns of N = {N}"
            )
        bounds = separation_bounds(N, K)
        if d > bounds.upper:
            raise ValueError(
                f"`min_distance` = {d} is unreachable for K = {K} patterns of N = {N} bits: the "
                f"Plotkin/Hamming bounds allow at most d = {bounds.upper} (random constructions "
                f"are guaranteed only up to d = {bounds.guaranteed}, the Gilbert-Varshamov bound)"
            )
    max_draws = (
        max(100 * K, 10_000) if max_draws is None else check_positive_int(max_draws, "max_draws")
    )
    p = None
    if mean_distance is not None:
        D = _check_mean_distance(mean_distance, N)
        if method == "template":
            raise ValueError(
                "`mean_distance` needs method 'latent' or 'markov' (the 'template' method fixes "
                "the mean distance through `correlation`)"
            )
        p = float(_flip_probability(D, N))

    k_template, k_draw = jax.random.split(key)
    template = jnp.where(jax.random.bernoulli(k_template, 0.5, (N,)), 1.0, -1.0)
    expected = expected_feature_correlation(N, c, method)

    if d == 0:
        x = np.asarray(_sampler(method, c, template, K, N, p)(k_draw))
        draws = K
    else:
        x, draws = _greedy(method, c, template, k_draw, K, N, d, max_draws, p)
    stats = pattern_stats(x)
    return PatternSet(
        patterns=jnp.asarray(x, dtype=dtype),
        feature_correlation=stats.feature_correlation,
        min_distance=stats.min_distance,
        mean_distance=stats.mean_distance,
        expected_feature_correlation=expected,
        draws=draws,
    )


def separated_patterns(
    key: PRNGKeyArray,
    K: int,
    N: int,
    min_distance: int,
    *,
    max_draws: int | None = None,
    dtype=jnp.float32,
) -> PatternSet:
    """K uniform random patterns with pairwise Hamming distance >= ``min_distance``.

    Same as :func:`correlated_patterns` with ``correlation=0``: a random greedy code (candidates
    kept when at distance >= ``min_distance`` from every kept pattern).

    **Arguments:** ``key``; ``K`` >= 2 patterns of ``N`` >= 2 bits; ``min_distance`` >= 0;
    ``max_draws`` (candidate budget); ``dtype``.

    **Returns:** a :class:`PatternSet`.

    **Raises:** as :func:`correlated_patterns` (unreachable ``min_distance``: the message gives
    :func:`separation_bounds` for N and K).
    """
    return correlated_patterns(
        key, K, N, correlation=0.0, min_distance=min_distance, max_draws=max_draws, dtype=dtype
    )
