r"""Retrieval from rho-corrupted cues or random starts, and K_1/2 (the K at which half of the
cues are retrieved), built on :func:`retrieval_stats` and :func:`capacity_search`."""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Float, Int, PRNGKeyArray, Scalar
from .._validation import check_fraction, check_key, check_positive_int
from ..components.interactions import AbstractInteraction
from ..dynamics import AbstractRule, Sync, retrieve
from ..models import BinaryDAM
from ..patterns import flip
from ._measure import _active, retrieval_summary, settled
from ._search import AbstractCriterion, Retrieves, capacity_search


def _memory_rate(states, patterns, active, where=None):
    """Share of states equal to an active memory or its negation (|xi . s| = N), counting only
    the states where ``where`` (default all)."""
    n = patterns.shape[-1]
    m = jnp.abs(states @ patterns.T)
    hit = jnp.any((m == n) & active[None, :], axis=-1)
    if where is not None:
        hit = hit & where
    return jnp.mean(hit)


def noisy_retrieval(
    model: BinaryDAM,
    rho: float,
    *,
    key: PRNGKeyArray,
    rule: AbstractRule | None = None,
    max_steps: int = 100,
    num_cues: int | None = None,
    method: Literal["exact", "bernoulli"] = "exact",
) -> dict[str, Scalar]:
    r"""Retrieval of the stored memories from cues with a fraction ``rho`` of flipped bits.

    Cues are the (active) memories themselves (``num_cues=None``) or ``num_cues`` memories drawn
    uniformly among the active ones, corrupted with :func:`damjax.patterns.flip`, then run with
    ``rule`` (any dynamics rule, default ``Sync()``). ``rho = 1/2`` with ``method="bernoulli"``
    gives uniformly random starts.

    **Returns:** the scalars of :func:`retrieval_stats` (``exact_rate`` = share of cues whose final
    state equals their memory, ``bit_error_rate``, ``final_overlap``, ``nearest_overlap``,
    ``converged_rate``, ``mean_steps``) plus ``memory_rate`` (share ending exactly on ANY active
    memory or its negation).

    **Raises:** ``ValueError`` for rho outside [0, 1] or ``num_cues`` < 1.
    """
    check_fraction(rho, "rho")
    if not isinstance(model, BinaryDAM):
        raise TypeError(f"`model` must be a damjax.BinaryDAM; got {type(model).__name__}")
    k_sel, k_flip, k_rule = jax.random.split(check_key(key), 3)
    X = model.patterns
    active = _active(model)
    if num_cues is None and model.mask is None:
        targets = X
    else:
        nc = model.num_patterns if num_cues is None else check_positive_int(num_cues, "num_cues")
        p = active.astype(X.dtype) / jnp.sum(active)
        idx = jax.random.choice(k_sel, model.num_patterns, (nc,), p=p)
        targets = X[idx]
    cues = flip(k_flip, targets, rho, method=method)
    res = retrieve(model, cues, rule=rule, max_steps=max_steps, key=k_rule)
    out = retrieval_summary(res, targets, X)
    out["memory_rate"] = _memory_rate(res.states, X, active)
    return out


class ReachesMemory(AbstractCriterion):
    """From ``num_starts`` uniformly random states, at least ``threshold`` of the runs of ``rule``
    converge exactly onto a stored memory (or its negation) — the random-start criterion of
    Krotov & Hopfield 2016, Appendix B (a run still moving at ``max_steps`` never counts)."""

    num_starts: int = eqx.field(static=True, default=100)
    threshold: float = 0.5
    rule: AbstractRule = Sync()
    max_steps: int = eqx.field(static=True, default=50)

    def __check_init__(self):
        check_positive_int(self.num_starts, "num_starts")
        check_fraction(self.threshold, "threshold")

    def __call__(self, model, key):
        k_s, k_r = jax.random.split(key)
        n = model.patterns.shape[-1]
        starts = jnp.where(jax.random.bernoulli(k_s, 0.5, (self.num_starts, n)), 1.0, -1.0)
        starts = starts.astype(model.patterns.dtype)
        res = retrieve(model, starts, rule=self.rule, max_steps=self.max_steps, key=k_r)
        ok = settled(self.rule, res)
        rate = _memory_rate(res.states, model.patterns, _active(model), ok)
        return rate >= self.threshold


def k_half(
    patterns: Float[Array, "S Kmax N"],
    F: AbstractInteraction,
    *,
    key: PRNGKeyArray,
    rho: float = 0.0,
    rule: AbstractRule | None = None,
    max_steps: int = 50,
    method: Literal["exact", "bernoulli"] = "exact",
    starts: Literal["cues", "random"] = "cues",
    num_starts: int = 100,
    k_min: int = 1,
    k_max: int | None = None,
) -> Int[Array, " S"]:
    r"""K_1/2: the largest K at which at least half of the cues are retrieved, per seed.

    ``starts="cues"``: every stored memory is cued with a fraction ``rho`` of flipped bits and
    counts as retrieved when ``rule`` brings it back exactly (``rho = 0``: half of the memories
    survive the dynamics started at them). ``starts="random"``: ``num_starts`` uniformly random
    states, counted when they end on any memory (Krotov & Hopfield 2016, Appendix B).

    Binary search over K by :func:`capacity_search` (compiled once, vmapped over seeds, common
    random numbers across K); assumes the retrieved share decreases with K.

    EXACT (every memory cued, no sampling error): per candidate K the dynamics run on the whole
    padded pool, O(K_max^2 N) per step with the (K_max, K_max) overlaps materialised in float32
    -- for small sizes (N <= 200). At scale use :func:`sampled_k_half` (probes, Wilson interval,
    memory O(B x block + block x N)).

    **Arguments:** ``patterns`` — (S, K_max, N) pattern pools, one per seed; ``F`` — interaction;
    ``key``; the rest as above.

    **Returns:** (S,) int array of K_1/2 per seed (``k_min - 1`` if already below half at
    ``k_min``, ``k_max`` if never).
    """
    rule = Sync() if rule is None else rule
    if starts == "cues":
        crit = Retrieves(rho=rho, threshold=0.5, rule=rule, max_steps=max_steps, method=method)
    elif starts == "random":
        crit = ReachesMemory(num_starts=num_starts, threshold=0.5, rule=rule, max_steps=max_steps)
    else:
        raise ValueError(f"`starts` must be 'cues' or 'random'; got {starts!r}")
    return capacity_search(patterns, F, criterion=crit, key=key, k_min=k_min, k_max=k_max)
