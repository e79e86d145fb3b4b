"""Dynamics rules through the single entry point ``damjax.retrieve``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import damjax as dj

RULES = [dj.Sync(), dj.Async(), dj.Async(order="random"), dj.OneStep()]


@settings(max_examples=15, deadline=None)
@given(
    F=st.sampled_from(
        [
            dj.Polynomial(2),
            dj.Polynomial(3),
            dj.Polynomial(5),
            dj.RectifiedPolynomial(4),
            dj.Exponential(0.3),
        ]
    ),
    N=st.integers(8, 40),
    K=st.integers(1, 60),
    seed=st.integers(0, 2**16),
    order=st.sampled_from(["fixed", "random"]),
)
def test_async_energy_never_increases(F, N, K, seed, order):
    key = jax.random.key(seed)
    k1, k2, k3 = jax.random.split(key, 3)
    model = dj.BinaryDAM(dj.patterns.random_binary(k1, K, N), F)
    cues = dj.patterns.random_binary(k2, 6, N)
    out = dj.retrieve(
        model, cues, rule=dj.Async(order=order), max_steps=30, record_energy=True, key=k3
    )
    E = np.asarray(out.energies, np.float64)
    for row, steps in zip(E, np.asarray(out.steps)):
        row = row[: steps + 1]
        assert np.all(np.isfinite(row))
        tol = 1e-5 * np.max(np.abs(row)) + 1e-6
        assert np.all(np.diff(row) <= tol)
    # every converged async state is a fixed point of the synchronous update too
    conv = np.asarray(out.converged)
    fixed = np.asarray(dj.capacity.is_fixed_point(model, out.states))
    assert np.all(fixed[conv])


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_retrieval_from_corrupted_cues(rule, getkey):
    X = dj.patterns.random_binary(getkey(), 20, 100)
    model = dj.BinaryDAM(X, dj.Polynomial(3))
    cues = dj.patterns.flip(getkey(), X, 0.1)
    out = dj.retrieve(model, cues, rule=rule, key=getkey(), record_energy=True)
    assert out.states.shape == cues.shape and out.steps.shape == (20,)
    assert out.energies.shape == (20, (1 if isinstance(rule, dj.OneStep) else 100) + 1)
    assert float(jnp.mean(jnp.all(out.states == X, axis=-1))) == 1.0
    if not isinstance(rule, dj.OneStep):
        assert bool(jnp.all(out.converged))
    # the energy trace starts at the cue's energy
    np.testing.assert_allclose(out.energies[:, 0], jax.vmap(model.energy)(cues), rtol=1e-5)


def test_single_cue_and_max_steps(getkey):
    X = dj.patterns.random_binary(getkey(), 20, 50)
    model = dj.BinaryDAM(X, dj.Polynomial(2))
    s = dj.patterns.random_binary(getkey(), 1, 50)[0]
    out = dj.retrieve(model, s, rule=dj.Sync(), max_steps=1)
    assert out.states.shape == (50,) and out.steps.shape == ()
    assert int(out.steps) == 1
    with pytest.raises(ValueError, match="max_steps"):
        dj.retrieve(model, s, max_steps=0)
    with pytest.raises(ValueError, match="key"):
        dj.retrieve(model, s, rule=dj.Async(order="random"))
    with pytest.raises(ValueError, match="order"):
        dj.Async(order="backwards")
    with pytest.raises(TypeError, match="rule"):
        dj.retrieve(model, s, rule="sync")


def test_sync_equals_reference_loop(getkey):
    """Sync dynamics == a NumPy loop of sign(brute-force field) updates."""
    X = dj.patterns.random_binary(getkey(), 30, 24)
    F = dj.Polynomial(3)
    model = dj.BinaryDAM(X, F)
    s0 = dj.patterns.random_binary(getkey(), 1, 24)[0]
    Xd = np.asarray(X, np.float64)
    s = np.asarray(s0, np.float64)
    for _ in range(20):
        m = Xd @ s
        h = np.array(
            [
                np.sum((m + (1 - s[i]) * Xd[:, i]) ** 3) - np.sum((m - (1 + s[i]) * Xd[:, i]) ** 3)
                for i in range(len(s))
            ]
        )
        new = np.where(h > 0, 1.0, np.where(h < 0, -1.0, s))
        if np.array_equal(new, s):
            break
        s = new
    out = dj.retrieve(model, s0, rule=dj.Sync(), max_steps=20)
    np.testing.assert_array_equal(out.states, s)


@pytest.mark.parametrize("F", [dj.Polynomial(3), dj.Polynomial(40), dj.Exponential(0.5)], ids=repr)
def test_async_equals_reference_loop(F, getkey):
    """Async sweeps == a float64 loop flipping one neuron at a time by its brute-force field.

    Covers both ways the async step keeps its overflow scale: constant for small degree
    (Polynomial(3)), tracked and refreshed for large degree and exponential F. Cues whose
    reference meets a near-tie (|h| within 1e-4 of the largest term) are left out: there the
    float32 tie tolerance may legitimately decide differently.
    """
    K, N = 40, 64
    X = dj.patterns.random_binary(getkey(), K, N)
    cues = dj.patterns.random_binary(getkey(), 12, N)
    model = dj.BinaryDAM(X, F)
    Xd = np.asarray(X, np.float64)
    n = getattr(F, "n", None)

    def sum_F(m, shift):  # sum_mu F(m_mu) exp(-shift), finite in float64
        if n is None:
            return np.sum(np.exp(float(F.beta) * m - shift))
        return np.sum((m / np.exp(shift / n)) ** n)

    out = dj.retrieve(model, cues, rule=dj.Async(), max_steps=50)
    checked = 0
    for cue, got in zip(np.asarray(cues, np.float64), np.asarray(out.states)):
        s, ambiguous = cue.copy(), False
        for _ in range(50):
            changed = False
            for i in range(N):
                m = Xd @ s
                mp = m + (1 - s[i]) * Xd[:, i]  # overlaps with s_i = +1
                mm = m - (1 + s[i]) * Xd[:, i]  # overlaps with s_i = -1
                big = np.concatenate([mp, mm])
                shift = float(F.beta) * big.max() if n is None else n * np.log(np.abs(big).max())
                fp, fm = sum_F(mp, shift), sum_F(mm, shift)
                h = fp - fm
                if abs(h) <= 1e-4 * max(fp, fm):
                    ambiguous = True
                new = s[i] if h == 0 else np.sign(h)
                changed |= new != s[i]
                s[i] = new
            if not changed:
                break
        if not ambiguous:
            checked += 1
            np.testing.assert_array_equal(got, s)
    assert checked >= 6


@pytest.mark.parametrize("F", [dj.Polynomial(3), dj.Exponential(0.5)], ids=repr)
def test_async_integer_overlaps_stay_exact(F, getkey, monkeypatch):
    """With many patterns the async kernel keeps its overlaps as integers (int16 below 2^15
    neurons, int32 above): after a sweep they equal the patterns times the state, the energy it
    reports is the model's, and the states equal those of float overlaps."""
    from damjax.models.binary import _BinaryDAMKernel

    big = _BinaryDAMKernel.INTEGER_FROM_K
    assert _BinaryDAMKernel.overlap_dtype(2**15 - 1, big) == jnp.int16
    assert _BinaryDAMKernel.overlap_dtype(2**15, big) == jnp.int32
    assert _BinaryDAMKernel.overlap_dtype(50, big - 1) == jnp.float32
    monkeypatch.setattr(_BinaryDAMKernel, "INTEGER_FROM_K", 16)  # integers at this small size
    X = dj.patterns.random_binary(getkey(), 30, 50)
    model = dj.BinaryDAM(X, F)
    kernel = model.async_kernel()
    assert kernel.columns.dtype == jnp.int8
    s = dj.patterns.random_binary(getkey(), 1, 50)[0]
    aux = kernel.init(s)
    assert aux[0].dtype == jnp.int16
    out = s
    for i in range(50):
        new, aux = kernel.step(s[i], aux, jnp.asarray(i))
        out = out.at[i].set(new)
    assert not np.array_equal(out, s)  # something flipped
    np.testing.assert_array_equal(np.asarray(aux[0]), np.asarray(X @ out).astype(np.int64))
    np.testing.assert_allclose(kernel.energy(aux, out), model.energy(out), rtol=1e-6)
    cues = dj.patterns.random_binary(getkey(), 8, 50)
    as_int = dj.retrieve(model, cues, rule=dj.Async(), max_steps=20)
    monkeypatch.setattr(_BinaryDAMKernel, "INTEGER_FROM_K", 10**9)
    assert model.async_kernel().init(s)[0].dtype == jnp.float32
    jax.clear_caches()  # the class attribute is not part of any jit cache key
    as_float = dj.retrieve(model, cues, rule=dj.Async(), max_steps=20)
    np.testing.assert_array_equal(as_int.states, as_float.states)
    np.testing.assert_array_equal(as_int.steps, as_float.steps)


