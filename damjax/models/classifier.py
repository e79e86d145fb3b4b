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

This module holds the model; its initialisation, loss, accuracy and training recipe live in
:mod:`damjax.learning.training` and the analysis / picture helpers in
:mod:`damjax.learning.analysis` (all re-exported by :mod:`damjax.learning`, which also re-exports
:class:`DAMClassifier`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Float, Int, Scalar
from .._validation import check_finite_array, check_positive_int
from ..components.interactions import (
    AbstractHomogeneous,
    RectifiedPolynomial,
    log_domain_product,
    unscale,
)
from ._base import AbstractMemory, sign_keep_ties

__all__ = ["DAMClassifier", "check_loss_power"]

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
        self.memories = check_finite_array(jnp.asarray(memories), "memories")
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
        if shape[0] == 0:
            raise ValueError(f"`{name}` must hold at least one image; got shape {shape}")
        check_finite_array(images, name)

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

    def scaled_energy(self, state: Float[Array, " D"]) -> tuple[Scalar, Scalar]:
        """``(E * exp(-L), L)``: the energy divided by a positive scale; finite at any degree."""
        m = self.memories @ state
        log_scale = self.interaction.log_scale(m)
        return -jnp.sum(self.interaction.scaled(m, log_scale)), log_scale

    def energy(self, state: Float[Array, " D"]) -> Scalar:
        r""":math:`E(v) = -\sum_\mu F(\xi^\mu\cdot v)`, via the rescaled F: +-inf where the true
        value exceeds float32 (large n), never NaN (odd n mixes huge terms of both signs)."""
        e, log_scale = self.scaled_energy(state)
        return unscale(e, log_scale)

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
    return log_domain_product(d, log_mag, _LOGIT_CAP)  # (B, C)
