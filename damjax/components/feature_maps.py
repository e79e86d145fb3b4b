r"""Feature maps :math:`\Phi: \mathbb{R}^d \to \mathbb{R}^{D_\Phi}` for kernelized Hopfield models.

The kernelized Hopfield model of Hu, Wu & Liu (2024) compares states through the kernel
:math:`\mathcal{K}(x, y) = \langle \Phi(x), \Phi(y)\rangle`. U-Hop+ learns :math:`\Phi` so that the
memories become well separated in feature space (:mod:`damjax.learning.uhop`). A feature map maps ONE
vector of width ``in_dim`` to ONE vector of width ``out_dim``; batch with ``jax.vmap``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Float, PRNGKeyArray
from .._validation import check_key, check_positive_int, check_real_matrix

__all__ = ["AbstractFeatureMap", "IdentityMap", "LinearMap", "MLPMap", "NormalizedMap"]


class AbstractFeatureMap(eqx.Module):
    """A feature map from R^in_dim to R^out_dim, acting on one unbatched vector."""

    @property
    @abc.abstractmethod
    def in_dim(self) -> int:
        """Width d of the inputs."""

    @property
    @abc.abstractmethod
    def out_dim(self) -> int:
        """Width D_Phi of the features."""

    @abc.abstractmethod
    def __call__(self, x: Float[Array, " d"]) -> Float[Array, " D"]:
        """Features of one vector."""


class IdentityMap(AbstractFeatureMap):
    r""":math:`\Phi(x) = x` (the kernelized model is then the plain modern Hopfield model).

    **Arguments:** ``dim`` — the width d.
    """

    dim: int = eqx.field(static=True)

    def __check_init__(self):
        check_positive_int(self.dim, "dim")

    @property
    def in_dim(self) -> int:
        return self.dim

    @property
    def out_dim(self) -> int:
        return self.dim

    def __call__(self, x):
        return x


class LinearMap(AbstractFeatureMap):
    r""":math:`\Phi(x) = W x` with :math:`W \in \mathbb{R}^{D_\Phi \times d}` (Hu et al. 2024, the
    feature map of U-Hop+).

    **Arguments:** ``weight`` — the (D_Phi, d) matrix W. Use :meth:`identity` or :meth:`random` for
    standard initialisations.

    **Raises:** ``ValueError`` if ``weight`` is not 2-D.
    """

    weight: Float[Array, "D d"]

    def __init__(self, weight):
        self.weight = check_real_matrix(weight, "weight", "(D_Phi, d)")

    @classmethod
    def identity(cls, dim: int) -> LinearMap:
        """W = I (d x d): starts training from the plain modern Hopfield model."""
        check_positive_int(dim, "dim")
        return cls(jnp.eye(dim))

    @classmethod
    def random(cls, key: PRNGKeyArray, in_dim: int, out_dim: int) -> LinearMap:
        r"""Gaussian W with entries :math:`\mathcal{N}(0, 1/d)` (norms are preserved on average)."""
        check_positive_int(in_dim, "in_dim")
        check_positive_int(out_dim, "out_dim")
        return cls(jax.random.normal(key, (out_dim, in_dim)) / jnp.sqrt(in_dim))

    @property
    def in_dim(self) -> int:
        return self.weight.shape[1]

    @property
    def out_dim(self) -> int:
        return self.weight.shape[0]

    def __call__(self, x):
        return self.weight @ x


class MLPMap(AbstractFeatureMap):
    r"""A small MLP :math:`\Phi(x) = W_L \sigma(\dots \sigma(W_1 x + b_1) \dots) + b_L`.

    **Arguments:**

    * ``in_dim``, ``out_dim`` — d and D_Phi.
    * ``width`` — hidden width; ``depth`` — number of hidden layers (>= 1).
    * ``activation`` — elementwise nonlinearity (default ``jax.nn.gelu``).
    * ``key`` — PRNG key for the initial weights.
    """

    mlp: eqx.nn.MLP

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        width: int = 64,
        depth: int = 1,
        activation: Callable = jax.nn.gelu,
        key: PRNGKeyArray,
    ):
        check_positive_int(in_dim, "in_dim")
        check_positive_int(out_dim, "out_dim")
        check_positive_int(width, "width")
        check_positive_int(depth, "depth")
        check_key(key)
        self.mlp = eqx.nn.MLP(in_dim, out_dim, width, depth, activation=activation, key=key)

    @property
    def in_dim(self) -> int:
        return self.mlp.in_size

    @property
    def out_dim(self) -> int:
        return self.mlp.out_size

    def __call__(self, x):
        return self.mlp(x)


class NormalizedMap(AbstractFeatureMap):
    r""":math:`\hat\Phi(x) = \Phi(x) / \lVert\Phi(x)\rVert`: features on the unit sphere, so that the
    kernel is the cosine :math:`\langle\hat\Phi(x), \hat\Phi(y)\rangle` in feature space — the
    geometry in which the U-Hop+ separation loss and :math:`\Delta_{\min}` are measured.

    **Arguments:** ``feature_map`` — the map to normalise; ``eps`` — guard against zero features.
    """

    feature_map: AbstractFeatureMap
    eps: float = eqx.field(default=1e-12, static=True)

    def __check_init__(self):
        if not isinstance(self.feature_map, AbstractFeatureMap):
            raise TypeError(
                f"`feature_map` must be a damjax feature map; got {type(self.feature_map).__name__}"
            )

    @property
    def in_dim(self) -> int:
        return self.feature_map.in_dim

    @property
    def out_dim(self) -> int:
        return self.feature_map.out_dim

    def __call__(self, x):
        f = self.feature_map(x)
        return f / jnp.sqrt(jnp.sum(f**2) + self.eps**2)


def check_feature_map(feature_map, d: int, dtype=jnp.float32) -> int:
    """Check that ``feature_map`` maps a (d,) vector to a 1-D vector; returns D_Phi.

    **Raises:** ``TypeError`` if it is not callable; ``ValueError`` if its input width is not d or
    its output is not a 1-D array.
    """
    if not callable(feature_map):
        raise TypeError(
            f"`feature_map` must be callable (e.g. damjax.LinearMap); got {feature_map!r}"
        )
    if isinstance(feature_map, AbstractFeatureMap) and feature_map.in_dim != d:
        raise ValueError(
            f"`feature_map` expects inputs of width {feature_map.in_dim}, but the patterns have "
            f"width d = {d}"
        )
    out = jax.eval_shape(feature_map, jax.ShapeDtypeStruct((d,), dtype))
    shape = getattr(out, "shape", None)
    if shape is None or len(shape) != 1:
        raise ValueError(
            "`feature_map` must map one (d,) vector to a 1-D feature vector of shape (D_Phi,); "
            f"got output shape {shape} (rank {None if shape is None else len(shape)})"
        )
    if shape[0] < 1:
        raise ValueError("`feature_map` must produce at least one feature (D_Phi >= 1)")
    return int(shape[0])
