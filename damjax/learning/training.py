r"""The Krotov & Hopfield 2016 training recipe for :class:`~damjax.learning.DAMClassifier`.

Training recipe (Appendix A of the paper and the authors' notebook), as optax pieces:
:func:`krotov_hopfield_optimizer` = ``optax.chain(optax.trace(momentum)`` (momentum on the raw
gradient), :func:`normalize_per_memory` (each memory's step divided by its largest component),
``optax.scale_by_schedule`` (learning rate ``eps0 * decay**epoch``), :func:`clip_weights`
(weights clipped to [-1, 1])``)``; the temperature follows a schedule of the epoch
(``optax.linear_schedule(T_in, T_f, ramp_epochs)``). :func:`train_classifier` runs jitted epochs
(``lax.scan`` over minibatches) with explicit keys; :class:`KrotovHopfieldRecipe` bundles the
hyperparameters.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._custom_types import Array, Float, Int, PRNGKeyArray, Scalar, is_concrete
from .._validation import check_finite_scalar, check_key, check_positive_int
from ..components.interactions import AbstractHomogeneous, RectifiedPolynomial
from ..datasets import Dataset, check_labels
from ..models.classifier import DAMClassifier, _unscale, check_loss_power

__all__ = [
    "init_classifier",
    "classifier_loss",
    "accuracy",
    "normalize_per_memory",
    "clip_weights",
    "krotov_hopfield_optimizer",
    "minibatch_indices",
    "make_epoch",
    "train_classifier",
    "TrainHistory",
    "KrotovHopfieldRecipe",
]


def init_classifier(
    key: PRNGKeyArray,
    *,
    n_memories: int,
    n_pixels: int,
    n_classes: int,
    n: int = 3,
    interaction: AbstractHomogeneous | None = None,
    mean: float = -0.3,
    std: float = 0.3,
    dtype=jnp.float32,
) -> DAMClassifier:
    r"""A classifier with memories drawn from :math:`\mathcal N(\text{mean}, \text{std}^2)` (the
    paper: mean -0.3, std 0.3), clipped to [-1, 1].

    **Arguments:** ``key``; ``n_memories`` K; ``n_pixels`` P; ``n_classes`` C; ``n`` the degree of
    the default ``RectifiedPolynomial(n)`` (ignored when ``interaction`` is given).
    """
    check_key(key)
    K = check_positive_int(n_memories, "n_memories")
    P = check_positive_int(n_pixels, "n_pixels")
    C = check_positive_int(n_classes, "n_classes")
    check_finite_scalar(mean, "mean")
    check_finite_scalar(std, "std", nonnegative=True)
    F = RectifiedPolynomial(n) if interaction is None else interaction
    xi = mean + std * jax.random.normal(key, (K, P + C), dtype)
    return DAMClassifier(jnp.clip(xi, -1.0, 1.0), C, F)


def _targets(labels, n_classes, dtype):
    return 2.0 * jax.nn.one_hot(labels, n_classes, dtype=dtype) - 1.0


def classifier_loss(
    model: DAMClassifier,
    images: Float[Array, "B P"],
    labels: Int[Array, " B"],
    *,
    temperature,
    m: int,
    weights: Float[Array, " B"] | None = None,
) -> Scalar:
    r"""Krotov-Hopfield loss :math:`\sum_A w_A \sum_\alpha (c_\alpha(x_A) - t_{A\alpha})^{2m}`.

    **Arguments:** ``model``; ``images`` (B, P) in [-1, 1]; ``labels`` (B,) integers in
    ``0 .. C-1``; ``temperature`` T > 0 (``beta = 1/T^n``); ``m`` integer >= 1; optional
    per-sample ``weights`` (default 1).

    **Raises:** ``ValueError`` for images of the wrong width, labels out of range or a temperature
    that is not a finite number > 0 (when concrete), or ``m < 1``.
    """
    m = check_loss_power(m)
    model.check_images(images)
    check_labels(labels, model.n_classes, count=jnp.shape(images)[0])
    check_finite_scalar(temperature, "temperature", positive=True)
    if weights is not None:
        if jnp.shape(weights) != (jnp.shape(images)[0],):
            raise ValueError(
                f"`weights` must have shape ({jnp.shape(images)[0]},), one per image; got "
                f"{jnp.shape(weights)}"
            )
        if is_concrete(weights) and not np.all(np.asarray(weights) >= 0):
            raise ValueError("`weights` must be finite and >= 0")
    return _loss_and_votes(model, images, labels, temperature, m, weights)[0]


def _loss_and_votes(model, images, labels, temperature, m, weights=None):
    """The loss and the scaled votes ``d`` (whose argmax is the prediction), one forward pass."""
    d, log_s = model.scaled_logits(images)
    c = jnp.tanh(_unscale(d, log_s, model.degree, temperature))
    t = _targets(labels, model.n_classes, c.dtype)
    per = jnp.sum((c - t) ** (2 * m), axis=-1)
    if weights is not None:
        per = per * weights
    return jnp.sum(per), d


def accuracy(model: DAMClassifier, data_or_images, labels=None, *, batch_size: int = 2048) -> float:
    """Share of correctly classified images (``accuracy(model, dataset)`` or
    ``accuracy(model, images, labels)``), evaluated in batches."""
    if isinstance(data_or_images, Dataset):
        images, labels = data_or_images.images, data_or_images.labels
    else:
        if labels is None:
            raise TypeError("`labels` are required when `accuracy` is given images, not a Dataset")
        images, labels = jnp.asarray(data_or_images), jnp.asarray(labels)
    batch_size = check_positive_int(batch_size, "batch_size")
    model.check_images(images)
    check_labels(labels, model.n_classes, count=images.shape[0])
    correct = 0
    pred = _predict_jit
    for i in range(0, images.shape[0], batch_size):
        correct += int(
            jnp.sum(pred(model, images[i : i + batch_size]) == labels[i : i + batch_size])
        )
    return correct / max(int(images.shape[0]), 1)


@eqx.filter_jit
def _predict_jit(model, images):
    return model.predict(images)


def _check_data(model: DAMClassifier, data: Dataset, name: str):
    if not isinstance(data, Dataset):
        raise TypeError(f"`{name}` must be a damjax.datasets.Dataset; got {type(data).__name__}")
    if data.n_pixels != model.n_pixels:
        raise ValueError(
            f"`{name}` images have {data.n_pixels} pixels but the model expects {model.n_pixels}"
        )
    if data.n_classes != model.n_classes:
        raise ValueError(
            f"`{name}` has {data.n_classes} classes but the model has {model.n_classes}"
        )


# --- optax pieces of the recipe ---------------------------------------------------------------


def normalize_per_memory(eps: float = 1e-30) -> optax.GradientTransformation:
    r"""Divide each memory's (row's) update by its largest absolute component,
    :math:`u_\mu \leftarrow u_\mu / \max(\max_i |u_{\mu i}|, \epsilon)`, so after scaling by the
    learning rate the largest component of every memory moves by exactly the learning rate
    (Krotov & Hopfield 2016, Eq. 13). 1-D leaves are normalised as a whole."""

    def init(params):
        return optax.EmptyState()

    def update(updates, state, params=None):
        def norm(u):
            if u.ndim == 0:
                return u / jnp.maximum(jnp.abs(u), eps)
            axis = -1 if u.ndim >= 2 else None
            return u / jnp.maximum(jnp.max(jnp.abs(u), axis=axis, keepdims=True), eps)

        return jax.tree.map(norm, updates), state

    return optax.GradientTransformation(init, update)


def clip_weights(lower: float = -1.0, upper: float = 1.0) -> optax.GradientTransformation:
    r"""Make the step land inside ``[lower, upper]``: ``u <- clip(p + u, lower, upper) - p``.

    Placed last in a chain, ``optax.apply_updates`` then gives the clipped weights (up to one
    rounding, |error| <= 1 ulp). Needs ``params`` in ``update``.

    **Raises:** ``ValueError`` if ``lower >= upper``; ``ValueError`` at update time without params.
    """
    if not lower < upper:
        raise ValueError(f"`lower` must be < `upper`; got {lower}, {upper}")

    def init(params):
        return optax.EmptyState()

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("clip_weights needs `params` in update(updates, state, params)")
        new = jax.tree.map(lambda u, p: jnp.clip(p + u, lower, upper) - p, updates, params)
        return new, state

    return optax.GradientTransformation(init, update)


def krotov_hopfield_optimizer(
    learning_rate: float = 0.04,
    *,
    steps_per_epoch: int,
    decay: float = 0.998,
    momentum: float = 0.6,
    bounds: tuple[float, float] | None = (-1.0, 1.0),
) -> optax.GradientTransformation:
    r"""The paper's update as an optax chain.

    .. math::

        V \leftarrow p V + \nabla L,\quad
        \xi_\mu \leftarrow \mathrm{clip}\big(\xi_\mu - \epsilon_0 f^{\,e}\, V_\mu / \max_i|V_{\mu i}|,
        -1, 1\big),

    ``e`` the epoch (``step // steps_per_epoch``), ``p = momentum``, ``f = decay``.

    **Arguments:** ``learning_rate`` eps0 > 0; ``steps_per_epoch`` minibatches per epoch (for the
    per-epoch decay); ``decay`` f in (0, 1]; ``momentum`` p in [0, 1); ``bounds`` weight box or
    ``None`` for no clipping.
    """
    if not learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0; got {learning_rate}")
    spe = check_positive_int(steps_per_epoch, "steps_per_epoch")
    if not 0 < decay <= 1:
        raise ValueError(f"`decay` must lie in (0, 1]; got {decay}")
    if not 0 <= momentum < 1:
        raise ValueError(f"`momentum` must lie in [0, 1); got {momentum}")
    lr = optax.exponential_decay(learning_rate, spe, decay, staircase=True)
    parts = [
        optax.trace(decay=momentum),
        normalize_per_memory(),
        optax.scale_by_schedule(lambda step: -lr(step)),
    ]
    if bounds is not None:
        parts.append(clip_weights(*bounds))
    return optax.chain(*parts)


# --- training ---------------------------------------------------------------------------------


def minibatch_indices(key: PRNGKeyArray, n: int, batch_size: int) -> Int[Array, "S b"]:
    """A random permutation of ``range(n)`` cut into ``n // batch_size`` minibatches (the
    remainder is dropped, as in the paper's code)."""
    steps = n // batch_size
    return jax.random.permutation(key, n)[: steps * batch_size].reshape(steps, batch_size)


def make_epoch(optimizer: optax.GradientTransformation, *, m: int, batch_size: int):
    """A jitted function ``epoch(model, opt_state, images, labels, key, temperature)`` ->
    ``(model, opt_state, (loss, train_accuracy))``: one pass over shuffled minibatches with
    ``lax.scan``; the accuracy is measured on the fly (before each step, as the paper does)."""
    m = check_loss_power(m)
    batch_size = check_positive_int(batch_size, "batch_size")

    def loss_fn(memories, model, x, y, T):
        return _loss_and_votes(eqx.tree_at(lambda mm: mm.memories, model, memories), x, y, T, m)

    @eqx.filter_jit
    def epoch(model, opt_state, images, labels, key, temperature):
        idx = minibatch_indices(key, images.shape[0], batch_size)

        def step(carry, b):
            mem, st = carry
            x, y = images[b], labels[b]
            (loss, d), g = jax.value_and_grad(loss_fn, has_aux=True)(mem, model, x, y, temperature)
            updates, st = optimizer.update(g, st, mem)
            correct = jnp.sum(jnp.argmax(d, axis=-1) == y)
            return (optax.apply_updates(mem, updates), st), (loss, correct)

        (mem, opt_state), (losses, correct) = jax.lax.scan(step, (model.memories, opt_state), idx)
        n_seen = idx.shape[0] * idx.shape[1]
        model = eqx.tree_at(lambda mm: mm.memories, model, mem)
        return model, opt_state, (jnp.sum(losses) / n_seen, jnp.sum(correct) / n_seen)

    return epoch


class TrainHistory(NamedTuple):
    """Per-epoch records of :func:`train_classifier` (NumPy arrays of length ``epochs``)."""

    loss: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray | None
    temperature: np.ndarray


def _schedule(value) -> Callable[[int], float]:
    if callable(value):
        return value
    return lambda epoch: value


def train_classifier(
    model: DAMClassifier,
    train: Dataset,
    *,
    key: PRNGKeyArray,
    epochs: int,
    optimizer: optax.GradientTransformation,
    temperature: float | Callable[[int], Any],
    m: int,
    batch_size: int,
    test: Dataset | None = None,
) -> tuple[DAMClassifier, TrainHistory]:
    """Train ``model.memories`` for ``epochs`` jitted epochs (compiled once).

    **Arguments:** ``model``; ``train`` data; ``key`` (one split per epoch for the shuffling);
    ``optimizer`` any optax transformation over the (K, P+C) memories (e.g.
    :func:`krotov_hopfield_optimizer`); ``temperature`` T or a schedule ``epoch -> T``
    (e.g. ``optax.linear_schedule(T_in, T_f, ramp)``); ``m`` loss power; ``batch_size``;
    optional ``test`` data evaluated after every epoch.

    **Returns:** ``(model, history)``.

    **Raises:** ``ValueError`` for data that do not fit the model (image width, labels, classes),
    ``batch_size`` larger than the data, ``m < 1``.
    """
    epochs = check_positive_int(epochs, "epochs")
    _check_data(model, train, "train")
    if test is not None:
        _check_data(model, test, "test")
    if batch_size > len(train):
        raise ValueError(f"`batch_size` ({batch_size}) exceeds the {len(train)} training images")
    epoch_fn = make_epoch(optimizer, m=m, batch_size=batch_size)
    opt_state = optimizer.init(model.memories)
    T = _schedule(temperature)
    losses, tr, te, temps = [], [], [], []
    for e, k in enumerate(jax.random.split(key, epochs)):
        Te = T(e)
        name = f"temperature at epoch {e}" if callable(temperature) else "temperature"
        check_finite_scalar(Te, name, positive=True)  # T <= 0 or NaN trains to NaN memories
        Te = jnp.asarray(Te, model.memories.dtype)
        model, opt_state, (loss, acc) = epoch_fn(
            model, opt_state, train.images, train.labels, k, Te
        )
        losses.append(float(loss))
        tr.append(float(acc))
        temps.append(float(Te))
        if test is not None:
            te.append(accuracy(model, test))
    hist = TrainHistory(
        np.asarray(losses),
        np.asarray(tr),
        np.asarray(te) if test is not None else None,
        np.asarray(temps),
    )
    return model, hist


@dataclasses.dataclass(frozen=True)
class KrotovHopfieldRecipe:
    r"""The hyperparameters of the paper's training recipe, with defaults tuned for the 8x8 digits.

    Temperatures are in units of the overlap (``beta = 1/T^n``); they scale with the number of
    visible units (the paper uses T ~ 250-700 for the 794 units of MNIST; the digits have 74).

    **Fields:** ``n`` degree; ``n_memories`` K; ``m`` loss power; ``learning_rate`` eps0;
    ``lr_decay`` f per epoch; ``momentum`` p; ``temperature_start`` / ``temperature_end`` /
    ``ramp_epochs`` (linear ramp, then constant); ``batch_size``; ``epochs``; ``init_mean`` /
    ``init_std`` of the Gaussian initialisation.
    """

    n: int = 3
    n_memories: int = 100
    m: int = 4
    learning_rate: float = 0.04
    lr_decay: float = 0.998
    momentum: float = 0.6
    temperature_start: float = 30.0
    temperature_end: float = 10.0
    ramp_epochs: int = 100
    batch_size: int = 100
    epochs: int = 150
    init_mean: float = -0.3
    init_std: float = 0.3

    def __post_init__(self):
        check_positive_int(self.n, "n")
        check_loss_power(self.m)
        check_positive_int(self.n_memories, "n_memories")
        for name in ("temperature_start", "temperature_end"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"`{name}` must be a finite number > 0; got {v}")

    def temperature(self) -> Callable[[int], Any]:
        """``epoch -> T``: linear from ``temperature_start`` to ``temperature_end`` over
        ``ramp_epochs`` epochs, then constant."""
        return optax.linear_schedule(
            self.temperature_start, self.temperature_end, max(self.ramp_epochs, 1)
        )

    def optimizer(self, steps_per_epoch: int) -> optax.GradientTransformation:
        return krotov_hopfield_optimizer(
            self.learning_rate,
            steps_per_epoch=steps_per_epoch,
            decay=self.lr_decay,
            momentum=self.momentum,
        )

    def init(self, key: PRNGKeyArray, n_pixels: int, n_classes: int) -> DAMClassifier:
        return init_classifier(
            key,
            n_memories=self.n_memories,
            n_pixels=n_pixels,
            n_classes=n_classes,
            n=self.n,
            mean=self.init_mean,
            std=self.init_std,
        )

    def fit(
        self,
        train: Dataset,
        *,
        key: PRNGKeyArray,
        test: Dataset | None = None,
        epochs: int | None = None,
    ) -> tuple[DAMClassifier, TrainHistory]:
        """Initialise and train a classifier on ``train`` (optionally tracking ``test``)."""
        k_init, k_train = jax.random.split(key)
        model = self.init(k_init, train.n_pixels, train.n_classes)
        bs = min(self.batch_size, len(train))
        return train_classifier(
            model,
            train,
            key=k_train,
            epochs=epochs or self.epochs,
            optimizer=self.optimizer(len(train) // bs),
            temperature=self.temperature(),
            m=self.m,
            batch_size=bs,
            test=test,
        )
