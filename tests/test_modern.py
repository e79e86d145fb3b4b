"""ModernHopfield (Ramsauer et al. 2020) and its theory in damjax.capacity."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
from conftest import tree_allclose
from hypothesis import given, settings
from hypothesis import strategies as st

import damjax as dj
from damjax.capacity import lambertw, retrieval_error_bound, separation, storage_constants


def np_energy(X, beta, xi):
    X = np.asarray(X, np.float64)
    xi = np.asarray(xi, np.float64)
    z = beta * X @ xi
    lse = (z.max() + np.log(np.exp(z - z.max()).sum())) / beta
    m = np.sqrt((X**2).sum(axis=1).max())
    return -lse + 0.5 * xi @ xi + np.log(X.shape[0]) / beta + 0.5 * m**2


def np_update(X, beta, xi):
    X = np.asarray(X, np.float64)
    z = beta * X @ np.asarray(xi, np.float64)
    p = np.exp(z - z.max())
    return (p / p.sum()) @ X


@pytest.fixture
def small(getkey):
    X = jax.random.normal(getkey(), (12, 8))
    Q = X[:5] + 0.2 * jax.random.normal(getkey(), (5, 8))
    return X, Q


@pytest.mark.parametrize("beta", [0.1, 1.0, 8.0])
def test_energy_and_update_match_float64_reference(small, beta):
    X, Q = small
    model = dj.ModernHopfield(X, beta)
    for q in Q:
        assert math.isclose(
            float(model.energy(q)), np_energy(X, beta, q), rel_tol=1e-5, abs_tol=1e-5
        )
        assert tree_allclose(model.update(q), np_update(X, beta, q).astype(np.float32), atol=1e-5)
    # batched update == per-query update (a matrix product, not a loop)
    batched = model.update(Q)
    assert tree_allclose(batched, jnp.stack([model.update(q) for q in Q]), atol=1e-6)
    assert model.energy(Q).shape == (5,)


def test_large_beta_is_finite_and_tends_to_max(small):
    X, Q = small
    for beta in (1e3, 1e6, 1e30):
        model = dj.ModernHopfield(X, beta)
        e = model.energy(Q[0])
        u = model.update(Q[0])
        assert np.isfinite(float(e)) and bool(jnp.all(jnp.isfinite(u)))
    # beta -> inf: -lse -> -max overlap, update -> the best-matching pattern
    m = X @ Q[0]
    expected = (
        -float(jnp.max(m)) + 0.5 * float(Q[0] @ Q[0]) + 0.5 * float(jnp.max(jnp.sum(X**2, 1)))
    )
    assert math.isclose(float(model.energy(Q[0])), expected, rel_tol=1e-5)
    assert tree_allclose(model.update(Q[0]), X[jnp.argmax(m)])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**30), beta=st.floats(0.05, 50.0))
def test_energy_never_increases_along_sync(seed, beta):
    key = jax.random.key(seed)
    X = jax.random.normal(key, (10, 6))
    cues = jax.random.normal(jax.random.fold_in(key, 1), (4, 6))
    model = dj.ModernHopfield(X, beta)
    out = dj.retrieve(model, cues, rule=dj.Sync(tol=1e-6), max_steps=30, record_energy=True)
    e = np.asarray(out.energies)
    scale = np.nanmax(np.abs(e)) + 1.0
    assert np.nanmax(np.diff(e, axis=1)) <= 1e-5 * scale


@pytest.mark.parametrize(
    "rule", [dj.Sync(tol=1e-6), dj.OneStep(tol=1e-6), dj.Euler(0.5), dj.ODE(t1=50.0)]
)
def test_retrieve_rules(rule, getkey):
    d = 32
    X = jax.random.normal(getkey(), (20, d))
    X = X / jnp.linalg.norm(X, axis=1, keepdims=True) * 3.0
    cues = X[:6] + 0.05 * jax.random.normal(getkey(), (6, d))
    model = dj.ModernHopfield(X, 4.0)
    out = dj.retrieve(model, cues, rule=rule, max_steps=500, record_energy=True)
    assert out.states.shape == cues.shape
    # well separated patterns: the fixed point is (exponentially close to) the stored pattern
    err = jnp.max(jnp.abs(out.states - X[:6]))
    assert float(err) < (0.05 if isinstance(rule, dj.OneStep) else 1e-3)
    if not isinstance(rule, dj.OneStep):
        assert bool(jnp.all(out.converged))
    e = np.asarray(out.energies)
    assert np.nanmax(np.diff(e, axis=1)) <= 1e-5 * (np.nanmax(np.abs(e)) + 1)
    single = dj.retrieve(model, cues[0], rule=rule, max_steps=500)
    assert tree_allclose(single.states, out.states[0], atol=1e-5)


def test_bad_input():
    X = jnp.ones((3, 4))
    for beta in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="beta"):
            dj.ModernHopfield(X, beta)
    with pytest.raises(ValueError, match="patterns"):
        dj.ModernHopfield(jnp.ones(4), 1.0)
    with pytest.raises(ValueError, match="patterns"):
        dj.ModernHopfield(jnp.zeros((0, 4)), 1.0)
    with pytest.raises(ValueError, match="finite"):
        dj.ModernHopfield(X.at[0, 0].set(jnp.nan), 1.0)
    model = dj.ModernHopfield(X, 1.0)
    with pytest.raises(ValueError, match="cues"):
        dj.retrieve(model, jnp.ones((2, 5)), rule=dj.Sync(tol=1e-6))
    with pytest.raises(ValueError, match="NaN"):
        dj.retrieve(model, jnp.ones((2, 4)).at[1, 2].set(jnp.nan), rule=dj.Sync(tol=1e-6))
    with pytest.raises(TypeError, match="continuous"):
        dj.retrieve(
            dj.BinaryDAM(jnp.ones((2, 4)), dj.Polynomial(2)), jnp.ones(4), rule=dj.Euler(1.0)
        )
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="dt"):
            dj.Euler(bad)
    with pytest.raises(ValueError, match="t1"):
        dj.ODE(t1=0.0)


# --- theory -------------------------------------------------------------------------------------


def test_separation_brute_force(getkey):
    X = jax.random.normal(getkey(), (9, 5))
    Xn = np.asarray(X, np.float64)
    expected = [Xn[i] @ Xn[i] - max(Xn[i] @ Xn[j] for j in range(9) if j != i) for i in range(9)]
    assert np.allclose(np.asarray(separation(X)), expected, rtol=1e-5, atol=1e-5)
    assert np.isinf(float(separation(X[:1])[0]))


def test_lambertw_matches_scipy():
    x = np.concatenate(
        [
            -1 / np.e + np.array([0.0, 1e-6, 1e-3]),
            np.linspace(-0.36, -0.01, 15),
            [0.0],
            np.logspace(-30, 30, 40),
            [3e38],
        ]
    ).astype(np.float32)
    ref = scipy.special.lambertw(x.astype(np.float64)).real
    w = np.asarray(lambertw(jnp.asarray(x)), np.float64)
    near_branch = x < -1 / np.e + 1e-5  # W has a square-root singularity there
    assert np.allclose(w[~near_branch], ref[~near_branch], rtol=2e-6, atol=1e-7)
    assert np.allclose(w[near_branch], ref[near_branch], atol=3e-3)
    assert np.isnan(float(lambertw(-0.5)))
    # differentiable: W'(x) = W / (x (1 + W))
    x0 = 2.5
    g = float(jax.grad(lambertw)(x0))
    w0 = scipy.special.lambertw(x0).real
    assert math.isclose(g, w0 / (x0 * (1 + w0)), rel_tol=1e-4)


def scipy_constants(d, beta, k, p):
    a = 2 / (d - 1) * (1 + math.log(2 * beta * k**2 * p * (d - 1)))
    b = 2 * k**2 * beta / 5
    c = b / scipy.special.lambertw(math.exp(a + math.log(b))).real
    return a, b, c, math.sqrt(p) * c ** ((d - 1) / 4), (2 / math.sqrt(p)) ** (4 / (d - 1))


@pytest.mark.parametrize(
    "d, beta, k, p",
    [(20, 1.0, 3.0, 0.001), (75, 1.0, 1.0, 0.001), (50, 0.5, 2.0, 0.01), (200, 2.0, 1.5, 0.1)],
)
def test_theorem3_constants_match_scipy(d, beta, k, p):
    ours = storage_constants(d, beta=beta, radius_scale=k, failure_prob=p)
    a, b, c, cap, c_min = scipy_constants(d, beta, k, p)
    for got, want in (
        (ours.a, a),
        (ours.b, b),
        (ours.c, c),
        (ours.capacity, cap),
        (ours.c_min, c_min),
    ):
        assert math.isclose(float(got), want, rel_tol=2e-5, abs_tol=1e-6)
    assert bool(ours.valid) == (c >= c_min)
    assert math.isclose(float(ours.radius), k * math.sqrt(d - 1), rel_tol=1e-6)


def test_theorem3_paper_values():
    assert (
        abs(float(storage_constants(20, beta=1, radius_scale=3, failure_prob=0.001).c) - 3.1546)
        < 1e-4
    )
    assert (
        abs(float(storage_constants(75, beta=1, radius_scale=1, failure_prob=0.001).c) - 1.3718)
        < 1e-4
    )
    with pytest.raises(ValueError, match="dim"):
        storage_constants(1)
    with pytest.raises(ValueError, match="failure_prob"):
        storage_constants(10, failure_prob=0.0)
    with pytest.raises(ValueError, match="beta"):
        storage_constants(10, beta=-1.0)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**30), beta=st.floats(0.5, 100.0), r=st.floats(0.0, 0.3))
def test_theorem5_bound_holds(seed, beta, r):
    key = jax.random.key(seed)
    k, d = 16, 24
    X = jax.random.normal(key, (k, d))
    X = X / jnp.linalg.norm(X, axis=1, keepdims=True)
    noise = jax.random.normal(jax.random.fold_in(key, 1), (k, d))
    Q = X + r * noise / jnp.linalg.norm(noise, axis=1, keepdims=True)
    X64, Q64 = np.asarray(X, np.float64), np.asarray(Q, np.float64)
    z = beta * Q64 @ X64.T
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    err = np.linalg.norm(np.einsum("bk,bkd->bd", p, X64[None] - X64[:, None]), axis=1)
    dist = np.linalg.norm(Q64 - X64, axis=1)
    m = np.linalg.norm(X64, axis=1).max()
    sep = np.asarray(separation(X), np.float64)
    bound64 = 2 * (k - 1) * np.exp(-beta * (sep - 2 * dist * m)) * m
    assert np.all(err <= bound64 * (1 + 1e-9))
    ours = np.asarray(retrieval_error_bound(beta, sep, dist, m, k), np.float64)
    ok = (bound64 > 1e-30) & (bound64 < 1e30)
    assert np.allclose(ours[ok], bound64[ok], rtol=1e-4)


@pytest.mark.parametrize(
    "make",
    [
        lambda b: dj.ModernHopfield(jnp.ones((3, 4)), beta=b),
        lambda b: dj.ExpDAM(jnp.ones((3, 4)), beta=b),
        lambda b: dj.lagrangians.LogSumExp(beta=b),
    ],
    ids=["ModernHopfield", "ExpDAM", "LogSumExp"],
)
def test_beta_must_be_a_positive_scalar(make):
    # one check for every positive scalar parameter: a vector used to fail inside float()
    with pytest.raises(ValueError, match="`beta` must be a scalar; got shape"):
        make(jnp.ones(2))
    with pytest.raises(ValueError, match="`beta` must be > 0"):
        make(-1.0)
    with pytest.raises(ValueError, match="`beta` must be a finite number"):
        make(float("nan"))
    assert make(2).beta.dtype == jnp.float32
