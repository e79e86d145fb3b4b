"""One call from a stored prototype task to a labelled data set of stable states."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Float, Int, PRNGKeyArray
from ..dynamics import AbstractRule
from ..models import BinaryDAM, HopfieldNetwork
from ..patterns import PrototypeTask
from ._collect import collect_stable_states
from ._labels import label_states
from ._profiles import unit_energies


class StateDataset(eqx.Module):
    """Distinct stable states of one network, labelled, with their unit energy profiles.

    **Fields:** ``states`` (M, N); ``counts`` (M,) basin counts; ``labels`` (M,) learned (0) /
    prototype (1) / spurious (2); ``profiles`` (M, N) unit energies; ``num_starts``.
    """

    states: Float[Array, "M N"]
    counts: Int[Array, " M"]
    labels: Int[Array, " M"]
    profiles: Float[Array, "M N"]
    num_starts: int = eqx.field(static=True)


def state_dataset(
    model: HopfieldNetwork | BinaryDAM,
    task: PrototypeTask,
    *,
    key: PRNGKeyArray,
    num_starts: int | None = None,
    starts: Float[Array, "S N"] | None = None,
    radius: float = 0.05,
    rule: AbstractRule | None = None,
    max_steps: int = 200,
    batch_size: int = 4096,
    scaled: bool = False,
    merge_negations: bool = False,
) -> StateDataset:
    """Collect the stable states of ``model`` (which stores ``task.examples``) from
    ``num_starts`` random starts (or the given ``starts``), label them against ``task`` and
    compute their profiles.

    See :func:`collect_stable_states`, :func:`label_states` and :func:`unit_energies` for the
    arguments. By default states and their negations are kept apart (``merge_negations=True``
    keeps one of each pair: their profiles are equal for sign-symmetric energies); negated
    examples / prototypes match in the labels either way.
    """
    found = collect_stable_states(
        model,
        key=key,
        num_starts=num_starts,
        starts=starts,
        rule=rule,
        max_steps=max_steps,
        batch_size=batch_size,
        merge_negations=merge_negations,
    )
    n = model.dim
    if found.num_states == 0:
        empty = jnp.zeros((0, n), jnp.float32)
        return StateDataset(
            empty,
            jnp.zeros((0,), jnp.int32),
            jnp.zeros((0,), jnp.int32),
            empty,
            found.num_starts,
        )
    labels = label_states(found.states, task.examples, task.prototypes, radius=radius)
    profiles = unit_energies(model, found.states, scaled=scaled)
    return StateDataset(found.states, found.counts, labels, profiles, found.num_starts)


def balanced_indices(labels: Int[Array, " M"], *, key: PRNGKeyArray) -> Int[Array, " L"]:
    """Indices of a class-balanced random subset: every class present in ``labels`` is
    subsampled (without replacement) to the size of the smallest present class.

    **Returns:** sorted int indices into ``labels`` (empty if ``labels`` is empty).
    """
    y = np.asarray(labels)
    classes, counts = np.unique(y, return_counts=True)
    if classes.size == 0:
        return jnp.zeros((0,), jnp.int32)
    k = int(counts.min())
    # one scalar draw seeds a host generator (no recompilation for every new size)
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(y == c))[:k] for c in classes]
    return jnp.asarray(np.sort(np.concatenate(picks)), jnp.int32)
