r"""K_1/2 at scale, SAMPLED, on blocked fields (:class:`BlockedDAM`): :func:`sampled_k_half` judges
each candidate K (the K at which half of the cues are retrieved) from ``num_probes`` probe cues,
with a Wilson binomial interval (:mod:`._wilson`). Cost per candidate K: ``num_probes x steps x 4
K N`` flops (no K x K work).

The exact estimator for small sizes is :func:`damjax.capacity.k_half` (every memory is cued,
K_pool^2 N per step, all of it materialised); the two give the same answers on the same patterns
(the sampled one within its interval) with memory O(B x block + block x N). The exact no-error
capacity at scale is :func:`damjax.capacity.no_error_capacity` (:mod:`._no_error`).

K is searched by bisection (:mod:`._search`) inside one compiled function, vmapped over seeds
(mapped in sequence for asynchronous probes, which run on size buckets of the pool),
with common random numbers across K (probe u_j picks pattern floor(u_j K); the flips and random
starts do not depend on K), so the estimated rate is close to monotone in K.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Int, PRNGKeyArray
from .._validation import check_fraction, check_key, check_positive_int
from ..components.interactions import AbstractInteraction
from ..dynamics import AbstractRule, Async, Sync, retrieve, settle_async
from ..models import BinaryDAM
from ..patterns import flip
from ._blocked import (
    DEFAULT_BLOCK,
    AbstractPatternSource,
    BlockedDAM,
    _compile_within,
    _sources,
)
from ._measure import settled
from ._search import _bisect, _bounds, _bracket_from, _check_resolution
from ._wilson import _resolve_probes, wilson_interval

__all__ = ["KHalfEstimate", "sampled_k_half"]


class KHalfEstimate(NamedTuple):
    """Result of :func:`sampled_k_half` (arrays of shape (S,), one entry per seed).

    * ``k_half`` — largest K whose estimated retrieval rate is >= 1/2 (to ``resolution``).
    * ``lower`` — largest K whose rate is above 1/2 with the interval's confidence (Wilson lower
      bound > 1/2); ``upper`` — smallest K whose rate is below 1/2 likewise (upper bound < 1/2).
      [lower, upper] is the interval of K_1/2.
    * ``num_probes``, ``confidence`` — the probe count per candidate K and the confidence of each
      Wilson bound; ``evaluations`` — candidate K evaluated per seed (1: one pass for all K).
    * ``resolution`` — the step of the K grid searched: 1 for bisection over every K, the widest
      final bracket (over seeds and the three bisections) with a relative ``k_resolution``, the
      block size for the one-pass rho = 0 curve; K_1/2 lies in [k_half, k_half + resolution).
    """

    k_half: Int[Array, " S"]
    lower: Int[Array, " S"]
    upper: Int[Array, " S"]
    num_probes: int
    confidence: float
    evaluations: Int[Array, " S"]
    resolution: int = 1

    @property
    def relative_width(self):
        """``(upper - lower) / k_half`` per seed."""
        return (self.upper - self.lower) / jnp.maximum(self.k_half, 1)


def async_slots(num_probes: int) -> int:
    """Lanes of :func:`settle_async` for ``num_probes`` probes: one per 8 probes, at least 8
    (on 2 CPU cores 12 lanes beat 6, 24 and 48 for 93 probes at N = 400 and N = 1000)."""
    return max(8, -(-int(num_probes) // 8))


#: ratio of consecutive pool sizes in :func:`async_buckets`, and the smallest size
_BUCKET_RATIO = 2**-0.5
_BUCKET_FLOOR = 1024


def async_buckets(pool: int) -> tuple[int, ...]:
    """Pattern counts (descending, the first ``pool``) over which asynchronous probes run: a
    candidate K runs on the first ``s`` patterns of the pool for the smallest ``s >= K``.
    Consecutive sizes differ by 2^(1/2) (rounded up to a multiple of 64) down to
    ~:data:`_BUCKET_FLOOR`, so a candidate pays for at most ~1.41 K patterns (or 1024) instead of
    the whole pool; each size is one branch of a ``lax.switch`` (compiled once, ~0.5 s each at
    N = 1000)."""
    sizes = [int(pool)]
    while True:
        nxt = -(-int(np.ceil(sizes[-1] * _BUCKET_RATIO)) // 64) * 64
        if nxt < _BUCKET_FLOOR or nxt >= sizes[-1]:
            return tuple(sizes)
        sizes.append(nxt)


def _bucketed(rule: AbstractRule, starts: str, rho: float) -> bool:
    """Whether a K_1/2 search runs its probes on size buckets: ``Async`` probes that run
    dynamics (not the one-pass rho = 0 cue curve)."""
    return isinstance(rule, Async) and not (starts == "cues" and float(rho) == 0.0)


class _Probe(eqx.Module):
    """How a candidate K is judged: probe cues and what counts as retrieved.

    ``buckets`` (``Async`` only): run a candidate on the smallest of :func:`async_buckets` that
    holds K patterns, through a ``lax.switch``. Only where K is not batched: under ``vmap`` the
    switch becomes a select that runs every branch (callers that set it map over seeds with
    ``lax.map``)."""

    F: AbstractInteraction
    rule: AbstractRule
    rho: float = eqx.field(static=True)
    num_probes: int = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    starts: str = eqx.field(static=True)
    method: str = eqx.field(static=True)
    buckets: bool = eqx.field(static=True, default=False)

    def dynamics_model(self, source: AbstractPatternSource, K, size: int | None = None):
        """The model the dynamics run on: the blocked field (any synchronous rule), or for
        ``Async`` (whose kernel needs a dense model) a :class:`damjax.BinaryDAM` over the first
        ``size`` patterns of the pool (default all) as float32 with a mask on the first K --
        size x N x 4 bytes, and its sweeps cost O(size) per neuron. Its ties are decided as
        over the whole pool (``tie_patterns``), so every size gives the pool's dynamics."""
        if isinstance(self.rule, Async):
            pool = source.num_patterns
            size = pool if size is None else size
            X = source.rows(jnp.arange(size))  # only the rows the bucket uses
            mask = (jnp.arange(size) < K).astype(X.dtype)
            return BinaryDAM(X, self.F, mask=mask, tie_patterns=pool)
        return BlockedDAM(source, self.F, num_active=K)

    def _settle(self, source, K, cues, key, size=None):
        res = settle_async(
            self.dynamics_model(source, K, size),
            cues,
            rule=self.rule,
            key=key,
            max_steps=self.max_steps,
            slots=async_slots(cues.shape[0]),
        )
        return res.states, res.converged

    def _dynamics(self, source, K, cues, key):
        """(final states, settled, max_mu<K |xi^mu . s|) of ``rule`` run from ``cues``.

        ``Async`` runs on :func:`damjax.dynamics.settle_async` lanes (the states of a
        batched ``retrieve``, at the cost of the probes' summed sweep counts rather than
        ``num_probes`` x the slowest: measured 1.45-1.8x faster from random starts), over the
        whole pool or, with ``buckets``, over the smallest bucket that holds K (measured 3.6x
        faster for K = 11,000 in a pool of 48,903 at N = 1000)."""
        if isinstance(self.rule, Async):
            sizes = async_buckets(source.num_patterns) if self.buckets else ()
            if len(sizes) > 1:
                which = jnp.sum(jnp.asarray(sizes) >= K) - 1
                branches = [lambda c, k, s=s: self._settle(source, K, c, k, s) for s in sizes]
                states, ok = jax.lax.switch(which, branches, cues, key)
            else:
                states, ok = self._settle(source, K, cues, key)
        else:
            res = retrieve(
                self.dynamics_model(source, K),
                cues,
                rule=self.rule,
                max_steps=self.max_steps,
                key=key,
            )
            states, ok = res.states, settled(self.rule, res)
        top = BlockedDAM(source, self.F, num_active=K).max_overlap(states)
        return states, ok, top

    def successes(self, source: AbstractPatternSource, K, key, dynamics=None):
        """Number of the ``num_probes`` probes retrieved with the first K patterns: runs that
        converged (:func:`damjax.capacity._measure.settled`) onto their memory (``"cues"``) or
        onto any of the K memories or its negation (``"random"``). ``dynamics(source, K, cues,
        key) -> (states, settled, max_overlap)`` replaces :meth:`_dynamics` (K-sharding)."""
        k_u, k_flip, k_rule = jax.random.split(key, 3)
        dynamics = self._dynamics if dynamics is None else dynamics
        if self.starts == "cues":
            u = jax.random.uniform(k_u, (self.num_probes,))
            idx = jnp.minimum((u * K).astype(jnp.int32), K - 1)
            targets = source.rows(idx)
            cues = flip(k_flip, targets, self.rho, method=self.method)
            states, ok, _ = dynamics(source, K, cues, k_rule)
            ok = jnp.all(states == targets, axis=-1) & ok
        else:
            bits = jax.random.bernoulli(k_u, 0.5, (self.num_probes, source.dim))
            cues = jnp.where(bits, 1.0, -1.0).astype(jnp.float32)
            _, ok, top = dynamics(source, K, cues, k_rule)
            ok = (top == source.dim) & ok
        return jnp.sum(ok.astype(jnp.int32))


