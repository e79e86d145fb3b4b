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
    cs = jnp.stack(
        [cues(model_name, jax.random.fold_in(k, 3), 3, MODELS[model_name](k)) for k in keys]
    )
    kw = dict(rule=rule, max_steps=STEPS, key=jax.random.key(11))

    direct = []
    for i, k in enumerate(keys):
        r = dj.retrieve(MODELS[model_name](k), cs[i], record_energy=True, **kw)
        assert r.states.shape == cs[i].shape and r.steps.shape == (3,)
        assert r.energies.shape[0] == 3
        low = 0 if rule_name == "ode" else 1  # ODE: 0 accepted steps when the cue is steady
        assert np.all(np.asarray(r.steps) <= STEPS) and np.all(np.asarray(r.steps) >= low)
        status = np.asarray(r.status)
        assert set(status.tolist()) <= {0, 1, 2, 3}
        np.testing.assert_array_equal(np.asarray(r.converged), status == RESULTS.converged)
        assert not np.any(status == RESULTS.nonfinite_state)
        direct.append(r)

    over_models = eqx.filter_vmap(lambda m, c: dj.retrieve(m, c, **kw))(models, cs)
    first = MODELS[model_name](keys[0])
    jitted = eqx.filter_jit(lambda m, c: dj.retrieve(m, c, **kw))(first, cs[0])
    _check(jitted, direct[0], binary)
    for i in range(2):
        _check(jax.tree.map(lambda x: x[i], over_models), direct[i], binary)

    # ODE's fixed_steps differs (the whole horizon; STEPS is its solver budget here): its
    # gradient is checked in test_retrieve_loop.py with a budget that reaches t1
    if differentiable(model_name, rule_name) and rule_name != "ode":
        model = MODELS[model_name](keys[0])
        w = jnp.linspace(-1.0, 1.0, cs.shape[-1])

        def loss(c):
            r = dj.retrieve(model, c, rule=rule, max_steps=STEPS, fixed_steps=True)
            return jnp.sum(r.states * w), r.converged

        c0 = cs[0, 0]
        (_, froze), g = jax.value_and_grad(loss, has_aux=True)(c0)
        assert np.all(np.isfinite(np.asarray(g)))
        if not bool(froze):
            # every step is a smooth map: jax.grad agrees with central differences (a run that
            # converged is held fixed from then on, and the step it stops at is not smooth)
            d = jax.random.normal(jax.random.key(5), c0.shape)
            eps = 1e-2
            fd = (loss(c0 + eps * d)[0] - loss(c0 - eps * d)[0]) / (2 * eps)
            np.testing.assert_allclose(float(jnp.vdot(g, d)), float(fd), rtol=5e-2, atol=2e-3)
