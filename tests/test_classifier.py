import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import damjax
from damjax import datasets
from damjax.learning import (
    DAMClassifier,
    KrotovHopfieldRecipe,
    accuracy,
    classifier_loss,
    clip_weights,
    contribution_spread,
    init_classifier,
    krotov_hopfield_optimizer,
    memory_grid,
    normalize_per_memory,
    single_class_share,
    train_classifier,
)


def _ref_outputs(memories, images, C, n, T):
    """The paper's forward pass in float64 NumPy (tile + one-hot, as in the authors' code)."""
    X = np.asarray(memories, np.float64)
    x = np.asarray(images, np.float64)
    B = x.shape[0]
    out = np.zeros((B, C))
    for a in range(C):
        vm = np.concatenate([x, -np.ones((B, C))], 1)
        vp = vm.copy()
        vp[:, x.shape[1] + a] = 1.0
        fp = np.maximum(vp @ X.T, 0) ** n
        fm = np.maximum(vm @ X.T, 0) ** n
        out[:, a] = np.tanh(np.sum(fp - fm, 1) / T**n)
    return out


def _problem(key, K=7, P=6, C=3, B=5, dtype=jnp.float32):
    k1, k2, k3 = jax.random.split(key, 3)
    mem = jax.random.uniform(k1, (K, P + C), dtype, -1, 1)
    x = jax.random.uniform(k2, (B, P), dtype, -1, 1)
    y = jax.random.randint(k3, (B,), 0, C)
    return mem, x, y


@pytest.mark.parametrize("n", [2, 3, 5])
def test_outputs_match_reference(getkey, n):
    mem, x, y = _problem(getkey())
    model = DAMClassifier(mem, 3, damjax.RectifiedPolynomial(n))
    T = 2.0
    np.testing.assert_allclose(
        np.asarray(model.outputs(x, T)), _ref_outputs(mem, x, 3, n, T), rtol=2e-5, atol=2e-6
    )


def test_large_n_no_overflow(getkey):
    # n = 30, overlaps ~ 100 and T = 1: F itself is 1e60 (inf in float32).
    mem, x, y = _problem(getkey(), K=20, P=200, C=4, B=16)
    model = DAMClassifier(mem, 4, damjax.RectifiedPolynomial(30))
    out = model.outputs(x, 1.0)
    assert bool(jnp.all(jnp.isfinite(out)))
    with jax.enable_x64(True):
        ref = _ref_outputs(mem, x, 4, 30, 1.0)  # float64 reference (1e60 fits)
    np.testing.assert_allclose(np.asarray(out), ref, atol=1e-6)
    # predictions agree with the float64 sums (argmax of the unsaturated votes)
    X = np.asarray(mem, np.float64)
    xx = np.asarray(x, np.float64)
    votes = []
    for a in range(4):
        vm = np.concatenate([xx, -np.ones((16, 4))], 1)
        vp = vm.copy()
        vp[:, 200 + a] = 1
        votes.append(np.sum(np.maximum(vp @ X.T, 0) ** 30 - np.maximum(vm @ X.T, 0) ** 30, 1))
    np.testing.assert_array_equal(np.asarray(model.predict(x)), np.argmax(np.stack(votes, 1), 1))
    g = jax.grad(
        lambda m: classifier_loss(
            DAMClassifier(m, 4, model.interaction), x, jnp.zeros(16, int), temperature=1.0, m=2
        )
    )(mem)
    assert bool(jnp.all(jnp.isfinite(g)))
    # tiny overlaps relative to T (vote ~ 1e-60) also stay finite
    assert bool(jnp.all(jnp.isfinite(model.logits(x, 1e4))))


def test_energy_never_nan(getkey):
    # odd n with overlaps of both signs around 100: +-1e60 terms used to give inf - inf = NaN
    mem, x, _ = _problem(getkey(), K=20, P=200, C=4, B=4)
    v = jnp.concatenate([x[0], -jnp.ones(4)])
    Xd, vd = np.asarray(mem, np.float64), np.asarray(v, np.float64)
    for F, n in [(damjax.Polynomial(31), 31), (damjax.Polynomial(3), 3)]:
        model = DAMClassifier(mem, 4, F)
        e = float(model.energy(v))
        ref = -np.sum((Xd @ vd) ** n)
        if abs(ref) < 1e38:
            np.testing.assert_allclose(e, ref, rtol=1e-4)
        else:
            assert e == (np.inf if ref > 0 else -np.inf)
        s, log_scale = model.scaled_energy(v)
        np.testing.assert_allclose(float(s) * np.exp(float(log_scale)), ref, rtol=1e-4)
    # rectified with every overlap negative: the energy is exactly 0 even where exp(L) overflows
    model = DAMClassifier(-jnp.abs(mem), 4, damjax.RectifiedPolynomial(30))
    v = jnp.ones(204)
    assert float(model.scaled_energy(v)[1]) > 89.0 and float(model.energy(v)) == 0.0


