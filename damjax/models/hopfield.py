r"""The classical Hopfield network with Hebbian weights (Hopfield 1982).

States :math:`s \in \{-1,+1\}^N`, stored patterns :math:`x^\mu` (rows of ``patterns``, shape
(K, N)), weights

.. math:: W = \frac{1}{N} \sum_\mu x^\mu (x^\mu)^T, \qquad W_{ii} = 0,

energy :math:`E(s) = -\tfrac12 s^T W s` and update :math:`s_i \leftarrow \mathrm{Sign}[(W s)_i]`
(ties keep the current value). This is the ``n = 2`` network of the prototype-regime studies of
McAlister, Robins & Szymanski (2024, 2025), whose unit energy profile is
:math:`e_i = -\tfrac12 s_i (W s)_i` (see :func:`damjax.states.unit_energies`).

Unlike :class:`damjax.BinaryDAM` with ``Polynomial(2)`` (energy :math:`-\sum_\mu (x^\mu\cdot s)^2`,
which keeps the self-coupling), the diagonal is zero, so :math:`E` is the textbook energy and
flipping neuron i changes it by exactly :math:`2 s_i (W s)_i`. Cost per synchronous step: one
(N, N) matrix-vector product, independent of the number of stored patterns; an asynchronous
neuron update costs O(N) (the local fields ``W s`` are the auxiliary vector and are updated with
one column of ``W`` after each flip).
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Float, Int, Scalar, is_concrete
from .._numerics import HI as _HI
from .._validation import as_real_float, check_binary_patterns
from ._base import AbstractAsyncKernel, AbstractBinaryMemory, sign_keep_ties


class HopfieldNetwork(AbstractBinaryMemory):
    r"""Hebbian Hopfield network over {-1,+1}^N: :math:`E(s) = -\tfrac12 s^T W s`.

    **Arguments** (exactly one of the two):

    * ``patterns`` — (K, N) array of +-1 patterns stored with the Hebbian rule
      :math:`W = \frac1N\sum_\mu x^\mu x^{\mu T}`, zero diagonal.
    * ``weights`` — keyword-only: an explicit symmetric (N, N) weight matrix with zero diagonal.

    **Raises:** ``ValueError`` if neither or both are given, if ``patterns`` is not a 2-D array of
    +-1, or if ``weights`` is not square, symmetric, finite with zero diagonal.

    **Attributes:** ``weights`` (W), stored as ``couplings * scale`` with ``scale = 1/N`` for
    Hebbian patterns, so that the integer-valued couplings keep local fields exact in float32.

    Use it with :func:`damjax.retrieve` and any rule (``Async`` guarantees convergence to a fixed
    point because ``W`` is symmetric with zero diagonal; ``Sync`` may end in a 2-cycle).
    """

    couplings: Float[Array, "N N"]
    scale: float = eqx.field(static=True)

    def __init__(self, patterns=None, *, weights=None):
        if (patterns is None) == (weights is None):
            raise ValueError("give exactly one of `patterns` (K, N) or `weights=` (N, N)")
        if patterns is not None:
            x = check_binary_patterns(patterns)
            n = x.shape[1]
            # integer-valued couplings N W: exact in float32 (|entries| <= K < 2^24), so the
            # incrementally updated local fields of Async stay exact and ties stay ties.
            c = jnp.matmul(x.T, x, precision=_HI)
            self.couplings = c * (1.0 - jnp.eye(n, dtype=c.dtype))
            self.scale = 1.0 / n
            return
        w = weights if hasattr(weights, "shape") else np.asarray(weights)
        if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] == 0:
            raise ValueError(
                f"`weights` must be a square (N, N) matrix, N >= 1; got shape {w.shape}"
            )
        w = as_real_float(w, "weights", jnp.float32)
        if is_concrete(w):
            host = np.asarray(w, dtype=np.float64)
            if not np.all(np.isfinite(host)):
                raise ValueError("`weights` must be finite")
            if not np.allclose(host, host.T, rtol=1e-6, atol=1e-6):
                raise ValueError("`weights` must be symmetric (W = W^T)")
            if np.any(np.diag(host) != 0):
                raise ValueError("`weights` must have a zero diagonal (no self-coupling)")
        self.couplings = jnp.asarray(w)
        self.scale = 1.0

    @property
    def dim(self) -> int:
        return self.couplings.shape[0]

    @property
    def weights(self) -> Float[Array, "N N"]:
        """The weight matrix ``W`` (symmetric, zero diagonal)."""
        return self.couplings * self.scale

    def _raw_field(self, state):
        # couplings @ s: exact for Hebbian couplings (integers times +-1)
        return jnp.matmul(state, self.couplings, precision=_HI)

    def local_field(self, state: Float[Array, "*B N"]) -> Float[Array, "*B N"]:
        """The local fields ``W s`` (for a batch: ``s W``, W symmetric)."""
        return self._raw_field(state) * self.scale

    def energy(self, state: Float[Array, " N"]) -> Scalar:
        r""":math:`E = -\tfrac12 s^T W s`."""
        return self.aux_energy(self._raw_field(state), state)

    def aux_energy(self, aux: Float[Array, " N"], state: Float[Array, " N"]) -> Scalar:
        return -0.5 * self.scale * jnp.dot(state, aux, precision=_HI)

    def field(self, state: Float[Array, "*B N"]) -> Float[Array, "*B N"]:
        r"""Exact energy differences :math:`h_i = E(s_i=-1) - E(s_i=+1) = 2 (W s)_i`.

        Same convention as :meth:`damjax.BinaryDAM.field`: the sign of ``h`` is the update.
        """
        return 2.0 * self.local_field(state)

    def scaled_field(self, state: Float[Array, " N"]) -> tuple[Float[Array, " N"], Scalar]:
        """``(h, 0)``: the field never overflows, so the scale is 1 (for API parity with DAMs)."""
        return self.field(state), jnp.zeros((), dtype=self.couplings.dtype)

    def update(self, state: Float[Array, " N"]) -> Float[Array, " N"]:
        """Synchronous update: every neuron to the sign of its local field (ties keep)."""
        return sign_keep_ties(self._raw_field(state), state)

    def async_kernel(self) -> _HopfieldKernel:
        """O(N)-per-neuron asynchronous updates (:class:`_HopfieldKernel`)."""
        return _HopfieldKernel(self)


class _HopfieldKernel(AbstractAsyncKernel):
    """Asynchronous kernel of :class:`HopfieldNetwork`: ``aux`` = the local fields ``W s`` /
    scale, exact (integer couplings), updated with one row of ``W`` after each flip; nothing to
    refresh."""

    model: HopfieldNetwork
    refresh_every: ClassVar[int] = 1 << 30

    def init(self, state: Float[Array, " N"]) -> Float[Array, " N"]:
        return self.model._raw_field(state)

    def step(self, s_i, aux: Float[Array, " N"], i: Int[Array, ""]):
        h_i = aux[i]
        new = jnp.where(h_i > 0, 1.0, jnp.where(h_i < 0, -1.0, s_i)).astype(s_i.dtype)
        flipped = new != s_i
        # h = s @ W, so flipping s_i moves h by row i of W (contiguous; W is symmetric anyway)
        row = jax.lax.dynamic_index_in_dim(self.model.couplings, i, axis=0, keepdims=False)
        aux = aux + jnp.where(flipped, 2.0 * new, 0.0) * row
        return new, aux

    def energy(self, aux, state):
        return self.model.aux_energy(aux, state)
