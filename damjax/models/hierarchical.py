# ruff: noqa: E741  (I is the paper's name for the input current)
r"""Multi-layer energy networks: the Hierarchical Associative Memory of Krotov 2021
("Hierarchical Associative Memory", arXiv:2107.06446), in the hypergraph view of hamux (Hoover et
al., "bhoov/hamux"): layers of neurons are nodes, synapses are (hyper)edges, and everything comes
from one energy.

**Layers.** Layer :math:`a` has a state :math:`x_a \in \mathbb{R}^{N_a}`, a convex Lagrangian
:math:`L_a` (a :mod:`damjax.components.lagrangians` module), activations
:math:`g_a = \partial L_a/\partial x_a` (``jax.grad``), a time constant :math:`\tau_a` and an input
current :math:`I_a`. **Synapses.** A dense synapse :math:`W` of shape (N_post, N_pre) joins a
lower layer to a higher one with interaction energy :math:`-g_{\mathrm{post}}^T W g_{\mathrm{pre}}`;
a convolutional one (:class:`ConvSynapse`) or a pooling one (:class:`PoolSynapse`) replaces
:math:`W g_{\mathrm{pre}}` by a convolution or a pooling of the layer read as an image.
**Energy** (Krotov 2021, eq. 2; hamux: the nodes' Legendre terms plus the edges' energies):

.. math::

    E = \sum_a \Big[ x_a\cdot g_a - L_a(x_a) - I_a\cdot g_a \Big]
        + \sum_{\text{synapses}} E_s(g_{\mathrm{pre}}, g_{\mathrm{post}}) .

**Dynamics**, treating :math:`g` as independent variables of E (hamux's ``tau dx/dt = -dE/dg``):

.. math:: \tau_a \frac{dx_a}{dt} = -\frac{\partial E}{\partial g_a}
          = \sum_{s \ni a} (\text{drive of } s \text{ on } a) + I_a - x_a ,

so that :math:`dE/dt = -\sum_a \tau_a \dot x_a^T (\partial^2 L_a)\, \dot x_a \le 0` for convex
Lagrangians: the energy never increases (tested along Euler and diffrax trajectories).

With two layers (visible :math:`v`, hidden :math:`h`, one synapse :math:`\xi`) this is exactly
:class:`damjax.LagrangianNetwork` (Krotov & Hopfield 2021, Models A, B, C; tested on the same
weights).

**Interface with** :func:`damjax.retrieve`: the state of a retrieval is the visible layer (layer
0). ``ode_init`` starts the hidden layers at their feed-forward steady state
(:math:`x_a = \sum_{s:\,\mathrm{pre}<a} W_s g_{\mathrm{pre}} + I_a`, layer by layer upwards), as
:class:`damjax.LagrangianNetwork` starts :math:`h_0 = \xi g(v_0)`; the ``Euler`` and ``ODE`` rules
integrate all layers and record the energy of the joint state. ``energy(v)`` is the energy of
that initial joint state; ``update(v)`` (``Sync`` / ``OneStep``) sets every hidden layer, from the
bottom up, and then the visible layer to its steady state given the others (each such block step
is the exact minimiser of E over that layer, so E of the joint state never increases along the
sweep; for two layers it is LagrangianNetwork's update). Visible neurons marked in ``clamped``
never move (pattern completion from a partial cue).
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Float, Scalar, is_concrete
from .._validation import check_finite_array, check_positive_scalar, check_real_matrix
from ..components.lagrangians import AbstractLagrangian, as_lagrangian
from ._continuous import AbstractContinuousMemory

__all__ = [
    "AbstractSynapse",
    "ConvSynapse",
    "DenseSynapse",
    "HierarchicalNetwork",
    "NeuronLayer",
    "PoolSynapse",
]

_HI = jax.lax.Precision.HIGHEST


class NeuronLayer(eqx.Module):
    r"""One layer of neurons: a Lagrangian, a width, a time constant and an input current.

    **Arguments:** ``lagrangian`` (a :mod:`damjax.components.lagrangians` module, an interaction function F
    or a callable ``x -> scalar``), ``width`` (N >= 1), ``tau`` (> 0, default 1), ``I`` ((N,),
    default zeros).
    """

    lagrangian: AbstractLagrangian
    tau: Float[Array, ""]
    I: Float[Array, " N"]
    width: int = eqx.field(static=True)

    def __init__(self, lagrangian, width: int, *, tau: float = 1.0, I=None):
        if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
            raise ValueError(f"`width` must be an integer >= 1; got {width!r}")
        self.width = int(width)
        self.lagrangian = as_lagrangian(lagrangian, "lagrangian", self.width)
        self.tau = check_positive_scalar(tau, "tau")
        I = jnp.zeros((self.width,)) if I is None else jnp.asarray(I, jnp.result_type(float))
        if I.shape != (self.width,):
            raise ValueError(f"`I` must have shape ({self.width},); got {I.shape}")
        if is_concrete(I) and not bool(jnp.all(jnp.isfinite(I))):
            raise ValueError("`I` must contain only finite values; found NaN or inf")
        self.I = I


def _check_pre_post(pre, post):
    for v, name in ((pre, "pre"), (post, "post")):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"`{name}` must be a layer index >= 0; got {v!r}")
    if not pre < post:
        raise ValueError(
            f"a synapse joins a lower layer to a higher one: need pre < post; "
            f"got pre={pre}, post={post}"
        )
    return int(pre), int(post)


class AbstractSynapse(eqx.Module):
    r"""A synapse from layer ``pre`` to the higher layer ``post``: an interaction energy
    :math:`E_s(g_{\mathrm{pre}}, g_{\mathrm{post}})` of the two layers' activations. The
    dynamics take its gradients by ``jax.grad``, so any energy that is differentiable in the
    activations keeps the network's energy non-increasing (module docstring)."""

    pre: eqx.AbstractVar[int]
    post: eqx.AbstractVar[int]

    @abc.abstractmethod
    def drive(self, g_pre: Float[Array, " Npre"]) -> Float[Array, " Npost"]:
        """The linear (or piecewise linear) map of the pre-activations whose dot product with
        ``g_post`` is minus the energy."""

    def energy(self, gs) -> Scalar:
        r""":math:`-g_{\mathrm{post}}\cdot \mathrm{drive}(g_{\mathrm{pre}})`."""
        return -jnp.dot(gs[self.post], self.drive(gs[self.pre]))

    def check_widths(self, n_pre: int, n_post: int, i: int) -> None:
        """Raise a clear ``ValueError`` when the synapse does not fit layers of these widths."""
        out = jax.eval_shape(self.drive, jax.ShapeDtypeStruct((n_pre,), jnp.float32)).shape
        if out != (n_post,):
            raise ValueError(
                f"synapse {i} ({self.pre} -> {self.post}) maps a layer of width {n_pre} to shape "
                f"{out}; layer {self.post} has width {n_post}"
            )


