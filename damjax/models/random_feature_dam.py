r"""Random-feature Dense Associative Memory (DrDAM; Hoover et al. 2024, NeurIPS).

The exact energy of :class:`damjax.ExpDAM` is a log of a kernel sum,
:math:`E(x) = -\beta^{-1}\log\sum_\mu k_\beta(x, \xi_\mu)`, :math:`k_\beta(x, y) =
\exp(-\frac{\beta}{2}\lVert x-y\rVert^2)`. With random features :math:`k_\beta(x, y) \approx
\langle\Phi(x),\Phi(y)\rangle` (:mod:`damjax.random_features`) the kernel sum becomes an inner
product with ONE fixed-size memory tensor,

.. math:: T = \sum_\mu \Phi(\xi_\mu), \qquad
   \tilde E(x) = -\frac{1}{\beta}\log\max(\langle\Phi(x), T\rangle,\ \epsilon),

("Distributed representation for DAM", DrDAM, Hoover et al. 2024, Eqs. 5-7). Storing a memory
is ``T += Phi(xi)`` (:meth:`RandomFeatureDAM.add`), forgetting it ``T -= Phi(xi)``
(:meth:`RandomFeatureDAM.remove`); the number of parameters (``Y * m``) never changes with the
number of memories K. The floor :math:`\epsilon` keeps the energy finite where a (signed)
estimate is <= 0; there the gradient is zero. Gradients come from ``jax.grad``.

Memory: the random projection matrix S (Y x D) is kept with the model when it fits a memory
budget (``store_projections=None``, the default: stored when its bytes are at most
``projection_budget``, :data:`PROJECTION_BUDGET_BYTES` = 256 MiB unless given) and regenerated
from the model's key in chunks of rows otherwise; ``store_projections=True`` / ``False`` (or
:meth:`RandomFeatureDAM.with_projections` / :meth:`RandomFeatureDAM.without_projections`)
overrides the choice. Either way features are evaluated in chunks of rows of S (``lax.scan``).
For the signed (trigonometric) maps, the energy has a custom JVP that computes the kernel sum
:math:`z = \langle\Phi(x), T\rangle` and its gradient in x,
:math:`\nabla_x z = \sum_c \partial_x\langle\Phi_c(x), T_c\rangle`, in ONE pass over the chunks
(one evaluation of cos / sin per feature, two products with each chunk of S), so
``jax.grad(energy)`` costs about the forward pass plus one product with S^T and never
regenerates S twice. Peak memory of an energy/gradient evaluation is O(chunk_size * D + Y),
independent of K (plus the Y x D of S when it is stored); building T from K patterns is also done
in blocks of patterns (O(chunk_size * block + Y)).
"""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from .._custom_types import Array, Float, PRNGKeyArray, Scalar, is_concrete
from .._validation import (
    as_real_float,
    check_positive_int,
    check_positive_scalar,
    check_state_width,
)
from ..components.random_features import AbstractRandomFeatures, SinCos
from ._continuous import AbstractContinuousMemory

_PATTERN_BLOCK = 256

#: Default memory budget (bytes) under which :class:`RandomFeatureDAM` keeps S (and its phases).
PROJECTION_BUDGET_BYTES = 2**28


class _Layout(eqx.Module):
    """How the Y rows of S are cut into chunks (all static)."""

    num_features: int = eqx.field(static=True)
    block: int = eqx.field(static=True)  # rows per draw() call
    blocks_per_chunk: int = eqx.field(static=True)
    num_chunks: int = eqx.field(static=True)

    @property
    def chunk(self) -> int:
        return self.block * self.blocks_per_chunk

    @property
    def padded(self) -> int:
        return self.chunk * self.num_chunks


