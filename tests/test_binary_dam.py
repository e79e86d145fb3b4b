"""BinaryDAM: the exact matmul field against brute-force float64 energy differences."""

import jax.numpy as jnp
import numpy as np
import pytest

import damjax as dj

FS = (
    [dj.Polynomial(n) for n in range(2, 7)]
    + [dj.RectifiedPolynomial(n) for n in (2, 3, 4, 5)]
    + [dj.Exponential(0.5), dj.Exponential(1.0)]
)


def F64(F, x):
    """Plain float64 F (exponential shifted by ``shift`` to stay finite)."""
    x = np.asarray(x, np.float64)
    if isinstance(F, dj.Polynomial):
        return x**F.n
    if isinstance(F, dj.RectifiedPolynomial):
        return np.where(x > 0, x, 0.0) ** F.n
    return np.exp(float(F.beta) * x)


def brute_field(F, X, s):
    """h_i = E(s_i = -1) - E(s_i = +1), every energy evaluated from scratch in float64."""
    X = np.asarray(X, np.float64)
    s = np.asarray(s, np.float64)
    h = np.empty(len(s))
    for i in range(len(s)):
        sp, sm = s.copy(), s.copy()
        sp[i], sm[i] = 1.0, -1.0
        h[i] = np.sum(F64(F, X @ sp)) - np.sum(F64(F, X @ sm))
    return h


@pytest.mark.parametrize("F", FS, ids=repr)
@pytest.mark.parametrize("shape", [(3, 7), (20, 16), (50, 33)])
def test_field_equals_brute_force(F, shape, getkey):
    K, N = shape
    X = dj.patterns.random_binary(getkey(), K, N)
    model = dj.BinaryDAM(X, F)
    states = jnp.concatenate(
        [dj.patterns.random_binary(getkey(), 3, N), dj.patterns.flip(getkey(), X[:2], 0.1)]
    )
    for s in states:
        ref = brute_field(F, X, s)
        got = np.asarray(model.field(s), np.float64)
        scale = np.max(np.abs(ref)) + 1e-30
        np.testing.assert_allclose(got / scale, ref / scale, atol=2e-5)
        # energy
        e_ref = -np.sum(F64(F, np.asarray(X, np.float64) @ np.asarray(s, np.float64)))
        np.testing.assert_allclose(float(model.energy(s)), e_ref, rtol=2e-5, atol=1e-4)


def test_field_zero_keeps_state():
    """Rectified F with every overlap <= -3: all energy differences vanish exactly."""
    N = 12
    X = jnp.ones((2, N))
    s = -jnp.ones(N)
    model = dj.BinaryDAM(X, dj.RectifiedPolynomial(3))
    h = model.field(s)
    assert np.all(np.asarray(h) == 0.0)
    np.testing.assert_array_equal(brute_field(model.F, X, s), 0.0)
    np.testing.assert_array_equal(model.update(s), s)
    out = dj.retrieve(model, s, rule=dj.Async())
    np.testing.assert_array_equal(out.states, s)
    assert bool(out.converged)


@pytest.mark.parametrize(
    "F", [dj.Polynomial(30), dj.RectifiedPolynomial(30), dj.Exponential(1.0)], ids=repr
)
def test_large_degree_no_overflow_and_correct_signs(F, getkey):
    N, K = 1000, 60
    X = dj.patterns.random_binary(getkey(), K, N)
    model = dj.BinaryDAM(X, F)
    states = jnp.concatenate(
        [dj.patterns.random_binary(getkey(), 2, N), dj.patterns.flip(getkey(), X[:2], 0.3)]
    )
    Xd = np.asarray(X, np.float64)
    for s in states:
        h, ls = model.scaled_field(s)
        h = np.asarray(h)
        assert np.all(np.isfinite(h)) and np.isfinite(float(ls))
        e, els = model.scaled_energy(s)
        assert np.isfinite(float(e)) and np.isfinite(float(els)) and float(e) < 0
        # float64 brute force, shifted by the largest exponent so that it stays finite
        sd = np.asarray(s, np.float64)
        m = Xd @ sd
        ref = np.empty(N)
        if isinstance(F, dj.Exponential):
            shift = m.max() + 2
            f = lambda x: np.exp(x - shift)
        else:
            c = np.abs(m).max() + 2
            f = lambda x: F64(F, x / c)
        for i in range(N):
            mp = m + (1 - sd[i]) * Xd[:, i]  # overlaps with s_i = +1
            mm = m - (1 + sd[i]) * Xd[:, i]  # overlaps with s_i = -1
            ref[i] = np.sum(f(mm)) - np.sum(f(mp))
        ref = -ref  # h = E(-1) - E(+1) = sum F(m+) - sum F(m-)
        decisive = np.abs(ref) > 1e-4 * np.abs(ref).max()
        assert decisive.mean() > 0.5
        np.testing.assert_array_equal(np.sign(h[decisive]), np.sign(ref[decisive]))
        upd = np.asarray(model.update(s))
        assert np.all(np.isin(upd, [-1.0, 1.0]))


