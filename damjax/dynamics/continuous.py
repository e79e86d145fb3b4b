r"""Continuous-time rules for continuous models: an explicit ``Euler(dt)`` rule and an adaptive
``ODE`` rule integrated with diffrax; :func:`trajectory` saves whole trajectories.

Both work through :func:`damjax.retrieve` on any :class:`damjax.AbstractContinuousMemory`
(:class:`damjax.ModernHopfield`: the gradient flow :math:`\dot\xi = X\mathrm{softmax}(\beta
X^T\xi) - \xi`; :class:`damjax.LagrangianNetwork`: the visible/hidden dynamics of Krotov & Hopfield
2021). The cue is the visible state; the model builds its ODE state from it (``ode_init``).
A run stops at a steady state, :math:`\max|dy/dt| \le` ``tol`` :math:`\cdot\max(1, \max|y|)`, and reports it in
``converged``; NaN or inf states never count as converged.
"""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Bool, Float
from ..models._continuous import AbstractContinuousMemory
from ._base import RESULTS, AbstractRule, Retrieval, iterate_to_fixed_point

__all__ = ["AbstractContinuousRule", "Euler", "ODE", "Trajectory", "trajectory"]


def _max_abs(tree):
    return jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jax.tree.leaves(tree)]))


def _all_finite(tree):
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _scale(tree):
    # steady-state tests are relative to the state's size (float32 round-off of large states)
    return jnp.maximum(1.0, _max_abs(tree))


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a number > 0; got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be a finite number > 0; got {value}")


class AbstractContinuousRule(AbstractRule):
    """A continuous-time rule: besides ``run`` (to a steady state, for :func:`retrieve`) it can
    save whole trajectories (:func:`trajectory`) through ``save_times`` and ``integrate``."""

    #: default horizon of :func:`trajectory` (``None``: ``t1`` must be given).
    @property
    def default_t1(self) -> float | None:
        return None

    @abc.abstractmethod
    def save_times(self, t1: float) -> Float[Array, " T"]:
        """The times at which :func:`trajectory` saves the state over [0, t1]."""

    @abc.abstractmethod
    def integrate(self, model, y0, ts, *, t1: float, max_steps: int):
        """Integrate one ODE state ``y0`` over [0, t1]; returns ``(ys, ok)``: the state at every
        time of ``ts`` (leading axis T) and False where the integrator failed."""

    def check_model(self, model):
        if not isinstance(model, AbstractContinuousMemory):
            raise TypeError(
                f"{type(self).__name__} needs a continuous model (AbstractContinuousMemory, e.g. "
                f"ModernHopfield or LagrangianNetwork); got {type(model).__name__}"
            )


