r"""The Hopfield layer of Ramsauer et al. 2020, "Hopfield Networks is All You Need" (ICLR 2021),
as an equinox module with the call convention of :class:`equinox.nn.MultiheadAttention`.

**The equations.** State patterns (queries) :math:`R` (L rows), stored patterns :math:`Y` (S
rows) and the patterns to project :math:`Y_V` (S rows, default :math:`Y`) are mapped into the
"Hopfield space" of every head :math:`h` by learned projections,

.. math:: \xi = R W_Q^h, \qquad K = Y W_K^h, \qquad V = Y_V W_V^h ,

(``query_proj``, ``key_proj``, ``value_proj``; :math:`d_k` = ``qk_size``, :math:`d_v` =
``vo_size`` per head). Each row :math:`\xi` of a head is a state of the continuous modern Hopfield
network whose memories are the rows of :math:`K`, with energy (Ramsauer et al., eq. 2; with a
general separation, Hu et al. 2023 "On Sparse Modern Hopfield Model", eq. 2.4)

.. math:: E(\xi) = -\beta^{-1}\,\Psi^*(\beta K \xi) + \tfrac12 \xi^T\xi ,

:math:`\Psi^* = \mathrm{logsumexp}` for softmax, the convex conjugate of the normalizer in general
(:meth:`damjax.components.normalizers.AbstractNormalizer.conjugate`), and update (eq. 3, the CCCP step that
never increases E)

.. math:: \xi^{\mathrm{new}} = K^T \mathrm{sep}(\beta K \xi) .

``update_steps_max`` such updates are applied first (0 = none: the layer is attention), stopping
early when a step moves no entry by more than ``update_steps_eps * max(1, max|xi|)``. The layer's
output is then (eq. 10/11 of the paper, "Hopfield" layer)

.. math:: Z = \big\Vert_h\ \mathrm{dropout}\big(\mathrm{sep}(\beta\,\xi K^T)\big) V \;\; W_O ,

heads concatenated and projected by ``output_proj``. With one step, softmax and
:math:`\beta = 1/\sqrt{d_k}` this is exactly transformer attention
(:class:`equinox.nn.MultiheadAttention`, same weights; tested).

**Arguments and their place in the equations** (the names of ml-jku/hopfield-layers in brackets):

* ``scaling`` — :math:`\beta` (one number, or one per head); default :math:`1/\sqrt{d_k}`.
* ``normalizer`` — sep: ``"softmax"`` (default), ``"entmax15"``, ``"sparsemax"``, a number alpha
  (alpha-entmax) or a :mod:`damjax.components.normalizers` object. entmax / sparsemax associations have exact
  zeros.
* ``update_steps_max`` / ``update_steps_eps`` — the state iteration above (as in hopfield-layers,
  0 means one association without any state update).
* ``gradient`` — ``"unrolled"`` or ``"implicit"``: how gradients pass the state iteration
  (:func:`damjax.dynamics.fixed_point`; implicit is valid only at a converged, contracting fixed
  point, and gives NaN gradients when the iteration stops at ``update_steps_max`` unconverged).
* ``normalize_state`` / ``normalize_stored`` / ``normalize_projected`` — layer norms of R, Y and
  Y_V before their projections [normalize_state_pattern, normalize_stored_pattern,
  normalize_pattern_projection]; ``normalize_hopfield_space`` — a layer norm of the projected
  :math:`\xi` and :math:`K` over :math:`d_k` [normalize_hopfield_space]; ``norm_affine`` — learned
  scale and offset in all of them. Off by default (equinox's attention has none; hopfield-layers
  turns the first three on).
* ``project_query`` / ``project_key`` / ``project_value`` / ``project_output`` — set False to use
  a pattern as it is (every head then sees the whole raw pattern) [..._as_static,
  disable_out_projection].
* ``mask`` (call) — (L, S) or (H, L, S) bool, True where state pattern l may associate with stored
  pattern s (equinox's convention) [association_mask, whose True means *forbidden*].
* ``key_padding_mask`` (call) — (S,) bool, True where a stored pattern is padding and must be
  ignored [stored_pattern_padding_mask, same convention]. A state pattern with no allowed stored
  pattern gets all-zero associations (never NaN).
* ``dropout_p`` / ``inference`` / ``key`` — dropout on the associations, with an explicit key.

One example at a time (``query`` of shape (L, query_size)); ``jax.vmap`` over a batch.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Float, PRNGKeyArray
from ..components.normalizers import AbstractNormalizer, get_normalizer
from ..dynamics.fixed_point import GRADIENTS, fixed_point

__all__ = ["Hopfield"]


def _check_size(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1; got {value!r}")
    return int(value)


def _check_scaling(scaling, num_heads, qk_size):
    if scaling is None:
        return (1.0 / math.sqrt(qk_size),) * num_heads
    values = np.asarray(scaling, dtype=np.float64)
    if values.ndim == 0:
        values = np.full((num_heads,), float(values))
    if values.shape != (num_heads,):
        raise ValueError(
            f"`scaling` must be a number or have one entry per head, shape ({num_heads},); "
            f"got shape {values.shape}"
        )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"`scaling` (beta) must be finite and > 0; got {values.tolist()}")
    return tuple(float(v) for v in values)


def _linear(in_size, out_size, use_bias, dtype, key):
    return eqx.nn.Linear(in_size, out_size, use_bias=use_bias, dtype=dtype, key=key)


def _norm(flag, size, affine, dtype):
    if not flag:
        return None
    return eqx.nn.LayerNorm(size, use_weight=affine, use_bias=affine, dtype=dtype)


def _apply_rows(fn, x):
    return x if fn is None else jax.vmap(fn)(x)


class Hopfield(eqx.Module):
    r"""Hopfield layer: associates state patterns (queries) with stored patterns (keys).

    **Arguments:**

    * ``input_size`` — width of the state patterns (``query``).
    * ``num_heads`` — number of heads (must divide ``input_size`` unless ``qk_size`` and
      ``vo_size`` are given).
    * ``key_size``, ``value_size``, ``output_size`` — widths of the stored patterns, of the
      patterns to project and of the output (default ``input_size``).
    * ``qk_size``, ``vo_size`` — widths per head of the Hopfield space (:math:`d_k`) and of the
      projected values (:math:`d_v`) (default ``input_size // num_heads``).
    * ``use_query_bias``, ``use_key_bias``, ``use_value_bias``, ``use_output_bias`` — biases.
    * ``scaling``, ``update_steps_max``, ``update_steps_eps``, ``gradient``, ``normalizer``,
      ``normalize_*``, ``norm_affine``, ``project_*``, ``dropout_p``, ``inference`` — see the
      module docstring (:mod:`damjax.nn`).
    * ``dtype`` — parameter dtype (default float32); ``key`` — PRNG key for initialisation.

    **Raises:** ``ValueError`` for non-positive sizes, heads that do not divide the width, a
    non-positive or non-finite ``scaling``, a negative ``update_steps_max``, a non-positive
    ``update_steps_eps``, inconsistent widths of unprojected patterns, or an unknown
    ``gradient``; ``TypeError`` / ``ValueError`` for an unknown ``normalizer``.
    """

    query_proj: eqx.nn.Linear | None
    key_proj: eqx.nn.Linear | None
    value_proj: eqx.nn.Linear | None
    output_proj: eqx.nn.Linear | None
    norm_state: eqx.nn.LayerNorm | None
    norm_stored: eqx.nn.LayerNorm | None
    norm_projected: eqx.nn.LayerNorm | None
    norm_hopfield: eqx.nn.LayerNorm | None
    dropout: eqx.nn.Dropout
    normalizer: AbstractNormalizer
    num_heads: int = eqx.field(static=True)
    query_size: int = eqx.field(static=True)
    key_size: int = eqx.field(static=True)
    value_size: int = eqx.field(static=True)
    output_size: int = eqx.field(static=True)
    qk_size: int = eqx.field(static=True)
    vo_size: int = eqx.field(static=True)
    scaling: tuple[float, ...] = eqx.field(static=True)
    update_steps_max: int = eqx.field(static=True)
    update_steps_eps: float = eqx.field(static=True)
    gradient: str = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        *,
        num_heads: int = 1,
        key_size: int | None = None,
        value_size: int | None = None,
        output_size: int | None = None,
        qk_size: int | None = None,
        vo_size: int | None = None,
        use_query_bias: bool = False,
        use_key_bias: bool = False,
        use_value_bias: bool = False,
        use_output_bias: bool = False,
        scaling=None,
        update_steps_max: int = 0,
        update_steps_eps: float = 1e-4,
        gradient: str = "unrolled",
        normalizer="softmax",
        normalize_state: bool = False,
        normalize_stored: bool = False,
        normalize_projected: bool = False,
        normalize_hopfield_space: bool = False,
        norm_affine: bool = True,
        project_query: bool = True,
        project_key: bool = True,
        project_value: bool = True,
        project_output: bool = True,
        dropout_p: float = 0.0,
        inference: bool = False,
        dtype=None,
        key: PRNGKeyArray,
    ):
        dtype = jnp.float32 if dtype is None else dtype
        self.query_size = _check_size(input_size, "input_size")
        self.num_heads = H = _check_size(num_heads, "num_heads")
        self.key_size = _check_size(self.query_size if key_size is None else key_size, "key_size")
        self.value_size = _check_size(
            self.key_size if value_size is None else value_size, "value_size"
        )
        if qk_size is None:
            if not project_query:
                qk_size = self.query_size
            elif not project_key:
                qk_size = self.key_size
            else:
                if self.query_size % H:
                    raise ValueError(
                        f"`num_heads` = {H} must divide `input_size` = {self.query_size} "
                        "(or give `qk_size` and `vo_size` explicitly)"
                    )
                qk_size = self.query_size // H
        if vo_size is None:
            if not project_value:
                vo_size = self.value_size
            else:
                if self.query_size % H:
                    raise ValueError(
                        f"`num_heads` = {H} must divide `input_size` = {self.query_size} "
                        "(or give `qk_size` and `vo_size` explicitly)"
                    )
                vo_size = self.query_size // H
        self.qk_size = _check_size(qk_size, "qk_size")
        self.vo_size = _check_size(vo_size, "vo_size")
        for flag, width, name in (
            (project_query, self.query_size, "input_size"),
            (project_key, self.key_size, "key_size"),
        ):
            if not flag and width != self.qk_size:
                raise ValueError(
                    f"an unprojected pattern is used as it is in every head: `{name}` = {width} "
                    f"must equal `qk_size` = {self.qk_size}"
                )
        if not project_value and self.value_size != self.vo_size:
            raise ValueError(
                f"with project_value=False, `vo_size` must equal `value_size` = {self.value_size}"
            )
        heads_out = H * self.vo_size
        if output_size is None:
            output_size = self.query_size if project_output else heads_out
        self.output_size = _check_size(output_size, "output_size")
        if not project_output and self.output_size != heads_out:
            raise ValueError(
                f"with project_output=False the output is the {H} heads concatenated: "
                f"`output_size` must be num_heads * vo_size = {heads_out}; got {self.output_size}"
            )
        self.scaling = _check_scaling(scaling, H, self.qk_size)
        if (
            isinstance(update_steps_max, bool)
            or not isinstance(update_steps_max, (int, np.integer))
            or update_steps_max < 0
        ):
            raise ValueError(
                f"`update_steps_max` must be an integer >= 0; got {update_steps_max!r}"
            )
        self.update_steps_max = int(update_steps_max)
        eps = update_steps_eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
            raise ValueError(f"`update_steps_eps` must be a finite number > 0; got {eps!r}")
        self.update_steps_eps = float(eps)
        if gradient not in GRADIENTS:
            raise ValueError(f"`gradient` must be one of {GRADIENTS}; got {gradient!r}")
        self.gradient = gradient
        self.normalizer = get_normalizer(normalizer)
        if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)):
            raise ValueError(f"`dropout_p` must be a number in [0, 1); got {dropout_p!r}")
        if not 0.0 <= dropout_p < 1.0:
            raise ValueError(f"`dropout_p` must be in [0, 1); got {dropout_p}")
        self.dropout = eqx.nn.Dropout(float(dropout_p), inference=inference)

        qkey, kkey, vkey, okey = jax.random.split(key, 4)
        self.query_proj = (
            _linear(self.query_size, H * self.qk_size, use_query_bias, dtype, qkey)
            if project_query
            else None
        )
        self.key_proj = (
            _linear(self.key_size, H * self.qk_size, use_key_bias, dtype, kkey)
            if project_key
            else None
        )
        self.value_proj = (
            _linear(self.value_size, heads_out, use_value_bias, dtype, vkey)
            if project_value
            else None
        )
        self.output_proj = (
            _linear(heads_out, self.output_size, use_output_bias, dtype, okey)
            if project_output
            else None
        )
        self.norm_state = _norm(normalize_state, self.query_size, norm_affine, dtype)
        self.norm_stored = _norm(normalize_stored, self.key_size, norm_affine, dtype)
        self.norm_projected = _norm(normalize_projected, self.value_size, norm_affine, dtype)
        self.norm_hopfield = _norm(normalize_hopfield_space, self.qk_size, norm_affine, dtype)

    # --- inputs ----------------------------------------------------------------------------------

    def _check_inputs(self, query, key_, value):
        for x, width, name in (
            (query, self.query_size, "query"),
            (key_, self.key_size, "key_"),
            (value, self.value_size, "value"),
        ):
            if x.ndim != 2 or x.shape[1] != width:
                raise ValueError(
                    f"`{name}` must have shape ({'L' if name == 'query' else 'S'}, {width}) (one "
                    f"example; use jax.vmap for a batch); got {x.shape}"
                )
        if key_.shape[0] != value.shape[0]:
            raise ValueError(
                f"`key_` and `value` must hold the same number S of patterns; got {key_.shape[0]} "
                f"and {value.shape[0]}"
            )

    def _check_masks(self, mask, key_padding_mask, L, S):
        """One (H, L, S) bool array of allowed associations, or None."""
        H = self.num_heads
        allowed = None
        if mask is not None:
            mask = jnp.asarray(mask)
            if mask.dtype != jnp.bool_:
                raise ValueError(f"`mask` must be a bool array; got dtype {mask.dtype}")
            if mask.shape == (L, S):
                mask = jnp.broadcast_to(mask[None], (H, L, S))
            elif mask.shape != (H, L, S):
                raise ValueError(
                    f"`mask` must have shape (L, S) = ({L}, {S}) or (num_heads, L, S) = "
                    f"({H}, {L}, {S}); got {mask.shape}"
                )
            allowed = mask
        if key_padding_mask is not None:
            kpm = jnp.asarray(key_padding_mask)
            if kpm.dtype != jnp.bool_ or kpm.shape != (S,):
                raise ValueError(
                    f"`key_padding_mask` must be a bool array of shape (S,) = ({S},), True at "
                    f"padding; got dtype {kpm.dtype} and shape {kpm.shape}"
                )
            keep = jnp.broadcast_to(~kpm[None, None, :], (H, L, S))
            allowed = keep if allowed is None else allowed & keep
        return allowed

    def _project(self, proj, x, width):
        """(n, in) -> (n, H, width) per head; an unprojected pattern is repeated over heads."""
        if proj is None:
            return jnp.broadcast_to(x[:, None, :], (x.shape[0], self.num_heads, x.shape[1]))
        return jax.vmap(proj)(x).reshape(x.shape[0], self.num_heads, width)

    def _heads(self, query, key_, value):
        """Projected patterns, head-major: xi (H, L, d_k), K (H, S, d_k), V (H, S, d_v)."""
        query = _apply_rows(self.norm_state, query)
        key_ = _apply_rows(self.norm_stored, key_)
        value = _apply_rows(self.norm_projected, value)
        q = self._project(self.query_proj, query, self.qk_size)
        k = self._project(self.key_proj, key_, self.qk_size)
        v = self._project(self.value_proj, value, self.vo_size)
        if self.norm_hopfield is not None:
            q = jax.vmap(jax.vmap(self.norm_hopfield))(q)
            k = jax.vmap(jax.vmap(self.norm_hopfield))(k)
        return (jnp.swapaxes(q, 0, 1), jnp.swapaxes(k, 0, 1), jnp.swapaxes(v, 0, 1))

    # --- the Hopfield association ----------------------------------------------------------------

    def _beta(self, dtype):
        return jnp.asarray(self.scaling, dtype)

    def _separate(self, xi, k, allowed):
        """sep(beta xi K^T) per head, (H, L, S); forbidden entries exactly zero."""
        beta = self._beta(xi.dtype)
        # scale the (L, d_k) states rather than the (L, S) scores: fewer multiplications
        z = jnp.einsum("hld,hsd->hls", xi * beta[:, None, None], k)
        if allowed is None:
            return self.normalizer(z)
        neg = jnp.asarray(jnp.finfo(z.dtype).min / 2, z.dtype)
        p = self.normalizer(jnp.where(allowed, z, neg))
        return jnp.where(allowed, p, 0.0)

    def _retrieve_states(self, xi, k, allowed):
        """The state iteration xi <- sep(beta xi K^T) K, ``update_steps_max`` steps at most."""
        if self.update_steps_max == 0:
            return xi
        out = fixed_point(
            lambda s: jnp.einsum("hls,hsd->hld", self._separate(s, k, allowed), k),
            xi,
            max_steps=self.update_steps_max,
            tol=self.update_steps_eps,
            gradient=self.gradient,
        )
        return out.value

    def _prepare(self, query, key_, value, mask, key_padding_mask):
        query, key_ = jnp.asarray(query), jnp.asarray(key_)
        value = key_ if value is None else jnp.asarray(value)
        self._check_inputs(query, key_, value)
        allowed = self._check_masks(mask, key_padding_mask, query.shape[0], key_.shape[0])
        xi, k, v = self._heads(query, key_, value)
        return xi, k, v, allowed

    def associations(
        self,
        query: Float[Array, "L Dq"],
        key_: Float[Array, "S Dk"],
        *,
        mask: Bool[Array, "*M"] | None = None,
        key_padding_mask: Bool[Array, " S"] | None = None,
    ) -> Float[Array, "H L S"]:
        r"""The association matrices :math:`\mathrm{sep}(\beta\,\xi^* K^T)` per head, (H, L, S),
        after the state iteration and before dropout (rows sum to one)."""
        xi, k, _, allowed = self._prepare(query, key_, None, mask, key_padding_mask)
        return self._separate(self._retrieve_states(xi, k, allowed), k, allowed)

    def __call__(
        self,
        query: Float[Array, "L Dq"],
        key_: Float[Array, "S Dk"],
        value: Float[Array, "S Dv"] | None = None,
        *,
        mask: Bool[Array, "*M"] | None = None,
        key_padding_mask: Bool[Array, " S"] | None = None,
        key: PRNGKeyArray | None = None,
        inference: bool | None = None,
    ) -> Float[Array, "L Do"]:
        """Associate ``query`` (L, input_size) with ``key_`` (S, key_size) and return the
        retrieved, projected patterns, (L, output_size).

        **Arguments:** ``value`` — (S, value_size) patterns to project (default ``key_``);
        ``mask``, ``key_padding_mask`` — see the module docstring; ``key`` — PRNG key for
        dropout (needed when ``dropout_p > 0`` and not in inference mode); ``inference`` —
        overrides the module's dropout mode.

        **Raises:** ``ValueError`` for wrongly shaped patterns or masks.
        """
        xi, k, v, allowed = self._prepare(query, key_, value, mask, key_padding_mask)
        p = self._separate(self._retrieve_states(xi, k, allowed), k, allowed)
        p = self.dropout(p, key=key, inference=inference)
        heads = jnp.einsum("hls,hsd->lhd", p, v).reshape(query.shape[0], -1)
        return heads if self.output_proj is None else jax.vmap(self.output_proj)(heads)

    def energy(
        self,
        state: Float[Array, "H L Dk"],
        key_: Float[Array, "S Dk"],
        *,
        mask: Bool[Array, "*M"] | None = None,
        key_padding_mask: Bool[Array, " S"] | None = None,
    ) -> Float[Array, "H L"]:
        r"""Ramsauer et al.'s energy :math:`-\beta^{-1}\Psi^*(\beta K\xi) + \frac12\xi^T\xi` of
        Hopfield-space states ``state`` (H, L, d_k) against the projected stored patterns of
        ``key_``, per head and state (constants dropped; masked stored patterns excluded)."""
        key_ = jnp.asarray(key_)
        probe = jnp.zeros((1, self.query_size), key_.dtype)
        _, k, _, allowed = self._prepare(probe, key_, None, None, key_padding_mask)
        H, L = state.shape[0], state.shape[1]
        if state.shape != (H, L, self.qk_size) or H != self.num_heads:
            raise ValueError(
                f"`state` must have shape (num_heads, L, qk_size) = ({self.num_heads}, L, "
                f"{self.qk_size}); got {state.shape}"
            )
        allowed = self._check_masks(mask, key_padding_mask, L, k.shape[1])
        beta = self._beta(state.dtype)
        z = jnp.einsum("hld,hsd->hls", state, k) * beta[:, None, None]
        if allowed is not None:
            z = jnp.where(allowed, z, jnp.asarray(jnp.finfo(z.dtype).min / 2, z.dtype))
        return -self.normalizer.conjugate(z) / beta[:, None] + 0.5 * jnp.sum(state**2, axis=-1)

    def hopfield_states(
        self,
        query: Float[Array, "L Dq"],
        key_: Float[Array, "S Dk"],
        *,
        steps: int | None = None,
        mask: Bool[Array, "*M"] | None = None,
        key_padding_mask: Bool[Array, " S"] | None = None,
    ) -> Float[Array, "T H L Dk"]:
        r"""The projected state patterns :math:`\xi_0, \xi_1, \dots, \xi_T` of the state iteration
        (T = ``steps``, default ``update_steps_max``; no early stop), for inspecting the dynamics
        (e.g. that :meth:`energy` never increases along it)."""
        steps = self.update_steps_max if steps is None else _check_size(steps, "steps")
        xi, k, _, allowed = self._prepare(query, key_, None, mask, key_padding_mask)

        def body(s, _):
            new = jnp.einsum("hls,hsd->hld", self._separate(s, k, allowed), k)
            return new, new

        _, traj = jax.lax.scan(body, xi, None, length=steps)
        return jnp.concatenate([xi[None], traj], axis=0)
