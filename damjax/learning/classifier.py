r"""The Dense Associative Memory classifier of Krotov & Hopfield 2016, trained with optax.

Model (Krotov & Hopfield 2016, "Dense Associative Memory for Pattern Recognition", Sec. 3).
Visible units are the P pixels ``x`` (in [-1, 1]) followed by one unit per class (C of them);
memories :math:`\xi^\mu \in [-1, 1]^{P+C}` (K of them). The label units start at -1 and get ONE
update:

.. math::

    c_\alpha = \tanh\Big(\beta \sum_\mu \big[F(\xi^\mu\cdot v^+_\alpha) - F(\xi^\mu\cdot v^-)\big]\Big),
    \qquad \beta = 1/T^n,

where :math:`v^-` is ``(x, -1, ..., -1)`` and :math:`v^+_\alpha` has label unit alpha switched to
+1, so :math:`\xi^\mu\cdot v^+_\alpha = \xi^\mu\cdot v^- + 2\xi^\mu_\alpha`. ``F`` is the
rectified polynomial :math:`F(x) = \max(x, 0)^n` (any homogeneous F works). The loss is
:math:`\sum_{A,\alpha} (c_\alpha(x_A) - t_{A\alpha})^{2m}` with targets ``t`` = +1 for the true
class, -1 otherwise. The predicted class is :math:`\arg\max_\alpha c_\alpha`.

Overflow-free evaluation. Since F is homogeneous of degree n,
:math:`\beta F(y) = F(y/T)`. For each sample the overlaps are divided by
:math:`s = \max_\mu |\xi^\mu \cdot v^-| + 2\max|\xi_{label}| \ge` every overlap (treated as a
constant, which is exact: the result does not depend on s), giving a sum ``d`` of O(K) terms of size <= 1, and the argument of
tanh is :math:`\mathrm{sign}(d)\exp(n\log(s/T) + \log|d|)`, capped at 40 in magnitude (where tanh
is 1 to far below float64 resolution). Nothing overflows for any n, T or image size; predictions use
``d`` directly (the per-sample factor does not change the argmax).

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

from .._custom_types import Array, Float, Int, PRNGKeyArray, Scalar
from .._validation import check_positive_int
from ..datasets import Dataset, check_labels
from ..interactions import AbstractHomogeneous, RectifiedPolynomial
from ..models._base import AbstractMemory, sign_keep_ties

__all__ = [
    "DAMClassifier",
    "init_classifier",
    "classifier_loss",
    "accuracy",
    "normalize_per_memory",
    "clip_weights",
    "krotov_hopfield_optimizer",
    "make_epoch",
    "train_classifier",
    "TrainHistory",
    "KrotovHopfieldRecipe",
    "memory_grid",
    "plot_memories",
    "single_class_share",
    "contribution_spread",
]

_LOGIT_CAP = 40.0  # |argument of tanh| above which tanh is 1 in float64 (1 - 1e-35)


def check_loss_power(m) -> int:
    """``m`` of the loss ``(c - t)^(2m)``: an integer >= 1."""
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)):
        raise TypeError(f"loss power `m` must be an integer >= 1; got {m!r}")
    if m < 1:
        raise ValueError(f"loss power `m` must be an integer >= 1; got {m}")
    return int(m)


class DAMClassifier(AbstractMemory):
    r"""A DAM over pixels + label units, used as a classifier (Krotov & Hopfield 2016).

    **Arguments:**

    * ``memories`` — (K, P + C) array: the first P columns are pixel weights, the last C columns
      the label weights.
    * ``n_classes`` — C.
    * ``interaction`` — a homogeneous F (default ``RectifiedPolynomial(3)``).

    It is also a memory model (:class:`damjax.AbstractMemory`) over states
    ``v in {-1, +1}^(P+C)`` with energy :math:`E(v) = -\sum_\mu F(\xi^\mu\cdot v)` and the
    Krotov-Hopfield update (each unit to the value of lower energy, all at once), so
    ``damjax.retrieve`` runs its dynamics (used by pseudo-rehearsal).

    **Raises:** ``ValueError`` if ``memories`` is not 2-D with more than ``n_classes`` columns.
    """

    memories: Float[Array, "K D"]
    n_classes: int = eqx.field(static=True)
    interaction: AbstractHomogeneous

    def __init__(self, memories, n_classes: int, interaction: AbstractHomogeneous | None = None):
        self.memories = jnp.asarray(memories)
        self.n_classes = check_positive_int(n_classes, "n_classes")
        interaction = RectifiedPolynomial(3) if interaction is None else interaction
        if not isinstance(interaction, AbstractHomogeneous):
            raise TypeError(
                "`interaction` must be a homogeneous F such as damjax.RectifiedPolynomial(n) "
                f"(beta = 1/T^n needs F(c x) = c^n F(x)); got {interaction!r}"
            )
        self.interaction = interaction

    def __check_init__(self):
        if self.memories.ndim != 2 or self.memories.shape[1] <= self.n_classes:
            raise ValueError(
                f"`memories` must have shape (K, P + C) with P >= 1 pixels and C = "
                f"{self.n_classes} label columns; got {self.memories.shape}"
            )
        if not jnp.issubdtype(self.memories.dtype, jnp.floating):
            raise TypeError(f"`memories` must be a float array; got {self.memories.dtype}")

    # --- sizes --------------------------------------------------------------------------------

    @property
    def n_memories(self) -> int:
        return self.memories.shape[0]

    @property
    def n_pixels(self) -> int:
        return self.memories.shape[1] - self.n_classes

    @property
    def degree(self) -> int:
        return self.interaction.n

    @property
    def dim(self) -> int:
        return self.memories.shape[1]

    # --- classifier ---------------------------------------------------------------------------

    def check_images(self, images, name: str = "images"):
        shape = jnp.shape(images)
        if len(shape) != 2 or shape[1] != self.n_pixels:
            raise ValueError(
                f"`{name}` must have shape (B, {self.n_pixels}) (B flattened images of "
                f"P = {self.n_pixels} pixels); got {shape}"
            )

    def scaled_votes(
        self, images: Float[Array, "B P"]
    ) -> tuple[Float[Array, "B C K"], Float[Array, " B"]]:
        r"""Per-memory votes divided by a per-sample positive scale.

        Returns ``(w, log_s)`` with
        :math:`w_{A\alpha\mu} = [F(\xi^\mu\cdot v^+_\alpha) - F(\xi^\mu\cdot v^-)] / s_A^n` and
        ``log_s = log s_A`` (``s_A`` = max |xi . v^-| + 2 max |xi_label| >= every |overlap| of
        sample A, a constant for gradients). ``|w| <= 1``: nothing overflows.
        """
        self.check_images(images)
        P = self.n_pixels
        xp, xl = self.memories[:, :P], self.memories[:, P:]
        base = images @ xp.T - jnp.sum(xl, axis=1)[None, :]  # (B, K): xi . v^-
        # s bounds every |overlap|: |xi . v^+| <= |xi . v^-| + 2 max|xi_label| (no (B, C, K) max)
        big = jnp.max(jnp.abs(base), axis=-1) + 2.0 * jnp.max(jnp.abs(xl))
        tiny = jnp.finfo(base.dtype).tiny
        s = jax.lax.stop_gradient(jnp.maximum(big, tiny))
        inv = 1.0 / s
        F = self.interaction
        scaled_base = base * inv[:, None]
        fb = F(scaled_base)
        fp = F(scaled_base[:, None, :] + (2.0 * xl.T)[None, :, :] * inv[:, None, None])
        return fp - fb[:, None, :], jnp.log(s)

    def scaled_logits(
        self, images: Float[Array, "B P"]
    ) -> tuple[Float[Array, "B C"], Float[Array, " B"]]:
        """``(d, log_s)``: ``beta * sum_mu [F(+) - F(-)] = d * exp(n (log_s - log T))``."""
        w, log_s = self.scaled_votes(images)
        return jnp.sum(w, axis=-1), log_s

    def logits(self, images: Float[Array, "B P"], temperature) -> Float[Array, "B C"]:
        r""":math:`\beta\sum_\mu[F(\xi^\mu\cdot v^+_\alpha) - F(\xi^\mu\cdot v^-)]`, ``beta = 1/T^n``,
        evaluated in the log domain and capped at +-40 (tanh is exactly +-1 beyond)."""
        d, log_s = self.scaled_logits(images)
        return _unscale(d, log_s, self.degree, temperature)

    def outputs(self, images: Float[Array, "B P"], temperature) -> Float[Array, "B C"]:
        r"""The label units after their one update, :math:`c_\alpha \in (-1, 1)`."""
        return jnp.tanh(self.logits(images, temperature))

    def predict(self, images: Float[Array, "B P"]) -> Int[Array, " B"]:
        """The class with the largest output (independent of the temperature)."""
        d, _ = self.scaled_logits(images)
        return jnp.argmax(d, axis=-1)

    # --- memory-model interface (pseudo-rehearsal dynamics) -------------------------------------

    def energy(self, state: Float[Array, " D"]) -> Scalar:
        r""":math:`E(v) = -\sum_\mu F(\xi^\mu\cdot v)` (may overflow for huge n; use for small n)."""
        return -jnp.sum(self.interaction(self.memories @ state))

    def update(self, state: Float[Array, " D"]) -> Float[Array, " D"]:
        r"""Every unit to the value of lower energy (Krotov & Hopfield 2016, Eq. 2), at once:
        :math:`v_i \leftarrow \mathrm{sign}\sum_\mu [F(m_\mu + \xi_{\mu i}(1 - v_i)) -
        F(m_\mu - \xi_{\mu i}(1 + v_i))]`, :math:`m = \Xi v`; rescaled, ties keep the value."""
        m = self.memories @ state  # (K,)
        up = m[:, None] + self.memories * (1.0 - state)[None, :]  # (K, D): v_i = +1
        down = m[:, None] - self.memories * (1.0 + state)[None, :]  # v_i = -1
        s = jnp.maximum(jnp.maximum(jnp.max(jnp.abs(up)), jnp.max(jnp.abs(down))), 1e-30)
        F = self.interaction
        h = jnp.sum(F(up / s) - F(down / s), axis=0)
        return sign_keep_ties(h, state)


def _unscale(d, log_s, n, temperature):
    """``d * (s/T)^n`` in the log domain, capped at +-_LOGIT_CAP (rows: samples)."""
    log_mag = n * (log_s - jnp.log(jnp.asarray(temperature, d.dtype)))[:, None]
    nz = d != 0
    safe = jnp.where(nz, jnp.abs(d), 1.0)
    z = jnp.minimum(log_mag + jnp.log(safe), _LOGIT_CAP)  # (B, C)
    return jnp.where(nz, jnp.sign(d) * jnp.exp(z), 0.0)


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
    K = check_positive_int(n_memories, "n_memories")
    P = check_positive_int(n_pixels, "n_pixels")
    C = check_positive_int(n_classes, "n_classes")
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

    **Raises:** ``ValueError`` for images of the wrong width, labels out of range (when concrete) or
    ``m < 1``.
    """
    m = check_loss_power(m)
    model.check_images(images)
    check_labels(labels, model.n_classes)
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
    model.check_images(images)
    check_labels(labels, model.n_classes)
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
        Te = jnp.asarray(T(e), model.memories.dtype)
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