class Euler(AbstractContinuousRule):
    r"""Explicit Euler steps :math:`y \leftarrow y + dt\, F(y)` of the model's flow.

    **Arguments:**

    * ``dt`` — step size (> 0, in the model's time units; e.g. ``dt = tau_f``).
    * ``tol`` — stop at a steady state: when a step ``dt F(y)`` moves no coordinate by more than
      ``tol * dt * max(1, max|y|)`` (> 0, default 1e-5), i.e. ``max|F(y)| <= tol max(1, max|y|)``
      whatever ``dt``. The step is taken as computed, so one that rounds away in float32 (a
      ``dt`` too small to move the state) is not a steady state.

    ``steps`` counts Euler steps; with ``record_energy`` the energy of the ODE state is recorded
    before the first and after every step (NaN-padded after convergence). Differentiable with
    ``retrieve(..., gradient="unrolled")`` and ``gradient="implicit"`` (at the steady state
    ``F(y*) = 0``, the fixed point of ``y -> y + dt F(y)``; valid at a stable steady state with
    ``dt`` small enough for that map to contract; the adjoint's relative tolerance is
    ``tol * dt``; see :func:`damjax.retrieve`).
    """

    dt: float
    tol: float = 1e-5

    def __check_init__(self):
        _check_positive(self.dt, "dt")
        _check_positive(self.tol, "tol")

    supports_fixed_steps: ClassVar[bool] = True
    supports_implicit: ClassVar[bool] = True

    def run(
        self, model, state, *, key, max_steps, record_energy, fixed_steps=False, implicit=False
    ) -> Retrieval:
        dt, tol = self.dt, self.tol

        y0 = model.ode_init(state)

        def step(y, t):
            # held (clamped) coordinates stay y0's: the same values (their field is 0), and the
            # fixed-point map of gradient="implicit" then depends on the clamped cue entries
            return model.ode_hold(jax.tree.map(lambda a, b: a + dt * b, y, model.ode_field(y)), y0)

        def converged(old, new):
            # the step dt F(old) itself, not new - old: a step below the state's float
            # resolution rounds away (new == old) and would read as a steady state. F(old) is
            # the step's own product (XLA's common-subexpression pass keeps one evaluation);
            # held coordinates do not move (their entries of F set to 0).
            held = model.ode_hold(model.ode_field(old), jax.tree.map(jnp.zeros_like, y0))
            moved = dt * _max_abs(held)
            return (moved <= tol * dt * _scale(new)) & _all_finite(new)

        out = iterate_to_fixed_point(
            step,
            model.ode_energy,
            y0,
            max_steps=max_steps,
            record_energy=record_energy,
            converged=converged,
            fixed_steps=fixed_steps,
            implicit=implicit,
            adjoint_tol=tol * dt,
        )
        return eqx.tree_at(lambda r: r.states, out, model.ode_visible(out.states))

    def save_times(self, t1):
        """Every step: ``dt * [0, 1, ..., ceil(t1 / dt)]``."""
        n = max(1, math.ceil(t1 / self.dt - 1e-9))
        if n >= 2**31 - 1:
            raise ValueError(
                f"`t1` = {t1} is {n} Euler steps of dt = {self.dt}, each one saved: too many "
                "(use a larger dt, or ODE(...) with a fixed number of saves)"
            )
        return self.dt * jnp.arange(n + 1)

    def integrate(self, model, y0, ts, *, t1, max_steps):
        dt = self.dt

        def body(y, _):
            new = jax.tree.map(lambda a, b: a + dt * b, y, model.ode_field(y))
            return new, new

        _, ys = jax.lax.scan(body, y0, None, length=ts.shape[0] - 1)
        ys = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), y0, ys)
        return ys, jnp.asarray(True)


