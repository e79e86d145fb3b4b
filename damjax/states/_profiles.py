r"""Unit energy profiles and the stability ratio (Robins & McCallum 2004; McAlister et al. 2025).

For the Hebbian Hopfield network the *unit energy* of neuron i in state x is

.. math:: e_i = -\tfrac12 x_i (W x)_i, \qquad \sum_i e_i = E(x) = -\tfrac12 x^T W x.

A state is stable iff every :math:`e_i \le 0`. The DAM analogue uses the exact field
:math:`h_i = E(x_i=-1) - E(x_i=+1)` of :class:`damjax.BinaryDAM`: :math:`x_i h_i` is the energy
cost of flipping neuron i, and

.. math:: e_i = -\tfrac14 x_i h_i,

which equals the Hebbian formula for the Hopfield network (there :math:`h = 2 W x`). For DAMs
:math:`\sum_i e_i` is no longer the energy; ``e`` is the profile of flip costs. With
``scaled=True`` the DAM profile is divided by a positive per-state scale (``scaled_field``), so
high degrees never overflow; the stability ratio and normalised profiles are unchanged by it.

The **stability ratio** of Robins & McCallum (2004) compares the least and the most stable unit:

.. math:: r(x) = \max_i e_i \,/\, \min_i e_i \in [0, 1] \text{ for stable states},

near 1 for a flat profile (typical of learned states), near 0 when some unit is barely stable
(typical of spurious states). It is 0 when no unit has negative energy.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Float, is_concrete
from ..models import AbstractBinaryMemory


@eqx.filter_jit
def _profiles(model, states, scaled: bool):
    def one(x):
        if scaled:
            h, _ = model.scaled_field(x)
        else:
            h = model.field(x)
        return -0.25 * x * h

    return jax.vmap(one)(states)


def unit_energies(
    model: AbstractBinaryMemory,
    states: Float[Array, "*B N"],
    *,
    scaled: bool = False,
) -> Float[Array, "*B N"]:
    r"""Unit energy profiles :math:`e_i = -\tfrac14 x_i h_i` (= :math:`-\tfrac12 x_i (Wx)_i` for
    the Hopfield network).

    **Arguments:**

    * ``model`` — any binary model (:class:`damjax.AbstractBinaryMemory`, e.g.
      :class:`damjax.HopfieldNetwork` or :class:`damjax.BinaryDAM`): its declared ``field`` /
      ``scaled_field``.
    * ``states`` — (N,) or (B, N) states in {-1,+1}.
    * ``scaled`` — divide each state's profile by a positive scale (``model.scaled_field``):
      overflow-free for high-degree DAMs (no effect for the Hopfield network).

    **Returns:** profiles with the shape of ``states``.

    **Raises:** ``TypeError`` for other models, ``ValueError`` for states of the wrong width.
    """
    if not isinstance(model, AbstractBinaryMemory):
        raise TypeError(
            "`model` must be a binary memory (damjax.AbstractBinaryMemory, e.g. "
            f"damjax.HopfieldNetwork or damjax.BinaryDAM); got {type(model).__name__}"
        )
    states = jnp.asarray(states)
    model.check_state(states, "states")
    flat = states.reshape(-1, states.shape[-1])
    m = flat.shape[0]
    # pad to a power of two (few compilations across networks with different state counts)
    size = max(1, 1 << (m - 1).bit_length()) if m else 0
    if size > m:
        flat = jnp.concatenate([flat, jnp.ones((size - m, flat.shape[1]), flat.dtype)])
    return _profiles(model, flat, bool(scaled))[:m].reshape(states.shape)


def stability_ratio(profiles: Float[Array, "*B N"]) -> Float[Array, "*B"]:
    r"""Stability ratio :math:`\max_i e_i / \min_i e_i` of unit energy profiles (0 if
    :math:`\min_i e_i \ge 0`). Invariant to permuting units and to positive rescaling.
    """
    # concrete inputs are reduced on the host (no compilation for every new batch size)
    xp = np if is_concrete(profiles) else jnp
    e = xp.asarray(profiles)
    if e.ndim < 1 or e.shape[-1] < 1:
        raise ValueError(f"`profiles` must have shape (..., N), N >= 1; got {e.shape}")
    hi = xp.max(e, axis=-1)
    lo = xp.min(e, axis=-1)
    safe = xp.where(lo < 0, lo, -1.0)
    # a NaN unit energy gives NaN (max / min would drop it into the "0" branch)
    return jnp.asarray(
        xp.where(xp.isnan(hi) | xp.isnan(lo), xp.nan, xp.where(lo < 0, hi / safe, 0.0))
    )


def profile_features(
    profiles: Float[Array, "B N"], *, sort: bool = False, normalize: bool = False
) -> Float[Array, "B N"]:
    r"""Classifier features from unit energy profiles.

    * raw (default): the profile as is, neuron order kept.
    * ``sort=True``: unit energies in ascending order (most stable unit first) — independent of
      which neurons carry them, so comparable across networks.
    * ``normalize=True``: divided by the mean absolute unit energy :math:`\frac1N\sum_i|e_i|`, so
      profiles of networks with different loads (numbers of stored examples) share a scale.

    **Raises:** ``ValueError`` unless ``profiles`` is 2-D.
    """
    xp = np if is_concrete(profiles) else jnp
    e = xp.asarray(profiles)
    if e.ndim != 2:
        raise ValueError(f"`profiles` must have shape (B, N); got {e.shape}")
    if sort:
        e = xp.sort(e, axis=-1)
    if normalize:
        s = xp.mean(xp.abs(e), axis=-1, keepdims=True)
        e = e / xp.where(s > 0, s, 1.0)
    return jnp.asarray(e)