# --- analysis and pictures --------------------------------------------------------------------


def single_class_share(model: DAMClassifier) -> float:
    r"""Share of memories that vote for exactly one class.

    Switching label alpha on changes memory mu's overlap by :math:`2\xi^\mu_\alpha`, so memory mu
    raises the vote of class alpha iff :math:`\xi^\mu_\alpha > 0`. Feature-like memories (small n)
    support several classes; prototypes (large n) exactly one (Krotov & Hopfield 2016, Fig. 3).
    """
    lab = np.asarray(model.memories[:, model.n_pixels :])
    return float(np.mean(np.sum(lab > 0, axis=1) == 1))


def contribution_spread(
    model: DAMClassifier, images: Float[Array, "B P"], *, batch_size=1024
) -> dict:
    r"""How many memories decide a classification.

    For each image and its predicted class alpha the contributions
    :math:`w_\mu = F(\xi^\mu\cdot v^+_\alpha) - F(\xi^\mu\cdot v^-)` (scale-free, so the rescaled
    values are exact) give

    * ``participation`` — mean of :math:`(\sum_\mu |w_\mu|)^2 / \sum_\mu w_\mu^2` (effective number
      of contributing memories, 1 .. K);
    * ``top_share`` — mean of :math:`\max_\mu |w_\mu| / \sum_\mu |w_\mu|`.
    """
    images = jnp.asarray(images)
    model.check_images(images)
    parts, tops = [], []
    for i in range(0, images.shape[0], batch_size):
        p, t = _spread_jit(model, images[i : i + batch_size])
        parts.append(np.asarray(p))
        tops.append(np.asarray(t))
    part, top = np.concatenate(parts), np.concatenate(tops)
    ok = np.isfinite(part)
    return {"participation": float(np.mean(part[ok])), "top_share": float(np.mean(top[ok]))}


