r"""Discrete gradient descent on a model's energy: :class:`GradientDescent`.

.. math:: x_{t+1} = x_t - \alpha\,(1 - c) \odot \nabla E(x_t)

with a clamp mask :math:`c \in \{0, 1\}^D` that keeps the known part of a cue fixed (pattern
completion). This is the retrieval rule of DrDAM (Hoover et al. 2024: alpha ~ 0.03-0.1, up to
1000 steps). The gradient comes from ``jax.grad(model.energy)``, so it works for any model with a
differentiable energy over continuous states (:class:`damjax.ExpDAM`,
:class:`damjax.RandomFeatureDAM`, ...).
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool
from .._validation import check_finite_scalar
from ..models._base import AbstractBinaryMemory
from ._base import AbstractRule, iterate_to_fixed_point


class GradientDescent(AbstractRule):
    r"""Gradient descent :math:`x \leftarrow x - \alpha\nabla E(x)`, clamped entries held fixed.

    Use with :func:`damjax.retrieve`: ``retrieve(model, cues, rule=GradientDescent(0.1,
    clamp=mask), max_steps=1000)``. Stops when :math:`\max_i|x_{t+1,i} - x_{t,i}| \le` ``tol``
    (``tol = 0`` runs all ``max_steps`` unless an exact fixed point is hit).

    **Arguments:**

    * ``step_size`` — :math:`\alpha > 0`.
    * ``clamp`` — optional boolean (D,) mask, True where the cue's value is known and kept fixed
      (shared by all cues of a batch).
    * ``tol`` — convergence tolerance on the largest change of a step, ``alpha |grad E|`` on the
      free entries, as it changes the state (>= 0). It bounds the step, not the gradient: with
      a smaller ``step_size``, lower ``tol`` with it (at ``step_size`` 1e-9 every step is below
      the default ``tol``, and rounds away entirely in float32).

    Differentiable with ``retrieve(..., gradient="unrolled")`` and ``gradient="implicit"`` (at a
    minimum of the energy over the free entries; see :func:`damjax.retrieve`).

    **Raises:** ``ValueError`` for ``step_size <= 0``, ``tol < 0`` or a clamp mask that is not 1-D
    or does not match the model's width; ``TypeError`` for binary models (their energies are not
    defined between the corners of the hypercube; use ``Sync`` / ``Async``).
    """

    step_size: float = 0.1
    clamp: Bool[Array, " D"] | None = None
    tol: float = 1e-6

    def __check_init__(self):
        check_finite_scalar(self.step_size, "step_size", positive=True)
        tol = float(np.asarray(self.tol))
        if not tol >= 0:
            raise ValueError(f"`tol` must be >= 0; got {self.tol}")
        if self.clamp is not None and jnp.ndim(self.clamp) != 1:
            raise ValueError(
                f"`clamp` must be a 1-D boolean mask of shape (D,); got shape {jnp.shape(self.clamp)}"
            )

    def check_model(self, model) -> None:
        if isinstance(model, AbstractBinaryMemory):
            raise TypeError(
                f"GradientDescent needs a model with a continuous, differentiable energy; got the "
                f"binary model {type(model).__name__} (use Sync() or Async())"
            )
        if self.clamp is not None and jnp.shape(self.clamp)[0] != model.dim:
            raise ValueError(
                f"`clamp` must have shape (D,) = ({model.dim},) to match the model; "
                f"got {jnp.shape(self.clamp)}"
            )

    supports_fixed_steps: ClassVar[bool] = True
    supports_implicit: ClassVar[bool] = True

    def run(
        self, model, state, *, key, max_steps, record_energy, fixed_steps=False, implicit=False
    ):
        if not jnp.issubdtype(state.dtype, jnp.floating):
            state = state.astype(jnp.result_type(float))
        grad = jax.grad(model.energy)
        free = None if self.clamp is None else ~jnp.asarray(self.clamp, bool)

        def step(x, t):
            new = x - jnp.asarray(self.step_size, x.dtype) * grad(x)
            # clamped entries are the cue's (the same values as keeping x there, and the
            # fixed-point map of gradient="implicit" then depends on the clamped cue entries)
            return new if free is None else jnp.where(free, new, state)

        def converged(old, new):
            return jnp.max(jnp.abs(new - old)) <= self.tol

        return iterate_to_fixed_point(
            step,
            model.energy,
            state,
            max_steps=max_steps,
            record_energy=record_energy,
            converged=converged,
            fixed_steps=fixed_steps,
            implicit=implicit,
            adjoint_tol=self.tol,
        )
