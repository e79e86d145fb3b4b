"""One entry point for all dynamics: :func:`retrieve`, with rules as strategy objects."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Float, Int, PRNGKeyArray
from .._validation import check_finite_values, check_key
from ..models._base import AbstractBinaryMemory, AbstractMemory


class RESULTS:
    """Why a retrieval stopped, per cue: the codes of :attr:`Retrieval.status` (like
    ``diffrax.RESULTS``; plain integers so that they live in arrays under ``jit`` / ``vmap``).

    * ``converged`` (0) — a fixed point (a steady state for continuous rules) was reached;
    * ``max_steps_reached`` (1) — ``max_steps`` steps (sweeps, solver steps) ran out first;
    * ``nonfinite_state`` (2) — the final state holds NaN or inf (never reported as converged);
    * ``not_converged`` (3) — stopped for another reason without a fixed point (``ODE``: the
      horizon ``t1`` was reached, or the solver failed).

    ``RESULTS.name(status)`` gives the names of an array of codes.
    """

    converged = 0
    max_steps_reached = 1
    nonfinite_state = 2
    not_converged = 3
    names = ("converged", "max_steps_reached", "nonfinite_state", "not_converged")

    @classmethod
    def name(cls, status):
        """The name(s) of status code(s): a string for a scalar, else a NumPy array of strings."""
        import numpy as np

        codes = np.asarray(status)
        if (
            not np.issubdtype(codes.dtype, np.integer)
            or np.any(codes < 0)
            or np.any(codes >= len(cls.names))
        ):
            raise ValueError(
                f"`status` must hold codes 0 .. {len(cls.names) - 1} ({', '.join(cls.names)}); "
                f"got {status!r}"[:300]
            )
        out = np.asarray(cls.names, dtype=object)[codes]
        return str(out) if codes.ndim == 0 else out


def _all_finite(tree) -> Bool[Array, ""]:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def status_of(states, converged: Bool[Array, ""]) -> Int[Array, ""]:
    """:class:`RESULTS` code of one run: ``nonfinite_state`` if any leaf of ``states`` is NaN or
    inf, else ``converged`` / ``max_steps_reached``."""
    code = jnp.where(converged, RESULTS.converged, RESULTS.max_steps_reached)
    return jnp.where(_all_finite(states), code, RESULTS.nonfinite_state).astype(jnp.int32)


class Retrieval(eqx.Module):
    """Result of :func:`retrieve`.

    **Fields:**

    * ``states`` — final states, same shape as the cues.
    * ``steps`` — steps taken per cue (sweeps for ``Async``, updates for ``Sync``).
    * ``converged`` — True where a fixed point was reached within ``max_steps`` (never for a
      NaN / inf state).
    * ``energies`` — with ``record_energy=True``: energy before the first and after every step,
      shape (..., max_steps + 1), padded with NaN after convergence; otherwise ``None``. In true
      units, so it overflows to -inf where the energy exceeds the dtype (large degree n or beta).
    * ``scaled_energies``, ``energy_log_scales`` — with ``record_energy=True``: the same trace as
      ``E_t = scaled_energies[t] * exp(energy_log_scales[t])``, both finite at any n or beta (the
      model's ``scaled_energy``; log-scale 0 for models without one). To check monotonicity
      without overflow compare ``log|E_t| = log|scaled| + log_scale`` (DAM energies are
      negative), or ``scaled_energies[t + 1] * exp(L_{t+1} - L_t)`` with ``scaled_energies[t]``.
    * ``status`` — per cue, why the run stopped: a :class:`RESULTS` code (``converged``,
      ``max_steps_reached``, ``nonfinite_state``, ``not_converged``). A rule that leaves it
      ``None`` gets it filled by :func:`retrieve` from ``states`` and ``converged``.
    """

    states: Float[Array, "*B N"]
    steps: Int[Array, "*B"]
    converged: Bool[Array, "*B"]
    energies: Float[Array, "*B T"] | None = None
    status: Int[Array, "*B"] | None = None
    scaled_energies: Float[Array, "*B T"] | None = None
    energy_log_scales: Float[Array, "*B T"] | None = None


class AbstractRule(eqx.Module):
    """A dynamics rule: evolves ONE state of a model for at most ``max_steps`` steps.

    ``run`` is called by :func:`retrieve` (vmapped over cues, inside ``jit``) and must be
    traceable: no value checks there (``check_model`` runs before tracing). Rules that accept
    ``fixed_steps=True`` (exactly ``max_steps`` steps with ``lax.scan``, for reverse-mode
    autodiff) say so with ``supports_fixed_steps``; :func:`retrieve` passes the keyword only when
    asked for it, so a rule without the option needs no ``fixed_steps`` argument. Likewise rules
    whose step is a time-independent map ``x -> f(x)`` of a continuous state may accept
    ``implicit=True`` (implicit-function-theorem gradients at the fixed point, see
    :func:`retrieve`) and say so with ``supports_implicit``.
    """

    @abc.abstractmethod
    def run(
        self,
        model: AbstractMemory,
        state: Float[Array, " N"],
        *,
        key: PRNGKeyArray,
        max_steps: int,
        record_energy: bool,
    ) -> Retrieval:
        """Evolve one state; returns an unbatched :class:`Retrieval`."""

    supports_fixed_steps: ClassVar[bool] = False
    """Whether ``run`` accepts ``fixed_steps=True`` (see :func:`retrieve`)."""

    supports_implicit: ClassVar[bool] = False
    """Whether ``run`` accepts ``implicit=True`` (``gradient="implicit"`` of :func:`retrieve`)."""

    def check_model(self, model: AbstractMemory) -> None:
        """Raise a clear error when this rule cannot run on ``model``."""

    @property
    def needs_key(self) -> bool:
        return False


#: rule name -> factory of a rule with its default settings (see :func:`register_rule`).
_RULE_NAMES: dict[str, Callable[[], AbstractRule]] = {}


def register_rule(name: str, factory: Callable[[], AbstractRule]) -> None:
    """Make ``factory()`` available as the rule called ``name`` (config files, sweeps).

    The built-in names are ``"sync"``, ``"onestep"``, ``"async"`` and ``"async-random"``.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string; got {name!r}")
    if not callable(factory):
        raise TypeError(f"`factory` must be callable; got {factory!r}")
    _RULE_NAMES[name] = factory


def rule_names() -> tuple[str, ...]:
    """The names accepted by :func:`rule_from_name`."""
    return tuple(_RULE_NAMES)


def rule_from_name(name: str) -> AbstractRule:
    """The rule registered as ``name`` (e.g. ``"async-random"`` -> ``Async(order="random")``).

    **Raises:** ``ValueError`` naming the registered rules for an unknown name.
    """
    if name not in _RULE_NAMES:
        raise ValueError(f"`rule` must be one of {rule_names()}; got {name!r}")
    return _RULE_NAMES[name]()


def scaled_energy_fn(model):
    """``state -> (E exp(-L), L)``: the model's ``scaled_energy`` where it has one (finite at any
    degree or beta), else ``(energy, 0)``."""
    f = getattr(model, "scaled_energy", None)
    if f is not None:
        return f
    return lambda s: (model.energy(s), jnp.zeros((), jnp.result_type(float)))


def _eval_energy(energy, state):
    """``(scaled, log_scale)`` from an ``energy`` that returns a scalar or such a pair."""
    out = energy(state)
    dtype = jnp.result_type(float)
    e, ls = out if isinstance(out, tuple) else (out, jnp.zeros((), dtype))
    return jnp.asarray(e, dtype), jnp.asarray(ls, dtype)


def _energy_fields(trace):
    """``energies`` (true units), ``scaled_energies``, ``energy_log_scales`` of a trace."""
    if trace is None:
        return {}
    from ..components.interactions import unscale

    return dict(
        energies=unscale(trace[0], trace[1]), scaled_energies=trace[0], energy_log_scales=trace[1]
    )


def _adjoint_tol(state, adjoint_tol: float) -> float:
    """Relative tolerance of the implicit mode's adjoint iteration: ``adjoint_tol``, but never
    below 100 ulps of the state's dtype (round-off keeps smaller steps from being reached)."""
    dtype = jnp.result_type(*jax.tree.leaves(state))
    return max(float(adjoint_tol), 100.0 * float(jnp.finfo(dtype).eps))


def iterate_to_fixed_point(
    step,
    energy,
    state,
    *,
    max_steps: int,
    record_energy: bool,
    converged,
    fixed_steps: bool = False,
    visible=None,
    implicit: bool = False,
    adjoint_tol: float = 0.0,
):
    """THE loop of damjax: apply ``step`` until ``converged(old, new)`` or ``max_steps``.

    Every rule runs through it (``Sync``, ``OneStep``, ``Async`` with a sweep as its step,
    ``Euler``, ``GradientDescent``). ``state`` may be any pytree (the carry of the rule, e.g.
    ``(s, aux)`` for ``Async``); ``step(carry, t) -> carry``; ``energy(carry) -> scalar``;
    ``converged(old, new) -> bool``. ``energy`` may return a scalar or ``(scaled, log_scale)``
    (see :func:`scaled_energy_fn`); the trace keeps both. Returns a :class:`Retrieval` whose ``states`` is the final
    carry and whose ``status`` is ``nonfinite_state`` when any leaf of ``visible(carry)``
    (default: the whole carry) is NaN / inf; such a run never counts as converged.

    ``fixed_steps=False``: ``lax.while_loop`` (stops at convergence; not reverse-differentiable).
    ``fixed_steps=True``: ``lax.scan`` over exactly ``max_steps`` steps, the carry held fixed
    once converged: the same states, steps, flags and energies, and differentiable with
    ``jax.grad`` (it costs ``max_steps`` steps whatever the convergence).
    ``implicit=True``: the same ``lax.while_loop``, differentiated at its fixed point by the
    implicit function theorem (:func:`damjax.dynamics.implicit_fixed_point`, the
    custom VJP of :func:`damjax.dynamics.fixed_point`) with ``x -> step(x, 0)`` as the
    fixed-point map, so ``step`` must not depend on ``t``; the adjoint iteration stops at the
    relative tolerance ``max(adjoint_tol, 100 ulps)`` within ``max_steps`` steps. Gradients are
    NaN when the loop did not converge, when the adjoint does not converge, or when a loss uses
    the energy trace.
    """
    if implicit and fixed_steps:
        raise ValueError(
            "`implicit=True` and `fixed_steps=True` are exclusive (implicit vs unrolled)"
        )

    def start(s0):
        if record_energy:
            buf = jnp.full((max_steps + 1,), jnp.nan, jnp.result_type(float))
            trace0 = tuple(buf.at[0].set(v) for v in _eval_energy(energy, s0))
        else:
            trace0 = None
        return (s0, jnp.asarray(0, jnp.int32), jnp.asarray(False), trace0)

    def cond(carry):
        _, t, done, _ = carry
        return (~done) & (t < max_steps)

    def body(carry):
        s, t, _, trace = carry
        new = step(s, t)
        done = converged(s, new)
        if record_energy:
            trace = tuple(b.at[t + 1].set(v) for b, v in zip(trace, _eval_energy(energy, new)))
        return new, t + 1, done, trace

    if fixed_steps:

        def scan_body(carry, _):
            s, t, done, trace = carry
            new = step(s, t)
            now = converged(s, new)
            if record_energy:
                trace = tuple(
                    b.at[t + 1].set(jnp.where(done, b[t + 1], v))
                    for b, v in zip(trace, _eval_energy(energy, new))
                )
            s = jax.tree.map(lambda a, b: jnp.where(done, a, b), s, new)
            return (s, jnp.where(done, t, t + 1), done | now, trace), None

        (s, t, done, trace), _ = jax.lax.scan(scan_body, start(state), None, length=max_steps)
    elif implicit:
        from .fixed_point import implicit_fixed_point

        def forward(s0):
            s, t, done, trace = jax.lax.while_loop(cond, body, start(s0))
            return s, done, (t, trace)

        s, done, (t, trace) = implicit_fixed_point(
            forward,
            lambda x: step(x, jnp.asarray(0, jnp.int32)),
            state,
            max_steps=max_steps,
            tol=_adjoint_tol(state, adjoint_tol),
        )
    else:
        s, t, done, trace = jax.lax.while_loop(cond, body, start(state))
    seen = s if visible is None else visible(s)
    done = done & _all_finite(seen)
    return Retrieval(
        states=s, steps=t, converged=done, status=status_of(seen, done), **_energy_fields(trace)
    )


@eqx.filter_jit
def _retrieve_batched(model, cues, rule, keys, max_steps, record_energy, fixed_steps, implicit):
    extra = {"fixed_steps": True} if fixed_steps else {}
    if implicit:
        extra = {"implicit": True}

    def one(cue, key):
        out = rule.run(
            model, cue, key=key, max_steps=max_steps, record_energy=record_energy, **extra
        )
        if out.status is None:
            out = eqx.tree_at(
                lambda r: r.status,
                out,
                status_of(out.states, out.converged),
                is_leaf=lambda x: x is None,
            )
        return out

    return jax.vmap(one)(cues, keys)


def retrieve(
    model: AbstractMemory,
    cues: Float[Array, "*B N"],
    *,
    rule: AbstractRule | None = None,
    max_steps: int = 100,
    record_energy: bool = False,
    key: PRNGKeyArray | None = None,
    fixed_steps: bool = False,
    gradient: str | None = None,
) -> Retrieval:
    r"""Run the dynamics ``rule`` of ``model`` from every cue (jitted, batched over cues).

    **Arguments:**

    * ``model`` — any memory model (:class:`damjax.BinaryDAM`, ...).
    * ``cues`` — (N,) or (B, N) initial states.
    * ``rule`` — :class:`damjax.Sync` (default), :class:`damjax.Async`, :class:`damjax.OneStep`, ...
    * ``max_steps`` — maximum number of steps (sweeps for ``Async``).
    * ``record_energy`` — also return the energy after each step.
    * ``key`` — PRNG key, required by rules with randomness (``Async(order="random")``).
    * ``fixed_steps`` — run exactly ``max_steps`` steps with ``lax.scan`` (a converged state is
      held fixed, so every field equals the default's) instead of a ``lax.while_loop`` that
      stops early: then ``jax.grad`` can differentiate through the retrieval (put it inside a
      loss). Supported by ``Sync``, ``OneStep``, ``Async``, ``Euler`` and ``GradientDescent``
      (identical results); for ``ODE`` it means integrating the whole horizon ``t1`` without the
      early stop at a steady state (differentiable through diffrax's adjoint; the stopping time
      of the early stop is not).
    * ``gradient`` — how ``jax.grad`` differentiates the retrieval (default ``None``: as set by
      ``fixed_steps``, i.e. not reverse-differentiable unless ``fixed_steps=True``):

      - ``"unrolled"`` — the same as ``fixed_steps=True``: reverse mode through every one of the
        ``max_steps`` steps. Exact for the computed output whether or not it converged (e.g. a
        few steps of ``Sync`` on a ModernHopfield: stacked attention); memory grows with
        ``max_steps``; gradients also flow to the cues.
      - ``"implicit"`` — the default early-stopping ``lax.while_loop`` (identical results),
        differentiated at its fixed point :math:`x^* = f(x^*, \theta)` by the implicit function
        theorem, :math:`\partial x^*/\partial\theta = (I - J_x)^{-1} J_\theta`, through the
        custom VJP of :func:`damjax.dynamics.fixed_point` (the adjoint :math:`w = \bar x + J_x^T
        w` is iterated up to ``max_steps`` times, to a relative tolerance of the rule's own
        tolerance or 100 ulps, whichever is larger); constant memory. For continuous models with
        ``Sync`` (:math:`f` = ``model.update``), ``Euler`` (:math:`f(y) = y + dt\,F(y)`) and
        ``GradientDescent`` (:math:`f(x) = x - \alpha\nabla E(x)`, clamped entries equal to the
        cue's, so gradients reach the clamped cue entries; free entries of a cue get none: an
        attracting fixed point does not move with its start). Neurons that a model clamps
        itself (:meth:`damjax.HierarchicalNetwork.clamp`) are held at the cue in the same way
        (``model.hold`` / ``ode_hold``) and get gradients too. **Valid only** at a converged
        fixed point where :math:`f` contracts (spectral radius of :math:`J_x` below one: an
        attractor, e.g. a retrieved, well-separated pattern; for ``Euler`` a stable steady state
        and a small enough ``dt``). Otherwise the gradient is NaN, never a silently wrong number:
        when a cue's retrieval did not converge (``converged=False``), when the adjoint
        iteration does not converge within ``max_steps`` (a saddle, a metastable state, a too
        large step), and when the loss uses the energy trace (its gradient is the trajectory's,
        not the fixed point's; use ``"unrolled"``). Use ``"unrolled"`` for a fixed small number
        of steps (e.g. ``OneStep``) or for unconverged states. Not for binary models or
        ``Async`` (discrete states have no derivative), ``OneStep`` (one step is no fixed
        point) or ``ODE`` (use ``fixed_steps=True``, diffrax's adjoint).

    **Returns:** a :class:`Retrieval` with a leading batch axis matching ``cues``; ``status``
    says per cue why the run stopped (:class:`RESULTS`).

    **Raises:** ``TypeError`` / ``ValueError`` for a wrong rule or model, a bad ``max_steps``,
    cues of the wrong shape, a missing ``key``, ``fixed_steps`` with a rule that lacks it, a
    ``gradient`` other than ``None`` / ``"unrolled"`` / ``"implicit"``, or ``"implicit"`` with a
    rule or model that cannot support it (or together with ``fixed_steps=True``);
    value checks of the cues (NaN, +-1 entries) run only when the cues are concrete.

    Validation happens here, at the boundary, on what is known before tracing (types, shapes,
    concrete values); traced models and cues pass through, so ``retrieve`` works inside
    ``jax.jit``, ``jax.vmap`` over models and cues (e.g. ``eqx.filter_vmap``), ``lax.map`` and
    sweep experiments, with the same results as a direct call.
    """
    from .sync import Sync

    rule = Sync() if rule is None else rule
    if not isinstance(rule, AbstractRule):
        raise TypeError(f"`rule` must be a dynamics rule such as damjax.Sync(); got {rule!r}")
    if not isinstance(model, AbstractMemory):
        raise TypeError(f"`model` must be a damjax memory model; got {type(model).__name__}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"`max_steps` must be an integer >= 1; got {max_steps!r}")
    if gradient not in (None, "unrolled", "implicit"):
        raise ValueError(f"`gradient` must be None, 'unrolled' or 'implicit'; got {gradient!r}")
    implicit = gradient == "implicit"
    if implicit:
        if fixed_steps:
            raise ValueError(
                "`gradient='implicit'` differentiates the early-stopping loop at its fixed point; "
                "`fixed_steps=True` is the unrolled mode: give one of them"
            )
        if isinstance(model, AbstractBinaryMemory):
            raise TypeError(
                f"`gradient='implicit'` needs a continuous model; {type(model).__name__} has "
                "discrete (+-1) states, whose updates have no derivative"
            )
        if not rule.supports_implicit:
            raise ValueError(
                f"`gradient='implicit'` is not supported by rule {type(rule).__name__}: it needs "
                "a rule that iterates a time-independent map to a fixed point (Sync, Euler, "
                "GradientDescent); use gradient='unrolled' (fixed_steps=True) instead"
            )
    fixed_steps = bool(fixed_steps) or gradient == "unrolled"
    if fixed_steps and not rule.supports_fixed_steps:
        raise ValueError(
            f"`fixed_steps=True` is not supported by rule {type(rule).__name__} (see retrieve)"
        )
    max_steps = int(max_steps)
    rule.check_model(model)
    cues = jnp.asarray(cues)
    prepare = getattr(model, "prepare_state", None)
    if prepare is not None:  # binary: +-1 values checked, bool converted; continuous: to float
        cues = prepare(cues, "cues")
    else:
        model.check_state(cues, "cues")
        cues = check_finite_values(cues, "cues")
    if cues.ndim > 2:
        raise ValueError(f"`cues` must have shape (N,) or (B, N); got {cues.shape}")
    single = cues.ndim == 1
    batch = cues[None] if single else cues
    if key is None:
        if rule.needs_key:
            raise ValueError(f"`key` is required by rule {rule!r} (random update order)")
        key = jax.random.key(0)
    check_key(key)
    keys = jax.random.split(key, batch.shape[0])
    out = _retrieve_batched(
        model, batch, rule, keys, max_steps, record_energy, fixed_steps, implicit
    )
    if single:
        out = jax.tree.map(lambda x: x[0], out)
    return out
