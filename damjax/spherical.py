r"""Separation of memory sets and spherical codes (Hu, Wu & Liu 2024, NeurIPS, Section 3).

The minimum separation of M points on the unit sphere :math:`S^{d-1}` (after normalisation) is

.. math:: \Delta_{\min} = 1 - \cos\theta_{\min} = \min_{\mu \ne \nu} \big(1 - \langle
   \hat\xi^\mu, \hat\xi^\nu\rangle\big),

the quantity that bounds the memory capacity of kernelized Hopfield models; the best achievable
value for M points in d dimensions is that of an optimal spherical code (the Tammes problem).
Proposition 3.1 of the paper brackets it:

.. math:: \tfrac12\Big[\tfrac{\sqrt\pi}{M}\tfrac{\Gamma(\frac{d+1}{2})}{\Gamma(\frac d2+1)}
   \Big]^{\frac{2}{d-1}} \le \Delta_{\min}^\star \le 2\Big[\tfrac{2\sqrt\pi}{M}
   \tfrac{\Gamma(\frac{d+1}{2})}{\Gamma(\frac d2)}\Big]^{\frac{1}{d-1}}.

:func:`tammes_table` is the reference for d = 3: the best-known Tammes angles for M = 4..50 and
55..130 in steps of 5, as tabulated with the separation-bound experiment of Hu, Wu & Liu (2024) from
the published Tammes-problem tables (N. J. A. Sloane's tables of spherical packings,
http://neilsloane.com/packings/). :func:`spherical_code` finds well-separated codes by minimising a
smoothed maximum of the pairwise cosines on the sphere.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._custom_types import Array, Float, PRNGKeyArray, Scalar, is_concrete
from ._numerics import HI as _HI
from ._validation import check_key, check_positive_int

__all__ = [
    "TAMMES_SOURCE",
    "feature_separation",
    "min_angle",
    "min_separation",
    "separation_bounds",
    "sphere_separation_bounds",
    "spherical_code",
    "spherical_codes",
    "tammes_table",
]

TAMMES_SOURCE = (
    "Best-known Tammes-problem packings on the 2-sphere (d = 3), as tabulated with the "
    "separation-bound experiment of Hu, Wu & Liu, 'Provably Optimal Memory Capacity for Modern "
    "Hopfield Models', NeurIPS 2024, from the published Tammes-problem tables (N. J. A. Sloane, "
    "spherical packings, http://neilsloane.com/packings/)."
)


def _check_points(points, name: str = "points"):
    points = jnp.asarray(points)
    if points.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D array of shape (M, d); got shape {points.shape}")
    if points.shape[0] < 2:
        raise ValueError(
            f"separation needs at least two points (M >= 2); `{name}` has M = {points.shape[0]}"
        )
    if points.shape[1] < 1:
        raise ValueError(f"`{name}` must have d >= 1 columns; got shape {points.shape}")
    if not jnp.issubdtype(points.dtype, jnp.floating):
        points = points.astype(jnp.result_type(float))
    if is_concrete(points) and bool(jnp.any(jnp.linalg.norm(points, axis=1) == 0)):
        raise ValueError(f"`{name}` has a zero row; separation is defined for nonzero vectors")
    return points


def _max_cosine(points):
    unit = points / jnp.linalg.norm(points, axis=1, keepdims=True)
    gram = jnp.dot(unit, unit.T, precision=_HI)
    m = points.shape[0]
    gram = jnp.where(jnp.eye(m, dtype=bool), -jnp.inf, gram)
    return jnp.clip(jnp.max(gram), -1.0, 1.0)


def min_separation(points: Float[Array, "M d"]) -> Scalar:
    r""":math:`\Delta_{\min} = 1 - \max_{\mu\ne\nu}\cos\angle(\xi^\mu, \xi^\nu)` of the rows.

    **Arguments:** ``points`` — (M, d) nonzero vectors (normalised internally).

    **Returns:** a scalar in [0, 2].

    **Raises:** ``ValueError`` if M < 2, the array is not 2-D or a row is zero.
    """
    return 1.0 - _max_cosine(_check_points(points))


def min_angle(points: Float[Array, "M d"]) -> Scalar:
    r"""The smallest pairwise angle :math:`\theta_{\min}` (radians) between the rows.

    **Raises:** as :func:`min_separation`.
    """
    return jnp.arccos(_max_cosine(_check_points(points)))


def feature_separation(feature_map, patterns: Float[Array, "M d"]) -> Scalar:
    r""":math:`\Delta_{\min}` of the memories in feature space, :math:`\{\Phi(\xi^\mu)\}`.

    **Arguments:** ``feature_map`` — a feature map on one vector; ``patterns`` — (M, d) memories.

    **Raises:** ``ValueError`` if M < 2 or the feature map does not return 1-D features.
    """
    patterns = jnp.asarray(patterns)
    if patterns.ndim != 2:
        raise ValueError(f"`patterns` must be a 2-D array of shape (M, d); got {patterns.shape}")
    from .components.feature_maps import check_feature_map

    check_feature_map(feature_map, patterns.shape[1], patterns.dtype)
    return min_separation(jax.vmap(feature_map)(patterns))


def sphere_separation_bounds(m, d: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Proposition 3.1 of Hu, Wu & Liu (2024): lower and upper bounds on the best possible
    :math:`\Delta_{\min}` of M points on :math:`S^{d-1}`.

    .. math:: \text{lower} = \tfrac12\big[\tfrac{\sqrt\pi}{M}\,\Gamma(\tfrac{d+1}{2}) /
       \Gamma(\tfrac d2+1)\big]^{2/(d-1)}, \quad
       \text{upper} = 2\big[\tfrac{2\sqrt\pi}{M}\,\Gamma(\tfrac{d+1}{2}) /
       \Gamma(\tfrac d2)\big]^{1/(d-1)}.

    **Arguments:** ``m`` — number(s) of points M >= 2 (int or array); ``d`` — dimension >= 2.

    **Returns:** ``(lower, upper)`` as float64 NumPy arrays of the shape of ``m``.

    **Raises:** ``ValueError`` if M < 2 or d < 2.
    """
    d = check_positive_int(d, "d", minimum=2)
    m = np.asarray(m, dtype=np.float64)
    if np.any(m < 2) or not np.all(np.isfinite(m)):
        raise ValueError(f"separation needs at least two points (M >= 2); got M = {m.tolist()}")
    lg = math.lgamma
    log_upper_ratio = lg((d + 1) / 2) - lg(d / 2)
    log_lower_ratio = lg((d + 1) / 2) - lg(d / 2 + 1)
    upper = 2.0 * np.exp((np.log(2 * math.sqrt(math.pi) / m) + log_upper_ratio) / (d - 1))
    lower = 0.5 * np.exp(2.0 * (np.log(math.sqrt(math.pi) / m) + log_lower_ratio) / (d - 1))
    return lower, upper


