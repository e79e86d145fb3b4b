"""Discrete-time rules: ``Sync``, ``OneStep`` (any model) and ``Async`` (binary models)."""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from .._validation import check_finite_scalar
from ..models._base import AbstractBinaryMemory
from ._base import (
    AbstractRule,
    Retrieval,
    _energy_fields,
    _energy_trace,
    _set_energy,
    iterate_to_fixed_point,
    scaled_energy_fn,
)


def _check_tol(tol):
    """``tol`` must be a finite number >= 0 (NaN or a negative tolerance never converges)."""
    check_finite_scalar(tol, "tol", nonnegative=True)


def _within(tol):
    def converged(old, new):
        return jnp.max(jnp.abs(new - old)) <= tol

    return converged


class Sync(AbstractRule):
    """All neurons at once, ``s <- model.update(s)``, until a fixed point or ``max_steps``.

    **Arguments:** ``tol`` — convergence when ``max|s_new - s| <= tol`` (0 = exact fixed point, the
    right choice for binary states; continuous models use a small positive tolerance).
    """

    tol: float = 0.0

    def __check_init__(self):
        _check_tol(self.tol)

    def run(self, model, state, *, key, max_steps, record_energy):
        return iterate_to_fixed_point(
            lambda s, t: model.update(s),
            scaled_energy_fn(model),
            state,
            max_steps=max_steps,
            record_energy=record_energy,
            converged=_within(self.tol),
        )


class OneStep(AbstractRule):
    """A single synchronous update. ``converged`` says whether that step changed nothing
    (within ``tol``), i.e. whether the cue was already a fixed point; ``max_steps`` is ignored."""

    tol: float = 0.0

    def __check_init__(self):
        _check_tol(self.tol)

    def run(self, model, state, *, key, max_steps, record_energy):
        return iterate_to_fixed_point(
            lambda s, t: model.update(s),
            scaled_energy_fn(model),
            state,
            max_steps=1,
            record_energy=record_energy,
            converged=_within(self.tol),
        )


class Async(AbstractRule):
    """Neuron-by-neuron updates; one step is a sweep over all N neurons.

    **Arguments:** ``order`` — ``"fixed"`` (0..N-1 every sweep) or ``"random"`` (a fresh random
    permutation per sweep and cue; needs ``key``). Stops after a sweep with no flip (a fixed point)
    or after ``max_steps`` sweeps. Each neuron update costs O(K) (the overlaps are updated after
    each flip); energies never increase. ``refresh_every`` — how many neuron updates between exact
    recomputations of the model's incremental bookkeeping (``async_refresh``; for
    :class:`BinaryDAM` the tie level's magnitude and, at large degree, the overflow scale).
    """

    order: Literal["fixed", "random"] = "fixed"
    refresh_every: int = 16

    def __check_init__(self):
        if self.order not in ("fixed", "random"):
            raise ValueError(f"`order` must be 'fixed' or 'random'; got {self.order!r}")
        if not isinstance(self.refresh_every, int) or self.refresh_every < 1:
            raise ValueError(f"`refresh_every` must be an integer >= 1; got {self.refresh_every!r}")

    @property
    def needs_key(self) -> bool:
        return self.order == "random"

    def check_model(self, model):
        if not isinstance(model, AbstractBinaryMemory):
            raise TypeError(
                f"Async dynamics need a binary model (AbstractBinaryMemory); "
                f"got {type(model).__name__}. Use Sync() for continuous models."
            )

    def run(self, model, state, *, key, max_steps, record_energy) -> Retrieval:
        n = state.shape[-1]
        model = model.async_prepare()

        def sweep(carry):
            s, aux, t, _, trace = carry
            if self.order == "random":
                perm = jax.random.permutation(jax.random.fold_in(key, t), n)
            else:
                perm = None

            # Every neuron is visited once per sweep, so its value before its update is its value
            # at the start of the sweep: read it from ``s`` (loop-invariant) and write the new
            # value into ``out``, which the step never reads (XLA then updates it in place).
            def neuron(j, c):
                out, aux = c
                i = j if perm is None else perm[j]
                new, aux = model.async_step(s[i], aux, i)
                return jax.lax.dynamic_update_index_in_dim(out, new, i, axis=0), aux

            def block(start, stop, c):
                out, aux = c
                aux = model.async_refresh(out, aux)
                return jax.lax.fori_loop(start, stop, neuron, (out, aux))

            r = min(self.refresh_every, n)
            nblocks = n // r
            c = jax.lax.fori_loop(0, nblocks, lambda b, c: block(b * r, b * r + r, c), (s, aux))
            if nblocks * r < n:
                c = block(nblocks * r, n, c)
            out, aux = c
            # a sweep that changed nothing is a fixed point (compared once per sweep, not tracked
            # per neuron: one small operation less in the innermost loop)
            any_flip = jnp.any(out != s)
            s = out
            if record_energy:
                trace = _set_energy(trace, t + 1, aux_energy, (aux, s))
            return s, aux, t + 1, ~any_flip, trace

        def cond(carry):
            _, _, t, done, _ = carry
            return (~done) & (t < max_steps)

        aux = model.async_init(state)
        scaled_aux = getattr(model, "aux_scaled_energy", None)

        def aux_energy(pair):
            a, st = pair
            return model.aux_energy(a, st) if scaled_aux is None else scaled_aux(a, st)

        trace = _energy_trace(aux_energy, (aux, state), max_steps) if record_energy else None
        init = (state, aux, jnp.asarray(0, jnp.int32), jnp.asarray(False), trace)
        s, _, t, done, trace = jax.lax.while_loop(cond, sweep, init)
        return Retrieval(states=s, steps=t, converged=done, **_energy_fields(trace))