class ODE(AbstractContinuousRule):
    r"""The model's flow integrated with a diffrax solver and adaptive steps (PID controller).

    **Arguments:**

    * ``t1`` — integration horizon (> 0, model time units; default 100).
    * ``solver`` — a diffrax solver (default ``diffrax.Tsit5()``; use an implicit solver such as
      ``diffrax.Kvaerno5()`` for stiff problems, e.g. very small ``tau_h``).
    * ``rtol``, ``atol`` — step-size controller tolerances.
    * ``tol`` — stop early at a steady state, :math:`\max|dy/dt| \le` ``tol * max(1, max|y|)``
      (a diffrax event).
    * ``saves`` — with ``record_energy``: the energy is saved at ``saves`` equally spaced times in
      [0, t1] (NaN after an early stop), so ``energies`` has shape (..., saves).

    ``max_steps`` of :func:`damjax.retrieve` is the solver's step budget; ``steps`` reports the
    accepted steps. ``converged`` is True when the steady state was reached without solver error.
    With ``retrieve(..., fixed_steps=True)`` the flow is integrated over the whole horizon
    [0, t1] without the early stop, so that ``jax.grad`` differentiates the state at t1 (through
    diffrax's adjoint); the result then differs from the early-stopped one by at most what the
    flow moves after reaching the steady state.
    """

    t1: float = 100.0
    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    rtol: float = 1e-5
    atol: float = 1e-6
    tol: float = 1e-5
    saves: int = eqx.field(static=True, default=101)

    def __check_init__(self):
        _check_positive(self.t1, "t1")
        _check_positive(self.rtol, "rtol")
        _check_positive(self.atol, "atol")
        _check_positive(self.tol, "tol")
        if not isinstance(self.solver, diffrax.AbstractSolver):
            raise TypeError(f"`solver` must be a diffrax solver; got {self.solver!r}")
        if isinstance(self.saves, bool) or not isinstance(self.saves, int) or self.saves < 2:
            raise ValueError(f"`saves` must be an integer >= 2; got {self.saves!r}")

    @property
    def default_t1(self) -> float:
        return self.t1

    def save_times(self, t1):
        """``saves`` equally spaced times in [0, t1]."""
        return jnp.linspace(0.0, t1, self.saves)

    def integrate(self, model, y0, ts, *, t1, max_steps):
        sol = self._solve(
            model, y0, t1=t1, saveat=diffrax.SaveAt(ts=ts), max_steps=max_steps, event=None
        )
        return sol.ys, sol.result == diffrax.RESULTS.successful

    def _solve(self, model, y0, *, saveat, max_steps, event, t1=None):
        term = diffrax.ODETerm(lambda t, y, args: model.ode_field(y))
        return diffrax.diffeqsolve(
            term,
            self.solver,
            t0=0.0,
            t1=self.t1 if t1 is None else t1,
            dt0=None,
            y0=y0,
            saveat=saveat,
            stepsize_controller=diffrax.PIDController(rtol=self.rtol, atol=self.atol),
            max_steps=max_steps,
            event=event,
            throw=False,
        )

    # fixed_steps: the whole horizon [0, t1], no early-stop event
    supports_fixed_steps: ClassVar[bool] = True

    def run(self, model, state, *, key, max_steps, record_energy, fixed_steps=False) -> Retrieval:
        tol = self.tol
        y0 = model.ode_init(state)

        def steady(t, y, args, **kwargs):
            return _max_abs(model.ode_field(y)) <= tol * _scale(y)

        subs = [diffrax.SubSaveAt(t1=True)]
        if record_energy:
            ts = jnp.linspace(0.0, self.t1, self.saves)
            subs.append(diffrax.SubSaveAt(ts=ts, fn=lambda t, y, args: model.ode_energy(y)))
        sol = self._solve(
            model,
            y0,
            saveat=diffrax.SaveAt(subs=subs),
            max_steps=max_steps,
            # with fixed_steps, no early stop: the solution at t1 is differentiable through
            # diffrax's adjoint (the stopping time of an event is not)
            event=None if fixed_steps else diffrax.Event(steady),
        )
        y1 = jax.tree.map(lambda x: x[-1], sol.ys[0])
        ok = (
            (sol.result == diffrax.RESULTS.successful)
            | (sol.result == diffrax.RESULTS.event_occurred)
        ) & _all_finite(y1)
        converged = ok & (_max_abs(model.ode_field(y1)) <= tol * _scale(y1))
        status = jnp.where(
            converged,
            RESULTS.converged,
            jnp.where(
                ~_all_finite(y1),
                RESULTS.nonfinite_state,
                jnp.where(
                    sol.result == diffrax.RESULTS.max_steps_reached,
                    RESULTS.max_steps_reached,
                    RESULTS.not_converged,
                ),
            ),
        ).astype(jnp.int32)
        energies = None
        if record_energy:
            e = sol.ys[1]
            energies = jnp.where(jnp.isfinite(sol.ts[1]), e, jnp.nan)
        return Retrieval(
            states=model.ode_visible(y1),
            steps=jnp.asarray(sol.stats["num_accepted_steps"], jnp.int32),
            converged=converged,
            energies=energies,
            status=status,
        )


class Trajectory(eqx.Module):
    """Saved trajectories of :func:`trajectory`.

    **Fields:** ``ts`` (T,) save times; ``states`` (B, T, N) visible states; ``ys`` the model's full
    ODE state at every save (e.g. ``(v, h)`` with shapes (B, T, N_f), (B, T, N_h)); ``energies``
    (B, T); ``ok`` (B,) True where the integration finished without solver error or NaN.
    """

    ts: Float[Array, " T"]
    states: Float[Array, "B T N"]
    ys: object
    energies: Float[Array, "B T"]
    ok: Bool[Array, " B"]


