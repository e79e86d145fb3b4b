"""capacity_search: binary search over K == exhaustive scan; one compilation for all K."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import damjax as dj
from damjax.capacity import AbstractCriterion, Retrieves, Stable, capacity_search
from damjax.capacity._measure import _active


class AtMost(AbstractCriterion):
    """A monotone test criterion: holds iff the number of active patterns is <= ``k``."""

    k: jax.Array

    def __call__(self, model, key):
        return jnp.sum(_active(model)) <= self.k


_TRACES = {"n": 0}


class CountingStable(AbstractCriterion):
    """``Stable`` that counts how often it is traced (Python side effect at trace time)."""

    def __call__(self, model, key):
        _TRACES["n"] += 1
        return Stable()(model, key)


@eqx.filter_jit
def _exhaustive(patterns, F, criterion, keys):
    """ok[s, K-1] = criterion on seed s with its first K patterns, K = 1..Kmax (slow, obvious
    reference: every K evaluated, no search)."""
    kmax = patterns.shape[-2]
    masks = (jnp.arange(kmax)[None, :] < jnp.arange(1, kmax + 1)[:, None]).astype(patterns.dtype)

    def one_seed(X, key):
        return jax.vmap(lambda m: criterion(dj.BinaryDAM(X, F, mask=m), key))(masks)

    return jax.vmap(one_seed)(patterns, keys)


def _scan_capacity(oks, k_min, k_max):
    """Largest K in [k_min, k_max] with ok(K') for every K' in [k_min, K]; k_min - 1 if none."""
    cap = k_min - 1
    for K in range(k_min, k_max + 1):
        if not oks[K - 1]:
            break
        cap = K
    return cap


@pytest.mark.parametrize("k_min,k_max", [(1, 12), (3, 9), (5, 5), (1, 1)])
def test_binary_search_equals_scan_monotone(k_min, k_max, getkey):
    X = dj.patterns.random_binary(getkey(), 12, 8)[None]
    for k_true in range(-1, 14):
        crit = AtMost(jnp.asarray(k_true))
        got = int(
            capacity_search(
                X, dj.Polynomial(2), criterion=crit, key=getkey(), k_min=k_min, k_max=k_max
            )[0]
        )
        oks = np.arange(1, 13) <= k_true
        assert got == _scan_capacity(oks, k_min, k_max), (k_true, k_min, k_max)


@pytest.mark.parametrize(
    "F,criterion",
    [
        (dj.Polynomial(2), Stable()),
        (dj.RectifiedPolynomial(3), Stable()),
        (dj.Polynomial(3), Retrieves(rho=0.125, threshold=1.0, max_steps=10)),
    ],
    ids=["poly2-stable", "rect3-stable", "poly3-retrieves"],
)
def test_binary_search_equals_scan_real_criteria(F, criterion, getkey):
    N, S = 12, 6
    kmax = 16 if F.n == 2 else 24
    X = jnp.stack([dj.patterns.random_binary(getkey(), kmax, N) for _ in range(S)])
    key = getkey()
    got = np.asarray(capacity_search(X, F, criterion=criterion, key=key))
    keys = jax.random.split(key, S)  # capacity_search gives seed s the key split(key, S)[s]
    oks = np.asarray(_exhaustive(X, F, criterion, keys))
    n_monotone = 0
    for s in range(S):
        K = int(got[s])
        if np.all(oks[s, :-1] >= oks[s, 1:]):  # pass..pass fail..fail: the scan is well defined
            n_monotone += 1
            assert K == _scan_capacity(oks[s], 1, kmax)
        else:  # a non-monotone criterion: the search still returns a pass/fail boundary
            assert (K == 0 or oks[s, K - 1]) and (K == kmax or not oks[s, K])
    assert n_monotone >= S // 2


def test_vmapped_equals_loop(getkey):
    from damjax.capacity._search import _search

    X = jnp.stack([dj.patterns.random_binary(getkey(), 30, 16) for _ in range(3)])
    key = getkey()
    crit = Retrieves(rho=0.125, threshold=0.9, max_steps=10)  # uses the key: keys must line up
    batched = np.asarray(capacity_search(X, dj.Polynomial(3), criterion=crit, key=key))
    keys = jax.random.split(key, 3)
    for s in range(3):
        single = _search(X[s : s + 1], dj.Polynomial(3), crit, keys[s : s + 1], 1, 30)
        assert int(single[0]) == batched[s]


def test_no_recompilation_across_K(getkey):
    _TRACES["n"] = 0
    crit = CountingStable()
    X = jnp.stack([dj.patterns.random_binary(getkey(), 64, 16) for _ in range(2)])
    capacity_search(X, dj.Polynomial(3), criterion=crit, key=getkey())
    assert _TRACES["n"] == 1  # ~6 values of K tried per seed, one trace
    X2 = jnp.stack([dj.patterns.random_binary(getkey(), 64, 16) for _ in range(2)])
    capacity_search(X2, dj.Polynomial(3), criterion=crit, key=getkey())
    assert _TRACES["n"] == 1  # new data of the same shape: no retrace


@pytest.mark.parametrize("family", [dj.Polynomial, dj.RectifiedPolynomial])
@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_degrees_2_to_5(family, n, getkey):
    X = jnp.stack([dj.patterns.random_binary(getkey(), 48, 12) for _ in range(2)])
    cap = np.asarray(capacity_search(X, family(n), key=getkey()))
    assert cap.shape == (2,)
    assert np.all((cap >= 0) & (cap <= 48))
    # the result is a pass/fail boundary of Stable for every seed
    oks = np.asarray(_exhaustive(X, family(n), Stable(), jax.random.split(getkey(), 2)))
    for s in range(2):
        K = int(cap[s])
        assert (K == 0 or oks[s, K - 1]) and (K == 48 or not oks[s, K])


def test_bad_arguments(getkey):
    X = dj.patterns.random_binary(getkey(), 10, 8)
    with pytest.raises(ValueError, match="S, K_max, N"):
        capacity_search(X, dj.Polynomial(2), key=getkey())
    with pytest.raises(ValueError, match="k_max"):
        capacity_search(X[None], dj.Polynomial(2), key=getkey(), k_max=11)
    with pytest.raises(ValueError, match="k_min"):
        capacity_search(X[None], dj.Polynomial(2), key=getkey(), k_min=5, k_max=4)


def _two_cycle_case():
    """A pool (K, N) and a K-prefix in which some memory is not a fixed point of the synchronous
    update but comes back after two steps (a 2-cycle through the memory)."""
    for seed in range(200):
        X = dj.patterns.random_binary(jax.random.key(seed), 10, 12)
        model = dj.BinaryDAM(X, dj.Polynomial(2))
        one = jax.vmap(model.update)(X)
        two = jax.vmap(model.update)(one)
        fixed = np.all(np.asarray(one == X), axis=-1)
        cycle = ~fixed & np.all(np.asarray(two == X), axis=-1)
        if cycle.any():
            return X, int(fixed.sum()), int(cycle.sum())
    raise AssertionError("no 2-cycle found")


def test_retrieves_does_not_count_a_two_cycle_through_the_memory():
    X, n_fixed, n_cycle = _two_cycle_case()
    model = dj.BinaryDAM(X, dj.Polynomial(2))
    # after an even number of steps a 2-cycling memory equals itself again, but never converged
    res = dj.retrieve(model, X, rule=dj.Sync(), max_steps=2)
    on_memory = np.all(np.asarray(res.states == X), axis=-1)
    assert on_memory.sum() == n_fixed + n_cycle and n_cycle > 0
    K = X.shape[0]
    above_fixed = (n_fixed + 0.5) / K  # reached only if a 2-cycle is counted as retrieved
    crit = Retrieves(rho=0.0, threshold=above_fixed, rule=dj.Sync(), max_steps=2)
    assert not bool(crit(model, jax.random.key(0)))
    crit = Retrieves(rho=0.0, threshold=(n_fixed - 0.5) / K, rule=dj.Sync(), max_steps=2)
    assert bool(crit(model, jax.random.key(0))) == (n_fixed > 0)


def test_reaches_memory_does_not_count_a_two_cycle_through_a_memory():
    from damjax.capacity import ReachesMemory

    X, n_fixed, n_cycle = _two_cycle_case()
    model = dj.BinaryDAM(X, dj.Polynomial(2))
    # the random starts of ReachesMemory, rebuilt from its key: a key where some start is on a
    # memory after two steps without having converged
    for seed in range(50):
        key = jax.random.key(seed)
        k_s, _ = jax.random.split(key)
        starts = jnp.where(jax.random.bernoulli(k_s, 0.5, (64, X.shape[1])), 1.0, -1.0)
        res = dj.retrieve(model, starts, rule=dj.Sync(), max_steps=2)
        top = np.max(np.abs(np.asarray(res.states @ X.T)), axis=-1) == X.shape[1]
        conv = np.asarray(res.converged)
        if (top & ~conv).any():
            break
    else:
        raise AssertionError("no random start ends on a memory without converging")
    settled_rate = float(np.mean(top & conv))
    crit = ReachesMemory(num_starts=64, threshold=settled_rate + 0.5 / 64, max_steps=2)
    assert not bool(crit(model, key))  # before the fix: the unconverged hits counted
    crit = ReachesMemory(num_starts=64, threshold=max(settled_rate - 0.5 / 64, 0.0), max_steps=2)
    assert bool(crit(model, key))
