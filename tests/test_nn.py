"""damjax.nn Hopfield layers and the differentiable fixed-point iteration behind them."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tree_allclose
from jax.test_util import check_grads

import damjax as dj
from damjax.dynamics import fixed_point
from damjax.nn import Hopfield, HopfieldLayer, HopfieldPooling

PROJ = lambda m: (m.query_proj, m.key_proj, m.value_proj, m.output_proj)  # noqa: E731


def _data(getkey, L=5, S=7, D=16, dtype=jnp.float32):
    return (
        jax.random.normal(getkey(), (L, D), dtype),
        jax.random.normal(getkey(), (S, D), dtype),
        jax.random.normal(getkey(), (S, D), dtype),
    )


# --- equality with transformer attention --------------------------------------------------------


@pytest.mark.parametrize("heads", [1, 4])
@pytest.mark.parametrize("bias", [False, True])
def test_one_step_equals_multihead_attention(getkey, heads, bias):
    q, y, v = _data(getkey)
    kw = dict(use_query_bias=bias, use_key_bias=bias, use_value_bias=bias, use_output_bias=bias)
    hop = Hopfield(16, num_heads=heads, key=getkey(), **kw)
    mha = eqx.nn.MultiheadAttention(heads, 16, key=getkey(), **kw)
    mha = eqx.tree_at(PROJ, mha, PROJ(hop))
    assert hop.scaling == (1 / np.sqrt(16 // heads),) * heads
    assert tree_allclose(hop(q, y, v), mha(q, y, v), rtol=1e-5, atol=1e-6)
    mask = jax.random.bernoulli(getkey(), 0.6, (5, 7)).at[:, 0].set(True)
    assert tree_allclose(hop(q, y, v, mask=mask), mha(q, y, v, mask=mask), rtol=1e-5, atol=1e-6)
    hmask = jax.random.bernoulli(getkey(), 0.6, (heads, 5, 7)).at[:, :, 0].set(True)
    assert tree_allclose(hop(q, y, v, mask=hmask), mha(q, y, v, mask=hmask), rtol=1e-5, atol=1e-6)


def test_gradients_equal_multihead_attention(getkey):
    q, y, v = _data(getkey)
    hop = Hopfield(16, num_heads=4, key=getkey())
    mha = eqx.tree_at(PROJ, eqx.nn.MultiheadAttention(4, 16, key=getkey()), PROJ(hop))
    gh = eqx.filter_grad(lambda m: jnp.sum(jnp.sin(m(q, y, v))))(hop)
    gm = eqx.filter_grad(lambda m: jnp.sum(jnp.sin(m(q, y, v))))(mha)
    assert tree_allclose(PROJ(gh), PROJ(gm), rtol=1e-4, atol=1e-6)


# --- the state iteration: energy, gradients -----------------------------------------------------


@pytest.mark.parametrize("normalizer", ["softmax", "entmax15", "sparsemax", 1.3])
def test_energy_never_increases_along_the_update(getkey, normalizer):
    with jax.enable_x64(True):
        q, y, _ = _data(getkey, L=6, S=12, D=8, dtype=jnp.float64)
        hop = Hopfield(
            8, num_heads=2, scaling=2.0, normalizer=normalizer, dtype=jnp.float64, key=getkey()
        )
        mask = jax.random.bernoulli(getkey(), 0.7, (6, 12)).at[:, 0].set(True)
        for m in (None, mask):
            states = hop.hopfield_states(q, y, steps=15, mask=m)
            e = np.asarray(jax.vmap(lambda s: hop.energy(s, y, mask=m))(states))
            assert e.shape == (16, 2, 6)
            scale = np.maximum(1.0, np.abs(e).max())
            assert np.all(np.diff(e, axis=0) <= 1e-12 * scale)
            assert np.any(np.diff(e, axis=0) < -1e-6)  # the dynamics do move


def _small_layer(key, gradient, steps, eps):
    return Hopfield(
        6,
        num_heads=2,
        scaling=0.3,
        update_steps_max=steps,
        update_steps_eps=eps,
        gradient=gradient,
        use_key_bias=True,
        dtype=jnp.float64,
        key=key,
    )


@pytest.mark.parametrize(
    "gradient,steps,eps", [("unrolled", 3, 1e-4), ("unrolled", 60, 1e-13), ("implicit", 400, 1e-14)]
)
def test_gradients_match_finite_differences(getkey, gradient, steps, eps):
    with jax.enable_x64(True):
        q, y, v = _data(getkey, L=3, S=4, D=6, dtype=jnp.float64)
        hop = _small_layer(getkey(), gradient, steps, eps)
        params, static = eqx.partition(hop, eqx.is_array)

        def f(params, q, y, v):
            return jnp.sum(jnp.tanh(eqx.combine(params, static)(q, y, v)))

        check_grads(f, (params, q, y, v), order=1, modes=["rev"], atol=1e-5, rtol=1e-5)


def test_implicit_equals_unrolled_to_convergence(getkey):
    with jax.enable_x64(True):
        q, y, v = _data(getkey, L=3, S=5, D=6, dtype=jnp.float64)
        k = getkey()
        unrolled = _small_layer(k, "unrolled", 300, 1e-14)
        implicit = _small_layer(k, "implicit", 300, 1e-14)
        loss = lambda m, y: jnp.sum(jnp.sin(m(q, y, v)))  # noqa: E731
        assert tree_allclose(unrolled(q, y, v), implicit(q, y, v), rtol=1e-12, atol=1e-12)
        gu = eqx.filter_grad(loss)(unrolled, y)
        gi = eqx.filter_grad(loss)(implicit, y)
        assert tree_allclose(gu, gi, rtol=1e-8, atol=1e-10)
        # and the gradients with respect to the stored patterns too
        assert tree_allclose(
            jax.grad(loss, argnums=1)(unrolled, y),
            jax.grad(loss, argnums=1)(implicit, y),
            rtol=1e-8,
            atol=1e-10,
        )
        # a truncated iteration differs: the implicit gradient needs convergence
        short = _small_layer(k, "unrolled", 1, 1e-14)
        assert not tree_allclose(eqx.filter_grad(loss)(short, y), gu, rtol=1e-3, atol=1e-6)


def test_fixed_point_function(getkey):
    with jax.enable_x64(True):
        W = 0.3 * jax.random.normal(getkey(), (4, 4), jnp.float64) / 2
        b = jax.random.normal(getkey(), (4,), jnp.float64)
        x0 = jnp.zeros(4, jnp.float64)

        def solve(W, b, gradient):
            out = fixed_point(
                lambda x: jnp.tanh(W @ x + b), x0, max_steps=500, tol=1e-14, gradient=gradient
            )
            return out.value

        for g in ("unrolled", "implicit"):
            out = fixed_point(
                lambda x: jnp.tanh(W @ x + b), x0, max_steps=500, tol=1e-14, gradient=g
            )
            assert bool(out.converged) and 0 < int(out.steps) < 500
            x = out.value
            assert np.allclose(
                x, np.tanh(np.asarray(W) @ np.asarray(x) + np.asarray(b)), atol=1e-13
            )
            check_grads(lambda W, b: solve(W, b, g), (W, b), order=1, modes=["rev"], atol=1e-6)
        few = fixed_point(lambda x: jnp.tanh(W @ x + b), x0, max_steps=2)
        assert not bool(few.converged) and int(few.steps) == 2
        # an unconverged implicit iteration has no implicit gradient: NaN, not a wrong number
        gW = jax.grad(
            lambda W: jnp.sum(
                fixed_point(
                    lambda x: jnp.tanh(W @ x + b), x0, max_steps=2, gradient="implicit"
                ).value
            )
        )(W)
        assert np.all(np.isnan(np.asarray(gW)))
        assert np.all(
            np.isfinite(np.asarray(jax.grad(lambda W: jnp.sum(solve(W, b, "implicit")))(W)))
        )
        # under vmap and jit
        bs = jax.random.normal(getkey(), (3, 4), jnp.float64)
        vm = jax.jit(jax.vmap(lambda b: solve(W, b, "implicit")))(bs)
        loop = jnp.stack([solve(W, b, "implicit") for b in bs])
        assert tree_allclose(vm, loop)


def test_fixed_point_errors():
    x0 = jnp.zeros(3)
    with pytest.raises(ValueError, match="max_steps"):
        fixed_point(lambda x: x, x0, max_steps=0)
    with pytest.raises(ValueError, match="tol"):
        fixed_point(lambda x: x, x0, max_steps=3, tol=-1.0)
    with pytest.raises(ValueError, match="gradient"):
        fixed_point(lambda x: x, x0, max_steps=3, gradient="adjoint")
    with pytest.raises(TypeError, match="same structure"):
        fixed_point(lambda x: x[:2], x0, max_steps=3)
    with pytest.raises(TypeError, match="floating"):
        fixed_point(lambda x: x, jnp.zeros(3, jnp.int32), max_steps=3)


# --- masks, padding, sparsity -------------------------------------------------------------------


def test_key_padding_mask_equals_removing_the_padding(getkey):
    q, y, v = _data(getkey, S=9)
    for steps in (0, 3):
        hop = Hopfield(16, num_heads=2, update_steps_max=steps, key=getkey())
        pad = jnp.zeros(9, bool).at[6:].set(True)
        y_pad = y.at[6:].set(1e3)  # garbage in the padding must not matter
        out = hop(q, y_pad, v, key_padding_mask=pad)
        assert tree_allclose(out, hop(q, y[:6], v[:6]), rtol=1e-5, atol=1e-5)
        a = hop.associations(q, y_pad, key_padding_mask=pad)
        assert np.all(np.asarray(a)[..., 6:] == 0.0)


def test_association_mask_and_fully_masked_rows(getkey):
    q, y, v = _data(getkey)
    hop = Hopfield(16, num_heads=2, update_steps_max=2, normalizer="sparsemax", key=getkey())
    mask = jnp.ones((5, 7), bool).at[1].set(False).at[2, 3:].set(False)
    a = np.asarray(hop.associations(q, y, mask=mask))
    assert np.all(a[:, 1] == 0.0) and np.all(a[:, 2, 3:] == 0.0)
    assert np.allclose(a[:, [0, 2, 3, 4]].sum(-1), 1.0, atol=1e-6)
    out = hop(q, y, v, mask=mask)
    assert np.all(np.isfinite(np.asarray(out)))
    assert np.allclose(out[1], 0.0)  # no association and no output bias: zero output


@pytest.mark.parametrize("normalizer", ["entmax15", "sparsemax", dj.normalizers.Entmax(1.7)])
def test_sparse_normalizers_give_exact_zeros(getkey, normalizer):
    q, y, _ = _data(getkey, L=6, S=40)
    hop = Hopfield(16, num_heads=2, scaling=1.0, normalizer=normalizer, key=getkey())
    a = np.asarray(hop.associations(q, y))
    assert np.any(a == 0.0) and np.all(a >= 0.0)
    assert np.allclose(a.sum(-1), 1.0, atol=1e-5)
    dense = np.asarray(Hopfield(16, num_heads=2, scaling=1.0, key=getkey()).associations(q, y))
    assert np.all(dense > 0.0)


# --- transformations ----------------------------------------------------------------------------


@pytest.mark.parametrize("gradient", ["unrolled", "implicit"])
def test_jit_vmap_filter_grad(getkey, gradient):
    B = 3
    qs = jax.random.normal(getkey(), (B, 5, 16))
    ys = jax.random.normal(getkey(), (B, 7, 16))
    steps = 4 if gradient == "unrolled" else 100  # implicit: run to convergence
    hop = Hopfield(16, num_heads=4, update_steps_max=steps, gradient=gradient, key=getkey())
    batched = jax.jit(jax.vmap(hop))(qs, ys)
    loop = jnp.stack([hop(q, y) for q, y in zip(qs, ys)])
    assert tree_allclose(batched, loop, rtol=1e-5, atol=1e-5)

    @eqx.filter_jit
    @eqx.filter_grad
    def grad(m):
        return jnp.mean(jax.vmap(m)(qs, ys) ** 2)

    g = grad(hop)
    leaves = jax.tree.leaves(eqx.filter(g, eqx.is_array))
    assert leaves and all(np.all(np.isfinite(np.asarray(x))) for x in leaves)
    assert any(np.any(np.asarray(x) != 0) for x in leaves)


def test_dropout_needs_and_uses_a_key(getkey):
    q, y, v = _data(getkey)
    hop = Hopfield(16, num_heads=2, dropout_p=0.5, key=getkey())
    k = getkey()
    a, b = hop(q, y, v, key=k), hop(q, y, v, key=k)
    assert tree_allclose(a, b)
    assert not tree_allclose(a, hop(q, y, v, key=getkey()))
    plain = eqx.tree_at(lambda m: m.dropout, hop, eqx.nn.Dropout(0.0))
    assert tree_allclose(hop(q, y, v, inference=True), plain(q, y, v))
    with pytest.raises(RuntimeError):
        hop(q, y, v)


def test_layer_norms_and_unprojected_patterns(getkey):
    q, y, v = _data(getkey)
    hop = Hopfield(
        16,
        num_heads=2,
        normalize_state=True,
        normalize_stored=True,
        normalize_projected=True,
        normalize_hopfield_space=True,
        key=getkey(),
    )
    out = hop(q, y, v)
    # the layer norms make the output invariant to affine rescaling of each input pattern
    assert tree_allclose(
        out, hop(3.0 * q + 1.0, 2.0 * y - 5.0, 0.5 * v + 2.0), rtol=1e-4, atol=1e-4
    )
    raw = Hopfield(
        16,
        project_query=False,
        project_key=False,
        project_value=False,
        project_output=False,
        scaling=0.5,
        key=getkey(),
    )
    ref = jax.nn.softmax(0.5 * q @ y.T, axis=-1) @ v
    assert tree_allclose(raw(q, y, v), ref, rtol=1e-5, atol=1e-6)


# --- pooling and lookup -------------------------------------------------------------------------


def test_hopfield_pooling(getkey):
    x = jax.random.normal(getkey(), (9, 12))
    pool = HopfieldPooling(12, quantity=3, num_heads=2, output_size=5, key=getkey())
    out = pool(x)
    assert out.shape == (3, 5)
    assert tree_allclose(out, pool.hopfield(pool.state_patterns, x, x))
    pad = jnp.zeros(9, bool).at[7:].set(True)
    assert tree_allclose(pool(x, key_padding_mask=pad), pool(x[:7]), rtol=1e-5, atol=1e-6)
    a = pool.associations(x)
    assert a.shape == (2, 3, 9) and np.allclose(a.sum(-1), 1.0, atol=1e-6)
    # permutation invariant: a set pooling
    perm = jax.random.permutation(getkey(), 9)
    assert tree_allclose(pool(x[perm]), out, rtol=1e-5, atol=1e-6)


def test_hopfield_layer(getkey):
    x = jax.random.normal(getkey(), (4, 10))
    layer = HopfieldLayer(10, quantity=6, num_heads=2, key=getkey())
    assert layer(x).shape == (4, 10) and layer.associations(x).shape == (2, 4, 6)
    assert tree_allclose(layer(x), layer.hopfield(x, layer.stored_patterns))
    sep = HopfieldLayer(10, quantity=6, separate_values=True, key=getkey())
    assert sep.projected_patterns.shape == (6, 10)
    assert tree_allclose(sep(x), sep.hopfield(x, sep.stored_patterns, sep.projected_patterns))


# --- clear errors -------------------------------------------------------------------------------


def test_clear_errors(getkey):
    k = getkey()
    with pytest.raises(ValueError, match="must divide"):
        Hopfield(10, num_heads=4, key=k)
    Hopfield(10, num_heads=4, qk_size=3, vo_size=2, key=k)  # explicit head sizes are fine
    for bad in (0.0, -1.0, float("nan"), [1.0, -1.0]):
        with pytest.raises(ValueError, match="scaling"):
            Hopfield(8, num_heads=2, scaling=bad, key=k)
    with pytest.raises(ValueError, match="scaling"):
        Hopfield(8, num_heads=2, scaling=[1.0, 1.0, 1.0], key=k)
    with pytest.raises(ValueError, match="update_steps_max"):
        Hopfield(8, update_steps_max=-1, key=k)
    with pytest.raises(ValueError, match="update_steps_eps"):
        Hopfield(8, update_steps_eps=0.0, key=k)
    with pytest.raises(ValueError, match="gradient"):
        Hopfield(8, gradient="exact", key=k)
    with pytest.raises(ValueError, match="normalizer"):
        Hopfield(8, normalizer="relu", key=k)
    with pytest.raises(ValueError, match="num_heads"):
        Hopfield(8, num_heads=0, key=k)
    with pytest.raises(ValueError, match="qk_size"):
        Hopfield(8, project_query=False, qk_size=4, key=k)
    hop = Hopfield(8, num_heads=2, key=k)
    q, y = jnp.ones((3, 8)), jnp.ones((4, 8))
    with pytest.raises(ValueError, match="`query` must have shape"):
        hop(jnp.ones((3, 7)), y)
    with pytest.raises(ValueError, match="`query` must have shape"):
        hop(jnp.ones((2, 3, 8)), y)
    with pytest.raises(ValueError, match="`key_` must have shape"):
        hop(q, jnp.ones((4, 9)))
    with pytest.raises(ValueError, match="same number S"):
        hop(q, y, jnp.ones((5, 8)))
    with pytest.raises(ValueError, match="`mask` must have shape"):
        hop(q, y, mask=jnp.ones((4, 3), bool))
    with pytest.raises(ValueError, match="`mask` must be a bool"):
        hop(q, y, mask=jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="key_padding_mask"):
        hop(q, y, key_padding_mask=jnp.ones((3,), bool))
