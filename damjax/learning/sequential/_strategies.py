"""The sequential-learning strategy interface: :class:`LossContext` (what a strategy may
evaluate), :class:`AbstractStrategy`, the :class:`Naive` baseline and :class:`Compose`."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ..._custom_types import Array, Float, Scalar
from ...models.classifier import DAMClassifier
from ..training import classifier_loss
from ._tasks import Task

__all__ = [
    "LossContext",
    "AbstractStrategy",
    "Naive",
    "Compose",
]


class LossContext(eqx.Module):
    """What a strategy may evaluate: the task loss and the network outputs as functions of the
    memories (temperature and loss power bound), and the model skeleton."""

    model: DAMClassifier
    temperature: Any
    m: int = eqx.field(static=True)

    def with_memories(self, memories) -> DAMClassifier:
        return eqx.tree_at(lambda mm: mm.memories, self.model, memories)

    def loss(self, memories, x, y, w=None) -> Scalar:
        return classifier_loss(
            self.with_memories(memories), x, y, temperature=self.temperature, m=self.m, weights=w
        )

    def outputs(self, memories, x) -> Float[Array, "B C"]:
        return self.with_memories(memories).outputs(x, self.temperature)


class AbstractStrategy(eqx.Module):
    """A sequential-learning strategy; every piece defaults to 'do nothing'."""

    def init(self, model: DAMClassifier, n_tasks: int) -> Any:
        return ()

    def penalty(self, memories, state) -> Scalar:
        return jnp.zeros((), memories.dtype)

    def batch(self, state, key, x, y, w):
        return x, y, w

    def project(self, grad, memories, state, key, ctx: LossContext):
        return grad

    def after_step(self, state, old, new, task_grad):
        return state

    @abc.abstractmethod
    def end_task(self, state, model: DAMClassifier, task: Task, key, ctx: LossContext) -> Any:
        """Update the state after training on ``task`` (called outside jit)."""


class Naive(AbstractStrategy):
    """Plain fine-tuning on each task in turn (the baseline that forgets)."""

    def end_task(self, state, model, task, key, ctx):
        return state


class Compose(AbstractStrategy):
    """Several strategies at once (e.g. rehearsal + EWC): penalties add, batches and projections
    apply in order, states are a tuple."""

    strategies: tuple[AbstractStrategy, ...]

    def __init__(self, *strategies: AbstractStrategy):
        for s in strategies:
            if not isinstance(s, AbstractStrategy):
                raise TypeError(f"Compose takes strategies; got {s!r}")
        self.strategies = tuple(strategies)

    def init(self, model, n_tasks):
        return tuple(s.init(model, n_tasks) for s in self.strategies)

    def penalty(self, memories, state):
        total = jnp.zeros((), memories.dtype)
        for s, st in zip(self.strategies, state):
            total = total + s.penalty(memories, st)
        return total

    def batch(self, state, key, x, y, w):
        for s, st, k in zip(self.strategies, state, jax.random.split(key, len(self.strategies))):
            x, y, w = s.batch(st, k, x, y, w)
        return x, y, w

    def project(self, grad, memories, state, key, ctx):
        for s, st, k in zip(self.strategies, state, jax.random.split(key, len(self.strategies))):
            grad = s.project(grad, memories, st, k, ctx)
        return grad

    def after_step(self, state, old, new, task_grad):
        return tuple(s.after_step(st, old, new, task_grad) for s, st in zip(self.strategies, state))

    def end_task(self, state, model, task, key, ctx):
        keys = jax.random.split(key, len(self.strategies))
        return tuple(
            s.end_task(st, model, task, k, ctx) for s, st, k in zip(self.strategies, state, keys)
        )
