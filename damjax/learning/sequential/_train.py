"""Training a DAM classifier on a task sequence with a strategy (:func:`train_sequence`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..._custom_types import PRNGKeyArray
from ..._validation import check_positive_int
from ...models.classifier import DAMClassifier, check_loss_power
from ..training import _check_data, accuracy, minibatch_indices
from ._strategies import AbstractStrategy, LossContext
from ._tasks import Task

__all__ = [
    "SequenceResult",
    "train_sequence",
]


def _make_strategy_epoch(optimizer, strategy: AbstractStrategy, *, m: int, batch_size: int):
    @eqx.filter_jit
    def epoch(model, opt_state, sstate, images, labels, key, temperature):
        ctx = LossContext(model, temperature, m)
        k_perm, k_steps = jax.random.split(key)
        idx = minibatch_indices(k_perm, images.shape[0], batch_size)
        keys = jax.random.split(k_steps, idx.shape[0])

        def step(carry, inp):
            mem, st, ss = carry
            b, k = inp
            kb, kp = jax.random.split(k)
            x, y = images[b], labels[b]
            w = jnp.ones(x.shape[:1], mem.dtype)
            x, y, w = strategy.batch(ss, kb, x, y, w)
            loss, g_task = jax.value_and_grad(ctx.loss)(mem, x, y, w)
            g = g_task + jax.grad(strategy.penalty)(mem, ss)
            g = strategy.project(g, mem, ss, kp, ctx)
            updates, st = optimizer.update(g, st, mem)
            new = optax.apply_updates(mem, updates)
            ss = strategy.after_step(ss, mem, new, g_task)
            return (new, st, ss), loss

        (mem, opt_state, sstate), losses = jax.lax.scan(
            step, (model.memories, opt_state, sstate), (idx, keys)
        )
        return eqx.tree_at(lambda mm: mm.memories, model, mem), opt_state, sstate, jnp.mean(losses)

    return epoch


class SequenceResult(NamedTuple):
    """Result of :func:`train_sequence`: the final model, ``accuracy[t, s]`` (after task t, on
    task s), the final strategy state, and the mean training loss of every epoch (tasks x
    epochs)."""

    model: DAMClassifier
    accuracy: np.ndarray
    strategy_state: Any
    losses: np.ndarray


def train_sequence(
    model: DAMClassifier,
    tasks: list[Task],
    strategy: AbstractStrategy,
    *,
    key: PRNGKeyArray,
    epochs_per_task: int,
    optimizer: Callable[[int], optax.GradientTransformation],
    temperature: float | Callable[[int], Any],
    m: int,
    batch_size: int,
) -> SequenceResult:
    """Train ``model`` on ``tasks`` in order with ``strategy``; evaluate every task after each one.

    **Arguments:** ``optimizer`` maps steps-per-epoch to an optax transformation (e.g.
    ``lambda s: krotov_hopfield_optimizer(0.04, steps_per_epoch=s)``; a fresh state per task);
    ``temperature`` T or a schedule of the epoch within a task; ``m`` loss power; ``batch_size``
    task samples per minibatch (strategies may add more).

    **Returns:** a :class:`SequenceResult`.

    **Raises:** ``ValueError`` on an empty task list, data that do not fit the model, or ``m < 1``.
    """
    if not tasks:
        raise ValueError("`tasks` must hold at least one task")
    if not isinstance(strategy, AbstractStrategy):
        raise TypeError(f"`strategy` must be a sequential-learning strategy; got {strategy!r}")
    m = check_loss_power(m)
    epochs = check_positive_int(epochs_per_task, "epochs_per_task")
    for t in tasks:
        _check_data(model, t.train, f"tasks[{t.name}].train")
        _check_data(model, t.test, f"tasks[{t.name}].test")
    T = temperature if callable(temperature) else (lambda e: temperature)
    sstate = strategy.init(model, len(tasks))
    R = np.zeros((len(tasks), len(tasks)))
    losses = np.zeros((len(tasks), epochs))
    epoch_fns: dict = {}
    for t, (task, k_task) in enumerate(zip(tasks, jax.random.split(key, len(tasks)))):
        bs = min(batch_size, len(task.train))
        spe = len(task.train) // bs
        if spe not in epoch_fns:
            tx = optimizer(spe)
            epoch_fns[spe] = (tx, _make_strategy_epoch(tx, strategy, m=m, batch_size=bs))
        tx, epoch_fn = epoch_fns[spe]
        opt_state = tx.init(model.memories)
        k_epochs, k_end = jax.random.split(k_task)
        for e, k in enumerate(jax.random.split(k_epochs, epochs)):
            Te = jnp.asarray(T(e), model.memories.dtype)
            model, opt_state, sstate, loss = epoch_fn(
                model, opt_state, sstate, task.train.images, task.train.labels, k, Te
            )
            losses[t, e] = float(loss)
        ctx = LossContext(model, jnp.asarray(T(epochs - 1), model.memories.dtype), m)
        sstate = strategy.end_task(sstate, model, task, k_end, ctx)
        for s, other in enumerate(tasks):
            R[t, s] = accuracy(model, other.test)
    return SequenceResult(model, R, sstate, losses)
