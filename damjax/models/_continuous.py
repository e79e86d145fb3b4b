"""The interface between continuous-state models and continuous-time rules (``Euler``, ``ODE``).

A continuous model integrates an internal ODE state ``y`` (a pytree: the state itself for
:class:`damjax.ModernHopfield`, the pair ``(v, h)`` of visible and hidden neurons for a
:class:`damjax.LagrangianNetwork`). :func:`damjax.retrieve` hands the rule a visible state (what
the user's cues are); the model says how to build ``y`` from it (``ode_init``), the time
derivative ``dy/dt`` (``ode_field``), the energy of ``y`` (``ode_energy``, a Lyapunov function of
the flow) and how to read the visible state back (``ode_visible``).
"""

from __future__ import annotations

import jax
import numpy as np

from .._custom_types import Array, Float, Scalar, is_concrete
from .._validation import as_real_float, check_finite_values, check_real
from ._base import AbstractMemory


class AbstractContinuousMemory(AbstractMemory):
    """A memory with continuous states and a continuous-time flow :math:`dy/dt = F(y)`.

    The defaults describe the common case of a flow on the visible state itself
    (``y = state``) with the gradient flow :math:`dy/dt = -\nabla E(y)` (by autodiff). Models with
    hidden neurons (:class:`damjax.LagrangianNetwork`) or another flow override them.
    """

    def ode_init(self, state: Float[Array, " N"]):
        """The ODE state ``y`` (a pytree) that starts from the visible ``state``."""
        return state

    def ode_field(self, y):
        """``dy/dt`` (same pytree structure as ``y``); default ``-grad E(y)``."""
        return -jax.grad(self.energy)(y)

    def ode_energy(self, y) -> Scalar:
        """Energy of the ODE state (non-increasing along the flow)."""
        return self.energy(y)

    def ode_visible(self, y) -> Float[Array, " N"]:
        """The visible state contained in ``y``."""
        return y

    def ode_hold(self, y, y0):
        """The ODE state ``y`` with held (clamped) coordinates set to those of ``y0``; the ODE
        counterpart of :meth:`~damjax.AbstractMemory.hold`. Default: ``y``."""
        return y

    def check_state(self, state, name: str = "cues"):
        """Width check, and a clear error for complex or NaN / inf cues (instead of silent
        wrong results: a complex cue would run as complex states)."""
        super().check_state(state, name)
        check_real(state, name)
        if is_concrete(state):
            host = np.asarray(state)
            if not np.all(np.isfinite(host)):
                bad = int(np.sum(~np.isfinite(host)))
                raise ValueError(f"`{name}` contains {bad} NaN or infinite value(s)")

    def prepare_state(self, state, name: str = "cues"):
        """``state`` checked (:meth:`check_state`; traced values too under
        :func:`damjax.check_traced_values`) and as a float array (integer or bool cues are
        converted to the default float type, as the continuous dynamics need)."""
        self.check_state(state, name)
        # traced NaN / inf too, when dj.check_traced_values(True)
        return check_finite_values(as_real_float(state, name), name)
