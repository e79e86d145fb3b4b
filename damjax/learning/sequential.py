r"""Sequential (continual) learning of the Krotov-Hopfield DAM classifier.

McAlister, Robins & Szymanski 2025, "Sequential Learning in the Dense Associative Memory": a DAM
classifier (:mod:`damjax.learning.classifier`) is trained on a sequence of tasks, one after the
other, with a strategy against catastrophic forgetting.

**Tasks.** :func:`permuted_tasks` (each task applies its own fixed pixel permutation to all images;
the first task is the identity; domain-incremental, 10 shared classes) and :func:`split_tasks`
(disjoint groups of classes, e.g. {0,1}, {2,3}, ...; class-incremental with one shared head).

**Strategies** are small equinox modules with optax-like pure pieces, combined with
:class:`Compose`:

* ``init(model, n_tasks) -> state``;
* ``penalty(memories, state) -> scalar`` added to the loss (EWC, SI, MAS);
* ``batch(state, key, x, y, w) -> (x, y, w)`` extends a minibatch (rehearsal, pseudo-rehearsal);
* ``project(grad, memories, state, key, ctx) -> grad`` changes the step direction (GEM, A-GEM);
* ``after_step(state, old, new, task_grad) -> state`` (SI's path integral);
* ``end_task(state, model, task, key, ctx) -> state`` (importances, buffers, anchors).

:class:`Naive` (fine-tuning), :class:`Rehearsal`, :class:`PseudoRehearsal`, :class:`EWC`,
:class:`SI`, :class:`MAS`, :class:`GEM`, :class:`AGEM`.

**Metrics** from the accuracy matrix ``R[t, s]`` (accuracy on task s after training task t):
:func:`average_accuracy` :math:`\frac1T\sum_s R_{T-1,s}`, :func:`forgetting`
:math:`\frac1{T-1}\sum_{s<T-1}\max_{t<T-1}R_{t,s} - R_{T-1,s}` (Chaudhry et al. 2018) and
:func:`backward_transfer` :math:`\frac1{T-1}\sum_{s<T-1}R_{T-1,s} - R_{s,s}` (Lopez-Paz & Ranzato
2017).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._custom_types import Array, Float, Int, PRNGKeyArray, Scalar
from .._validation import check_positive_int
from ..datasets import Dataset
from .classifier import (
    DAMClassifier,
    _check_data,
    accuracy,
    check_loss_power,
    classifier_loss,
    minibatch_indices,
)

__all__ = [
    "Task",
    "permuted_tasks",
    "split_tasks",
    "LossContext",
    "AbstractStrategy",
    "Naive",
    "Rehearsal",
    "PseudoRehearsal",
    "EWC",
    "SI",
    "MAS",
    "GEM",
    "AGEM",
    "Compose",
    "SequenceResult",
    "train_sequence",
    "average_accuracy",
    "forgetting",
    "backward_transfer",
]


# --- tasks ------------------------------------------------------------------------------------


class Task(eqx.Module):
    """One task: its name, training and test data, and the classes it contains."""

    name: str = eqx.field(static=True)
    train: Dataset
    test: Dataset
    classes: tuple[int, ...] = eqx.field(static=True)


def permuted_tasks(
    train: Dataset,
    test: Dataset,
    *,
    key: PRNGKeyArray,
    n_tasks: int = 5,
    identity_first: bool = True,
) -> list[Task]:
    """``n_tasks`` tasks, each a fixed random pixel permutation (drawn from ``key``) applied to
    every train and test image; task 0 keeps the original images when ``identity_first``."""
    n_tasks = check_positive_int(n_tasks, "n_tasks")
    P = train.n_pixels
    if test.n_pixels != P:
        raise ValueError(f"`test` has {test.n_pixels} pixels, `train` {P}")
    tasks = []
    for t, k in enumerate(jax.random.split(key, n_tasks)):
        perm = (
            np.arange(P)
            if (t == 0 and identity_first)
            else np.asarray(jax.random.permutation(k, P))
        )
        tasks.append(
            Task(
                name=f"perm{t}",
                train=Dataset(
                    train.images[:, perm], train.labels, train.n_classes, train.image_shape
                ),
                test=Dataset(test.images[:, perm], test.labels, test.n_classes, test.image_shape),
                classes=tuple(range(train.n_classes)),
            )
        )
    return tasks


def split_tasks(train: Dataset, test: Dataset, *, classes_per_task: int = 2) -> list[Task]:
    """Tasks of disjoint consecutive classes ({0,1}, {2,3}, ... for 2 per task); labels keep their
    original values (class-incremental: one shared C-way output)."""
    cpt = check_positive_int(classes_per_task, "classes_per_task")
    C = train.n_classes
    if C % cpt:
        raise ValueError(f"`classes_per_task` ({cpt}) must divide the number of classes ({C})")
    tasks = []
    for start in range(0, C, cpt):
        cls = tuple(range(start, start + cpt))
        sel_tr = np.isin(np.asarray(train.labels), cls)
        sel_te = np.isin(np.asarray(test.labels), cls)
        tasks.append(
            Task(
                name="classes" + "".join(map(str, cls)),
                train=train.take(sel_tr),
                test=test.take(sel_te),
                classes=cls,
            )
        )
    return tasks


# --- the context strategies use to compute gradients ------------------------------------------


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


# --- strategies -------------------------------------------------------------------------------


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


class _Buffer(NamedTuple):
    images: Float[Array, "M P"]
    labels: Int[Array, " M"]
    count: Int[Array, ""]


def _empty_buffer(capacity, P, dtype):
    return _Buffer(
        jnp.zeros((capacity, P), dtype), jnp.zeros((capacity,), jnp.int32), jnp.zeros((), jnp.int32)
    )


def _sample_buffer(buf: _Buffer, key, size):
    idx = jax.random.randint(key, (size,), 0, jnp.maximum(buf.count, 1))
    w = jnp.full((size,), 1.0, buf.images.dtype) * (buf.count > 0)
    return buf.images[idx], buf.labels[idx], w


def _choose(task: Task, key, size):
    n = len(task.train)
    idx = np.asarray(jax.random.choice(key, n, (min(size, n),), replace=False))
    return task.train.images[idx], task.train.labels[idx]


class Rehearsal(AbstractStrategy):
    """Keep ``per_task`` random training samples of every finished task; each minibatch is
    extended with ``batch_size`` samples drawn from this buffer (weight 1 each).

    State: a buffer (images, labels, count) of capacity ``n_tasks * per_task``; samples of task t
    occupy slots ``t*per_task ..``.
    """

    per_task: int = eqx.field(static=True, default=100)
    batch_size: int = eqx.field(static=True, default=50)

    def init(self, model, n_tasks):
        return _empty_buffer(n_tasks * self.per_task, model.n_pixels, model.memories.dtype)

    def batch(self, state, key, x, y, w):
        bx, by, bw = _sample_buffer(state, key, self.batch_size)
        return (jnp.concatenate([x, bx]), jnp.concatenate([y, by]), jnp.concatenate([w, bw]))

    def end_task(self, state, model, task, key, ctx):
        xs, ys = _choose(task, key, self.per_task)
        c = int(state.count)
        if c + len(xs) > state.images.shape[0]:
            raise ValueError("rehearsal buffer is full: more tasks than `n_tasks` given to init")
        return _Buffer(
            state.images.at[c : c + len(xs)].set(xs),
            state.labels.at[c : c + len(xs)].set(ys),
            jnp.asarray(c + len(xs), jnp.int32),
        )


class PseudoRehearsal(AbstractStrategy):
    """Rehearse samples generated by the network's own dynamics (Robins 1995, for DAMs).

    After each task, ``n_samples`` random +-1 states of all visible units are evolved with the
    DAM's update (:meth:`DAMClassifier.update`, ``steps`` synchronous steps via
    :func:`damjax.retrieve`); their pixel parts, labelled by the network's own prediction, replace
    the pseudo-sample buffer (the network encodes all tasks so far). Minibatches are extended with
    ``batch_size`` of them.
    """

    n_samples: int = eqx.field(static=True, default=500)
    batch_size: int = eqx.field(static=True, default=50)
    steps: int = eqx.field(static=True, default=5)

    def init(self, model, n_tasks):
        return _empty_buffer(self.n_samples, model.n_pixels, model.memories.dtype)

    def batch(self, state, key, x, y, w):
        bx, by, bw = _sample_buffer(state, key, self.batch_size)
        return (jnp.concatenate([x, bx]), jnp.concatenate([y, by]), jnp.concatenate([w, bw]))

    def generate(self, model: DAMClassifier, key) -> tuple[Array, Array]:
        """``(images, labels)``: pseudo-samples from the network's dynamics."""
        from ..dynamics import retrieve

        cues = jnp.where(jax.random.bernoulli(key, 0.5, (self.n_samples, model.dim)), 1.0, -1.0)
        cues = cues.astype(model.memories.dtype)
        states = retrieve(model, cues, max_steps=self.steps).states
        images = states[:, : model.n_pixels]
        return images, model.predict(images).astype(jnp.int32)

    def end_task(self, state, model, task, key, ctx):
        images, labels = self.generate(model, key)
        return _Buffer(images, labels, jnp.asarray(self.n_samples, jnp.int32))


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


