# ruff: noqa: E741  (I is the paper's name for the input current)
r"""Multi-layer energy networks: the Hierarchical Associative Memory of Krotov 2021
("Hierarchical Associative Memory", arXiv:2107.06446), in the hypergraph view of hamux (Hoover et
al., "bhoov/hamux"): layers of neurons are nodes, synapses are (hyper)edges, and everything comes
from one energy.

**Layers.** Layer :math:`a` has a state :math:`x_a \in \mathbb{R}^{N_a}`, a convex Lagrangian
:math:`L_a` (a :mod:`damjax.components.lagrangians` module), activations
:math:`g_a = \partial L_a/\partial x_a` (``jax.grad``), a time constant :math:`\tau_a` and an input
current :math:`I_a`. **Synapses.** A dense synapse :math:`W` of shape (N_post, N_pre) joins a
lower layer to a higher one with interaction energy :math:`-g_{\mathrm{post}}^T W g_{\mathrm{pre}}`.
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

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Float, Scalar, is_concrete
from .._validation import check_positive_scalar, check_real_matrix
from ..components.lagrangians import AbstractLagrangian, as_lagrangian
from ._continuous import AbstractContinuousMemory

__all__ = ["DenseSynapse", "HierarchicalNetwork", "NeuronLayer"]

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


class DenseSynapse(eqx.Module):
    r"""A dense synapse from layer ``pre`` to the higher layer ``post`` with weights ``W`` of shape
    (N_post, N_pre) and energy :math:`-g_{\mathrm{post}}^T W g_{\mathrm{pre}}`."""

    W: Float[Array, "Npost Npre"]
    pre: int = eqx.field(static=True)
    post: int = eqx.field(static=True)

    def __init__(self, W, *, pre: int, post: int):
        self.W = check_real_matrix(W, "W", "(N_post, N_pre)")
        for v, name in ((pre, "pre"), (post, "post")):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"`{name}` must be a layer index >= 0; got {v!r}")
        if not pre < post:
            raise ValueError(
                f"a synapse joins a lower layer to a higher one: need pre < post; "
                f"got pre={pre}, post={post}"
            )
        self.pre, self.post = int(pre), int(post)

    def energy(self, gs) -> Scalar:
        return -jnp.dot(gs[self.post], jnp.matmul(self.W, gs[self.pre], precision=_HI))


class HierarchicalNetwork(AbstractContinuousMemory):
    r"""A memory of several layers of neurons joined by synapses (see the module docstring).

    **Arguments:**

    * ``layers`` — a sequence of :class:`NeuronLayer` (at least two; layer 0 is visible).
    * ``synapses`` — a sequence of :class:`DenseSynapse` whose weights match the layers' widths.
    * ``clamped`` — optional (N_0,) bool: visible neurons held at their initial value.

    **Raises:** ``ValueError`` for fewer than two layers, a synapse that names a missing layer or
    whose weights do not match the widths, a layer without synapses, or a bad ``clamped``.

    Constructors: :meth:`chain`, :meth:`from_lagrangian_network`.
    """

    layers: tuple[NeuronLayer, ...]
    synapses: tuple[DenseSynapse, ...]
    clamped: Bool[Array, " N0"] | None

    def __init__(self, layers, synapses, *, clamped=None):
        layers, synapses = tuple(layers), tuple(synapses)
        if len(layers) < 2 or not all(isinstance(x, NeuronLayer) for x in layers):
            raise ValueError("`layers` must be at least two NeuronLayer objects")
        if not synapses or not all(isinstance(s, DenseSynapse) for s in synapses):
            raise ValueError("`synapses` must be one or more DenseSynapse objects")
        connected = set()
        for i, s in enumerate(synapses):
            if s.post >= len(layers):
                raise ValueError(f"synapse {i} joins layer {s.post}; there are {len(layers)}")
            want = (layers[s.post].width, layers[s.pre].width)
            if s.W.shape != want:
                raise ValueError(
                    f"synapse {i} ({s.pre} -> {s.post}) must have W of shape (N_post, N_pre) = "
                    f"{want}; got {s.W.shape}"
                )
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