def _make_layout(features, dim, num_features, chunk_size) -> _Layout:
    block = features.block_rows(dim)
    total_blocks = -(-num_features // block)
    per_chunk = min(max(1, -(-chunk_size // block)), total_blocks)
    return _Layout(num_features, block, per_chunk, -(-total_blocks // per_chunk))


def _chunk_rows(features, key, layout: _Layout, dim: int, c):
    """Rows of chunk ``c`` of S and their phases: ((C, D), (C,)), regenerated from ``key``."""
    blocks = c * layout.blocks_per_chunk + jnp.arange(layout.blocks_per_chunk)
    w, b = jax.vmap(lambda i: features.draw(key, i, dim))(blocks)
    return w.reshape(layout.chunk, dim), b.reshape(layout.chunk)


@eqx.filter_jit
def _feature_sum(features, key, layout, beta, X, weights, stored):
    """``sum_k weights_k Phi(X_k)`` as a (Y, m) array, chunked over rows of S and over patterns."""
    K, dim = X.shape
    m = features.features_per_row
    P = min(K, _PATTERN_BLOCK)
    nP = -(-K // P)
    Xp = jnp.zeros((nP * P, dim), X.dtype).at[:K].set(X).reshape(nP, P, dim)
    wp = jnp.zeros((nP * P,), X.dtype).at[:K].set(weights).reshape(nP, P)

    def chunk(c):
        w, b = _rows(features, key, layout, dim, stored, c)

        def block(acc, inp):
            xb, wb = inp
            phi = features.phi(w, b, xb, beta, layout.num_features)  # (P, C, m)
            return acc + jnp.einsum("p,pcm->cm", wb, phi), None

        acc, _ = jax.lax.scan(block, jnp.zeros((layout.chunk, m), X.dtype), (Xp, wp))
        return acc

    out = jax.lax.map(chunk, jnp.arange(layout.num_chunks))
    return out.reshape(layout.padded, m)[: layout.num_features]


def _bucketed_feature_sum(features, key, layout, beta, X, stored):
    """:func:`_feature_sum` with K padded (zero weights) to a power of two below the pattern
    block and to a multiple of it above, so adding memories in varying numbers compiles rarely."""
    K = X.shape[0]
    Kp = (
        1 << max(K - 1, 0).bit_length()
        if K <= _PATTERN_BLOCK
        else -(-K // _PATTERN_BLOCK) * _PATTERN_BLOCK
    )
    weights = jnp.zeros((Kp,), X.dtype).at[:K].set(1.0)
    Xp = jnp.zeros((Kp, X.shape[1]), X.dtype).at[:K].set(X)
    return _feature_sum(features, key, layout, beta, Xp, weights, stored)


def _rows(features, key, layout, dim, stored, c):
    if stored is None:
        return _chunk_rows(features, key, layout, dim, c)
    S, b = stored
    start = c * layout.chunk
    w = jax.lax.dynamic_slice_in_dim(S, start, layout.chunk, axis=0)
    return w, jax.lax.dynamic_slice_in_dim(b, start, layout.chunk, axis=0)


def _signed_chunks(layout, T):
    """(chunk indices, T cut into chunks of rows) fed to the chunk loop of the signed sum."""
    L = layout
    Tp = jnp.zeros((L.padded, T.shape[1]), T.dtype).at[: L.num_features].set(T)
    return jnp.arange(L.num_chunks), Tp.reshape(L.num_chunks, L.chunk, T.shape[1])


def _signed_sum_plain(features, layout, dim, key, stored, T, beta, x):
    """``<Phi(x), T>`` by a rematerialised scan over chunks (any tangents; the reference)."""
    cs, Tc = _signed_chunks(layout, T)

    def body(acc, inp):
        c, Tk = inp
        w, b = _rows(features, key, layout, dim, stored, c)
        return acc + jnp.sum(features.phi(w, b, x, beta, layout.num_features) * Tk), None

    body = jax.checkpoint(body, prevent_cse=False)
    out, _ = jax.lax.scan(body, jnp.zeros((), T.dtype), (cs, Tc))
    return out


def _signed_sum_and_grad(features, layout, dim, key, stored, T, beta, x):
    """``z = <Phi(x), T>`` and ``dz/dx`` in one pass over the chunks of S."""
    cs, Tc = _signed_chunks(layout, T)

    def body(carry, inp):
        z, g = carry
        c, Tk = inp
        w, b = _rows(features, key, layout, dim, stored, c)
        zc, gc = features.contract_and_grad(w, b, x, beta, layout.num_features, Tk)
        return (z + zc, g + gc), None

    init = (jnp.zeros((), T.dtype), jnp.zeros_like(x))
    (z, g), _ = jax.lax.scan(body, init, (cs, Tc))
    return z, g


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _signed_sum(features, layout, dim, key, stored, T, beta, x):
    return _signed_sum_plain(features, layout, dim, key, stored, T, beta, x)


def _is_zero(t):
    return all(
        isinstance(leaf, SymbolicZero)
        for leaf in jax.tree_util.tree_leaves(t, is_leaf=lambda v: isinstance(v, SymbolicZero))
    )


def _instantiate(t, p):
    return jax.tree_util.tree_map(
        lambda tt, pp: (
            jnp.zeros(jnp.shape(pp), jnp.result_type(pp)) if isinstance(tt, SymbolicZero) else tt
        ),
        t,
        p,
        is_leaf=lambda v: isinstance(v, SymbolicZero),
    )


def _signed_sum_jvp(features, layout, dim, primals, tangents):
    key, stored, T, beta, x = primals
    _, d_stored, d_T, d_beta, d_x = tangents
    if _is_zero((d_stored, d_T, d_beta)):
        # the usual case (gradient in the state): value and x-gradient in one pass
        z, g = _signed_sum_and_grad(features, layout, dim, key, stored, T, beta, x)
        dz = jnp.zeros_like(z) if isinstance(d_x, SymbolicZero) else jnp.dot(g, d_x)
        return z, dz
    # tangents in T, beta or S (e.g. training the memory): differentiate the reference scan
    args = (stored, T, beta, x)
    tans = _instantiate((d_stored, d_T, d_beta, d_x), args)
    return jax.jvp(
        lambda s, t, bb, xx: _signed_sum_plain(features, layout, dim, key, s, t, bb, xx),
        args,
        tans,
    )


_signed_sum.defjvp(_signed_sum_jvp, symbolic_zeros=True)


def _generate_projections(features, key, layout, dim):
    """All (padded) rows of S and their phases, ((Yp, D), (Yp,)), generated from ``key``."""
    S, b = jax.lax.map(
        lambda c: _chunk_rows(features, key, layout, dim, c), jnp.arange(layout.num_chunks)
    )
    return S.reshape(layout.padded, dim), b.reshape(layout.padded)


def _as_key(key):
    if key is None:
        raise ValueError("`key` is required: the random projections S are generated from it")
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(
                f"`key` must be a single PRNG key; got a key array of shape {key.shape}"
            )
        return key
    if key.shape == (2,) and key.dtype == jnp.uint32:
        return jax.random.wrap_key_data(key)
    raise TypeError(f"`key` must be a PRNG key (jax.random.key(seed)); got {key!r}")


def _check_memories(memories, dim, name):
    arr = jnp.asarray(memories)
    if arr.ndim not in (1, 2) or arr.shape[-1] != dim:
        raise ValueError(
            f"`{name}` must have shape (D,) or (K, D) with D = {dim} (the model's width); "
            f"got shape {arr.shape}"
        )
    arr = as_real_float(arr, name)
    if is_concrete(arr) and not bool(jnp.all(jnp.isfinite(arr))):
        raise ValueError(f"`{name}` must contain only finite values")
    return arr.reshape(-1, dim)


class RandomFeatureDAM(AbstractContinuousMemory):
    r"""DrDAM: :math:`\tilde E(x) = -\beta^{-1}\log\max(\langle\Phi(x), T\rangle, \epsilon)`,
    :math:`T = \sum_\mu\Phi(\xi_\mu)` (Hoover et al. 2024).

    Approximates :class:`damjax.ExpDAM` (same ``patterns`` and ``beta``) with a memory of fixed
    size ``Y * m`` (``m`` features per random projection: 2 for :class:`damjax.SinCos`). Works
    with :func:`damjax.retrieve` like every model; ``update`` is a unit gradient step
    :math:`x - \nabla\tilde E(x)` (for the exact model this is the softmax / mean-shift update);
    use :class:`damjax.GradientDescent` for damped steps and clamped cues.

    **Arguments:**

    * ``patterns`` — (K, D) memories to store (K = 0 allowed: an empty memory; see also
      :meth:`empty`).
    * ``beta`` — inverse temperature (> 0); it enters the features, so T depends on it.
    * ``num_features`` — ``Y``, the number of random projections (rows of S), >= 1.
    * ``key`` — PRNG key from which S (and phases) are regenerated.
    * ``features`` — a feature map (:class:`damjax.SinCos` (default), :class:`damjax.Cos`,
      :class:`damjax.PositiveExp`, :class:`damjax.Orthogonal`).
    * ``chunk_size`` — rows of S evaluated at a time (rounded up to the map's block size); peak
      memory of an energy/gradient evaluation is O(chunk_size * D + Y).
    * ``floor`` — :math:`\epsilon`, the lower bound on the kernel-sum estimate inside the log;
      default ``1e-5`` for signed (trigonometric) features and the smallest normal float for
      positive features (whose estimate is never <= 0).
    * ``store_projections`` — keep S (Y x D) and its phases with the model (``True``), regenerate
      them from ``key`` in chunks at every evaluation (``False``), or decide by size (``None``,
      default): keep S when its bytes are at most ``projection_budget``. Same values either way;
      keeping S saves regenerating it (faster), regenerating saves Y x D numbers of memory.
    * ``projection_budget`` — bytes (default :data:`PROJECTION_BUDGET_BYTES`, 256 MiB) under
      which ``store_projections=None`` keeps S.

    **Raises:** ``ValueError`` for ``num_features < 1``, ``beta <= 0``, patterns that are not a
    finite (K, D) array, a bad ``chunk_size`` or ``floor``; ``TypeError`` for a bad ``features``
    or ``key``. :meth:`energy`, :meth:`add`, :meth:`remove` raise ``ValueError`` for states or
    memories of the wrong width.
    """

    T: Float[Array, "Y m"]
    beta: Float[Array, ""]
    key: PRNGKeyArray
    features: AbstractRandomFeatures
    layout: _Layout
    dimension: int = eqx.field(static=True)
    floor: float = eqx.field(static=True)
    S: tuple[Float[Array, "Yp D"], Float[Array, " Yp"]] | None = None

    def __init__(
        self,
        patterns,
        beta,
        *,
        num_features: int,
        key: PRNGKeyArray,
        features: AbstractRandomFeatures | None = None,
        chunk_size: int = 1024,
        floor: float | None = None,
        store_projections: bool | None = None,
        projection_budget: int | None = None,
    ):
        features = SinCos() if features is None else features
        if not isinstance(features, AbstractRandomFeatures):
            raise TypeError(
                f"`features` must be a random feature map such as damjax.SinCos(); got {features!r}"
            )
        num_features = check_positive_int(num_features, "num_features (Y)")
        chunk_size = check_positive_int(chunk_size, "chunk_size")
        arr = patterns if hasattr(patterns, "shape") else np.asarray(patterns)
        if arr.ndim != 2 or arr.shape[1] == 0:
            raise ValueError(
                f"`patterns` must be a 2-D array of shape (K, D) with D >= 1; got shape {arr.shape}"
            )
        dim = int(arr.shape[1])
        X = _check_memories(arr, dim, "patterns")
        if floor is None:
            floor = float(jnp.finfo(X.dtype).tiny) if features.positive else 1e-5
        floor = float(floor)
        if not (math.isfinite(floor) and floor > 0):
            raise ValueError(f"`floor` must be a finite number > 0; got {floor}")
        self.beta = check_positive_scalar(beta, "beta", X.dtype)
        self.key = _as_key(key)
        self.features = features
        self.layout = _make_layout(features, dim, num_features, chunk_size)
        self.dimension = dim
        self.floor = floor
        if store_projections is not None and not isinstance(store_projections, bool):
            raise TypeError(
                f"`store_projections` must be True, False or None; got {store_projections!r}"
            )
        if projection_budget is None:
            projection_budget = PROJECTION_BUDGET_BYTES
        projection_budget = check_positive_int(projection_budget, "projection_budget")
        s_bytes = self.layout.padded * (dim + 1) * jnp.dtype(X.dtype).itemsize
        keep = s_bytes <= projection_budget if store_projections is None else store_projections
        self.S = _generate_projections(features, self.key, self.layout, dim) if keep else None
        m = features.features_per_row
        if X.shape[0] == 0:
            self.T = jnp.zeros((num_features, m), X.dtype)
        else:
            self.T = _bucketed_feature_sum(features, self.key, self.layout, self.beta, X, self.S)

    @classmethod
    def empty(cls, dim: int, beta, *, num_features: int, key, **kwargs) -> RandomFeatureDAM:
        """A memory with no patterns yet (``T = 0``); fill it with :meth:`add`."""
        dim = check_positive_int(dim, "dim")
        return cls(jnp.zeros((0, dim)), beta, num_features=num_features, key=key, **kwargs)

    # --- sizes -----------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.dimension

    @property
    def num_features(self) -> int:
        """``Y``: the number of random projections."""
        return self.layout.num_features

    @property
    def chunk_size(self) -> int:
        """Rows of S evaluated at a time (a multiple of the feature map's block)."""
        return self.layout.chunk

    @property
    def num_parameters(self) -> int:
        """Size of the memory tensor T (``Y * m``); independent of the number of memories."""
        return int(self.T.size)

    # --- memories --------------------------------------------------------------------------

    def _sum_features(self, memories, name):
        X = _check_memories(memories, self.dim, name).astype(self.T.dtype)
        return _bucketed_feature_sum(self.features, self.key, self.layout, self.beta, X, self.S)

    def add(self, memories: Float[Array, "*K D"]) -> RandomFeatureDAM:
        r"""A new model storing ``memories`` ((D,) or (K, D)) as well: :math:`T + \sum\Phi(\xi)`."""
        return eqx.tree_at(lambda m: m.T, self, self.T + self._sum_features(memories, "memories"))

    def remove(self, memories: Float[Array, "*K D"]) -> RandomFeatureDAM:
        r"""A new model without ``memories``: :math:`T - \sum\Phi(\xi)` (exact up to round-off
        if they were added before)."""
        return eqx.tree_at(lambda m: m.T, self, self.T - self._sum_features(memories, "memories"))

    def projections(self) -> tuple[Float[Array, "Y D"], Float[Array, " Y"]]:
        """The full projection matrix S (Y, D) and phases (Y,) — for inspection and tests."""
        if self.S is not None:
            S, b = self.S
        else:
            S, b = jax.lax.map(
                lambda c: _chunk_rows(self.features, self.key, self.layout, self.dim, c),
                jnp.arange(self.layout.num_chunks),
            )
        Y = self.num_features
        return S.reshape(-1, self.dim)[:Y], b.reshape(-1)[:Y]

    @property
    def stores_projections(self) -> bool:
        """Whether S is kept with the model (else it is regenerated from the key)."""
        return self.S is not None

    def with_projections(self) -> RandomFeatureDAM:
        """The same model with S stored (Y x D numbers): faster repeated evaluation, same values."""
        if self.S is not None:
            return self
        stored = _generate_projections(self.features, self.key, self.layout, self.dim)
        return eqx.tree_at(lambda m: m.S, self, stored, is_leaf=lambda x: x is None)

    def without_projections(self) -> RandomFeatureDAM:
        """The same model with S regenerated on the fly (memory O(chunk_size * D))."""
        return eqx.tree_at(lambda m: m.S, self, None)

    # --- evaluation ------------------------------------------------------------------------

    def _check(self, state):
        check_state_width(state, self.dim, "state")
        if jnp.ndim(state) != 1:
            raise ValueError(
                f"`state` must be a single state of shape (D,); got {jnp.shape(state)}"
            )

    def _padded_T(self):
        L = self.layout
        T = jnp.zeros((L.padded, self.T.shape[1]), self.T.dtype).at[: L.num_features].set(self.T)
        return T.reshape(L.num_chunks, L.chunk, self.T.shape[1])

    def features_of(self, state: Float[Array, " D"]) -> Float[Array, "Y m"]:
        r""":math:`\Phi(x)` in full, shape (Y, m) (for inspection; O(Y) memory)."""
        self._check(state)
        L, dim = self.layout, self.dim

        def chunk(c):
            w, b = _rows(self.features, self.key, L, dim, self.S, c)
            return self.features.phi(w, b, state, self.beta, L.num_features)

        out = jax.lax.map(chunk, jnp.arange(L.num_chunks))
        return out.reshape(L.padded, -1)[: L.num_features]

    def kernel_sum(self, state: Float[Array, " D"]) -> Scalar:
        r"""The raw estimate :math:`\langle\Phi(x), T\rangle \approx \sum_\mu k_\beta(x,\xi_\mu)`
        (may be <= 0 for trigonometric features)."""
        self._check(state)
        if self.features.positive:
            return jnp.exp(self._log_sum_positive(state))
        return self._sum_signed(state)

    def _scan(self, body, init):
        L = self.layout
        body = jax.checkpoint(body, prevent_cse=False)
        out, _ = jax.lax.scan(body, init, (jnp.arange(L.num_chunks), self._padded_T()))
        return out

    def _sum_signed(self, x):
        return _signed_sum(
            self.features, self.layout, self.dim, self.key, self.S, self.T, self.beta, x
        )

    def _log_sum_positive(self, x):
        """``log <Phi(x), T>`` for positive features: a streaming log-sum-exp over chunks."""
        L, dim = self.layout, self.dim
        tiny = jnp.finfo(self.T.dtype).tiny

        def body(carry, inp):
            M, s = carry
            c, Tc = inp
            w, b = _rows(self.features, self.key, L, dim, self.S, c)
            logt = jnp.where(Tc > 0, jnp.log(jnp.where(Tc > 0, Tc, 1.0)), -jnp.inf)
            lp = self.features.log_phi(w, b, x, self.beta, L.num_features) + logt
            new_M = jax.lax.stop_gradient(jnp.maximum(M, jnp.max(lp)))
            safe = jnp.where(jnp.isfinite(new_M), new_M, 0.0)
            s = s * jnp.exp(M - safe) + jnp.sum(jnp.exp(lp - safe))
            return (jnp.where(jnp.isfinite(new_M), new_M, -jnp.inf), s), None

        init = (jnp.asarray(-jnp.inf, self.T.dtype), jnp.zeros((), self.T.dtype))
        M, s = self._scan(body, init)
        return jnp.where(jnp.isfinite(M), M, 0.0) + jnp.log(jnp.maximum(s, tiny))

    def log_kernel_sum(self, state: Float[Array, " D"]) -> Scalar:
        r""":math:`\log\max(\langle\Phi(x), T\rangle, \epsilon)` — the floored log kernel sum."""
        self._check(state)
        log_floor = math.log(self.floor)
        if self.features.positive:
            return jnp.maximum(self._log_sum_positive(state), log_floor)
        return jnp.log(jnp.maximum(self._sum_signed(state), self.floor))

    def energy(self, state: Float[Array, " D"]) -> Scalar:
        r""":math:`\tilde E(x) = -\beta^{-1}\log\max(\langle\Phi(x), T\rangle, \epsilon)`."""
        return -self.log_kernel_sum(state) / self.beta

    def update(self, state: Float[Array, " D"]) -> Float[Array, " D"]:
        r"""Unit gradient step :math:`x - \nabla\tilde E(x)` (gradient by autodiff)."""
        return state - jax.grad(self.energy)(state)
