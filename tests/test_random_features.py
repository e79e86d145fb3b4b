"""ExpDAM (exact log-sum-exp DAM), random feature maps, RandomFeatureDAM (DrDAM) and
GradientDescent retrieval (Hoover et al. 2024)."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tree_allclose
from hypothesis import given, settings
from hypothesis import strategies as st

import damjax
import damjax.reproduce
from damjax import (
    BinaryDAM,
    Cos,
    ExpDAM,
    GradientDescent,
    Orthogonal,
    Polynomial,
    PositiveExp,
    RandomFeatureDAM,
    SinCos,
    retrieve,
)
from damjax.benchmarks.random_features import energy_grad_memory

FEATURE_MAPS = [SinCos(), Cos(), PositiveExp(), Orthogonal()]
IDS = ["sincos", "cos", "positive_exp", "orthogonal"]


@eqx.filter_jit
def energy_grad(model, x):
    return jax.vmap(jax.value_and_grad(model.energy))(x)


def binary(key, n, dim):
    return jax.random.bernoulli(key, 0.5, (n, dim)).astype(jnp.float32) / math.sqrt(dim)


def np_energy(X, x, beta):
    X, x = np.asarray(X, np.float64), np.asarray(x, np.float64)
    a = -0.5 * beta * np.sum((x - X) ** 2, axis=1)
    m = a.max()
    return -(m + np.log(np.sum(np.exp(a - m)))) / beta


def np_grad(X, x, beta):
    X, x = np.asarray(X, np.float64), np.asarray(x, np.float64)
    a = -0.5 * beta * np.sum((x - X) ** 2, axis=1)
    p = np.exp(a - a.max())
    p /= p.sum()
    return x - p @ X


def np_features(S, b, x, beta, fmap):
    """Float64 features from the full projection matrix (slow, obvious reference)."""
    S, b, x = (np.asarray(v, np.float64) for v in (S, b, x))
    Y = S.shape[0]
    h = np.sqrt(beta) * S @ x
    base = fmap.base if isinstance(fmap, Orthogonal) else fmap
    if isinstance(base, SinCos):
        return np.concatenate([np.cos(h), np.sin(h)]) / np.sqrt(Y)
    if isinstance(base, Cos):
        return np.sqrt(2.0 / Y) * np.cos(h + b)
    return np.exp(h - beta * x @ x) / np.sqrt(Y)


# --- ExpDAM -------------------------------------------------------------------------------


def test_exp_dam_energy_grad_match_float64(getkey):
    X = jax.random.normal(getkey(), (40, 12))
    model = ExpDAM(X, 3.0)
    for x in jax.random.normal(getkey(), (5, 12)):
        assert np.isclose(float(model.energy(x)), np_energy(X, x, 3.0), rtol=1e-5, atol=1e-5)
        assert np.allclose(jax.grad(model.energy)(x), np_grad(X, x, 3.0), atol=2e-5)
        # update is the unit gradient step = softmax-weighted memories
        assert np.allclose(model.update(x), np.asarray(x) - np_grad(X, x, 3.0), atol=2e-5)


def test_exp_dam_large_beta_finite(getkey):
    X = binary(getkey(), 20, 30)
    model = ExpDAM(X, 1e5)
    x = 1.0 - X[0]  # far from every memory: exp(-beta d^2 / 2) underflows to 0
    e, g = jax.value_and_grad(model.energy)(x)
    assert np.isfinite(float(e)) and np.all(np.isfinite(g))
    assert np.isclose(float(e), np_energy(X, x, 1e5), rtol=1e-4)


# --- feature maps: kernel estimates ------------------------------------------------------


@pytest.mark.parametrize(
    "fmap",
    [SinCos(), Cos(), PositiveExp(), Orthogonal(Cos())],
    ids=["sincos", "cos", "positive_exp", "orthogonal_cos"],
)
def test_features_match_float64_reference(fmap, getkey):
    X = binary(getkey(), 6, 10)
    x = binary(getkey(), 1, 10)[0]
    model = RandomFeatureDAM(X, 4.0, num_features=300, key=getkey(), features=fmap, chunk_size=64)
    S, b = model.projections()
    ref_T = sum(np_features(S, b, xi, 4.0, fmap) for xi in np.asarray(X))
    assert np.allclose(np.asarray(model.T).T.reshape(-1), ref_T, rtol=1e-4, atol=1e-5)
    ref_phi = np_features(S, b, x, 4.0, fmap)
    assert np.allclose(np.asarray(model.features_of(x)).T.reshape(-1), ref_phi, atol=1e-5)
    assert np.isclose(float(model.kernel_sum(x)), ref_phi @ ref_T, rtol=1e-4, atol=1e-5)


def test_orthogonal_rows_are_orthogonal(getkey):
    model = RandomFeatureDAM.empty(8, 1.0, num_features=16, key=getkey(), features=Orthogonal())
    S, _ = model.projections()
    block = np.asarray(S[:8], np.float64)
    gram = block @ block.T
    assert np.allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-4)


@pytest.mark.parametrize("fmap", FEATURE_MAPS, ids=IDS)
def test_kernel_estimate_converges_with_Y(fmap):
    # fixed keys: the error of <Phi(x), Phi(y)> shrinks like Y^-1/2 towards exp(-beta|x-y|^2/2)
    key = jax.random.key(7)
    kx, ky = jax.random.split(key)
    D, beta = 8, 2.0
    xs = 0.3 * jax.random.normal(kx, (12, D))
    ys = xs + 0.2 * jax.random.normal(ky, (12, D))
    exact = np.exp(-0.5 * beta * np.sum(np.asarray(xs - ys, np.float64) ** 2, axis=1))
    errs = []
    for Y in (64, 1024, 16384):

        def estimate(x, y, Y=Y):
            model = RandomFeatureDAM(
                y[None], beta, num_features=Y, key=jax.random.key(3), features=fmap
            )
            return model.kernel_sum(x)

        est = np.asarray(jax.jit(jax.vmap(estimate))(xs, ys), np.float64)
        errs.append(float(np.mean(np.abs(est - exact))))
    assert errs[0] > errs[1] > errs[2]
    slope = np.polyfit(np.log([64, 1024, 16384]), np.log(errs), 1)[0]
    assert -0.75 < slope < -0.3, (errs, slope)
    if not fmap.positive:  # positive features: same rate, larger constant
        assert errs[2] < 3.0 / math.sqrt(16384)


@pytest.mark.parametrize("fmap", FEATURE_MAPS, ids=IDS)
def test_kernel_estimate_unbiased(fmap):
    # mean over many independent keys of a small-Y estimate is the exact kernel (z-test)
    beta, Y, n_keys = 1.5, 8, 4000
    x = jnp.array([0.3, -0.1, 0.2, 0.0])
    y = jnp.array([0.1, 0.2, -0.2, 0.1])
    exact = math.exp(-0.5 * beta * float(jnp.sum((x - y) ** 2)))

    def estimate(key):
        model = RandomFeatureDAM(y[None], beta, num_features=Y, key=key, features=fmap)
        return model.kernel_sum(x)

    keys = jax.random.split(jax.random.key(11), n_keys)
    ests = np.asarray(jax.jit(jax.vmap(estimate))(keys), np.float64)
    sem = ests.std(ddof=1) / math.sqrt(n_keys)
    assert abs(ests.mean() - exact) < 4.0 * sem, (ests.mean(), exact, sem)
    assert sem < 0.05  # the test has power


# --- RandomFeatureDAM ---------------------------------------------------------------------


def test_energy_and_grad_approach_exact(getkey):
    X = binary(getkey(), 50, 16)
    exact = ExpDAM(X, 10.0)
    q = X[:8]
    e0, g0 = energy_grad(exact, q)
    errs = []
    for Y in (256, 16384):
        model = RandomFeatureDAM(X, 10.0, num_features=Y, key=jax.random.key(5))
        e, g = energy_grad(model, q)
        errs.append((float(jnp.mean(jnp.abs(e - e0))), float(jnp.mean(jnp.abs(g - g0)))))
    # 64x more features: errors shrink ~8x (Monte-Carlo rate); allow 4x
    assert errs[1][0] < errs[0][0] / 4 and errs[1][1] < errs[0][1] / 4
    assert errs[1][0] < 5e-3 and errs[1][1] < 2e-2


def test_add_then_remove_restores_T(getkey):
    X = binary(getkey(), 30, 12)
    model = RandomFeatureDAM(X, 10.0, num_features=1000, key=getkey())
    new = binary(getkey(), 7, 12)
    back = model.add(new).remove(new)
    assert back.T.shape == model.T.shape
    assert np.allclose(back.T, model.T, atol=1e-5)
    assert np.max(np.abs(model.add(new).T - model.T)) > 1e-3  # add did something
    # adding one by one == building from all patterns; parameter count never changes
    grown = RandomFeatureDAM.empty(12, 10.0, num_features=1000, key=model.key)
    sizes = {grown.num_parameters}
    for xi in X[:3]:
        grown = grown.add(xi)
        sizes.add(grown.num_parameters)
    grown = grown.add(X[3:])
    assert sizes == {2000}
    assert np.allclose(grown.T, model.T, atol=1e-5)


@pytest.mark.parametrize(
    "fmap", [SinCos(), Orthogonal(PositiveExp())], ids=["sincos", "orthogonal_positive_exp"]
)
def test_chunked_equals_unchunked(fmap, getkey):
    X = binary(getkey(), 20, 10)
    q = binary(getkey(), 4, 10)
    key = getkey()
    kw = dict(num_features=1000, key=key, features=fmap)
    small = RandomFeatureDAM(X, 20.0, chunk_size=100, **kw)
    whole = RandomFeatureDAM(X, 20.0, chunk_size=100_000, **kw)
    assert small.layout.num_chunks > 1 and whole.layout.num_chunks == 1
    assert np.allclose(small.T, whole.T, rtol=1e-5, atol=1e-6)
    e0, g0 = energy_grad(whole, q)
    for m in (small, small.with_projections()):
        assert tree_allclose(energy_grad(m, q), (e0, g0), rtol=1e-4, atol=1e-5)
    S1, b1 = small.projections()
    S2, b2 = whole.with_projections().projections()
    assert S1.shape == (1000, 10) and np.allclose(S1, S2, atol=1e-5) and np.allclose(b1, b2)


@settings(max_examples=10, deadline=None)
@given(
    D=st.integers(1, 9),
    Y=st.integers(1, 300),
    chunk=st.integers(1, 400),
    K=st.integers(0, 5),
)
def test_chunking_property(D, Y, chunk, K):
    # T (built chunk by chunk, padded rows dropped) does not depend on the chunking
    X = jnp.linspace(-1.0, 1.0, K * D).reshape(K, D)
    kw = dict(num_features=Y, key=jax.random.key(D + Y))
    a = RandomFeatureDAM(X, 3.0, chunk_size=chunk, **kw)
    b = RandomFeatureDAM(X, 3.0, chunk_size=10_000, **kw)
    assert a.T.shape == (Y, 2) and a.num_parameters == 2 * Y
    assert a.chunk_size % 128 == 0 and a.layout.padded >= Y
    assert np.allclose(a.T, b.T, atol=1e-5)


def test_peak_memory_independent_of_S(getkey):
    # energy + gradient of one query: temporaries O(chunk * D + Y), far below the bytes of S
    D, Y, chunk = 64, 2**15, 256
    model = RandomFeatureDAM(
        binary(getkey(), 4, D), 30.0, num_features=Y, key=getkey(), chunk_size=chunk
    )
    mem = energy_grad_memory(model, jnp.zeros(D))
    if mem is None:
        pytest.skip("backend without memory analysis")
    s_bytes = Y * D * 4
    assert mem.temp_size_in_bytes < s_bytes / 8, (mem.temp_size_in_bytes, s_bytes)
    # and it is set by the chunk, not by Y
    big = RandomFeatureDAM.empty(D, 30.0, num_features=4 * Y, key=getkey(), chunk_size=chunk)
    mem4 = energy_grad_memory(big, jnp.zeros(D))
    assert mem4.temp_size_in_bytes < 2 * mem.temp_size_in_bytes + 8 * 4 * Y * 4


def test_large_beta_finite(getkey):
    X = binary(getkey(), 20, 30)
    q = jnp.concatenate([X[:2], 1.0 - X[:2], jnp.zeros((1, 30))])
    for fmap in (SinCos(), PositiveExp()):
        model = RandomFeatureDAM(X, 1e4, num_features=512, key=getkey(), features=fmap)
        e, g = energy_grad(model, q)
        assert np.all(np.isfinite(e)) and np.all(np.isfinite(g))
    empty = RandomFeatureDAM.empty(30, 5.0, num_features=64, key=getkey())
    e, g = jax.value_and_grad(empty.energy)(X[0])
    assert np.isclose(float(e), -math.log(1e-5) / 5.0) and np.all(g == 0)


def test_positive_features_large_query_norm_no_overflow(getkey):
    # exp(sqrt(beta) w.x) alone would overflow float32; the log-domain evaluation does not
    X = jax.random.normal(getkey(), (5, 400)) * 0.5
    model = RandomFeatureDAM(X, 1.0, num_features=256, key=getkey(), features=PositiveExp())
    x = X[0] * 3.0
    e, g = jax.value_and_grad(model.energy)(x)
    assert np.isfinite(float(e)) and np.all(np.isfinite(g))


# --- retrieval ------------------------------------------------------------------------------


def test_gradient_descent_matches_manual_loop_and_clamps(getkey):
    X = binary(getkey(), 30, 20)
    model = ExpDAM(X, 30.0)
    cues = X[:4].at[:, 10:].set(0.5 / math.sqrt(20))  # second half unknown
    clamp = jnp.arange(20) < 10
    rule = GradientDescent(0.1, clamp=clamp, tol=0.0)
    out = retrieve(model, cues, rule=rule, max_steps=25, record_energy=True)
    x = cues
    for _ in range(25):
        g = jax.vmap(jax.grad(model.energy))(x)
        x = x - 0.1 * jnp.where(clamp, 0.0, g)
    assert np.allclose(out.states, x, atol=1e-5)
    assert np.array_equal(out.states[:, :10], cues[:, :10])
    assert np.all(np.diff(out.energies, axis=1) <= 1e-6)  # small steps never increase E
    assert np.all(out.steps == 25)


def test_gradient_descent_retrieves_and_drdam_agrees(getkey):
    D = 40
    X = binary(getkey(), 20, D)
    noisy = jnp.where(jnp.arange(D) < 4, 1.0 / math.sqrt(D) - X[:6], X[:6])  # 10% flipped
    rule = GradientDescent(0.2)
    exact = retrieve(ExpDAM(X, 40.0), noisy, rule=rule, max_steps=200)
    assert np.array_equal(np.asarray(exact.states) > 0.5 / math.sqrt(D), np.asarray(X[:6]) > 0)
    assert np.all(exact.converged)
    approx = RandomFeatureDAM(X, 40.0, num_features=20000, key=getkey())
    out = retrieve(approx, noisy, rule=rule, max_steps=200)
    ham = np.mean((np.asarray(out.states) > 0.5 / math.sqrt(D)) != (np.asarray(X[:6]) > 0))
    assert ham <= 0.02


def test_other_rules_run_on_both_models(getkey):
    X = binary(getkey(), 10, 8)
    for model in (ExpDAM(X, 20.0), RandomFeatureDAM(X, 20.0, num_features=2000, key=getkey())):
        sync = retrieve(model, X[:2], rule=damjax.Sync(tol=1e-5), max_steps=50)
        assert np.all(np.isfinite(sync.states))
        euler = retrieve(model, X[:2], rule=damjax.Euler(dt=0.2), max_steps=50)
        assert np.all(np.isfinite(euler.states))


# --- bad input ------------------------------------------------------------------------------


def test_bad_input(getkey):
    X = binary(getkey(), 5, 6)
    key = getkey()
    for Y in (0, -3):
        with pytest.raises(ValueError, match="num_features"):
            RandomFeatureDAM(X, 1.0, num_features=Y, key=key)
    with pytest.raises(TypeError, match="num_features"):
        RandomFeatureDAM(X, 1.0, num_features=2.5, key=key)
    for beta in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="beta"):
            RandomFeatureDAM(X, beta, num_features=8, key=key)
        with pytest.raises(ValueError, match="beta"):
            ExpDAM(X, beta)
    model = RandomFeatureDAM(X, 1.0, num_features=8, key=key)
    with pytest.raises(ValueError, match="N = 6"):
        model.energy(jnp.zeros(5))
    with pytest.raises(ValueError, match="N = 6|D = 6"):
        retrieve(model, jnp.zeros((2, 7)), rule=GradientDescent())
    with pytest.raises(ValueError, match="N = 6"):
        ExpDAM(X, 1.0).energy(jnp.zeros(7))
    with pytest.raises(ValueError, match="memories.*D = 6"):
        model.add(jnp.zeros(5))
    with pytest.raises(ValueError, match="memories.*D = 6"):
        model.remove(jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="patterns"):
        RandomFeatureDAM(X[0], 1.0, num_features=8, key=key)
    with pytest.raises(ValueError, match="patterns"):
        ExpDAM(jnp.zeros((0, 3)), 1.0)
    with pytest.raises(ValueError, match="finite"):
        ExpDAM(X.at[0, 0].set(jnp.nan), 1.0)
    with pytest.raises(TypeError, match="features"):
        RandomFeatureDAM(X, 1.0, num_features=8, key=key, features="sincos")
    with pytest.raises(ValueError, match="key"):
        RandomFeatureDAM(X, 1.0, num_features=8, key=None)
    with pytest.raises(ValueError, match="step_size"):
        GradientDescent(0.0)
    with pytest.raises(ValueError, match="clamp"):
        retrieve(model, X, rule=GradientDescent(clamp=jnp.ones(4, bool)))
    with pytest.raises(TypeError, match="binary"):
        retrieve(BinaryDAM(jnp.ones((2, 6)), Polynomial(2)), jnp.ones(6), rule=GradientDescent())


def test_projections_kept_by_budget_and_overridable(getkey):
    X = binary(getkey(), 10, 20)
    kw = dict(num_features=500, key=getkey(), chunk_size=128)
    auto = RandomFeatureDAM(X, 5.0, **kw)  # 512 x 21 x 4 bytes: far below the default budget
    assert auto.stores_projections
    tiny = RandomFeatureDAM(X, 5.0, projection_budget=1000, **kw)
    assert not tiny.stores_projections
    assert RandomFeatureDAM(X, 5.0, projection_budget=1000, store_projections=True, **kw).S
    assert not RandomFeatureDAM(X, 5.0, store_projections=False, **kw).stores_projections
    assert tiny.with_projections().stores_projections
    assert not auto.without_projections().stores_projections
    # same model either way: T, energies and gradients agree
    assert np.allclose(auto.T, tiny.T, atol=1e-6)
    q = binary(getkey(), 6, 20)
    for a, b in zip(energy_grad(auto, q), energy_grad(tiny, q)):
        assert np.allclose(a, b, atol=1e-5)
    with pytest.raises(TypeError, match="store_projections"):
        RandomFeatureDAM(X, 5.0, store_projections="yes", **kw)
    with pytest.raises(ValueError, match="projection_budget"):
        RandomFeatureDAM(X, 5.0, projection_budget=0, **kw)


@pytest.mark.parametrize("fmap", [SinCos(), Cos(), Orthogonal()], ids=["sincos", "cos", "orth"])
@pytest.mark.parametrize("store", [True, False], ids=["stored", "regenerated"])
def test_one_pass_gradient_matches_float64(getkey, fmap, store):
    # jax.grad goes through the one-pass rule; compare with float64 features from S
    D, Y, beta = 12, 300, 4.0
    X = jax.random.normal(getkey(), (8, D)) * 0.3
    model = RandomFeatureDAM(
        X,
        beta,
        num_features=Y,
        key=getkey(),
        features=fmap,
        chunk_size=64,
        store_projections=store,
    )
    S, b = (np.asarray(v, np.float64) for v in model.projections())
    T = sum(np_features(S, b, xi, beta, fmap) for xi in np.asarray(X))
    for x in np.asarray(X[:3]) + 0.05:
        z = float(np_features(S, b, x, beta, fmap) @ T)
        eps = 1e-6
        fd = np.array(
            [
                (
                    np_features(S, b, x + eps * e, beta, fmap) @ T
                    - np_features(S, b, x - eps * e, beta, fmap) @ T
                )
                / (2 * eps)
                for e in np.eye(D)
            ]
        )
        ref = -fd / (beta * z)
        e, g = jax.value_and_grad(model.energy)(jnp.asarray(x, jnp.float32))
        assert np.isclose(float(e), -np.log(z) / beta, rtol=1e-4, atol=1e-5)
        assert np.allclose(g, ref, rtol=1e-3, atol=1e-4), (np.asarray(g), ref)


def test_gradient_in_T_and_beta_still_exact(getkey):
    # tangents in T or beta take the reference (rematerialised) path: compare with float64
    D, Y = 6, 200
    X = jax.random.normal(getkey(), (5, D)) * 0.3
    model = RandomFeatureDAM(X, 3.0, num_features=Y, key=getkey(), chunk_size=64)
    x = X[0] + 0.1
    S, b = (np.asarray(v, np.float64) for v in model.projections())
    phi = np_features(S, b, x, 3.0, SinCos()).reshape(2, Y).T  # (Y, 2) like T
    z = float(np.sum(phi * np.asarray(model.T, np.float64)))
    gT = eqx.filter_grad(lambda m: m.energy(x))(model).T
    assert np.allclose(gT, -phi / (3.0 * z), rtol=1e-3, atol=1e-6)
    # second derivatives through the one-pass rule are finite and symmetric
    H = jax.hessian(model.energy)(x)
    assert np.all(np.isfinite(H)) and np.allclose(H, H.T, atol=1e-4)
    assert np.isfinite(
        float(jax.grad(lambda bb: eqx.tree_at(lambda m: m.beta, model, bb).energy(x))(model.beta))
    )


def test_T_bytes_constant_in_K(getkey):
    # DrDAM's memory: T has 2 Y numbers whatever the number of stored patterns
    D, Y = 30, 1000
    model = RandomFeatureDAM.empty(D, 30.0, num_features=Y, key=getkey())
    Xm = binary(getkey(), 1000, D)
    done, sizes = 0, []
    for K in (1, 10, 100, 1000):
        model = model.add(Xm[done:K])
        done = K
        sizes.append((int(model.T.nbytes), model.num_parameters))
    assert sizes == [(2 * Y * 4, 2 * Y)] * 4