def _k_half_curve(probe: _Probe, source, k_lo, k_hi, confidence: float, curve=None):
    """rho = 0 cues: a probe is retrieved iff its memory is a fixed point (the dynamics converge
    to it iff they start there and do not move), so the rate at every block boundary K_b comes
    from one pass (:meth:`BlockedDAM.stability_curve`). Probes: patterns 0 ... P-1 (i.i.d.
    patterns, so a uniform sample of the first K for every K >= P; all of them for K < P)."""
    P = min(probe.num_probes, source.num_patterns)
    idx = jnp.arange(P)
    if curve is None:
        model = BlockedDAM(source, probe.F, num_active=k_hi)
        counts, stored = model.stability_curve(source.rows(idx), idx)
    else:  # K-sharded: the same (counts, stored) from every device's slice
        counts, stored = curve(source.rows(idx), idx, k_hi)
    kb = jnp.minimum((jnp.arange(source.num_blocks) + 1) * source.block_size, k_hi)
    valid = (kb >= k_lo) & (kb <= k_hi)
    # probes are distinct stored patterns: a sample without replacement of the K_b patterns
    lo, hi = wilson_interval(counts, jnp.maximum(stored, 1), confidence, population=kb)
    point = jnp.max(jnp.where(valid & (2 * counts >= stored), kb, k_lo - 1))
    lower = jnp.max(jnp.where(valid & (lo > 0.5) & (kb <= point), kb, k_lo - 1))
    upper = jnp.min(jnp.where(valid & (hi < 0.5) & (kb > point), kb, k_hi + 1))
    return point, lower, upper, jnp.int32(1)


