r"""Random feature maps for the Gaussian kernel of Dense Associative Memories (DrDAM).

Hoover et al. 2024, "Dense Associative Memory Through the Lens of Random Features" (NeurIPS),
approximate the kernel of the exact log-sum-exp energy (:class:`damjax.ExpDAM`),

.. math:: k_\beta(x, y) = \exp(-\tfrac{\beta}{2}\lVert x - y\rVert^2),

by an inner product of random features, :math:`k_\beta(x, y) \approx \langle\Phi(x),
\Phi(y)\rangle`. Every map here uses ``Y`` random projections :math:`w_y \sim N(0, I_D)` (the rows
of a matrix S, shape (Y, D)) applied to :math:`\sqrt{\beta}\,x` (the paper's convention: beta
sits inside the features), and gives ``m`` features per projection, so :math:`\Phi(x)` has shape
(Y, m):

* :class:`SinCos` (default, m = 2): :math:`\Phi(x) = Y^{-1/2}[\cos(\sqrt\beta S x),
  \sin(\sqrt\beta S x)]` (random Fourier features, Rahimi & Recht 2007);
* :class:`Cos` (m = 1): :math:`\Phi(x) = \sqrt{2/Y}\cos(\sqrt\beta S x + b)`,
  :math:`b_y \sim U[0, 2\pi)`;
* :class:`PositiveExp` (m = 1, Performer / FAVOR+, Choromanski et al. 2021):
  :math:`\Phi(x) = Y^{-1/2}\exp(\sqrt\beta S x - \beta\lVert x\rVert^2)`, always positive;
* :class:`Orthogonal` (wraps any of the above, Yu et al. 2016): the rows of S come in blocks of D
  mutually orthogonal rows with chi-distributed norms, so each row is still N(0, I) (all the
  estimates stay unbiased) but the estimate has lower variance.

All four are unbiased: :math:`E_S\langle\Phi(x),\Phi(y)\rangle = k_\beta(x, y)`.

S is never stored: it is regenerated from a key, one *block* of rows at a time (block ``b`` from
``jax.random.fold_in(key, b)``), so any chunk of rows can be produced on demand and the rows do not
depend on how the evaluation is chunked.
"""

from __future__ import annotations

import abc
import math

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Float, Int, PRNGKeyArray
from .._numerics import HI as _HI

__all__ = ["AbstractRandomFeatures", "SinCos", "Cos", "PositiveExp", "Orthogonal"]


class AbstractRandomFeatures(eqx.Module):
    r"""Strategy for the random features :math:`\Phi` of the kernel
    :math:`\exp(-\frac{\beta}{2}\lVert x-y\rVert^2)`.

    A feature map draws the rows of the projection matrix in blocks (:meth:`draw`) and maps
    states to features given those rows (:meth:`phi`). It holds no randomness itself: the key
    lives in the model (:class:`damjax.RandomFeatureDAM`).
    """

    @property
    @abc.abstractmethod
    def features_per_row(self) -> int:
        """``m``: number of features per random projection (2 for sin/cos, else 1)."""

    @property
    @abc.abstractmethod
    def positive(self) -> bool:
        """True when every feature is > 0 (the kernel estimate is then always positive)."""

    def block_rows(self, dim: int) -> int:
        """Number of rows of S drawn together by one :meth:`draw` call."""
        return _IID_BLOCK

    def draw(
        self, key: PRNGKeyArray, block: Int[Array, ""], dim: int
    ) -> tuple[Float[Array, "R D"], Float[Array, " R"]]:
        """Rows ``[block * R, (block + 1) * R)`` of S and their phases (zeros if unused).

        Default: i.i.d. standard Gaussian rows (orthogonal features override this)."""
        _check_dim(dim)
        return _gaussian_block(key, block, dim, _IID_BLOCK), self.phases(key, _IID_BLOCK)

    @abc.abstractmethod
    def phi(
        self,
        w: Float[Array, "R D"],
        b: Float[Array, " R"],
        x: Float[Array, "*B D"],
        beta,
        num_features: int,
    ) -> Float[Array, "*B R m"]:
        r"""Features of ``x`` for the given rows; normalised for ``num_features`` (Y) rows total."""

    def log_phi(self, w, b, x, beta, num_features):
        """``log phi`` computed without forming ``phi`` (only for positive feature maps)."""
        raise NotImplementedError(f"{type(self).__name__} has no log-domain features")

    def contract_and_grad(
        self,
        w: Float[Array, "R D"],
        b: Float[Array, " R"],
        x: Float[Array, " D"],
        beta,
        num_features: int,
        t: Float[Array, "R m"],
    ) -> tuple[Float[Array, ""], Float[Array, " D"]]:
        r"""``(<phi(x), t>, d<phi(x), t>/dx)`` for the given rows and a slice ``t`` of T, in one
        evaluation of the features (used by the one-pass energy gradient of
        :class:`damjax.RandomFeatureDAM`). Default: autodiff; the trigonometric maps override it
        with the closed form."""
        return jax.value_and_grad(lambda y: jnp.sum(self.phi(w, b, y, beta, num_features) * t))(x)

    def phases(self, key: PRNGKeyArray, rows: int) -> Float[Array, " R"]:
        """Random phases of ``rows`` projections (zeros for maps without phases)."""
        return jnp.zeros((rows,), jnp.result_type(float))


