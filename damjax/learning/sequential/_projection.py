"""Gradient-projection strategies: :class:`GEM` and :class:`AGEM` keep an episodic memory of
finished tasks and change the step so that it does not increase their loss."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from ..._custom_types import Array, Float, Int
from ._rehearsal import Rehearsal, _empty_buffer, _sample_buffer
from ._strategies import AbstractStrategy
from ._tasks import _choose

__all__ = [
    "GEM",
    "AGEM",
]


class _EpisodicMemory(NamedTuple):
    images: Float[Array, "T M P"]
    labels: Int[Array, "T M"]
    filled: Float[Array, " T"]  # 1.0 for finished tasks
    count: Int[Array, ""]


def _direction(v, axis=-1):
    """``(v / |v|, |v|)`` along ``axis`` without overflow (the loss (c - t)^(2m) gives gradients
    up to ~1e20, whose squares overflow float32)."""
    big = jnp.max(jnp.abs(v), axis=axis, keepdims=True)
    u = v / jnp.maximum(big, jnp.finfo(v.dtype).tiny)
    nu = jnp.linalg.norm(u, axis=axis, keepdims=True)
    return u / jnp.maximum(nu, jnp.finfo(v.dtype).tiny), big * nu


def _project_dual(g, G, valid, margin, iters):
    r"""GEM's QP: :math:`\min_z \frac12\|z-g\|^2` s.t. :math:`\hat G_k\cdot z \ge -\text{margin}`
    for valid rows k. The constraint set does not change when a row is scaled, so rows and g are
    normalised first (overflow-free) and z scaled back. Dual:
    :math:`\min_{v\ge0} \frac12 v^T A v + (\hat G\hat g + \text{margin})^T v`, :math:`A = \hat G\hat G^T`,
    solved by projected gradient (a few constraints); :math:`z = |g|(\hat g + \hat G^T v)`."""
    Gh, _ = _direction(G)
    Gh = Gh * valid[:, None]
    gh, gnorm = _direction(g)
    A = Gh @ Gh.T
    b = Gh @ gh + margin * valid
    L = jnp.maximum(jnp.trace(A), 1e-12)  # >= the largest eigenvalue of the PSD matrix A
    v0 = jnp.zeros(G.shape[0], g.dtype)

    def body(_, v):
        return jnp.maximum(v - (A @ v + b) / L, 0.0) * valid

    v = jax.lax.fori_loop(0, iters, body, v0)
    return (gh + Gh.T @ v) * gnorm


class GEM(AbstractStrategy):
    r"""Gradient episodic memory (Lopez-Paz & Ranzato 2017): keep ``per_task`` samples of each
    finished task; if the step would increase the loss on any of them (:math:`g\cdot g_k < 0`),
    project g onto :math:`\{z: z\cdot g_k \ge 0\ \forall k\}` (quadratic program in the dual,
    ``iters`` projected-gradient steps). ``margin`` is GEM's memory strength."""

    per_task: int = eqx.field(static=True, default=100)
    margin: float = 0.0
    iters: int = eqx.field(static=True, default=200)

    def init(self, model, n_tasks):
        P = model.n_pixels
        dt = model.memories.dtype
        return _EpisodicMemory(
            jnp.zeros((n_tasks, self.per_task, P), dt),
            jnp.zeros((n_tasks, self.per_task), jnp.int32),
            jnp.zeros((n_tasks,), dt),
            jnp.zeros((), jnp.int32),
        )

    def project(self, grad, memories, state, key, ctx):
        gs = jax.vmap(lambda x, y: jax.grad(ctx.loss)(memories, x, y))(state.images, state.labels)
        G = gs.reshape(gs.shape[0], -1)
        g = grad.ravel()
        Gh, _ = _direction(G)
        gh, _ = _direction(g)
        violated = jnp.any((Gh @ gh < -self.margin) & (state.filled > 0))
        z = _project_dual(g, G, state.filled, self.margin, self.iters)
        return jnp.where(violated, z, g).reshape(grad.shape)

    def end_task(self, state, model, task, key, ctx):
        xs, ys = _choose(task, key, self.per_task)
        if len(xs) < self.per_task:
            raise ValueError(f"task {task.name} has fewer than per_task = {self.per_task} images")
        t = int(state.count)
        if t >= state.images.shape[0]:
            raise ValueError("GEM memory is full: more tasks than `n_tasks` given to init")
        return _EpisodicMemory(
            state.images.at[t].set(xs),
            state.labels.at[t].set(ys),
            state.filled.at[t].set(1.0),
            jnp.asarray(t + 1, jnp.int32),
        )


class AGEM(AbstractStrategy):
    r"""Averaged GEM (Chaudhry et al. 2019): :math:`g_{ref}` = gradient on ``ref_batch`` samples
    drawn from the episodic memory of all finished tasks (``per_task`` each); if
    :math:`g\cdot g_{ref} < 0`, :math:`g \leftarrow g - \frac{g\cdot g_{ref}}{g_{ref}\cdot g_{ref}}
    g_{ref}`."""

    per_task: int = eqx.field(static=True, default=100)
    ref_batch: int = eqx.field(static=True, default=100)

    def init(self, model, n_tasks):
        return _empty_buffer(n_tasks * self.per_task, model.n_pixels, model.memories.dtype)

    def project(self, grad, memories, state, key, ctx):
        x, y, w = _sample_buffer(state, key, self.ref_batch)
        gref = jax.grad(ctx.loss)(memories, x, y, w)
        r, _ = _direction(gref.ravel())
        gh, gnorm = _direction(grad.ravel())
        dot = jnp.vdot(gh, r)  # cosine: overflow-free
        proj = ((gh - dot * r) * gnorm).reshape(grad.shape)
        return jnp.where((dot < 0) & (state.count > 0), proj, grad)

    def end_task(self, state, model, task, key, ctx):
        return Rehearsal.end_task(Rehearsal(self.per_task), state, model, task, key, ctx)
