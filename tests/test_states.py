"""Stable states: exhaustive enumeration (N <= 16), basin counts, labels, profiles, classifiers."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import damjax as dj
from damjax import states as S


def _every_state(n):
    return np.array(list(itertools.product([-1.0, 1.0], repeat=n)))


def _hebb64(x):
    x = np.asarray(x, np.float64)
    w = x.T @ x / x.shape[1]
    np.fill_diagonal(w, 0.0)
    return w


def _stable_ref_hopfield(x):
    """Brute force over all 2^N states, float64: s stable iff s_i (W s)_i > 0 or (W s)_i = 0."""
    w = _hebb64(x) * x.shape[1]  # integer couplings: exact zero fields (ties) stay zero
    every = _every_state(x.shape[1])
    h = every @ w
    ok = np.all((every * h > 0) | (h == 0), axis=1)
    return every[ok]


def _dam_energy64(x, F, s):
    return -sum(F(float(m)) for m in np.asarray(x, np.float64) @ s)


def _stable_ref_dam(x, F):
    every = _every_state(x.shape[1])
    out = []
    for s in every:
        e0 = _dam_energy64(x, F, s)
        ok = True
        for i in range(s.size):
            t = s.copy()
            t[i] = -t[i]
            if _dam_energy64(x, F, t) < e0:  # flipping lowers the energy: not stable
                ok = False
                break
        if ok:
            out.append(s)
    return np.array(out)


def _label_ref(state, examples, prototypes, radius):
    """Slow reference labeller (negations match)."""
    n = state.size
    for x in np.asarray(examples):
        if np.array_equal(state, x) or np.array_equal(state, -x):
            return S.LEARNED
    d = min(min(np.sum(state != p), np.sum(state != -p)) for p in np.asarray(prototypes))
    return S.PROTOTYPE if d <= int(np.floor(radius * n + 1e-9)) else S.SPURIOUS


def _as_set(a):
    return {tuple(r) for r in np.asarray(a).astype(int).tolist()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exhaustive_hopfield_states_labels_and_basins(seed):
    N = 12
    key = jax.random.key(seed)
    task = dj.patterns.prototype_task(key, 2, 3, N, 0.1)
    model = dj.HopfieldNetwork(task.examples)
    ref = _stable_ref_hopfield(task.examples)
    enum = S.enumerate_stable_states(model)
    assert _as_set(enum) == _as_set(ref)
    # starting from every one of the 2^N states finds every stable state (a stable start stays)
    every = S.all_states(N)
    found = S.collect_stable_states(model, key=key, starts=every, batch_size=1000)
    assert found.num_unconverged == 0
    assert int(np.sum(found.counts)) == 2**N == found.num_starts
    assert _as_set(found.states) == _as_set(ref)
    assert np.all(np.asarray(found.counts) >= 1)
    assert np.all(np.diff(np.asarray(found.counts)) <= 0)  # most frequent first
    # labels against the slow reference, for every stable state
    radius = 0.1  # floor(1.2) = 1 flip
    labels = np.asarray(S.label_states(enum, task.examples, task.prototypes, radius=radius))
    want = [_label_ref(s, task.examples, task.prototypes, radius) for s in np.asarray(enum)]
    assert labels.tolist() == want


def test_exhaustive_labels_cover_all_three_classes():
    # N = 16, few examples at low noise: examples are stable (learned), the prototypes or states
    # next to them are stable (prototype), and mixtures are spurious
    N = 16
    seen = set()
    for seed in range(8):
        if len(seen) == 3:
            break
        task = dj.patterns.prototype_task(jax.random.key(seed), 3, 2, N, 0.06)
        model = dj.HopfieldNetwork(task.examples)
        enum = S.enumerate_stable_states(model)
        assert _as_set(enum) == _as_set(_stable_ref_hopfield(task.examples))
        labels = np.asarray(S.label_states(enum, task.examples, task.prototypes, radius=0.1))
        want = [_label_ref(s, task.examples, task.prototypes, 0.1) for s in np.asarray(enum)]
        assert labels.tolist() == want
        seen |= set(labels.tolist())
    assert seen == {S.LEARNED, S.PROTOTYPE, S.SPURIOUS}


def test_exhaustive_dam_stable_states():
    N = 10
    x = dj.patterns.random_binary(jax.random.key(3), 6, N)
    F = dj.Polynomial(3)
    model = dj.BinaryDAM(x, F)
    ref = _stable_ref_dam(np.asarray(x), lambda m: m**3)
    assert _as_set(S.enumerate_stable_states(model)) == _as_set(ref)
    found = S.collect_stable_states(model, key=jax.random.key(0), starts=S.all_states(N))
    assert _as_set(found.states) == _as_set(ref)
    assert int(np.sum(found.counts)) + found.num_unconverged == 2**N


def test_random_starts_basin_counts_and_negations(getkey):
    task = dj.patterns.prototype_task(getkey(), 3, 5, 40, 0.15)
    model = dj.HopfieldNetwork(task.examples)
    for rule in (dj.Async(), dj.Async(order="random")):
        found = S.collect_stable_states(
            model, key=getkey(), num_starts=300, rule=rule, batch_size=160
        )
        assert found.num_unconverged == 0
        assert int(np.sum(found.counts)) == 300 == found.num_starts
        assert np.all(np.asarray(S.is_stable(model, found.states)))
        assert np.unique(np.asarray(found.states), axis=0).shape[0] == found.num_states
        assert np.isclose(float(np.sum(found.basin_fractions)), 1.0)
    # synchronous dynamics may end in 2-cycles: counted as unconverged, never as states
    sync = S.collect_stable_states(
        model, key=getkey(), num_starts=300, rule=dj.Sync(), batch_size=160
    )
    assert int(np.sum(sync.counts)) + sync.num_unconverged == 300
    assert np.all(np.asarray(S.is_stable(model, sync.states)))
    # merging negations: representatives start with +1, counts add up per pair
    key = getkey()
    sep = S.collect_stable_states(model, key=key, num_starts=300, batch_size=160)
    merged = S.collect_stable_states(
        model, key=key, num_starts=300, batch_size=160, merge_negations=True
    )
    assert np.all(np.asarray(merged.states)[:, 0] == 1)
    sep_counts = {tuple(s): int(c) for s, c in zip(np.asarray(sep.states).astype(int), sep.counts)}
    for s, c in zip(np.asarray(merged.states).astype(int), np.asarray(merged.counts)):
        assert c == sep_counts.get(tuple(s), 0) + sep_counts.get(tuple(-s), 0)
    assert int(np.sum(merged.counts)) == 300


def test_unit_energies_hopfield_and_dam(getkey):
    task = dj.patterns.prototype_task(getkey(), 2, 4, 24, 0.1)
    model = dj.HopfieldNetwork(task.examples)
    s = dj.patterns.random_binary(getkey(), 6, 24)
    e = np.asarray(S.unit_energies(model, s))
    w = _hebb64(task.examples)
    s64 = np.asarray(s, np.float64)
    assert np.allclose(e, -0.5 * s64 * (s64 @ w), atol=1e-5)
    # the profile sums to the energy (n = 2)
    energies = [float(model.energy(r)) for r in s]
    assert np.allclose(e.sum(axis=1), energies, atol=1e-4)
    # DAM analogue: -x_i h_i / 4 with h from brute-force float64 energy differences
    x = np.asarray(dj.patterns.random_binary(getkey(), 5, 12))
    dam = dj.BinaryDAM(x, dj.Polynomial(3))
    st = np.asarray(dj.patterns.random_binary(getkey(), 3, 12), np.float64)
    prof = np.asarray(S.unit_energies(dam, st))
    for row, sv in zip(prof, st):
        ref = []
        for i in range(12):
            up, down = sv.copy(), sv.copy()
            up[i], down[i] = 1.0, -1.0
            h = _dam_energy64(x, lambda m: m**3, down) - _dam_energy64(x, lambda m: m**3, up)
            ref.append(-0.25 * sv[i] * h)
        assert np.allclose(row, ref, rtol=1e-5, atol=1e-3)
    # a single state works too
    assert S.unit_energies(model, s[0]).shape == (24,)
    with pytest.raises(TypeError, match="binary memory"):
        S.unit_energies(object(), s)
    with pytest.raises(ValueError, match="last dimension"):
        S.unit_energies(model, jnp.ones((2, 5)))


def test_scaled_profiles_high_degree_no_overflow(getkey):
    x = dj.patterns.random_binary(getkey(), 20, 300)
    dam = dj.BinaryDAM(x, dj.Polynomial(30))
    st = dj.patterns.flip(getkey(), x[:4], 0.05)
    raw = np.asarray(S.unit_energies(dam, st))
    assert not np.all(np.isfinite(raw))  # 300^30 overflows float32
    scaled = np.asarray(S.unit_energies(dam, st, scaled=True))
    assert np.all(np.isfinite(scaled))
    r = np.asarray(S.stability_ratio(scaled))
    assert np.all(np.isfinite(r))
    # float64 reference (300^30 ~ 2e74 fits in float64): flip costs from overlaps
    x64, s64 = np.asarray(x, np.float64), np.asarray(st, np.float64)
    for row, sv in zip(r, s64):
        m = x64 @ sv
        e0 = -np.sum(m**30)
        cost = np.array([-np.sum((m - 2 * x64[:, i] * sv[i]) ** 30) - e0 for i in range(300)])
        e = -cost / 4
        assert np.isclose(row, e.max() / e.min(), rtol=1e-4, atol=1e-6)


def test_stability_ratio_and_features():
    e = jnp.asarray([[-4.0, -1.0, -2.0], [-1.0, -1.0, -1.0], [0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    r = np.asarray(S.stability_ratio(e))
    assert np.allclose(r, [0.25, 1.0, 0.0, -0.5])
    perm = e[:, ::-1] * 3.0
    assert np.allclose(np.asarray(S.stability_ratio(perm)), r)
    f = np.asarray(S.profile_features(e, sort=True, normalize=True))
    assert np.allclose(f[0], np.array([-4.0, -2.0, -1.0]) / (7 / 3))
    assert np.allclose(f[2], 0.0)
    assert np.allclose(np.asarray(S.profile_features(e)), np.asarray(e))
    with pytest.raises(ValueError, match=r"\(B, N\)"):
        S.profile_features(jnp.ones(3))


def test_label_errors_and_edge_cases(getkey):
    x = dj.patterns.random_binary(getkey(), 3, 10)
    with pytest.raises(ValueError, match="radius"):
        S.label_states(x, x, x, radius=0.5)
    with pytest.raises(ValueError, match="examples"):
        S.label_states(x, jnp.ones((2, 11)), x)
    with pytest.raises(ValueError, match="exactly one"):
        S.collect_stable_states(dj.HopfieldNetwork(x), key=getkey())
    with pytest.raises(TypeError, match="binary memory"):
        S.collect_stable_states(object(), key=getkey(), num_starts=3)
    with pytest.raises(ValueError, match="N <= 20"):
        S.enumerate_stable_states(dj.HopfieldNetwork(dj.patterns.random_binary(getkey(), 2, 21)))
    # learned beats prototype; negations match only when asked
    labels = S.label_states(jnp.concatenate([x, -x]), x, x)
    assert np.all(np.asarray(labels) == S.LEARNED)
    labels = S.label_states(-x, x, x, match_negations=False)
    assert np.all(np.asarray(labels) != S.LEARNED)


def _toy_data(key, n=200, d=16):
    """Two classes of 'profiles': flat (high stability ratio) vs one weak unit."""
    k1, k2 = jax.random.split(key)
    base = -1.0 - 0.1 * jax.random.uniform(k1, (n, d))
    weak = jnp.where(jnp.arange(n)[:, None] % 2 == 1, jnp.eye(d)[0] * 0.95, 0.0)
    X = base + weak * (1.0 + 0.05 * jax.random.normal(k2, (n, 1)))
    y = np.arange(n) % 2
    return np.asarray(X), y


def test_classifiers_learn_separable_profiles(getkey):
    X, y = _toy_data(getkey())
    Xt, yt = _toy_data(getkey())
    for name in S.CLASSIFIERS:
        clf = S.make_classifier(name).fit(X, y)
        assert clf.score(Xt, yt) >= 0.95, name
        assert set(np.unique(clf.predict(Xt))) <= {0, 1}
    with pytest.raises(ValueError, match="one of"):
        S.make_classifier("forest")
    with pytest.raises(ValueError, match="2 to 4 classes"):
        S.StabilityRatioClassifier().fit(X, np.arange(len(y)) % 5)
    with pytest.raises(ValueError, match="2 to 4 classes"):
        S.StabilityRatioClassifier().fit(X, np.zeros(len(y), int))


def test_stability_ratio_threshold_is_optimal(getkey):
    rng = np.random.default_rng(0)
    X = -rng.uniform(0.1, 1.0, size=(60, 5))
    y = rng.integers(0, 2, 60)
    clf = S.StabilityRatioClassifier().fit(X, y)
    r = np.asarray(S.stability_ratio(X))
    best = max(
        max(np.mean((r >= t) == (y == c)) for t in np.concatenate([r, [np.inf]])) for c in (0, 1)
    )
    assert np.isclose(clf.score(X, y), best)


@pytest.mark.parametrize("num_classes", [2, 3])
def test_stability_ratio_intervals_are_optimal_brute_force(num_classes):
    # every order of the classes along the ratio and every choice of thresholds, exhaustively
    rng = np.random.default_rng(num_classes)
    for _ in range(15):
        n = int(rng.integers(6, 13))
        X = np.round(-rng.uniform(0.1, 1.0, size=(n, 4)), 1)  # rounding makes ratio ties
        y = rng.integers(0, num_classes, n)
        if np.unique(y).size < 2:
            continue
        clf = S.StabilityRatioClassifier().fit(X, y)
        r = np.asarray(S.stability_ratio(X))
        v = np.unique(r)
        edges = np.concatenate([[v[0] - 1], (v[:-1] + v[1:]) / 2, [v[-1] + 1]])
        classes = np.unique(y)
        best = max(
            np.mean(np.array(order)[np.searchsorted(np.array(ts), r, side="right")] == y)
            for order in itertools.permutations(classes)
            for ts in itertools.combinations_with_replacement(edges, classes.size - 1)
        )
        assert np.isclose(clf.score(X, y), best)
        assert np.all(np.diff(clf.thresholds_) >= 0)
        assert set(np.unique(clf.predict(X))) <= set(classes.tolist())


def test_balanced_accuracy_and_interval():
    y = np.array([0] * 10 + [1] * 30 + [2] * 60)
    pred = y.copy()
    pred[:3] = 1  # class 0: 7/10
    pred[10:16] = 2  # class 1: 24/30
    acc, half = S.balanced_accuracy(y, pred)
    assert np.isclose(acc, (0.7 + 0.8 + 1.0) / 3)
    ref = 0.0
    for k, n in ((7, 10), (24, 30), (60, 60)):
        t = (k + 2) / (n + 4)
        ref += t * (1 - t) / (n + 4)
    assert np.isclose(half, 1.96 * np.sqrt(ref) / 3)
    assert half > 0  # a perfect class still has a non-zero width
    # balanced test set: balanced accuracy == plain accuracy; the width shrinks like 1/sqrt(n)
    yb = np.repeat([0, 1], 50)
    pb = np.where(np.arange(100) % 5 == 0, 1 - yb, yb)
    assert np.isclose(S.balanced_accuracy(yb, pb)[0], np.mean(pb == yb))
    big = S.balanced_accuracy(np.tile(yb, 16), np.tile(pb, 16))[1]
    assert big < S.balanced_accuracy(yb, pb)[1] / 3
    with pytest.raises(ValueError, match="equal shape"):
        S.balanced_accuracy(y, pred[:5])
    with pytest.raises(ValueError, match="at least one"):
        S.balanced_accuracy(np.zeros(0), np.zeros(0))
    for bad in (0.0, -1.96, float("nan")):
        with pytest.raises(ValueError, match="`z`"):
            S.balanced_accuracy(y, pred, z=bad)


def test_state_dataset_given_starts_and_merged_negations(getkey):
    task = dj.patterns.prototype_task(getkey(), 3, 2, 60, 0.25)
    model = dj.HopfieldNetwork(task.examples)
    starts = jnp.concatenate([task.examples, -task.examples, task.prototypes])
    ds = S.state_dataset(model, task, key=getkey(), starts=starts, merge_negations=True)
    assert ds.num_starts == starts.shape[0] == int(np.sum(ds.counts))
    st = np.asarray(ds.states)
    assert np.all(st[:, 0] == 1)  # one representative of each +- pair
    # every stable example is found, once, and labelled learned
    stable = np.asarray(S.is_stable(model, task.examples))
    canon = np.asarray(task.examples) * np.where(np.asarray(task.examples)[:, :1] < 0, -1, 1)
    rows = {tuple(r) for r in st.astype(int).tolist()}
    for x, ok in zip(canon.astype(int).tolist(), stable):
        assert (tuple(x) in rows) == bool(ok)
    lab = np.asarray(ds.labels)
    assert int(np.sum(lab == S.LEARNED)) == len(
        {tuple(x) for x, ok in zip(canon.tolist(), stable) if ok}
    )
    with pytest.raises(ValueError, match="exactly one"):
        S.state_dataset(model, task, key=getkey(), num_starts=4, starts=starts)


def test_state_dataset_and_balanced_indices(getkey):
    task = dj.patterns.prototype_task(getkey(), 3, 10, 60, 0.15)
    model = dj.HopfieldNetwork(task.examples)
    ds = S.state_dataset(model, task, key=getkey(), num_starts=256)
    assert int(np.sum(ds.counts)) == 256
    assert ds.profiles.shape == ds.states.shape
    assert np.all(np.asarray(ds.profiles) <= 1e-6)  # stable: no unit wants to flip
    idx = np.asarray(S.balanced_indices(ds.labels, key=getkey()))
    lab = np.asarray(ds.labels)[idx]
    _, counts = np.unique(lab, return_counts=True)
    assert np.all(counts == counts[0])