def _gaussian_block(key, block, dim, rows):
    return jax.random.normal(jax.random.fold_in(key, block), (rows, dim))


def _check_dim(dim):
    if dim < 1:
        raise ValueError(f"the state dimension D must be >= 1; got {dim}")


_IID_BLOCK = 128


class SinCos(AbstractRandomFeatures):
    r"""Random Fourier features :math:`\Phi(x) = Y^{-1/2}[\cos(\sqrt\beta Sx), \sin(\sqrt\beta Sx)]`.

    The default map of DrDAM (Hoover et al. 2024, Eq. 6); ``m = 2`` features per projection, so
    ``Y`` projections give a memory of ``2 Y`` numbers. Note :math:`\lVert\Phi(x)\rVert^2 = 1`
    exactly, so the self-kernel :math:`k(x, x) = 1` has no estimation error.
    """

    @property
    def features_per_row(self) -> int:
        return 2

    @property
    def positive(self) -> bool:
        return False

    def phi(self, w, b, x, beta, num_features):
        h = jnp.sqrt(beta) * jnp.matmul(x, w.T, precision=_HI)
        scale = 1.0 / math.sqrt(num_features)
        return scale * jnp.stack([jnp.cos(h), jnp.sin(h)], axis=-1)

    def contract_and_grad(self, w, b, x, beta, num_features, t):
        # z = Y^-1/2 sum_r [cos h_r t_r0 + sin h_r t_r1],  dz/dx = sqrt(beta) Y^-1/2 S^T g,
        # g_r = cos h_r t_r1 - sin h_r t_r0,  h = sqrt(beta) S x
        rb = jnp.sqrt(beta)
        h = rb * jnp.matmul(w, x, precision=_HI)
        c, s = jnp.cos(h), jnp.sin(h)
        scale = 1.0 / math.sqrt(num_features)
        z = scale * (jnp.dot(c, t[:, 0], precision=_HI) + jnp.dot(s, t[:, 1], precision=_HI))
        g = jnp.matmul(c * t[:, 1] - s * t[:, 0], w, precision=_HI)
        return z, (scale * rb) * g


class Cos(AbstractRandomFeatures):
    r"""Cosine features with a random phase, :math:`\Phi(x) = \sqrt{2/Y}\cos(\sqrt\beta Sx + b)`.

    :math:`b_y \sim U[0, 2\pi)`; ``m = 1``. An ablation of Hoover et al. 2024 (Rahimi & Recht
    2007): unbiased, but with a larger variance than :class:`SinCos` at equal memory size.
    """

    @property
    def features_per_row(self) -> int:
        return 1

    @property
    def positive(self) -> bool:
        return False

    def draw(self, key, block, dim):
        _check_dim(dim)
        kb = jax.random.fold_in(jax.random.fold_in(key, block), 1)
        return _gaussian_block(key, block, dim, _IID_BLOCK), self.phases(kb, _IID_BLOCK)

    def phases(self, key, rows):
        return jax.random.uniform(key, (rows,), jnp.result_type(float), 0.0, 2.0 * math.pi)

    def phi(self, w, b, x, beta, num_features):
        h = jnp.sqrt(beta) * jnp.matmul(x, w.T, precision=_HI)
        h = h + jnp.broadcast_to(b, h.shape)
        return math.sqrt(2.0 / num_features) * jnp.cos(h)[..., None]

    def contract_and_grad(self, w, b, x, beta, num_features, t):
        # z = sqrt(2/Y) sum_r cos(h_r + b_r) t_r,  dz/dx = -sqrt(2/Y) sqrt(beta) S^T (sin(.) t)
        rb = jnp.sqrt(beta)
        h = rb * jnp.matmul(w, x, precision=_HI) + b
        scale = math.sqrt(2.0 / num_features)
        z = scale * jnp.dot(jnp.cos(h), t[:, 0], precision=_HI)
        g = jnp.matmul(jnp.sin(h) * t[:, 0], w, precision=_HI)
        return z, -(scale * rb) * g