@eqx.filter_jit
def _trajectory_batched(model, y0s, rule, t1, max_steps):
    ts = rule.save_times(t1)
    ys, ok = jax.vmap(lambda y0: rule.integrate(model, y0, ts, t1=t1, max_steps=max_steps))(y0s)
    energies = jax.vmap(jax.vmap(model.ode_energy))(ys)
    states = jax.vmap(jax.vmap(model.ode_visible))(ys)
    ok = jnp.all(jnp.isfinite(energies), axis=-1) & ok
    return Trajectory(ts=ts, states=states, ys=ys, energies=energies, ok=ok)


def trajectory(
    model: AbstractContinuousMemory,
    cues: Float[Array, "*B N"] | None = None,
    *,
    rule: AbstractContinuousRule,
    t1: float | None = None,
    init=None,
    max_steps: int = 100_000,
) -> Trajectory:
    """Integrate the flow of ``model`` over [0, t1] from every cue and save the trajectory.

    **Arguments:**

    * ``model`` — a continuous model.
    * ``cues`` — (N,) or (B, N) visible initial states (ODE states built by ``model.ode_init``).
    * ``rule`` — ``Euler(dt)`` (saves every step: ``ts = dt * [0, 1, ..., ceil(t1/dt)]``) or
      ``ODE(...)`` (saves at ``rule.saves`` equally spaced times; no early stop).
    * ``t1`` — horizon (default ``rule.t1`` for ``ODE``; required for ``Euler``).
    * ``init`` — instead of ``cues``: explicit ODE states with a leading batch axis, e.g.
      ``(v0, h0)`` of shapes (B, N_f), (B, N_h) for a :class:`damjax.LagrangianNetwork`.
    * ``max_steps`` — solver step budget (``ODE``).

    **Returns:** a :class:`Trajectory` (batched; a single cue gives B = 1).

    **Raises:** ``TypeError`` / ``ValueError`` for a non-continuous model, a wrong rule, bad shapes
    or NaN cues.
    """
    if not isinstance(rule, AbstractContinuousRule):
        raise TypeError(
            f"`rule` must be a continuous rule such as damjax.Euler(dt) or damjax.ODE(); "
            f"got {rule!r}"
        )
    rule.check_model(model)
    if t1 is None:
        if rule.default_t1 is None:
            raise ValueError(f"`t1` is required with rule={type(rule).__name__}(...)")
        t1 = rule.default_t1
    _check_positive(float(t1), "t1")
    if (cues is None) == (init is None):
        raise ValueError("give exactly one of `cues` (visible states) or `init` (ODE states)")
    if init is None:
        cues = jnp.asarray(cues)
        cues = model.prepare_state(cues, "cues")  # a continuous model (rule.check_model)
        if cues.ndim > 2:
            raise ValueError(f"`cues` must have shape (N,) or (B, N); got {cues.shape}")
        batch = cues[None] if cues.ndim == 1 else cues
        y0s = jax.vmap(model.ode_init)(batch)
    else:
        y0s = jax.tree.map(jnp.asarray, init)
        leaves = jax.tree.leaves(y0s)
        if any(x.ndim < 2 for x in leaves) or len({x.shape[0] for x in leaves}) != 1:
            raise ValueError(
                "`init` must be ODE states with a common leading batch axis, e.g. (v0, h0) of "
                "shapes (B, N_f), (B, N_h)"
            )
        probe = jax.vmap(model.ode_init)(model.ode_visible(y0s))
        if jax.tree.structure(probe) != jax.tree.structure(y0s) or any(
            a.shape != b.shape for a, b in zip(jax.tree.leaves(probe), leaves)
        ):
            raise ValueError(
                "`init` does not match the model's ODE state: expected shapes "
                f"{[x.shape for x in jax.tree.leaves(probe)]}; got {[x.shape for x in leaves]}"
            )
    return _trajectory_batched(model, y0s, rule, float(t1), max_steps)
