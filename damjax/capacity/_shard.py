r"""One network across devices: the memory axis K sharded over a device mesh.

The field is a sum over patterns, so each device holds (or regenerates) a contiguous slice of
the patterns, computes the partial field of its slice block by block (:class:`BlockedDAM`), and
the partial sums are added with ``psum`` under ``shard_map``; the states (cues / probes) are
sharded over a second mesh axis (a 2-D mesh ``(batch, k)``), as the sweep engine shards seeds.
Overlaps never leave their device; per step, each device sends one (B_local, N) partial field.

Stored patterns are split in K (each device keeps K / D int8 rows); regenerated ones need only
the key on every device (device d regenerates rows d K/D ... by their global index).

Estimators: :func:`kshard_no_error_capacity` and :func:`kshard_sampled_k_half` give the same
capacities as :func:`damjax.capacity.no_error_capacity` / :func:`damjax.capacity.sampled_k_half`
on one device (the latter through the same search code, ``_k_half_one``, with sharded dynamics
and a sharded stability curve plugged in).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .._custom_types import Array, Float, Int, PRNGKeyArray
from .._validation import check_fraction, check_key, check_positive_int
from ..components.interactions import AbstractInteraction
from ..dynamics import AbstractRule, OneStep, Sync
from ..models._base import sign_keep_ties
from ._blocked import (
    AbstractPatternSource,
    BlockedDAM,
    RandomPatterns,
    StoredPatterns,
    _random_rows,
    tie_level,
)
from ._no_error import _all_rows_pass
from ._sampled import KHalfEstimate, _check_bracket, _k_half_one, _Probe
from ._search import _bisect, _bounds, _check_resolution
from ._wilson import _resolve_probes

__all__ = ["kshard_mesh", "kshard_no_error_capacity", "kshard_sampled_k_half", "kshard_update"]


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
    check_positive_int(batch_devices, "batch_devices")
    k_devices = len(devs) // batch_devices if k_devices is None else k_devices
    n = check_positive_int(k_devices, "k_devices") * batch_devices
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


def _slices(model: BlockedDAM, mesh: Mesh):
    """``(local, log_scale, payload, pspec)``: inside ``shard_map``, ``local(payload, K)`` is
    ``(this device's BlockedDAM over its slice with its share of the first K patterns, device
    index)`` and ``log_scale(lm, states)`` the pool's (B,) log-scale (pmax over devices unless
    F has a constant one); ``payload`` / ``pspec``: what each device receives."""
    if not isinstance(model, BlockedDAM):
        raise TypeError(f"`model` must be a BlockedDAM; got {type(model).__name__}")
    if not isinstance(mesh, Mesh) or set(mesh.axis_names) != {"batch", "k"}:
        raise TypeError(
            f"`mesh` must be a device mesh with axes ('batch', 'k') from kshard_mesh(); got {mesh!r}"
        )
    source, F = model.source, model.F
    D = mesh.shape["k"]
    kloc = _local_rows(source, D)
    blk, dim = source.block_size, source.dim
    static = F.static_log_scale(dim)
    payload, pspec = _shard_payload(source, D)
    impl = jax.random.key_impl(source.key) if isinstance(source, RandomPatterns) else None

    def local(payload, num_active):
        d = jax.lax.axis_index("k")
        if isinstance(source, StoredPatterns):
            sl = _StoredSlice(payload, blk)
        else:
            sl = _RandomSlice(
                key=jax.random.wrap_key_data(payload, impl=impl),
                offset=d * kloc,
                num_patterns=kloc,
                dim=dim,
                block_size=blk,
            )
        k_local = jnp.clip(num_active - d * kloc, 0, kloc)
        return BlockedDAM(sl, F, num_active=k_local), d

    def log_scale(lm, states):
        if static is None:
            return jax.lax.pmax(lm._log_scale(states), "k")
        return jnp.full(states.shape[:1], static, states.dtype)

    return local, log_scale, payload, pspec


def _sharded_update_fn(model: BlockedDAM, mesh: Mesh):
    """``f(payload, states, num_active) -> new states`` under ``shard_map`` (states sharded over
    ``batch``, patterns over ``k``; partial fields added with ``psum``)."""
    source = model.source
    level = tie_level(source.num_patterns)
    local, log_scale, payload, pspec = _slices(model, mesh)

    def body(payload, states, num_active):
        lm, _ = local(payload, num_active)
        h, _, mag = lm.batch_field(states, log_scale=log_scale(lm, states))
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
    if jnp.ndim(states) != 2:
        raise ValueError(f"`states` must have shape (B, N); got {jnp.shape(states)}")
    f, payload = _sharded_update_fn(model, mesh)  # checks model and mesh
    model.check_state(states, "states")  # width; +-1 values when concrete

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
    """:func:`damjax.capacity.no_error_capacity` for one pool with K sharded over ``mesh``: the
    largest K in [``k_min``, ``k_max``] for which all K stored patterns are fixed points of one
    synchronous update of the network of the first K patterns (``k_min - 1`` if none). One
    compiled bisection; each candidate K checks all K patterns in chunks of ``chunk`` cues,
    sharded over ``batch``, stopping at the first unstable chunk."""
    k_min, k_max = _bounds(k_min, k_max, source.num_patterns)
    chunk = check_positive_int(chunk, "chunk")
    if mesh.shape["batch"] > 1 and chunk % mesh.shape["batch"]:
        raise ValueError(f"`chunk` = {chunk} must be divisible by the batch axis size")
    f, payload = _sharded_update_fn(BlockedDAM(source, F), mesh)

    def all_stable(payload, K):
        return _all_rows_pass(source, K, chunk, lambda X: jnp.all(f(payload, X, K) == X, axis=-1))

    # the same bisection as no_error_capacity, on the device: no host round-trip per candidate
    search = jax.jit(lambda payload, lo, hi: _bisect(lambda K: all_stable(payload, K), lo, hi)[0])
    return int(search(payload, jnp.int32(k_min), jnp.int32(k_max)))


def _sharded_probe_fns(model: BlockedDAM, mesh: Mesh):
    """``(max_overlap, curve, payload)`` under ``shard_map``: ``max_overlap(payload, states, K)``
    (pmax of each slice's), and ``curve(payload, probes, index, K)`` -- the
    :meth:`BlockedDAM.stability_curve` of the pool, each device scanning its own blocks from
    the summed field of the devices before it (one extra pass and one all-gather of
    (P, N) partial fields)."""
    source = model.source
    local, log_scale, payload, pspec = _slices(model, mesh)
    D = mesh.shape["k"]

    def top(payload, states, num_active):
        lm, _ = local(payload, num_active)
        return jax.lax.pmax(lm.max_overlap(states), "k")

    def curve(payload, probes, index, num_active):
        lm, d = local(payload, num_active)
        ls = log_scale(lm, probes)
        field, _, mag = lm.batch_field(probes, log_scale=ls)
        before = (jnp.arange(D) < d).astype(field.dtype)
        f0 = jnp.tensordot(before, jax.lax.all_gather(field, "k"), axes=1)
        m0 = before @ jax.lax.all_gather(mag, "k")
        kloc = lm.source.num_patterns
        return lm.stability_curve(
            probes,
            index,
            log_scale=ls,
            offset=(f0, m0),
            first_row=d * kloc,
            k_total=num_active,
            tie_patterns=source.num_patterns,
        )

    top = jax.shard_map(
        top,
        mesh=mesh,
        in_specs=(pspec, P("batch", None), P()),
        out_specs=P("batch"),
        check_vma=False,
    )
    curve = jax.shard_map(
        curve,
        mesh=mesh,
        in_specs=(pspec, P(), P(), P()),
        out_specs=(P("k"), P("k")),
        check_vma=False,
    )
    return top, curve, _place(payload, mesh, pspec)


def kshard_sampled_k_half(
    F: AbstractInteraction,
    source: AbstractPatternSource,
    mesh: Mesh,
    *,
    key: PRNGKeyArray,
    starts: str = "cues",
    rho: float = 0.0,
    rule: AbstractRule | None = None,
    max_steps: int = 50,
    num_probes: int | None = None,
    halfwidth: float = 0.05,
    confidence: float = 0.95,
    k_min: int = 1,
    k_max: int | None = None,
    method: str = "exact",
    k_resolution: float = 0.0,
) -> KHalfEstimate:
    """:func:`damjax.capacity.sampled_k_half` for one pool with K sharded over ``mesh``: the same
    probes (the same ``key``), the same search and the same :class:`KHalfEstimate` as
    ``sampled_k_half(F, key=key, patterns=source, ...)`` on one device.

    rho = 0 cues: the one-pass stability curve, each device scanning its slice's blocks from
    the summed field of the slices before it. Otherwise: the bisections of ``sampled_k_half``,
    each candidate K running ``Sync`` (or ``OneStep``) dynamics with the partial fields added
    by ``psum``, probes sharded over ``batch`` (``num_probes`` divisible by its size).

    **Raises:** as ``sampled_k_half``; ``ValueError`` naming ``rule`` for a rule other than
    ``Sync`` / ``OneStep``.
    """
    if starts not in ("cues", "random"):
        raise ValueError(f"`starts` must be 'cues' or 'random'; got {starts!r}")
    rule = Sync() if rule is None else rule
    if not isinstance(rule, (Sync, OneStep)) or rule.tol != 0.0:
        raise ValueError(f"`rule` must be Sync() or OneStep() for K-sharding; got {rule!r}")
    check_key(key)
    check_fraction(rho, "rho")
    check_positive_int(max_steps, "max_steps")
    num_probes = _resolve_probes(num_probes, halfwidth, confidence)
    rel = _check_resolution(k_resolution)
    curve_path = starts == "cues" and float(rho) == 0.0
    nb = mesh.shape["batch"]
    if not curve_path and num_probes % nb:
        raise ValueError(
            f"`num_probes` = {num_probes} must be divisible by the batch axis size {nb} "
            "(the probes of the dynamics are sharded over it)"
        )
    k_lo, k_hi = _bounds(k_min, k_max, source.num_patterns)
    model = BlockedDAM(source, F)
    update, payload = _sharded_update_fn(model, mesh)
    top, curve, _ = _sharded_probe_fns(model, mesh)
    steps = 1 if isinstance(rule, OneStep) else max_steps
    probe = _Probe(
        F=F,
        rule=rule,
        rho=float(rho),
        num_probes=num_probes,
        max_steps=max_steps,
        starts=starts,
        method=method,
    )

    @eqx.filter_jit
    def run(payload, source, key, lo, hi):
        def dynamics(source, K, cues, _key):
            def cond(c):
                t, _, done = c
                return (t < steps) & ~jnp.all(done)

            def body(c):
                t, s, done = c
                new = update(payload, s, K)
                return t + 1, new, done | jnp.all(new == s, axis=-1)

            init = (jnp.int32(0), cues, jnp.zeros(cues.shape[:1], bool))
            _, s, done = jax.lax.while_loop(cond, body, init)
            ok = jnp.ones_like(done) if isinstance(rule, OneStep) else done
            return s, ok, top(payload, s, K)

        def sharded_curve(probes, index, K):
            counts, stored = curve(payload, probes, index, K)
            return counts[: source.num_blocks], stored[: source.num_blocks]

        return _k_half_one(
            probe, source, key, lo, hi, confidence, rel=rel, dynamics=dynamics, curve=sharded_curve
        )

    seed_key = jax.random.split(jax.random.fold_in(key, 1), 1)[0]
    out = run(payload, source, seed_key, jnp.int32(k_lo), jnp.int32(k_hi))
    point, lower, upper, n, step = (jnp.asarray(x)[None] for x in out)
    _check_bracket(lower, upper, k_lo, k_hi)
    return KHalfEstimate(point, lower, upper, num_probes, float(confidence), n, int(step[0]))
