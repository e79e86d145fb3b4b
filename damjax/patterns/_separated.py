r"""Pattern separation: what minimum Hamming distance K patterns of N bits can have, and the
sequential rejection sampling (random greedy code construction) that enforces it.

Reachability: no K patterns with minimum distance d exist when d exceeds the Plotkin or Hamming
(sphere-packing) bounds; the Gilbert–Varshamov bound guarantees that uniform random greedy
constructions can reach :math:`K \ge 2^N / V(N, d-1)`, :math:`V(N, r) = \sum_{i\le r}\binom{N}{i}`.
:func:`separation_bounds` reports both.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import numpy as np

from ._samplers import _sampler
from ._stats import _check_dims

__all__ = [
    "SeparationBounds",
    "separation_bounds",
]


class SeparationBounds(NamedTuple):
    """What minimum Hamming distance K patterns of N bits can have.

    **Fields:**

    * ``guaranteed`` — the largest d for which the Gilbert–Varshamov bound guarantees K such
      patterns (``2^N / V(N, d-1) >= K``); random greedy constructions from the uniform
      distribution reach about this far.
    * ``upper`` — the largest d not excluded by the Plotkin and Hamming bounds (no set of K
      patterns has a larger minimum distance).
    """

    guaranteed: int
    upper: int


def _log2_ball(N: int, r: int) -> float:
    """log2 of the Hamming ball volume V(N, r) = sum_{i<=r} C(N, i)."""
    if r < 0:
        return -math.inf
    r = min(r, N)
    logs = [math.lgamma(N + 1) - math.lgamma(i + 1) - math.lgamma(N - i + 1) for i in range(r + 1)]
    m = max(logs)
    return (m + math.log(sum(math.exp(x - m) for x in logs))) / math.log(2)


def _log2_upper_size(N: int, d: int) -> float:
    """log2 of an upper bound on A(N, d), the largest code with minimum distance d."""
    if d <= 1:
        return float(N)
    if d > N:
        return 0.0  # a single pattern only
    best = N - _log2_ball(N, (d - 1) // 2)  # Hamming (sphere-packing) bound
    # Plotkin bound (for odd d use A(N, d) = A(N + 1, d + 1)).
    n2, d2 = (N, d) if d % 2 == 0 else (N + 1, d + 1)
    if 2 * d2 > n2:
        best = min(best, math.log2(2 * (d2 // (2 * d2 - n2))))
    elif 2 * d2 == n2:
        best = min(best, math.log2(2 * n2))
    return best


def separation_bounds(N: int, K: int) -> SeparationBounds:
    """The minimum pairwise Hamming distance reachable by K patterns in {-1,+1}^N.

    **Arguments:** ``N`` — number of features (>= 2); ``K`` — number of patterns (>= 2).

    **Returns:** a :class:`SeparationBounds` ``(guaranteed, upper)``: Gilbert–Varshamov
    guarantee and Plotkin/Hamming upper bound (``guaranteed <= upper <= N``).

    **Raises:** ``ValueError`` for N < 2 or K < 2, or K > 2^N (K distinct patterns do not exist).
    """
    K, N = _check_dims(K, N)
    log2k = math.log2(K)
    if log2k > N:
        raise ValueError(f"`K` = {K} exceeds 2^N = {2**N}: no {K} distinct patterns of N = {N}")
    upper = max(d for d in range(1, N + 1) if _log2_upper_size(N, d) >= log2k - 1e-9)
    guaranteed = max(d for d in range(1, N + 1) if N - _log2_ball(N, d - 1) >= log2k - 1e-9)
    return SeparationBounds(guaranteed=guaranteed, upper=max(upper, guaranteed))


def _greedy(method, c, template, key, K, N, d, max_draws, p):
    """Sequential rejection sampling: keep candidates at distance >= d from all kept ones."""
    batch = int(min(max(2 * K, 256), 4096))
    draw = _sampler(method, c, template, batch, N, p)
    kept = np.empty((K, N), dtype=np.float32)
    n_kept, draws, i = 0, 0, 0
    thresh = N - 2 * d  # distance >= d  <=>  overlap <= N - 2d
    while n_kept < K and draws < max_draws:
        cand = np.asarray(draw(jax.random.fold_in(key, i)), dtype=np.float32)
        i += 1
        take = min(batch, max_draws - draws)
        cand = cand[:take]
        if n_kept:
            ok = (kept[:n_kept] @ cand.T).max(axis=0) <= thresh
        else:
            ok = np.ones(take, bool)
        idx = np.flatnonzero(ok)
        sub = cand[idx]
        intra = sub @ sub.T
        chosen: list[int] = []
        for a in range(idx.size):
            if n_kept + len(chosen) >= K:
                break
            if not chosen or intra[a, chosen].max() <= thresh:
                chosen.append(a)
        if chosen:
            kept[n_kept : n_kept + len(chosen)] = sub[chosen]
            n_kept += len(chosen)
        # count the candidates examined (a full batch, or up to the one that completed the set)
        draws += take if n_kept < K else int(idx[chosen[-1]]) + 1
    if n_kept < K:
        b = separation_bounds(N, K)
        raise ValueError(
            f"`min_distance` = {d} was not reached: only {n_kept} of K = {K} patterns of N = {N} "
            f"could be placed at pairwise distance >= {d} after {draws} draws from the "
            f"{method!r} distribution with correlation {c}. For N = {N}, K = {K}: codes exist at "
            f"most up to d = {b.upper} and are guaranteed (Gilbert-Varshamov) up to "
            f"d = {b.guaranteed} for uncorrelated patterns; correlated patterns are closer "
            f"together. Lower `min_distance` or `correlation`, or raise `max_draws`."
        )
    return kept, draws