class PositiveExp(AbstractRandomFeatures):
    r"""Positive random features (Performer, FAVOR+; Choromanski et al. 2021):

    .. math:: \Phi(x) = Y^{-1/2}\exp(\sqrt\beta\,Sx - \beta\lVert x\rVert^2).

    ``m = 1``. Every feature is positive, so the kernel estimate never drops below zero (no floor
    needed); the energy is evaluated in the log domain (:meth:`log_phi`). The variance grows
    quickly with :math:`\beta\lVert x\rVert^2`.
    """

    @property
    def features_per_row(self) -> int:
        return 1

    @property
    def positive(self) -> bool:
        return True

    def log_phi(self, w, b, x, beta, num_features):
        h = jnp.sqrt(beta) * jnp.matmul(x, w.T, precision=_HI)
        sq = beta * jnp.sum(x * x, axis=-1, keepdims=True)
        return (h - sq - 0.5 * math.log(num_features))[..., None]

    def phi(self, w, b, x, beta, num_features):
        return jnp.exp(self.log_phi(w, b, x, beta, num_features))


class Orthogonal(AbstractRandomFeatures):
    r"""Orthogonal random features (Yu et al. 2016) for any base map (default :class:`SinCos`).

    Rows of S come in blocks of D: block = diag(r) Q with Q a Haar-random orthogonal D x D matrix
    (QR of a Gaussian matrix, signs fixed by diag(R)) and r_i ~ chi_D independent norms, so each
    row is marginally N(0, I_D) and the base map's estimate stays unbiased, while rows within a
    block are exactly orthogonal (less variance). Phases (for :class:`Cos`) come from the base map.

    Cost: regenerating a block takes a D x D QR factorisation.

    **Arguments:** ``base`` — the feature map whose ``phi`` is used (:class:`SinCos`,
    :class:`Cos` or :class:`PositiveExp`).
    """

    base: AbstractRandomFeatures = SinCos()

    def __check_init__(self):
        if not isinstance(self.base, AbstractRandomFeatures) or isinstance(self.base, Orthogonal):
            raise TypeError(
                f"`base` must be a feature map such as damjax.SinCos() (not Orthogonal); "
                f"got {self.base!r}"
            )

    @property
    def features_per_row(self) -> int:
        return self.base.features_per_row

    @property
    def positive(self) -> bool:
        return self.base.positive

    def block_rows(self, dim: int) -> int:
        return dim

    def draw(self, key, block, dim):
        _check_dim(dim)
        kblock = jax.random.fold_in(key, block)
        kq, kr, kb = jax.random.split(kblock, 3)
        g = jax.random.normal(kq, (dim, dim))
        q, r = jnp.linalg.qr(g)
        q = q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)[None, :]
        norms = jnp.sqrt(jnp.sum(jax.random.normal(kr, (dim, dim)) ** 2, axis=1))
        w = norms[:, None] * q.T
        return w, self.base.phases(kb, dim)

    def phi(self, w, b, x, beta, num_features):
        return self.base.phi(w, b, x, beta, num_features)

    def log_phi(self, w, b, x, beta, num_features):
        return self.base.log_phi(w, b, x, beta, num_features)

    def contract_and_grad(self, w, b, x, beta, num_features, t):
        return self.base.contract_and_grad(w, b, x, beta, num_features, t)
