"""The one place where the capacity package runs dynamics (a jit/vmap-safe batch of rule runs).

Every estimator in :mod:`damjax.capacity` that evolves cues calls :func:`_run_rule`, so the whole
package can switch to another entry point (e.g. a jit/vmap-safe :func:`damjax.retrieve`) here.
"""

from __future__ import annotations

import jax

from .._custom_types import Array, Float, PRNGKeyArray
from ..dynamics import AbstractRule, Retrieval, Sync, retrieve
from ..models._base import AbstractMemory


def _run_rule(
    model: AbstractMemory,
    cues: Float[Array, "B N"],
    *,
    rule: AbstractRule | None,
    max_steps: int,
    key: PRNGKeyArray | None,
) -> Retrieval:
    """Run ``rule`` (default ``Sync()``) from every cue, one key per cue split from ``key``.

    Called eagerly, this is :func:`damjax.retrieve` (argument checks, one compiled batch); inside
    a trace (a capacity search under ``jit`` / ``vmap``) the same batch of rule runs, unchecked.
    """
    if not any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves((model, cues, key))):
        return retrieve(model, cues, rule=rule, max_steps=max_steps, key=key)
    rule = Sync() if rule is None else rule
    keys = jax.random.split(key, cues.shape[0])
    return jax.vmap(
        lambda c, k: rule.run(model, c, key=k, max_steps=max_steps, record_energy=False)
    )(cues, keys)
