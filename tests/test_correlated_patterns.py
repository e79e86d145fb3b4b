"""Pattern sets with controlled feature correlation and separation (Bielmeier & Friedland 2025)."""

import itertools

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from damjax.patterns import (
    correlated_patterns,
    correlated_sample,
    pattern_stats,
    separated_patterns,
    separation_bounds,
)

METHODS = ["latent", "template", "markov"]


def _brute_stats(x):
    """Slow, obvious float64 reference for pattern_stats."""
    x = np.asarray(x, dtype=np.float64)
    K, N = x.shape
    dists = [np.sum(x[a] != x[b]) for a, b in itertools.combinations(range(K), 2)]
    cors = []
    for i, j in itertools.combinations(range(N), 2):
        if x[:, i].std() > 0 and x[:, j].std() > 0:
            cors.append(abs(np.corrcoef(x[:, i], x[:, j])[0, 1]))
    return np.mean(cors), min(dists), np.mean(dists)


def test_pattern_stats_matches_brute_force(getkey):
    x = np.array(correlated_patterns(getkey(), 40, 12, correlation=0.4).patterns)
    x[:, 3] = 1.0  # a constant feature: its correlations are undefined and left out
    st_ = pattern_stats(x)
    corr, dmin, dmean = _brute_stats(x)
    assert st_.feature_correlation == pytest.approx(corr, abs=1e-10)
    assert st_.min_distance == dmin
    assert st_.mean_distance == pytest.approx(dmean, abs=1e-10)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("c", [0.0, 0.3, 0.7])
def test_correlation_hits_target(method, c, getkey):
    # K = 4000 patterns: the sampling error of a correlation is ~ 1/sqrt(K) = 0.016, and the
    # mean |r| of independent features is sqrt(2 / (pi K)) = 0.013.
    K, N = 4000, 16
    ps = correlated_patterns(getkey(), K, N, correlation=c, method=method)
    assert ps.patterns.shape == (K, N) and ps.patterns.dtype == np.float32
    assert set(np.unique(np.asarray(ps.patterns))) <= {-1.0, 1.0}
    assert ps.feature_correlation == pytest.approx(ps.expected_feature_correlation, abs=0.03)
    x = np.asarray(ps.patterns, np.float64)
    cm = np.corrcoef(x.T)
    if method == "markov":  # corr(x_i, x_j) = c^|i-j|
        for lag in (1, 2):
            assert np.mean(np.abs(np.diag(cm, lag))) == pytest.approx(c**lag, abs=0.03)
    else:  # every pair has |corr| = c
        iu = np.triu_indices(N, 1)
        assert np.abs(cm[iu]).mean() == pytest.approx(c, abs=0.03)
        assert np.abs(cm[iu]).max() < c + 0.1
    # features are unbiased in every method
    assert np.abs(x.mean(axis=0)).max() < 0.1


@pytest.mark.parametrize("method", METHODS)
def test_min_distance_is_guaranteed_and_kept_by_prefixes(method, getkey):
    K, N, d = 300, 32, 9
    ps = correlated_patterns(getkey(), K, N, correlation=0.2, min_distance=d, method=method)
    x = np.asarray(ps.patterns)
    g = x @ x.T
    dist = (N - g) / 2
    np.fill_diagonal(dist, N)
    assert dist.min() >= d
    assert ps.min_distance == int(dist.min())
    assert ps.draws >= K
    # every prefix keeps the separation (capacity searches use prefixes)
    for k in (2, 10, 50, 150):
        assert pattern_stats(x[:k]).min_distance >= d


def test_prefix_keeps_requested_statistics(getkey):
    ps = correlated_patterns(getkey(), 4000, 16, correlation=0.3, method="template")
    half = pattern_stats(np.asarray(ps.patterns)[:2000])
    assert half.feature_correlation == pytest.approx(0.3, abs=0.035)
    ps = correlated_patterns(
        getkey(), 2000, 32, correlation=0.5, mean_distance=8.0, method="markov"
    )
    for k in (200, 1000):
        part = pattern_stats(np.asarray(ps.patterns)[:k])
        assert part.mean_distance == pytest.approx(8.0, abs=0.8)


def test_sweep_experiment_criteria_and_families():
    from damjax import sweep
    from experiments.bielmeier2025_correlations import correlation_capacity

    grid = sweep.Grid(
        {"F": ["rect"]},
        fixed={
            "N": 16,
            "k_pool": 24,
            "n": 5,
            "criterion": "retrieves",
            "rho": 0.1,
            "threshold": 0.8,
            "separation": 6.0,
            "correlation": 0.5,
        },
        seeds=2,
    )
    df = sweep.run(grid, correlation_capacity, None, progress=False).frame()
    assert len(df) == 2
    assert ((df["capacity"] >= 0) & (df["capacity"] <= 24)).all()
    assert (df["min_distance_stored"] >= 0).all()
    with pytest.raises(ValueError, match="separation"):
        sweep.run(
            sweep.Grid(fixed={"N": 16, "k_pool": 24, "separation": 9.0}),
            correlation_capacity,
            None,
            progress=False,
        )


