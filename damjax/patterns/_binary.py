"""Pattern generators and cue corruption (explicit PRNG keys everywhere).

Binary patterns are float arrays of +-1 (float32 by default). Corruption functions take a batch
(B, N) or a single pattern (N,) and return arrays of the same shape.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from .._custom_types import Array, Bool, Float, PRNGKeyArray
from .._validation import check_fraction, check_key, check_pm1_dtype, check_positive_int


def random_binary(
    key: PRNGKeyArray, K: int, N: int, *, p: float = 0.5, dtype=jnp.float32
) -> Float[Array, "K N"]:
    """K i.i.d. random patterns in {-1,+1}^N; each bit is +1 with probability ``p``."""
    check_key(key)
    check_positive_int(K, "K")
    check_positive_int(N, "N")
    check_fraction(p, "p")
    dtype = check_pm1_dtype(dtype)
    return jnp.where(jax.random.bernoulli(key, p, (K, N)), 1.0, -1.0).astype(dtype)


def _n_flips(rho, n):
    return jnp.round(jnp.asarray(rho) * n).astype(jnp.int32)


def flip_exact(
    key: PRNGKeyArray, patterns: Float[Array, "*B N"], rho: float
) -> Float[Array, "*B N"]:
    """Flip exactly ``round(rho N)`` bits of every pattern, at uniformly random positions.

    ``rho`` may be traced (vmapped over noise levels); shapes never depend on it.
    """
    check_fraction(rho, "rho")
    check_key(key)
    patterns = jnp.asarray(patterns)
    if patterns.ndim == 0:
        raise ValueError("`patterns` must have shape (N,) or (B, N); got a 0-d scalar")
    n = patterns.shape[-1]
    flat = patterns.reshape(-1, n)
    keys = jax.random.split(key, flat.shape[0])
    k = _n_flips(rho, n)

    def one(x, kk):
        ranks = jnp.argsort(jax.random.uniform(kk, (n,)))  # a random permutation's inverse
        return jnp.where(ranks < k, -x, x)

    return jax.vmap(one)(flat, keys).reshape(patterns.shape)


def flip_bernoulli(
    key: PRNGKeyArray, patterns: Float[Array, "*B N"], rho: float
) -> Float[Array, "*B N"]:
    """Flip every bit independently with probability ``rho``."""
    check_fraction(rho, "rho")
    check_key(key)
    patterns = jnp.asarray(patterns)
    if patterns.ndim == 0:
        raise ValueError("`patterns` must have shape (N,) or (B, N); got a 0-d scalar")
    flips = jax.random.bernoulli(key, rho, patterns.shape)
    return jnp.where(flips, -patterns, patterns)


def flip(
    key: PRNGKeyArray,
    patterns: Float[Array, "*B N"],
    rho: float,
    *,
    method: Literal["exact", "bernoulli"] = "exact",
) -> Float[Array, "*B N"]:
    """Corrupt cues by flipping a fraction ``rho`` of bits (``method="exact"`` or ``"bernoulli"``)."""
    if method == "exact":
        return flip_exact(key, patterns, rho)
    if method == "bernoulli":
        return flip_bernoulli(key, patterns, rho)
    raise ValueError(f"`method` must be 'exact' or 'bernoulli'; got {method!r}")


def mask(
    key: PRNGKeyArray,
    patterns: Float[Array, "*B N"],
    rho: float,
    *,
    fill: float | Literal["random"] = "random",
    contiguous: bool = False,
) -> tuple[Float[Array, "*B N"], Bool[Array, "*B N"]]:
    """Mask (occlude) ``round(rho N)`` entries of every pattern.

    **Arguments:** ``fill`` — value written into masked entries, or ``"random"`` for random +-1;
    ``contiguous`` — mask one contiguous block (random start, wrapping) instead of random positions.

    **Returns:** ``(cues, known)`` where ``known`` is True on the entries left intact (the clamp
    mask for models that keep the known part of a cue fixed).
    """
    check_fraction(rho, "rho")
    check_key(key)
    patterns = jnp.asarray(patterns)
    if patterns.ndim == 0:
        raise ValueError("`patterns` must have shape (N,) or (B, N); got a 0-d scalar")
    n = patterns.shape[-1]
    flat = patterns.reshape(-1, n)
    k_mask, k_fill = jax.random.split(key)
    keys = jax.random.split(k_mask, flat.shape[0])
    k = _n_flips(rho, n)

    def hidden(kk):
        if contiguous:
            start = jax.random.randint(kk, (), 0, n)
            return ((jnp.arange(n) - start) % n) < k
        return jnp.argsort(jax.random.uniform(kk, (n,))) < k

    hid = jax.vmap(hidden)(keys).reshape(patterns.shape)
    if isinstance(fill, str):
        if fill != "random":
            raise ValueError(f"`fill` must be a number or 'random'; got {fill!r}")
        values = jnp.where(jax.random.bernoulli(k_fill, 0.5, patterns.shape), 1.0, -1.0)
    else:
        values = jnp.full(patterns.shape, fill)
    cues = jnp.where(hid, values.astype(patterns.dtype), patterns)
    return cues, ~hid
