r"""Multiple-instance learning (MIL) with Hopfield pooling on bags of scikit-learn digits.

A bag is a set of images; it is positive when it holds at least one image of the ``target`` digit
(the MNIST-bags task of Ilse et al. 2018, "Attention-based Deep Multiple Instance Learning", used
by Ramsauer et al. 2020 and ml-jku/hopfield-layers' ``mnist_bags`` example). Bag sizes are drawn
from a normal distribution (mean ``mean_size``, standard deviation ``std_size``, rounded, at least
2) and instances uniformly from the image pool, as in Ilse et al.'s data loader.

Two classifiers share the instance encoder :math:`e = \mathrm{relu}(W_e x + b_e)` and a linear
head; they differ only in how they pool the bag :math:`\{e_s\}`:

* :class:`HopfieldMIL`: :class:`damjax.nn.HopfieldPooling` (a learned state pattern retrieves
  from the instances; its associations say which instances decided the label);
* :class:`MeanPoolMIL`: the mean of the instances (the baseline).

Bags are padded to one length; padding instances are excluded by a key padding mask.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._custom_types import Array, Bool, Float, Int, PRNGKeyArray
from ..datasets import Dataset
from ._wrappers import HopfieldPooling

__all__ = [
    "Bags",
    "HopfieldMIL",
    "MeanPoolMIL",
    "digit_bags",
    "mil_accuracy",
    "train_mil",
]


class Bags(eqx.Module):
    """A padded batch of bags.

    **Fields:** ``instances`` (B, S, P) images, ``padding`` (B, S) True at padding,
    ``digits`` (B, S) the instances' classes (-1 at padding), ``labels`` (B,) 1 for positive
    bags, ``target`` the target digit.
    """

    instances: Float[Array, "B S P"]
    padding: Bool[Array, "B S"]
    digits: Int[Array, "B S"]
    labels: Int[Array, " B"]
    target: int = eqx.field(static=True)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def digit_bags(
    data: Dataset,
    n_bags: int,
    *,
    key: PRNGKeyArray,
    target: int = 9,
    mean_size: float = 10.0,
    std_size: float = 2.0,
    max_size: int | None = None,
) -> Bags:
    """Draw ``n_bags`` bags of images from ``data`` (see the module docstring).

    **Raises:** ``ValueError`` for ``n_bags < 1``, a ``target`` that is not a class of ``data``,
    a non-positive ``mean_size`` or negative ``std_size``.
    """
    if isinstance(n_bags, bool) or not isinstance(n_bags, int) or n_bags < 1:
        raise ValueError(f"`n_bags` must be an integer >= 1; got {n_bags!r}")
    if not 0 <= int(target) < data.n_classes:
        raise ValueError(
            f"`target` must be a class of `data` (0..{data.n_classes - 1}); got {target}"
        )
    if not mean_size > 0 or not std_size >= 0:
        raise ValueError(f"need mean_size > 0 and std_size >= 0; got {mean_size}, {std_size}")
    max_size = int(round(mean_size + 3 * std_size)) if max_size is None else int(max_size)
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    sizes = np.clip(np.rint(rng.normal(mean_size, std_size, n_bags)), 2, max_size).astype(int)
    idx = rng.integers(0, len(data), size=(n_bags, max_size))
    padding = np.arange(max_size)[None, :] >= sizes[:, None]
    images = np.asarray(data.images)[idx]
    images[padding] = 0.0
    digits = np.where(padding, -1, np.asarray(data.labels)[idx])
    labels = np.any(digits == target, axis=1).astype(np.int32)
    return Bags(
        instances=jnp.asarray(images),
        padding=jnp.asarray(padding),
        digits=jnp.asarray(digits, jnp.int32),
        labels=jnp.asarray(labels),
        target=int(target),
    )


class HopfieldMIL(eqx.Module):
    """Instance encoder -> :class:`damjax.nn.HopfieldPooling` -> linear head (one logit).

    **Arguments:** ``n_pixels``, ``width`` (encoder width), ``num_heads``, ``key``; other keyword
    arguments go to :class:`damjax.nn.HopfieldPooling` (``scaling``, ``update_steps_max``,
    ``normalizer``, ``dropout_p``, ...).
    """

    encoder: eqx.nn.Linear
    pool: HopfieldPooling
    head: eqx.nn.Linear

    def __init__(self, n_pixels: int, *, width: int = 32, num_heads: int = 4, key, **kwargs):
        k1, k2, k3 = jax.random.split(key, 3)
        self.encoder = eqx.nn.Linear(n_pixels, width, key=k1)
        self.pool = HopfieldPooling(width, quantity=1, num_heads=num_heads, key=k2, **kwargs)
        self.head = eqx.nn.Linear(self.pool.hopfield.output_size, 1, key=k3)

    def _encode(self, x):
        return jax.nn.relu(jax.vmap(self.encoder)(x))

    def __call__(self, x: Float[Array, "S P"], padding: Bool[Array, " S"], *, key=None):
        pooled = self.pool(self._encode(x), key_padding_mask=padding, key=key)
        return self.head(pooled[0])[0]

    def attention(self, x: Float[Array, "S P"], padding: Bool[Array, " S"]) -> Float[Array, " S"]:
        """The state pattern's associations with the instances, averaged over heads, (S,)."""
        a = self.pool.associations(self._encode(x), key_padding_mask=padding)
        return jnp.mean(a[:, 0, :], axis=0)


