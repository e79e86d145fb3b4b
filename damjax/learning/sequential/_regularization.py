"""Regularisation strategies: a quadratic penalty anchoring important weights, with the
importance from the Fisher (:class:`EWC`), the path integral (:class:`SI`) or output
sensitivity (:class:`MAS`)."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from ..._custom_types import Array, Float
from ._strategies import AbstractStrategy
from ._tasks import _choose

__all__ = [
    "EWC",
    "SI",
    "MAS",
]


def _per_sample_grads(fn, memories, *args, chunk: int = 100):
    """``vmap(grad(fn))`` over the leading axis of ``args``, ``chunk`` samples at a time."""
    g1 = jax.grad(fn)
    n = args[0].shape[0]
    chunk = max(min(chunk, n), 1)
    pad = (-n) % chunk
    padded = [jnp.concatenate([a, jnp.repeat(a[:1], pad, axis=0)]) for a in args]
    shaped = [a.reshape((-1, chunk) + a.shape[1:]) for a in padded]
    g = jax.lax.map(lambda xs: jax.vmap(lambda *a: g1(memories, *a))(*xs), shaped)
    return g.reshape((-1,) + memories.shape)[:n]


class _Importance(NamedTuple):
    importance: Float[Array, "K D"]
    anchor: Float[Array, "K D"]


def _quadratic(strength, state: _Importance, memories, half: bool):
    q = jnp.sum(state.importance * (memories - state.anchor) ** 2)
    return strength * (0.5 * q if half else q)


class EWC(AbstractStrategy):
    r"""Elastic weight consolidation (Kirkpatrick et al. 2017), online form:
    :math:`\frac\lambda2\sum_i \Omega_i(\theta_i - \theta^*_i)^2`, :math:`\Omega` the sum over
    finished tasks of the empirical Fisher (mean squared per-sample gradient of the task loss over
    ``samples`` training images), :math:`\theta^*` the memories after the last task.

    Each task's importance is divided by its largest entry (EWC, SI and MAS alike): the loss
    :math:`(c-t)^{2m}` has no natural scale (its gradients span ~1e-10 .. 1e20 across n, m, T and
    the optimizer normalises steps per memory), so ``strength`` is relative."""

    strength: float = 100.0
    samples: int = eqx.field(static=True, default=300)

    def init(self, model, n_tasks):
        z = jnp.zeros_like(model.memories)
        return _Importance(z, model.memories)

    def penalty(self, memories, state):
        return _quadratic(self.strength, state, memories, half=True)

    def end_task(self, state, model, task, key, ctx):
        xs, ys = _choose(task, key, self.samples)
        fisher = _fisher(ctx, model.memories, xs, ys)
        return _Importance(state.importance + fisher, model.memories)


def _relative(imp):
    """Importance divided by its largest entry (max 1; all zero stays zero)."""
    return imp / jnp.maximum(jnp.max(imp), jnp.finfo(imp.dtype).tiny)


@eqx.filter_jit
def _fisher(ctx, memories, xs, ys):
    """Empirical Fisher mean_i g_i^2, relative to its largest entry. The per-sample gradients are
    divided by their largest entry first: with the loss (c - t)^(2m) they reach ~1e20, whose
    squares overflow float32."""
    g = _per_sample_grads(lambda mem, x, y: ctx.loss(mem, x[None], y[None]), memories, xs, ys)
    g = g / jnp.maximum(jnp.max(jnp.abs(g)), jnp.finfo(g.dtype).tiny)
    return _relative(jnp.mean(g**2, axis=0))


class _SIState(NamedTuple):
    importance: Float[Array, "K D"]
    anchor: Float[Array, "K D"]
    path: Float[Array, "K D"]
    start: Float[Array, "K D"]


class SI(AbstractStrategy):
    r"""Synaptic intelligence (Zenke et al. 2017): during a task
    :math:`\omega \mathrel{+}= -g\,\Delta\theta` per step (g the task-loss gradient); at its end
    :math:`\Omega \mathrel{+}= \omega / ((\Delta\theta_{task})^2 + \xi)`; penalty
    :math:`c\sum_i\Omega_i(\theta_i-\theta^*_i)^2`."""

    strength: float = 1.0
    xi: float = 0.1

    def init(self, model, n_tasks):
        z = jnp.zeros_like(model.memories)
        return _SIState(z, model.memories, z, model.memories)

    def penalty(self, memories, state):
        return _quadratic(
            self.strength, _Importance(state.importance, state.anchor), memories, half=False
        )

    def after_step(self, state, old, new, task_grad):
        return state._replace(path=state.path - task_grad * (new - old))

    def end_task(self, state, model, task, key, ctx):
        delta = model.memories - state.start
        imp = state.importance + _relative(jnp.maximum(state.path, 0.0) / (delta**2 + self.xi))
        z = jnp.zeros_like(model.memories)
        return _SIState(imp, model.memories, z, model.memories)


class MAS(AbstractStrategy):
    r"""Memory aware synapses (Aljundi et al. 2018): importance
    :math:`\Omega = \text{mean}_x |\partial \|c(x)\|^2 / \partial\theta|` (c the label outputs,
    no labels needed), summed over tasks; penalty :math:`\lambda\sum_i\Omega_i(\theta_i-\theta^*_i)^2`."""

    strength: float = 1.0
    samples: int = eqx.field(static=True, default=300)

    def init(self, model, n_tasks):
        return _Importance(jnp.zeros_like(model.memories), model.memories)

    def penalty(self, memories, state):
        return _quadratic(self.strength, state, memories, half=False)

    def end_task(self, state, model, task, key, ctx):
        xs, _ = _choose(task, key, self.samples)
        imp = _mas_importance(ctx, model.memories, xs)
        return _Importance(state.importance + imp, model.memories)


@eqx.filter_jit
def _mas_importance(ctx, memories, xs):
    g = _per_sample_grads(lambda mem, x: jnp.sum(ctx.outputs(mem, x[None]) ** 2), memories, xs)
    return _relative(jnp.mean(jnp.abs(g), axis=0))
