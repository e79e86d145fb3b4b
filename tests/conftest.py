import itertools

import jax
import numpy as np
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def getkey():
    """``getkey()`` returns a fresh PRNG key each call (deterministic per test)."""
    counter = itertools.count()
    base = jax.random.key(1234)
    return lambda: jax.random.fold_in(base, next(counter))


def tree_allclose(a, b, *, rtol=None, atol=None):
    """dtype-aware allclose over pytrees (float32: 1e-5 relative, float64: 1e-10)."""
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape:
            return False
        single = np.float32 in (x.dtype, y.dtype)
        rt = rtol if rtol is not None else (1e-5 if single else 1e-10)
        at = atol if atol is not None else (1e-6 if single else 1e-12)
        if not np.allclose(x, y, rtol=rt, atol=at, equal_nan=True):
            return False
    return True
