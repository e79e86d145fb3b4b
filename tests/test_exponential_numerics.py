"""Exponential F at any beta: signs of the field against a float64 log-domain reference.

The reference works with exact integer overlaps: for neuron i, ``s_i h_i`` has the sign of
``A_i - B_i`` with ``A_i = sum_{xi = s_i} exp(beta (m - m*))`` and
``B_i = sum_{xi != s_i} exp(beta (m - m* + 2))`` (see ``Exponential.agreement_terms``), each taken
as a float64 log-sum-exp, so nothing over- or underflows at any beta.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

import damjax as dj


def reference(X, s, beta):
    """``(log A - log B, exact_tie)`` per neuron, float64 log domain (exact integer overlaps)."""
    X = np.asarray(X, np.float64)
    s = np.asarray(s, np.float64)
    m = X @ s
    d = m - m.max()
    agree = X == s[None, :]  # (K, N)
    la = logsumexp(np.where(agree, beta * d[:, None], -np.inf), axis=0)
    lb = logsumexp(np.where(agree, -np.inf, beta * (d[:, None] + 2.0)), axis=0)
    # an exact tie: the multiset of exponents of A equals that of B (then A = B exactly)
    big = 1e30
    ea = np.sort(np.where(agree, d[:, None], big), axis=0)
    eb = np.sort(np.where(agree, big, d[:, None] + 2.0), axis=0)
    tie = np.all(ea == eb, axis=0)
    return la - lb, tie


def states_for(key, X):
    k1, k2, k3 = jax.random.split(key, 3)
    mix = jnp.sign(X[0] + X[1] + X[2])  # three similar overlaps: many close fields
    return jnp.concatenate(
        [
            dj.patterns.random_binary(k1, 1, X.shape[1]),
            dj.patterns.flip(k2, X[:3], 0.05),
            dj.patterns.flip(k3, X[3:5], 0.3),
            mix[None],
        ]
    )


@pytest.mark.parametrize("N", [64, 1000, 4000])
def test_exponential_signs_across_beta(N):
    K = 24
    X = dj.patterns.random_binary(jax.random.key(N), K, N)
    cues = states_for(jax.random.key(N + 1), X)
    checked = 0
    for beta in np.logspace(-2, 4, 13):
        model = dj.BinaryDAM(X, dj.Exponential(float(beta)))
        h, ls = model.scaled_field(cues)
        assert np.all(np.isfinite(np.asarray(h))) and np.all(np.isfinite(np.asarray(ls)))
        upd = np.asarray(model.update(cues))
        for b in range(cues.shape[0]):
            s = np.asarray(cues[b])
            margin, tie = reference(X, s, beta)
            decisive = np.abs(margin) > 1e-3
            want = np.where(margin > 0, s, -s)  # s_i h_i > 0 keeps s_i
            np.testing.assert_array_equal(
                np.sign(np.asarray(h[b]) * s)[decisive],
                np.sign(margin[decisive]),
                err_msg=f"field sign, beta={beta}, N={N}, state {b}",
            )
            np.testing.assert_array_equal(
                upd[b][decisive], want[decisive], err_msg=f"update, beta={beta}, state {b}"
            )
            # exact ties keep their value (sync and async agree on what a fixed point is)
            np.testing.assert_array_equal(upd[b][tie], s[tie])
            checked += int(decisive.sum())
    assert checked > 0.9 * 13 * cues.shape[0] * N


@pytest.mark.parametrize("beta", [50.0, 1e3, 1e4])
def test_exponential_large_beta_retrieves_and_reference_fixed_points(beta):
    # the reproducer: at beta = 50 the field was NaN, cues came back unchanged and
    # `converged` was True
    key, k1 = jax.random.split(jax.random.key(0))
    X = dj.patterns.random_binary(key, 8, 64)
    c = dj.patterns.flip(k1, X, 0.1)
    m = dj.BinaryDAM(X, dj.Exponential(beta))
    assert np.all(np.isfinite(np.asarray(m.scaled_field(c[0])[0])))
    for rule in (dj.Sync(), dj.Async()):
        out = dj.retrieve(m, c, rule=rule)
        assert bool(jnp.all(out.converged))
        np.testing.assert_array_equal(out.states, X)
    # from harder states: whatever the dynamics stop at is a fixed point of the exact field
    cues = states_for(jax.random.key(5), X)
    for rule in (dj.Sync(), dj.Async()):
        out = dj.retrieve(m, cues, rule=rule, max_steps=50)
        for s, conv in zip(np.asarray(out.states), np.asarray(out.converged)):
            if conv:
                margin, _ = reference(X, s, beta)
                assert not np.any(margin < -1e-3), "a converged state has a decisive flip"


def test_exponential_field_true_units_matches_float64():
    # moderate sizes where the true field fits in float32: field() equals the float64 value,
    # including the entries that saturate in scaled_field
    X = dj.patterns.random_binary(jax.random.key(3), 6, 40)
    s = dj.patterns.flip(jax.random.key(4), X[0], 0.2)
    Xd, sd = np.asarray(X, np.float64), np.asarray(s, np.float64)
    for beta in (0.3, 1.0, 2.0):
        model = dj.BinaryDAM(X, dj.Exponential(beta))
        m = Xd @ sd
        mp = m[:, None] + (1 - sd)[None, :] * Xd  # overlaps with s_i = +1
        mm = m[:, None] - (1 + sd)[None, :] * Xd  # with s_i = -1
        ref = np.exp(beta * mp).sum(0) - np.exp(beta * mm).sum(0)
        np.testing.assert_allclose(np.asarray(model.field(s)), ref, rtol=2e-4)


def test_exponential_beta_checks():
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="beta"):
            dj.Exponential(bad)
    with pytest.raises(ValueError, match="beta"):
        dj.Exponential([1.0, 2.0])
    with pytest.raises((TypeError, ValueError), match="beta"):
        dj.Exponential(None)
    dj.Exponential(np.float32(1.5))


@pytest.mark.parametrize("beta", [1e30, 3e38])
def test_softmax_models_finite_at_huge_beta(beta):
    # were NaN at beta >= 1e30 (beta * m overflowed before the max was subtracted)
    key = jax.random.key(7)
    X = jax.random.normal(key, (10, 16))
    q = X[:3] + 0.3 * jax.random.normal(jax.random.key(8), (3, 16))
    Xd, qd = np.asarray(X, np.float64), np.asarray(q, np.float64)
    mh = dj.ModernHopfield(X, beta)
    nearest_dot = Xd[np.argmax(qd @ Xd.T, axis=1)]  # the beta -> inf limit of the update
    np.testing.assert_allclose(np.asarray(mh.update(q)), nearest_dot, rtol=1e-5, atol=1e-5)
    assert np.all(np.isfinite(np.asarray(jax.vmap(mh.energy)(q))))
    out = dj.retrieve(mh, q, rule=dj.Sync(tol=1e-6))
    assert bool(jnp.all(out.converged)) and np.all(np.isfinite(np.asarray(out.states)))
    ed = dj.ExpDAM(X, beta)
    d2 = ((qd[:, None, :] - Xd[None]) ** 2).sum(-1)
    nearest = Xd[np.argmin(d2, axis=1)]
    np.testing.assert_allclose(np.asarray(jax.vmap(ed.update)(q)), nearest, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(jax.vmap(ed.energy)(q)), 0.5 * d2.min(1), rtol=1e-4, atol=1e-4
    )
    out = dj.retrieve(ed, q, rule=dj.Sync(tol=1e-6))
    assert np.all(np.isfinite(np.asarray(out.states)))


@pytest.mark.parametrize(
    "F, N",
    [(dj.Exponential(1.0), 100), (dj.Exponential(50.0), 200), (dj.Polynomial(30), 1000)],
    ids=repr,
)
def test_recorded_energies_usable_at_large_n_and_beta(F, N):
    # `energies` overflow to -inf here (already Exponential(1) at N = 100); the scaled trace and
    # its log-scales stay finite and show that asynchronous dynamics never increase the energy
    X = dj.patterns.random_binary(jax.random.key(11), 6, N)
    cues = dj.patterns.flip(jax.random.key(12), X, 0.3)
    model = dj.BinaryDAM(X, F)
    for rule in (dj.Async(), dj.Sync()):
        out = dj.retrieve(model, cues, rule=rule, max_steps=20, record_energy=True)
        e, ls = np.asarray(out.scaled_energies), np.asarray(out.energy_log_scales)
        steps = np.asarray(out.steps)
        for b in range(cues.shape[0]):
            n = steps[b] + 1
            assert np.all(np.isfinite(e[b, :n])) and np.all(np.isfinite(ls[b, :n]))
            assert np.all(e[b, :n] < 0)
            assert np.all(np.isnan(e[b, n:]))
            log_mag = np.log(-e[b, :n].astype(np.float64)) + ls[b, :n]  # log|E_t|, E_t < 0
            # first entry = float64 energy of the cue
            m = np.asarray(X, np.float64) @ np.asarray(cues[b], np.float64)
            if isinstance(F, dj.Exponential):
                ref = (
                    np.log(np.sum(np.exp(F.beta.item() * (m - m.max())))) + F.beta.item() * m.max()
                )
            else:
                c = np.abs(m).max()
                ref = np.log(np.sum((m / c) ** 30)) + 30 * np.log(c)
            np.testing.assert_allclose(log_mag[0], ref, rtol=1e-5)
            if isinstance(rule, dj.Async):
                assert np.all(np.diff(log_mag) >= -1e-5 * np.abs(log_mag[1:]))