def separation_bounds(m, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Deprecated name of :func:`sphere_separation_bounds` (it collided with
    :func:`damjax.patterns.separation_bounds`, the Hamming-distance bounds of K binary patterns)."""
    import warnings

    warnings.warn(
        "damjax.spherical.separation_bounds(M, d) is now sphere_separation_bounds(M, d) "
        "(damjax.patterns.separation_bounds(N, K) is a different quantity)",
        DeprecationWarning,
        stacklevel=2,
    )
    return sphere_separation_bounds(m, d)


def tammes_table() -> tuple[np.ndarray, np.ndarray]:
    """Best-known Tammes angles on the 2-sphere (d = 3), shipped as ``damjax/data/tammes_d3.csv``.

    Source: :data:`TAMMES_SOURCE` (Sloane's tables as used by Hu, Wu & Liu 2024).

    **Returns:** ``(M, theta_deg)``: int array of M (4..50, then 55..130 in steps of 5) and the
    largest achievable minimum angle in degrees. The separation is ``1 - cos(radians(theta))``.
    """
    text = importlib.resources.files("damjax").joinpath("data/tammes_d3.csv").read_text()
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].startswith("#")]
    body = rows[1:]  # header "M,min_angle_deg"
    ms = np.array([int(r[0]) for r in body])
    angles = np.array([float(r[1]) for r in body])
    return ms, angles


def _smooth_max_cos(x, n_valid, tau):
    unit = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    gram = jnp.dot(unit, unit.T, precision=_HI)
    m = x.shape[0]
    idx = jnp.arange(m)
    valid = (idx[:, None] < idx[None, :]) & (idx[None, :] < n_valid)
    return tau * jax.nn.logsumexp(jnp.where(valid, gram / tau, -jnp.inf))


def _hard_max_cos(x, n_valid):
    unit = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    gram = jnp.dot(unit, unit.T, precision=_HI)
    idx = jnp.arange(x.shape[0])
    valid = (idx[:, None] < idx[None, :]) & (idx[None, :] < n_valid)
    return jnp.max(jnp.where(valid, gram, -jnp.inf))


def _optimise_one(key, n_valid, m_max: int, d: int, steps: int, lr, tau_start, tau_end):
    x0 = jax.random.normal(key, (m_max, d))
    x0 = x0 / jnp.linalg.norm(x0, axis=1, keepdims=True)
    opt = optax.adam(lr)
    decay = (tau_end / tau_start) ** (1.0 / max(steps - 1, 1))

    def step(carry, t):
        x, state = carry
        tau = tau_start * decay**t
        g = jax.grad(_smooth_max_cos)(x, n_valid, tau)
        upd, state = opt.update(g, state, x)
        x = optax.apply_updates(x, upd)
        x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
        return (x, state), None

    (x, _), _ = jax.lax.scan(step, (x0, opt.init(x0)), jnp.arange(steps, dtype=x0.dtype))
    return x, _hard_max_cos(x, n_valid)


def _check_code_args(d, steps, restarts, lr, tau_start, tau_end):
    check_positive_int(d, "d", minimum=2)
    check_positive_int(steps, "steps")
    check_positive_int(restarts, "restarts")
    for name, v in (("lr", lr), ("tau_start", tau_start), ("tau_end", tau_end)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"`{name}` must be a finite number > 0; got {v!r}")


def spherical_codes(
    key: PRNGKeyArray,
    ms: Sequence[int],
    d: int,
    *,
    steps: int = 2000,
    restarts: int = 4,
    lr: float = 0.01,
    tau_start: float = 0.1,
    tau_end: float = 0.002,
) -> list[np.ndarray]:
    r"""Well-separated spherical codes for several M at once (one compiled, vmapped optimisation).

    For each M, ``restarts`` random starts on :math:`S^{d-1}` are optimised with Adam, projecting back
    to the sphere after every step, on the smoothed largest cosine
    :math:`\tau \log \sum_{\mu<\nu} \exp(\langle\hat x^\mu, \hat x^\nu\rangle/\tau)` (a log-sum-exp
    energy on the sphere) with :math:`\tau` annealed geometrically from ``tau_start`` to ``tau_end``;
    the restart with the largest :math:`\Delta_{\min}` is kept. All M are padded to ``max(ms)`` rows
    with masked pairs, so one compilation serves the whole list.

    **Arguments:** ``key``; ``ms`` — numbers of points (each >= 2); ``d`` — dimension >= 2;
    ``steps``, ``restarts``, ``lr``, ``tau_start``, ``tau_end`` — optimiser settings.

    **Returns:** a list of (M, d) NumPy arrays of unit vectors, one per entry of ``ms``.

    **Raises:** ``ValueError`` if some M < 2, d < 2 or a setting is not positive.
    """
    _check_code_args(d, steps, restarts, lr, tau_start, tau_end)
    ms = [check_positive_int(m, "M", minimum=2) for m in ms]
    if not ms:
        raise ValueError("`ms` must list at least one number of points")
    m_max = max(ms)
    keys = jax.random.split(key, (len(ms), restarts))
    counts = jnp.asarray(ms, jnp.int32)

    @jax.jit
    def run(keys, counts):
        def per_m(ks, n):
            return jax.vmap(
                lambda k: _optimise_one(
                    k, n, m_max, d, steps, float(lr), float(tau_start), float(tau_end)
                )
            )(ks)

        return jax.vmap(per_m)(keys, counts)

    xs, maxcos = run(keys, counts)
    best = jnp.argmin(maxcos, axis=1)
    xs = np.asarray(xs)
    best = np.asarray(best)
    return [xs[i, best[i], :m] for i, m in enumerate(ms)]


def spherical_code(
    key: PRNGKeyArray,
    m: int,
    d: int,
    *,
    steps: int = 2000,
    restarts: int = 4,
    lr: float = 0.01,
    tau_start: float = 0.1,
    tau_end: float = 0.002,
) -> Float[Array, "M d"]:
    r"""A well-separated code of ``m`` unit vectors in R^d by energy minimisation on the sphere
    (see :func:`spherical_codes`).

    **Returns:** an (m, d) array of unit vectors.

    **Raises:** ``ValueError`` if m < 2, d < 2 or a setting is not positive.
    """
    check_key(key)
    return jnp.asarray(
        spherical_codes(
            key,
            [m],
            d,
            steps=steps,
            restarts=restarts,
            lr=lr,
            tau_start=tau_start,
            tau_end=tau_end,
        )[0]
    )
