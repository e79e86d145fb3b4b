r"""Prototype-regime tasks (McAlister, Robins & Szymanski 2024, 2025).

P random prototypes :math:`\pi^k \in \{-1,+1\}^N`; each has E examples made by flipping every bit of
the prototype independently with probability p (Bernoulli noise). The network stores the
examples, never the prototypes; with enough examples at moderate noise the prototypes become
stable states although they were never presented ("prototype formation").

Examples are distinct by default (no example is stored twice): duplicated draws are redrawn.
Draws happen on the host with a NumPy generator seeded by the JAX key (same key, same task).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Float, Int, PRNGKeyArray, is_concrete
from .._validation import check_binary_patterns, check_positive_int

_MAX_ROUNDS = 200


class PrototypeTask(eqx.Module):
    """A prototype-regime task.

    **Fields:**

    * ``prototypes`` — (P, N) array of +-1 prototypes (never stored).
    * ``examples`` — (P E, N) array of +-1 examples, grouped by prototype: rows ``k E .. k E + E - 1``
      are the examples of prototype ``k``.
    * ``prototype_of`` — (P E,) int array: the prototype index of every example.
    * ``p`` — the Bernoulli flip rate used.
    """

    prototypes: Float[Array, "P N"]
    examples: Float[Array, "PE N"]
    prototype_of: Int[Array, " PE"]
    p: float = eqx.field(static=True)

    @property
    def num_prototypes(self) -> int:
        return self.prototypes.shape[0]

    @property
    def examples_per_prototype(self) -> int:
        return self.examples.shape[0] // self.prototypes.shape[0]


def _check_rate(p) -> float:
    if not is_concrete(p):
        raise TypeError("`p` must be a concrete number (examples are drawn on the host)")
    v = float(np.asarray(p))
    if math.isnan(v) or not 0.0 <= v <= 0.5:
        raise ValueError(
            f"`p` (the Bernoulli flip rate of the examples) must lie in [0, 0.5]; got {v}"
        )
    return v


def _rng(key) -> np.random.Generator:
    """A host generator determined by ``key``: examples are drawn on the host (rejection of
    duplicates is a host loop), with no compilation for every new task shape."""
    if jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key).ravel().tolist())


def _flip(rng, x, p):
    return np.where(rng.random(x.shape) < p, -x, x)


def prototype_examples(
    key: PRNGKeyArray,
    prototypes: Float[Array, "P N"],
    E: int,
    p: float,
    *,
    distinct: bool = True,
) -> PrototypeTask:
    r"""E examples of each prototype, every bit flipped independently with probability ``p``.

    :math:`x^{k,e}_i = -\pi^k_i` with probability p, else :math:`\pi^k_i` (McAlister et al. 2025).

    **Arguments:**

    * ``key`` — PRNG key.
    * ``prototypes`` — (P, N) array of +-1.
    * ``E`` — examples per prototype (>= 1).
    * ``p`` — flip rate in [0, 0.5] (0.5 makes the examples independent of the prototype).
    * ``distinct`` — if True (default) all P E examples are pairwise distinct: duplicated draws
      are redrawn from the same distribution (rejection sampling).

    **Returns:** a :class:`PrototypeTask`.

    **Raises:** ``ValueError`` if ``p`` is outside [0, 0.5], ``E < 1``, ``prototypes`` is not a
    2-D array of +-1, or (with ``distinct``) more distinct examples are asked for than exist:
    with ``p = 0`` a prototype has one possible example (and equal prototypes share it); with
    ``p > 0`` there are at most 2^N distinct states in all. Also raised when distinct examples
    could not be found after many redraws (p so small that duplicates keep recurring).
    """
    prototypes = check_binary_patterns(prototypes, "prototypes")
    E = check_positive_int(E, "E")
    p = _check_rate(p)
    P, N = prototypes.shape
    if distinct:
        if p == 0.0:
            n_unique = np.unique(np.asarray(prototypes), axis=0).shape[0]
            if E > 1 or n_unique < P:
                raise ValueError(
                    f"more distinct examples asked for than exist: with p = 0 every example equals "
                    f"its prototype, so only {n_unique} distinct examples exist; asked for "
                    f"E = {E} per prototype x P = {P}. Use p > 0, E = 1 or distinct=False."
                )
        elif N < 63 and P * E > 2**N:
            raise ValueError(
                f"more distinct examples asked for than exist: P E = {P * E} > 2^N = {2**N} "
                f"states of N = {N} neurons"
            )
    prototype_of = np.repeat(np.arange(P, dtype=np.int32), E)
    base = np.asarray(prototypes)[prototype_of]
    rng = _rng(key)
    host = _flip(rng, base, p)
    if distinct and p > 0.0:
        for _ in range(_MAX_ROUNDS):
            _, first = np.unique(host, axis=0, return_index=True)
            dup = np.ones(host.shape[0], bool)
            dup[first] = False
            if not dup.any():
                break
            idx = np.flatnonzero(dup)
            host[idx] = _flip(rng, base[idx], p)
        else:
            raise ValueError(
                f"could not draw {P * E} distinct examples (P = {P}, E = {E}, N = {N}, p = {p}) "
                f"after {_MAX_ROUNDS} rounds of redrawing duplicates: at this flip rate too few "
                f"distinct examples are likely; increase p or N, reduce E, or pass distinct=False"
            )
    examples = jnp.asarray(host, dtype=prototypes.dtype)
    prototype_of = jnp.asarray(prototype_of)
    return PrototypeTask(prototypes=prototypes, examples=examples, prototype_of=prototype_of, p=p)


def prototype_task(
    key: PRNGKeyArray,
    P: int,
    E: int,
    N: int,
    p: float,
    *,
    distinct: bool = True,
    dtype=jnp.float32,
) -> PrototypeTask:
    r"""A random prototype-regime task: P uniform random prototypes in {-1,+1}^N, E examples each.

    **Arguments:** ``key``; ``P`` prototypes (>= 1); ``E`` examples per prototype (>= 1); ``N``
    neurons (>= 1); ``p`` flip rate in [0, 0.5]; ``distinct`` — all examples pairwise distinct
    (default); ``dtype`` — float dtype of the patterns.

    **Returns:** a :class:`PrototypeTask` (store ``task.examples`` in a
    :class:`damjax.HopfieldNetwork` or :class:`damjax.BinaryDAM`).

    **Raises:** ``ValueError`` for ``p`` outside [0, 0.5], ``P``, ``E`` or ``N`` < 1, and more
    distinct examples asked for than exist (see :func:`prototype_examples`).
    """
    P = check_positive_int(P, "P")
    E = check_positive_int(E, "E")
    N = check_positive_int(N, "N")
    p = _check_rate(p)
    k_proto, k_ex = jax.random.split(key)
    bits = _rng(k_proto).random((P, N)) < 0.5
    prototypes = jnp.asarray(np.where(bits, 1.0, -1.0), dtype=dtype)
    return prototype_examples(k_ex, prototypes, E, p, distinct=distinct)
