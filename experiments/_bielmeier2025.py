r"""Helpers of the Bielmeier & Friedland 2025 reproduction (not a reproduction itself).

* :func:`min_distance_capacities` -- the main protocol: pools whose MINIMUM pairwise Hamming
  distance is at least d (sequential rejection sampling, :func:`damjax.patterns.
  correlated_patterns`), feature correlation from the one-factor latent model, capacity by binary
  search over prefixes (:func:`damjax.capacity.capacity_search`, vmapped over seeds);
* :func:`correlation_capacity` -- the labelled extra: separation as the MEAN pairwise distance of
  template-flip data (a traced :mod:`damjax.sweep` experiment, one compilation per degree).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from damjax import Polynomial, sweep
from damjax.capacity import Retrieves, Stable, capacity_search, make_interaction
from damjax.patterns import correlated_patterns, correlated_sample, pattern_stats


def _validate(cfg):
    if cfg["criterion"] not in ("stable", "retrieves"):
        raise ValueError(f"`criterion` must be 'stable' or 'retrieves'; got {cfg['criterion']!r}")
    if cfg["F"] not in ("poly", "rect"):
        raise ValueError(f"`F` must be 'poly' or 'rect'; got {cfg['F']!r}")
    if not 0.0 <= cfg["correlation"] <= 1.0:
        raise ValueError(f"`correlation` must lie in [0, 1]; got {cfg['correlation']}")
    if not 0.0 < cfg["separation"] <= cfg["N"] / 2:
        raise ValueError(
            f"`separation` (mean Hamming distance) must lie in (0, N/2] = (0, {cfg['N'] / 2}]; "
            f"got {cfg['separation']}"
        )
    if cfg["method"] != "markov":
        raise ValueError(
            f"`method` must be 'markov' here (correlation and separation are traced); got "
            f"{cfg['method']!r}; use damjax.patterns.correlated_patterns for 'latent' pools"
        )
    if cfg["k_pool"] < 2:
        raise ValueError(f"`k_pool` must be >= 2; got {cfg['k_pool']}")


def _traced_stats(X, K):
    """Mean |feature correlation| and mean distance of the pool; min / mean distance of the
    stored set (the first K patterns). Traceable."""
    k, N = X.shape
    xc = X - jnp.mean(X, axis=0, keepdims=True)
    sd = jnp.sqrt(jnp.mean(xc**2, axis=0, keepdims=True))  # (1, N)
    cov = xc.T @ xc / k
    ok = (sd > 0) & (sd.T > 0) & jnp.triu(jnp.ones((N, N), bool), 1)
    corr = jnp.where(ok, cov / jnp.where(ok, sd * sd.T, 1.0), 0.0)
    feat = jnp.sum(jnp.abs(corr)) / jnp.maximum(jnp.sum(ok), 1)
    D = (N - X @ X.T) / 2.0
    idx = jnp.arange(k)
    pair = idx[:, None] < idx[None, :]
    stored = pair & (idx[None, :] < K)
    return {
        "feature_correlation": feat,
        "mean_distance": jnp.sum(jnp.where(pair, D, 0.0)) / jnp.sum(pair),
        "min_distance_stored": jnp.min(jnp.where(stored, D, float(N))),
        "mean_distance_stored": jnp.sum(jnp.where(stored, D, 0.0))
        / jnp.maximum(jnp.sum(stored), 1),
    }


@sweep.experiment(
    name="bielmeier2025-capacity",
    params={
        "N": None,
        "k_pool": None,
        "n": 3,
        "F": "poly",
        "criterion": "stable",
        "rho": 0.1,
        "threshold": 0.9,
        "correlation": 0.0,
        "separation": 16.0,
        "method": "markov",
    },
    types={"N": int, "k_pool": int},
    validate=_validate,
    register=False,
)
def correlation_capacity(config, key):
    """Capacity (binary search over K) of one correlated, separated pattern pool.

    ``correlation`` and ``separation`` (target mean pairwise Hamming distance) are traced, so one
    compilation serves every (correlation, separation) of a degree.

    **Returns** the scalars ``capacity`` (largest K with the criterion holding for the first K
    patterns of the pool), ``censored`` (capacity = k_pool), ``feature_correlation`` and
    ``mean_distance`` of the pool, ``min_distance_stored`` / ``mean_distance_stored`` over the
    pairs of the first ``capacity`` patterns (N / 0 when fewer than two).
    """
    kx, ks = jax.random.split(key)
    N, k_pool = config["N"], config["k_pool"]
    X = correlated_sample(
        kx,
        k_pool,
        N,
        correlation=config["correlation"],
        mean_distance=config["separation"],
        method=config["method"],
    )
    if config["criterion"] == "stable":
        crit = Stable()
    else:
        crit = Retrieves(rho=config["rho"], threshold=config["threshold"])
    K = capacity_search(
        X[None], make_interaction(config["F"], config["n"]), criterion=crit, key=ks
    )[0]
    out = {"capacity": K, "censored": K >= k_pool}
    out.update(_traced_stats(X, K))
    return out


def mean_distance_sizes(quick: bool) -> dict:
    if quick:
        return {
            "N": 64,
            "degrees": (2, 3, 4),
            "separations": (16.0, 20.0, 24.0, 28.0),
            "correlations": (0.0, 0.8),
            "seeds": 6,
            "k_pool": {2: 32, 3: 128, 4: 256},
        }
    return {
        "N": 64,
        "degrees": (2, 3, 4),
        "separations": tuple(float(d) for d in range(12, 29, 2)),
        "correlations": (0.0, 0.4, 0.8),
        "seeds": 32,
        "k_pool": {2: 64, 3: 256, 4: 512},
    }


def fit_line(x, y):
    """Least squares y = a + b x; returns (a, b, R^2)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    b, a = np.polyfit(x, y, 1)
    resid = y - (a + b * x)
    ss = np.sum((y - y.mean()) ** 2)
    return float(a), float(b), float(1.0 - np.sum(resid**2) / ss) if ss > 0 else float("nan")