@eqx.filter_jit
def _spread_jit(model, images):
    w, _ = model.scaled_votes(images)  # (B, C, K)
    pred = jnp.argmax(jnp.sum(w, -1), -1)
    wp = jnp.take_along_axis(w, pred[:, None, None], axis=1)[:, 0]  # (B, K)
    a = jnp.abs(wp)
    s1, s2 = jnp.sum(a, -1), jnp.sum(a * a, -1)
    return s1 * s1 / s2, jnp.max(a, -1) / s1


def memory_grid(
    model_or_memories,
    image_shape: tuple[int, int],
    *,
    ncols: int | None = None,
    n_pixels: int | None = None,
    pad: int = 1,
) -> np.ndarray:
    """Tile the pixel parts of the memories into one 2-D image (NaN between tiles).

    **Arguments:** a :class:`DAMClassifier` or a (K, >=P) array; ``image_shape`` (h, w); ``ncols``
    tiles per row (default ceil(sqrt(K))); ``n_pixels`` for raw arrays (default h*w); ``pad``.
    """
    h, w = image_shape
    if isinstance(model_or_memories, DAMClassifier):
        X = np.asarray(model_or_memories.memories[:, : model_or_memories.n_pixels])
    else:
        X = np.asarray(model_or_memories)[:, : (n_pixels or h * w)]
    if X.shape[1] != h * w:
        raise ValueError(f"`image_shape` {image_shape} does not match {X.shape[1]} pixels")
    K = X.shape[0]
    ncols = ncols or int(math.ceil(math.sqrt(K)))
    nrows = int(math.ceil(K / ncols))
    grid = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), np.nan)
    for k in range(K):
        r, c = divmod(k, ncols)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = X[k].reshape(
            h, w
        )
    return grid


def plot_memories(model, image_shape, *, ax=None, ncols=None, title=None, max_memories=None):
    """Draw :func:`memory_grid` with a symmetric blue-white-red map (the paper's style)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    mem = model.memories[: max_memories or model.n_memories]
    grid = memory_grid(np.asarray(mem), image_shape, ncols=ncols, n_pixels=model.n_pixels)
    vmax = np.nanmax(np.abs(grid)) or 1.0
    ax.imshow(grid, cmap="bwr", vmin=-vmax, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
