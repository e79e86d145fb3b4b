"""Asynchronous dynamics for binary models: :class:`Async` (one step: a sweep over all neurons)."""

from __future__ import annotations

from typing import ClassVar, Literal

import equinox as eqx
import jax
import jax.numpy as jnp

from ..models._base import AbstractBinaryMemory
from ._base import AbstractRule, Retrieval, iterate_to_fixed_point, register_rule


class Async(AbstractRule):
    """Neuron-by-neuron updates; one step is a sweep over all N neurons.

    **Arguments:** ``order`` — ``"fixed"`` (0..N-1 every sweep) or ``"random"`` (a fresh random
    permutation per sweep and cue; needs ``key``). Stops after a sweep with no flip (a fixed point)
    or after ``max_steps`` sweeps. Each neuron update costs O(K) (the model's
    :meth:`~damjax.AbstractBinaryMemory.async_kernel` updates the overlaps after each flip);
    energies never increase. ``refresh_every`` — optional override of how many neuron updates lie
    between the kernel's exact recomputations of its bookkeeping (default ``None``: the kernel's
    own cadence, ``refresh_every`` of the kernel; 16 for :class:`BinaryDAM`, where the tie
    level's magnitude and, at large degree, the overflow scale are refreshed).
    """

    order: Literal["fixed", "random"] = "fixed"
    refresh_every: int | None = None

    def __check_init__(self):
        if self.order not in ("fixed", "random"):
            raise ValueError(f"`order` must be 'fixed' or 'random'; got {self.order!r}")
        r = self.refresh_every
        if r is not None and (isinstance(r, bool) or not isinstance(r, int) or r < 1):
            raise ValueError(f"`refresh_every` must be an integer >= 1; got {r!r}")

    @property
    def needs_key(self) -> bool:
        return self.order == "random"

    supports_fixed_steps: ClassVar[bool] = True

    def check_model(self, model):
        if not isinstance(model, AbstractBinaryMemory):
            raise TypeError(
                f"Async dynamics need a binary model (AbstractBinaryMemory); "
                f"got {type(model).__name__}. Use Sync() for continuous models."
            )

    def run(self, model, state, *, key, max_steps, record_energy, fixed_steps=False) -> Retrieval:
        n = state.shape[-1]
        kernel = model.async_kernel()
        every = kernel.refresh_every if self.refresh_every is None else self.refresh_every
        r = min(every, n)
        nblocks = n // r

        def sweep(carry, t):
            s, aux = carry
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
                new, aux = kernel.step(s[i], aux, i)
                return jax.lax.dynamic_update_index_in_dim(out, new, i, axis=0), aux

            def block(start, stop, c):
                out, aux = c
                aux = kernel.refresh(out, aux)
                return jax.lax.fori_loop(start, stop, neuron, (out, aux))

            c = jax.lax.fori_loop(0, nblocks, lambda b, c: block(b * r, b * r + r, c), (s, aux))
            if nblocks * r < n:
                c = block(nblocks * r, n, c)
            return c

        # a sweep that changed nothing is a fixed point (compared once per sweep, not tracked
        # per neuron: one small operation less in the innermost loop)
        out = iterate_to_fixed_point(
            sweep,
            lambda c: kernel.scaled_energy(c[1], c[0]),
            (state, kernel.init(state)),
            max_steps=max_steps,
            record_energy=record_energy,
            converged=lambda old, new: jnp.all(new[0] == old[0]),
            fixed_steps=fixed_steps,
            visible=lambda c: c[0],
        )
        return eqx.tree_at(lambda r: r.states, out, out.states[0])


register_rule("async", Async)
register_rule("async-random", lambda: Async(order="random"))