@pytest.mark.parametrize(
    "F", [dj.Polynomial(2), dj.Polynomial(3), dj.Polynomial(4), dj.RectifiedPolynomial(3)], ids=repr
)
def test_field_accurate_at_large_dimension(F, getkey):
    # At N = 20000 the overlaps are large and F(m+2) - F(m-2) cancels most of its digits; the
    # field terms must not (binomial closed form): float32 field within 1e-5 of max|h| of a
    # float64 reference (the direct difference of powers was off by ~2e-4 here).
    K, N = 40, 20000
    X = dj.patterns.random_binary(getkey(), K, N)
    S = dj.patterns.random_binary(getkey(), 3, N).at[0].set(X[0]).at[1].set(-X[1])
    model = dj.BinaryDAM(X, F)
    Xd, Sd = np.asarray(X, np.float64), np.asarray(S, np.float64)
    for s, sd in zip(S, Sd):
        m = Xd @ sd
        # float64 keeps >= 12 significant digits of these differences at this size
        g1 = 0.5 * (F64(F, m + 2) - F64(F, m - 2))
        g0 = F64(F, m) - 0.5 * (F64(F, m + 2) + F64(F, m - 2))
        ref = g1 @ Xd + sd * g0.sum()
        h, ls = model.scaled_field(s)
        got = np.asarray(h, np.float64) * np.exp(float(ls))
        err = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
        assert err < 1e-5, err


def test_stored_patterns_fixed_below_capacity(getkey):
    X = dj.patterns.random_binary(getkey(), 200, 200)
    assert float(dj.capacity.fixed_point_fraction(dj.BinaryDAM(X, dj.Polynomial(3)))) == 1.0


def test_classic_hopfield_fails_far_above_capacity(getkey):
    N = 200
    X = dj.patterns.random_binary(getkey(), N // 2, N)  # K = 0.5 N >> 0.14 N
    frac = float(dj.capacity.fixed_point_fraction(dj.BinaryDAM(X, dj.Polynomial(2))))
    assert frac < 0.2
    X = dj.patterns.random_binary(getkey(), 5, N)  # K = 0.025 N
    assert float(dj.capacity.fixed_point_fraction(dj.BinaryDAM(X, dj.Polynomial(2)))) == 1.0


def test_mask_equals_subset(getkey):
    X = dj.patterns.random_binary(getkey(), 30, 40)
    mask = (jnp.arange(30) < 17).astype(jnp.float32)
    masked = dj.BinaryDAM(X, dj.Polynomial(3), mask=mask)
    subset = dj.BinaryDAM(X[:17], dj.Polynomial(3))
    s = dj.patterns.random_binary(getkey(), 1, 40)[0]
    np.testing.assert_allclose(masked.field(s), subset.field(s), rtol=1e-5)
    np.testing.assert_allclose(masked.energy(s), subset.energy(s), rtol=1e-5)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.ones((3,)), "2-D"),
        (np.zeros((0, 5)), "K = 0"),
        (np.array([[1.0, 0.0], [1.0, -1.0]]), r"\+1 and -1"),
        (np.array([[1.0, np.nan]]), r"\+1 and -1"),
    ],
)
def test_bad_patterns(bad, match):
    with pytest.raises(ValueError, match=match):
        dj.BinaryDAM(bad, dj.Polynomial(2))


def test_bad_arguments():
    X = np.ones((2, 4))
    with pytest.raises(ValueError, match="degree `n`"):
        dj.Polynomial(0)
    with pytest.raises(TypeError, match="degree `n`"):
        dj.RectifiedPolynomial(2.5)
    with pytest.raises(ValueError, match="beta"):
        dj.Exponential(float("inf"))
    with pytest.raises(ValueError, match="beta"):
        dj.Exponential(float("nan"))
    with pytest.raises(TypeError, match="`F`"):
        dj.BinaryDAM(X, lambda x: x)
    model = dj.BinaryDAM(X, dj.Polynomial(2))
    with pytest.raises(ValueError, match="`cues` must have last dimension N = 4"):
        dj.retrieve(model, jnp.ones((3, 5)))
    with pytest.raises(ValueError, match="`mask`"):
        dj.BinaryDAM(X, dj.Polynomial(2), mask=jnp.ones(3))
    with pytest.raises(ValueError, match="`tie_patterns` must be an integer >= 1"):
        dj.BinaryDAM(X, dj.Polynomial(2), tie_patterns=0)
    with pytest.raises(TypeError, match="`tie_patterns`"):
        dj.BinaryDAM(X, dj.Polynomial(2), tie_patterns=2.5)
    # the tie rule 8 sqrt(K) eps |terms| counts tie_patterns patterns (default: the rows)
    K = X.shape[0]
    assert model.tie_patterns == K
    wide = dj.BinaryDAM(X, dj.Polynomial(2), tie_patterns=4 * K)
    np.testing.assert_allclose(wide._tie_level(1.0), 2 * model._tie_level(1.0), rtol=1e-6)


def test_static_log_scale_only_where_safe():
    # a constant scale bounds every |m| + 2 <= N + 2 and keeps the largest term above e^-60
    assert dj.Polynomial(3).static_log_scale(400) == pytest.approx(3 * np.log(402.0))
    assert dj.RectifiedPolynomial(3).static_log_scale(10**6) is not None
    assert dj.Polynomial(30).static_log_scale(1000) is None  # (2/1002)^30 ~ e^-186
    assert dj.Exponential(1.0).static_log_scale(10) is None


def test_energy_zero_not_nan_when_scale_overflows():
    # RectifiedPolynomial(30), every overlap -100: E = 0 exactly, while exp(L) = 102^30 = inf
    model = dj.BinaryDAM(jnp.ones((3, 100)), dj.RectifiedPolynomial(30))
    s = -jnp.ones(100)
    assert float(model.scaled_energy(s)[1]) > 89.0
    assert float(model.energy(s)) == 0.0
    np.testing.assert_array_equal(np.asarray(model.field(s)), 0.0)
