"""The interface between memory models and dynamics rules.

Every model is an ``eqx.Module`` with a pure scalar ``energy(state)`` and ``update(state)``, one
synchronous step of its own update rule. Binary models additionally implement the incremental
interface used by asynchronous dynamics (``async_init`` / ``async_step``), which keeps an auxiliary
vector (e.g. the overlaps) up to date so that one neuron update costs O(K), never O(N K).
Rules check for these declared abstract classes, not for concrete models.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp

from .._custom_types import Array, Float, Int, Scalar
from .._validation import check_binary_values, check_state_width


class AbstractMemory(eqx.Module):
    """An associative memory: an energy and a synchronous update on states of width ``dim``."""

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Width of a state (number of visible neurons)."""

    @abc.abstractmethod
    def energy(self, state: Float[Array, " N"]) -> Scalar:
        """Energy of one state (a scalar)."""

    @abc.abstractmethod
    def update(self, state: Float[Array, " N"]) -> Float[Array, " N"]:
        """One synchronous step of the model's update rule for one state."""

    def check_state(self, state, name: str = "cues"):
        """Raise a clear error when ``state`` does not fit this model (called before tracing)."""
        check_state_width(state, self.dim, name)


class AbstractPatternMemory(AbstractMemory):
    """A memory that stores its memories as the rows of a (K, dim) array ``patterns``."""

    patterns: eqx.AbstractVar[Float[Array, "K N"]]

    @property
    def dim(self) -> int:
        return self.patterns.shape[1]

    @property
    def num_patterns(self) -> int:
        """K, the number of stored patterns (rows of ``patterns``)."""
        return self.patterns.shape[0]


class AbstractBinaryMemory(AbstractMemory):
    """A memory over states in {-1, +1}^N with an O(K)-per-neuron asynchronous update.

    ``aux`` is model-defined (overlaps for a DAM, the local fields for a Hebbian network).
    """

    def async_prepare(self) -> AbstractBinaryMemory:
        """Called once per retrieval, before any ``async_step``: a model may return a copy of
        itself with operands laid out for single-neuron access (e.g. pattern columns made
        contiguous). The default returns the model unchanged."""
        return self

    @abc.abstractmethod
    def async_init(self, state: Float[Array, " N"]) -> Array:
        """Auxiliary quantities for incremental single-neuron updates."""

    @abc.abstractmethod
    def async_step(
        self, s_i: Float[Array, ""], aux: Array, i: Int[Array, ""]
    ) -> tuple[Float[Array, ""], Array]:
        """Update neuron ``i``, whose current value is ``s_i``, given ``aux``; returns
        ``(new value of neuron i, aux after the update)``. Everything else the update needs about
        the state must live in ``aux`` (the dynamics own the state array: writing it while the
        step reads it made XLA copy the whole batch of states at every neuron)."""

    def async_refresh(self, state: Float[Array, " N"], aux: Array) -> Array:
        """Recompute whatever ``async_step`` only tracks approximately (called every
        ``Async.refresh_every`` neurons). The default keeps ``aux`` as it is."""
        return aux

    @abc.abstractmethod
    def aux_energy(self, aux: Array, state: Float[Array, " N"]) -> Scalar:
        """Energy from the auxiliary quantities (cheap, for energy traces)."""

    def check_state(self, state, name: str = "cues"):
        """Width, and (when concrete) values: every entry must be +1 or -1."""
        super().check_state(state, name)
        check_binary_values(state, name)

    def prepare_state(self, state, name: str = "cues"):
        """``state`` checked (:meth:`check_state`) and as float +-1 (bool: True -> +1)."""
        check_state_width(state, self.dim, name)
        return check_binary_values(state, name)


def sign_keep_ties(field, state, tol=0.0):
    """``sign(field)``, keeping the current value where ``|field| <= tol`` (a tie)."""
    return jnp.where(field > tol, 1.0, jnp.where(field < -tol, -1.0, state)).astype(state.dtype)
