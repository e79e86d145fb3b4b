"""Samplers of correlated +-1 candidate patterns (``"latent"``, ``"template"``, ``"markov"``;
see :mod:`damjax.patterns._correlated`), JAX with explicit keys and cached compiled functions."""

from __future__ import annotations

import functools
import math
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import is_concrete

__all__ = ["Method", "expected_feature_correlation"]


Method = Literal["latent", "template", "markov"]
_METHODS = ("latent", "template", "markov")


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


def expected_feature_correlation(N: int, correlation: float, method: Method) -> float:
    """Population mean |feature correlation| of the sampling distribution (no separation)."""
    if method in ("latent", "template"):
        return correlation
    # markov: mean over pairs i<j of c^{|i-j|}
    k = np.arange(1, N)
    return float(np.sum((N - k) * correlation**k) / (N * (N - 1) / 2))


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
