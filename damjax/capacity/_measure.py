r"""Capacity and retrieval measurements.

* :func:`fixed_point_fraction` — share of stored patterns that are fixed points of the update.
* :func:`retrieval_stats` — exact-retrieval rate, bit-error rate and overlaps after running
  dynamics from (corrupted) cues.
* :func:`nearest_overlap` — normalised overlap with the closest memory, max_mu |xi^mu . s| / N.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._custom_types import Array, Bool, Float, PRNGKeyArray, Scalar
from .._validation import check_state_width
from ..dynamics import AbstractRule, OneStep, Retrieval, retrieve
from ..models._base import AbstractMemory, AbstractPatternMemory


def nearest_overlap(
    states: Float[Array, "*B N"], patterns: Float[Array, "K N"]
) -> Float[Array, "*B"]:
    """``max_mu |xi^mu . s| / N`` for every state (1 = the state is a memory or its negation).

    **Raises:** ``ValueError`` unless ``patterns`` is a (K, N) array (K >= 1) and ``states``
    have last dimension N."""
    patterns = jnp.asarray(patterns)
    if patterns.ndim != 2 or patterns.shape[0] < 1:
        raise ValueError(f"`patterns` must have shape (K, N), K >= 1; got {patterns.shape}")
    states = jnp.asarray(states)
    check_state_width(states, patterns.shape[-1], "states")
    m = jnp.abs(states @ patterns.T)
    return jnp.max(m, axis=-1) / patterns.shape[-1]


def _active(model: AbstractPatternMemory) -> Bool[Array, " K"]:
    return model.active_patterns


def is_fixed_point(model: AbstractMemory, states: Float[Array, "*B N"]) -> Bool[Array, "*B"]:
    """True where one synchronous update leaves the state unchanged
    (``model.is_fixed_point``, batched over the leading axes).

    **Raises:** ``TypeError`` for a ``model`` that is not a damjax model; the model's own errors
    for states that do not fit it (wrong width; a binary model's non-+-1 values)."""
    if not isinstance(model, AbstractMemory):
        raise TypeError(f"`model` must be a damjax model; got {type(model).__name__}")
    states = jnp.asarray(states)
    if states.ndim < 1:
        raise ValueError("`states` must have shape (..., N); got a scalar")
    model.check_state(states, "states")
    flat = states.reshape(-1, states.shape[-1])
    return jax.vmap(model.is_fixed_point)(flat).reshape(states.shape[:-1])


def settled(rule: AbstractRule, res: Retrieval) -> Bool[Array, "*B"]:
    """Where a run may count as retrieved: it converged to a fixed point. A state still moving
    after ``max_steps`` (e.g. a 2-cycle of synchronous dynamics that passes through the memory
    at the last step) never counts, whatever it equals then. ``OneStep`` is judged on its one
    step (its ``converged`` says only whether the cue was already fixed)."""
    if isinstance(rule, OneStep):
        return jnp.ones_like(res.converged)
    return res.converged


def fixed_point_fraction(model: AbstractPatternMemory) -> Scalar:
    """Fraction of the stored (unmasked) patterns that are fixed points of the update rule."""
    fixed = is_fixed_point(model, model.patterns)
    active = _active(model)
    return jnp.sum(fixed & active) / jnp.sum(active)


def retrieval_stats(
    model: AbstractMemory,
    cues: Float[Array, "B N"],
    targets: Float[Array, "B N"],
    *,
    rule: AbstractRule | None = None,
    max_steps: int = 100,
    key: PRNGKeyArray | None = None,
    patterns: Float[Array, "K N"] | None = None,
) -> dict[str, Scalar]:
    """Run ``rule`` from ``cues`` and compare the final states with ``targets``.

    **Returns** a dict of scalars: ``exact_rate`` (share of cues retrieved with no bit wrong),
    ``bit_error_rate``, ``final_overlap`` (mean s . target / N), ``nearest_overlap`` (mean overlap
    with the closest of ``patterns``, default the model's patterns), ``converged_rate``,
    ``mean_steps``.
    """
    cues = jnp.asarray(cues)
    targets = jnp.asarray(targets)
    if cues.shape != targets.shape:
        raise ValueError(
            f"`targets` must have the shape of `cues` {cues.shape}; got {targets.shape}"
        )
    out = retrieve(model, cues, rule=rule, max_steps=max_steps, key=key)
    pats = patterns if patterns is not None else getattr(model, "patterns", targets)
    return retrieval_summary(out, targets, pats)


def retrieval_summary(
    res: Retrieval, targets: Float[Array, "B N"], patterns: Float[Array, "K N"]
) -> dict[str, Scalar]:
    """The scalars of :func:`retrieval_stats`, from a finished :class:`damjax.Retrieval`."""
    s = res.states
    n = s.shape[-1]
    return {
        "exact_rate": jnp.mean(jnp.all(s == targets, axis=-1)),
        "bit_error_rate": jnp.mean(s != targets),
        "final_overlap": jnp.mean(jnp.sum(s * targets, axis=-1) / n),
        "nearest_overlap": jnp.mean(nearest_overlap(s, patterns)),
        "converged_rate": jnp.mean(res.converged),
        "mean_steps": jnp.mean(res.steps.astype(jnp.float32)),
    }
