"""Synchronous discrete-time rules for any model: :class:`Sync` and :class:`OneStep`."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from .._validation import check_finite_scalar
from ._base import AbstractRule, iterate_to_fixed_point, register_rule, scaled_energy_fn


def _check_tol(tol):
    """``tol`` must be a finite number >= 0 (NaN or a negative tolerance never converges)."""
    check_finite_scalar(tol, "tol", nonnegative=True)


def _synchronous(model, state, tol, max_steps, record_energy, fixed_steps, implicit=False):
    """``s <- model.update(s)`` through the one loop, converged when ``max|new - old| <= tol``."""
    return iterate_to_fixed_point(
        lambda s, t: model.hold(model.update(s), state),
        scaled_energy_fn(model),
        state,
        max_steps=max_steps,
        record_energy=record_energy,
        converged=lambda old, new: jnp.max(jnp.abs(new - old)) <= tol,
        fixed_steps=fixed_steps,
        implicit=implicit,
        adjoint_tol=tol,
    )


class _AbstractSynchronous(AbstractRule):
    """``s <- model.update(s)`` (all neurons at once) with convergence ``max|s_new - s| <= tol``;
    the concrete rules differ only in how many steps they take."""

    tol: eqx.AbstractVar[float]

    def __check_init__(self):
        _check_tol(self.tol)

    supports_fixed_steps: ClassVar[bool] = True


class Sync(_AbstractSynchronous):
    """All neurons at once, ``s <- model.update(s)``, until a fixed point or ``max_steps``.

    **Arguments:** ``tol`` — convergence when ``max|s_new - s| <= tol`` (0 = exact fixed point, the
    right choice for binary states; continuous models use a small positive tolerance).

    Differentiable with ``retrieve(..., gradient="unrolled")`` (any model) and, for continuous
    models, ``gradient="implicit"`` at the fixed point ``s* = model.update(s*)`` (see
    :func:`damjax.retrieve`; with ``tol = 0`` the forward loop needs an exact fixed point, so
    give continuous models a small ``tol``, which is also the adjoint's relative tolerance).
    """

    tol: float = 0.0

    supports_implicit: ClassVar[bool] = True

    def run(
        self, model, state, *, key, max_steps, record_energy, fixed_steps=False, implicit=False
    ):
        return _synchronous(model, state, self.tol, max_steps, record_energy, fixed_steps, implicit)


class OneStep(_AbstractSynchronous):
    """A single synchronous update. ``converged`` says whether that step changed nothing
    (within ``tol``), i.e. whether the cue was already a fixed point; ``max_steps`` is ignored."""

    tol: float = 0.0

    def run(self, model, state, *, key, max_steps, record_energy, fixed_steps=False):
        return _synchronous(model, state, self.tol, 1, record_energy, fixed_steps)


register_rule("sync", Sync)
register_rule("onestep", OneStep)
