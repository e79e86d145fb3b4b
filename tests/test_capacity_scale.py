"""Capacity at scale: blocked fields, int8 / regenerated patterns, sampled and exact estimators."""

import statistics

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import damjax as dj
from damjax import capacity as cap
from damjax.capacity import BlockedDAM, RandomPatterns, StoredPatterns
from damjax.patterns import random_binary


class Float32Patterns(cap.AbstractPatternSource):
    """The reference: the same patterns stored as float32 (4 bytes per entry)."""

    data: jax.Array
    num_patterns: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    block_size: int = eqx.field(static=True)

    def __init__(self, x, block_size):
        k, n = x.shape
        nb = -(-k // block_size)
        self.data = jnp.zeros((nb * block_size, n), jnp.float32).at[:k].set(x)
        self.num_patterns, self.dim, self.block_size = k, n, block_size

    def rows(self, index):
        return self.data[index]


def _f64_field(X, s, F, K):
    """h_i = E(s_i = -1) - E(s_i = +1) in float64, by flipping each neuron (no closed forms)."""
    X = np.asarray(X, np.float64)[:K]
    s = np.asarray(s, np.float64)
    out = np.empty_like(s)
    for i in range(s.size):
        p, m = s.copy(), s.copy()
        p[i], m[i] = 1.0, -1.0
        out[i] = np.sum(F(X @ p)) - np.sum(F(X @ m))
    return out


@pytest.mark.parametrize(
    "F",
    [dj.Polynomial(3), dj.Polynomial(30), dj.RectifiedPolynomial(4), dj.Exponential(0.5)],
    ids=["poly3", "poly30", "rect4", "exp"],
)
def test_blocked_update_equals_binary_dam(F, getkey):
    X = random_binary(getkey(), 300, 64)
    S = random_binary(getkey(), 40, 64)
    S = S.at[:5].set(X[:5])  # memories among the states: fixed points and near-ties
    K = 173
    ref = dj.BinaryDAM(X, F, mask=(jnp.arange(300) < K).astype(jnp.float32))
    want = jax.vmap(ref.update)(S)
    for block in (7, 64, 300):
        model = BlockedDAM(StoredPatterns(X, block_size=block), F, num_active=K)
        assert np.array_equal(model.batch_update(S), want)
        h, ls = jax.vmap(model.scaled_field)(S)
        h0, ls0 = jax.vmap(ref.scaled_field)(S)
        # same field, up to summation order (compared on a common scale)
        np.testing.assert_allclose(h * np.exp(ls - ls0)[:, None], h0, rtol=0, atol=1e-5)
        e, e0 = jax.vmap(model.energy)(S[:4]), jax.vmap(ref.energy)(S[:4])
        np.testing.assert_allclose(e, e0, rtol=1e-5)


def test_blocked_field_matches_float64_reference(getkey):
    X = random_binary(getkey(), 150, 40)
    s = random_binary(getkey(), 1, 40)[0]
    for F, f64 in (
        (dj.Polynomial(3), lambda x: x**3),
        (dj.Exponential(0.2), lambda x: np.exp(0.2 * x)),
    ):
        got = BlockedDAM(StoredPatterns(X, block_size=32), F, num_active=101).field(s)
        np.testing.assert_allclose(got, _f64_field(X, s, f64, 101), rtol=2e-5, atol=1e-3)


def test_int8_and_regenerated_fields_equal_float32_bit_for_bit(getkey):
    src = RandomPatterns(getkey(), 500, 70, block_size=128)
    X = src.materialize()
    assert set(np.unique(np.asarray(X))) == {-1.0, 1.0}
    assert abs(float(X.mean())) < 0.02  # unbiased bits
    # the same rows whatever the block layout (row mu depends on fold_in(key, mu) only)
    assert np.array_equal(RandomPatterns(src.key, 500, 70, block_size=7).materialize(), X)
    S = random_binary(getkey(), 20, 70)
    fields = []
    for s in (src, src.stored(), StoredPatterns(X, block_size=128), Float32Patterns(X, 128)):
        fields.append(BlockedDAM(s, dj.Polynomial(5), num_active=333).batch_field(S))
    for f in fields[1:]:
        for a, b in zip(f, fields[0]):
            assert np.array_equal(a, b)
    assert src.resident_bytes < 64
    assert StoredPatterns(X).resident_bytes == 500 * 70  # one byte per entry


def test_peak_memory_stays_bounded_as_k_grows(getkey):
    N, B, block = 64, 16, 256
    mems = {}
    for K in (1024, 8192, 32768):
        for kind in ("stored", "regenerated"):
            src = RandomPatterns(getkey(), K, N, block_size=block)
            src = src.stored() if kind == "stored" else src
            mems[kind, K] = cap.field_memory(BlockedDAM(src, dj.Polynomial(3)), B)
    for kind in ("stored", "regenerated"):
        temps = [mems[kind, K]["temp_bytes"] for K in (1024, 8192, 32768)]
        # O(B x block + block x N), not O(K N): a 32x larger K leaves the temporaries alone
        assert max(temps) <= 1.1 * min(temps) + 4096, temps
        assert max(temps) < 32768 * N  # far below one byte per entry at the largest K
    states = B * N * 4  # the float32 states are an argument too
    assert mems["stored", 32768]["argument_bytes"] >= 32768 * N + states
    assert mems["regenerated", 32768]["argument_bytes"] < states + 64
    # the dense float32 model materialises (B, K) overlaps and holds 4 K N bytes
    X = random_binary(getkey(), 32768, N)
    dense = jax.jit(lambda m, s: jax.vmap(m.update)(s)).lower(
        dj.BinaryDAM(X, dj.Polynomial(3)), jnp.ones((B, N))
    )
    dense = dense.compile().memory_analysis()
    assert dense.temp_size_in_bytes > 4 * mems["stored", 32768]["temp_bytes"]


def test_no_error_capacity_equals_exact_search(getkey):
    P = random_binary(getkey(), 5 * 200, 50).reshape(5, 200, 50)
    F = dj.Polynomial(3)
    exact = np.asarray(cap.capacity_search(P, F, key=getkey()))
    got = np.asarray(cap.no_error_capacity(F, patterns=P, block_size=32, chunk=16))
    assert np.array_equal(got, exact)
    # regenerated pools: identical to the same patterns stored
    key = getkey()
    regen = cap.no_error_capacity(F, key=key, dim=50, k_max=200, seeds=3, block_size=32)
    pools = [
        RandomPatterns(k, 200, 50, block_size=32).materialize() for k in jax.random.split(key, 3)
    ]
    assert np.array_equal(regen, cap.no_error_capacity(F, patterns=jnp.stack(pools), block_size=32))
    assert np.array_equal(regen, cap.capacity_search(jnp.stack(pools), F, key=key))


def _coverage(exact, est):
    lo, hi, pt = map(np.asarray, (est.lower, est.upper, est.k_half))
    assert np.all(lo <= pt) and np.all(pt < hi)
    return int(((lo <= exact) & (exact <= hi + est.resolution)).sum())


def test_sampled_k_half_agrees_with_exact_within_its_interval(getkey):
    S, N, F = 12, 60, dj.Polynomial(3)
    P = random_binary(getkey(), S * 400, N).reshape(S, 400, N)
    # rho = 0: retrieved = the memory is a fixed point (the exact estimator cues all K memories)
    exact = np.asarray(cap.k_half(P, F, key=getkey(), rule=dj.OneStep()))
    est = cap.sampled_k_half(F, key=getkey(), patterns=P, num_probes=100, halfwidth=0.1)
    assert est.num_probes == 100 and est.resolution == 16 and int(est.evaluations[0]) == 1
    # each end is a 95% Wilson bound: over 12 seeds at most two misses is generous but not vacuous
    assert _coverage(exact, est) >= S - 2, (exact, est)
    assert np.median(np.asarray(est.relative_width)) < 0.3
    # with Sync dynamics to convergence the rho = 0 answer is the same (fixed point = retrieved)
    same = cap.sampled_k_half(
        F, key=getkey(), patterns=P, num_probes=100, halfwidth=0.1, rule=dj.Sync()
    )
    assert np.array_equal(same.k_half, est.k_half)
    # rho > 0: bisection with dynamics from fresh corrupted probes at every K
    S2 = 6
    exact = np.asarray(cap.k_half(P[:S2], F, key=getkey(), rho=0.1, rule=dj.OneStep()))
    est = cap.sampled_k_half(
        F,
        key=getkey(),
        patterns=P[:S2],
        rho=0.1,
        rule=dj.OneStep(),
        num_probes=150,
        halfwidth=0.1,
        block_size=64,
    )
    assert est.resolution == 1 and np.all(np.asarray(est.evaluations) > 10)
    assert _coverage(exact, est) >= S2 - 1, (exact, est)


def test_relative_resolution_brackets_the_exhaustive_search(getkey):
    # the same probes (same key): a coarser search lands within its reported step of the
    # exhaustive one, its interval only widens, and it evaluates fewer candidates
    F, S = dj.Polynomial(3), 4
    P = random_binary(getkey(), S * 600, 50).reshape(S, 600, 50)
    kw = dict(patterns=P, rho=0.1, rule=dj.OneStep(), num_probes=100, halfwidth=0.1)
    key = getkey()
    full = cap.sampled_k_half(F, key=key, **kw)
    coarse = cap.sampled_k_half(F, key=key, k_resolution=0.05, **kw)
    assert full.resolution == 1 and coarse.resolution > 1
    pt, cpt = np.asarray(full.k_half), np.asarray(coarse.k_half)
    assert np.all(cpt <= pt) and np.all(pt < cpt + coarse.resolution), (full, coarse)
    assert np.all(np.asarray(coarse.lower) <= np.asarray(full.lower))
    assert np.all(np.asarray(coarse.upper) >= np.asarray(full.upper))
    assert np.all(np.asarray(coarse.upper) - np.asarray(full.upper) < coarse.resolution)
    assert np.all(np.asarray(coarse.evaluations) < np.asarray(full.evaluations))
    # every bracket ended at most max(1, 0.05 K) wide
    assert coarse.resolution <= max(1, int(0.05 * int(np.max(np.asarray(coarse.upper)))))


def test_sampled_k_half_regenerated_equals_stored_and_random_starts(getkey):
    key, F = getkey(), dj.Polynomial(3)
    kw = dict(max_steps=20, block_size=64, num_probes=100, halfwidth=0.1)
    a = cap.sampled_k_half(F, key=key, dim=48, k_max=300, seeds=2, **kw)
    pools = jnp.stack(
        [RandomPatterns(k, 300, 48, block_size=64).materialize() for k in jax.random.split(key, 2)]
    )
    b = cap.sampled_k_half(F, key=key, patterns=pools, **kw)
    for x, y in zip(a[:3], b[:3]):
        assert np.array_equal(x, y)
    r = cap.sampled_k_half(F, key=key, patterns=pools, starts="random", **kw)
    assert np.all(r.lower <= r.k_half) and np.all(r.k_half < r.upper)
    # the random-start K_1/2 counts a different event; check the rate at its interval ends
    # directly with the dense model and fresh random starts
    model = dj.BinaryDAM(pools[0], F, mask=(jnp.arange(300) < int(r.lower[0])).astype(jnp.float32))
    starts = random_binary(getkey(), 400, 48)
    res = dj.retrieve(model, starts, max_steps=20)
    rate = float(jnp.mean(jnp.max(jnp.abs(res.states @ pools[0][: int(r.lower[0])].T), -1) == 48))
    assert rate > 0.35


def test_async_buckets_run_the_pool_dynamics(getkey):
    """Asynchronous probes on the smallest size bucket that holds K (a lax.switch, K traced)
    count the same successes as on the whole masked pool, and the sweep's k_half maps such rows
    in sequence (a vmapped switch would run every bucket)."""
    from damjax.capacity._sampled import _Probe, async_buckets
    from damjax.capacity._sweeps import k_half

    sizes = async_buckets(5000)
    assert sizes[0] == 5000 and all(a > b for a, b in zip(sizes, sizes[1:]))
    assert all(b >= a / 2**0.5 and b % 64 == 0 for a, b in zip(sizes, sizes[1:]))
    assert sizes[-1] >= 1024 > sizes[-1] / 2**0.5 and async_buckets(1000) == (1000,)
    src = StoredPatterns(random_binary(getkey(), 2600, 32))
    key = getkey()
    for starts in ("random", "cues"):
        kw = dict(F=dj.Polynomial(3), rule=dj.Async(order="random"), rho=0.2, num_probes=40)
        kw.update(max_steps=30, starts=starts, method="exact")
        pool, bucketed = _Probe(**kw), _Probe(**kw, buckets=True)
        count = eqx.filter_jit(lambda p, K: p.successes(src, K, key))
        for K in (40, 90, 1100, 1500, 2600):
            K = jnp.int32(K)
            assert int(count(bucketed, K)) == int(count(pool, K)), (starts, int(K))
    cfg = {"N": 32, "k_pool": 400, "starts": "random", "rule": "async-random"}
    assert k_half.runs_sequentially(k_half.resolve(cfg))
    assert not k_half.runs_sequentially(k_half.resolve(dict(cfg, rule="sync")))
    assert not k_half.runs_sequentially(k_half.resolve(dict(cfg, starts="cues")))


def test_wilson_interval_and_probe_count():
    lo, hi = cap.wilson_interval(5, 10)  # the textbook example: 5 of 10 at 95%
    np.testing.assert_allclose([lo, hi], [0.2366, 0.7634], atol=1e-4)
    lo, hi = cap.wilson_interval(0, 20)
    assert float(lo) == 0.0 and 0.1 < float(hi) < 0.2
    # the SMALLEST count (in float64: at 1/2 the half-width is z / (2 sqrt(n + z^2)))
    for h, c in ((0.05, 0.95), (0.2, 0.99), (0.01, 0.5), (0.3, 0.95)):
        z = statistics.NormalDist().inv_cdf(0.5 + c / 2)
        n = cap.probes_for_halfwidth(h, c)
        for m, inside in ((n, True), (n - 1, False)):
            assert (m >= 1 and z / (2 * np.sqrt(m + z * z)) <= h) == inside, (h, c, m)
    n = cap.probes_for_halfwidth(0.05)
    for m, inside in ((n, True), (n - 1, False)):
        lo, hi = cap.wilson_interval(m // 2, m)
        assert (float(hi - lo) / 2 <= 0.05) == inside
    assert cap.probes_for_halfwidth(1e-5) > 9 * 10**9  # closed form: no search over 10^9 counts
    for args, match in (
        ((5, 3), r"`successes` must lie in \[0, trials\]"),
        ((-1, 3), "`successes` must lie"),
        ((1, 0), "`trials` must be >= 1"),
        ((float("nan"), 3), "`successes` must be whole"),
        ((1.5, 3), "`successes` must be whole"),
    ):
        with pytest.raises(ValueError, match=match):
            cap.wilson_interval(*args)
    with pytest.raises(ValueError, match="`population` must be >= `trials`"):
        cap.wilson_interval(1, 3, population=2)


def test_bad_input_names_the_argument(getkey):
    F = dj.Polynomial(3)
    P = random_binary(getkey(), 200, 40)
    with pytest.raises(ValueError, match="`num_probes` = 50.*needs >= 381"):
        cap.sampled_k_half(F, key=getkey(), patterns=P, num_probes=50)
    with pytest.raises(ValueError, match="`k_max` = 20 .*cannot answer"):
        cap.sampled_k_half(F, key=getkey(), patterns=P, k_max=20, num_probes=40, halfwidth=0.2)
    with pytest.raises(ValueError, match="`k_resolution` must lie in"):
        cap.sampled_k_half(F, key=getkey(), patterns=P, k_resolution=0.7)
    with pytest.raises(ValueError, match="`k_max` = 10 .*cannot answer"):
        cap.no_error_capacity(F, patterns=P, k_max=10)
    with pytest.raises(ValueError, match="`k_min` = 150 is too large"):
        cap.no_error_capacity(F, patterns=P, k_min=150)
    with pytest.raises(ValueError, match=r"`memory_budget` = 1000 bytes .*needs \d+ bytes"):
        cap.no_error_capacity(F, patterns=P, memory_budget=1000)
    with pytest.raises(ValueError, match="`k_max` = 300 exceeds the pattern pool size 200"):
        cap.no_error_capacity(F, patterns=P, k_max=300)
    with pytest.raises(ValueError, match="`num_active` must lie in"):
        BlockedDAM(P, F, num_active=0)
    with pytest.raises(ValueError, match="`patterns`"):
        StoredPatterns(jnp.zeros((3, 4)))


def test_sweep_capacity_and_k_half_experiments(getkey):
    from damjax import sweep
    from damjax.capacity._sweeps import capacity, k_half

    key = getkey()
    cfg = {"N": 40, "k_pool": 150, "criterion": "stable"}
    got = capacity.resolve(cfg)
    out = jax.jit(lambda k: capacity(got, k))(key)
    # the same pool as before (random_binary from the row key), now on blocked int8 fields
    kx, ks = jax.random.split(key)
    X = random_binary(kx, 150, 40)
    assert int(out["capacity"]) == int(cap.capacity_search(X[None], dj.Polynomial(3), key=ks)[0])
    regen = capacity(capacity.resolve(dict(cfg, patterns="regenerated", block_size=32)), key)
    src = RandomPatterns(kx, 150, 40, block_size=32)
    assert int(regen["capacity"]) == int(cap.no_error_capacity(dj.Polynomial(3), patterns=src)[0])

    kcfg = k_half.resolve({"N": 48, "k_pool": 400, "probes": 100, "halfwidth": 0.1})
    res = jax.jit(lambda k: k_half(kcfg, k))(key)
    assert int(res["resolved"]) == 1 and int(res["probes_used"]) == 100
    assert int(res["k_half_lower"]) <= int(res["k_half"]) < int(res["k_half_upper"])
    kx, kp = jax.random.split(key)
    direct = cap.sampled_k_half(
        dj.Polynomial(3),
        key=kp,
        patterns=RandomPatterns(kx, 400, 48, block_size=16),
        num_probes=100,
        halfwidth=0.1,
    )
    # one seed: the public function splits its key per seed, the experiment uses kp directly,
    # and for rho = 0 cues the probes are fixed patterns (no key), so the answers are equal
    assert int(res["k_half"]) == int(direct.k_half[0])
    with pytest.raises(ValueError, match="`probes` = 10"):
        k_half.resolve({"N": 48, "k_pool": 400, "probes": 10})
    with pytest.raises(ValueError, match="`k_resolution`"):
        k_half.resolve({"N": 48, "k_pool": 400, "k_resolution": -0.1})
    g = sweep.Grid({"N": [32], "k_pool": [200], "probes": [100], "halfwidth": [0.1]}, seeds=2)
    frame = sweep.run(g, "k_half", None, progress=False).frame()
    assert len(frame) == 2 and set(frame["resolved"]) == {1}


def test_cue_blocked_async_equals_float64_reference_loop(getkey):
    from damjax.capacity._async_blocked import blocked_async

    K, N = 40, 48
    X = random_binary(getkey(), K, N)
    cues = random_binary(getkey(), 10, N)
    model = dj.BinaryDAM(X, dj.Polynomial(3))
    out = jax.jit(lambda m, c: blocked_async(m, c, key=jax.random.key(0), max_steps=50))(
        model, cues
    )
    ref = dj.retrieve(model, cues, rule=dj.Async(), max_steps=50)
    assert np.array_equal(out.states, ref.states) and np.array_equal(out.steps, ref.steps)
    Xd = np.asarray(X, np.float64)
    for cue, got in zip(np.asarray(cues, np.float64), np.asarray(out.states)):
        s = cue.copy()
        for _ in range(50):  # float64, one neuron at a time, by the energy difference itself
            changed = False
            for i in range(N):
                m = Xd @ s
                h = np.sum((m + (1 - s[i]) * Xd[:, i]) ** 3) - np.sum(
                    (m - (1 + s[i]) * Xd[:, i]) ** 3
                )
                new = s[i] if h == 0 else np.sign(h)
                changed |= new != s[i]
                s[i] = new
            if not changed:
                break
        np.testing.assert_array_equal(got, s)
