r"""Stable states of binary memories: sampled from random starts, or enumerated exhaustively.

A *stable state* is a fixed point of the model's update: :math:`s_i h_i \ge 0` for every neuron
(ties keep their value), i.e. ``model.update(s) == s``. Asynchronous dynamics from a random start
end in one; the number of starts that end in a state is its (sampled) basin count.

**Negations.** The energies of the Hebbian network and of even-degree polynomial DAMs are
sign-symmetric, E(-s) = E(s), so -s is stable whenever s is, with a basin of the same size. By
default a state and its negation are kept as two states with separate counts: they are different
attractors, and for odd-degree DAMs they are not equivalent. With ``merge_negations=True`` they are
identified: the representative is the one whose first entry is +1 and its count is the number of
starts that ended in either.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Float, Int, PRNGKeyArray
from .._validation import check_pm1_dtype, check_positive_int
from ..dynamics import AbstractRule, Async, retrieve
from ..models._base import AbstractBinaryMemory
from ..patterns import random_binary

_MAX_ENUMERATE = 20


class StableStates(eqx.Module):
    """Distinct stable states with their basin counts.

    **Fields:**

    * ``states`` — (M, N) distinct stable states, most frequent first (ties: lexicographic).
    * ``counts`` — (M,) number of starts that ended in each state.
    * ``num_starts`` — number of starts run.
    * ``num_unconverged`` — starts whose dynamics did not reach a fixed point within
      ``max_steps`` (not counted in ``counts``); ``counts.sum() + num_unconverged == num_starts``.
    """

    states: Float[Array, "M N"]
    counts: Int[Array, " M"]
    num_starts: int = eqx.field(static=True)
    num_unconverged: int = eqx.field(static=True)

    @property
    def num_states(self) -> int:
        return self.states.shape[0]

    @property
    def basin_fractions(self) -> Float[Array, " M"]:
        """``counts / num_starts``: the sampled share of state space in each basin."""
        return self.counts / self.num_starts


def _check_model(model):
    if not isinstance(model, AbstractBinaryMemory):
        raise TypeError(
            "`model` must be a binary memory (damjax.HopfieldNetwork, damjax.BinaryDAM, ...); "
            f"got {type(model).__name__}"
        )


@eqx.filter_jit
def _fixed(model, states: Float[Array, "B N"]) -> Bool[Array, " B"]:
    return jax.vmap(model.is_fixed_point)(states)


def is_stable(model: AbstractBinaryMemory, states: Float[Array, "*B N"]) -> Bool[Array, "*B"]:
    """True where ``state`` is a fixed point of ``model.update`` (every neuron agrees with its
    field; ties keep): :meth:`damjax.AbstractMemory.is_fixed_point` batched, the same test as
    :func:`damjax.capacity.is_fixed_point`, with the states validated for a binary model.

    **Raises:** ``TypeError`` for a non-binary model; ``ValueError`` for a state of the wrong width.
    """
    _check_model(model)
    states = jnp.asarray(states)
    model.check_state(states, "states")
    flat = states.reshape(-1, states.shape[-1])
    return _fixed(model, flat).reshape(states.shape[:-1])


def _canonical(x: np.ndarray, merge_negations: bool) -> np.ndarray:
    if merge_negations:
        x = x * np.where(x[:, :1] < 0, -1, 1).astype(x.dtype)
    return x


def _dedupe(final: np.ndarray, merge_negations: bool, dtype):
    final = _canonical(final, merge_negations)
    if final.shape[0] == 0:
        return jnp.zeros((0, final.shape[1]), dtype), jnp.zeros((0,), jnp.int32)
    uniq, counts = np.unique(final, axis=0, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return jnp.asarray(uniq[order], dtype), jnp.asarray(counts[order], jnp.int32)


def collect_stable_states(
    model: AbstractBinaryMemory,
    *,
    key: PRNGKeyArray,
    num_starts: int | None = None,
    starts: Float[Array, "S N"] | None = None,
    rule: AbstractRule | None = None,
    max_steps: int = 200,
    batch_size: int = 4096,
    merge_negations: bool = False,
) -> StableStates:
    """Run dynamics from many starts and collect the distinct stable states with basin counts.

    Starts are uniform random states in {-1,+1}^N (or the given ``starts``), run through
    :func:`damjax.retrieve` in batches of ``batch_size``. A final state counts when it is a fixed
    point of ``model.update`` (checked, not assumed).

    **Arguments:**

    * ``model`` — a binary memory (:class:`damjax.HopfieldNetwork`, :class:`damjax.BinaryDAM`).
    * ``key`` — PRNG key (starts and random update orders).
    * ``num_starts`` — number of random starts; or ``starts`` — explicit (S, N) starts
      (exactly one of the two).
    * ``rule`` — dynamics rule, default ``Async()`` (sequential sweeps in neuron order from
      random starts; converges for symmetric Hebbian weights and for every BinaryDAM, and is
      faster than ``Async(order="random")``, which also works; ``Sync`` may end in 2-cycles,
      counted as unconverged).
    * ``max_steps`` — maximum sweeps/steps per start.
    * ``batch_size`` — starts per call of ``retrieve`` (bounds memory).
    * ``merge_negations`` — identify a state with its negation (see the module notes).

    **Returns:** :class:`StableStates`.

    **Raises:** ``ValueError`` if neither or both of ``num_starts`` / ``starts`` are given, or
    for non-positive sizes; ``TypeError`` for a non-binary model.
    """
    _check_model(model)
    if (num_starts is None) == (starts is None):
        raise ValueError("give exactly one of `num_starts` (random starts) or `starts` (S, N)")
    batch_size = check_positive_int(batch_size, "batch_size")
    rule = Async() if rule is None else rule
    n = model.dim
    if starts is not None:
        starts = jnp.asarray(starts)
        if starts.ndim != 2:
            raise ValueError(f"`starts` must have shape (S, N); got {starts.shape}")
        model.check_state(starts, "starts")
        total = starts.shape[0]
        if total == 0:
            raise ValueError("`starts` must hold at least one state")
        dtype = starts.dtype if jnp.issubdtype(starts.dtype, jnp.floating) else jnp.float32
    else:
        total = check_positive_int(num_starts, "num_starts")
        dtype = jnp.float32
    k_starts, k_rule = jax.random.split(key)
    finals = []
    unconverged = 0
    bs = min(batch_size, total)  # every batch has this shape: one compilation
    for b, lo in enumerate(range(0, total, bs)):
        size = min(bs, total - lo)
        if starts is not None:
            cues = starts[lo : lo + size].astype(dtype)
            if size < bs:  # pad the last batch (results of the padding are dropped)
                cues = jnp.concatenate([cues, jnp.broadcast_to(cues[:1], (bs - size, n))])
        else:
            cues = random_binary(jax.random.fold_in(k_starts, b), bs, n, dtype=dtype)
        out = retrieve(
            model, cues, rule=rule, max_steps=max_steps, key=jax.random.fold_in(k_rule, b)
        )
        ok = np.asarray(_fixed(model, out.states))[:size]
        unconverged += int(size - ok.sum())
        finals.append(np.asarray(out.states)[:size][ok].astype(np.int8))
    final = np.concatenate(finals, axis=0) if finals else np.zeros((0, n), np.int8)
    states, counts = _dedupe(final, merge_negations, dtype)
    return StableStates(states=states, counts=counts, num_starts=total, num_unconverged=unconverged)


def all_states(N: int, *, dtype=jnp.float32) -> Float[Array, "2^N N"]:
    """Every state of {-1,+1}^N (N <= 20), in binary counting order (bit 0 = last neuron)."""
    N = check_positive_int(N, "N")
    dtype = check_pm1_dtype(dtype)
    if N > _MAX_ENUMERATE:
        raise ValueError(f"`N` must be <= {_MAX_ENUMERATE} to enumerate 2^N states; got {N}")
    idx = np.arange(2**N, dtype=np.int64)[:, None]
    bits = (idx >> np.arange(N - 1, -1, -1)) & 1
    return jnp.asarray(np.where(bits == 1, 1.0, -1.0), dtype)


def enumerate_stable_states(
    model: AbstractBinaryMemory, *, batch_size: int = 1 << 14
) -> Float[Array, "M N"]:
    """All stable states of a small network (N <= 20), by checking every one of the 2^N states.

    **Returns:** the (M, N) fixed points of ``model.update``, in binary counting order.

    **Raises:** ``ValueError`` if ``model.dim > 20``; ``TypeError`` for a non-binary model.
    """
    _check_model(model)
    batch_size = check_positive_int(batch_size, "batch_size")
    n = model.dim
    if n > _MAX_ENUMERATE:
        raise ValueError(
            f"exhaustive enumeration needs N <= {_MAX_ENUMERATE} (2^N states); model has N = {n}"
        )
    every = all_states(n)
    keep = [
        np.asarray(_fixed(model, every[lo : lo + batch_size]))
        for lo in range(0, every.shape[0], batch_size)
    ]
    return every[np.concatenate(keep)]
