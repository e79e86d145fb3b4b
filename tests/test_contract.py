"""The model x rule contract: every compatible pair (tests/helpers/models.py) runs batched,
vmapped over models, under jit, and (where the rule is differentiable) under jax.grad."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers.models import BINARY, MODELS, RULES, compatible_pairs, cues, differentiable

import damjax as dj
from damjax.dynamics import RESULTS

PAIRS = compatible_pairs()
STEPS = 8


def test_every_model_and_rule_is_in_some_pair():
    assert {m for m, _ in PAIRS} == set(MODELS)
    assert {r for _, r in PAIRS} == set(RULES)
    # the rules' own checks refuse the others, with a clear TypeError
    m = MODELS["modern"](jax.random.key(0))
    with pytest.raises(TypeError, match="binary model"):
        dj.retrieve(m, cues("modern", jax.random.key(1), 2), rule=dj.Async())


def _check(a, b, binary):
    if binary:
        np.testing.assert_array_equal(a.states, b.states)
        np.testing.assert_array_equal(a.steps, b.steps)
        np.testing.assert_array_equal(a.status, b.status)
    else:
        np.testing.assert_allclose(a.states, b.states, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model_name,rule_name", PAIRS)
def test_contract(model_name, rule_name):
    rule, binary = RULES[rule_name], model_name in BINARY
    keys = jax.random.split(jax.random.key(7), 2)
    models = eqx.filter_vmap(MODELS[model_name])(keys)  # a batch of two models
    cs = jnp.stack([cues(model_name, jax.random.fold_in(k, 3), 3) for k in keys])
    kw = dict(rule=rule, max_steps=STEPS, key=jax.random.key(11))

    direct = []
    for i, k in enumerate(keys):
        r = dj.retrieve(MODELS[model_name](k), cs[i], record_energy=True, **kw)
        assert r.states.shape == cs[i].shape and r.steps.shape == (3,)
        assert r.energies.shape[0] == 3
        assert np.all(np.asarray(r.steps) <= STEPS) and np.all(np.asarray(r.steps) >= 1)
        status = np.asarray(r.status)
        assert set(status.tolist()) <= {0, 1, 2, 3}
        np.testing.assert_array_equal(np.asarray(r.converged), status == RESULTS.converged)
        assert not np.any(status == RESULTS.nonfinite_state)
        direct.append(r)

    over_models = eqx.filter_vmap(lambda m, c: dj.retrieve(m, c, **kw))(models, cs)
    jitted = eqx.filter_jit(lambda m, c: dj.retrieve(m, c, **kw))(MODELS[model_name](keys[0]), cs[0])
    _check(jitted, direct[0], binary)
    for i in range(2):
        _check(jax.tree.map(lambda x: x[i], over_models), direct[i], binary)

    if differentiable(model_name, rule_name):
        model = MODELS[model_name](keys[0])
        w = jnp.linspace(-1.0, 1.0, cs.shape[-1])

        def loss(c):
            r = dj.retrieve(model, c, rule=rule, max_steps=STEPS, fixed_steps=True)
            return jnp.sum(r.states * w)

        c0 = cs[0, 0]
        g = jax.grad(loss)(c0)
        assert np.all(np.isfinite(np.asarray(g)))
        d = jax.random.normal(jax.random.key(5), c0.shape)
        eps = 1e-2
        fd = (loss(c0 + eps * d) - loss(c0 - eps * d)) / (2 * eps)
        np.testing.assert_allclose(float(jnp.vdot(g, d)), float(fd), rtol=5e-2, atol=2e-3)
