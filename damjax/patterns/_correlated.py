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

import functools
import math
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Float, PRNGKeyArray, is_concrete
from .._validation import check_positive_int

__all__ = [
    "PatternSet",
    "PatternStats",
    "SeparationBounds",
    "correlated_patterns",
    "correlated_sample",
    "pattern_stats",
    "separated_patterns",
    "separation_bounds",
]

Method = Literal["latent", "template", "markov"]
_METHODS = ("latent", "template", "markov")


class PatternStats(NamedTuple):
    """Empirical statistics of a (K, N) +-1 pattern set.

    **Fields:**

    * ``feature_correlation`` — mean |Pearson correlation| over feature pairs i < j (pairs with a
      constant feature, whose correlation is undefined, are left out; NaN if all are).
    * ``min_distance`` — minimum pairwise Hamming distance over pattern pairs mu < nu.
    * ``mean_distance`` — mean pairwise Hamming distance over pattern pairs mu < nu.
    """

    feature_correlation: float
    min_distance: int
    mean_distance: float


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


class SeparationBounds(NamedTuple):
    """What minimum Hamming distance K patterns of N bits can have.

    **Fields:**

    * ``guaranteed`` — the largest d for which the Gilbert–Varshamov bound guarantees K such
      patterns (``2^N / V(N, d-1) >= K``); random greedy constructions from the uniform
      distribution reach about this far.
    * ``upper`` — the largest d not excluded by the Plotkin and Hamming bounds (no set of K
      patterns has a larger minimum distance).
    """

    guaranteed: int
    upper: int


# --------------------------------------------------------------------------------------------
# Checks and bounds


def _check_dims(K, N) -> tuple[int, int]:
    K = check_positive_int(K, "K")
    N = check_positive_int(N, "N")
    if N < 2:
        raise ValueError(
            f"`N` must be >= 2 (feature correlations need at least two features); got N = {N}"
        )
    if K < 2:
        raise ValueError(
            f"`K` must be >= 2 (pairwise distances and feature correlations need two patterns); "
            f"got K = {K}"
        )
    return K, N


def _check_correlation(c) -> float:
    try:
        v = float(c)
    except (TypeError, ValueError):
        raise TypeError(f"`correlation` must be a number in [0, 1]; got {c!r}") from None
    if not (0.0 <= v <= 1.0):
        raise ValueError(
            f"`correlation` must lie in [0, 1] (0 = independent features, 1 = fully "
            f"correlated); got {v}"
        )
    return v


def _log2_ball(N: int, r: int) -> float:
    """log2 of the Hamming ball volume V(N, r) = sum_{i<=r} C(N, i)."""
    if r < 0:
        return -math.inf
    r = min(r, N)
    logs = [math.lgamma(N + 1) - math.lgamma(i + 1) - math.lgamma(N - i + 1) for i in range(r + 1)]
    m = max(logs)
    return (m + math.log(sum(math.exp(x - m) for x in logs))) / math.log(2)


