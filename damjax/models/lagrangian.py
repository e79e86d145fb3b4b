# ruff: noqa: E741  (I is the paper's name for the input current)
r"""Associative memory with visible and hidden neurons defined by Lagrangians (Krotov & Hopfield
2021, "Large Associative Memory Problem in Neurobiology and Machine Learning", ICLR).

Visible ("feature") neurons :math:`v \in \mathbb{R}^{N_f}`, hidden ("memory") neurons
:math:`h \in \mathbb{R}^{N_h}`, weights :math:`\xi` of shape (N_h, N_f), input current I.
Lagrangians :math:`L_v(v)`, :math:`L_h(h)` give the activations :math:`g = \partial L_v/\partial v`,
:math:`f = \partial L_h/\partial h` (by ``jax.grad``). The dynamics (eqs. 1-2 of the paper):

.. math::

    \tau_f \frac{dv}{dt} = \xi^T f - v + I, \qquad \tau_h \frac{dh}{dt} = \xi g - h,

and the energy (eq. 3), non-increasing when both Lagrangians have PSD Hessians:

.. math::

    E = \Big[\sum_i (v_i - I_i) g_i - L_v\Big] + \Big[\sum_\mu h_\mu f_\mu - L_h\Big]
        - \sum_{\mu i} f_\mu \xi_{\mu i} g_i .

**How the hidden state is carried.** The state given to :func:`damjax.retrieve` (the cue and the
result) is the visible vector v only. Continuous-time rules (``Euler``, ``ODE``) integrate the pair
``(v, h)`` and start the hidden neurons at their steady state for the cue, :math:`h_0 = \xi g(v_0)`;
:func:`damjax.dynamics.trajectory` returns both (and accepts an explicit ``(v0, h0)``).
With ``tau_h=None`` the hidden neurons are instantaneous (the paper's limit
:math:`\tau_h \to 0`): the ODE state is v alone and :math:`h = \xi g(v)` at all times.

``energy(v)`` and ``update(v)`` (used by ``Sync`` / ``OneStep``) are those of the
:math:`\tau_h \to 0` reduction: :math:`E(v) = E(v, \xi g(v)) = \sum_i (v_i-I_i) g_i - L_v -
L_h(\xi g)` and :math:`v \leftarrow \xi^T f(\xi g(v)) + I`, the Euler step with
:math:`dt = \tau_f` (for Model B exactly the softmax update of Ramsauer et al. with beta = 1).
"""

from __future__ import annotations

import jax.numpy as jnp

from .._custom_types import Array, Float, Scalar, is_concrete
from .._numerics import HI as _HI
from .._validation import check_positive_scalar, check_real_matrix
from ..components.interactions import RectifiedPolynomial
from ..components.lagrangians import (
    AbsoluteValue,
    AbstractLagrangian,
    LogSumExp,
    Quadratic,
    SphericalNorm,
    Tanh,
    as_lagrangian,
)
from ._continuous import AbstractContinuousMemory


