# ruff: noqa: E741  (I is the paper's name for the input current)
"""Lagrangians, LagrangianNetwork (Krotov & Hopfield 2021) and the continuous-time rules."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tree_allclose
from hypothesis import given, settings
from hypothesis import strategies as st

import damjax as dj
from damjax import lagrangians as L

# --- Lagrangians ----------------------------------------------------------------------------------

X8 = jnp.array([-2.0, -0.7, -0.1, 0.3, 0.9, 1.5, 2.2, 4.0])


def _layernorm(x, gamma=1.3, delta=0.2, eps=1e-5):
    xc = x - x.mean()
    return gamma * xc / np.sqrt((xc**2).mean() + eps) + delta


CLOSED_FORMS = [
    (L.Quadratic(), lambda x: x),
    (L.Identity(), lambda x: x),
    (L.AbsoluteValue(), np.sign),
    (L.RectifiedPower(3), lambda x: 3 * np.maximum(x, 0) ** 2),
    (L.SumOf(dj.RectifiedPolynomial(4)), lambda x: 4 * np.maximum(x, 0) ** 3),
    (L.SumOf(dj.Exponential(0.5)), lambda x: 0.5 * np.exp(0.5 * x)),
    (
        L.LogSumExp(2.0),
        lambda x: np.exp(2 * x - (2 * x).max()) / np.exp(2 * x - (2 * x).max()).sum(),
    ),
    (L.Softmax(1.0), lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum()),
    (L.SphericalNorm(), lambda x: x / np.linalg.norm(x)),
    (L.LayerNorm(1.3, 0.2), _layernorm),
    (L.Tanh(1.7), lambda x: np.tanh(1.7 * x)),
    (L.Sigmoid(0.8), lambda x: 1 / (1 + np.exp(-0.8 * x))),
    (L.Function(lambda x: jnp.sum(jnp.cosh(x))), np.sinh),
]


@pytest.mark.parametrize("lag, act", CLOSED_FORMS, ids=lambda v: type(v).__name__)
def test_activation_is_grad_and_matches_closed_form(lag, act):
    x = np.asarray(X8, np.float64)
    g = np.asarray(lag.activation(X8))
    assert np.allclose(g, act(x), rtol=1e-5, atol=1e-5)
    assert tree_allclose(lag.activation(X8), jax.grad(lag)(X8))
    # central finite differences of the Lagrangian itself (float64 on the host)
    h = 1e-3
    fd = [(float(lag(X8.at[i].add(h))) - float(lag(X8.at[i].add(-h)))) / (2 * h) for i in range(8)]
    if not isinstance(lag, L.AbsoluteValue):
        assert np.allclose(fd, act(x), rtol=5e-3, atol=5e-3)
    value, g2 = lag.value_and_activation(X8)
    assert value.shape == () and tree_allclose(g2, lag.activation(X8))


def test_lagrangians_are_overflow_free():
    big = jnp.array([-1e4, 0.0, 1e4])
    for lag in (L.LogSumExp(50.0), L.Tanh(10.0), L.Sigmoid(10.0)):
        assert np.isfinite(float(lag(big)))
        assert bool(jnp.all(jnp.isfinite(lag.activation(big))))


def test_lagrangian_bad_input():
    with pytest.raises(ValueError, match="beta"):
        L.LogSumExp(0.0)
    with pytest.raises(ValueError, match="beta"):
        L.Tanh(float("nan"))
    with pytest.raises(ValueError, match="n"):
        L.RectifiedPower(0)
    with pytest.raises(TypeError, match="F"):
        L.SumOf(lambda x: x)
    xi = jnp.ones((3, 4))
    with pytest.raises(ValueError, match="L_h.*scalar"):
        dj.LagrangianNetwork(xi, L.Quadratic(), lambda h: h**2)
    with pytest.raises(ValueError, match="L_v.*scalar"):
        dj.LagrangianNetwork(xi, L.Function(lambda v: jnp.stack([v.sum(), v.sum()])), L.Quadratic())
    with pytest.raises(TypeError, match="L_v"):
        dj.LagrangianNetwork(xi, "quadratic", L.Quadratic())
    # a plain callable returning a scalar is accepted
    net = dj.LagrangianNetwork(xi, lambda v: 0.5 * jnp.sum(v**2), L.LogSumExp())
    assert net.energy(jnp.ones(4)).shape == ()


def test_network_bad_input():
    xi = jnp.ones((3, 4))
    with pytest.raises(ValueError, match="xi"):
        dj.LagrangianNetwork(jnp.ones(4), L.Quadratic(), L.Quadratic())
    with pytest.raises(ValueError, match="xi"):
        dj.LagrangianNetwork(xi.at[0, 0].set(jnp.inf), L.Quadratic(), L.Quadratic())
    with pytest.raises(ValueError, match="`I`"):
        dj.LagrangianNetwork(xi, L.Quadratic(), L.Quadratic(), I=jnp.ones(3))
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="tau_f"):
            dj.LagrangianNetwork.model_b(xi, tau_f=bad)
        with pytest.raises(ValueError, match="tau_h"):
            dj.LagrangianNetwork.model_b(xi, tau_h=bad)
    with pytest.raises(ValueError, match="beta"):
        dj.LagrangianNetwork.model_b(xi, beta=-1.0)
    net = dj.LagrangianNetwork.model_b(xi)
    with pytest.raises(ValueError, match="cues"):
        dj.retrieve(net, jnp.ones((2, 3)), rule=dj.Euler(0.1))
    with pytest.raises(ValueError, match="NaN"):
        dj.retrieve(net, jnp.full((4,), jnp.nan), rule=dj.Euler(0.1))
    with pytest.raises(ValueError, match="init"):
        dj.trajectory(net, rule=dj.Euler(0.1), t1=1.0, init=(jnp.ones((2, 4)), jnp.ones((2, 5))))


# --- the network ---------------------------------------------------------------------------------


def np_energy(xi, Lv, Lh, I, v, h):
    """Eq. 3 in float64 with closed-form activations (Model B: g = v, f = softmax(h))."""
    xi, v, h, I = (np.asarray(a, np.float64) for a in (xi, v, h, I))
    g, lv = v, 0.5 * v @ v
    lh = h.max() + np.log(np.exp(h - h.max()).sum())
    f = np.exp(h - lh)
    return (v - I) @ g - lv + h @ f - lh - f @ xi @ g


def test_energy_matches_equation_3(getkey):
    xi = jax.random.normal(getkey(), (7, 5))
    I = jax.random.normal(getkey(), (5,))
    net = dj.LagrangianNetwork.model_b(xi, I=I)
    v = jax.random.normal(getkey(), (5,))
    h = jax.random.normal(getkey(), (7,))
    assert math.isclose(
        float(net.energy_vh(v, h)), np_energy(xi, None, None, I, v, h), rel_tol=1e-5
    )
    # the reduced energy is the joint energy at the hidden steady state
    assert math.isclose(float(net.energy(v)), float(net.energy_vh(v, net.hidden(v))), rel_tol=1e-5)


def test_model_b_is_the_softmax_update(getkey):
    xi = jax.random.normal(getkey(), (30, 16))
    v = jax.random.normal(getkey(), (8, 16))
    for beta in (1.0, 3.0):
        net = dj.LagrangianNetwork.model_b(xi, beta, tau_f=2.0, tau_h=None)
        hop = dj.ModernHopfield(xi, beta)
        assert tree_allclose(jax.vmap(net.update)(v), hop.update(v), rtol=1e-5, atol=1e-6)
        # explicit Euler with dt = tau_f of the tau_h -> 0 dynamics, several steps
        tr = dj.trajectory(net, v, rule=dj.Euler(2.0), t1=10.0)
        s = v
        for t in range(1, 6):
            s = hop.update(s)
            assert tree_allclose(tr.states[:, t], s, rtol=1e-5, atol=1e-6)
        out = dj.retrieve(net, v, rule=dj.Euler(2.0), max_steps=200)
        ref = dj.retrieve(hop, v, rule=dj.Sync(tol=1e-5), max_steps=200)
        assert tree_allclose(out.states, ref.states, atol=1e-4)


def _models(key, n_f=12, n_h=6, tau_h=0.5):
    X = jnp.sign(jax.random.normal(key, (n_h, n_f)))
    I = 0.1 * jax.random.normal(jax.random.fold_in(key, 1), (n_f,))
    s = 1 / np.sqrt(n_f)
    return {
        "A": dj.LagrangianNetwork.model_a(X, dj.RectifiedPolynomial(3), I=I, tau_h=tau_h),
        "B": dj.LagrangianNetwork.model_b(3 * s * X, I=I, tau_h=tau_h),
        "C": dj.LagrangianNetwork.model_c(s * X, dj.RectifiedPolynomial(3), I=I, tau_h=tau_h),
        "classical": dj.LagrangianNetwork.classical(2 * s * X, I=I, tau_h=tau_h),
        "layernorm": dj.LagrangianNetwork(
            X * s, L.LayerNorm(1.0, 0.0), L.Sigmoid(2.0), tau_h=tau_h
        ),
    }


MODEL_NAMES = ["A", "B", "C", "classical", "layernorm"]


@pytest.mark.parametrize("name", MODEL_NAMES)
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**30))
def test_energy_derivative_along_field_is_nonpositive(name, seed):
    """dE/dt = grad E . F(y) <= 0 at random states (exact, by jax.jvp)."""
    key = jax.random.key(seed)
    net = _models(key)[name]
    v = jax.random.normal(jax.random.fold_in(key, 2), (12,))
    h = 3 * jax.random.normal(jax.random.fold_in(key, 3), (6,))
    y = (v, h)
    e, de = jax.jvp(net.ode_energy, (y,), (net.ode_field(y),))
    assert float(de) <= 1e-5 * (abs(float(e)) + 1)
    red = dataclass_adiabatic(net)
    e, de = jax.jvp(red.ode_energy, (v,), (red.ode_field(v),))
    assert float(de) <= 1e-5 * (abs(float(e)) + 1)


def dataclass_adiabatic(net):
    return dj.LagrangianNetwork(net.xi, net.L_v, net.L_h, I=net.I, tau_f=net.tau_f, tau_h=None)


def _max_rel_increase(e):
    e = np.asarray(e, np.float64)
    scale = np.maximum(1.0, np.nanmax(np.abs(e), axis=-1, keepdims=True))
    return np.nanmax(np.diff(e, axis=-1) / scale)


@pytest.mark.parametrize("name", ["A", "B", "C", "classical"])
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**30))
def test_energy_monotone_along_diffrax_and_euler(name, seed):
    key = jax.random.key(seed)
    net = _models(key)[name]
    cues = jnp.sign(jax.random.normal(jax.random.fold_in(key, 5), (3, 12)))
    for rule in (dj.ODE(t1=10.0, rtol=1e-6, atol=1e-7, saves=41), dj.Euler(0.05)):
        tr = dj.trajectory(net, cues, rule=rule, t1=10.0)
        assert bool(jnp.all(tr.ok))
        assert _max_rel_increase(tr.energies) <= 1e-5
        assert tr.ys[0].shape[:2] == tr.energies.shape


def test_retrieve_with_continuous_rules_and_hidden_state(getkey):
    X = jnp.sign(jax.random.normal(getkey(), (5, 40)))
    net = dj.LagrangianNetwork.model_a(X, dj.RectifiedPolynomial(3), tau_h=0.2)
    cues = dj.patterns.flip(getkey(), X, 0.1)
    for rule in (dj.ODE(t1=40.0), dj.Euler(0.05)):
        out = dj.retrieve(net, cues, rule=rule, max_steps=5000, record_energy=True)
        assert out.states.shape == cues.shape
        assert bool(jnp.all(out.converged))
        assert bool(jnp.all(jnp.sign(out.states) == X))
        assert _max_rel_increase(out.energies) <= 1e-5
    # explicit (v0, h0) initial states give the same end point as starting h at xi g(v0)
    v0 = cues
    h0 = jax.vmap(net.hidden)(v0)
    a = dj.trajectory(net, v0, rule=dj.Euler(0.05), t1=2.0)
    b = dj.trajectory(net, rule=dj.Euler(0.05), t1=2.0, init=(v0, h0))
    assert tree_allclose(a.states, b.states)


def test_model_a_limit_matches_binary_dam(getkey):
    X = dj.patterns.random_binary(getkey(), 6, 60)
    cues = dj.patterns.flip(getkey(), jnp.tile(X, (2, 1)), 0.2)
    F = dj.RectifiedPolynomial(3)
    dam = dj.retrieve(dj.BinaryDAM(X, F), cues, rule=dj.Async(), max_steps=50).states
    net = dj.LagrangianNetwork.model_a(X, F, tau_h=None)
    out = dj.retrieve(net, cues, rule=dj.Euler(0.05), max_steps=5000)
    assert bool(jnp.all(jnp.sign(out.states) == dam))
    # the reduced energy of Model A is the DAM energy of sign(v)
    e_dam = jax.vmap(dj.BinaryDAM(X, F).energy)(dam)
    assert tree_allclose(jax.vmap(net.energy)(out.states), e_dam, rtol=1e-5)


def test_nan_states_are_reported_not_propagated(getkey):
    X = jax.random.normal(getkey(), (4, 6))
    net = dj.LagrangianNetwork.model_c(X, L.LogSumExp(), tau_h=None)
    cues = jax.random.normal(getkey(), (3, 6)).at[1].set(0.0)  # |v| = 0: v/|v| is NaN
    out = dj.retrieve(net, cues, rule=dj.Euler(0.1), max_steps=50)
    conv = np.asarray(out.converged)
    assert not conv[1]
    assert bool(jnp.all(jnp.isfinite(out.states[jnp.array([0, 2])])))
    tr = dj.trajectory(net, cues, rule=dj.Euler(0.1), t1=1.0)
    assert np.asarray(tr.ok).tolist() == [True, False, True]