def test_correlation_and_separation_are_traced():
    """One compilation serves every (correlation, separation) of a degree."""
    from damjax import sweep
    from experiments.bielmeier2025_correlations import correlation_capacity

    grid = sweep.Grid(
        {"separation": [6.0, 7.0], "correlation": [0.0, 0.5]},
        fixed={"N": 16, "k_pool": 16, "n": 3},
        seeds=2,
    )
    res = sweep.run(grid, correlation_capacity, None, progress=False)
    assert res.compilations == 1 and len(res.frame()) == 8


def test_separation_binds_and_is_reported(getkey):
    # 500 uniform patterns of N = 32 have a natural minimum distance ~ 4-6; require 8
    free = separated_patterns(getkey(), 500, 32, 0)
    sep = separated_patterns(getkey(), 500, 32, 8)
    assert free.min_distance < 8 <= sep.min_distance
    assert sep.draws > 500
    assert sep.mean_distance == pytest.approx(16, abs=0.5)


@pytest.mark.parametrize("method", ["latent", "markov"])
@pytest.mark.parametrize("c", [0.0, 0.4])
def test_mean_distance_hits_target_independently_of_correlation(method, c, getkey):
    K, N, D = 3000, 32, 10.0
    ps = correlated_patterns(getkey(), K, N, correlation=c, mean_distance=D, method=method)
    # each bit differs with probability 2p(1-p) = D / N, so the mean distance is exactly D in
    # expectation; correlated flips make pools fluctuate more, hence 0.6 bits
    assert ps.mean_distance == pytest.approx(D, abs=0.6)
    assert ps.feature_correlation == pytest.approx(ps.expected_feature_correlation, abs=0.03)
    x = np.asarray(ps.patterns)
    p = (1 - np.sqrt(1 - 2 * D / N)) / 2  # features are biased towards the template
    assert np.abs(x.mean(axis=0)).mean() == pytest.approx(1 - 2 * p, abs=0.05)


def test_mean_and_min_distance_combined(getkey):
    ps = correlated_patterns(
        getkey(), 200, 48, correlation=0.3, mean_distance=16.0, min_distance=6, method="markov"
    )
    assert ps.min_distance >= 6
    assert ps.mean_distance > 15.0


def test_correlated_sample_is_traceable(getkey):
    # correlation and mean distance traced (vmapped): one compiled function for all values
    cs = np.array([0.0, 0.5, 0.9], np.float32)
    Ds = np.array([8.0, 12.0, 16.0], np.float32)
    f = jax.jit(
        jax.vmap(lambda k, c, D: correlated_sample(k, 2000, 32, correlation=c, mean_distance=D))
    )
    X = np.asarray(f(jax.random.split(getkey(), 3), cs, Ds))
    for x, c, D in zip(X, cs, Ds):
        st_ = pattern_stats(x)
        assert st_.mean_distance == pytest.approx(D, abs=0.8)
        lag1 = np.mean(np.abs(np.diag(np.corrcoef(x.T), 1)))  # signs follow the template
        assert lag1 == pytest.approx(c, abs=0.05)
    # the same distribution as correlated_patterns (unbiased case): mean distance N/2
    assert pattern_stats(correlated_sample(getkey(), 500, 32)).mean_distance == pytest.approx(
        16, abs=0.3
    )
    with pytest.raises(TypeError, match="latent"):
        jax.jit(lambda c: correlated_sample(getkey(), 10, 8, correlation=c, method="latent"))(0.2)
    with pytest.raises(ValueError, match="`mean_distance` must lie in"):
        correlated_sample(getkey(), 10, 8, mean_distance=5.0)


def test_deterministic_given_key(getkey):
    k = getkey()
    a = correlated_patterns(k, 50, 20, correlation=0.5, min_distance=3, method="markov")
    b = correlated_patterns(k, 50, 20, correlation=0.5, min_distance=3, method="markov")
    c = correlated_patterns(getkey(), 50, 20, correlation=0.5, min_distance=3, method="markov")
    assert np.array_equal(a.patterns, b.patterns)
    assert not np.array_equal(a.patterns, c.patterns)


def test_separation_bounds_known_codes():
    # A(7, 3) = 16 (Hamming code), A(8, 4) = 16 (extended Hamming), A(8, 3) = 20, A(5, 3) = 4
    for N, K, best in [(7, 16, 3), (8, 16, 4), (8, 17, 3), (8, 20, 3), (5, 4, 3)]:
        b = separation_bounds(N, K)
        assert b.guaranteed <= best <= b.upper <= N
    assert separation_bounds(8, 17).upper == 3  # Plotkin excludes d = 4 for K > 16
    assert separation_bounds(10, 2).upper == 10  # a pattern and its negation


