r"""Lagrangians of neuron layers (Krotov & Hopfield 2021, "Large Associative Memory Problem in
Neurobiology and Machine Learning", ICLR).

A layer of neurons with state ``x`` (shape (n,)) is described by a scalar, convex Lagrangian
:math:`L(x)`; its activations are the gradient :math:`g = \partial L / \partial x`, always
computed here with :func:`jax.grad` (never written by hand), so energy and dynamics cannot
disagree. The Legendre transform :math:`x\cdot g - L` enters the energy of
:class:`damjax.LagrangianNetwork`. Energies decrease along the network dynamics when every
Lagrangian has a positive semi-definite Hessian; all Lagrangians below are convex.

=====================  ==============================================  ==========================
class                  :math:`L(x)`                                    activation :math:`g(x)`
=====================  ==============================================  ==========================
``Quadratic``          :math:`\tfrac12 \sum_i x_i^2`                   :math:`x` (identity)
``AbsoluteValue``      :math:`\sum_i |x_i|`                            :math:`\mathrm{sign}(x)`
``RectifiedPower(n)``  :math:`\sum_i \max(x_i, 0)^n`                   :math:`n \max(x, 0)^{n-1}`
``SumOf(F)``           :math:`\sum_i F(x_i)`                           :math:`F'(x)`
``LogSumExp(beta)``    :math:`\beta^{-1}\log\sum_i e^{\beta x_i}`      :math:`\mathrm{softmax}(\beta x)`
``SphericalNorm()``    :math:`\sqrt{\sum_i x_i^2 + \epsilon}`          :math:`x/\|x\|`
``LayerNorm()``        :math:`n\gamma\sqrt{\mathrm{var}(x)+\epsilon} + \sum_i\delta_i x_i`
                                                                       :math:`\gamma (x-\bar x)/\sqrt{\mathrm{var}(x)+\epsilon}+\delta`
``Tanh(beta)``         :math:`\beta^{-1}\sum_i \log\cosh(\beta x_i)`   :math:`\tanh(\beta x)`
``Sigmoid(beta)``      :math:`\beta^{-1}\sum_i \log(1+e^{\beta x_i})`  :math:`\sigma(\beta x)`
``Function(fn)``       any user function ``fn(x) -> scalar``           ``jax.grad(fn)``
=====================  ==============================================  ==========================

``Identity`` is another name for ``Quadratic`` and ``Softmax`` for ``LogSumExp`` (the Lagrangians
whose activations are the identity and the softmax).
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Float, Scalar, is_concrete
from .._validation import check_finite_scalar, check_positive_scalar
from .interactions import AbstractInteraction

__all__ = [
    "AbstractLagrangian",
    "AbsoluteValue",
    "Function",
    "Identity",
    "LayerNorm",
    "LogSumExp",
    "Quadratic",
    "RectifiedPower",
    "Sigmoid",
    "Softmax",
    "SphericalNorm",
    "SumOf",
    "Tanh",
    "as_lagrangian",
]


class AbstractLagrangian(eqx.Module):
    r"""A scalar Lagrangian :math:`L(x)` of one layer; activations are ``jax.grad(L)``."""

    @abc.abstractmethod
    def __call__(self, x: Float[Array, " n"]) -> Scalar:
        """The Lagrangian of one layer state ``x`` (a scalar)."""

    def activation(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
        r""":math:`g = \partial L/\partial x`, by :func:`jax.grad`."""
        return jax.grad(self)(x)

    def value_and_activation(self, x: Float[Array, " n"]) -> tuple[Scalar, Float[Array, " n"]]:
        """``(L(x), g(x))`` in one pass (:func:`jax.value_and_grad`)."""
        return jax.value_and_grad(self)(x)


class Quadratic(AbstractLagrangian):
    r""":math:`L = \frac12\sum_i x_i^2`; activation: the identity (linear neurons)."""

    def __call__(self, x):
        return 0.5 * jnp.sum(x * x)


Identity = Quadratic


class AbsoluteValue(AbstractLagrangian):
    r""":math:`L = \sum_i |x_i|`; activation :math:`\mathrm{sign}(x)` (0 at x = 0).

    Written as :math:`\sum_i x_i\,\mathrm{sign}(x_i)` so that ``jax.grad`` gives sign(0) = 0.
    Model A of Krotov & Hopfield 2021 uses it for the visible neurons (binary-like states).
    """

    def __call__(self, x):
        return jnp.sum(x * jnp.sign(x))


class RectifiedPower(AbstractLagrangian):
    r""":math:`L = \sum_i \max(x_i, 0)^n` (ReLU^n); activation :math:`n\max(x,0)^{n-1}`.

    **Arguments:** ``n`` — integer power >= 1 (convex for every n >= 1).
    """

    n: int = eqx.field(static=True)

    def __init__(self, n: int):
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"`n` must be an integer >= 1; got {n!r}")
        if n < 1:
            raise ValueError(f"`n` must be an integer >= 1; got {n}")
        self.n = n

    def __call__(self, x):
        return jnp.sum(jnp.maximum(x, 0.0) ** self.n)


class SumOf(AbstractLagrangian):
    r""":math:`L = \sum_i F(x_i)` for an interaction function ``F`` of :mod:`damjax`
    (e.g. ``damjax.RectifiedPolynomial(3)``); activation :math:`F'(x)`.

    Model A of Krotov & Hopfield 2021 (:math:`L_h = \sum_\mu F(h_\mu)`). The energy decreases along
    the dynamics only for convex F (``RectifiedPolynomial``, ``Exponential``, even ``Polynomial``).
    F is evaluated plainly (not rescaled), so keep its arguments in range.
    """

    F: AbstractInteraction

    def __init__(self, F: AbstractInteraction):
        if not isinstance(F, AbstractInteraction):
            raise TypeError(
                f"`F` must be an interaction function such as damjax.RectifiedPolynomial(3); "
                f"got {F!r}"
            )
        self.F = F

    def __call__(self, x):
        return jnp.sum(self.F(x))


class LogSumExp(AbstractLagrangian):
    r""":math:`L = \beta^{-1}\log\sum_i e^{\beta x_i}`; activation :math:`\mathrm{softmax}(\beta x)`.

    Model B of Krotov & Hopfield 2021 (hidden layer); evaluated overflow-free for any beta.

    **Arguments:** ``beta`` — finite inverse temperature > 0 (default 1).
    """

    beta: Float[Array, ""] | float

    def __init__(self, beta: float = 1.0):
        self.beta = check_positive_scalar(beta, "beta")

    def __call__(self, x):
        return jax.nn.logsumexp(self.beta * x) / self.beta


Softmax = LogSumExp


class SphericalNorm(AbstractLagrangian):
    r""":math:`L = \sqrt{\sum_i x_i^2 + \epsilon}`; activation :math:`x/\sqrt{\|x\|^2+\epsilon}`.

    Model C of Krotov & Hopfield 2021 (spherical memory). With ``eps = 0`` (default) the activation
    is the unit vector :math:`x/\|x\|`, undefined (NaN) at x = 0.
    """

    eps: float = eqx.field(static=True, default=0.0)

    def __check_init__(self):
        if not (self.eps >= 0.0):
            raise ValueError(f"`eps` must be >= 0; got {self.eps}")

    def __call__(self, x):
        return jnp.sqrt(jnp.sum(x * x) + self.eps)


class LayerNorm(AbstractLagrangian):
    r""":math:`L = n\gamma\sqrt{\frac1n\sum_i (x_i-\bar x)^2+\epsilon} + \sum_i \delta_i x_i`;
    activation :math:`\gamma (x - \bar x)/\sqrt{\mathrm{var}(x)+\epsilon} + \delta` (layer norm,
    as in Hoover et al. 2023's Energy Transformer).

    **Arguments:** ``gamma`` — scale >= 0 (scalar); ``delta`` — bias (scalar or (n,));
    ``eps`` — > 0.
    """

    gamma: Float[Array, ""] | float = 1.0
    delta: Float[Array, ...] | float = 0.0
    eps: float = eqx.field(static=True, default=1e-5)

    def __check_init__(self):
        if is_concrete(self.gamma):
            check_finite_scalar(self.gamma, "gamma")
            if float(self.gamma) < 0:
                raise ValueError(f"`gamma` must be >= 0 (convex Lagrangian); got {self.gamma}")
        if not (self.eps > 0.0):
            raise ValueError(f"`eps` must be > 0; got {self.eps}")

    def __call__(self, x):
        n = x.shape[-1]
        xc = x - jnp.mean(x)
        return n * self.gamma * jnp.sqrt(jnp.mean(xc * xc) + self.eps) + jnp.sum(self.delta * x)


class Tanh(AbstractLagrangian):
    r""":math:`L = \beta^{-1}\sum_i \log\cosh(\beta x_i)`; activation :math:`\tanh(\beta x)`.

    The classical continuous Hopfield network's neurons. Evaluated overflow-free.
    """

    beta: Float[Array, ""] | float

    def __init__(self, beta: float = 1.0):
        self.beta = check_positive_scalar(beta, "beta")

    def __call__(self, x):
        a = jnp.abs(self.beta * x)
        return jnp.sum(a + jnp.log1p(jnp.exp(-2.0 * a)) - jnp.log(2.0)) / self.beta


class Sigmoid(AbstractLagrangian):
    r""":math:`L = \beta^{-1}\sum_i \log(1 + e^{\beta x_i})`; activation :math:`\sigma(\beta x)`."""

    beta: Float[Array, ""] | float

    def __init__(self, beta: float = 1.0):
        self.beta = check_positive_scalar(beta, "beta")

    def __call__(self, x):
        return jnp.sum(jax.nn.softplus(self.beta * x)) / self.beta


class Function(AbstractLagrangian):
    """A user-supplied Lagrangian ``fn(x) -> scalar`` (should be convex for monotone energy)."""

    fn: Callable = eqx.field(static=True)

    def __check_init__(self):
        if not callable(self.fn):
            raise TypeError(f"`fn` must be callable; got {self.fn!r}")

    def __call__(self, x):
        return self.fn(x)


def as_lagrangian(L, name: str, width: int) -> AbstractLagrangian:
    """Wrap ``L`` (a Lagrangian, an interaction function F -> ``SumOf(F)``, or a callable) and
    check that it returns a scalar for a state of shape ``(width,)``.

    **Raises:** ``TypeError`` for anything else; ``ValueError`` when the output is not a scalar.
    """
    if isinstance(L, AbstractInteraction):
        L = SumOf(L)
    elif not isinstance(L, AbstractLagrangian):
        if not callable(L):
            raise TypeError(
                f"`{name}` must be a Lagrangian (damjax.components.lagrangians.*), an "
                f"interaction function or a callable x -> scalar; got {L!r}"
            )
        L = Function(L)
    try:
        out = jax.eval_shape(L, jax.ShapeDtypeStruct((width,), jnp.result_type(float)))
    except Exception as e:  # the user's function failed on a state of the expected shape
        raise ValueError(
            f"`{name}` could not be evaluated on a state of shape ({width},): {e}"
        ) from e
    if not isinstance(out, jax.ShapeDtypeStruct) or out.shape != ():
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(
            f"`{name}` must return a scalar for a state of shape ({width},); got output {shape}"
        )
    return L
