"""Kernelized Hopfield models, feature maps and U-Hop+ (Hu, Wu & Liu 2024)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import tree_allclose

import damjax
from damjax.learning import feature_separation_loss, separation_loss, train_feature_map, uhop_plus
from damjax.spherical import feature_separation, min_separation

NORMALIZERS = ["softmax", "entmax15", "sparsemax", damjax.Entmax(1.3)]


def _patterns(key, m=8, d=6):
    return jax.random.normal(key, (m, d))


def test_identity_softmax_is_modern_hopfield(getkey):
    x = np.asarray(_patterns(getkey()), np.float64)
    q = np.asarray(jax.random.normal(getkey(), (6,)), np.float64)
    beta = 0.7
    model = damjax.KernelizedHopfield(x, damjax.IdentityMap(6), beta, "softmax")
    a = beta * x @ q
    p = np.exp(a - a.max()) / np.exp(a - a.max()).sum()
    np.testing.assert_allclose(
        np.asarray(model.update(jnp.asarray(q))), p @ x, rtol=1e-5, atol=1e-6
    )
    lse = a.max() + np.log(np.exp(a - a.max()).sum())
    np.testing.assert_allclose(
        float(model.energy(jnp.asarray(q))), 0.5 * q @ q - lse / beta, rtol=1e-5
    )


def test_matches_modern_hopfield_model(getkey):
    x = _patterns(getkey())
    q = jax.random.normal(getkey(), (6,))
    khm = damjax.KernelizedHopfield(x, None, 1.3)
    mhn = damjax.ModernHopfield(x, 1.3)
    assert tree_allclose(khm.update(q), mhn.update(q), atol=1e-5)
    # energies differ by Ramsauer's constants log(K)/beta + max|x|^2/2
    const = np.log(8) / 1.3 + 0.5 * float(jnp.max(jnp.sum(x**2, axis=1)))
    np.testing.assert_allclose(float(mhn.energy(q) - khm.energy(q)), const, rtol=1e-4)
    # the gradient flow runs with the continuous-time rules
    out = damjax.retrieve(khm, x + 0.05, rule=damjax.Euler(dt=0.5), max_steps=40)
    assert bool(jnp.all(jnp.isfinite(out.states)))


@pytest.mark.parametrize("normalizer", NORMALIZERS)
def test_linear_map_update_matches_definition(normalizer, getkey):
    x = _patterns(getkey())
    w = jax.random.normal(getkey(), (10, 6))
    q = jax.random.normal(getkey(), (6,))
    model = damjax.KernelizedHopfield(x, damjax.LinearMap(w), 2.0, normalizer)
    norm = damjax.normalizers.get_normalizer(normalizer)
    p = norm(2.0 * (x @ w.T) @ (w @ q))
    assert tree_allclose(model.probabilities(q), p, atol=1e-5)
    assert tree_allclose(model.update(q), p @ x, atol=1e-5)


@pytest.mark.parametrize("normalizer", NORMALIZERS)
def test_energy_gradient_and_descent_identity(normalizer, getkey):
    """With Phi = id, grad E = x - update(x) (Danskin), and the update (CCCP) never raises E."""
    x = _patterns(getkey())
    model = damjax.KernelizedHopfield(x, None, 3.0, normalizer)
    q = jax.random.normal(getkey(), (6,))
    assert tree_allclose(jax.grad(model.energy)(q), q - model.update(q), atol=1e-5)
    cues = x + 0.5 * jax.random.normal(getkey(), x.shape)
    out = damjax.retrieve(model, cues, rule=damjax.Sync(tol=1e-6), max_steps=30, record_energy=True)
    e = np.asarray(out.energies)
    diffs = np.diff(e, axis=1)
    assert np.all(diffs[np.isfinite(diffs)] <= 1e-5)


def test_retrieve_batch_equals_loop_and_converges(getkey):
    x = _patterns(getkey(), m=5, d=16)
    model = damjax.KernelizedHopfield(x, damjax.LinearMap.identity(16), 8.0, "sparsemax")
    cues = x + 0.1 * jax.random.normal(getkey(), x.shape)
    out = damjax.retrieve(model, cues, rule=damjax.Sync(tol=1e-6), max_steps=20)
    assert bool(out.converged.all())
    np.testing.assert_allclose(np.asarray(out.states), np.asarray(x), atol=1e-5)
    one = damjax.retrieve(model, cues[2], rule=damjax.Sync(tol=1e-6), max_steps=20)
    assert tree_allclose(one.states, out.states[2])


def test_feature_maps(getkey):
    mlp = damjax.MLPMap(4, 7, width=16, depth=2, key=getkey())
    assert mlp(jnp.ones(4)).shape == (7,) and (mlp.in_dim, mlp.out_dim) == (4, 7)
    lin = damjax.LinearMap.random(getkey(), 4, 9)
    assert lin.weight.shape == (9, 4) and (lin.in_dim, lin.out_dim) == (4, 9)
    nm = damjax.NormalizedMap(lin)
    np.testing.assert_allclose(float(jnp.linalg.norm(nm(jnp.arange(4.0)))), 1.0, rtol=1e-6)
    assert damjax.IdentityMap(3)(jnp.ones(3)).shape == (3,)
    model = damjax.KernelizedHopfield(jnp.ones((3, 4)), mlp, 1.0, "entmax15")
    assert model.memory_features().shape == (3, 7) and model.dim == 4


def test_bad_input(getkey):
    x = _patterns(getkey())
    with pytest.raises(ValueError, match="rank"):
        damjax.KernelizedHopfield(x, lambda v: jnp.outer(v, v), 1.0)
    with pytest.raises(ValueError, match="rank"):
        damjax.KernelizedHopfield(x, lambda v: jnp.sum(v), 1.0)
    with pytest.raises(ValueError, match="width"):
        damjax.KernelizedHopfield(x, damjax.LinearMap.identity(5), 1.0)
    with pytest.raises(ValueError, match="beta"):
        damjax.KernelizedHopfield(x, None, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        damjax.KernelizedHopfield(x, None, 1.0, 0.5)
    with pytest.raises(ValueError, match="patterns"):
        damjax.KernelizedHopfield(jnp.ones(4), None, 1.0)
    with pytest.raises(ValueError, match="weight"):
        damjax.LinearMap(jnp.ones(3))
    with pytest.raises(ValueError, match="cues"):
        damjax.retrieve(damjax.KernelizedHopfield(x, None, 1.0), jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="tau"):
        separation_loss(x, tau=0.0)
    with pytest.raises(ValueError, match="tau"):
        train_feature_map(damjax.LinearMap.identity(6), x, tau=-1.0, steps=2)
    with pytest.raises(ValueError, match="M >= 2"):
        separation_loss(x[:1])
    with pytest.raises(ValueError, match="M >= 2"):
        train_feature_map(damjax.LinearMap.identity(6), x[:1], steps=2)
    with pytest.raises(ValueError, match="key"):
        train_feature_map(damjax.LinearMap.identity(6), x, steps=2, batch_size=4)
    with pytest.raises(ValueError, match="rank"):
        train_feature_map(lambda v: jnp.outer(v, v), x, steps=2)


def test_separation_loss_matches_float64_reference(getkey):
    f = np.asarray(jax.random.normal(getkey(), (7, 5)), np.float64)
    tau = 0.1
    u = f / np.linalg.norm(f, axis=1, keepdims=True)
    g = u @ u.T
    iu = np.triu_indices(7, 1)
    ref = np.log(2.0 / (7 * 6) * np.sum(np.exp(g[iu] / tau))) / 7
    np.testing.assert_allclose(float(separation_loss(jnp.asarray(f), tau)), ref, rtol=1e-5)
    # tiny temperatures: no overflow
    assert np.isfinite(float(separation_loss(jnp.asarray(f), 1e-4)))


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_training_lowers_loss_and_raises_separation(kind):
    key = jax.random.key(42)
    x = jax.random.normal(key, (12, 4))
    fm0 = (
        damjax.LinearMap.identity(4)
        if kind == "linear"
        else damjax.MLPMap(4, 8, width=16, key=jax.random.key(1))
    )
    fm, losses = train_feature_map(fm0, x, steps=150, tau=0.1, optimizer=optax.adam(1e-2))
    assert losses.shape == (150,)
    assert float(feature_separation_loss(fm, x)) < float(losses[0])
    assert float(feature_separation(fm, x)) > float(feature_separation(fm0, x))


def test_training_vmaps_over_seeds_and_schedules():
    x = jax.random.normal(jax.random.key(0), (9, 5))
    keys = jax.random.split(jax.random.key(1), 3)
    maps = eqx.filter_vmap(lambda k: damjax.LinearMap.random(k, 5, 7))(keys)
    opt = optax.sgd(optax.exponential_decay(0.5, 10, 0.5))

    def train(fm):
        return train_feature_map(fm, x, steps=40, optimizer=opt)

    trained, losses = eqx.filter_vmap(train)(maps)
    assert losses.shape == (3, 40)
    for i in range(3):
        fm_i, l_i = train(damjax.LinearMap(maps.weight[i]))
        assert tree_allclose(l_i, losses[i], atol=1e-5)
        assert tree_allclose(fm_i.weight, trained.weight[i], atol=1e-5)
    # minibatches of memories (random subsets, explicit key)
    fm, _ = train_feature_map(
        damjax.LinearMap.identity(5), x, steps=60, batch_size=5, key=jax.random.key(3)
    )
    assert float(min_separation(jax.vmap(fm)(x))) > float(min_separation(x))


def test_uhop_plus_stage_two(getkey):
    x = jax.random.normal(jax.random.key(5), (10, 5))
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    model, losses = uhop_plus(
        x, damjax.LinearMap.identity(5), beta=20.0, normalizer="entmax15", steps=100
    )
    assert isinstance(model, damjax.KernelizedHopfield)
    assert float(losses[-1]) < float(losses[0])
    out = damjax.retrieve(model, x, rule=damjax.Sync(tol=1e-6), max_steps=10)
    assert bool(jnp.all(jnp.isfinite(out.states)))


def test_metastable_probabilities_iterate_the_retrieval(getkey):
    # the hu2024-metastable helper: n_iter updates x <- Xi^T Sep(beta K(Xi, x)), then p(x)
    from experiments._hu2024 import metastable_probabilities, support_sizes

    mems = jax.random.normal(getkey(), (10, 5))
    q = jax.random.normal(getkey(), (7, 5))
    w = jax.random.normal(getkey(), (5, 5))
    for weight, normalizer in ((None, "softmax"), (w, "entmax15")):
        fm = damjax.IdentityMap(5) if weight is None else damjax.LinearMap(weight)
        model = damjax.KernelizedHopfield(mems, fm, 1.0, normalizer)
        x = q
        for _ in range(3):
            x = jax.vmap(model.update)(x)
        p, res = metastable_probabilities(mems, q, weight, 1.0, normalizer=normalizer, n_iter=3)
        assert np.allclose(p, jax.vmap(model.probabilities)(x), atol=1e-6)
        assert np.allclose(res, jnp.max(jnp.abs(jax.vmap(model.update)(x) - x), -1), atol=1e-6)
    # entmax supports are exact zeros; softmax supports are counted above eps
    assert support_sizes(jnp.array([[0.5, 0.5, 0.0]]), 0.0).tolist() == [2]
    assert support_sizes(jnp.array([[0.985, 0.009, 0.006]]), 0.01).tolist() == [1]
