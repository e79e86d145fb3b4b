"""The Hebbian Hopfield network against float64 NumPy references."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import damjax as dj


def _hebb64(x):
    x = np.asarray(x, np.float64)
    w = x.T @ x / x.shape[1]
    np.fill_diagonal(w, 0.0)
    return w


def _energy64(w, s):
    s = np.asarray(s, np.float64)
    return -0.5 * s @ w @ s


def _async_ref(w, s, max_sweeps=100):
    """Sequential neuron-order sweeps, ties keep (float64 reference)."""
    s = np.asarray(s, np.float64).copy()
    for sweep in range(max_sweeps):
        flipped = False
        for i in range(s.size):
            h = w[i] @ s
            new = 1.0 if h > 0 else (-1.0 if h < 0 else s[i])
            flipped |= new != s[i]
            s[i] = new
        if not flipped:
            return s, sweep + 1, True
    return s, max_sweeps, False


def test_weights_energy_field_against_reference(getkey):
    x = dj.patterns.random_binary(getkey(), 7, 30)
    model = dj.HopfieldNetwork(x)
    w = _hebb64(x)
    assert np.allclose(np.asarray(model.weights), w, atol=1e-6)
    assert np.all(np.diag(np.asarray(model.weights)) == 0)
    s = dj.patterns.random_binary(getkey(), 5, 30)
    for st in np.asarray(s):
        assert np.isclose(float(model.energy(jnp.asarray(st))), _energy64(w, st), rtol=1e-5)
        # exact field: brute-force energy differences E(s_i=-1) - E(s_i=+1)
        ref = []
        for i in range(30):
            up, down = st.copy(), st.copy()
            up[i], down[i] = 1.0, -1.0
            ref.append(_energy64(w, down) - _energy64(w, up))
        assert np.allclose(np.asarray(model.field(jnp.asarray(st))), ref, atol=1e-4)
    # batched local field
    assert np.allclose(np.asarray(model.local_field(s)), np.asarray(s, np.float64) @ w, atol=1e-5)


def test_async_matches_reference_and_energy_decreases(getkey):
    x = dj.patterns.random_binary(getkey(), 12, 40)
    model = dj.HopfieldNetwork(x)
    w = _hebb64(x)
    cues = dj.patterns.random_binary(getkey(), 16, 40)
    out = dj.retrieve(model, cues, rule=dj.Async(), max_steps=50, record_energy=True)
    for c, s, steps, conv in zip(np.asarray(cues), out.states, out.steps, out.converged):
        ref, ref_steps, ref_conv = _async_ref(w, c, 50)
        assert np.array_equal(np.asarray(s), ref)
        assert int(steps) == ref_steps and bool(conv) == ref_conv
    e = np.asarray(out.energies)
    for row in e:
        row = row[~np.isnan(row)]
        assert np.all(np.diff(row) <= 1e-5)
    # converged states are fixed points of the synchronous update too
    assert np.all(np.asarray(dj.states.is_stable(model, out.states)))


def test_async_random_order_and_sync(getkey):
    x = dj.patterns.random_binary(getkey(), 3, 100)
    model = dj.HopfieldNetwork(x)
    # far below capacity: stored patterns are fixed points, retrieved from 10% noise
    assert np.all(np.asarray(dj.states.is_stable(model, x)))
    cues = dj.patterns.flip(getkey(), x, 0.1)
    for rule in (dj.Sync(), dj.Async(order="random")):
        out = dj.retrieve(model, cues, rule=rule, key=getkey())
        assert np.array_equal(np.asarray(out.states), np.asarray(x))
    # synchronous step = sign of W s, ties keep
    s = dj.patterns.random_binary(getkey(), 1, 100)[0]
    h = _hebb64(x) @ np.asarray(s, np.float64)
    ref = np.where(h > 0, 1.0, np.where(h < 0, -1.0, np.asarray(s)))
    assert np.array_equal(np.asarray(model.update(s)), ref)


def test_ties_keep_value():
    # two neurons coupled by 0: every field is zero, so every state is a fixed point
    model = dj.HopfieldNetwork(weights=np.zeros((2, 2), np.float32))
    for s in itertools.product([-1.0, 1.0], repeat=2):
        s = jnp.asarray(s)
        assert np.array_equal(np.asarray(model.update(s)), np.asarray(s))
        out = dj.retrieve(model, s, rule=dj.Async())
        assert np.array_equal(np.asarray(out.states), np.asarray(s))
    # Hebbian ties: neuron 2 is coupled to nothing (W_02 = W_12 = 0), its field is always 0
    x = np.array([[1, 1, 1], [1, 1, -1]], np.float32)
    model = dj.HopfieldNetwork(x)
    for s in itertools.product([-1.0, 1.0], repeat=3):
        s = jnp.asarray(s)
        h = _hebb64(x) @ np.asarray(s, np.float64)
        assert h[2] == 0
        ref = np.where(h > 0, 1.0, np.where(h < 0, -1.0, np.asarray(s)))
        assert np.array_equal(np.asarray(model.update(s)), ref)
        out = dj.retrieve(model, s, rule=dj.Async())
        assert np.asarray(out.states)[2] == float(s[2])


def test_weights_constructor_and_errors(getkey):
    x = dj.patterns.random_binary(getkey(), 4, 10)
    w = _hebb64(x).astype(np.float32)
    model = dj.HopfieldNetwork(weights=w)
    ref = dj.HopfieldNetwork(x)
    s = dj.patterns.random_binary(getkey(), 3, 10)
    assert np.allclose(np.asarray(model.local_field(s)), np.asarray(ref.local_field(s)), atol=1e-6)
    with pytest.raises(ValueError, match="exactly one"):
        dj.HopfieldNetwork()
    with pytest.raises(ValueError, match="exactly one"):
        dj.HopfieldNetwork(x, weights=w)
    with pytest.raises(ValueError, match="square"):
        dj.HopfieldNetwork(weights=np.zeros((2, 3)))
    asym = w.copy()
    asym[0, 1] += 1.0
    with pytest.raises(ValueError, match="symmetric"):
        dj.HopfieldNetwork(weights=asym)
    with pytest.raises(ValueError, match="zero diagonal"):
        dj.HopfieldNetwork(weights=np.eye(3))
    with pytest.raises(ValueError, match=r"\+1 and -1"):
        dj.HopfieldNetwork(np.array([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="last dimension"):
        dj.retrieve(ref, jnp.ones((2, 11)))


def test_jit_and_vmap_over_models(getkey):
    xs = jax.vmap(lambda k: dj.patterns.random_binary(k, 3, 20))(jax.random.split(getkey(), 4))
    cues = dj.patterns.random_binary(getkey(), 5, 20)

    @jax.jit
    def run(x):
        return dj.retrieve(dj.HopfieldNetwork(x), cues, rule=dj.Async()).states

    batched = jax.vmap(run)(xs)
    for b in range(4):
        loop = dj.retrieve(dj.HopfieldNetwork(xs[b]), cues, rule=dj.Async()).states
        assert np.array_equal(np.asarray(batched[b]), np.asarray(loop))