class DenseSynapse(AbstractSynapse):
    r"""A dense synapse from layer ``pre`` to the higher layer ``post`` with weights ``W`` of shape
    (N_post, N_pre) and energy :math:`-g_{\mathrm{post}}^T W g_{\mathrm{pre}}`."""

    W: Float[Array, "Npost Npre"]
    pre: int = eqx.field(static=True)
    post: int = eqx.field(static=True)

    def __init__(self, W, *, pre: int, post: int):
        self.W = check_real_matrix(W, "W", "(N_post, N_pre)")
        self.pre, self.post = _check_pre_post(pre, post)

    def drive(self, g_pre):
        return jnp.matmul(self.W, g_pre, precision=_HI)

    def check_widths(self, n_pre, n_post, i):
        if self.W.shape != (n_post, n_pre):
            raise ValueError(
                f"synapse {i} ({self.pre} -> {self.post}) must have W of shape (N_post, N_pre) = "
                f"{(n_post, n_pre)}; got {self.W.shape}"
            )


def _check_image_shape(shape, name="in_shape"):
    shape = tuple(shape)
    if len(shape) != 3 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in shape):
        raise ValueError(
            f"`{name}` must be (channels, height, width) of positive integers; got {shape}"
        )
    return tuple(int(v) for v in shape)


def _check_image_width(syn, n_pre, i):
    size = int(np.prod(syn.in_shape))
    if n_pre != size:
        raise ValueError(
            f"synapse {i} ({syn.pre} -> {syn.post}) reads layer {syn.pre} as an image of "
            f"`in_shape` {syn.in_shape} ({size} neurons); layer {syn.pre} has width {n_pre}"
        )