def _k_half_one(
    probe: _Probe,
    source,
    key,
    k_lo,
    k_hi,
    confidence: float,
    *,
    rel: float = 0.0,
    dynamics=None,
    curve=None,
):
    """Traceable per-seed search: (point, lower, upper, evaluations, step). ``dynamics`` /
    ``curve`` replace the single-device dynamics and stability curve (K-sharding, :mod:`._shard`).

    Bisections (not rho = 0 cues) stop at a bracket of ``max(1, rel K)`` (``step``: the widest
    bracket of the three; K_1/2 lies in [point, point + step)). The two ends of the interval
    start from the bracket the point's bisection already evaluated (the probes are common
    random numbers, so a candidate K always gets the same count): no K is evaluated twice.
    """
    if probe.starts == "cues" and probe.rho == 0.0:
        point, lower, upper, n = _k_half_curve(probe, source, k_lo, k_hi, confidence, curve)
        return point, lower, upper, n, jnp.int32(source.block_size)
    P = probe.num_probes

    def successes(K):
        return probe.successes(source, K, key, dynamics)

    def lo_hi(count):
        return wilson_interval(count, P, confidence)

    point, b1, n1, ks, counts = _bisect(lambda c: 2 * c >= P, k_lo, k_hi, rel=rel, value=successes)
    c_lo, c_hi = lo_hi(counts)
    # lower: largest K in [k_lo, point] whose rate is confidently above 1/2
    top = jnp.maximum(point, k_lo)
    lower, b2, n2 = _bisect(
        lambda K: lo_hi(successes(K))[0] > 0.5,
        k_lo,
        top,
        rel=rel,
        bracket=_bracket_from(ks, c_lo > 0.5, k_lo, top),
    )
    # upper: smallest K above point whose rate is confidently below 1/2
    first = jnp.minimum(point + 1, k_hi)
    last, upper, n3 = _bisect(
        lambda K: lo_hi(successes(K))[1] >= 0.5,
        first,
        k_hi,
        rel=rel,
        bracket=_bracket_from(ks, c_hi >= 0.5, first, k_hi),
    )
    upper = jnp.maximum(upper, point + 1)
    step = jnp.maximum(jnp.maximum(b1 - point, b2 - lower), upper - last)
    return point, lower, upper, n1 + n2 + n3, step


