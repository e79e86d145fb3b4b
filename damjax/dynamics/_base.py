"""One entry point for all dynamics: :func:`retrieve`, with rules as strategy objects."""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Float, Int, PRNGKeyArray
from .._validation import check_finite_values, check_key
from ..models._base import AbstractMemory


class Retrieval(eqx.Module):
    """Result of :func:`retrieve`.

    **Fields:**

    * ``states`` — final states, same shape as the cues.
    * ``steps`` — steps taken per cue (sweeps for ``Async``, updates for ``Sync``).
    * ``converged`` — True where a fixed point was reached within ``max_steps``.
    * ``energies`` — with ``record_energy=True``: energy before the first and after every step,
      shape (..., max_steps + 1), padded with NaN after convergence; otherwise ``None``. In true
      units, so it overflows to -inf where the energy exceeds the dtype (large degree n or beta).
    * ``scaled_energies``, ``energy_log_scales`` — with ``record_energy=True`` (discrete rules):
      the same trace as ``E_t = scaled_energies[t] * exp(energy_log_scales[t])``, both finite at
      any n or beta (the model's ``scaled_energy``; log-scale 0 for models without one). To check
      monotonicity without overflow compare ``log|E_t| = log|scaled| + log_scale`` (DAM energies
      are negative), or ``scaled_energies[t + 1] * exp(L_{t+1} - L_t)`` with ``scaled_energies[t]``.
    """

    states: Float[Array, "*B N"]
    steps: Int[Array, "*B"]
    converged: Bool[Array, "*B"]
    energies: Float[Array, "*B T"] | None = None
    scaled_energies: Float[Array, "*B T"] | None = None
    energy_log_scales: Float[Array, "*B T"] | None = None


class AbstractRule(eqx.Module):
    """A dynamics rule: evolves ONE state of a model for at most ``max_steps`` steps."""

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

    def check_model(self, model: AbstractMemory) -> None:
        """Raise a clear error when this rule cannot run on ``model``."""

    @property
    def needs_key(self) -> bool:
        return False


def scaled_energy_fn(model):
    """``state -> (E exp(-L), L)``: the model's ``scaled_energy`` where it has one (finite at any
    degree or beta), else ``(energy, 0)``."""
    f = getattr(model, "scaled_energy", None)
    if f is not None:
        return f
    return lambda s: (model.energy(s), jnp.zeros((), jnp.result_type(float)))


def _energy_trace(energy, state, max_steps):
    """Buffers ``(scaled, log_scale)`` of length ``max_steps + 1`` with entry 0 set."""
    dtype = jnp.result_type(float)
    out = energy(state)
    e, ls = out if isinstance(out, tuple) else (out, jnp.zeros((), dtype))
    buf = jnp.full((max_steps + 1,), jnp.nan, dtype)
    return buf.at[0].set(e), buf.at[0].set(ls)


def _set_energy(trace, t, energy, state):
    out = energy(state)
    e, ls = out if isinstance(out, tuple) else (out, jnp.zeros((), trace[0].dtype))
    return trace[0].at[t].set(e), trace[1].at[t].set(ls)


def _energy_fields(trace):
    """``energies`` (true units), ``scaled_energies``, ``energy_log_scales`` of a trace."""
    if trace is None:
        return {}
    from ..interactions import unscale

    return dict(
        energies=unscale(trace[0], trace[1]), scaled_energies=trace[0], energy_log_scales=trace[1]
    )


def iterate_to_fixed_point(step, energy, state, *, max_steps: int, record_energy: bool, converged):
    """Apply ``step`` until ``converged(old, new)`` or ``max_steps``; shared by all rules.

    ``step(state, t) -> new_state``; ``energy(state) -> scalar`` or ``(scaled, log_scale)`` (see
    :func:`scaled_energy_fn`). Returns a :class:`Retrieval`. Implemented with ``lax.while_loop``;
    the energy trace is a fixed-size buffer.
    """
    trace0 = _energy_trace(energy, state, max_steps) if record_energy else None

    def cond(carry):
        _, t, done, _ = carry
        return (~done) & (t < max_steps)

    def body(carry):
        s, t, _, trace = carry
        new = step(s, t)
        done = converged(s, new)
        if record_energy:
            trace = _set_energy(trace, t + 1, energy, new)
        return new, t + 1, done, trace

    init = (state, jnp.asarray(0, jnp.int32), jnp.asarray(False), trace0)
    s, t, done, trace = jax.lax.while_loop(cond, body, init)
    return Retrieval(states=s, steps=t, converged=done, **_energy_fields(trace))


@eqx.filter_jit
def _retrieve_batched(model, cues, rule, keys, max_steps, record_energy):
    def one(cue, key):
        return rule.run(model, cue, key=key, max_steps=max_steps, record_energy=record_energy)

    return jax.vmap(one)(cues, keys)


def retrieve(
    model: AbstractMemory,
    cues: Float[Array, "*B N"],
    *,
    rule: AbstractRule | None = None,
    max_steps: int = 100,
    record_energy: bool = False,
    key: PRNGKeyArray | None = None,
) -> Retrieval:
    """Run the dynamics ``rule`` of ``model`` from every cue (jitted, batched over cues).

    **Arguments:**

    * ``model`` — any memory model (:class:`damjax.BinaryDAM`, ...).
    * ``cues`` — (N,) or (B, N) initial states.
    * ``rule`` — :class:`damjax.Sync` (default), :class:`damjax.Async`, :class:`damjax.OneStep`, ...
    * ``max_steps`` — maximum number of steps (sweeps for ``Async``).
    * ``record_energy`` — also return the energy after each step.
    * ``key`` — PRNG key, required by rules with randomness (``Async(order="random")``).

    **Returns:** a :class:`Retrieval` with a leading batch axis matching ``cues``.

    Works under ``jax.vmap`` over models (e.g. ``eqx.filter_vmap``) and inside ``jax.jit``.
    """
    from .binary import Sync

    rule = Sync() if rule is None else rule
    if not isinstance(rule, AbstractRule):
        raise TypeError(f"`rule` must be a dynamics rule such as damjax.Sync(); got {rule!r}")
    if not isinstance(model, AbstractMemory):
        raise TypeError(f"`model` must be a damjax memory model; got {type(model).__name__}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"`max_steps` must be an integer >= 1; got {max_steps!r}")
    max_steps = int(max_steps)
    rule.check_model(model)
    cues = jnp.asarray(cues)
    prepare = getattr(model, "prepare_state", None)
    if prepare is not None:  # binary models: +-1 values checked, bool converted
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
    out = _retrieve_batched(model, batch, rule, keys, max_steps, record_energy)
    if single:
        out = jax.tree.map(lambda x: x[0], out)
    return out