@pytest.mark.parametrize("n,m", [(2, 1), (3, 2), (6, 3)])
def test_gradient_matches_finite_differences(getkey, n, m):
    with jax.enable_x64(True):
        mem, x, y = _problem(getkey(), dtype=jnp.float64)
        F = damjax.RectifiedPolynomial(n)
        T = 3.0

        @jax.jit
        def loss(flat):
            return classifier_loss(
                DAMClassifier(flat.reshape(mem.shape), 3, F), x, y, temperature=T, m=m
            )

        flat = mem.ravel()
        g = np.asarray(jax.grad(loss)(flat))
        h = 1e-6
        fd = np.array(
            [
                (float(loss(flat.at[i].add(h))) - float(loss(flat.at[i].add(-h)))) / (2 * h)
                for i in range(flat.size)
            ]
        )
        # central differences carry a rounding error ~ eps * |loss| / h ~ 1e-7
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)
        assert np.abs(g).max() > 0


def test_update_is_energy_descent(getkey):
    mem, _, _ = _problem(getkey(), K=5, P=4, C=2)
    model = DAMClassifier(mem, 2, damjax.RectifiedPolynomial(3))
    v = jnp.sign(jax.random.normal(getkey(), (6,)))
    new = np.asarray(model.update(v))
    for i in range(6):
        vp, vm = v.at[i].set(1.0), v.at[i].set(-1.0)
        ep, em = float(model.energy(vp)), float(model.energy(vm))
        if ep < em:
            assert new[i] == 1.0
        elif em < ep:
            assert new[i] == -1.0
    res = damjax.retrieve(model, v, max_steps=20)
    assert res.states.shape == (6,)


