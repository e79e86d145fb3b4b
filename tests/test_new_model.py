"""A model written in this file against the abstract interfaces only works with retrieve,
capacity, states and the sweep engine, with no edit in those packages."""

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

import damjax as dj
from damjax.models import AbstractAsyncKernel, AbstractBinaryMemory, AbstractPatternMemory


class CubicDAM(AbstractBinaryMemory, AbstractPatternMemory):
    """E(s) = -sum_mu (xi_mu . s)^3 / 3, written from scratch (no BinaryDAM code)."""

    patterns: jax.Array

    def energy(self, state):
        return -jnp.sum((self.patterns @ state) ** 3) / 3.0

    def field(self, state):
        # h_i = E(s_i = -1) - E(s_i = +1), exactly, from the overlaps without neuron i
        m = self.patterns @ state
        rest = m[:, None] - self.patterns * state[None, :]  # (K, N)
        up, down = rest + self.patterns, rest - self.patterns
        return jnp.sum(up**3 - down**3, axis=0) / 3.0

    def update(self, state):
        h = self.field(state)
        return jnp.where(h > 0, 1.0, jnp.where(h < 0, -1.0, state)).astype(state.dtype)

    def async_kernel(self):
        return _CubicKernel(self)


class _CubicKernel(AbstractAsyncKernel):
    model: CubicDAM
    refresh_every: ClassVar[int] = 8

    def init(self, state):
        return self.model.patterns @ state

    def step(self, s_i, m, i):
        col = self.model.patterns[:, i]
        rest = m - col * s_i
        h = jnp.sum((rest + col) ** 3 - (rest - col) ** 3) / 3.0
        new = jnp.where(h > 0, 1.0, jnp.where(h < 0, -1.0, s_i)).astype(s_i.dtype)
        return new, m + (new - s_i) * col

    def energy(self, m, state):
        return -jnp.sum(m**3) / 3.0


def _model(key, K=8, N=48):
    return CubicDAM(dj.patterns.random_binary(key, K, N))


def test_retrieve_every_binary_rule_and_the_paper_rule_reference(getkey):
    model = _model(getkey())
    cues = dj.patterns.flip(getkey(), model.patterns, 0.1)
    # its field agrees with BinaryDAM's on the same energy (an independent implementation)
    ref = dj.BinaryDAM(model.patterns, dj.Polynomial(3))
    np.testing.assert_allclose(
        jax.vmap(model.field)(cues) * 3.0, jax.vmap(ref.field)(cues), rtol=1e-5, atol=1e-3
    )
    for name in dj.dynamics.rule_names():
        rule = dj.dynamics.rule_from_name(name)
        r = dj.retrieve(model, cues, rule=rule, max_steps=20, key=getkey(), record_energy=True)
        assert r.states.shape == cues.shape
        if name != "onestep":
            assert bool(jnp.all(r.converged)), name
            assert bool(jnp.all(r.states == model.patterns)), name  # K << N^2: all retrieved
        if name.startswith("async"):
            for e in np.asarray(r.energies):  # asynchronous energies never increase
                e = e[np.isfinite(e)]
                assert len(e) >= 2 and np.all(np.diff(e) <= 1e-3 * np.abs(e[0]))


def test_capacity(getkey):
    model = _model(getkey())
    assert float(dj.capacity.fixed_point_fraction(model)) == 1.0
    assert bool(jnp.all(dj.capacity.is_fixed_point(model, model.patterns)))
    cues = dj.patterns.flip(getkey(), model.patterns, 0.1)
    stats = dj.capacity.retrieval_stats(model, cues, model.patterns, rule=dj.Async(), max_steps=20)
    assert float(stats["exact_rate"]) == 1.0 and float(stats["converged_rate"]) == 1.0
    # with far too many memories at this N, some stored patterns are no longer fixed points
    crowded = _model(getkey(), K=400, N=24)
    assert float(dj.capacity.fixed_point_fraction(crowded)) < 1.0


def test_states(getkey):
    model = _model(getkey(), K=3, N=20)
    found = dj.states.collect_stable_states(model, key=getkey(), num_starts=64, max_steps=50)
    assert int(found.counts.sum()) + int(found.num_unconverged) == 64
    assert bool(jnp.all(dj.states.is_stable(model, found.states)))
    prof = dj.states.unit_energies(model, model.patterns)
    np.testing.assert_allclose(prof, -0.25 * model.patterns * jax.vmap(model.field)(model.patterns))
    assert np.all(np.asarray(dj.states.stability_ratio(prof)) > 0)


def test_sweep_engine(getkey):
    @dj.sweep.experiment(params={"N": None, "K": None, "rho": 0.1}, types={"N": int, "K": int})
    def cubic_retrieval(config, key):
        kx, kc = jax.random.split(key)
        model = _model(kx, config["K"], config["N"])
        cues = dj.patterns.flip(kc, model.patterns, config["rho"])
        return dj.capacity.retrieval_stats(
            model, cues, model.patterns, rule=dj.Sync(), max_steps=20
        )

    grid = dj.sweep.Grid({"K": [2, 4], "rho": [0.0, 0.1]}, fixed={"N": 32}, seeds=[0, 1])
    df = dj.sweep.run(grid, cubic_retrieval, progress=False).frame()
    assert len(df) == 8 and set(df["experiment"]) == {"cubic_retrieval"}
    assert np.all(df.loc[df["rho"] == 0.0, "exact_rate"] == 1.0)
    assert np.all(df["exact_rate"] >= 0.0) and np.all(df["converged_rate"] <= 1.0)
