"""Bad inputs get a clear error naming the argument (issue 18, items 2-4 and 13)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import damjax as dj
from damjax.capacity import capacity_search


@pytest.fixture(scope="module")
def dam():
    X = dj.patterns.random_binary(jax.random.key(0), 4, 16)
    return X, dj.BinaryDAM(X, dj.Polynomial(3))


@pytest.mark.parametrize("bad", [np.nan, np.inf, 0.5, 0.0], ids=["nan", "inf", "half", "zero"])
def test_binary_cues_must_be_pm1(dam, bad):
    X, model = dam
    cues = np.array(X[:2])
    cues[1, 3] = bad
    with pytest.raises(ValueError, match="cues.*\\+1 and -1"):
        dj.retrieve(model, cues)
    with pytest.raises(ValueError, match="cues"):
        dj.retrieve(model, cues, rule=dj.Async())


def test_binary_cues_01_rejected_bool_converted(dam):
    X, model = dam
    with pytest.raises(ValueError, match="cues"):
        dj.retrieve(model, (np.asarray(X) + 1) / 2)
    as_bool = np.asarray(X) > 0
    out = dj.retrieve(model, as_bool)
    ref = dj.retrieve(model, X)
    np.testing.assert_array_equal(out.states, ref.states)
    out = dj.retrieve(model, np.asarray(X, np.int32))  # integer +-1 works too
    np.testing.assert_array_equal(out.states, ref.states)


@pytest.mark.parametrize("pool", ["01", "nan", "times3"])
def test_capacity_search_checks_pool(pool):
    P = np.asarray(dj.patterns.random_binary(jax.random.key(1), 2 * 8, 32)).reshape(2, 8, 32)
    P = {"01": (P + 1) / 2, "nan": np.where(P > 0, np.nan, P), "times3": 3 * P}[pool]
    with pytest.raises(ValueError, match="patterns"):
        capacity_search(P, dj.Polynomial(3), key=jax.random.key(0))


def test_capacity_search_argument_types():
    P = dj.patterns.random_binary(jax.random.key(1), 8, 32)[None]
    with pytest.raises(TypeError, match="criterion"):
        capacity_search(P, dj.Polynomial(3), criterion="stable", key=jax.random.key(0))
    with pytest.raises(TypeError, match="key"):
        capacity_search(P, dj.Polynomial(3), key=0)
    with pytest.raises(TypeError, match="`F`"):
        capacity_search(P, "poly", key=jax.random.key(0))


@pytest.mark.parametrize("bad", [np.nan, -1.0, 0.5, 2.0], ids=["nan", "neg", "half", "two"])
def test_mask_must_be_01(dam, bad):
    X, _ = dam
    mask = np.ones(4)
    mask[2] = bad
    with pytest.raises(ValueError, match="mask"):
        dj.BinaryDAM(X, dj.Polynomial(3), mask=mask)


def test_masked_exponential_energy_uses_kept_patterns(dam):
    # a masked-out pattern with the largest overlap must not push the kept terms to underflow
    X, _ = dam
    model = dj.BinaryDAM(X, dj.Exponential(20.0), mask=jnp.array([0.0, 1.0, 1.0, 1.0]))
    e, ls = model.scaled_energy(X[0])
    assert float(e) < 0 and np.isfinite(float(e)) and np.isfinite(float(ls))


@pytest.mark.parametrize("tol", [np.nan, -1.0])
def test_sync_tol_checked(tol):
    with pytest.raises(ValueError, match="tol"):
        dj.Sync(tol=tol)
    with pytest.raises(ValueError, match="tol"):
        dj.OneStep(tol=tol)


def test_kernelized_rejects_nan_patterns():
    P = np.ones((3, 4))
    P[0, 0] = np.nan
    with pytest.raises(ValueError, match="patterns"):
        dj.KernelizedHopfield(P)


def test_flip_argument_errors():
    X = dj.patterns.random_binary(jax.random.key(0), 2, 8)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="rho"):
        dj.patterns.flip(key, X, [0.1, 0.2])
    with pytest.raises(TypeError, match="rho"):
        dj.patterns.flip(key, X, "0.1")
    with pytest.raises(ValueError, match="patterns"):
        dj.patterns.flip(key, jnp.asarray(1.0), 0.1)
    with pytest.raises(TypeError, match="jax.random.key"):
        dj.patterns.flip(0, X, 0.1)


def test_retrieve_key_and_numpy_integers(dam):
    X, model = dam
    with pytest.raises(TypeError, match="jax.random.key"):
        dj.retrieve(model, X, key=0)
    out = dj.retrieve(model, X, max_steps=np.int64(5))
    assert out.states.shape == X.shape
    dj.retrieve(model, X, key=jax.random.PRNGKey(0))  # legacy keys still accepted


def test_modern_hopfield_width_checked():
    mh = dj.ModernHopfield(np.eye(4), 1.0)
    with pytest.raises(ValueError, match="last dimension"):
        mh.update(jnp.ones(5))
    with pytest.raises(ValueError, match="last dimension"):
        mh.energy(jnp.ones(3))


def test_numpy_scalar_normalizer():
    P = np.eye(4)
    m = dj.KernelizedHopfield(P, normalizer=np.float32(1.5))
    assert isinstance(m.normalizer, dj.Entmax) and float(m.normalizer.alpha) == 1.5


def test_traced_values_checked_when_enabled(dam):
    # inside jit the concrete-value checks cannot see a NaN cue; with check_traced_values on it
    # raises at run time instead of returning a silent NaN (an EquinoxRuntimeError, wrapped by XLA)

    X, model = dam
    cues = np.array(X[:2])
    cues[0, 0] = np.nan
    f = jax.jit(lambda c: dj.retrieve(model, c).states)
    assert np.isnan(np.asarray(f(cues))).any()  # the documented default: not checked
    prev = dj.check_traced_values(True)
    try:
        g = jax.jit(lambda c: dj.retrieve(model, c).states)
        with pytest.raises(Exception, match="`cues` must contain only"):
            jax.block_until_ready(g(cues))
        np.testing.assert_array_equal(g(np.asarray(X[:2])), dj.retrieve(model, X[:2]).states)
        mh = dj.ModernHopfield(np.eye(3), 1.0)
        h = jax.jit(lambda c: dj.retrieve(mh, c, rule=dj.Sync(tol=1e-6)).states)
        with pytest.raises(Exception, match="`cues` must contain only finite"):
            jax.block_until_ready(h(jnp.array([[np.nan, 0.0, 1.0]])))
        # patterns built inside jit (as capacity searches do)
        bad = jnp.asarray(X).at[0, 0].set(0.5)
        k = jax.jit(lambda P: dj.BinaryDAM(P, dj.Polynomial(3)).energy(P[0]))
        with pytest.raises(Exception, match="`patterns` must contain only"):
            jax.block_until_ready(k(bad))
    finally:
        dj.check_traced_values(prev)


def test_unknown_reproduction_is_a_value_error():
    from damjax import reproduce

    with pytest.raises(ValueError, match="unknown reproduction 'nope'; available: ") as info:
        reproduce.get("nope")
    assert isinstance(info.value, KeyError) and str(info.value).startswith("unknown")


def test_complex_nan_and_meaningless_inputs_are_refused():
    """Inputs that used to run silently: complex arrays (a cast dropped the imaginary part),
    NaN images, a non-positive beta in a sweep (traced there, so the model could not check it)
    and a non-positive or NaN training temperature (NaN memories)."""
    from damjax import datasets as D
    from damjax import learning as L
    from damjax import sweep

    X = jax.random.normal(jax.random.key(0), (5, 8))
    for make in (
        lambda: dj.ModernHopfield(X * 1j),
        lambda: dj.KernelizedHopfield(X * 1j),
        lambda: dj.RandomFeatureDAM(X * 1j, beta=1.0, num_features=16, key=jax.random.key(0)),
        lambda: dj.HopfieldNetwork(weights=jnp.eye(8) * 1j),
        lambda: D.Dataset(np.ones((10, 9)) * 1j, np.zeros(10, int), 3, (3, 3)),
        lambda: dj.retrieve(dj.ModernHopfield(X), X * (1 + 1j)),
    ):
        with pytest.raises(TypeError, match="must be real"):
            make()
    # integer and bool cues of a continuous model run as float states
    m = dj.ModernHopfield(X)
    ints = dj.retrieve(m, (X > 0).astype(int), max_steps=3).states
    np.testing.assert_array_equal(ints, dj.retrieve(m, (X > 0).astype(float), max_steps=3).states)
    assert dj.trajectory(m, X > 0, rule=dj.Euler(0.1), t1=0.3).energies.shape == (5, 4)
    with pytest.raises(ValueError, match="`images` must contain only finite"):
        D.Dataset(np.full((10, 9), np.nan), np.zeros(10, int), 3, (3, 3))
    for beta in (-1.0, 0.0, float("nan")):
        with pytest.raises(ValueError, match="`beta`"):  # NaN: the grid; <= 0: the experiment
            grid = sweep.Grid({"N": [10], "K": [3], "F": ["exp"], "beta": [beta]})
            sweep.run(grid, "retrieval", None, progress=False)
    data = D.load_digits()
    train = D.Dataset(data.images[:20], data.labels[:20], data.n_classes, data.image_shape)
    model = L.init_classifier(
        jax.random.key(1), n_memories=4, n_pixels=train.n_pixels, n_classes=train.n_classes
    )
    with pytest.raises(ValueError, match="must contain only finite"):
        L.accuracy(model, jnp.full((3, train.n_pixels), jnp.nan), jnp.zeros(3, int))
    opt = L.krotov_hopfield_optimizer(steps_per_epoch=5)
    for T in (-1.0, 0.0, float("nan"), lambda e: jnp.nan):
        with pytest.raises(ValueError, match="`temperature"):  # a schedule: "at epoch 0"
            L.train_classifier(
                model,
                train,
                key=jax.random.key(2),
                epochs=1,
                optimizer=opt,
                temperature=T,
                m=2,
                batch_size=4,
            )
    with pytest.raises(ValueError, match="`temperature`"):
        L.classifier_loss(model, train.images, train.labels, temperature=-1.0, m=2)


def test_capacity_helpers_check_their_inputs():
    """Inputs that used to run silently or fail deep inside JAX in the capacity tools."""
    from damjax import capacity as C
    from damjax import states as St

    F = dj.Polynomial(3)
    P = dj.patterns.random_binary(jax.random.key(0), 5, 20)
    d = C.BlockedDAM(C.StoredPatterns(P), F)
    for cues in (P * 0.5, P.at[0, 0].set(jnp.nan)):  # ran and reported converged
        with pytest.raises(ValueError, match="`cues` must contain only"):
            dj.retrieve(d, cues)
        with pytest.raises(ValueError, match="`states` must contain only"):
            C.kshard_update(d, cues, C.kshard_mesh(1))
        with pytest.raises(ValueError, match="`cues` must contain only"):
            dj.dynamics.settle_async(
                dj.BinaryDAM(P, F),
                cues,
                rule=dj.Async(),
                key=jax.random.key(1),
                max_steps=2,
                slots=2,
            )
    for k in (2.5, True):  # truncated to 2 / read as 1
        with pytest.raises(TypeError, match="`num_active`"):
            C.BlockedDAM(C.StoredPatterns(P), F, num_active=k)
    with pytest.raises(ValueError, match="`states` must have last dimension N = 20"):
        C.is_fixed_point(d, P[:, :5])
    with pytest.raises(TypeError, match="`model`"):
        C.is_fixed_point(None, P)
    with pytest.raises(ValueError, match="`patterns` must have shape"):
        C.nearest_overlap(P, P[0])
    with pytest.raises(ValueError, match="`dim` = 7 does not match"):  # dim was ignored
        C.no_error_capacity(F, patterns=P, dim=7)
    with pytest.raises(ValueError, match="need `dim` and `k_max`"):  # an IndexError before
        C.sampled_k_half(F, key=jax.random.key(0))
    with pytest.raises(TypeError, match="`rule` must be a dynamics rule"):  # ignored at rho = 0
        C.sampled_k_half(F, key=jax.random.key(0), patterns=P, rule="sync")
    with pytest.raises(ValueError, match="`chunk`"):  # chunk = 0 answered 5
        C.kshard_no_error_capacity(F, C.StoredPatterns(P), C.kshard_mesh(1), chunk=0)
    with pytest.raises(TypeError, match="`mesh`"):
        C.kshard_update(d, P, None)
    for dtype in (jnp.uint8, jnp.bool_):  # -1 became 255 / True
        with pytest.raises(TypeError, match="`dtype`"):
            dj.patterns.random_binary(jax.random.key(0), 5, 10, dtype=dtype)
        with pytest.raises(TypeError, match="`dtype`"):
            St.all_states(3, dtype=dtype)
    with pytest.raises(TypeError, match="`key` must be a PRNG key"):
        dj.patterns.random_binary(0, 5, 10)


def test_learning_and_state_helpers_check_their_inputs():
    """NaN weights, bad labels and out-of-range arguments that used to give numbers."""
    from damjax import datasets as D
    from damjax import learning as L
    from damjax import states as St

    for make in (
        lambda: dj.LinearMap(jnp.full((3, 4), jnp.nan)),
        lambda: dj.ConvSynapse(jnp.full((1, 1, 3, 3), jnp.nan), pre=0, post=1, in_shape=(1, 4, 4)),
        lambda: L.DAMClassifier(jnp.full((4, 12), jnp.nan), 3),
        lambda: L.init_classifier(
            jax.random.key(0), n_memories=4, n_pixels=9, n_classes=3, std=float("nan")
        ),
    ):
        with pytest.raises(ValueError, match="finite"):
            make()
    with pytest.raises(ValueError, match="`std` must be >= 0"):
        L.init_classifier(jax.random.key(0), n_memories=4, n_pixels=9, n_classes=3, std=-1.0)
    data = D.load_digits()
    model = L.init_classifier(
        jax.random.key(1), n_memories=4, n_pixels=data.n_pixels, n_classes=data.n_classes
    )
    x, y = data.images[:6], data.labels[:6]
    with pytest.raises(TypeError, match="`labels` must be integers"):  # one_hot(0.5) = 0
        L.classifier_loss(model, x, y + 0.5, temperature=10.0, m=2)
    with pytest.raises(ValueError, match=r"`labels` must have shape \(6,\)"):
        L.classifier_loss(model, x, y[:4], temperature=10.0, m=2)
    with pytest.raises(ValueError, match="`weights` must be finite and >= 0"):
        L.classifier_loss(model, x, y, temperature=10.0, m=2, weights=-jnp.ones(6))
    with pytest.raises(ValueError, match="`batch_size`"):
        L.accuracy(model, x, y, batch_size=0)
    with pytest.raises(ValueError, match="width|dimension"):  # 0.55 for a 3-wide map on d = 4
        L.feature_separation_loss(dj.IdentityMap(3), jax.random.normal(jax.random.key(2), (5, 4)))
    assert np.isnan(np.asarray(St.stability_ratio(jnp.array([[1.0, jnp.nan]])))).all()  # was 0
    with pytest.raises(ValueError, match="`profiles`"):
        St.stability_ratio(jnp.asarray(1.0))
    for radius in (1.5, -0.1):
        with pytest.raises(ValueError, match="`radius`"):
            St.prototype_radius(10, radius)


def test_integer_keys_are_refused_where_they_crashed_later():
    """A plain int as the key: RandomPatterns took it and failed inside retrieve later; others
    failed inside jax.random with "invalid PRNG key data"."""
    from damjax import capacity as C
    from damjax import datasets as D
    from damjax import spherical as Sp

    data = D.load_digits()
    model = dj.BinaryDAM(dj.patterns.random_binary(jax.random.key(0), 4, 10), dj.Polynomial(3))
    for make in (
        lambda: C.RandomPatterns(0, 10, 20),
        lambda: D.train_test_split(data, key=0),
        lambda: Sp.spherical_code(0, 4, 3),
        lambda: dj.MLPMap(3, 3, key=0),
        lambda: C.noisy_retrieval(model, 0.1, key=None),
        lambda: C.sampled_k_half(dj.Polynomial(3), key=0, dim=20, k_max=50),
    ):
        with pytest.raises(TypeError, match="`key` must be a PRNG key"):
            make()
    with pytest.raises(TypeError, match="`data` must be a damjax.datasets.Dataset"):
        D.train_test_split((data.images, data.labels), key=jax.random.key(0))


def test_small_helpers_refuse_out_of_range_arguments():
    from damjax import capacity as C
    from damjax import learning as L

    for status in (7, -1, 1.5):  # -1 read as the last name; 7 an IndexError
        with pytest.raises(ValueError, match="`status` must hold codes 0 .. 3"):
            dj.RESULTS.name(status)
    with pytest.raises(ValueError, match="`ncols`"):  # a grid of NaN
        L.memory_grid(np.ones((4, 9)), (3, 3), ncols=0)
    with pytest.raises(ValueError, match=r"shape \(K, >= P\)"):
        L.memory_grid(np.ones(9), (3, 3))
    model = C.BlockedDAM(
        C.StoredPatterns(dj.patterns.random_binary(jax.random.key(0), 5, 20)), dj.Polynomial(3)
    )
    for batch in (0, -3):
        with pytest.raises(ValueError, match="`batch`"):
            C.field_memory(model, batch)
    with pytest.raises(TypeError, match="`model` must be a BlockedDAM"):
        C.field_memory(C.BlockedDAM, 4)
    X = jax.random.normal(jax.random.key(1), (5, 8))
    with pytest.raises(ValueError, match="`t1` = .* Euler steps"):  # an OverflowError
        dj.trajectory(dj.ModernHopfield(X), X, rule=dj.Euler(0.1), t1=1e9)


def test_state_classifiers_check_arguments_and_fit():
    from damjax import states as St

    for kwargs, match in (
        (dict(width=0), "`width`"),
        (dict(steps=-1), "`steps`"),
        (dict(depth=0), "`depth`"),
        (dict(learning_rate=float("nan")), "`learning_rate`"),
        (dict(weight_decay=-1.0), "`weight_decay`"),
    ):
        with pytest.raises(ValueError, match=match):
            St.MLPStateClassifier(**kwargs)
    with pytest.raises(TypeError, match="`seed`"):
        St.MLPStateClassifier(seed=1.5)
    X = np.random.default_rng(0).normal(size=(12, 3))
    y = np.arange(12) % 2
    for clf in (St.MLPStateClassifier(steps=5), St.StabilityRatioClassifier()):
        with pytest.raises(ValueError, match="not fitted yet"):  # an AttributeError before
            clf.predict(X)
        clf.fit(X, y)
        assert clf.predict(X).shape == (12,)
    with pytest.raises(ValueError, match="`X` must have 3 columns"):
        clf = St.MLPStateClassifier(steps=5).fit(X, y)
        clf.predict(X[:, :2])
    with pytest.raises(ValueError, match="`X` must contain only finite"):
        St.MLPStateClassifier(steps=5).fit(np.where(X > 1, np.nan, X), y)
