r"""Labels of stable states: learned, prototype or spurious (McAlister, Robins & Szymanski 2025).

* **learned** (``LEARNED = 0``): the state is one of the stored examples.
* **prototype** (``PROTOTYPE = 1``): not a stored example, and within Hamming distance
  :math:`\lfloor r N \rfloor` of one of the prototypes (``radius`` r, default 0.05, i.e. overlap
  :math:`\ge 1 - 2r = 0.9` with the prototype).
* **spurious** (``SPURIOUS = 2``): every other stable state.

Learned takes precedence over prototype. With ``match_negations=True`` (default) the negation of
an example / prototype matches as well: for sign-symmetric energies (Hebbian network, even-degree
DAMs) -x is an attractor exactly when x is, with the same basin and energy profile.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Float, Int
from .._validation import check_binary_patterns, check_fraction, check_positive_int

LEARNED = 0
PROTOTYPE = 1
SPURIOUS = 2
LABEL_NAMES = ("learned", "prototype", "spurious")


def _overlaps(states, patterns, match_negations):
    # host-side integer arithmetic: exact, and no recompilation for every new number of states
    m = np.asarray(states, np.int32) @ np.asarray(patterns, np.int32).T
    return np.abs(m) if match_negations else m


def nearest_distance(
    states: Float[Array, "M N"],
    patterns: Float[Array, "K N"],
    *,
    match_negations: bool = True,
) -> Int[Array, " M"]:
    """Hamming distance from every state to the nearest of ``patterns`` (or of their negations).

    ``d = (N - max_mu m_mu) / 2`` with overlaps ``m = patterns . s`` (``|m|`` with negations).
    """
    states = check_binary_patterns(states, "states")
    patterns = check_binary_patterns(patterns, "patterns")
    n = states.shape[1]
    if patterns.shape[1] != n:
        raise ValueError(
            f"`patterns` must have N = {n} columns like `states`; got shape {patterns.shape}"
        )
    m = np.max(_overlaps(states, patterns, match_negations), axis=1)
    return jnp.asarray((n - m) // 2, jnp.int32)


def prototype_radius(N: int, radius: float) -> int:
    """The Hamming-distance threshold ``floor(radius N)`` used by :func:`label_states`.

    **Raises:** ``ValueError`` unless ``N`` is an integer >= 1 and ``radius`` lies in [0, 1].
    """
    check_positive_int(N, "N")
    check_fraction(radius, "radius")
    return int(math.floor(radius * N + 1e-9))


def label_states(
    states: Float[Array, "M N"],
    examples: Float[Array, "K N"],
    prototypes: Float[Array, "P N"],
    *,
    radius: float = 0.05,
    match_negations: bool = True,
) -> Int[Array, " M"]:
    """Label stable states learned (0), prototype (1) or spurious (2).

    **Arguments:**

    * ``states`` — (M, N) states to label (usually :attr:`StableStates.states`).
    * ``examples`` — (K, N) the stored patterns (a state equal to one is *learned*).
    * ``prototypes`` — (P, N) the prototypes (never stored).
    * ``radius`` — a non-stored state within Hamming distance ``floor(radius N)`` of a prototype
      is a *prototype* state; ``radius`` in [0, 0.5).
    * ``match_negations`` — negated examples / prototypes match too.

    **Returns:** (M,) int32 labels; names in ``LABEL_NAMES``.

    **Raises:** ``ValueError`` for arrays that are not +-1 with equal N, or ``radius`` outside
    [0, 0.5).
    """
    r = float(radius)
    if math.isnan(r) or not 0.0 <= r < 0.5:
        raise ValueError(f"`radius` must lie in [0, 0.5) (a fraction of N); got {radius}")
    states = check_binary_patterns(states, "states") if np.shape(states)[0] else states
    n = np.shape(states)[1]
    if np.shape(states)[0] == 0:
        return jnp.zeros((0,), jnp.int32)
    examples = check_binary_patterns(examples, "examples")
    if examples.shape[1] != n:
        raise ValueError(
            f"`examples` must have N = {n} columns like `states`; got shape {examples.shape}"
        )
    learned = np.any(_overlaps(states, examples, match_negations) == n, axis=1)
    d = np.asarray(nearest_distance(states, prototypes, match_negations=match_negations))
    near = d <= prototype_radius(n, r)
    return jnp.asarray(np.where(learned, LEARNED, np.where(near, PROTOTYPE, SPURIOUS)), jnp.int32)