def _check_pair(v, name):
    v = (v, v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else tuple(v)
    if len(v) != 2 or any(isinstance(x, bool) or int(x) != x or x < 1 for x in v):
        raise ValueError(f"`{name}` must be a positive integer or a pair of them; got {v!r}")
    return tuple(int(x) for x in v)


class ConvSynapse(AbstractSynapse):
    r"""A convolutional synapse: layer ``pre`` read as an image of shape ``in_shape`` = (C_in, H,
    W) (C order), ``kernel`` of shape (C_out, C_in, k_h, k_w), energy
    :math:`-g_{\mathrm{post}}\cdot(\kappa \star g_{\mathrm{pre}})` with the cross-correlation
    of ``jax.lax.conv_general_dilated`` (``stride``, ``padding`` "VALID" or "SAME"), so layer
    ``post`` has width C_out * H_out * W_out. It is the dense synapse whose matrix applies the
    convolution (tested); hamux's convolutional edges are the same energy.
    """

    kernel: Float[Array, "Co Ci kh kw"]
    pre: int = eqx.field(static=True)
    post: int = eqx.field(static=True)
    in_shape: tuple[int, int, int] = eqx.field(static=True)
    stride: tuple[int, int] = eqx.field(static=True)
    padding: str = eqx.field(static=True)

    def __init__(self, kernel, *, pre: int, post: int, in_shape, stride=1, padding="VALID"):
        kernel = jnp.asarray(kernel)
        if kernel.ndim != 4 or not jnp.issubdtype(kernel.dtype, jnp.floating):
            raise ValueError(
                f"`kernel` must be a float array of shape (C_out, C_in, k_h, k_w); got "
                f"{kernel.dtype} {kernel.shape}"
            )
        kernel = check_finite_array(kernel, "kernel")
        self.pre, self.post = _check_pre_post(pre, post)
        self.in_shape = _check_image_shape(in_shape)
        if kernel.shape[1] != self.in_shape[0]:
            raise ValueError(
                f"`kernel` has {kernel.shape[1]} input channels; `in_shape` has {self.in_shape[0]}"
            )
        self.stride = _check_pair(stride, "stride")
        if padding not in ("VALID", "SAME"):
            raise ValueError(f"`padding` must be 'VALID' or 'SAME'; got {padding!r}")
        self.padding = padding
        self.kernel = kernel

    def drive(self, g_pre):
        img = g_pre.reshape((1,) + self.in_shape)
        out = jax.lax.conv_general_dilated(
            img, self.kernel.astype(img.dtype), self.stride, self.padding, precision=_HI
        )
        return out.reshape(-1)

    def check_widths(self, n_pre, n_post, i):
        _check_image_width(self, n_pre, i)
        super().check_widths(n_pre, n_post, i)


class PoolSynapse(AbstractSynapse):
    r"""A pooling synapse without weights: layer ``pre`` read as an image ``in_shape`` = (C, H, W),
    energy :math:`-g_{\mathrm{post}}\cdot \mathrm{pool}(g_{\mathrm{pre}})` over ``window``
    patches (``stride`` default = ``window``, "VALID"), ``kind`` "avg" (a linear map: a dense
    synapse, tested) or "max" (piecewise linear; its energy is differentiable almost everywhere,
    the gradient flows to each window's largest activation, and the energy still never increases
    between the kinks). Layer ``post`` has width C * H_out * W_out.
    """

    pre: int = eqx.field(static=True)
    post: int = eqx.field(static=True)
    in_shape: tuple[int, int, int] = eqx.field(static=True)
    window: tuple[int, int] = eqx.field(static=True)
    stride: tuple[int, int] = eqx.field(static=True)
    kind: str = eqx.field(static=True)

    def __init__(self, *, pre: int, post: int, in_shape, window=2, stride=None, kind="avg"):
        self.pre, self.post = _check_pre_post(pre, post)
        self.in_shape = _check_image_shape(in_shape)
        self.window = _check_pair(window, "window")
        self.stride = self.window if stride is None else _check_pair(stride, "stride")
        if kind not in ("avg", "max"):
            raise ValueError(f"`kind` must be 'avg' or 'max'; got {kind!r}")
        self.kind = kind

    def drive(self, g_pre):
        img = g_pre.reshape(self.in_shape)
        dims, strides = (1,) + self.window, (1,) + self.stride
        if self.kind == "max":
            out = jax.lax.reduce_window(img, -jnp.inf, jax.lax.max, dims, strides, "VALID")
        else:
            out = jax.lax.reduce_window(img, 0.0, jax.lax.add, dims, strides, "VALID")
            out = out / (self.window[0] * self.window[1])
        return out.reshape(-1)

    def check_widths(self, n_pre, n_post, i):
        _check_image_width(self, n_pre, i)
        super().check_widths(n_pre, n_post, i)


class HierarchicalNetwork(AbstractContinuousMemory):
    r"""A memory of several layers of neurons joined by synapses (see the module docstring).

    **Arguments:**

    * ``layers`` — a sequence of :class:`NeuronLayer` (at least two; layer 0 is visible).
    * ``synapses`` — a sequence of synapses (:class:`DenseSynapse`, :class:`ConvSynapse`,
      :class:`PoolSynapse`, any :class:`AbstractSynapse`) that match the layers' widths.
    * ``clamped`` — optional (N_0,) bool: visible neurons held at their initial value.

    **Raises:** ``ValueError`` for fewer than two layers, a synapse that names a missing layer or
    whose weights do not match the widths, a layer without synapses, or a bad ``clamped``.

    Constructors: :meth:`chain`, :meth:`from_lagrangian_network`.
    """

    layers: tuple[NeuronLayer, ...]
    synapses: tuple[AbstractSynapse, ...]
    clamped: Bool[Array, " N0"] | None

    def __init__(self, layers, synapses, *, clamped=None):
        layers, synapses = tuple(layers), tuple(synapses)
        if len(layers) < 2 or not all(isinstance(x, NeuronLayer) for x in layers):
            raise ValueError("`layers` must be at least two NeuronLayer objects")
        if not synapses or not all(isinstance(s, AbstractSynapse) for s in synapses):
            raise ValueError(
                "`synapses` must be one or more synapses (DenseSynapse, ConvSynapse, PoolSynapse)"
            )
        connected = set()
        for i, s in enumerate(synapses):
            if s.post >= len(layers):
                raise ValueError(f"synapse {i} joins layer {s.post}; there are {len(layers)}")
            s.check_widths(layers[s.pre].width, layers[s.post].width, i)
            connected |= {s.pre, s.post}
        if connected != set(range(len(layers))):
            missing = sorted(set(range(len(layers))) - connected)
            raise ValueError(f"layers {missing} are joined by no synapse")
        self.layers, self.synapses = layers, synapses
        if clamped is not None:
            clamped = jnp.asarray(clamped)
            if clamped.dtype != jnp.bool_ or clamped.shape != (layers[0].width,):
                raise ValueError(
                    f"`clamped` must be a bool array of shape ({layers[0].width},); got "
                    f"{clamped.dtype} {clamped.shape}"
                )
        self.clamped = clamped

    # --- constructors ---------------------------------------------------------------------------

    @classmethod
    def chain(cls, weights, lagrangians, *, taus=None, I=None, clamped=None):
        r"""Layers 0 -> 1 -> ... -> n joined in a chain: ``weights[a]`` of shape
        (N_{a+1}, N_a), ``lagrangians`` one per layer, ``taus`` (default all 1), ``I`` the visible
        input current."""
        weights, lagrangians = list(weights), list(lagrangians)
        if len(lagrangians) != len(weights) + 1:
            raise ValueError(
                f"a chain of {len(weights)} synapses needs {len(weights) + 1} lagrangians; got "
                f"{len(lagrangians)}"
            )
        taus = [1.0] * len(lagrangians) if taus is None else list(taus)
        if len(taus) != len(lagrangians):
            raise ValueError(f"`taus` must have one entry per layer ({len(lagrangians)})")
        widths = [
            check_real_matrix(w, f"weights[{a}]", "(N_{a+1}, N_a)").shape[1]
            for a, w in enumerate(weights)
        ]
        widths.append(weights[-1].shape[0])
        layers = [
            NeuronLayer(L, n, tau=t, I=I if a == 0 else None)
            for a, (L, n, t) in enumerate(zip(lagrangians, widths, taus))
        ]
        synapses = [DenseSynapse(w, pre=a, post=a + 1) for a, w in enumerate(weights)]
        return cls(layers, synapses, clamped=clamped)

    @classmethod
    def from_lagrangian_network(cls, net) -> HierarchicalNetwork:
        """The two-layer network of a :class:`damjax.LagrangianNetwork` (finite ``tau_h``)."""
        if net.tau_h is None:
            raise ValueError("needs a LagrangianNetwork with a finite `tau_h`")
        return cls.chain([net.xi], [net.L_v, net.L_h], taus=[net.tau_f, net.tau_h], I=net.I)

    def clamp(self, clamped: Bool[Array, " N0"] | None) -> HierarchicalNetwork:
        """A copy whose visible neurons marked True never move."""
        return HierarchicalNetwork(self.layers, self.synapses, clamped=clamped)

    # --- sizes ----------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.layers[0].width

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(x.width for x in self.layers)

    # --- energy ---------------------------------------------------------------------------------

    def activations(self, xs) -> tuple:
        """``g_a = jax.grad(L_a)(x_a)`` for every layer."""
        return tuple(layer.lagrangian.activation(x) for layer, x in zip(self.layers, xs))

    def interaction_energy(self, gs) -> Scalar:
        """Sum of the synapses' energies for activations ``gs``."""
        return sum(s.energy(gs) for s in self.synapses)

    def energy_xg(self, xs, gs) -> Scalar:
        r""":math:`\sum_a [x_a\cdot g_a - L_a(x_a) - I_a\cdot g_a] + E_{\mathrm{int}}(g)` with the
        activations ``gs`` as independent arguments (its g-gradient drives the dynamics)."""
        legendre = sum(
            jnp.dot(x - layer.I, g) - layer.lagrangian(x)
            for layer, x, g in zip(self.layers, xs, gs)
        )
        return legendre + self.interaction_energy(gs)

    def energy_layers(self, xs) -> Scalar:
        """The energy of a joint state ``xs`` (one array per layer)."""
        xs = tuple(xs)
        return self.energy_xg(xs, self.activations(xs))

    def field_layers(self, xs) -> tuple:
        r"""``dx_a/dt = -(1/tau_a) dE/dg_a`` for every layer (clamped visible neurons: 0)."""
        xs = tuple(xs)
        dEdg = jax.grad(self.energy_xg, argnums=1)(xs, self.activations(xs))
        out = [-d / layer.tau for d, layer in zip(dEdg, self.layers)]
        if self.clamped is not None:
            out[0] = jnp.where(self.clamped, 0.0, out[0])
        return tuple(out)

    def _drive(self, xs, gs, a, *, lower_only):
        """``-dE_int/dg_a + I_a`` (the steady state of layer a given the others)."""
        syn = [s for s in self.synapses if s.post == a or (s.pre == a and not lower_only)]
        grad = jax.grad(lambda g: sum(s.energy(gs[:a] + (g,) + gs[a + 1 :]) for s in syn))
        return -grad(gs[a]) + self.layers[a].I

    def init_layers(self, state: Float[Array, " N0"]) -> tuple:
        """Visible ``state`` and the hidden layers at their feed-forward steady state."""
        xs = [state]
        gs = [self.layers[0].lagrangian.activation(state)]
        for a in range(1, len(self.layers)):
            n = self.layers[a].width
            full = tuple(gs) + tuple(
                jnp.zeros((self.layers[b].width,), state.dtype) for b in range(a, len(self.layers))
            )
            x = self._drive(xs, full, a, lower_only=True)
            assert x.shape == (n,)
            xs.append(x)
            gs.append(self.layers[a].lagrangian.activation(x))
        return tuple(xs)

    # --- AbstractMemory / AbstractContinuousMemory ----------------------------------------------

    def energy(self, state: Float[Array, " N0"]) -> Scalar:
        """Energy of the joint state that a retrieval from ``state`` starts in."""
        return self.energy_layers(self.init_layers(state))

    def update(self, state: Float[Array, " N0"]) -> Float[Array, " N0"]:
        """One block sweep: hidden layers bottom-up, then the visible layer, each set to its
        steady state given the others (starting from :meth:`init_layers`)."""
        xs = list(self.init_layers(state))
        order = list(range(1, len(self.layers))) + [0]
        for a in order:
            gs = self.activations(xs)
            x = self._drive(xs, gs, a, lower_only=False)
            if a == 0 and self.clamped is not None:
                x = jnp.where(self.clamped, state, x)
            xs[a] = x
        return xs[0]

    def ode_init(self, state):
        return self.init_layers(state)

    def ode_field(self, y):
        return self.field_layers(y)

    def ode_energy(self, y):
        return self.energy_layers(y)

    def ode_visible(self, y):
        return y[0]

    def hold(self, new, cue):
        """``new`` with the clamped visible neurons set to ``cue``'s values."""
        return new if self.clamped is None else jnp.where(self.clamped, cue, new)

    def ode_hold(self, y, y0):
        """``y`` with the clamped visible neurons set to ``y0``'s values."""
        return (self.hold(y[0], y0[0]),) + tuple(y[1:])