def _check_bracket(lower, upper, k_lo: int, k_hi: int) -> None:
    """Refuse a K_1/2 whose interval leaves [k_lo, k_hi] (the range cannot answer)."""
    if bool(jnp.any(lower < k_lo)):
        bad = np.flatnonzero(np.asarray(lower < k_lo))
        raise ValueError(
            f"`k_min` = {k_lo} is too large to bracket K_1/2: the retrieval rate is not "
            f"confidently above 1/2 there for seed(s) {bad.tolist()}"
        )
    if bool(jnp.any(upper > k_hi)):
        bad = np.flatnonzero(np.asarray(upper > k_hi))
        raise ValueError(
            f"`k_max` = {k_hi} (the pattern pool) cannot answer: the retrieval rate is not "
            f"confidently below 1/2 at k_max for seed(s) {bad.tolist()}; use a larger "
            f"pool / `k_max`"
        )


def sampled_k_half(
    F: AbstractInteraction,
    *,
    key: PRNGKeyArray,
    patterns=None,
    dim: int | None = None,
    k_max: int | None = None,
    seeds: int = 1,
    k_min: int = 1,
    starts: Literal["cues", "random"] = "cues",
    rho: float = 0.0,
    rule: AbstractRule | None = None,
    max_steps: int = 50,
    method: Literal["exact", "bernoulli"] = "exact",
    num_probes: int | None = None,
    halfwidth: float = 0.05,
    confidence: float = 0.95,
    k_width: float | None = None,
    k_resolution: float = 0.0,
    block_size: int | None = None,
    memory_budget: int | None = None,
) -> KHalfEstimate:
    r"""K_1/2 per seed, SAMPLED: each candidate K is judged from ``num_probes`` probes.

    ``starts="cues"``: a probe is a stored pattern among the first K with a fraction ``rho`` of
    its bits flipped, retrieved when ``rule`` converges (a fixed point within ``max_steps``) to
    exactly that pattern (Krotov & Hopfield 2016 use rho = 0: half of the memories survive the
    dynamics started at them). ``starts="random"``: a probe is a uniformly random state,
    retrieved when the dynamics converge exactly onto one of the K memories or its negation
    (their Appendix B).

    How K is searched, and the cost:

    * rho = 0 cues: a probe is retrieved iff its memory is a fixed point, so ONE pass over the
      pool gives the rate at every block boundary (probes: patterns 0 ... P-1, a uniform sample
      of the first K since patterns are i.i.d.): 4 P k_max N flops in all, K on a grid of step
      ``block_size`` (default k_max / 512, at least 16).
    * otherwise: three bisections over [k_min, k_max]: the point (~log2(k_max) candidates, or
      fewer with ``k_resolution``) and the two ends of the interval,
      which start from the brackets the first one evaluated (no K is evaluated twice); each
      candidate runs the dynamics from P fresh probes (pattern floor(u_j K) for fixed u_j,
      fixed flips / starts: common random numbers across K): P x steps x 4 K N flops per
      candidate.

    The point estimate is the largest K with rate >= 1/2; the interval is [largest K with Wilson
    lower bound > 1/2, smallest K with Wilson upper bound < 1/2] (:class:`KHalfEstimate`).

    **Arguments:**

    * ``F`` — interaction; ``key`` — PRNG key (patterns when regenerated, probes).
    * ``patterns`` — ``None``: regenerated i.i.d. patterns (:class:`RandomPatterns`, never stored;
      needs ``dim`` and ``k_max``), one pool per seed; or a (K, N) / (S, K, N) +-1 array (stored
      int8); or an :class:`AbstractPatternSource` (one seed).
    * ``k_min``, ``k_max`` — the K range searched (default the whole pool).
    * ``rule`` (default ``Sync()``), ``max_steps``, ``rho``, ``method`` — the dynamics and cues.
      ``Async`` (Krotov & Hopfield's dynamics for random starts) runs on a dense float32
      :class:`damjax.BinaryDAM` over the smallest size bucket of the pool that holds K
      (:func:`async_buckets`; the pool is K_pool x N x 4 bytes), seeds one after another, its
      probes on the refilled lanes of :func:`damjax.dynamics.settle_async`: random starts took
      67 s for 2 seeds at N = 400 (power F, K_1/2 ~ 3100, ``k_resolution`` 0.01) and 263 s for
      one seed at N = 1000 (K_1/2 ~ 11,000) on 2 CPU cores.
    * ``num_probes`` — probes per candidate K; default the smallest whose Wilson interval at
      rate 1/2 has half-width <= ``halfwidth`` (0.05 at 95%: 381 probes).
    * ``k_width`` — if given, the probe count is doubled until every seed's
      (upper - lower) / k_half is at most ``k_width``.
    * ``k_resolution`` — relative step at which the bisections stop (0: every K, the default):
      each of point, lower and upper is then within ``max(1, k_resolution x K)`` of the K an
      exhaustive bisection finds, ``lower`` / ``upper`` on the conservative side (the interval
      only widens). ``KHalfEstimate.resolution`` reports the widest final bracket. The point
      then costs ~log2((k_max - k_min) / (k_resolution K_1/2)) candidates instead of
      ~log2(k_max - k_min); use it where each candidate runs dynamics (random starts, rho > 0
      cues). Ignored by the one-pass rho = 0 curve.
    * ``block_size`` — patterns per block of the field; ``memory_budget`` — bytes; refused
      before running when XLA's memory analysis of the compiled search exceeds it.

    **Returns:** :class:`KHalfEstimate`.

    **Raises:** ``ValueError`` naming ``num_probes`` when it is too small for ``halfwidth``
    or cannot reach ``k_width`` within the pool, ``k_min`` / ``k_max`` when the pool cannot
    bracket K_1/2 (the rate is not confidently above 1/2 at k_min, or not confidently below at
    k_max), ``memory_budget`` when it cannot be met.
    """
    if starts not in ("cues", "random"):
        raise ValueError(f"`starts` must be 'cues' or 'random'; got {starts!r}")
    check_key(key)
    check_fraction(rho, "rho")
    check_positive_int(max_steps, "max_steps")
    num_probes = _resolve_probes(num_probes, halfwidth, confidence)
    if k_width is not None and not 0.0 < float(k_width):
        raise ValueError(f"`k_width` must be > 0; got {k_width}")
    rel = _check_resolution(k_resolution)
    curve = starts == "cues" and float(rho) == 0.0
    if block_size is None:
        if isinstance(patterns, AbstractPatternSource):
            pool = patterns.num_patterns
        elif k_max is not None:
            pool = k_max
        elif patterns is not None:
            pool = np.shape(patterns)[-2]
        else:
            pool = 0  # regenerated patterns without k_max: _sources refuses them by name
        block_size = max(16, pool // 512) if curve else DEFAULT_BLOCK
    src, S = _sources(patterns, key, seeds, k_max, dim, block_size)
    k_lo, k_hi = _bounds(k_min, k_max, src.num_patterns)
    keys = jax.random.split(jax.random.fold_in(key, 1), S)
    if rule is not None and not isinstance(rule, AbstractRule):
        raise TypeError(f"`rule` must be a dynamics rule such as damjax.Async(); got {rule!r}")
    rule = Sync() if rule is None else rule
    # asynchronous probes run on size buckets of the pool, which need K unbatched: seeds in
    # sequence (lax.map) instead of vmapped
    buckets = _bucketed(rule, starts, rho)
    while True:
        probe = _Probe(
            F=F,
            rule=rule,
            rho=float(rho),
            num_probes=num_probes,
            max_steps=max_steps,
            starts=starts,
            method=method,
            buckets=buckets,
        )

        def run(probe, src, keys, lo, hi):
            def one(s, k):
                return _k_half_one(probe, s, k, lo, hi, confidence, rel=rel)

            if probe.buckets:
                return jax.lax.map(lambda a: one(*a), (src, keys))
            return jax.vmap(one)(src, keys)

        args = (probe, src, keys, jnp.int32(k_lo), jnp.int32(k_hi))
        dyn, static = eqx.partition(args, eqx.is_array)
        f = lambda d: run(*eqx.combine(d, static))  # noqa: E731
        compiled = _compile_within(f, (dyn,), memory_budget, "this K_1/2 search")
        point, lower, upper, n, step = compiled(dyn)
        _check_bracket(lower, upper, k_lo, k_hi)
        est = KHalfEstimate(
            point, lower, upper, num_probes, float(confidence), n, int(jnp.max(step))
        )
        width = float(jnp.max(est.relative_width))
        if k_width is None or width <= k_width:
            return est
        limit = src.num_patterns if curve else 1 << 16
        if num_probes >= limit:
            raise ValueError(
                f"`num_probes` = {num_probes} (the most this pool of {src.num_patterns} allows) "
                f"gives an interval of {width:.3g} K_1/2, wider than `k_width` = {k_width}"
            )
        num_probes = min(2 * num_probes, limit)
