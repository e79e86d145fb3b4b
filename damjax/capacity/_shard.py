r"""One network across devices: the memory axis K sharded over a device mesh.

The field is a sum over patterns, so each device holds (or regenerates) a contiguous slice of
the patterns, computes the partial field of its slice block by block (:class:`BlockedDAM`), and
the partial sums are added with ``psum`` under ``shard_map``; the states (cues / probes) are
sharded over a second mesh axis (a 2-D mesh ``(batch, k)``), as the sweep engine shards seeds.
Overlaps never leave their device; per step, each device sends one (B_local, N) partial field.

Stored patterns are split in K (each device keeps K / D int8 rows); regenerated ones need only
the key on every device (device d regenerates rows d K/D ... by their global index).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .._custom_types import Array, Float, Int, PRNGKeyArray
from .._validation import check_positive_int
from ..components.interactions import AbstractInteraction
from ..models._base import sign_keep_ties
from ._blocked import (
    AbstractPatternSource,
    BlockedDAM,
    RandomPatterns,
    StoredPatterns,
    _random_rows,
)
from ._sampled import _all_rows_pass

__all__ = ["kshard_mesh", "kshard_no_error_capacity", "kshard_update"]


class _StoredSlice(AbstractPatternSource):
    data: Int[Array, "Kloc N"]
    num_patterns: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    block_size: int = eqx.field(static=True)

    def __init__(self, data, block_size):
        self.data = data
        self.num_patterns, self.dim = data.shape
        self.block_size = block_size

    def rows(self, index):
        return jnp.take(self.data, index, axis=0).astype(jnp.float32)

    def block(self, b):
        blk = jax.lax.dynamic_slice_in_dim(self.data, b * self.block_size, self.block_size)
        return blk.astype(jnp.float32)


class _RandomSlice(AbstractPatternSource):
    key: PRNGKeyArray
    offset: Int[Array, ""]
    num_patterns: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    block_size: int = eqx.field(static=True)

    def rows(self, index):
        return _random_rows(self.key, self.offset + index, self.dim)


def kshard_mesh(k_devices: int | None = None, batch_devices: int = 1) -> Mesh:
    """A ``(batch, k)`` mesh over the first ``batch_devices * k_devices`` devices (default: all
    devices on the K axis)."""
    devs = jax.devices()
    k_devices = len(devs) // batch_devices if k_devices is None else k_devices
    n = check_positive_int(k_devices, "k_devices") * check_positive_int(
        batch_devices, "batch_devices"
    )
    if n > len(devs):
        raise ValueError(
            f"`k_devices` x `batch_devices` = {n} exceeds the {len(devs)} available devices"
        )
    return Mesh(np.array(devs[:n]).reshape(batch_devices, k_devices), ("batch", "k"))


def _local_rows(source: AbstractPatternSource, D: int) -> int:
    per = -(-source.num_patterns // D)
    return -(-per // source.block_size) * source.block_size


def _shard_payload(source, D: int):
    """What each device receives: int8 rows split over K, or the key (replicated)."""
    kloc = _local_rows(source, D)
    if isinstance(source, StoredPatterns):
        data = jnp.zeros((D * kloc, source.dim), jnp.int8)
        data = data.at[: source.num_patterns].set(source.data[: source.num_patterns])
        return data, P("k", None)
    if isinstance(source, RandomPatterns):
        return jax.random.key_data(source.key), P()  # raw uint32: placeable on any mesh
    raise TypeError(
        f"K-sharding needs StoredPatterns or RandomPatterns; got {type(source).__name__}"
    )


def _sharded_update_fn(model: BlockedDAM, mesh: Mesh):
    """``f(payload, states, num_active) -> new states`` under ``shard_map`` (states sharded over
    ``batch``, patterns over ``k``; partial fields added with ``psum``)."""
    source, F = model.source, model.F
    D = mesh.shape["k"]
    kloc = _local_rows(source, D)
    blk, dim = source.block_size, source.dim
    static = F.static_log_scale(dim)
    level = 8.0 * math.sqrt(source.num_patterns) * float(jnp.finfo(jnp.float32).eps)
    payload, pspec = _shard_payload(source, D)
    impl = jax.random.key_impl(source.key) if isinstance(source, RandomPatterns) else None

    def body(payload, states, num_active):
        d = jax.lax.axis_index("k")
        if isinstance(source, StoredPatterns):
            local = _StoredSlice(payload, blk)
        else:
            local = _RandomSlice(
                key=jax.random.wrap_key_data(payload, impl=impl),
                offset=d * kloc,
                num_patterns=kloc,
                dim=dim,
                block_size=blk,
            )
        k_local = jnp.clip(num_active - d * kloc, 0, kloc)
        lm = BlockedDAM(local, F, num_active=k_local)
        if static is None:
            ls = jax.lax.pmax(lm._log_scale(states), "k")
        else:
            ls = jnp.full(states.shape[:1], static, states.dtype)
        h, _, mag = lm.batch_field(states, log_scale=ls)
        h, mag = jax.lax.psum((h, mag), "k")
        return sign_keep_ties(h, states, (level * mag)[:, None])

    f = jax.shard_map(
        body,
        mesh=mesh,
        in_specs=(pspec, P("batch", None), P()),
        out_specs=P("batch", None),
        check_vma=False,  # the loops carry device-varying partial sums; psum makes them equal
    )
    return f, _place(payload, mesh, pspec)


def _place(x, mesh: Mesh, spec):
    """``x`` (the same value on every process) as an array laid out as ``spec`` on ``mesh``;
    also for a mesh spanning several processes (``jax.distributed``)."""
    sharding = NamedSharding(mesh, spec)
    if sharding.is_fully_addressable:
        return jax.device_put(x, sharding)
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def kshard_update(
    model: BlockedDAM, states: Float[Array, "B N"], mesh: Mesh, *, steps: int = 1
) -> Float[Array, "B N"]:
    """``steps`` synchronous updates of B states (one compiled call) with the patterns sharded
    over the mesh axis ``k`` and the states over ``batch`` (B divisible by the ``batch`` axis
    size). Same states as ``steps`` calls of ``model.batch_update`` on one device. Under
    ``jax.distributed`` (a mesh over several processes) every process passes the same
    ``states`` and gets the global result (gather it with
    ``jax.experimental.multihost_utils.process_allgather``)."""
    check_positive_int(steps, "steps")
    f, payload = _sharded_update_fn(model, mesh)

    @jax.jit
    def run(payload, states, num_active):
        return jax.lax.fori_loop(0, steps, lambda _, s: f(payload, s, num_active), states)

    states = _place(jnp.asarray(states, jnp.float32), mesh, P("batch", None))
    return run(payload, states, _place(model.num_active, mesh, P()))


def kshard_no_error_capacity(
    F: AbstractInteraction,
    source: AbstractPatternSource,
    mesh: Mesh,
    *,
    k_min: int = 1,
    k_max: int | None = None,
    chunk: int = 256,
) -> int:
    """:func:`damjax.capacity.no_error_capacity` for one pool with K sharded over ``mesh``
    (bisection on the host; each candidate K checks all K patterns in chunks of ``chunk``
    cues, sharded over ``batch``, stopping at the first unstable chunk)."""
    k_max = source.num_patterns if k_max is None else check_positive_int(k_max, "k_max")
    check_positive_int(k_min, "k_min")
    if mesh.shape["batch"] > 1 and chunk % mesh.shape["batch"]:
        raise ValueError(f"`chunk` = {chunk} must be divisible by the batch axis size")
    f, payload = _sharded_update_fn(BlockedDAM(source, F), mesh)

    @jax.jit
    def all_stable(payload, K):
        return _all_rows_pass(source, K, chunk, lambda X: jnp.all(f(payload, X, K) == X, axis=-1))

    lo, hi = k_min - 1, k_max + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if bool(all_stable(payload, jnp.int32(mid))):
            lo = mid
        else:
            hi = mid
    return lo
