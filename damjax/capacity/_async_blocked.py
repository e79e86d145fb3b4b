"""Prototype: the asynchronous sweep with the cues processed in cache-sized blocks.

The asynchronous rule keeps the (B, K) overlaps of the whole batch up to date after every
neuron; at N = 1600, K = 64,000, B = 64 they are 16 MB, far beyond the CPU caches, so every one of
the N neuron steps streams them from memory twice. Running the SAME rule on ``cue_block`` cues at
a time (``lax.map`` with ``batch_size``: blocks in sequence, the cues of a block vmapped) keeps a
block's overlaps (cue_block x K x 4 bytes) in cache for the whole sweep. Each cue's computation is
unchanged (the rule runs per cue), so the states are those of the reference rule.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._custom_types import Array, Float, PRNGKeyArray
from .._validation import check_positive_int
from ..dynamics import Async, Retrieval, retrieve
from ..models._base import AbstractBinaryMemory


def blocked_async(
    model: AbstractBinaryMemory,
    states: Float[Array, "B N"],
    *,
    key: PRNGKeyArray,
    rule: Async | None = None,
    max_steps: int = 1,
    cue_block: int = 4,
) -> Retrieval:
    """``rule`` (default ``Async()``) from every state, ``cue_block`` states at a time.

    **Arguments:** ``model`` — a binary model; ``states`` — (B, N); ``key`` — split into one key
    per block of ``cue_block`` states (each block is one :func:`damjax.retrieve` call); ``max_steps`` — sweeps; ``cue_block`` — states
    whose overlaps should stay in cache together (4 x K x 4 bytes = 1 MB at K = 64,000).

    **Returns:** a batched :class:`damjax.Retrieval`.
    """
    rule = Async() if rule is None else rule
    check_positive_int(cue_block, "cue_block")
    B, N = states.shape
    block = min(cue_block, B)
    nb = -(-B // block)
    # pad with copies of the first state (valid cues) to whole blocks; one retrieve per block
    padded = jnp.concatenate([states, jnp.broadcast_to(states[:1], (nb * block - B, N))])
    keys = jax.random.split(key, nb)

    def one(args):
        s, k = args
        return retrieve(model, s, rule=rule, max_steps=max_steps, key=k)

    out = jax.lax.map(one, (padded.reshape(nb, block, N), keys))
    return jax.tree.map(lambda x: x.reshape(nb * block, *x.shape[2:])[:B], out)
