import jax
import jax.numpy as jnp
import numpy as np
import pytest

import damjax as dj


def test_random_binary(getkey):
    X = dj.patterns.random_binary(getkey(), 50, 64)
    assert X.shape == (50, 64) and X.dtype == jnp.float32
    assert set(np.unique(np.asarray(X))) == {-1.0, 1.0}
    assert abs(float(jnp.mean(X))) < 0.05


@pytest.mark.parametrize("rho", [0.0, 0.1, 0.25, 0.5, 1.0])
def test_flip_exact_flips_exact_count(rho, getkey):
    X = dj.patterns.random_binary(getkey(), 30, 101)
    Y = dj.patterns.flip(getkey(), X, rho)
    flips = np.asarray(jnp.sum(X != Y, axis=-1))
    assert np.all(flips == round(rho * 101))
    # positions differ across rows (not the same mask every time)
    if 0 < rho < 1:
        assert len({tuple(r) for r in np.asarray(X != Y)}) > 1


def test_flip_bernoulli_rate(getkey):
    X = dj.patterns.random_binary(getkey(), 200, 200)
    Y = dj.patterns.flip(getkey(), X, 0.2, method="bernoulli")
    assert abs(float(jnp.mean(X != Y)) - 0.2) < 0.01
    with pytest.raises(ValueError, match="method"):
        dj.patterns.flip(getkey(), X, 0.2, method="poisson")


def test_flip_traced_rho(getkey):
    X = dj.patterns.random_binary(getkey(), 4, 40)
    rhos = jnp.array([0.0, 0.25, 0.5])
    Y = jax.vmap(lambda r: dj.patterns.flip(jax.random.key(0), X, r))(rhos)
    np.testing.assert_array_equal(jnp.sum(Y != X[None], axis=-1), [[0] * 4, [10] * 4, [20] * 4])


@pytest.mark.parametrize("contiguous", [False, True])
def test_mask(contiguous, getkey):
    X = dj.patterns.random_binary(getkey(), 10, 50)
    cues, known = dj.patterns.mask(getkey(), X, 0.3, fill=0.0, contiguous=contiguous)
    assert np.all(np.asarray(jnp.sum(~known, axis=-1)) == 15)
    np.testing.assert_array_equal(jnp.where(known, X, 0.0), cues)
    cues, known = dj.patterns.mask(getkey(), X, 0.3)
    assert set(np.unique(np.asarray(cues))) <= {-1.0, 1.0}


@pytest.mark.parametrize("rho", [-0.1, 1.5, float("nan")])
def test_bad_rho(rho, getkey):
    X = dj.patterns.random_binary(getkey(), 2, 8)
    with pytest.raises(ValueError, match="rho"):
        dj.patterns.flip(getkey(), X, rho)
    with pytest.raises(ValueError, match="rho"):
        dj.patterns.mask(getkey(), X, rho)


def test_bad_counts(getkey):
    with pytest.raises(ValueError, match="`K`"):
        dj.patterns.random_binary(getkey(), 0, 8)
    with pytest.raises(TypeError, match="`N`"):
        dj.patterns.random_binary(getkey(), 3, 8.0)


def test_retrieval_stats(getkey):
    X = dj.patterns.random_binary(getkey(), 10, 80)
    model = dj.BinaryDAM(X, dj.Polynomial(3))
    cues = dj.patterns.flip(getkey(), X, 0.1)
    st = dj.capacity.retrieval_stats(model, cues, X, rule=dj.Sync())
    assert float(st["exact_rate"]) == 1.0 and float(st["bit_error_rate"]) == 0.0
    assert float(st["final_overlap"]) == 1.0 and float(st["nearest_overlap"]) == 1.0
    noisy = dj.capacity.nearest_overlap(cues, X)
    np.testing.assert_allclose(noisy, 1 - 2 * 8 / 80, rtol=1e-6)
