"""One loop for every rule: fixed-step (differentiable) mode, status codes, jit / vmap safety."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import damjax as dj
from damjax.dynamics import RESULTS


def _binary(getkey, n=3, K=12, N=40):
    X = dj.patterns.random_binary(getkey(), K, N)
    cues = dj.patterns.flip(getkey(), X[:6], 0.25)
    return dj.BinaryDAM(X, dj.Polynomial(n)), cues


def _fields(r):
    names = ("states", "steps", "converged", "energies", "status")
    return [np.asarray(getattr(r, f)) for f in names]


@pytest.mark.parametrize(
    "rule", [dj.Sync(), dj.OneStep(), dj.Async(), dj.Async(order="random")], ids=repr
)
def test_fixed_steps_gives_the_same_result_binary(getkey, rule):
    model, cues = _binary(getkey)
    kw = dict(rule=rule, max_steps=7, record_energy=True, key=getkey())
    a, b = dj.retrieve(model, cues, **kw), dj.retrieve(model, cues, fixed_steps=True, **kw)
    for x, y in zip(_fields(a), _fields(b)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "rule", [dj.Sync(tol=1e-6), dj.Euler(0.2), dj.GradientDescent(0.05)], ids=repr
)
def test_fixed_steps_gives_the_same_result_continuous(getkey, rule):
    model = dj.ModernHopfield(jax.random.normal(getkey(), (8, 12)), beta=1.5)
    cues = jax.random.normal(getkey(), (3, 12))
    kw = dict(rule=rule, max_steps=200, record_energy=True)
    a, b = dj.retrieve(model, cues, **kw), dj.retrieve(model, cues, fixed_steps=True, **kw)
    for x, y in zip(_fields(a), _fields(b)):
        np.testing.assert_array_equal(x, y)


def _np_sync(X, beta, xi, steps):
    X, xi = np.asarray(X, np.float64), np.asarray(xi, np.float64)
    for _ in range(steps):
        z = beta * X @ xi
        p = np.exp(z - z.max())
        xi = (p / p.sum()) @ X
    return xi


def test_grad_through_sync_matches_float64_finite_differences(getkey):
    X = jax.random.normal(getkey(), (6, 5))
    beta, steps = 0.7, 4
    model = dj.ModernHopfield(X, beta=beta)
    cue = jax.random.normal(getkey(), (5,))
    w = np.linspace(-1.0, 1.0, 5)

    def loss(c):
        r = dj.retrieve(model, c, rule=dj.Sync(), max_steps=steps, fixed_steps=True)
        return jnp.dot(r.states, jnp.asarray(w, jnp.float32)), r.steps

    (_, taken), g = jax.value_and_grad(loss, has_aux=True)(cue)
    assert int(taken) == steps  # not converged: every step is differentiated
    c64, eps = np.asarray(cue, np.float64), 1e-6
    ref = np.array(
        [
            (
                w @ _np_sync(X, beta, c64 + eps * e, steps)
                - w @ _np_sync(X, beta, c64 - eps * e, steps)
            )
            / (2 * eps)
            for e in np.eye(5)
        ]
    )
    np.testing.assert_allclose(np.asarray(g), ref, rtol=2e-3, atol=2e-4)
    # the default (while-loop) mode refuses reverse mode, so the option is needed
    with pytest.raises(ValueError, match="Reverse-mode"):
        jax.grad(lambda c: dj.retrieve(model, c, rule=dj.Sync(), max_steps=steps).states.sum())(cue)


def test_grad_through_euler_and_model_parameters(getkey):
    X = jax.random.normal(getkey(), (6, 5))
    cue = jax.random.normal(getkey(), (2, 5))

    def loss(X):
        m = dj.ModernHopfield(X, beta=1.0)
        r = dj.retrieve(m, cue, rule=dj.Euler(0.3), max_steps=5, fixed_steps=True)
        return jnp.sum(r.states**2)

    g = jax.grad(loss)(X)
    eps, d = 1e-2, jax.random.normal(getkey(), X.shape)
    fd = (loss(X + eps * d) - loss(X - eps * d)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.vdot(g, d)), float(fd), rtol=2e-2, atol=1e-3)


def test_status_codes(getkey):
    # converged and max_steps_reached: a Hebbian network's Sync 2-cycle never converges
    X = dj.patterns.random_binary(getkey(), 3, 30)
    hop = dj.HopfieldNetwork(X)
    cue = jnp.where(jnp.arange(30) % 2 == 0, 1.0, -1.0)
    r = dj.retrieve(hop, jnp.stack([X[0], cue, -cue]), max_steps=3)
    expect = np.where(np.asarray(r.converged), RESULTS.converged, RESULTS.max_steps_reached)
    np.testing.assert_array_equal(np.asarray(r.status), expect)
    assert bool(r.converged[0]) and r.status[0] == RESULTS.converged
    # nonfinite: a NaN cue passes the boundary only when traced (concrete NaN is refused)
    model = dj.ModernHopfield(jax.random.normal(getkey(), (4, 6)))
    bad = jnp.full((2, 6), jnp.nan).at[1].set(1.0)
    with pytest.raises(ValueError, match="NaN"):
        dj.retrieve(model, bad)
    for rule in (dj.Sync(tol=1e-6), dj.Euler(0.1), dj.GradientDescent(0.1)):
        r = jax.jit(lambda c: dj.retrieve(model, c, rule=rule, max_steps=50))(bad)
        assert int(r.status[0]) == RESULTS.nonfinite_state and not bool(r.converged[0])
        ok = bool(r.converged[1])
        assert int(r.status[1]) == (RESULTS.converged if ok else RESULTS.max_steps_reached)
    assert RESULTS.name(r.status)[0] == "nonfinite_state"
    assert RESULTS.name(0) == "converged"


def test_a_rule_without_status_gets_one(getkey):
    class Halve(dj.AbstractRule):
        def run(self, model, state, *, key, max_steps, record_energy):
            s = state / 2
            return dj.Retrieval(states=s, steps=jnp.int32(1), converged=jnp.all(s == state))

    model = dj.ModernHopfield(jax.random.normal(getkey(), (4, 6)))
    c = jnp.zeros((2, 6)).at[1].set(1.0)
    r = dj.retrieve(model, c, rule=Halve())
    assert r.status.tolist() == [RESULTS.converged, RESULTS.max_steps_reached]
    with pytest.raises(ValueError, match="fixed_steps"):
        dj.retrieve(model, c, rule=Halve(), fixed_steps=True)


@pytest.mark.parametrize("rule", [dj.Sync(), dj.Async(order="random")], ids=repr)
def test_retrieve_inside_jit_and_vmap_over_models_is_the_same(getkey, rule):
    Xs = jnp.stack([dj.patterns.random_binary(getkey(), 10, 32) for _ in range(3)])
    cues = jnp.stack([dj.patterns.flip(getkey(), X, 0.2) for X in Xs])
    key = getkey()

    def one(X, c):
        return dj.retrieve(dj.BinaryDAM(X, dj.Polynomial(3)), c, rule=rule, key=key, max_steps=9)

    batched = jax.jit(jax.vmap(one))(Xs, cues)
    models = eqx.filter_vmap(lambda X: dj.BinaryDAM(X, dj.Polynomial(3)))(Xs)
    over_models = eqx.filter_vmap(lambda m, c: dj.retrieve(m, c, rule=rule, key=key, max_steps=9))(
        models, cues
    )
    for i in range(3):
        direct = one(Xs[i], cues[i])
        for f in ("states", "steps", "converged", "status"):
            np.testing.assert_array_equal(getattr(batched, f)[i], getattr(direct, f))
            np.testing.assert_array_equal(getattr(over_models, f)[i], getattr(direct, f))
    # lax.map over single cues (as the demircigil2017 reproduction does)
    m0 = dj.BinaryDAM(Xs[0], dj.Polynomial(3))
    mapped = jax.lax.map(
        lambda c: dj.retrieve(m0, c, rule=dj.Sync(), max_steps=9).states, cues[0], batch_size=4
    )
    np.testing.assert_array_equal(mapped, dj.retrieve(m0, cues[0], max_steps=9).states)


def test_rule_registry():
    assert set(dj.dynamics.rule_names()) >= {"sync", "async", "async-random", "onestep"}
    assert dj.dynamics.rule_from_name("async-random") == dj.Async(order="random")
    with pytest.raises(ValueError, match="must be one of"):
        dj.dynamics.rule_from_name("nope")


def test_ode_fixed_steps_integrates_the_horizon_and_is_differentiable(getkey):
    model = dj.ModernHopfield(jax.random.normal(getkey(), (6, 8)), beta=1.0)
    cue = jax.random.normal(getkey(), (8,))
    rule = dj.ODE(t1=3.0)
    early = dj.retrieve(model, cue, rule=rule, max_steps=500)
    full = dj.retrieve(model, cue, rule=rule, max_steps=500, fixed_steps=True)
    assert int(full.steps) >= int(early.steps)
    assert int(full.status) in (RESULTS.converged, RESULTS.not_converged)
    # jax.grad through diffrax's adjoint against central differences of the same solve
    w = jnp.linspace(-1.0, 1.0, 8)

    def loss(c):
        return jnp.dot(dj.retrieve(model, c, rule=rule, max_steps=500, fixed_steps=True).states, w)

    g = jax.grad(loss)(cue)
    d = jax.random.normal(getkey(), (8,))
    eps = 1e-2
    fd = (loss(cue + eps * d) - loss(cue - eps * d)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.vdot(g, d)), float(fd), rtol=2e-2, atol=1e-3)
