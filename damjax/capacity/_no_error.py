r"""No-error capacity at scale, EXACT, on blocked fields (:class:`BlockedDAM`): the largest K for
which all K stored patterns are fixed points, with one field evaluation per pattern, in chunks of
``chunk`` patterns (no dynamics), stopping at the first unstable chunk. Cost per candidate K: at
most ``4 K^2 N`` flops. The dense small-size twin is :func:`damjax.capacity.capacity_search` with
``Stable()``; the two give the same answers on the same patterns.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Int, PRNGKeyArray
from .._validation import check_positive_int
from ..components.interactions import AbstractInteraction
from ._blocked import DEFAULT_BLOCK, BlockedDAM, _compile_within, _sources
from ._search import _bisect, _bounds

__all__ = ["no_error_capacity"]


def _all_rows_pass(source, K, chunk: int, is_fixed) -> Array:
    """Whether ``is_fixed(X)`` (a (chunk,) bool) holds for all of the first ``K`` patterns of
    ``source``, checked ``chunk`` rows at a time and stopping at the first chunk that fails
    (traceable in ``K``; the last chunk is padded with row ``K - 1``)."""
    nchunks = (K + chunk - 1) // chunk

    def cond(c):
        i, ok = c
        return ok & (i < nchunks)

    def body(c):
        i, _ = c
        idx = i * chunk + jnp.arange(chunk)
        X = source.rows(jnp.minimum(idx, K - 1))
        return i + 1, jnp.all(is_fixed(X) | (idx >= K))

    return jax.lax.while_loop(cond, body, (jnp.int32(0), jnp.asarray(True)))[1]


def _no_error_one(F, source, k_lo, k_hi, chunk: int):
    """Traceable per-seed search: (largest K with all K patterns stable, evaluations)."""

    def all_stable(K):
        model = BlockedDAM(source, F, num_active=K)
        return _all_rows_pass(source, K, chunk, model.is_fixed)

    a, _, n = _bisect(all_stable, k_lo, k_hi)
    return a, n


def no_error_capacity(
    F: AbstractInteraction,
    *,
    key: PRNGKeyArray | None = None,
    patterns=None,
    dim: int | None = None,
    k_max: int | None = None,
    seeds: int = 1,
    k_min: int = 1,
    chunk: int = 256,
    block_size: int = DEFAULT_BLOCK,
    memory_budget: int | None = None,
) -> Int[Array, " S"]:
    r"""No-error capacity per seed, EXACT: the largest K in [k_min, k_max] for which all of the
    first K patterns are fixed points of the update (Krotov & Hopfield 2016's "no errors
    allowed" criterion), by bisection over K.

    Each candidate K checks every pattern with one field evaluation (no dynamics), ``chunk``
    patterns at a time, and stops at the first chunk holding an unstable pattern: at most
    4 K^2 N flops, memory O(chunk x block + block x N).

    **Arguments:** as :func:`sampled_k_half` (``key`` is needed only for regenerated patterns);
    ``chunk`` — patterns checked per field evaluation.

    **Returns:** (S,) int array.

    **Raises:** ``ValueError`` naming ``k_min`` when the patterns are not all stable already at
    k_min, ``k_max`` when they are all stable at k_max (the pool cannot answer), and
    ``memory_budget`` when it cannot be met.
    """
    check_positive_int(chunk, "chunk")
    if patterns is None and key is None:
        raise ValueError("`key` is required for regenerated patterns (`patterns=None`)")
    src, _ = _sources(patterns, key, seeds, k_max, dim, block_size)
    k_lo, k_hi = _bounds(k_min, k_max, src.num_patterns)

    def run(F, src, lo, hi):
        return jax.vmap(lambda s: _no_error_one(F, s, lo, hi, chunk))(src)

    args = (F, src, jnp.int32(k_lo), jnp.int32(k_hi))
    dyn, static = eqx.partition(args, eqx.is_array)
    f = lambda d: run(*eqx.combine(d, static))  # noqa: E731
    compiled = _compile_within(f, (dyn,), memory_budget, "this no-error capacity search")
    k, _ = compiled(dyn)
    if bool(jnp.any(k < k_lo)):
        raise ValueError(f"`k_min` = {k_lo} is too large: some patterns are unstable already")
    if bool(jnp.any(k >= k_hi)):
        raise ValueError(
            f"`k_max` = {k_hi} (the pattern pool) cannot answer: all patterns are still stable "
            f"at k_max; use a larger pool / `k_max`"
        )
    return k