class MeanPoolMIL(eqx.Module):
    """Instance encoder -> mean over the (non-padding) instances -> linear head (baseline)."""

    encoder: eqx.nn.Linear
    head: eqx.nn.Linear

    def __init__(self, n_pixels: int, *, width: int = 32, key):
        k1, k2 = jax.random.split(key)
        self.encoder = eqx.nn.Linear(n_pixels, width, key=k1)
        self.head = eqx.nn.Linear(width, 1, key=k2)

    def __call__(self, x: Float[Array, "S P"], padding: Bool[Array, " S"], *, key=None):
        e = jax.nn.relu(jax.vmap(self.encoder)(x))
        w = (~padding).astype(e.dtype)
        pooled = jnp.sum(e * w[:, None], axis=0) / jnp.maximum(jnp.sum(w), 1.0)
        return self.head(pooled)[0]


def _logits(model, bags, key):
    keys = jax.random.split(key, len(bags))
    return jax.vmap(lambda x, p, k: model(x, p, key=k))(bags.instances, bags.padding, keys)


def train_mil(
    model,
    bags: Bags,
    *,
    key: PRNGKeyArray,
    epochs: int = 50,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
):
    """Train ``model`` on ``bags`` with optax AdamW and the logistic (binary cross-entropy)
    loss, minibatches drawn from ``key`` every epoch. Returns ``(model, losses per epoch)``."""
    opt = optax.adamw(learning_rate, weight_decay=weight_decay)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    state = opt.init(params)

    def loss_fn(params, batch, k):
        m = eqx.combine(params, static)
        logits = _logits(m, batch, k)
        return jnp.mean(
            optax.sigmoid_binary_cross_entropy(logits, batch.labels.astype(logits.dtype))
        )

    @eqx.filter_jit
    def step(params, state, batch, k):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch, k)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    n = len(bags)
    losses = []
    for _ in range(int(epochs)):
        key, kp = jax.random.split(key)
        perm = np.asarray(jax.random.permutation(kp, n))
        total = 0.0
        for start in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            sel = perm[start : start + batch_size]
            batch = jax.tree.map(lambda a: a[sel], bags)
            key, ks = jax.random.split(key)
            params, state, loss = step(params, state, batch, ks)
            total += float(loss) * len(sel)
        losses.append(total / n)
    return eqx.combine(params, static), np.asarray(losses)


def mil_accuracy(model, bags: Bags) -> float:
    """Fraction of bags whose predicted label (logit > 0, inference mode) is right."""
    m = eqx.nn.inference_mode(model)
    logits = eqx.filter_jit(lambda m, b: _logits(m, b, jax.random.key(0)))(m, bags)
    return float(jnp.mean((logits > 0).astype(jnp.int32) == bags.labels))