@settings(max_examples=10, deadline=None)
@given(
    N=st.sampled_from([8, 16, 24]),
    K=st.integers(2, 60),
    c=st.floats(0.0, 0.3),
    method=st.sampled_from(METHODS),
    seed=st.integers(0, 2**16),
)
def test_property_guaranteed_separation_is_reached(N, K, c, method, seed):
    if np.log2(K) > N:
        return
    d = max(1, separation_bounds(N, K).guaranteed // 2)
    ps = correlated_patterns(
        jax.random.key(seed), K, N, correlation=c, min_distance=d, method=method, max_draws=10**5
    )
    x = np.asarray(ps.patterns)
    assert x.shape == (K, N)
    _, dmin, dmean = _brute_stats(x)
    assert dmin >= d and dmin == ps.min_distance
    assert ps.mean_distance == pytest.approx(dmean)


def test_bad_input(getkey):
    with pytest.raises(ValueError, match="`N` must be >= 2"):
        correlated_patterns(getkey(), 10, 1)
    with pytest.raises(ValueError, match="`K` must be >= 2"):
        correlated_patterns(getkey(), 1, 10)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="`correlation` must lie in \\[0, 1\\]"):
            correlated_patterns(getkey(), 10, 10, correlation=bad)
    with pytest.raises(ValueError, match="`method`"):
        correlated_patterns(getkey(), 10, 10, method="gaussian")
    with pytest.raises(ValueError, match="`min_distance`"):
        correlated_patterns(getkey(), 10, 10, min_distance=-1)
    # unreachable separation: the message says what is possible for this N and K
    with pytest.raises(ValueError, match=r"at most d = 3 .*guaranteed only up to d = \d"):
        correlated_patterns(getkey(), 17, 8, min_distance=4)
    with pytest.raises(ValueError, match="2\\^N"):
        correlated_patterns(getkey(), 300, 8, min_distance=1)
    # reachable in principle, but not by this (strongly correlated) distribution in the budget
    with pytest.raises(ValueError, match=r"only \d+ of K = 40 .*codes exist at most up to d ="):
        correlated_patterns(
            getkey(), 40, 24, correlation=0.9, min_distance=8, method="template", max_draws=2000
        )
    with pytest.raises(ValueError, match="`mean_distance` must lie in"):
        correlated_patterns(getkey(), 10, 10, mean_distance=0.0)
    with pytest.raises(ValueError, match="`mean_distance` needs"):
        correlated_patterns(getkey(), 10, 10, mean_distance=3.0, method="template")
    with pytest.raises(ValueError, match="`N` must be >= 2"):
        separation_bounds(1, 5)
    with pytest.raises(ValueError, match="feature"):
        pattern_stats(np.ones((5, 1)))


def _all_stable_int(x, K, n):
    """Exact (int64) reference: every one of the first K patterns is a fixed point of the
    energy-difference rule with F(x) = x^n (ties keep the state)."""
    X = x[:K].astype(np.int64)
    for s in X:
        m = X @ s  # overlaps with the state
        for i in range(len(s)):
            rest = m - X[:, i] * s[i]
            h = np.sum((rest + X[:, i]) ** n - (rest - X[:, i]) ** n)
            if h * s[i] < 0:
                return False
    return True


def test_min_distance_capacities_brackets_the_exact_capacity():
    """The main Bielmeier protocol: every capacity is a stable K whose K + 1 is not (exact
    integer reference), every prefix keeps the required minimum distance, stats are measured."""
    import jax

    from experiments.bielmeier2025_correlations import min_distance_capacities

    key, N, d, pool = jax.random.key(7), 16, 5, 20
    rows = min_distance_capacities(key, N, (2, 3), {2: 12, 3: pool}, (d,), (0.0, 0.5), 2)
    assert len(rows) == 2 * 2 * 2
    for r in rows:
        ps = correlated_patterns(
            jax.random.fold_in(key, r["seed"]),
            pool,
            N,
            correlation=r["correlation"],
            min_distance=d,
            method="latent",
            max_draws=1_000_000,
        )
        x = np.asarray(ps.patterns)
        K, k_pool = r["capacity"], {2: 12, 3: pool}[r["n"]]
        assert 0 <= K <= k_pool and r["censored"] == (K >= k_pool)
        assert K == 0 or _all_stable_int(x, K, r["n"])
        assert K == k_pool or not _all_stable_int(x, K + 1, r["n"])
        if K >= 2:
            assert r["stored_min_distance"] >= d
            assert r["stored_feature_correlation"] == pytest.approx(
                pattern_stats(x[:K]).feature_correlation
            )
        assert r["pool_feature_correlation"] == pytest.approx(ps.feature_correlation)