def test_optax_pieces(getkey):
    u = jax.random.normal(getkey(), (4, 6))
    out, _ = normalize_per_memory().update(u, optax.EmptyState())
    np.testing.assert_allclose(np.max(np.abs(np.asarray(out)), 1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(out * jnp.max(jnp.abs(u), 1, keepdims=True)), np.asarray(u), rtol=1e-6
    )
    p = jnp.full((4, 6), 0.9)
    tx = clip_weights()
    upd, _ = tx.update(u, tx.init(p), p)
    newp = optax.apply_updates(p, upd)
    assert float(jnp.max(jnp.abs(newp))) <= 1.0 + 1e-6
    with pytest.raises(ValueError, match="params"):
        tx.update(u, tx.init(p))


def test_optimizer_matches_paper_update(getkey):
    """The optax chain reproduces the authors' NumPy update (momentum on raw gradients,
    normalisation by the largest component per memory, lr * decay**epoch, clipping)."""
    K, D, spe = 3, 5, 2
    p0 = np.asarray(jax.random.uniform(getkey(), (K, D), minval=-0.5, maxval=0.5))
    grads = [np.asarray(jax.random.normal(getkey(), (K, D))) for _ in range(5)]
    eps0, f, mom = 0.3, 0.9, 0.6
    tx = krotov_hopfield_optimizer(eps0, steps_per_epoch=spe, decay=f, momentum=mom)
    params, state = jnp.asarray(p0), tx.init(jnp.asarray(p0))
    ref, V = p0.copy(), np.zeros((K, D))
    for step, g in enumerate(grads):
        upd, state = tx.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, upd)
        V = mom * V - g  # the paper accumulates the ascent direction
        eps = eps0 * f ** (step // spe)
        ref = np.clip(ref + eps * V / np.abs(V).max(1, keepdims=True), -1, 1)
        np.testing.assert_allclose(np.asarray(params), ref, atol=1e-6)


def test_bad_input(getkey):
    mem, x, y = _problem(getkey())
    model = DAMClassifier(mem, 3)
    with pytest.raises(ValueError, match="images"):
        classifier_loss(model, x[:, :5], y, temperature=1.0, m=2)
    with pytest.raises(ValueError, match="labels"):
        classifier_loss(model, x, y.at[0].set(3), temperature=1.0, m=2)
    with pytest.raises(ValueError, match="labels"):
        accuracy(model, x, y.at[1].set(-1))
    with pytest.raises(TypeError, match="labels"):
        accuracy(model, x)
    with pytest.raises(ValueError, match="`m`"):
        classifier_loss(model, x, y, temperature=1.0, m=0)
    with pytest.raises(TypeError, match="`m`"):
        classifier_loss(model, x, y, temperature=1.0, m=1.5)
    with pytest.raises(ValueError, match="memories"):
        DAMClassifier(jnp.zeros((4, 3)), 3)
    with pytest.raises(TypeError, match="interaction"):
        DAMClassifier(mem, 3, damjax.Exponential(1.0))
    with pytest.raises(ValueError, match="m"):
        KrotovHopfieldRecipe(m=0)
    d = datasets.Dataset(np.zeros((4, 5)), np.array([0, 1, 2, 0]), 3, (1, 5))
    with pytest.raises(ValueError, match="pixels"):
        train_classifier(
            model,
            d,
            key=getkey(),
            epochs=1,
            optimizer=optax.sgd(0.1),
            temperature=1.0,
            m=2,
            batch_size=2,
        )


def test_training_reaches_accuracy_on_digits(getkey):
    """A stated floor on a small fixed problem: digits 0-4, K = 30, n = 3, 25 epochs."""
    d = datasets.load_digits()
    keep = np.asarray(d.labels) < 5
    d = datasets.Dataset(d.images[keep], d.labels[keep], 5, (8, 8))
    tr, te = datasets.train_test_split(d, key=jax.random.key(0))
    recipe = KrotovHopfieldRecipe(n=3, n_memories=30, m=4, epochs=25, ramp_epochs=15, batch_size=50)
    model, hist = recipe.fit(tr, key=jax.random.key(1), test=te)
    assert hist.test_accuracy.shape == (25,)
    assert accuracy(model, te) >= 0.93
    assert float(jnp.max(jnp.abs(model.memories))) <= 1.0 + 1e-6
    assert hist.loss[-1] < hist.loss[0]
    spread = contribution_spread(model, te.images)
    assert 1.0 <= spread["participation"] <= 30.0
    assert 0.0 <= single_class_share(model) <= 1.0


def test_epoch_compiles_once(getkey):
    d = datasets.load_digits().take(np.arange(200))
    model = init_classifier(getkey(), n_memories=10, n_pixels=64, n_classes=10, n=3)
    tx = krotov_hopfield_optimizer(steps_per_epoch=4)
    from damjax.learning import make_epoch

    ep = make_epoch(tx, m=2, batch_size=50)
    st = tx.init(model.memories)
    for T in (5.0, 6.0, 7.0):
        model, st, _ = ep(model, st, d.images, d.labels, getkey(), jnp.float32(T))
    assert ep._cached._cache_size() == 1


def test_memory_grid(getkey):
    model = init_classifier(getkey(), n_memories=5, n_pixels=6, n_classes=2)
    grid = memory_grid(model, (2, 3), ncols=3)
    assert grid.shape == (2 * 3 - 1, 3 * 4 - 1)
    np.testing.assert_allclose(grid[:2, :3], np.asarray(model.memories[0, :6]).reshape(2, 3))
    assert np.isnan(grid[2, 0])
    with pytest.raises(ValueError, match="image_shape"):
        memory_grid(model, (3, 3))


def test_eqx_model_is_pytree(getkey):
    model = init_classifier(getkey(), n_memories=4, n_pixels=3, n_classes=2)
    leaves = jax.tree.leaves(eqx.filter(model, eqx.is_array))
    assert len(leaves) == 1 and leaves[0].shape == (4, 5)


def test_xor_example_parity():
    # the paper's XOR example: the n = 2 energy cannot compute XOR (the votes cancel), n = 3 can;
    # for the power x^n the votes cancel for every even n
    import damjax as dj
    from experiments._krotov2016 import xor_solved

    for n in (2, 4, 6):
        r = xor_solved(dj.Polynomial(n))
        assert not r["solved"] and all(abs(v) <= r["tol"] for v in r["votes"])
    for n in (3, 5):
        assert xor_solved(dj.Polynomial(n))["solved"]
