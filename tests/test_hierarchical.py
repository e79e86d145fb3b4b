"""HierarchicalNetwork: multi-layer energy networks (Krotov 2021)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tree_allclose

import damjax as dj
from damjax.components.lagrangians import LayerNorm, LogSumExp, Quadratic, Tanh


def _nets(X, n_f, tau_h=0.5):
    return {
        "A": dj.LagrangianNetwork.model_a(X, dj.RectifiedPolynomial(3), tau_h=tau_h),
        "B": dj.LagrangianNetwork.model_b(3.0 * X / np.sqrt(n_f), tau_h=tau_h),
        "C": dj.LagrangianNetwork.model_c(X / np.sqrt(n_f), tau_h=tau_h),
        "classical": dj.LagrangianNetwork.classical(X / np.sqrt(n_f), tau_h=tau_h),
    }


@pytest.mark.parametrize("name", ["A", "B", "C", "classical"])
def test_two_layers_equal_lagrangian_network(getkey, name):
    n_f, n_h = 24, 8
    X = dj.patterns.random_binary(getkey(), n_h, n_f)
    net = _nets(X, n_f)[name]
    net = dj.LagrangianNetwork(net.xi, net.L_v, net.L_h, I=0.1 * jnp.ones(n_f), tau_h=0.5)
    hn = dj.HierarchicalNetwork.from_lagrangian_network(net)
    v = jax.random.normal(getkey(), (6, n_f))
    h = jax.vmap(net.hidden)(v)
    assert tree_allclose(jax.vmap(net.energy_vh)(v, h), jax.vmap(hn.energy_layers)((v, h)))
    assert tree_allclose(jax.vmap(net.energy)(v), jax.vmap(hn.energy)(v))
    assert tree_allclose(jax.vmap(net.field)(v, h), jax.vmap(hn.field_layers)((v, h)))
    assert tree_allclose(jax.vmap(net.update)(v), jax.vmap(hn.update)(v))
    assert tree_allclose(jax.vmap(net.ode_init)(v), jax.vmap(hn.ode_init)(v))
    # same field, same solver: the same trajectories (adaptive steps: up to round-off in the
    # step-size choices, which matters for Model A's discontinuous sign activation)
    for rule, tol in ((dj.Euler(0.05), 1e-5), (dj.ODE(t1=5.0), 1e-3)):
        a = dj.retrieve(net, v, rule=rule, max_steps=300, record_energy=True)
        b = dj.retrieve(hn, v, rule=rule, max_steps=300, record_energy=True)
        assert tree_allclose(a.states, b.states, rtol=tol, atol=tol)
        ea, eb = np.asarray(a.energies), np.asarray(b.energies)
        both = np.isfinite(ea) & np.isfinite(eb)  # NaN padding after a stop one step apart
        assert both[:, :2].all() and np.allclose(ea[both], eb[both], rtol=tol, atol=tol)


def _three_layer(getkey, n0=20, n1=12, n2=5):
    W1 = jax.random.normal(getkey(), (n1, n0)) / np.sqrt(n0)
    W2 = jax.random.normal(getkey(), (n2, n1)) / np.sqrt(n1)
    return dj.HierarchicalNetwork.chain(
        [2.0 * W1, 2.0 * W2], [Quadratic(), Tanh(1.0), LogSumExp(2.0)], taus=[1.0, 0.3, 0.5]
    )


def _max_rel_increase(e):
    e = np.asarray(e, np.float64)
    scale = np.maximum(1.0, np.nanmax(np.abs(e), axis=-1, keepdims=True))
    return float(np.nanmax(np.diff(e, axis=-1) / scale))


@pytest.mark.parametrize("rule", [dj.Euler(0.02), dj.ODE(t1=10.0, rtol=1e-6, atol=1e-7)])
def test_three_layer_energy_never_increases(getkey, rule):
    net = _three_layer(getkey)
    cues = jax.random.normal(getkey(), (8, 20))
    tr = dj.trajectory(net, cues, rule=rule, t1=10.0)
    assert bool(np.all(np.asarray(tr.ok)))
    assert _max_rel_increase(tr.energies) <= 1e-5
    e = np.asarray(tr.energies)
    assert np.all(e[:, -1] < e[:, 0] - 1e-3)  # it does descend
    # the activations of the hidden layers move too: all three layers are dynamic
    assert [y.shape for y in tr.ys] == [(8, tr.ts.shape[0], n) for n in (20, 12, 5)]
    assert all(float(jnp.max(jnp.abs(y[:, -1] - y[:, 0]))) > 1e-3 for y in tr.ys)
    out = dj.retrieve(net, cues, rule=rule, max_steps=20_000, record_energy=True)
    assert _max_rel_increase(out.energies) <= 1e-5


def test_energy_gradient_is_the_field(getkey):
    # tau dx/dt = -dE/dg, and dE/dt = grad_x E . dx/dt <= 0 for convex Lagrangians
    net = _three_layer(getkey)
    xs = net.init_layers(jax.random.normal(getkey(), (20,)))
    xs = tuple(x + 0.3 * jax.random.normal(getkey(), x.shape) for x in xs)
    dx = net.field_layers(xs)
    dE = jax.grad(lambda xs: net.energy_layers(xs))(xs)
    rate = sum(jnp.dot(a, b) for a, b in zip(dE, dx))
    assert float(rate) < 0.0


def test_block_sweep_never_increases_the_joint_energy(getkey):
    net = _three_layer(getkey)
    for _ in range(5):
        v = jax.random.normal(getkey(), (20,))
        xs = list(net.init_layers(v))
        e = [float(net.energy_layers(xs))]
        for a in (1, 2, 0):
            xs[a] = net._drive(xs, net.activations(xs), a, lower_only=False)
            e.append(float(net.energy_layers(xs)))
        assert np.all(np.diff(e) <= 1e-5 * max(1.0, max(abs(x) for x in e)))
        assert tree_allclose(xs[0], net.update(v))


def test_clamped_neurons_do_not_move(getkey):
    net = _three_layer(getkey)
    clamp = jnp.arange(20) < 10
    cn = net.clamp(clamp)
    v = jax.random.normal(getkey(), (20,))
    out = dj.retrieve(cn, v, rule=dj.Euler(0.05), max_steps=500, record_energy=True)
    assert np.array_equal(np.asarray(out.states)[:10], np.asarray(v)[:10])
    assert float(jnp.max(jnp.abs(out.states[10:] - v[10:]))) > 1e-3
    assert _max_rel_increase(out.energies) <= 1e-5
    assert np.array_equal(np.asarray(cn.update(v))[:10], np.asarray(v)[:10])


def test_layer_norm_and_jit_vmap_grad(getkey):
    W1 = jax.random.normal(getkey(), (6, 10)) / 3
    W2 = jax.random.normal(getkey(), (4, 6)) / 3
    net = dj.HierarchicalNetwork.chain([W1, W2], [LayerNorm(), Tanh(), LogSumExp()])
    cues = jax.random.normal(getkey(), (3, 10))
    e = jax.jit(jax.vmap(net.energy))(cues)
    assert tree_allclose(e, jnp.stack([net.energy(c) for c in cues]), rtol=1e-5, atol=1e-5)
    g = jax.grad(lambda n: jnp.sum(jax.vmap(n.energy)(cues)))(net)
    assert np.all(np.isfinite(np.asarray(g.synapses[0].W)))


def test_clear_errors(getkey):
    W = jnp.ones((3, 4))
    with pytest.raises(ValueError, match="at least two"):
        dj.HierarchicalNetwork(
            [dj.NeuronLayer(Quadratic(), 4)], [dj.DenseSynapse(W, pre=0, post=1)]
        )
    with pytest.raises(ValueError, match="pre < post"):
        dj.DenseSynapse(W, pre=1, post=0)
    layers = [dj.NeuronLayer(Quadratic(), 4), dj.NeuronLayer(Tanh(), 5)]
    with pytest.raises(ValueError, match="shape"):
        dj.HierarchicalNetwork(layers, [dj.DenseSynapse(W, pre=0, post=1)])
    with pytest.raises(ValueError, match="no synapse"):
        dj.HierarchicalNetwork(
            layers + [dj.NeuronLayer(Tanh(), 2)], [dj.DenseSynapse(jnp.ones((5, 4)), pre=0, post=1)]
        )
    with pytest.raises(ValueError, match="tau"):
        dj.NeuronLayer(Quadratic(), 4, tau=0.0)
    with pytest.raises(ValueError, match="lagrangians"):
        dj.HierarchicalNetwork.chain([W], [Quadratic()])
    net = dj.HierarchicalNetwork.chain([W], [Quadratic(), Tanh()])
    with pytest.raises(ValueError, match="clamped"):
        net.clamp(jnp.ones(3, bool))
    with pytest.raises(ValueError):
        dj.retrieve(net, jnp.ones(5), rule=dj.Euler(0.1))


def test_three_layer_steady_state_solves_the_closed_form_equations(getkey):
    # the digits example's architecture (quadratic pixels -> softmax memories -> softmax labels),
    # small and in float64, against the fixed-point equations written out in NumPy:
    # v_free = (W1^T g1)_free, x1 = W1 v + W2^T g2, x2 = W2 g1, g1 = softmax(b1 x1), g2 = softmax(x2)
    with jax.enable_x64(True):
        K, N, C, b1 = 12, 16, 4, 0.7
        W1 = np.asarray(jax.random.normal(getkey(), (K, N), jnp.float64))
        W2 = 2.0 * np.eye(C)[np.arange(K) % C].T
        net = dj.HierarchicalNetwork.chain(
            [jnp.asarray(W1), jnp.asarray(W2)],
            [Quadratic(), LogSumExp(b1), LogSumExp(1.0)],
            taus=[1.0, 0.5, 0.5],
        )
        known = np.arange(N) < N // 2
        cues = np.where(known, W1[:3] + 0.3 * np.asarray(jax.random.normal(getkey(), (3, N))), 0.0)
        out = dj.retrieve(
            net.clamp(jnp.asarray(known)),
            jnp.asarray(cues),
            rule=dj.Euler(0.1, tol=1e-12),
            max_steps=20_000,
            record_energy=True,
        )
        assert bool(np.all(np.asarray(out.converged)))
        assert _max_rel_increase(out.energies) <= 1e-12
        v = np.asarray(out.states)
        # the hidden layers at the steady state given v (they relax much faster than v)
        x2 = np.zeros((3, C))
        for _ in range(500):
            z1 = b1 * (v @ W1.T + _softmax(x2) @ W2)
            x2 = _softmax(z1) @ W2.T
        g1 = _softmax(b1 * (v @ W1.T + _softmax(x2) @ W2))
        np.testing.assert_allclose(v[:, ~known], (g1 @ W1)[:, ~known], atol=1e-8)
        np.testing.assert_array_equal(v[:, known], cues[:, known])


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


# --- convolutional and pooling synapses ---------------------------------------------------------


def _conv_net(getkey, pool="avg", stride=1, padding="VALID"):
    conv = dj.ConvSynapse(
        0.5 * jax.random.normal(getkey(), (3, 2, 3, 3)),
        pre=0,
        post=1,
        in_shape=(2, 6, 6),
        stride=stride,
        padding=padding,
    )
    n1 = conv.drive(jnp.zeros(72)).shape[0]
    side = int(round(np.sqrt(n1 // 3)))
    poolsyn = dj.PoolSynapse(pre=1, post=2, in_shape=(3, side, side), window=2, kind=pool)
    n2 = poolsyn.drive(jnp.zeros(n1)).shape[0]
    top = dj.DenseSynapse(jax.random.normal(getkey(), (4, n2)) / np.sqrt(n2), pre=2, post=3)
    layers = [
        dj.NeuronLayer(Quadratic(), 72),
        dj.NeuronLayer(Tanh(1.0), n1, tau=0.3),
        dj.NeuronLayer(Tanh(1.0), n2, tau=0.3),
        dj.NeuronLayer(LogSumExp(2.0), 4, tau=0.5),
    ]
    return dj.HierarchicalNetwork(layers, [conv, poolsyn, top])


@pytest.mark.parametrize("stride,padding", [(1, "VALID"), (2, "SAME")])
def test_conv_and_avg_pool_synapses_equal_their_dense_matrices(getkey, stride, padding):
    net = _conv_net(getkey, "avg", stride, padding)
    # the dense synapse of the same linear maps, column by column (jacfwd of the drive)
    dense = dj.HierarchicalNetwork(
        net.layers,
        [
            dj.DenseSynapse(
                jax.jacfwd(s.drive)(jnp.zeros(net.layers[s.pre].width)), pre=s.pre, post=s.post
            )
            for s in net.synapses
        ],
    )
    # and one explicit entry of the convolution (cross-correlation, C order)
    conv = net.synapses[0]
    if padding == "VALID":
        W = np.asarray(dense.synapses[0].W).reshape(3, 4, 4, 2, 6, 6)
        k = np.asarray(conv.kernel)
        np.testing.assert_allclose(W[1, 2, 0, :, 2:5, 0:3], k[1], rtol=1e-6)
    cues = jax.random.normal(getkey(), (4, 72))
    xs = jax.vmap(net.init_layers)(cues)
    # float32: a convolution and a matrix product sum in different orders
    tol = dict(rtol=1e-5, atol=1e-5)
    assert tree_allclose(xs, jax.vmap(dense.init_layers)(cues), **tol)
    assert tree_allclose(jax.vmap(net.energy_layers)(xs), jax.vmap(dense.energy_layers)(xs), **tol)
    assert tree_allclose(jax.vmap(net.field_layers)(xs), jax.vmap(dense.field_layers)(xs), **tol)
    a = dj.retrieve(net, cues, rule=dj.Euler(0.05), max_steps=200, record_energy=True)
    b = dj.retrieve(dense, cues, rule=dj.Euler(0.05), max_steps=200, record_energy=True)
    assert tree_allclose(a.states, b.states, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("pool", ["avg", "max"])
def test_conv_pool_network_energy_never_increases(getkey, pool):
    net = _conv_net(getkey, pool)
    cues = jax.random.normal(getkey(), (6, 72))
    for rule in (dj.Euler(0.01), dj.ODE(t1=5.0, rtol=1e-6, atol=1e-7)):
        tr = dj.trajectory(net, cues, rule=rule, t1=5.0)
        assert bool(np.all(np.asarray(tr.ok)))
        assert _max_rel_increase(tr.energies) <= 1e-5
        e = np.asarray(tr.energies)
        assert np.all(e[:, -1] < e[:, 0] - 1e-3)
    if pool == "max":  # the pooled drive is each window's largest activation
        g = jnp.arange(48.0).reshape(3, 4, 4).ravel()
        syn = dj.PoolSynapse(pre=0, post=1, in_shape=(3, 4, 4), window=2, kind="max")
        np.testing.assert_array_equal(
            np.asarray(syn.drive(g)), np.asarray(g).reshape(3, 2, 2, 2, 2).max((2, 4)).ravel()
        )


def test_conv_pool_synapse_errors():
    k = jnp.ones((3, 2, 3, 3))
    with pytest.raises(ValueError, match="kernel"):
        dj.ConvSynapse(jnp.ones((3, 3, 3)), pre=0, post=1, in_shape=(2, 6, 6))
    with pytest.raises(ValueError, match="input channels"):
        dj.ConvSynapse(k, pre=0, post=1, in_shape=(1, 6, 6))
    with pytest.raises(ValueError, match="in_shape"):
        dj.ConvSynapse(k, pre=0, post=1, in_shape=(2, 6))
    with pytest.raises(ValueError, match="padding"):
        dj.ConvSynapse(k, pre=0, post=1, in_shape=(2, 6, 6), padding="FULL")
    with pytest.raises(ValueError, match="pre < post"):
        dj.ConvSynapse(k, pre=1, post=1, in_shape=(2, 6, 6))
    with pytest.raises(ValueError, match="kind"):
        dj.PoolSynapse(pre=0, post=1, in_shape=(2, 6, 6), kind="median")
    with pytest.raises(ValueError, match="window"):
        dj.PoolSynapse(pre=0, post=1, in_shape=(2, 6, 6), window=0)
    conv = dj.ConvSynapse(k, pre=0, post=1, in_shape=(2, 6, 6))  # -> 3 x 4 x 4 = 48
    layers = [dj.NeuronLayer(Quadratic(), 72), dj.NeuronLayer(Tanh(), 40)]
    with pytest.raises(ValueError, match="width 40"):
        dj.HierarchicalNetwork(layers, [conv])
    layers = [dj.NeuronLayer(Quadratic(), 50), dj.NeuronLayer(Tanh(), 48)]
    with pytest.raises(ValueError, match="in_shape"):  # 50 pixels are no (2, 6, 6) image
        dj.HierarchicalNetwork(layers, [conv])