def test_vmap_over_networks_equals_loop(getkey):
    keys = jax.random.split(getkey(), 4)
    Xs = jax.vmap(lambda k: dj.patterns.random_binary(k, 15, 40))(keys)
    cues = dj.patterns.flip(getkey(), Xs[:, :5], 0.2)

    def run(X, c):
        return dj.retrieve(dj.BinaryDAM(X, dj.Polynomial(3)), c, rule=dj.Async()).states

    batched = jax.vmap(run)(Xs, cues)
    for i in range(4):
        np.testing.assert_array_equal(batched[i], run(Xs[i], cues[i]))
    # eqx.filter_vmap over model objects
    models = eqx.filter_vmap(lambda X: dj.BinaryDAM(X, dj.Polynomial(3)))(Xs)
    out = eqx.filter_vmap(lambda m, c: dj.retrieve(m, c).states)(models, cues)
    for i in range(4):
        np.testing.assert_array_equal(
            out[i], dj.retrieve(dj.BinaryDAM(Xs[i], dj.Polynomial(3)), cues[i]).states
        )


def test_no_retracing_on_second_call(getkey):
    from damjax.dynamics._base import _retrieve_batched

    X = dj.patterns.random_binary(getkey(), 10, 32)
    model = dj.BinaryDAM(X, dj.Polynomial(4))
    cues = dj.patterns.random_binary(getkey(), 8, 32)
    dj.retrieve(model, cues, rule=dj.Async())
    traced = _retrieve_batched._cached._cache_size()
    model2 = dj.BinaryDAM(dj.patterns.random_binary(getkey(), 10, 32), dj.Polynomial(4))
    dj.retrieve(model2, dj.patterns.random_binary(getkey(), 8, 32), rule=dj.Async())
    assert _retrieve_batched._cached._cache_size() == traced


