"""Empirical statistics of +-1 pattern sets: mean absolute feature correlation and pairwise
Hamming distances (:func:`pattern_stats`)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._custom_types import Array, Float
from .._validation import check_positive_int

__all__ = [
    "PatternStats",
    "pattern_stats",
]


def _check_dims(K, N) -> tuple[int, int]:
    K = check_positive_int(K, "K")
    N = check_positive_int(N, "N")
    if N < 2:
        raise ValueError(
            f"`N` must be >= 2 (feature correlations need at least two features); got N = {N}"
        )
    if K < 2:
        raise ValueError(
            f"`K` must be >= 2 (pairwise distances and feature correlations need two patterns); "
            f"got K = {K}"
        )
    return K, N


class PatternStats(NamedTuple):
    """Empirical statistics of a (K, N) +-1 pattern set.

    **Fields:**

    * ``feature_correlation`` — mean |Pearson correlation| over feature pairs i < j (pairs with a
      constant feature, whose correlation is undefined, are left out; NaN if all are).
    * ``min_distance`` — minimum pairwise Hamming distance over pattern pairs mu < nu.
    * ``mean_distance`` — mean pairwise Hamming distance over pattern pairs mu < nu.
    """

    feature_correlation: float
    min_distance: int
    mean_distance: float


def pattern_stats(patterns: Float[Array, "K N"]) -> PatternStats:
    r"""Empirical feature correlation and pairwise Hamming distances of a +-1 pattern set.

    ``feature_correlation`` is the mean of :math:`|\mathrm{corr}(x_{\cdot i}, x_{\cdot j})|` over
    feature pairs i < j (Pearson correlation across the K patterns); distances are
    :math:`(N - \xi^\mu\cdot\xi^\nu)/2` over pattern pairs mu < nu. Computed in float64 on the
    host (row blocks, so K in the tens of thousands fits in memory).

    **Arguments:** ``patterns`` — (K, N) array of +-1 with K >= 2 and N >= 2.

    **Returns:** a :class:`PatternStats`.

    **Raises:** ``ValueError`` for a wrong shape or entries other than +-1.
    """
    x = np.asarray(patterns, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"`patterns` must be a 2-D (K, N) array of +-1; got shape {x.shape}")
    K, N = _check_dims(x.shape[0], x.shape[1])
    if not np.all(np.abs(x) == 1):
        raise ValueError("`patterns` must contain only +1 and -1 values")
    # Feature correlation.
    xc = x - x.mean(axis=0)
    sd = np.sqrt((xc**2).mean(axis=0))
    ok = sd > 0
    iu = np.triu_indices(N, 1)
    cov = xc.T @ xc / K
    denom = np.outer(sd, sd)
    pair_ok = (ok[:, None] & ok[None, :])[iu]
    if np.any(pair_ok):
        corr = cov[iu][pair_ok] / denom[iu][pair_ok]
        feat = float(np.mean(np.abs(corr)))
    else:
        feat = float("nan")
    # Pairwise distances in row blocks.
    dmin, dsum = N, 0.0
    block = max(1, 2**22 // max(K, 1))
    for s in range(0, K - 1, block):
        rows = x[s : s + block]
        g = rows @ x[s + 1 :].T  # overlaps with every later row (and some earlier ones)
        d = (N - g) / 2.0
        # keep only pairs (s + a, s + 1 + b) with s + 1 + b > s + a, i.e. b >= a
        a = np.arange(rows.shape[0])[:, None]
        b = np.arange(K - s - 1)[None, :]
        valid = b >= a
        if np.any(valid):
            dmin = min(dmin, int(round(d[valid].min())))
            dsum += float(d[valid].sum())
    mean_d = dsum / (K * (K - 1) / 2)
    return PatternStats(feature_correlation=feat, min_distance=dmin, mean_distance=mean_d)
