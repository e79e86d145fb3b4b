"""Capacity by binary search over K: the largest K for which a criterion holds.

K enters only through a 0/1 mask over a padded (K_max, N) pattern array, so the search compiles
once for all K it tries, and runs in lockstep for every seed under ``vmap``.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Bool, Float, Int, PRNGKeyArray
from .._validation import check_binary_patterns, check_fraction, check_key, check_positive_int
from ..components.interactions import AbstractInteraction
from ..dynamics import AbstractRule, Sync, retrieve
from ..models import BinaryDAM
from ..patterns import flip
from ._measure import _active, is_fixed_point, settled


class AbstractCriterion(eqx.Module):
    """A monotone capacity criterion: does a memory with the first K patterns still work?"""

    @abc.abstractmethod
    def __call__(self, model: BinaryDAM, key: PRNGKeyArray) -> Bool[Array, ""]:
        """Evaluate on ``model`` whose ``mask`` selects the first K patterns."""


class Stable(AbstractCriterion):
    """All stored patterns are fixed points (the 'no errors allowed' capacity)."""

    def __call__(self, model, key):
        fixed = is_fixed_point(model, model.patterns)
        return jnp.all(fixed | ~_active(model))


class Retrieves(AbstractCriterion):
    """At least ``threshold`` of the stored patterns are retrieved exactly from cues with a
    fraction ``rho`` of flipped bits (``method`` "exact" or "bernoulli") under ``rule``: the run
    converged (:func:`settled`) and its fixed point equals the pattern."""

    rho: Float[Array, ""]
    threshold: Float[Array, ""]
    rule: AbstractRule
    max_steps: int = eqx.field(static=True)
    method: str = eqx.field(static=True)

    def __init__(
        self,
        rho: float = 0.1,
        threshold: float = 0.9,
        rule: AbstractRule | None = None,
        max_steps: int = 50,
        method: str = "exact",
    ):
        # rho and threshold are stored as arrays so that new values do not recompile the search
        self.rho = jnp.asarray(check_fraction(rho, "rho"), jnp.float32)
        self.threshold = jnp.asarray(check_fraction(threshold, "threshold"), jnp.float32)
        self.rule = Sync() if rule is None else rule
        self.max_steps = check_positive_int(max_steps, "max_steps")
        if method not in ("exact", "bernoulli"):
            raise ValueError(f"`method` must be 'exact' or 'bernoulli'; got {method!r}")
        self.method = method

    def __call__(self, model, key):
        k_flip, k_rule = jax.random.split(key)
        cues = flip(k_flip, model.patterns, self.rho, method=self.method)
        res = retrieve(model, cues, rule=self.rule, max_steps=self.max_steps, key=k_rule)
        ok = jnp.all(res.states == model.patterns, axis=-1) & settled(self.rule, res)
        active = _active(model)
        rate = jnp.sum(ok & active) / jnp.maximum(jnp.sum(active), 1)
        return rate >= self.threshold


def _check_resolution(k_resolution) -> float:
    """``k_resolution`` as a float in [0, 1/2), or a ``ValueError`` naming it."""
    if isinstance(k_resolution, bool) or not 0.0 <= float(k_resolution) < 0.5:
        raise ValueError(f"`k_resolution` must lie in [0, 0.5); got {k_resolution!r}")
    return float(k_resolution)


def _step(a, rel: float):
    """The bracket width at which a bisection stops: 1, or ``floor(rel * a)`` when larger."""
    if rel == 0.0:
        return jnp.int32(1)
    return jnp.maximum(1, (rel * jnp.maximum(a, 0).astype(jnp.float32)).astype(jnp.int32))


#: evaluations a recording bisection keeps (more than the 32 of an int32 range at step 1)
_HISTORY = 40


def _bisect(pred, lo, hi, *, rel: float = 0.0, bracket=None, value=None):
    """Bisection for the largest K in [lo, hi] with ``pred(K)`` (assumed monotone: true, then
    false). Returns ``(a, b, n)``: ``pred(a)`` holds (``a = lo - 1`` if it holds nowhere),
    ``pred(b)`` fails (``b = hi + 1`` if it holds everywhere), ``b - a <= max(1, rel a)``, and
    ``n`` evaluations. ``bracket`` = (a0, b0) starts from a bracket already known (by the same
    convention) instead of ``(lo - 1, hi + 1)``. With ``value`` (K -> int32 scalar) the test is
    ``pred(value(K))`` and ``(a, b, n, ks, values)`` is returned: the evaluated pairs too
    (``_HISTORY`` slots, K = -1 where unused)."""
    record = value is not None

    def cond(c):
        return c[1] - c[0] > _step(c[0], rel)

    def body(c):
        a, b, n, ks, vs = c
        mid = a + (b - a) // 2
        if record:
            v = value(mid)
            ok = pred(v)
            ks, vs = ks.at[n].set(mid), vs.at[n].set(v)
        else:
            ok = pred(mid)
        return jnp.where(ok, mid, a), jnp.where(ok, b, mid), n + 1, ks, vs

    a0, b0 = (lo - 1, hi + 1) if bracket is None else bracket
    size = _HISTORY if record else 0
    ks, vs = jnp.full((size,), -1, jnp.int32), jnp.zeros((size,), jnp.int32)
    a, b, n, ks, vs = jax.lax.while_loop(cond, body, (a0, b0, jnp.int32(0), ks, vs))
    return (a, b, n, ks, vs) if record else (a, b, n)


def _bracket_from(ks, ok, lo, hi):
    """The tightest bisection bracket of a monotone predicate within [lo, hi] that the
    evaluated points ``ks`` (-1: none) with outcomes ``ok`` give: (largest K with ok, or
    lo - 1; smallest K above it without ok, or hi + 1)."""
    inside = (ks >= lo) & (ks <= hi)
    a = jnp.max(jnp.where(inside & ok, ks, lo - 1))
    b = jnp.min(jnp.where(inside & ~ok & (ks > a), ks, hi + 1))
    return a, b


@eqx.filter_jit
def _search(patterns, F, criterion, keys, k_lo, k_hi):
    kmax = patterns.shape[-2]

    def per_seed(pats, key):
        def ok(K):
            mask = (jnp.arange(kmax) < K).astype(pats.dtype)
            return criterion(BinaryDAM(pats, F, mask=mask), key)

        return _bisect(ok, k_lo, k_hi)[0]

    return jax.vmap(per_seed)(patterns, keys)


def _bounds(k_min, k_max, pool: int) -> tuple[int, int]:
    """``(k_min, k_max)`` of a search over K in a pool of ``pool`` patterns (``k_max`` default
    ``pool``), checked: positive integers with ``k_min <= k_max <= pool``."""
    k_max = pool if k_max is None else check_positive_int(k_max, "k_max")
    check_positive_int(k_min, "k_min")
    if k_max > pool:
        raise ValueError(f"`k_max` = {k_max} exceeds the pattern pool size {pool}")
    if k_min > k_max:
        raise ValueError(f"`k_min` must be <= `k_max`; got {k_min} > {k_max}")
    return k_min, k_max


def capacity_search(
    patterns: Float[Array, "S Kmax N"],
    F: AbstractInteraction,
    *,
    criterion: AbstractCriterion | None = None,
    key: PRNGKeyArray,
    k_min: int = 1,
    k_max: int | None = None,
) -> Int[Array, " S"]:
    """Largest K in [k_min, k_max] for which ``criterion`` holds with the first K patterns.

    Binary search over K, run in lockstep for every seed (leading axis S of ``patterns``, one
    candidate pattern pool per seed) inside one compiled function: K enters only through the mask
    of a :class:`BinaryDAM`, so no K tried triggers a recompilation. Assumes the criterion is
    monotone in K (holds below capacity, fails above); returns ``k_min - 1`` when it fails already
    at ``k_min`` and ``k_max`` when it never fails. The same key is used for every K of a seed
    (common random numbers), which keeps noisy criteria close to monotone.

    EXACT and dense: every candidate K evaluates the criterion on the whole padded (K_max, N)
    float32 pool (``Stable``: K_max x K_max overlaps per evaluation) -- for small sizes. At scale
    use :func:`no_error_capacity` (the same answer as ``Stable``, blocked, int8 or regenerated
    patterns) and :func:`sampled_k_half`.
    """
    patterns = jnp.asarray(patterns)
    if patterns.ndim != 3:
        raise ValueError(
            f"`patterns` must have shape (S, K_max, N) (seeds, pattern pool, neurons); "
            f"got {patterns.shape}"
        )
    k_min, k_max = _bounds(k_min, k_max, patterns.shape[1])
    # values are checked here, at the boundary: inside the jitted search the model is built
    # from tracers and its own check cannot see them (a 0/1 or NaN pool gave a result before)
    check_binary_patterns(patterns.reshape(-1, patterns.shape[-1]), "patterns")
    if not isinstance(F, AbstractInteraction):
        raise TypeError(
            f"`F` must be an interaction function such as damjax.Polynomial(3); got {F!r}"
        )
    criterion = Stable() if criterion is None else criterion
    if not isinstance(criterion, AbstractCriterion):
        raise TypeError(
            f"`criterion` must be a capacity criterion such as damjax.capacity.Stable() or "
            f"Retrieves(rho=0.1); got {criterion!r}"
        )
    check_key(key)
    keys = jax.random.split(key, patterns.shape[0])
    # k_min / k_max enter as arrays: other bounds reuse the same compilation
    return _search(patterns, F, criterion, keys, jnp.int32(k_min), jnp.int32(k_max))
