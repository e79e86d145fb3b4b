"""One entry point for all dynamics: :func:`retrieve`, with rules as strategy objects."""

from __future__ import annotations

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Bool, Float, Int, PRNGKeyArray
from ..models._base import AbstractMemory


class Retrieval(eqx.Module):
    """Result of :func:`retrieve`.

    **Fields:**

    * ``states`` — final states, same shape as the cues.
    * ``steps`` — steps taken per cue (sweeps for ``Async``, updates for ``Sync``).
    * ``converged`` — True where a fixed point was reached within ``max_steps``.
    * ``energies`` — with ``record_energy=True``: energy before the first and after every step,
      shape (..., max_steps + 1), padded with NaN after convergence; otherwise ``None``.
    """

    states: Float[Array, "*B N"]
    steps: Int[Array, "*B"]
    converged: Bool[Array, "*B"]
    energies: Float[Array, "*B T"] | None = None


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


def iterate_to_fixed_point(step, energy, state, *, max_steps: int, record_energy: bool, converged):
    """Apply ``step`` until ``converged(old, new)`` or ``max_steps``; shared by all rules.

    ``step(state, t) -> new_state``; ``energy(state) -> scalar``. Returns a :class:`Retrieval`.
    Implemented with ``lax.while_loop``; the energy trace is a fixed-size buffer.
    """
    dtype = jnp.result_type(float)
    trace0 = (
        jnp.full((max_steps + 1,), jnp.nan, dtype).at[0].set(energy(state))
        if record_energy
        else None
    )

    def cond(carry):
        _, t, done, _ = carry
        return (~done) & (t < max_steps)

    def body(carry):
        s, t, _, trace = carry
        new = step(s, t)
        done = converged(s, new)
        if record_energy:
            trace = trace.at[t + 1].set(energy(new))
        return new, t + 1, done, trace

    init = (state, jnp.asarray(0, jnp.int32), jnp.asarray(False), trace0)
    s, t, done, trace = jax.lax.while_loop(cond, body, init)
    return Retrieval(states=s, steps=t, converged=done, energies=trace)


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
    from .sync import Sync

    rule = Sync() if rule is None else rule
    if not isinstance(rule, AbstractRule):
        raise TypeError(f"`rule` must be a dynamics rule such as damjax.Sync(); got {rule!r}")
    if not isinstance(model, AbstractMemory):
        raise TypeError(f"`model` must be a damjax memory model; got {type(model).__name__}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"`max_steps` must be an integer >= 1; got {max_steps!r}")
    rule.check_model(model)
    cues = jnp.asarray(cues)
    model.check_state(cues, "cues")
    if cues.ndim > 2:
        raise ValueError(f"`cues` must have shape (N,) or (B, N); got {cues.shape}")
    single = cues.ndim == 1
    batch = cues[None] if single else cues
    if key is None:
        if rule.needs_key:
            raise ValueError(f"`key` is required by rule {rule!r} (random update order)")
        key = jax.random.key(0)
    keys = jax.random.split(key, batch.shape[0])
    out = _retrieve_batched(model, batch, rule, keys, max_steps, record_energy)
    if single:
        out = jax.tree.map(lambda x: x[0], out)
    return out