class LagrangianNetwork(AbstractContinuousMemory):
    r"""Krotov-Hopfield 2021 network of visible and hidden neurons with Lagrangians.

    **Arguments:**

    * ``xi`` — (N_h, N_f) weights (row mu: memory mu).
    * ``L_v``, ``L_h`` — Lagrangians of the visible and hidden layers: a
      :mod:`damjax.components.lagrangians` module, an interaction function F (meaning
      :math:`L = \sum F(x_i)`), or any callable ``x -> scalar``.
    * ``I`` — (N_f,) input current (default zeros).
    * ``tau_f`` — time constant of the visible neurons (> 0, default 1).
    * ``tau_h`` — time constant of the hidden neurons (> 0, default 1), or ``None`` for the limit
      :math:`\tau_h \to 0` (instantaneous hidden neurons).

    **Raises:** ``ValueError`` for a non-2-D or non-finite ``xi``, an ``I`` not of shape (N_f,),
    ``tau <= 0`` or non-finite, or a Lagrangian that does not return a scalar; ``TypeError`` for
    a Lagrangian of the wrong type.

    Constructors: :meth:`model_a`, :meth:`model_b`, :meth:`model_c`, :meth:`classical`.
    """

    xi: Float[Array, "Nh Nf"]
    L_v: AbstractLagrangian
    L_h: AbstractLagrangian
    I: Float[Array, " Nf"]
    tau_f: Float[Array, ""] | float
    tau_h: Float[Array, ""] | float | None

    def __init__(self, xi, L_v, L_h, *, I=None, tau_f: float = 1.0, tau_h: float | None = 1.0):
        self.xi = check_real_matrix(xi, "xi", "(N_h, N_f)")
        n_h, n_f = self.xi.shape
        self.L_v = as_lagrangian(L_v, "L_v", n_f)
        self.L_h = as_lagrangian(L_h, "L_h", n_h)
        if I is None:
            I = jnp.zeros((n_f,), self.xi.dtype)
        I = jnp.asarray(I, dtype=self.xi.dtype)
        if I.shape != (n_f,):
            raise ValueError(
                f"`I` must have shape (N_f,) = ({n_f},) to match `xi` of shape {self.xi.shape}; "
                f"got {I.shape}"
            )
        if is_concrete(I) and not bool(jnp.all(jnp.isfinite(I))):
            raise ValueError("`I` must contain only finite values; found NaN or inf")
        self.I = I
        self.tau_f = check_positive_scalar(tau_f, "tau_f")
        self.tau_h = None if tau_h is None else check_positive_scalar(tau_h, "tau_h")

    # --- constructors -------------------------------------------------------------------------

    @classmethod
    def model_a(cls, xi, F=None, *, I=None, tau_f=1.0, tau_h=1.0) -> LagrangianNetwork:
        r"""Model A: :math:`L_h = \sum_\mu F(h_\mu)`, :math:`L_v = \sum_i |v_i|` (g = sign v).

        As :math:`\tau_h \to 0` the energy becomes the DAM energy of Krotov & Hopfield 2016,
        :math:`E = -\sum_\mu F(\xi_\mu\cdot\mathrm{sign}(v)) - I\cdot\mathrm{sign}(v)`.
        ``F`` — an interaction function or Lagrangian (default ``RectifiedPolynomial(3)``; use a
        convex F for a monotone energy).
        """
        F = RectifiedPolynomial(3) if F is None else F
        return cls(xi, AbsoluteValue(), F, I=I, tau_f=tau_f, tau_h=tau_h)

    @classmethod
    def model_b(cls, xi, beta=1.0, *, I=None, tau_f=1.0, tau_h=1.0) -> LagrangianNetwork:
        r"""Model B: :math:`L_h = \beta^{-1}\log\sum_\mu e^{\beta h_\mu}`,
        :math:`L_v = \frac12\sum_i v_i^2`. With :math:`\tau_h \to 0` and an Euler step
        :math:`dt = \tau_f`: :math:`v \leftarrow \xi^T\mathrm{softmax}(\beta\xi v)` (Ramsauer et
        al. 2020; the paper takes beta = 1)."""
        return cls(xi, Quadratic(), LogSumExp(beta), I=I, tau_f=tau_f, tau_h=tau_h)

    @classmethod
    def model_c(cls, xi, F=None, *, I=None, tau_f=1.0, tau_h=1.0) -> LagrangianNetwork:
        r"""Model C (spherical memory): :math:`L_v = \|v\|`, :math:`L_h = \sum_\mu F(h_\mu)`;
        as :math:`\tau_h\to 0`, :math:`E = -\sum_\mu F(\xi_\mu \cdot v/\|v\|) - I\cdot v/\|v\|`.
        ``F`` defaults to ``RectifiedPolynomial(3)``."""
        F = RectifiedPolynomial(3) if F is None else F
        return cls(xi, SphericalNorm(), F, I=I, tau_f=tau_f, tau_h=tau_h)

    @classmethod
    def classical(cls, xi, L_v=None, *, I=None, tau_f=1.0, tau_h=1.0) -> LagrangianNetwork:
        r"""The classical continuous Hopfield network: :math:`L_h = \frac12\sum_\mu h_\mu^2`
        (f = h), so with :math:`\tau_h\to 0` :math:`\tau_f\dot v = \xi^T\xi\,g(v) - v + I`
        (weights :math:`W = \xi^T\xi`). ``L_v`` defaults to ``Tanh(1)`` (g = tanh v)."""
        L_v = Tanh(1.0) if L_v is None else L_v
        return cls(xi, L_v, Quadratic(), I=I, tau_f=tau_f, tau_h=tau_h)

    # --- sizes ----------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        """N_f, the number of visible neurons (the width of a state)."""
        return self.xi.shape[1]

    @property
    def num_hidden(self) -> int:
        return self.xi.shape[0]

    @property
    def adiabatic(self) -> bool:
        """True when ``tau_h is None`` (instantaneous hidden neurons)."""
        return self.tau_h is None

    # --- activations and energies ---------------------------------------------------------------

    def activations(self, v, h):
        """``(g, f)``: ``jax.grad`` of ``L_v`` at v and of ``L_h`` at h."""
        return self.L_v.activation(v), self.L_h.activation(h)

    def hidden(self, v: Float[Array, " Nf"]) -> Float[Array, " Nh"]:
        r"""Steady state of the hidden neurons for visible state v: :math:`h = \xi g(v)`."""
        return jnp.matmul(self.xi, self.L_v.activation(v), precision=_HI)

    def energy_vh(self, v: Float[Array, " Nf"], h: Float[Array, " Nh"]) -> Scalar:
        r"""The energy (eq. 3) of the joint state (v, h)."""
        lv, g = self.L_v.value_and_activation(v)
        lh, f = self.L_h.value_and_activation(h)
        coupling = jnp.dot(f, jnp.matmul(self.xi, g, precision=_HI))
        return (jnp.dot(v - self.I, g) - lv) + (jnp.dot(h, f) - lh) - coupling

    def energy(self, state: Float[Array, " Nf"]) -> Scalar:
        r"""Reduced energy :math:`E(v, \xi g(v)) = \sum_i (v_i - I_i) g_i - L_v - L_h(\xi g)`."""
        lv, g = self.L_v.value_and_activation(state)
        return jnp.dot(state - self.I, g) - lv - self.L_h(jnp.matmul(self.xi, g, precision=_HI))

    def field(self, v, h):
        r"""``(dv/dt, dh/dt)`` of the joint dynamics (needs a finite ``tau_h``).

        **Raises:** ``ValueError`` when ``tau_h is None`` (use :meth:`reduced_field`)."""
        if self.tau_h is None:
            raise ValueError(
                "`field(v, h)` needs a finite `tau_h`; with tau_h=None use reduced_field(v)"
            )
        g, f = self.activations(v, h)
        dv = (jnp.matmul(f, self.xi, precision=_HI) - v + self.I) / self.tau_f
        dh = (jnp.matmul(self.xi, g, precision=_HI) - h) / self.tau_h
        return dv, dh

    def reduced_field(self, v):
        r""":math:`dv/dt = (\xi^T f(\xi g(v)) - v + I)/\tau_f` (the :math:`\tau_h \to 0` flow)."""
        return (self._target(v) - v) / self.tau_f

    def _target(self, v):
        f = self.L_h.activation(self.hidden(v))
        return jnp.matmul(f, self.xi, precision=_HI) + self.I

    def update(self, state: Float[Array, " Nf"]) -> Float[Array, " Nf"]:
        r""":math:`v \leftarrow \xi^T f(\xi g(v)) + I` (the reduced Euler step with dt = tau_f)."""
        return self._target(state)

    # --- continuous-time interface ----------------------------------------------------------------

    def ode_init(self, state, hidden=None):
        if self.adiabatic:
            return state
        return (state, self.hidden(state) if hidden is None else hidden)

    def ode_field(self, y):
        if self.adiabatic:
            return self.reduced_field(y)
        return self.field(*y)

    def ode_energy(self, y):
        if self.adiabatic:
            return self.energy(y)
        return self.energy_vh(*y)

    def ode_visible(self, y):
        return y if self.adiabatic else y[0]
