r"""Binary-DAM fields at scale: +-1 patterns stored as int8 or regenerated from a key, and the
exact field computed block by block over the patterns.

The field of :class:`damjax.BinaryDAM` (Krotov & Hopfield 2016, the exact energy difference),

.. math:: h = \sum_\mu g_1(m_\mu)\,\xi^\mu + s \sum_\mu g_0(m_\mu), \qquad m = \Xi s,

is a sum over patterns, so it is accumulated over blocks of ``block_size`` patterns
(``lax.fori_loop`` with a trip count of ceil(K / block)): peak memory is
O(B x block + block x N) for B states whatever K is, and only the blocks holding one of the first
K patterns are visited (K may be a traced value: a capacity search never recompiles).

Pattern sources (:class:`AbstractPatternSource`):

* :class:`StoredPatterns` — int8 (1 byte per +-1 entry instead of 4); each block is converted to
  float32 inside the loop. Overlaps of +-1 values are integers below N and exact in float32 for
  N < 2^24, so the fields equal those of the same patterns stored as float32, bit for bit.
* :class:`RandomPatterns` — i.i.d. uniform +-1 patterns that are never stored: row mu is
  regenerated from ``fold_in(key, mu)`` (threefry, a counter-based PRNG: the same rows every time,
  in any block layout) by unpacking 32 random bits per word, inside the loop.

The terms g0, g1 are the interaction's own closed forms (``F.field_terms``, rescaled by a common
``exp(-L)``), so large degrees do not overflow; L is the interaction's constant scale for this N
when it has one (``F.static_log_scale``), else the largest per-block ``F.log_scale`` (a first
pass over the overlaps). Ties follow :class:`damjax.BinaryDAM`: a field at most
``8 sqrt(K_pool) eps sum_mu(|g1| + |g0|)`` keeps the current value, with K_pool the number of
patterns of the source, as for a BinaryDAM masked over the same pool.
"""

from __future__ import annotations

import abc
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Float, Int, PRNGKeyArray, Scalar, is_concrete
from .._numerics import HI as _HI
from .._validation import binary_state, check_binary_patterns, check_key, check_positive_int
from ..components.interactions import AbstractInteraction, unscale
from ..models._base import AbstractMemory, sign_keep_ties

__all__ = ["AbstractPatternSource", "BlockedDAM", "RandomPatterns", "StoredPatterns"]

DEFAULT_BLOCK = 1024


