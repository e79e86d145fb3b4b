"""retrieve(..., gradient="implicit"): implicit-function-theorem gradients of continuous retrieval.

Checked against finite differences (``check_grads``, float64) and against the unrolled gradient of
the same retrieval run to convergence; NaN (never a wrong number) where the implicit gradient does
not exist; clear errors for rules and models that cannot have one.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tree_allclose
from jax.test_util import check_grads

import damjax as dj

RULES = [
    dj.Sync(tol=1e-13),
    dj.Euler(0.5, tol=1e-12),
    dj.GradientDescent(0.1, tol=1e-13),
]


def _hopfield64(getkey, K=6, N=10, noise=0.3):
    X = jax.random.normal(getkey(), (K, N), jnp.float64)
    cues = X[:3] + noise * jax.random.normal(getkey(), (3, N), jnp.float64)
    return X, cues


def _fields(r):
    return [np.asarray(getattr(r, f)) for f in ("states", "steps", "converged", "status")]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: type(r).__name__)
def test_implicit_forward_is_the_default_retrieval(getkey, rule):
    with jax.enable_x64(True):
        X, cues = _hopfield64(getkey)
        model = dj.ModernHopfield(X, beta=1.0)
        kw = dict(rule=rule, max_steps=3000, record_energy=True)
        a = dj.retrieve(model, cues, **kw)
        b = dj.retrieve(model, cues, gradient="implicit", **kw)
        for x, y in zip(_fields(a), _fields(b)):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(np.asarray(a.energies), np.asarray(b.energies))
        assert bool(np.all(np.asarray(a.converged)))
        # gradient="unrolled" is fixed_steps=True
        u = dj.retrieve(model, cues, gradient="unrolled", **kw)
        f = dj.retrieve(model, cues, fixed_steps=True, **kw)
        for x, y in zip(_fields(u), _fields(f)):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: type(r).__name__)
def test_implicit_gradient_matches_finite_differences_and_unrolled(getkey, rule):
    with jax.enable_x64(True):
        X, cues = _hopfield64(getkey)
        w = jnp.linspace(-1.0, 1.0, X.shape[1])

        def loss(X, c, gradient):
            r = dj.retrieve(
                dj.ModernHopfield(X, beta=1.0), c, rule=rule, max_steps=3000, gradient=gradient
            )
            return jnp.sum(jnp.sin(r.states) @ w)

        check_grads(lambda X: loss(X, cues, "implicit"), (X,), order=1, modes=["rev"])
        gi = jax.grad(loss)(X, cues, "implicit")
        gu = jax.grad(loss)(X, cues, "unrolled")  # unrolled to convergence
        assert tree_allclose(gi, gu, rtol=1e-8, atol=1e-10)
        # no gradient reaches a cue through an attracting fixed point (unrolled: it decays to ~0)
        gc_i = jax.grad(loss, argnums=1)(X, cues, "implicit")
        gc_u = jax.grad(loss, argnums=1)(X, cues, "unrolled")
        assert np.all(np.asarray(gc_i) == 0.0)
        assert np.max(np.abs(np.asarray(gc_u))) < 1e-8
        # under jit the same numbers
        assert tree_allclose(jax.jit(jax.grad(loss), static_argnums=2)(X, cues, "implicit"), gi)


def test_implicit_clamped_gradient_descent_reaches_the_clamped_cue(getkey):
    with jax.enable_x64(True):
        X, cues = _hopfield64(getkey)
        clamp = jnp.arange(X.shape[1]) < 4
        rule = dj.GradientDescent(0.1, clamp=clamp, tol=1e-13)
        model = dj.ModernHopfield(X, beta=1.0)

        def loss(c, gradient):
            r = dj.retrieve(model, c, rule=rule, max_steps=3000, gradient=gradient)
            return jnp.sum(r.states[:, 4:] ** 2)

        gi, gu = jax.grad(loss)(cues, "implicit"), jax.grad(loss)(cues, "unrolled")
        assert np.max(np.abs(np.asarray(gi[:, :4]))) > 1e-3  # the clamped entries steer x*
        assert np.all(np.asarray(gi[:, 4:]) == 0.0)
        assert tree_allclose(gi, gu, rtol=1e-7, atol=1e-9)
        check_grads(lambda c: loss(c, "implicit"), (cues,), order=1, modes=["rev"])


def test_implicit_through_a_pytree_state_lagrangian_network(getkey):
    # Euler on (v, h) of a Krotov-Hopfield Model B; the visible state is read out of the carry
    with jax.enable_x64(True):
        X = jax.random.normal(getkey(), (5, 8), jnp.float64)
        cues = X[:2] + 0.2 * jax.random.normal(getkey(), (2, 8), jnp.float64)
        rule = dj.Euler(0.2, tol=1e-11)

        def loss(X, gradient):
            net = dj.LagrangianNetwork.model_b(X, beta=2.0)
            r = dj.retrieve(net, cues, rule=rule, max_steps=20000, gradient=gradient)
            return jnp.sum(jnp.tanh(r.states)), r.converged

        (_, ok), gi = jax.value_and_grad(loss, has_aux=True)(X, "implicit")
        assert bool(np.all(np.asarray(ok)))
        gu = jax.grad(lambda X: loss(X, "unrolled")[0])(X)
        assert tree_allclose(gi, gu, rtol=1e-6, atol=1e-8)


def test_float32_default(getkey):
    X = jax.random.normal(getkey(), (6, 10))
    cues = X[:3] + 0.3 * jax.random.normal(getkey(), (3, 10))

    def loss(X, gradient):
        r = dj.retrieve(
            dj.ModernHopfield(X), cues, rule=dj.Sync(tol=1e-6), max_steps=500, gradient=gradient
        )
        return jnp.sum(r.states**2)

    gi, gu = jax.grad(loss)(X, "implicit"), jax.grad(loss)(X, "unrolled")
    assert gi.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(gi)))
    np.testing.assert_allclose(np.asarray(gi), np.asarray(gu), rtol=1e-3, atol=1e-4)


def test_no_implicit_gradient_is_nan_not_wrong(getkey):
    with jax.enable_x64(True):
        X, cues = _hopfield64(getkey, noise=1.0)

        def grad_of(rule, max_steps, use_energy=False, X=X, cues=cues):
            def loss(X):
                r = dj.retrieve(
                    dj.ModernHopfield(X, beta=1.0),
                    cues,
                    rule=rule,
                    max_steps=max_steps,
                    gradient="implicit",
                    record_energy=use_energy,
                )
                extra = jnp.nansum(r.energies) if use_energy else 0.0
                return jnp.sum(r.states) + extra, r.converged

            return jax.grad(loss, has_aux=True)(X)

        # not converged within max_steps: NaN
        g, ok = grad_of(dj.Euler(0.05, tol=1e-12), 3)
        assert not bool(np.any(np.asarray(ok))) and np.all(np.isnan(np.asarray(g)))
        # converged, but the loss uses the energy trace (a trajectory quantity): NaN
        g, ok = grad_of(dj.Sync(tol=1e-13), 3000, use_energy=True)
        assert bool(np.all(np.asarray(ok))) and np.all(np.isnan(np.asarray(g)))
        g, _ = grad_of(dj.Sync(tol=1e-13), 3000)
        assert np.all(np.isfinite(np.asarray(g)))
        # an unstable fixed point: patterns p and -p, cue 0. update(0) = 0 exactly (converged),
        # but J = beta p p^T has eigenvalue beta |p|^2 = 4 > 1: the adjoint diverges -> NaN
        p = jnp.zeros(4, jnp.float64).at[0].set(2.0)
        g, ok = grad_of(dj.Sync(tol=1e-13), 200, X=jnp.stack([p, -p]), cues=jnp.zeros((1, 4)))
        assert bool(np.all(np.asarray(ok))) and np.all(np.isnan(np.asarray(g)))


def test_implicit_refused_where_it_cannot_exist(getkey):
    Xb = dj.patterns.random_binary(getkey(), 5, 16)
    binary = dj.BinaryDAM(Xb, dj.Polynomial(3))
    modern = dj.ModernHopfield(jax.random.normal(getkey(), (5, 16)))
    cue = jax.random.normal(getkey(), (16,))
    with pytest.raises(TypeError, match="discrete"):
        dj.retrieve(binary, Xb[0], rule=dj.Sync(), gradient="implicit")
    with pytest.raises(TypeError, match="discrete"):
        dj.retrieve(binary, Xb[0], rule=dj.Async(), gradient="implicit")
    for rule in (dj.OneStep(), dj.ODE(t1=2.0)):
        with pytest.raises(ValueError, match=type(rule).__name__):
            dj.retrieve(modern, cue, rule=rule, gradient="implicit")
    with pytest.raises(ValueError, match="fixed_steps"):
        dj.retrieve(modern, cue, rule=dj.Sync(tol=1e-6), gradient="implicit", fixed_steps=True)
    with pytest.raises(ValueError, match="`gradient`"):
        dj.retrieve(modern, cue, gradient="adjoint")
    # the unrolled mode keeps its rules (OneStep included)
    r = dj.retrieve(modern, cue, rule=dj.OneStep(), gradient="unrolled")
    assert int(r.steps) == 1


@pytest.mark.parametrize("rule", [dj.Euler(0.2, tol=1e-12), dj.Sync(tol=1e-13)], ids=repr)
def test_implicit_through_a_clamped_three_layer_network(getkey, rule):
    # clamped visible neurons are held at the cue (model.hold / ode_hold): the fixed point depends
    # on them, and the implicit gradient reaches them (a held neuron is no contracting direction,
    # so without the hold the adjoint would diverge)
    from damjax.components.lagrangians import LogSumExp, Quadratic

    with jax.enable_x64(True):
        W1 = jax.random.normal(getkey(), (8, 12), jnp.float64)
        W2 = 2.0 * jnp.eye(4, dtype=jnp.float64)[jnp.arange(8) % 4].T
        known = jnp.arange(12) < 6
        cues = jnp.where(known, W1[:2] + 0.3 * jax.random.normal(getkey(), (2, 12)), 0.0)

        def loss(W1, c, gradient):
            net = dj.HierarchicalNetwork.chain(
                [W1, W2], [Quadratic(), LogSumExp(0.7), LogSumExp(1.0)], taus=[1.0, 0.5, 0.5]
            ).clamp(known)
            r = dj.retrieve(net, c, rule=rule, max_steps=20_000, gradient=gradient)
            return jnp.sum(jnp.sin(r.states)), r.converged

        (_, ok), gi = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(W1, cues, "implicit")
        assert bool(np.all(np.asarray(ok)))
        gu = jax.grad(lambda *a: loss(*a, "unrolled")[0], argnums=(0, 1))(W1, cues)
        assert tree_allclose(gi, gu, rtol=1e-6, atol=1e-8)
        assert np.max(np.abs(np.asarray(gi[1][:, :6]))) > 1e-3  # clamped cue entries
        assert np.all(np.asarray(gi[1][:, 6:]) == 0.0)  # free ones: an attractor forgets them