def min_distance_capacities(
    key,
    N: int,
    degrees,
    pools: dict,
    separations,
    correlations,
    seeds: int,
    *,
    method: str = "latent",
    max_draws: int = 1_000_000,
):
    """Capacity of polynomial DAMs on pools with a required MINIMUM pairwise Hamming distance.

    For every (correlation c, minimum distance d, seed) one pool of ``max(pools.values())``
    patterns is drawn by :func:`damjax.patterns.correlated_patterns` (candidates from the
    ``method`` distribution with parameter c, kept when at distance >= d from every kept one), so
    every prefix has minimum distance >= d. The seed's key is shared across c and d (common
    random numbers). For each degree n the first ``pools[n]`` patterns of the S seeds' pools go
    to :func:`damjax.capacity.capacity_search` (criterion ``Stable``: every stored pattern a
    fixed point), one compiled search per n for every (c, d).

    **Returns:** a list of row dicts: ``n, correlation, separation, seed, capacity, censored``,
    the pool's measured ``pool_feature_correlation`` / ``pool_mean_distance`` and the stored
    set's (first ``capacity`` patterns) ``stored_min_distance`` / ``stored_feature_correlation``
    (NaN when fewer than two patterns are stored).
    """
    k_max = max(pools.values())
    rows = []
    for c in correlations:
        for d in separations:
            sets = [
                correlated_patterns(
                    jax.random.fold_in(key, s),
                    k_max,
                    N,
                    correlation=float(c),
                    min_distance=int(d),
                    method=method,
                    max_draws=max_draws,
                )
                for s in range(seeds)
            ]
            X = jnp.stack([ps.patterns for ps in sets])
            for n in degrees:
                k_pool = pools[n]
                caps = capacity_search(
                    X[:, :k_pool], Polynomial(n), criterion=Stable(), key=jax.random.key(n)
                )
                for s, (ps, K) in enumerate(zip(sets, np.asarray(caps).tolist())):
                    st = pattern_stats(ps.patterns[:K]) if K >= 2 else None
                    rows.append(
                        {
                            "n": n,
                            "correlation": float(c),
                            "separation": int(d),
                            "seed": s,
                            "capacity": int(K),
                            "censored": bool(K >= k_pool),
                            "pool_feature_correlation": ps.feature_correlation,
                            "pool_mean_distance": ps.mean_distance,
                            "stored_min_distance": st.min_distance if st else np.nan,
                            "stored_feature_correlation": st.feature_correlation if st else np.nan,
                        }
                    )
    return rows
