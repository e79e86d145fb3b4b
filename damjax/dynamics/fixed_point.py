r"""Differentiable fixed-point iteration :math:`x^* = f(x^*)`, with two ways to differentiate it.

:func:`fixed_point` iterates :math:`x_{t+1} = f(x_t)` from :math:`x_0` until the step is small,
:math:`\max_i |f(x_t)_i - x_{t,i}| \le \mathrm{tol}\cdot\max(1, \max_i |x_{t,i}|)`, or until
``max_steps`` steps. Gradients with respect to everything ``f`` closes over (the parameters
:math:`\theta`: weights, stored patterns, inverse temperature) come in one of two modes:

``gradient="unrolled"``
    The iteration is a ``lax.scan`` of exactly ``max_steps`` steps; a state that has converged
    is frozen (``where(done, x, f(x))``), so the result is the same as stopping early. Reverse
    mode differentiates through every step: the gradient is exact **for the computed output**,
    whether or not the iteration converged (e.g. one step of a Hopfield update is attention),
    and it depends on :math:`x_0` too. Memory grows linearly with ``max_steps``.

``gradient="implicit"``
    The forward pass is a ``lax.while_loop`` (stops at convergence, nothing stored). The
    backward pass uses the implicit function theorem at the fixed point: with
    :math:`x^* = f(x^*, \theta)`,

    .. math:: \frac{\partial x^*}{\partial\theta} = (I - J_x)^{-1} J_\theta, \qquad
              J_x = \partial_x f(x^*, \theta),\ J_\theta = \partial_\theta f(x^*, \theta),

    so a cotangent :math:`\bar x` is pulled back by solving the adjoint fixed-point equation
    :math:`w = \bar x + J_x^T w` (by the same iteration, up to ``max_steps`` steps) and returning
    :math:`J_\theta^T w`. Memory is constant in the number of steps. **Valid only when** the
    forward iteration has converged to a fixed point at which :math:`f` is a local contraction
    (spectral radius of :math:`J_x` below one; e.g. the Hopfield update near a well-separated
    stored pattern, Ramsauer et al. 2020, Theorem 4). Otherwise (few steps, a metastable or
    not yet converged state) the gradient it returns is that of a fixed point that was not
    reached; use ``"unrolled"``. When the forward iteration or the adjoint iteration does not
    converge within ``max_steps``, the gradients are NaN (never silently wrong). No gradient flows
    to :math:`x_0` (the fixed point does not depend on where the iteration started).

Both modes agree when the unrolled iteration has run to convergence (tested). The implicit mode's
custom VJP is :func:`implicit_fixed_point`, which takes any non-differentiated solver as its
forward pass: :func:`damjax.retrieve` uses it for ``gradient="implicit"`` (the rule's own
early-stopping loop forward, its step map as ``f``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Int

__all__ = ["FixedPoint", "fixed_point", "implicit_fixed_point"]

GRADIENTS = ("unrolled", "implicit")


class FixedPoint(eqx.Module):
    """Result of :func:`fixed_point`.

    **Fields:** ``value`` (the last iterate, same pytree as ``x0``), ``steps`` (number of
    applications of ``f`` that changed the state), ``converged`` (True when the step criterion
    was met within ``max_steps`` and the state is finite).
    """

    value: object
    steps: Int[Array, ""]
    converged: Bool[Array, ""]


def _max_abs(tree):
    return jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jax.tree.leaves(tree)]))


def _finite(tree):
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _small_step(old, new, tol):
    moved = _max_abs(jax.tree.map(lambda a, b: a - b, new, old))
    return (moved <= tol * jnp.maximum(1.0, _max_abs(new))) & _finite(new)


def _iterate_unrolled(f, x0, max_steps, tol):
    def body(carry, _):
        x, t, done = carry
        new = f(x)
        now = _small_step(x, new, tol)
        # frozen once converged: the output equals that of an early stop
        x = jax.tree.map(lambda a, b: jnp.where(done, a, b), x, new)
        t = t + jnp.where(done, 0, 1).astype(t.dtype)
        return (x, t, done | now), None

    init = (x0, jnp.asarray(0, jnp.int32), jnp.asarray(False))
    (x, t, done), _ = jax.lax.scan(body, init, None, length=max_steps)
    return x, t, done


def _iterate_while(f, x0, max_steps, tol):
    def cond(carry):
        _, t, done = carry
        return (~done) & (t < max_steps)

    def body(carry):
        x, t, _ = carry
        new = f(x)
        return new, t + 1, _small_step(x, new, tol)

    init = (x0, jnp.asarray(0, jnp.int32), jnp.asarray(False))
    return jax.lax.while_loop(cond, body, init)


def _zero_cotangent(x):
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.zeros_like(x)
    return np.zeros(x.shape, dtype=jax.dtypes.float0)


# ``forward`` and ``f`` arrive closure-converted (eqx.filter_closure_convert) and split into their
# static part (nondiff) and their arrays ``fw_consts`` / ``consts`` (every closed-over array or
# tracer, boolean masks included: jax.closure_convert would leave integer / boolean tracers in the
# closure, where they leak out of an enclosing jit).
@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 5, 6))
def _implicit(forward, f, fw_consts, consts, x0, max_steps, tol):
    return eqx.combine(fw_consts, forward)(x0)


def _implicit_fwd(forward, f, fw_consts, consts, x0, max_steps, tol):
    out = eqx.combine(fw_consts, forward)(x0)
    return out, (fw_consts, consts, out[0], out[1], x0)


def _nan_unless(ok, c):
    if c is None or not jnp.issubdtype(jnp.result_type(c), jnp.inexact):
        return c
    return jnp.where(ok, c, jnp.nan)


def _unused(cotangent) -> Bool[Array, ""]:
    """True when no inexact leaf of ``cotangent`` is nonzero (the output was not used)."""
    leaves = [
        c
        for c in jax.tree.leaves(cotangent)
        if c is not None and jnp.issubdtype(jnp.result_type(c), jnp.inexact)
    ]
    if not leaves:
        return jnp.asarray(True)
    return jnp.all(jnp.stack([jnp.all(c == 0) for c in leaves]))


def _implicit_bwd(forward, f, max_steps, tol, res, cotangents):
    fw_consts, consts, x_star, forward_done, x0 = res
    x_bar, _, aux_bar = cotangents
    fmap = eqx.combine(consts, f)
    _, vjp_x = jax.vjp(fmap, x_star)

    # adjoint equation w = x_bar + J_x^T w, solved by the same (contracting) iteration
    def adjoint(w):
        (jw,) = vjp_x(w)
        return jax.tree.map(jnp.add, x_bar, jw)

    w, _, adjoint_done = _iterate_while(adjoint, x_bar, max_steps, tol)
    _, vjp_c = jax.vjp(lambda c: eqx.combine(c, f)(x_star), consts)
    # the implicit gradient exists only at a converged fixed point with a convergent adjoint,
    # and only for the fixed point itself (not for the solver's by-products, e.g. an energy
    # trace, whose gradient is that of the trajectory): anything else gets NaN, never a
    # silently wrong gradient
    ok = forward_done & adjoint_done & _unused(aux_bar)
    (c_bar,) = vjp_c(w)
    c_bar = jax.tree.map(lambda c: _nan_unless(ok, c), c_bar)
    fw_bar = jax.tree.map(_zero_cotangent, fw_consts)
    return fw_bar, c_bar, jax.tree.map(_zero_cotangent, x0)


_implicit.defvjp(_implicit_fwd, _implicit_bwd)


def implicit_fixed_point(forward: Callable, f: Callable, x0, *, max_steps: int, tol: float):
    r"""The output of a (non-differentiated) solver ``forward``, differentiated implicitly at its
    fixed point of ``f``: the one ``jax.custom_vjp`` behind ``gradient="implicit"`` of both
    :func:`fixed_point` and :func:`damjax.retrieve`.

    **Arguments:**

    * ``forward`` — ``x0 -> (x_star, converged, aux)``: any solver (a ``lax.while_loop``, ...)
      that returns the fixed point of ``f`` it reached, a boolean scalar, and by-products
      (step counts, energy traces; a pytree).
    * ``f`` — the fixed-point map ``x -> x`` with ``x_star = f(x_star)`` at convergence; what it
      closes over (weights, stored patterns, clamped cue entries) is what gradients flow to.
    * ``x0`` — the starting state; it gets a zero cotangent.
    * ``max_steps``, ``tol`` — budget and relative tolerance of the adjoint iteration
      :math:`w = \bar x + J_x^T w` (see the module docstring).

    **Returns:** ``forward(x0)``. The cotangent of ``x_star`` is pulled back through
    :math:`J_\theta^T w`; it is NaN when ``converged`` is False, when the adjoint iteration does
    not converge within ``max_steps``, or when a loss depends on ``aux`` (whose gradient is not
    the fixed point's).
    """
    consts, f_static = eqx.partition(eqx.filter_closure_convert(f, x0), eqx.is_array)
    fw_consts, fw_static = eqx.partition(eqx.filter_closure_convert(forward, x0), eqx.is_array)
    return _implicit(fw_static, f_static, fw_consts, consts, x0, max_steps, tol)


def fixed_point(
    f: Callable,
    x0,
    *,
    max_steps: int,
    tol: float = 1e-6,
    gradient: str = "unrolled",
) -> FixedPoint:
    r"""Iterate ``x <- f(x)`` from ``x0`` towards a fixed point, differentiably.

    **Arguments:**

    * ``f`` — a pure function ``x -> x`` (same pytree structure, shapes and dtypes); it may close
      over arrays (tracers included), which are what gradients flow to.
    * ``x0`` — the starting state (a pytree of floating arrays).
    * ``max_steps`` — the most applications of ``f`` (an integer >= 1; the exact number of
      steps differentiated through with ``gradient="unrolled"``).
    * ``tol`` — convergence: a step that moves no entry by more than
      ``tol * max(1, max|x|)`` (> 0).
    * ``gradient`` — ``"unrolled"`` (reverse mode through a ``lax.scan`` of ``max_steps``
      steps) or ``"implicit"`` (implicit function theorem at the fixed point, see the module
      docstring for when it is valid).

    **Returns:** a :class:`FixedPoint` (``value``, ``steps``, ``converged``). Works under
    ``jax.jit``, ``jax.vmap`` and ``jax.grad``.

    **Raises:** ``ValueError`` for a bad ``max_steps``, ``tol`` or ``gradient``; ``TypeError``
    when ``f`` changes the structure or shapes of the state.
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"`max_steps` must be an integer >= 1; got {max_steps!r}")
    max_steps = int(max_steps)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (0 < float(tol) < np.inf):
        raise ValueError(f"`tol` must be a finite number > 0; got {tol!r}")
    tol = float(tol)
    if gradient not in GRADIENTS:
        raise ValueError(f"`gradient` must be one of {GRADIENTS}; got {gradient!r}")
    x0 = jax.tree.map(jnp.asarray, x0)
    for leaf in jax.tree.leaves(x0):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"`x0` must contain floating arrays only; got dtype {leaf.dtype}")
    out_shape = jax.eval_shape(f, x0)
    in_struct = jax.tree.map(lambda a: (a.shape, a.dtype), x0)
    if (
        jax.tree.structure(out_shape) != jax.tree.structure(x0)
        or jax.tree.map(lambda a: (a.shape, a.dtype), out_shape) != in_struct
    ):
        raise TypeError(
            "`f` must return a state of the same structure, shapes and dtypes as `x0`; "
            f"got {jax.tree.map(lambda a: (a.shape, str(a.dtype)), out_shape)} for "
            f"{jax.tree.map(lambda a: (a.shape, str(a.dtype)), x0)}"
        )
    if gradient == "unrolled":
        x, t, done = _iterate_unrolled(f, x0, max_steps, tol)
    else:

        def forward(x):
            x, t, done = _iterate_while(f, x, max_steps, tol)
            return x, done, t

        x, done, t = implicit_fixed_point(forward, f, x0, max_steps=max_steps, tol=tol)
    return FixedPoint(value=x, steps=t, converged=done)
