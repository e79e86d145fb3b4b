"""Asynchronous dynamics for binary models: :class:`Async` (one step: a sweep over all neurons)."""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Bool, Float, Int, PRNGKeyArray
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

    def sweep(self, kernel, carry, t, key):
        """One sweep of one cue: every neuron once, in the order of sweep ``t`` (for
        ``"random"``, a permutation drawn from ``fold_in(key, t)``). ``carry`` = (state, the
        kernel's bookkeeping); returns the carry after the sweep."""
        s, aux = carry
        n = s.shape[-1]
        every = kernel.refresh_every if self.refresh_every is None else self.refresh_every
        r = min(every, n)
        nblocks = n // r
        perm = jax.random.permutation(jax.random.fold_in(key, t), n) if self.needs_key else None

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

    def run(self, model, state, *, key, max_steps, record_energy, fixed_steps=False) -> Retrieval:
        kernel = model.async_kernel()
        # a sweep that changed nothing is a fixed point (compared once per sweep, not tracked
        # per neuron: one small operation less in the innermost loop)
        out = iterate_to_fixed_point(
            lambda c, t: self.sweep(kernel, c, t, key),
            lambda c: kernel.scaled_energy(c[1], c[0]),
            (state, kernel.init(state)),
            max_steps=max_steps,
            record_energy=record_energy,
            converged=lambda old, new: jnp.all(new[0] == old[0]),
            fixed_steps=fixed_steps,
            visible=lambda c: c[0],
        )
        return eqx.tree_at(lambda r: r.states, out, out.states[0])


class Settled(NamedTuple):
    """Result of :func:`settle_async` (leading axis: the cues)."""

    states: Float[Array, "B N"]
    steps: Int[Array, " B"]
    converged: Bool[Array, " B"]


def settle_async(
    model: AbstractBinaryMemory,
    cues: Float[Array, "B N"],
    *,
    rule: Async,
    key: PRNGKeyArray,
    max_steps: int,
    slots: int,
) -> Settled:
    """``retrieve(model, cues, rule=rule, key=key, max_steps=max_steps)`` for many cues on
    ``slots`` lanes that are refilled: the same states, steps and ``converged`` flags, cue for
    cue (the same per-cue keys and sweeps), at a cost that follows the SUM of the cues' sweep
    counts instead of B x the slowest one.

    A batched ``retrieve`` runs every cue until the slowest has converged; from random starts
    the sweep counts spread widely (e.g. 7 to 33 at N = 400, median 14), so most of that work
    is spent on cues already settled. Here each of ``slots`` lanes runs one sweep per
    iteration; a lane whose cue converged (or reached ``max_steps``) records it and takes the
    next cue, with fresh bookkeeping (``kernel.init``, one overlap product per refill).
    Traceable (``jit``, ``vmap``); ``slots`` is static.
    """
    if not isinstance(rule, Async):
        raise TypeError(f"`rule` must be an Async rule; got {rule!r}")
    rule.check_model(model)
    if jnp.ndim(cues) != 2:
        raise ValueError(f"`cues` must have shape (B, N); got {jnp.shape(cues)}")
    model.check_state(cues, "cues")  # width; +-1 values when concrete
    for value, name in ((max_steps, "max_steps"), (slots, "slots")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1; got {value!r}")
    B = cues.shape[0]
    b = min(slots, B)
    kernel = model.async_kernel()
    keys = jax.random.split(key, B)
    init = jax.vmap(kernel.init)
    sweep = jax.vmap(lambda s, aux, k, t: rule.sweep(kernel, (s, aux), t, k))

    def rows(mask, new, old):
        return jax.tree.map(
            lambda x, y: jnp.where(mask.reshape(mask.shape + (1,) * (x.ndim - 1)), x, y), new, old
        )

    def cond(c):
        return jnp.any(c[3] < B)

    def body(c):
        s, aux, t, idx, q, out_s, out_t, out_c = c
        live = idx < B
        new, new_aux = sweep(s, aux, keys[jnp.minimum(idx, B - 1)], t)
        t1 = t + 1
        conv = jnp.all(new == s, axis=-1)
        fin = live & (conv | (t1 >= max_steps))
        at = jnp.where(fin, idx, B)  # B: dropped
        out_s = out_s.at[at].set(new, mode="drop")
        out_t = out_t.at[at].set(t1, mode="drop")
        out_c = out_c.at[at].set(conv & jnp.all(jnp.isfinite(new), axis=-1), mode="drop")
        free = fin | ~live
        nxt = jnp.where(free, jnp.minimum(q + jnp.cumsum(free) - 1, B), idx)
        take = free & (nxt < B)
        cue = cues[jnp.minimum(nxt, B - 1)]
        s = jnp.where(take[:, None], cue, new)
        aux = rows(take, init(cue), new_aux)
        t = jnp.where(take, 0, t1)
        return s, aux, t, nxt, jnp.minimum(q + jnp.sum(free), B), out_s, out_t, out_c

    s0 = cues[:b]
    c0 = (
        s0,
        init(s0),
        jnp.zeros((b,), jnp.int32),
        jnp.arange(b, dtype=jnp.int32),
        jnp.int32(b),
        jnp.zeros_like(cues),
        jnp.zeros((B,), jnp.int32),
        jnp.zeros((B,), bool),
    )
    out = jax.lax.while_loop(cond, body, c0)
    return Settled(out[5], out[6], out[7])


register_rule("async", Async)
register_rule("async-random", lambda: Async(order="random"))
