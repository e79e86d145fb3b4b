"""Unit tests of the helpers behind the capacity-paper reproductions (the identities that used to
be paper checks, and the measurement functions the checks rely on)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import damjax as dj
from experiments import demircigil2017 as dem
from experiments import ramsauer2020_fixed_points as ram


def test_mass_count_is_patterns_for_90_percent():
    p = np.array([[1.0, 0.0, 0.0], [0.5, 0.45, 0.05], [1 / 3, 1 / 3, 1 / 3], [0.05, 0.9, 0.05]])
    assert ram.mass_count(p).tolist() == [1, 2, 3, 1]


def test_theorem3_radius_scale_is_the_validity_edge():
    for d in (8, 16):
        K = ram.theorem3_radius_scale(d, 1.0, 0.1, 1.0)
        at = dj.capacity.storage_constants(d, beta=1.0, radius_scale=K, failure_prob=0.1)
        below = dj.capacity.storage_constants(d, beta=1.0, radius_scale=0.99 * K, failure_prob=0.1)
        assert bool(at.valid) and not bool(below.valid)


def test_empirical_capacity_matches_float64_brute_force():
    key = jax.random.key(3)
    d, radius, beta, pool, eps = 6, 4.0, 1.0, 64, 1e-3
    got = ram.empirical_capacity(key, d, radius, beta, pool, eps)
    X = np.asarray(radius * ram._unit(jax.random.normal(key, (pool, d))), np.float64)

    def worst(n):
        x = X[:n]
        lg = beta * x @ x.T
        p = np.exp(lg - lg.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return np.linalg.norm(p @ x - x, axis=1).max()

    ok = [worst(n) <= eps * radius for n in range(1, pool + 1)]
    want = pool if all(ok) else ok.index(False)  # first failing n - 1 (monotone here)
    assert got == want


def test_extrapolation_recovers_a_known_fit():
    Ns = np.array([12, 16, 20, 24])
    a, b = dem._extrapolate(Ns, 0.3 - 0.5 * np.log(Ns) / Ns)
    assert a == pytest.approx(0.3, abs=1e-9) and b == pytest.approx(-0.5, abs=1e-9)
    assert np.isnan(dem._extrapolate(Ns, [np.nan, np.nan, np.nan, 0.2])[0])


def test_crossing_interpolates_and_reports_nan():
    assert dem._crossing([0.1, 0.2, 0.3], [1.0, 0.75, 0.25]) == pytest.approx(0.25)
    assert np.isnan(dem._crossing([0.1, 0.2], [1.0, 0.9]))


def test_bucket_pads_at_most_4x_and_not_past_m_max():
    for M in (2, 5, 17, 1000, 4097, 65536):
        b = dem._bucket(M, 2**16)
        assert M <= b <= max(4 * M, M) and b <= 2**16


def test_masked_one_step_equals_unpadded_model():
    """The padded, masked patterns of the Demircigil experiment give the update of the first M."""
    X = dj.patterns.random_binary(jax.random.key(0), 64, 12)
    M = 37
    padded = dj.BinaryDAM(X, dj.Exponential(1.0), mask=(jnp.arange(64) < M).astype(X.dtype))
    plain = dj.BinaryDAM(X[:M], dj.Exponential(1.0))
    cues = dj.patterns.flip(jax.random.key(1), X[:M], 0.25)
    assert bool(jnp.all(jax.vmap(padded.update)(cues) == jax.vmap(plain.update)(cues)))


def test_polynomial_constant():
    # n = 2, rho = 0: McEliece's all-patterns N / (4 ln N) and one-pattern N / (2 ln N)
    assert dem.polynomial_constant(2, 0.0) == pytest.approx(0.25)
    assert dem.polynomial_constant(2, 0.0, "one") == pytest.approx(0.5)
    assert dem.polynomial_constant(3, 0.1) == pytest.approx(0.8**4 / 18)
    assert dem.polynomial_constant(3, 0.1, "one") == pytest.approx(0.8**4 / 6)
    with pytest.raises(ValueError, match="case"):
        dem.polynomial_constant(3, 0.0, "some")


def test_polynomial_capacity_threshold_is_traced():
    """Both retrieval events (all cues / half of the cues) share one compilation."""
    from damjax import sweep

    grid = sweep.Grid(
        {"threshold": [1.0, 0.5]}, fixed={"N": 12, "k_pool": 40, "n": 3, "rho": 0.1}, seeds=2
    )
    res = sweep.run(grid, dem.polynomial_capacity, None, progress=False)
    assert res.compilations == 1
    df = res.frame()
    assert len(df) == 4 and ((df["M_max"] >= 0) & (df["M_max"] <= 40)).all()
    assert (df["censored"] == (df["M_max"] >= 40)).all()
