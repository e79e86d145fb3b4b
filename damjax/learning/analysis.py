r"""Analysis and pictures of a trained :class:`~damjax.learning.DAMClassifier`.

How many classes each memory votes for, how many memories decide a classification, and the
memories drawn as image tiles (Krotov & Hopfield 2016, Figs. 3-4).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Float
from .._validation import check_positive_int
from ..models.classifier import DAMClassifier

__all__ = [
    "memory_grid",
    "plot_memories",
    "single_class_share",
    "contribution_spread",
]


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
        X = np.asarray(model_or_memories)
        if X.ndim != 2 or X.shape[0] < 1:
            raise ValueError(f"the memories must have shape (K, >= P), K >= 1; got {X.shape}")
        X = X[:, : (n_pixels or h * w)]
    if X.shape[1] != h * w:
        raise ValueError(f"`image_shape` {image_shape} does not match {X.shape[1]} pixels")
    K = X.shape[0]
    if ncols is not None:
        check_positive_int(ncols, "ncols")
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
