"""Normalizers: softmax, sparsemax, 1.5-entmax, alpha-entmax (sort and bisection)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tree_allclose
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

import damjax
from damjax.components.normalizers import (
    Entmax,
    Entmax15,
    Softmax,
    Sparsemax,
    entmax,
    entmax15,
    entmax_bisect,
    get_normalizer,
    softmax,
    sparsemax,
    tsallis_entropy,
)

ALL = [
    ("softmax", softmax),
    ("sparsemax", sparsemax),
    ("sparsemax_sort", lambda z: sparsemax(z, method="sort")),
    ("entmax15", entmax15),
    ("entmax15_sort", lambda z: entmax15(z, method="sort")),
    ("entmax13", lambda z: entmax_bisect(z, 1.3)),
    ("entmax3", lambda z: entmax_bisect(z, 3.0)),
]


def ref_entmax(z, alpha):
    """float64 NumPy reference: brute force over all supports for alpha in {1.5, 2} (small K),
    200-step bisection otherwise."""
    z = np.asarray(z, np.float64)
    if alpha == 1.0:
        e = np.exp(z - z.max())
        return e / e.sum()
    if alpha in (1.5, 2.0):
        zz = (alpha - 1.0) * z
        k = len(zz)
        for size in range(1, k + 1):
            for sup in itertools.combinations(range(k), size):
                s = zz[list(sup)]
                if alpha == 2.0:
                    tau = (s.sum() - 1.0) / size
                else:
                    disc = s.mean() ** 2 - (np.sum(s**2) - 1.0) / size
                    if disc < 0:
                        continue
                    tau = s.mean() - np.sqrt(disc)
                p = np.maximum(zz - tau, 0.0) ** (1.0 / (alpha - 1.0))
                inside = np.zeros(k, bool)
                inside[list(sup)] = True
                if (
                    np.all(zz[inside] > tau)
                    and np.all(zz[~inside] <= tau)
                    and abs(p.sum() - 1) < 1e-9
                ):
                    return p
        raise AssertionError("no valid support")
    zz = (alpha - 1.0) * (z - z.max())
    lo, hi = -1.0, 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.sum(np.maximum(zz - mid, 0.0) ** (1.0 / (alpha - 1.0))) >= 1.0:
            lo = mid
        else:
            hi = mid
    p = np.maximum(zz - lo, 0.0) ** (1.0 / (alpha - 1.0))
    return p / p.sum()


@pytest.mark.parametrize("name,fn", ALL, ids=[a for a, _ in ALL])
def test_sum_to_one_and_nonnegative_batched(name, fn, getkey):
    z = 3.0 * jax.random.normal(getkey(), (4, 3, 17))
    p = fn(z)
    assert p.shape == z.shape and p.dtype == jnp.float32
    assert bool(jnp.all(p >= 0))
    np.testing.assert_allclose(np.asarray(p.sum(-1)), 1.0, atol=2e-6)
    # batching is along leading axes only: equal to row-by-row evaluation
    rows = jnp.stack([fn(r) for r in z.reshape(-1, 17)]).reshape(z.shape)
    assert tree_allclose(p, rows, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.floats(-5, 5, allow_nan=False, width=32), min_size=1, max_size=7),
    st.sampled_from([1.0, 1.5, 2.0, 1.25, 3.0]),
)
def test_matches_float64_reference(values, alpha):
    z = np.array(values, np.float32)
    ref = ref_entmax(z, alpha)
    got = np.asarray(entmax(jnp.asarray(z), alpha))
    np.testing.assert_allclose(got, ref, atol=2e-5)
    if alpha in (1.5, 2.0):
        got_sort = np.asarray(entmax(jnp.asarray(z), alpha, method="sort"))
        np.testing.assert_allclose(got_sort, ref, atol=2e-5)


def test_sparse_where_it_should_be():
    z = jnp.array([3.0, 0.0, -1.0, 2.9, -5.0])
    assert int(jnp.sum(sparsemax(z) > 0)) == 2  # only the two top scores
    p15 = entmax15(z)
    assert float(p15[4]) == 0.0 and float(p15[2]) == 0.0 and int(jnp.sum(p15 > 0)) == 2
    # a dominant score gives exactly one-hot outputs (for every alpha > 1)
    z = jnp.array([10.0, 0.0, 0.0, -1.0])
    for fn in (sparsemax, entmax15, lambda z: entmax_bisect(z, 1.2)):
        assert np.array_equal(np.asarray(fn(z)), [1.0, 0.0, 0.0, 0.0])
    # softmax is never sparse; equal scores give the uniform distribution for every alpha
    assert bool(jnp.all(softmax(jnp.array([10.0, 0.0, -10.0])) > 0))
    for alpha in (1.0, 1.5, 2.0, 2.5):
        np.testing.assert_allclose(np.asarray(entmax(jnp.zeros(5), alpha)), 0.2, atol=1e-6)


def test_support_grows_as_alpha_falls():
    z = jax.random.normal(jax.random.key(3), (200,))
    sizes = [int(jnp.sum(entmax(z, a) > 0)) for a in (3.0, 2.0, 1.5, 1.2)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] < 200


def test_alpha_one_is_softmax(getkey):
    z = 4.0 * jax.random.normal(getkey(), (5, 9))
    assert tree_allclose(entmax(z, 1.0), jax.nn.softmax(z, axis=-1))
    assert tree_allclose(Entmax(1.0)(z), softmax(z))
    assert isinstance(get_normalizer(1.0), Softmax)
    # alpha -> 1+: bisection entmax approaches softmax
    assert float(jnp.abs(entmax_bisect(z, 1.02, n_iter=60) - softmax(z)).max()) < 0.05


@pytest.mark.parametrize(
    "alpha,method",
    [
        (1.0, "bisect"),
        (1.5, "bisect"),
        (2.0, "bisect"),
        (1.3, "bisect"),
        (2.5, "bisect"),
        (1.5, "sort"),
        (2.0, "sort"),
    ],
)
def test_gradients_against_finite_differences(alpha, method):
    with jax.enable_x64(True):
        z = jax.random.normal(jax.random.key(7), (2, 6), dtype=jnp.float64) * 1.5
        w = jax.random.normal(jax.random.key(8), (2, 6), dtype=jnp.float64)

        def f(z):
            return jnp.sum(w * entmax(z, alpha, method=method, n_iter=60))

        check_grads(f, (z,), order=1, modes=["fwd", "rev"], atol=1e-5, rtol=1e-5)
        # jacobian rows sum to zero (outputs stay on the simplex)
        jac = jax.jacfwd(lambda v: entmax(v, alpha, method=method, n_iter=60))(z[0])
        np.testing.assert_allclose(np.asarray(jac.sum(0)), 0.0, atol=1e-10)


def test_large_scores_no_overflow():
    z = jnp.array([[1e30, 0.0, -1e30, 1e30 - 1e24], [3e4, 3e4, 2.0, -3e4]], jnp.float32)
    for fn in (
        softmax,
        sparsemax,
        entmax15,
        lambda v: entmax15(v, method="sort"),
        lambda v: sparsemax(v, method="sort"),
        lambda v: entmax_bisect(v, 1.7),
    ):
        p = fn(z)
        assert bool(jnp.all(jnp.isfinite(p)))
        np.testing.assert_allclose(np.asarray(p.sum(-1)), 1.0, atol=1e-6)
    n = Entmax15()
    assert bool(jnp.all(jnp.isfinite(n.conjugate(z * 1e-10))))


@pytest.mark.parametrize(
    "normalizer", [Softmax(), Sparsemax(), Entmax15(), Entmax(1.3), Entmax(2.0, method="sort")]
)
def test_conjugate_gradient_is_normalizer(normalizer, getkey):
    z = 2.0 * jax.random.normal(getkey(), (3, 8))
    g = jax.grad(lambda v: jnp.sum(normalizer.conjugate(v)))(z)
    assert tree_allclose(g, normalizer(z), atol=1e-6)
    # Psi*(z) = max_p <p, z> + H(p): no random simplex point does better
    p = np.random.default_rng(0).dirichlet(np.ones(8), 500).astype(np.float32)
    vals = jnp.asarray(p) @ z[0] + tsallis_entropy(jnp.asarray(p), normalizer.alpha)
    assert float(vals.max()) <= float(normalizer.conjugate(z[0])) + 1e-5


def test_softmax_conjugate_is_logsumexp(getkey):
    z = jax.random.normal(getkey(), (6,))
    assert tree_allclose(Softmax().conjugate(z), jax.nn.logsumexp(z))


def test_vmap_and_jit():
    z = jax.random.normal(jax.random.key(0), (5, 11))
    for fn in (sparsemax, lambda v: entmax15(v, method="sort"), lambda v: entmax_bisect(v, 1.4)):
        jitted = jax.jit(fn)
        assert tree_allclose(jax.jit(jax.vmap(fn))(z), jitted(z), atol=1e-7)


def test_float64():
    with jax.enable_x64(True):
        z = jax.random.normal(jax.random.key(0), (4, 7), dtype=jnp.float64)
        for fn in (softmax, sparsemax, entmax15, lambda v: entmax_bisect(v, 1.4)):
            p = fn(z)
            assert p.dtype == jnp.float64
            np.testing.assert_allclose(np.asarray(p.sum(-1)), 1.0, atol=1e-12)
        ref = ref_entmax(np.asarray(z[0]), 1.5)
        np.testing.assert_allclose(np.asarray(entmax15(z[0])), ref, atol=1e-12)


def test_bad_input():
    z = jnp.ones(3)
    with pytest.raises(ValueError, match="alpha"):
        entmax(z, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        Entmax(0.9)
    with pytest.raises(ValueError, match="alpha"):
        get_normalizer(0.99)
    with pytest.raises(ValueError, match="alpha"):
        entmax_bisect(z, 1.0)
    with pytest.raises(ValueError, match="sort"):
        entmax(z, 1.3, method="sort")
    with pytest.raises(ValueError, match="method"):
        entmax(z, 1.5, method="newton")
    with pytest.raises(ValueError, match="n_iter"):
        entmax_bisect(z, 1.5, n_iter=0)
    with pytest.raises(ValueError, match="at least one axis"):
        sparsemax(jnp.asarray(1.0))
    with pytest.raises(ValueError, match="normalizer"):
        get_normalizer("entmax")
    with pytest.raises(TypeError, match="normalizer"):
        get_normalizer(None)
    with pytest.raises(ValueError, match="alpha = 2"):
        Sparsemax(alpha=1.5)
    assert isinstance(get_normalizer("sparsemax"), Sparsemax)
    assert isinstance(damjax.Entmax15(), damjax.AbstractNormalizer)