class AbstractPatternSource(eqx.Module):
    """K patterns of N +-1 entries, handed out as float32 blocks of ``block_size`` rows.

    Rows past ``num_patterns`` in the last block are zero (and always masked out).
    """

    num_patterns: eqx.AbstractVar[int]
    dim: eqx.AbstractVar[int]
    block_size: eqx.AbstractVar[int]

    @property
    def num_blocks(self) -> int:
        return -(-self.num_patterns // self.block_size)

    @abc.abstractmethod
    def rows(self, index: Int[Array, " P"]) -> Float[Array, "P N"]:
        """Patterns ``index`` (each in [0, num_patterns)) as float32 +-1 rows."""

    def block(self, b: Int[Array, ""]) -> Float[Array, "block N"]:
        """Block ``b``: patterns ``b * block_size ...`` as float32 (zero rows past the end)."""
        idx = b * self.block_size + jnp.arange(self.block_size)
        valid = idx < self.num_patterns
        return jnp.where(valid[:, None], self.rows(jnp.minimum(idx, self.num_patterns - 1)), 0.0)

    def materialize(self) -> Float[Array, "K N"]:
        """All patterns as one float32 (K, N) array (for tests and small sizes only)."""
        return self.rows(jnp.arange(self.num_patterns))

    @property
    def resident_bytes(self) -> int:
        """Bytes the source keeps in memory."""
        return sum(x.nbytes for x in jax.tree.leaves(self) if hasattr(x, "nbytes"))


class StoredPatterns(AbstractPatternSource):
    r"""Patterns stored as an int8 (K, N) array (1 byte per entry), padded to whole blocks.

    **Arguments:** ``patterns`` — (K, N) +-1 array (any dtype); ``block_size`` — patterns per
    block of the field loop (default 1024; memory O(B x block + block x N)).
    """

    data: Int[Array, "Kpad N"]
    num_patterns: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    block_size: int = eqx.field(static=True)

    def __init__(self, patterns, *, block_size: int = DEFAULT_BLOCK):
        if getattr(patterns, "dtype", None) == jnp.int8:
            x = jnp.asarray(patterns)
            if x.ndim != 2:
                raise ValueError(f"`patterns` must have shape (K, N); got {x.shape}")
            if is_concrete(x) and not bool(jnp.all(jnp.abs(x) == 1)):
                raise ValueError("`patterns` must contain only +1 and -1 values")
        else:
            x = check_binary_patterns(patterns).astype(jnp.int8)
        k, n = x.shape
        self.block_size = min(check_positive_int(block_size, "block_size"), k)
        nb = -(-k // self.block_size)
        self.data = jnp.zeros((nb * self.block_size, n), jnp.int8).at[:k].set(x)
        self.num_patterns, self.dim = int(k), int(n)

    def rows(self, index):
        return jnp.take(self.data, index, axis=0).astype(jnp.float32)

    def block(self, b):
        blk = jax.lax.dynamic_slice_in_dim(self.data, b * self.block_size, self.block_size)
        return blk.astype(jnp.float32)


def _random_rows(key, index, dim: int):
    """Row mu = the +-1 signs of ``bits(fold_in(key, mu))``: 32 entries per random word."""
    words = -(-dim // 32)

    def one(i):
        w = jax.random.bits(jax.random.fold_in(key, i), (words,), jnp.uint32)
        bits = (w[:, None] >> jnp.arange(32, dtype=jnp.uint32)[None, :]) & 1
        return bits.reshape(-1)[:dim]

    b = jax.vmap(one)(index)
    return jnp.where(b > 0, 1.0, -1.0).astype(jnp.float32)


class RandomPatterns(AbstractPatternSource):
    r"""``num_patterns`` i.i.d. uniform +-1 patterns of width ``dim``, never stored: row mu is
    regenerated from ``fold_in(key, mu)`` wherever it is needed (same rows every time, whatever
    ``block_size``). Resident memory: one key.

    **Arguments:** ``key``; ``num_patterns`` (the pool size K_max); ``dim`` (N);
    ``block_size`` — patterns per block (default 1024).
    """

    key: PRNGKeyArray
    num_patterns: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    block_size: int = eqx.field(static=True)

    def __init__(self, key, num_patterns: int, dim: int, *, block_size: int = DEFAULT_BLOCK):
        self.key = check_key(key)
        self.num_patterns = check_positive_int(num_patterns, "num_patterns")
        self.dim = check_positive_int(dim, "dim")
        self.block_size = min(check_positive_int(block_size, "block_size"), self.num_patterns)

    def rows(self, index):
        return _random_rows(self.key, index, self.dim)

    def stored(self) -> StoredPatterns:
        """The same patterns, stored as int8 (for tests and comparisons)."""
        return StoredPatterns(self.materialize().astype(jnp.int8), block_size=self.block_size)


def tie_level(num_patterns: int) -> float:
    """``8 sqrt(K_pool) eps`` (float32 eps): a field at most this times
    ``sum_mu(|g1| + |g0|)`` is a tie and keeps the current value (the rule of
    :class:`damjax.BinaryDAM` over a pool of ``num_patterns``)."""
    return 8.0 * math.sqrt(num_patterns) * float(jnp.finfo(jnp.float32).eps)


def as_source(patterns, *, block_size: int = DEFAULT_BLOCK) -> AbstractPatternSource:
    """A pattern source as is, or an array of +-1 patterns stored as :class:`StoredPatterns`."""
    if isinstance(patterns, AbstractPatternSource):
        return patterns
    return StoredPatterns(patterns, block_size=block_size)


class BlockedDAM(AbstractMemory):
    r"""A binary DAM (energy :math:`E = -\sum_{\mu<K} F(\xi^\mu\cdot s)`) over the first
    ``num_active`` patterns of a source, with every field computed block by block.

    Same update, ties and energies as :class:`damjax.BinaryDAM` with ``mask`` selecting the first
    K patterns of the same pool (identical states; fields equal up to float summation order).
    Runs with any rule that needs only ``update`` / ``energy`` (``Sync``, ``OneStep``); the
    asynchronous rule needs :class:`damjax.BinaryDAM`.

    **Arguments:** ``source`` — an :class:`AbstractPatternSource`, or a (K, N) +-1 array (stored
    as int8); ``F`` — interaction; ``num_active`` — K, how many leading patterns take part
    (default all; may be a traced integer).

    Cost of one field of B states: 4 B K N flops (two GEMMs), memory O(B x block + block x N).
    """

    source: AbstractPatternSource
    F: AbstractInteraction
    num_active: Int[Array, ""]

    def __init__(self, source, F: AbstractInteraction, *, num_active=None):
        if not isinstance(F, AbstractInteraction):
            raise TypeError(f"`F` must be an interaction function; got {F!r}")
        self.source = as_source(source)
        self.F = F
        k = self.source.num_patterns if num_active is None else num_active
        if is_concrete(k):
            host = np.asarray(k)
            if host.ndim or host.dtype == bool or not float(host) == int(np.floor(host)):
                raise TypeError(f"`num_active` must be one whole number (K); got {k!r}")
        if is_concrete(k) and not 1 <= int(k) <= self.source.num_patterns:
            raise ValueError(
                f"`num_active` must lie in [1, {self.source.num_patterns}] (the pool size); "
                f"got {int(k)}"
            )
        self.num_active = jnp.asarray(k, jnp.int32)

    @property
    def dim(self) -> int:
        return self.source.dim

    def check_state(self, state, name: str = "cues"):
        """Width, and (when concrete) values: every entry must be +1 or -1."""
        binary_state(state, self.dim, name)

    def prepare_state(self, state, name: str = "cues"):
        """``state`` checked (:meth:`check_state`) and as float +-1 (bool: True -> +1)."""
        return binary_state(state, self.dim, name)

    def _num_blocks(self):
        return (self.num_active + self.source.block_size - 1) // self.source.block_size

    def _block(self, b):
        X = self.source.block(b)
        rows = b * self.source.block_size + jnp.arange(self.source.block_size)
        return X, (rows < self.num_active).astype(X.dtype)[None, :]

    def _loop(self, body, init):
        return jax.lax.fori_loop(0, self._num_blocks(), body, init)

    def _field_init(self, states):
        """Zero running sums ``(h, sum_mu g0, sum_mu(|g1| + |g0|))`` for B states."""
        B, N = states.shape
        z = jnp.zeros((B,), states.dtype)
        return jnp.zeros((B, N), states.dtype), z, z

    def _field_step(self, states, ls, acc, b):
        """``acc`` (see :meth:`_field_init`) plus the terms of block ``b`` (masked to
        ``num_active``) at log-scales ``ls``: the one block step of every field loop."""
        h, g0s, mag = acc
        X, w = self._block(b)
        m = states @ X.T
        g0, g1, _ = jax.vmap(self.F.field_terms)(m, ls)
        g0, g1 = g0 * w, g1 * w
        h = h + jnp.matmul(g1, X, precision=_HI)
        return h, g0s + jnp.sum(g0, -1), mag + jnp.sum(jnp.abs(g1) + jnp.abs(g0), -1)

    def _log_scale(self, states):
        """(B,) log-scales: the interaction's constant one for N, or the max over blocks."""
        static = self.F.static_log_scale(self.dim)
        B = states.shape[0]
        if static is not None:
            return jnp.full((B,), static, states.dtype)

        def body(b, acc):
            X, _ = self._block(b)
            m = states @ X.T
            return jnp.maximum(acc, jax.vmap(self.F.log_scale)(m))

        return self._loop(body, jnp.full((B,), -jnp.inf, states.dtype))

    def batch_field(self, states: Float[Array, "B N"], log_scale=None):
        r"""``(h exp(-L), L, sum_mu(|g1| + |g0|) exp(-L))`` for B states, block by block
        (``L`` computed unless ``log_scale`` (B,) is given)."""
        states = jnp.asarray(states, jnp.float32)
        ls = self._log_scale(states) if log_scale is None else log_scale
        h, g0s, mag = self._loop(
            lambda b, acc: self._field_step(states, ls, acc, b), self._field_init(states)
        )
        return h + states * g0s[:, None], ls, mag

    def batch_update(self, states: Float[Array, "B N"]) -> Float[Array, "B N"]:
        """One synchronous update of B states (the rule of :meth:`damjax.BinaryDAM.update`)."""
        states = jnp.asarray(states, jnp.float32)
        h, _, mag = self.batch_field(states)
        tol = tie_level(self.source.num_patterns) * mag
        return sign_keep_ties(h, states, tol[:, None])

    def update(self, state: Float[Array, " N"]) -> Float[Array, " N"]:
        return self.batch_update(state[None])[0]

    def scaled_field(self, state: Float[Array, " N"]) -> tuple[Float[Array, " N"], Scalar]:
        """``(h exp(-L), L)`` for one state (overflow-free, as ``BinaryDAM.scaled_field``)."""
        h, ls, _ = self.batch_field(state[None])
        return h[0], ls[0]

    def field(self, state: Float[Array, " N"]) -> Float[Array, " N"]:
        """The exact field in true units (may overflow; see :meth:`scaled_field`)."""
        return unscale(*self.scaled_field(state))

    def batch_energy(self, states: Float[Array, "B N"]) -> Float[Array, " B"]:
        r""":math:`-\sum_{\mu<K} F(\xi^\mu\cdot s)` for B states (rescaled, then unscaled)."""
        states = jnp.asarray(states, jnp.float32)
        ls = self._log_scale(states)

        def body(b, acc):
            X, w = self._block(b)
            m = states @ X.T
            return acc - jnp.sum(w * jax.vmap(self.F.scaled)(m, ls), -1)

        e = self._loop(body, jnp.zeros(states.shape[:1], states.dtype))
        return unscale(e, ls)

    def energy(self, state: Float[Array, " N"]) -> Scalar:
        return self.batch_energy(state[None])[0]

    def max_overlap(self, states: Float[Array, "B N"]) -> Float[Array, " B"]:
        """``max_{mu<K} |xi^mu . s|`` per state (N when the state is a memory or its negation)."""
        states = jnp.asarray(states, jnp.float32)

        def body(b, acc):
            X, w = self._block(b)
            m = jnp.abs(states @ X.T) * w
            return jnp.maximum(acc, jnp.max(m, -1))

        return self._loop(body, jnp.zeros(states.shape[:1], states.dtype))

    def stability_curve(
        self,
        probes: Float[Array, "P N"],
        probe_index: Int[Array, " P"],
        *,
        log_scale=None,
        offset=None,
        first_row=0,
        k_total=None,
        tie_patterns: int | None = None,
    ):
        r"""For every block boundary :math:`K_b = \min((b+1)\,\mathrm{block}, K_{pool})`: how
        many probes are fixed points of the network of the first K_b patterns, counting only
        probes stored among them (``probe_index < K_b``). One pass over the blocks (the field is
        a sum over patterns, so every prefix K_b comes for free): 4 P K N flops for all K_b.

        The log-scale is the one of the whole ``num_active`` prefix (valid for every shorter
        prefix; the constant one for N when F has one, as in dynamics).

        For a slice of a larger pool (K-sharding): ``log_scale`` (P,) the pool's; ``offset`` =
        ``(field, magnitude)`` of the patterns before the slice (same scale); ``first_row`` the
        pool index of the slice's row 0; ``k_total`` the pool's K (default ``num_active``);
        ``tie_patterns`` the pool size of the tie rule (default this source's).

        **Returns:** (counts, stored) — two (num_blocks,) int arrays: fixed probes, and probes
        stored, at each K_b.
        """
        probes = jnp.asarray(probes, jnp.float32)
        ls = self._log_scale(probes) if log_scale is None else log_scale
        P, N = probes.shape
        level = tie_level(tie_patterns or self.source.num_patterns)
        k_total = self.num_active if k_total is None else k_total
        f0, m0 = (jnp.zeros((P, N), probes.dtype), jnp.zeros((P,), probes.dtype))
        if offset is not None:
            f0, m0 = offset

        def body(acc, b):
            h, g0s, mag = self._field_step(probes, ls, acc, b)
            field = h + probes * g0s[:, None] + f0
            new = sign_keep_ties(field, probes, (level * (mag + m0))[:, None])
            kb = jnp.minimum(first_row + (b + 1) * self.source.block_size, k_total)
            stored = probe_index < kb
            fixed = jnp.all(new == probes, axis=-1) & stored
            return (h, g0s, mag), (jnp.sum(fixed.astype(jnp.int32)), jnp.sum(stored))

        init = self._field_init(probes)
        _, (counts, stored) = jax.lax.scan(body, init, jnp.arange(self.source.num_blocks))
        return counts, stored.astype(jnp.int32)

    def is_fixed(self, states: Float[Array, "B N"]) -> Bool[Array, " B"]:
        """True where one synchronous update leaves the state unchanged."""
        return jnp.all(self.batch_update(states) == states, axis=-1)


def field_memory(model: BlockedDAM, batch: int) -> dict:
    """XLA memory analysis of one compiled batch update of ``batch`` states: bytes of
    temporaries, of arguments (the stored patterns) and their sum, from
    ``jax.jit(f).lower(...).compile().memory_analysis()`` (measured, not estimated)."""
    if not isinstance(model, BlockedDAM):
        raise TypeError(f"`model` must be a BlockedDAM instance; got {model!r}"[:200])
    batch = check_positive_int(batch, "batch")
    states = jax.ShapeDtypeStruct((batch, model.dim), jnp.float32)
    f = jax.jit(lambda m, s: m.batch_update(s))
    mem = f.lower(model, states).compile().memory_analysis()
    return {
        "temp_bytes": int(mem.temp_size_in_bytes),
        "argument_bytes": int(mem.argument_size_in_bytes),
        "output_bytes": int(mem.output_size_in_bytes),
    }


def _sources(patterns, key, seeds, k_max, dim, block_size):
    """A pattern source with a leading seed axis, and the number of seeds."""
    if patterns is None:
        if dim is None or k_max is None:
            raise ValueError("regenerated patterns (`patterns=None`) need `dim` and `k_max`")
        check_positive_int(seeds, "seeds")
        keys = jax.random.split(key, seeds)
        src = eqx.filter_vmap(lambda k: RandomPatterns(k, k_max, dim, block_size=block_size))(keys)
        return src, seeds
    width = patterns.dim if isinstance(patterns, AbstractPatternSource) else np.shape(patterns)[-1]
    if dim is not None and dim != width:
        raise ValueError(
            f"`dim` = {dim} does not match the patterns' width N = {width} (give one of them)"
        )
    if isinstance(patterns, AbstractPatternSource):
        return jax.tree.map(lambda x: x[None], patterns), 1
    arr = patterns if hasattr(patterns, "shape") else np.asarray(patterns)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(
            f"`patterns` must have shape (K, N) or (S, K, N) (seeds, pool, neurons); "
            f"got {arr.shape}"
        )
    srcs = [StoredPatterns(x, block_size=block_size) for x in arr]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *srcs), arr.shape[0]


def _compile_within(fn, args, memory_budget, what: str):
    """AOT-compile ``fn(*args)``; refuse (before running anything) when XLA's memory analysis
    says arguments + temporaries + outputs exceed ``memory_budget`` bytes."""
    compiled = jax.jit(fn).lower(*args).compile()
    if memory_budget is not None:
        budget = check_positive_int(memory_budget, "memory_budget")
        mem = compiled.memory_analysis()
        need = int(mem.argument_size_in_bytes + mem.temp_size_in_bytes + mem.output_size_in_bytes)
        if need > budget:
            raise ValueError(
                f"`memory_budget` = {budget} bytes is too small for {what}: it needs {need} "
                f"bytes (XLA memory analysis); raise the budget or lower `block_size` / the "
                f"probe or chunk count"
            )
    return compiled
