r"""Hopfield pooling (learned state patterns) and the Hopfield lookup layer (learned stored
patterns), Ramsauer et al. 2020, Sec. 3 ("HopfieldPooling", "HopfieldLayer")."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Bool, Float, PRNGKeyArray
from ._hopfield import Hopfield, _check_size

__all__ = ["HopfieldLayer", "HopfieldPooling"]


def _glorot(key, shape, dtype):
    limit = math.sqrt(6.0 / (shape[0] + shape[1]))
    return jax.random.uniform(key, shape, dtype, -limit, limit)


class HopfieldPooling(eqx.Module):
    r"""Pool a set of patterns with ``quantity`` learned state patterns :math:`Q`:

    .. math:: Z = \mathrm{sep}(\beta\, Q W_Q W_K^T Y^T)\, Y W_V W_O

    (the "HopfieldPooling" layer of Ramsauer et al. 2020, eq. 12; for multiple-instance learning
    and set summarisation: the input set Y (S, input_size) is the stored patterns and the patterns
    to project, the learned :math:`Q` the state patterns).

    **Arguments:** ``input_size``; ``quantity`` — number of learned state patterns (default 1);
    ``key``; every other keyword argument is passed to :class:`Hopfield` (``num_heads``,
    ``scaling``, ``update_steps_max``, ``normalizer``, ``output_size``, ...).

    **Returns** (call): ``(quantity, output_size)``; ``pool(x, key_padding_mask=..., key=...)``.
    """

    state_patterns: Float[Array, "Q D"]
    hopfield: Hopfield

    def __init__(self, input_size: int, *, quantity: int = 1, key: PRNGKeyArray, **kwargs):
        input_size = _check_size(input_size, "input_size")
        quantity = _check_size(quantity, "quantity")
        if "key_size" in kwargs or "value_size" in kwargs:
            raise ValueError("HopfieldPooling pools its input: `key_size` / `value_size` are fixed")
        dtype = kwargs.get("dtype") or jnp.float32
        k1, k2 = jax.random.split(key)
        self.state_patterns = _glorot(k1, (quantity, input_size), dtype)
        self.hopfield = Hopfield(input_size, key=k2, **kwargs)

    @property
    def quantity(self) -> int:
        return self.state_patterns.shape[0]

    def __call__(
        self,
        x: Float[Array, "S D"],
        *,
        key_padding_mask: Bool[Array, " S"] | None = None,
        key: PRNGKeyArray | None = None,
        inference: bool | None = None,
    ) -> Float[Array, "Q Do"]:
        return self.hopfield(
            self.state_patterns,
            x,
            x,
            key_padding_mask=key_padding_mask,
            key=key,
            inference=inference,
        )

    def associations(
        self, x: Float[Array, "S D"], *, key_padding_mask: Bool[Array, " S"] | None = None
    ) -> Float[Array, "H Q S"]:
        """The learned state patterns' associations with the instances of ``x``, (H, Q, S)."""
        return self.hopfield.associations(self.state_patterns, x, key_padding_mask=key_padding_mask)


class HopfieldLayer(eqx.Module):
    r"""A trainable memory: the input patterns R (L, input_size) are the state patterns, the
    ``quantity`` learned stored patterns :math:`W_K` the keys and (by default the same, or with
    ``separate_values=True`` their own learned) patterns the values:

    .. math:: Z = \mathrm{sep}(\beta\, R W_Q (W_K W_{K}')^T)\, W_V W_{V}' W_O

    (the "HopfieldLayer" of Ramsauer et al. 2020, eq. 13: a lookup into learned prototypes).

    **Arguments:** ``input_size``; ``quantity`` — number of stored patterns; ``separate_values``;
    ``key``; other keyword arguments go to :class:`Hopfield`.

    **Returns** (call): ``(L, output_size)``.
    """

    stored_patterns: Float[Array, "K D"]
    projected_patterns: Float[Array, "K D"] | None
    hopfield: Hopfield

    def __init__(
        self,
        input_size: int,
        *,
        quantity: int,
        separate_values: bool = False,
        key: PRNGKeyArray,
        **kwargs,
    ):
        input_size = _check_size(input_size, "input_size")
        quantity = _check_size(quantity, "quantity")
        if "key_size" in kwargs or "value_size" in kwargs:
            raise ValueError("HopfieldLayer stores patterns of width `input_size`")
        dtype = kwargs.get("dtype") or jnp.float32
        k1, k2, k3 = jax.random.split(key, 3)
        self.stored_patterns = _glorot(k1, (quantity, input_size), dtype)
        self.projected_patterns = (
            _glorot(k2, (quantity, input_size), dtype) if separate_values else None
        )
        self.hopfield = Hopfield(input_size, key=k3, **kwargs)

    @property
    def quantity(self) -> int:
        return self.stored_patterns.shape[0]

    def _values(self):
        return self.stored_patterns if self.projected_patterns is None else self.projected_patterns

    def __call__(
        self,
        x: Float[Array, "L D"],
        *,
        mask: Bool[Array, "*M"] | None = None,
        key: PRNGKeyArray | None = None,
        inference: bool | None = None,
    ) -> Float[Array, "L Do"]:
        return self.hopfield(
            x, self.stored_patterns, self._values(), mask=mask, key=key, inference=inference
        )

    def associations(
        self, x: Float[Array, "L D"], *, mask: Bool[Array, "*M"] | None = None
    ) -> Float[Array, "H L K"]:
        """Associations of the inputs with the learned stored patterns, (H, L, quantity)."""
        return self.hopfield.associations(x, self.stored_patterns, mask=mask)
