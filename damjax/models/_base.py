"""The interface between memory models and dynamics rules.

Every model is an ``eqx.Module`` with a pure scalar ``energy(state)`` and ``update(state)``, one
synchronous step of its own update rule, and the fixed-point test ``is_fixed_point(state)``.
Binary models (:class:`AbstractBinaryMemory`) also declare their ``field`` / ``scaled_field`` and
offer asynchronous dynamics through ONE method, ``async_kernel()``: an
:class:`AbstractAsyncKernel` keeps an auxiliary vector (e.g. the overlaps) up to date so that one
neuron update costs O(K), never O(N K), and owns that vector's invariant (its exact refresh and
its cadence). Rules and analysis code check for these declared abstract classes, never for
concrete models.
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp

from .._custom_types import Array, Bool, Float, Int, Scalar
from .._validation import binary_state, check_state_width


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

    def hold(self, new: Float[Array, " N"], cue: Float[Array, " N"]) -> Float[Array, " N"]:
        """``new`` with the neurons that the dynamics never move (clamped ones) set to the cue's
        values. Default: ``new`` (nothing is held). Rules apply it after every step (the values
        do not change: held neurons keep the cue's anyway); it makes the dependence of a fixed
        point on the held part of the cue explicit for ``retrieve(..., gradient="implicit")``."""
        return new

    def is_fixed_point(self, state: Float[Array, " N"]) -> Bool[Array, ""]:
        """True when one synchronous step leaves ``state`` exactly unchanged (the one fixed-point
        test of damjax: :func:`damjax.capacity.is_fixed_point` and
        :func:`damjax.states.is_stable` are this method, batched)."""
        return jnp.all(self.update(state) == state)


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

    @property
    def active_patterns(self) -> Bool[Array, " K"]:
        """Which rows of ``patterns`` are stored memories (all of them unless a model masks some,
        e.g. :class:`damjax.BinaryDAM` with ``mask``); capacity measurements count only these."""
        return jnp.ones((self.patterns.shape[0],), bool)


class AbstractBinaryMemory(AbstractMemory):
    """A memory over states in {-1, +1}^N with an O(K)-per-neuron asynchronous update.

    Declares the field of the update, ``h_i = E(s with s_i = -1) - E(s with s_i = +1)`` (its
    sign is the update; ties keep), which analysis code (:mod:`damjax.states`) uses without
    knowing the model. ``aux`` is model-defined (overlaps for a DAM, the local fields for a
    Hebbian network).
    """

    @abc.abstractmethod
    def field(self, state: Float[Array, " N"]) -> Float[Array, " N"]:
        """The exact energy differences ``h_i`` in true units (may overflow at large degree)."""

    def scaled_field(self, state: Float[Array, " N"]) -> tuple[Float[Array, " N"], Scalar]:
        """``(h * exp(-L), L)``: the field divided by a positive scale, finite where ``field``
        overflows. The default uses ``field`` with ``L = 0``."""
        h = self.field(state)
        return h, jnp.zeros((), dtype=jnp.result_type(h))

    @abc.abstractmethod
    def async_kernel(self) -> AbstractAsyncKernel:
        """The model's kernel for asynchronous dynamics (:class:`AbstractAsyncKernel`): the one
        object that owns the incremental single-neuron update, its auxiliary state and how often
        that state is recomputed exactly. Called once per retrieval."""

    def check_state(self, state, name: str = "cues"):
        """Width, and (when concrete) values: every entry must be +1 or -1."""
        binary_state(state, self.dim, name)

    def prepare_state(self, state, name: str = "cues"):
        """``state`` checked (:meth:`check_state`) and as float +-1 (bool: True -> +1)."""
        return binary_state(state, self.dim, name)


class AbstractAsyncKernel(eqx.Module):
    """Incremental single-neuron updates of a binary model, for :class:`damjax.Async`.

    ``aux`` is kernel-defined (overlaps for a DAM, the local fields for a Hebbian network) and is
    the kernel's alone: the rule only passes it along. One sweep visits every neuron once; the
    rule calls ``refresh`` before each block of ``refresh_every`` neurons.
    """

    #: neurons between two exact recomputations (``refresh``) of what ``step`` tracks
    #: approximately; a kernel without approximations keeps any value.
    refresh_every: eqx.AbstractClassVar[int]

    @abc.abstractmethod
    def init(self, state: Float[Array, " N"]) -> Any:
        """The auxiliary quantities for ``state``."""

    @abc.abstractmethod
    def step(
        self, s_i: Float[Array, ""], aux: Any, i: Int[Array, ""]
    ) -> tuple[Float[Array, ""], Any]:
        """Update neuron ``i``, whose current value is ``s_i``, given ``aux``; returns
        ``(new value of neuron i, aux after the update)``. Everything else the update needs about
        the state must live in ``aux`` (the dynamics own the state array: writing it while the
        step reads it made XLA copy the whole batch of states at every neuron)."""

    def refresh(self, state: Float[Array, " N"], aux: Any) -> Any:
        """Recompute exactly whatever ``step`` only tracks approximately. Default: unchanged."""
        return aux

    @abc.abstractmethod
    def energy(self, aux: Any, state: Float[Array, " N"]) -> Scalar:
        """The model's energy from the auxiliary quantities (cheap, for energy traces)."""

    def scaled_energy(self, aux: Any, state: Float[Array, " N"]) -> tuple[Scalar, Scalar]:
        """``(E exp(-L), L)`` from the auxiliary quantities, finite at any degree or beta (energy
        traces). Default: ``(energy(aux, state), 0)``."""
        e = self.energy(aux, state)
        return e, jnp.zeros((), jnp.result_type(e))


def sign_keep_ties(field, state, tol=0.0):
    """``sign(field)``, keeping the current value where ``|field| <= tol`` (a tie)."""
    return jnp.where(field > tol, 1.0, jnp.where(field < -tol, -1.0, state)).astype(state.dtype)
