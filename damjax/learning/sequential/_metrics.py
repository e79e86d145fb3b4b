"""Sequential-learning metrics from the accuracy matrix ``R[t, s]``: average accuracy,
forgetting and backward transfer."""

from __future__ import annotations

import numpy as np

__all__ = [
    "average_accuracy",
    "forgetting",
    "backward_transfer",
]


def _check_matrix(R) -> np.ndarray:
    R = np.asarray(R, dtype=float)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] < 1:
        raise ValueError(f"accuracy matrix must be square (T, T) with T >= 1; got {R.shape}")
    return R


def average_accuracy(R) -> float:
    """Mean accuracy over all tasks after the last one, ``mean_s R[T-1, s]``."""
    R = _check_matrix(R)
    return float(np.mean(R[-1]))


def forgetting(R) -> float:
    """``mean_{s<T-1} (max_{t<T-1} R[t, s] - R[T-1, s])`` (0 for a single task)."""
    R = _check_matrix(R)
    T = R.shape[0]
    if T == 1:
        return 0.0
    best = np.array([np.max(R[s : T - 1, s]) for s in range(T - 1)])
    return float(np.mean(best - R[-1, : T - 1]))


def backward_transfer(R) -> float:
    """``mean_{s<T-1} (R[T-1, s] - R[s, s])`` (negative when learning later tasks hurts)."""
    R = _check_matrix(R)
    T = R.shape[0]
    if T == 1:
        return 0.0
    return float(np.mean(R[-1, : T - 1] - np.diag(R)[: T - 1]))