@pytest.mark.parametrize("order", ["fixed", "random"])
@pytest.mark.parametrize("slots", [1, 5, 64])
def test_settle_async_equals_batched_retrieve(order, slots, getkey):
    from damjax.dynamics.async_ import settle_async

    X = dj.patterns.random_binary(getkey(), 300, 40)
    cues = dj.patterns.random_binary(getkey(), 23, 40)
    rule, key = dj.Async(order=order), getkey()
    full = dj.retrieve(dj.BinaryDAM(X, dj.Polynomial(2)), cues, rule=rule, key=key, max_steps=50)
    cut = int(np.median(np.asarray(full.steps)))  # some cues settle within it, some do not
    for F, max_steps in ((dj.Polynomial(3), 50), (dj.Polynomial(2), cut)):
        model = dj.BinaryDAM(X, F)
        ref = dj.retrieve(model, cues, rule=rule, key=key, max_steps=max_steps)
        got = jax.jit(
            lambda m, c, k: settle_async(m, c, rule=rule, key=k, max_steps=max_steps, slots=slots)
        )(model, cues, key)
        assert np.array_equal(got.states, ref.states)
        assert np.array_equal(got.steps, ref.steps)
        assert np.array_equal(got.converged, ref.converged)
    assert not bool(jnp.all(ref.converged)) and bool(jnp.any(ref.converged))
    # vmapped over two pattern sets, as the capacity search runs it over seeds
    models = eqx.filter_vmap(lambda x: dj.BinaryDAM(x, dj.Polynomial(3)))(jnp.stack([X, -X[::-1]]))
    both = eqx.filter_vmap(
        lambda m: settle_async(m, cues, rule=rule, key=key, max_steps=50, slots=slots)
    )(models)
    for j, x in enumerate((X, -X[::-1])):
        ref = dj.retrieve(dj.BinaryDAM(x, dj.Polynomial(3)), cues, rule=rule, key=key, max_steps=50)
        assert np.array_equal(both.states[j], ref.states)
        assert np.array_equal(both.steps[j], ref.steps)


def test_settle_async_bad_input(getkey):
    from damjax.dynamics.async_ import settle_async

    model = dj.BinaryDAM(dj.patterns.random_binary(getkey(), 10, 8), dj.Polynomial(3))
    cues = dj.patterns.random_binary(getkey(), 4, 8)
    with pytest.raises(ValueError, match="`slots` must be an integer >= 1"):
        settle_async(model, cues, rule=dj.Async(), key=getkey(), max_steps=5, slots=0)
    with pytest.raises(ValueError, match="`max_steps` must be an integer >= 1"):
        settle_async(model, cues, rule=dj.Async(), key=getkey(), max_steps=0, slots=2)
    with pytest.raises(ValueError, match=r"`cues` must have shape \(B, N\)"):
        settle_async(model, cues[0], rule=dj.Async(), key=getkey(), max_steps=5, slots=2)
    with pytest.raises(TypeError, match="`rule` must be an Async rule"):
        settle_async(model, cues, rule=dj.Sync(), key=getkey(), max_steps=5, slots=2)


def test_euler_step_that_rounds_away_is_not_a_steady_state(getkey):
    """A dt so small that y + dt F(y) == y in float32 leaves the state frozen, not at a steady
    state: the run reaches max_steps unconverged. With a usable dt the same cues converge."""
    X = jax.random.normal(getkey(), (5, 8))
    model = dj.ModernHopfield(X, beta=2.0)
    cues = X + 0.5 * jax.random.normal(getkey(), (5, 8))
    frozen = dj.retrieve(model, cues, rule=dj.Euler(dt=1e-9), max_steps=20)
    np.testing.assert_array_equal(frozen.states, cues)  # nothing moved
    assert not bool(jnp.any(frozen.converged))
    assert np.all(np.asarray(frozen.status) == int(dj.RESULTS.max_steps_reached))
    moving = dj.retrieve(model, cues, rule=dj.Euler(dt=0.1), max_steps=500)
    assert bool(jnp.all(moving.converged))