def _log2_upper_size(N: int, d: int) -> float:
    """log2 of an upper bound on A(N, d), the largest code with minimum distance d."""
    if d <= 1:
        return float(N)
    if d > N:
        return 0.0  # a single pattern only
    best = N - _log2_ball(N, (d - 1) // 2)  # Hamming (sphere-packing) bound
    # Plotkin bound (for odd d use A(N, d) = A(N + 1, d + 1)).
    n2, d2 = (N, d) if d % 2 == 0 else (N + 1, d + 1)
    if 2 * d2 > n2:
        best = min(best, math.log2(2 * (d2 // (2 * d2 - n2))))
    elif 2 * d2 == n2:
        best = min(best, math.log2(2 * n2))
    return best


def separation_bounds(N: int, K: int) -> SeparationBounds:
    """The minimum pairwise Hamming distance reachable by K patterns in {-1,+1}^N.

    **Arguments:** ``N`` — number of features (>= 2); ``K`` — number of patterns (>= 2).

    **Returns:** a :class:`SeparationBounds` ``(guaranteed, upper)``: Gilbert–Varshamov
    guarantee and Plotkin/Hamming upper bound (``guaranteed <= upper <= N``).

    **Raises:** ``ValueError`` for N < 2 or K < 2, or K > 2^N (K distinct patterns do not exist).
    """
    K, N = _check_dims(K, N)
    log2k = math.log2(K)
    if log2k > N:
        raise ValueError(f"`K` = {K} exceeds 2^N = {2**N}: no {K} distinct patterns of N = {N}")
    upper = max(d for d in range(1, N + 1) if _log2_upper_size(N, d) >= log2k - 1e-9)
    guaranteed = max(d for d in range(1, N + 1) if N - _log2_ball(N, d - 1) >= log2k - 1e-9)
    return SeparationBounds(guaranteed=guaranteed, upper=max(upper, guaranteed))


# --------------------------------------------------------------------------------------------
# Statistics


def pattern_stats(patterns: Float[Array, "K N"]) -> PatternStats:
    r"""Empirical feature correlation and pairwise Hamming distances of a +-1 pattern set.

    ``feature_correlation`` is the mean of :math:`|\mathrm{corr}(x_{\cdot i}, x_{\cdot j})|` over
    feature pairs i < j (Pearson correlation across the K patterns); distances are
    :math:`(N - \xi^\mu\cdot\xi^\nu)/2` over pattern pairs mu < nu. Computed in float64 on the
    host (row blocks, so K in the tens of thousands fits in memory).

    **Arguments:** ``patterns`` — (K, N) array of +-1 with K >= 2 and N >= 2.

    **Returns:** a :class:`PatternStats`.

    **Raises:** ``ValueError`` for a wrong shape or entries other than +-1.
    """
    x = np.asarray(patterns, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"`patterns` must be a 2-D (K, N) array of +-1; got shape {x.shape}")
    K, N = _check_dims(x.shape[0], x.shape[1])
    if not np.all(np.abs(x) == 1):
        raise ValueError("`patterns` must contain only +1 and -1 values")
    # Feature correlation.
    xc = x - x.mean(axis=0)
    sd = np.sqrt((xc**2).mean(axis=0))
    ok = sd > 0
    iu = np.triu_indices(N, 1)
    cov = xc.T @ xc / K
    denom = np.outer(sd, sd)
    pair_ok = (ok[:, None] & ok[None, :])[iu]
    if np.any(pair_ok):
        corr = cov[iu][pair_ok] / denom[iu][pair_ok]
        feat = float(np.mean(np.abs(corr)))
    else:
        feat = float("nan")
    # Pairwise distances in row blocks.
    dmin, dsum = N, 0.0
    block = max(1, 2**22 // max(K, 1))
    for s in range(0, K - 1, block):
        rows = x[s : s + block]
        g = rows @ x[s + 1 :].T  # overlaps with every later row (and some earlier ones)
        d = (N - g) / 2.0
        # keep only pairs (s + a, s + 1 + b) with s + 1 + b > s + a, i.e. b >= a
        a = np.arange(rows.shape[0])[:, None]
        b = np.arange(K - s - 1)[None, :]
        valid = b >= a
        if np.any(valid):
            dmin = min(dmin, int(round(d[valid].min())))
            dsum += float(d[valid].sum())
    mean_d = dsum / (K * (K - 1) / 2)
    return PatternStats(feature_correlation=feat, min_distance=dmin, mean_distance=mean_d)


def expected_feature_correlation(N: int, correlation: float, method: Method) -> float:
    """Population mean |feature correlation| of the sampling distribution (no separation)."""
    if method in ("latent", "template"):
        return correlation
    # markov: mean over pairs i<j of c^{|i-j|}
    k = np.arange(1, N)
    return float(np.sum((N - k) * correlation**k) / (N * (N - 1) / 2))


# --------------------------------------------------------------------------------------------
# Samplers (JAX, explicit keys, one compiled function per (batch, N, method))


def _latent_loading(c: float, p: float) -> float:
    """Squared loading a^2 of a one-factor Gaussian model thresholded at quantile ``p`` such that
    the two binary features [a z + sqrt(1-a^2) e_i < theta] have Pearson correlation ``c``."""
    if c == 0.0:
        return 0.0
    if abs(p - 0.5) < 1e-12:
        return math.sin(math.pi * c / 2.0)  # Sheppard's arcsine law
    from scipy.optimize import brentq
    from scipy.stats import multivariate_normal, norm

    theta = norm.ppf(p)

    def binary_corr(rho):
        p11 = multivariate_normal(
            mean=[0.0, 0.0], cov=[[1.0, rho], [rho, 1.0]], allow_singular=True
        ).cdf([theta, theta])
        return (p11 - p * p) / (p * (1.0 - p))

    if c >= 1.0:
        return 1.0
    return float(brentq(lambda r: binary_corr(r) - c, 0.0, 1.0 - 1e-9, xtol=1e-10))


def _draw(key, batch: int, N: int, method: str, c, p, template):
    """``(batch, N)`` +-1 candidates; traceable in ``c`` and ``p`` for "markov" and "template".

    ``p is None``: unbiased features (see the module docstring). Otherwise patterns are the
    template with flips, ``xi = t * f`` with ``P(f_i = -1) = p`` and the flips ``f`` correlated
    across features (``"latent"``: thresholded one-factor Gaussian; ``"markov"``: two-state Markov
    chain with stationary flip probability p and lag-1 correlation c).
    """
    if method == "latent":
        if not (is_concrete(c) and (p is None or is_concrete(p))):
            raise TypeError(
                "method 'latent' needs concrete (not traced) `correlation` and `mean_distance` "
                "(its loading is found by root finding on the host); use method 'markov' or "
                "mark them static"
            )
        c = float(c)
        q = 0.5 if p is None else float(p)
        a2 = _latent_loading(c, q)
        a, b = math.sqrt(a2), math.sqrt(max(0.0, 1.0 - a2))
        kz, ke = jax.random.split(key)
        z = jax.random.normal(kz, (batch, 1))
        eps = jax.random.normal(ke, (batch, N))
        v = a * z + b * eps
        if p is None:  # ties (v == 0) have probability zero unless b == 0
            return template[None, :] * jnp.where(v >= 0, 1.0, -1.0)
        from scipy.stats import norm

        return template[None, :] * jnp.where(v < float(norm.ppf(q)), -1.0, 1.0)
    if method == "template":
        flip_p = (1.0 - jnp.sqrt(c)) / 2.0
        ks, kf = jax.random.split(key)
        sign = jnp.where(jax.random.bernoulli(ks, 0.5, (batch, 1)), 1.0, -1.0)
        flips = jnp.where(jax.random.bernoulli(kf, flip_p, (batch, N)), -1.0, 1.0)
        return sign * template[None, :] * flips
    # markov: two-state chain, stationary P(-1) = q, lag-1 correlation c
    q = 0.5 if p is None else p
    to_minus = q * (1.0 - c)  # P(+1 -> -1)
    to_plus = (1.0 - q) * (1.0 - c)  # P(-1 -> +1)
    k0, ku = jax.random.split(key)
    first = jax.random.uniform(k0, (batch,)) < q  # True = -1
    u = jax.random.uniform(ku, (N - 1, batch))

    def step(minus, ui):
        nxt = jnp.where(minus, ui >= to_plus, ui < to_minus)
        return nxt, nxt

    _, rest = jax.lax.scan(step, first, u)
    minus = jnp.concatenate([first[None, :], rest], axis=0).T
    return template[None, :] * jnp.where(minus, -1.0, 1.0)


@functools.lru_cache(maxsize=128)
def _compiled_draw(method: str, batch: int, N: int, biased: bool, latent: tuple | None):
    """One compiled sampler per (method, shape, biased); "markov" and "template" take c and p as
    traced arguments (shared across values), "latent" bakes its host-solved constants in."""
    if method == "latent":
        c, q = latent
        return jax.jit(
            lambda key, template, c_, p_: _draw(
                key, batch, N, method, c, q if biased else None, template
            )
        )
    return jax.jit(
        lambda key, template, c_, p_: _draw(
            key, batch, N, method, c_, p_ if biased else None, template
        )
    )


def _sampler(method: str, correlation: float, template, batch: int, N: int, p: float | None):
    """``draw(key) -> (batch, N)`` candidates from a cached compiled sampler."""
    biased = p is not None
    latent = (float(correlation), float(p) if biased else 0.5) if method == "latent" else None
    fn = _compiled_draw(method, int(batch), int(N), biased, latent)
    c = jnp.float32(correlation)
    q = jnp.float32(p if biased else 0.5)
    return lambda key: fn(key, template, c, q)


def _flip_probability(mean_distance, N):
    """p with 2 p (1 - p) N = mean_distance (traceable)."""
    return (1.0 - jnp.sqrt(jnp.maximum(0.0, 1.0 - 2.0 * mean_distance / N))) / 2.0


def _check_mean_distance(mean_distance, N) -> float:
    D = float(mean_distance)
    if not (0.0 < D <= N / 2):
        raise ValueError(
            f"`mean_distance` must lie in (0, N/2] = (0, {N / 2}] for N = {N} (independent "
            f"flips of a template are at most N/2 apart on average); got {mean_distance}"
        )
    return D


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


def _greedy(method, c, template, key, K, N, d, max_draws, p):
    """Sequential rejection sampling: keep candidates at distance >= d from all kept ones."""
    batch = int(min(max(2 * K, 256), 4096))
    draw = _sampler(method, c, template, batch, N, p)
    kept = np.empty((K, N), dtype=np.float32)
    n_kept, draws, i = 0, 0, 0
    thresh = N - 2 * d  # distance >= d  <=>  overlap <= N - 2d
    while n_kept < K and draws < max_draws:
        cand = np.asarray(draw(jax.random.fold_in(key, i)), dtype=np.float32)
        i += 1
        take = min(batch, max_draws - draws)
        cand = cand[:take]
        if n_kept:
            ok = (kept[:n_kept] @ cand.T).max(axis=0) <= thresh
        else:
            ok = np.ones(take, bool)
        idx = np.flatnonzero(ok)
        sub = cand[idx]
        intra = sub @ sub.T
        chosen: list[int] = []
        for a in range(idx.size):
            if n_kept + len(chosen) >= K:
                break
            if not chosen or intra[a, chosen].max() <= thresh:
                chosen.append(a)
        if chosen:
            kept[n_kept : n_kept + len(chosen)] = sub[chosen]
            n_kept += len(chosen)
        # count the candidates examined (a full batch, or up to the one that completed the set)
        draws += take if n_kept < K else int(idx[chosen[-1]]) + 1
    if n_kept < K:
        b = separation_bounds(N, K)
        raise ValueError(
            f"`min_distance` = {d} was not reached: only {n_kept} of K = {K} patterns of N = {N} "
            f"could be placed at pairwise distance >= {d} after {draws} draws from the "
            f"{method!r} distribution with correlation {c}. For N = {N}, K = {K}: codes exist at "
            f"most up to d = {b.upper} and are guaranteed (Gilbert-Varshamov) up to "
            f"d = {b.guaranteed} for uncorrelated patterns; correlated patterns are closer "
            f"together. Lower `min_distance` or `correlation`, or raise `max_draws`."
        )
    return kept, draws


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