# --- training over a task sequence --------------------------------------------------------------


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


# --- metrics ----------------------------------------------------------------------------------


def _check_matrix(R) -> np.ndarray:
    R = np.asarray(R, dtype=float)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] < 1:
        raise ValueError(f"accuracy matrix must be square (T, T) with T >= 1; got {R.shape}")
    return R


def average_accuracy(R) -> float:
    """Mean accuracy over all tasks after the last one, ``mean_s R[T-1, s]``."""
    R = _check_matrix(R)
    return float(np.mean(R[-1]))


def forgetting(R) -> float:
    """``mean_{s<T-1} (max_{t<T-1} R[t, s] - R[T-1, s])`` (0 for a single task)."""
    R = _check_matrix(R)
    T = R.shape[0]
    if T == 1:
        return 0.0
    best = np.array([np.max(R[s : T - 1, s]) for s in range(T - 1)])
    return float(np.mean(best - R[-1, : T - 1]))


def backward_transfer(R) -> float:
    """``mean_{s<T-1} (R[T-1, s] - R[s, s])`` (negative when learning later tasks hurts)."""
    R = _check_matrix(R)
    T = R.shape[0]
    if T == 1:
        return 0.0
    return float(np.mean(R[-1, : T - 1] - np.diag(R)[: T - 1]))
