"""The DAM experiments of the sweep engine, registered on import of :mod:`damjax.capacity` and
usable by name from Python and TOML (``experiment = "retrieval"``).

Shared parameters: ``N`` (neurons), ``K`` (memories), ``F`` ("poly" = x^n, "rect" = rectified
x^n, "exp" = exp(beta x)), ``n`` (degree), ``beta`` (exponential F only), ``rule`` (a name of
:func:`damjax.dynamics.rule_names`: "sync", "async", "async-random", "onestep"),
``max_steps``. Memories are i.i.d. uniform +-1 drawn from the row's key.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ..components.interactions import Exponential, Polynomial, RectifiedPolynomial
from ..dynamics import rule_from_name, rule_names
from ..models import BinaryDAM
from ..patterns import flip, random_binary
from ..sweep import experiment, register_axis_check
from ._blocked import RandomPatterns, StoredPatterns
from ._measure import fixed_point_fraction, retrieval_stats
from ._no_error import _no_error_one
from ._sampled import _bucketed, _k_half_one, _Probe
from ._search import Retrieves, _check_resolution, capacity_search
from ._wilson import probes_for_halfwidth

__all__ = ["make_interaction", "make_rule"]

_F_NAMES = ("poly", "rect", "exp")


def make_interaction(name: str, n: int, beta=1.0):
    r"""The interaction function a sweep config names.

    * ``"poly"``: :class:`damjax.Polynomial`, :math:`F(x) = x^n`;
    * ``"rect"``: :class:`damjax.RectifiedPolynomial`, :math:`F(x) = \max(x, 0)^n`;
    * ``"exp"``: :class:`damjax.Exponential`, :math:`F(x) = e^{\beta x}` (``n`` unused).

    **Raises:** ``ValueError`` naming ``F`` for any other name (and the interaction's own
    errors for a bad ``n`` or ``beta``).
    """
    if name == "poly":
        return Polynomial(n)
    if name == "rect":
        return RectifiedPolynomial(n)
    if name == "exp":
        return Exponential(beta)
    raise ValueError(f"`F` must be one of {_F_NAMES}; got {name!r}")


def make_rule(name: str):
    """Dynamics rule from its registered name (:func:`damjax.dynamics.rule_names`)."""
    return rule_from_name(name)


def _check_model_params(cfg):
    if cfg["F"] not in _F_NAMES:
        raise ValueError(f"`F` must be one of {_F_NAMES}; got {cfg['F']!r}")
    if cfg["n"] < 1:
        raise ValueError(f"`n` (degree) must be >= 1; got {cfg['n']}")
    beta = cfg.get("beta")
    if isinstance(beta, (int, float)) and not isinstance(beta, bool):
        if not (math.isfinite(beta) and beta > 0):
            raise ValueError(
                f"`beta` (inverse temperature of F = exp) must be a finite number > 0; got {beta}"
            )
    if "rule" in cfg and cfg["rule"] not in rule_names():
        raise ValueError(f"`rule` must be one of {rule_names()}; got {cfg['rule']!r}")
    if "max_steps" in cfg and cfg["max_steps"] < 1:
        raise ValueError(f"`max_steps` must be >= 1; got {cfg['max_steps']}")


def _check_retrieval(cfg):
    _check_model_params(cfg)
    if cfg["cues"] < 0:
        raise ValueError(f"`cues` must be >= 0 (0 = every memory); got {cfg['cues']}")
    if cfg["method"] not in ("exact", "bernoulli"):
        raise ValueError(f"`method` must be 'exact' or 'bernoulli'; got {cfg['method']!r}")


def _int_at_least(name, what, low):
    def check(value):
        if isinstance(value, int) and not isinstance(value, bool) and value < low:
            raise ValueError(f"`{name}` ({what}) must be >= {low}; got {value}")

    return check


def _check_rho(value):
    if isinstance(value, (int, float)) and not 0.0 <= value <= 1.0:
        raise ValueError(f"`rho` (fraction of flipped bits) must lie in [0, 1]; got {value}")


register_axis_check("N", _int_at_least("N", "number of neurons", 2))
register_axis_check("K", _int_at_least("K", "number of memories", 1))
register_axis_check("rho", _check_rho)

_MODEL = {"N": None, "K": None, "F": "poly", "n": 3, "beta": 1.0}
_TYPES = {"N": int, "K": int}
# the searches over K (capacity, k_half): the same model, K ranging over a pool of k_pool
_POOL_MODEL = {"N": None, "k_pool": None, "F": "poly", "n": 3, "beta": 1.0}
_POOL_TYPES = {"N": int, "k_pool": int}


@experiment(
    name="retrieval",
    params={**_MODEL, "rho": 0.1, "rule": "sync", "max_steps": 50, "cues": 0, "method": "exact"},
    types=_TYPES,
    validate=_check_retrieval,
)
def retrieval(config, key):
    """Retrieval of stored memories from cues with a fraction ``rho`` of flipped bits.

    ``cues`` = 0 cues every memory once; otherwise ``cues`` memories drawn at random. Returns the
    scalars of :func:`damjax.capacity.retrieval_stats` (``exact_rate``, ``bit_error_rate``,
    ``final_overlap``, ``nearest_overlap``, ``converged_rate``, ``mean_steps``).
    """
    kx, kc, kr, ks = jax.random.split(key, 4)
    K, N = config["K"], config["N"]
    X = random_binary(kx, K, N)
    model = BinaryDAM(X, make_interaction(config["F"], config["n"], config["beta"]))
    if config["cues"] == 0:
        targets = X
    else:
        targets = X[jax.random.randint(ks, (config["cues"],), 0, K)]
    cues = flip(kc, targets, config["rho"], method=config["method"])
    return retrieval_stats(
        model, cues, targets, rule=make_rule(config["rule"]), max_steps=config["max_steps"], key=kr
    )


@experiment(name="fixed_points", params=dict(_MODEL), types=_TYPES, validate=_check_model_params)
def fixed_points(config, key):
    """Share of the K stored memories that are fixed points of the update (``fixed_fraction``)
    and whether all are (``all_fixed``, the no-error capacity criterion)."""
    X = random_binary(key, config["K"], config["N"])
    frac = fixed_point_fraction(
        BinaryDAM(X, make_interaction(config["F"], config["n"], config["beta"]))
    )
    return {"fixed_fraction": frac, "all_fixed": (frac == 1.0).astype(jnp.float32)}


def _check_capacity(cfg):
    _check_model_params(cfg)
    if cfg["criterion"] not in ("stable", "retrieves"):
        raise ValueError(f"`criterion` must be 'stable' or 'retrieves'; got {cfg['criterion']!r}")
    if cfg["k_pool"] < 1:
        raise ValueError(f"`k_pool` (largest K tried) must be >= 1; got {cfg['k_pool']}")
    if not 0.0 <= cfg["threshold"] <= 1.0:
        raise ValueError(f"`threshold` must lie in [0, 1]; got {cfg['threshold']}")
    _check_patterns(cfg)


def _check_patterns(cfg):
    if cfg["patterns"] not in ("stored", "regenerated"):
        raise ValueError(
            f"`patterns` must be 'stored' (int8) or 'regenerated'; got {cfg['patterns']!r}"
        )
    if cfg["block_size"] < 0:
        raise ValueError(f"`block_size` must be >= 1 (0 = automatic); got {cfg['block_size']}")


def _pool(config, key):
    """The K_pool candidate patterns of a row: ``random_binary`` stored as int8 (the same
    patterns as the dense experiments), or regenerated from ``key`` block by block."""
    block = config["block_size"] or 1024
    if config["patterns"] == "regenerated":
        return RandomPatterns(key, config["k_pool"], config["N"], block_size=block)
    X = random_binary(key, config["k_pool"], config["N"])
    return StoredPatterns(X.astype(jnp.int8), block_size=block)


@experiment(
    name="capacity",
    params={
        **_POOL_MODEL,
        "criterion": "stable",
        "rho": 0.1,
        "threshold": 0.9,
        "rule": "sync",
        "max_steps": 50,
        "patterns": "stored",
        "block_size": 1024,
    },
    types=_POOL_TYPES,
    validate=_check_capacity,
)
def capacity(config, key):
    """Capacity by binary search over K in [1, ``k_pool``] (:func:`damjax.capacity.capacity_search`)
    for ``criterion`` "stable" (every memory a fixed point) or "retrieves" (share ``threshold``
    retrieved from ``rho``-corrupted cues). Returns ``capacity`` (K) and ``alpha`` (K / N^(n-1)
    for polynomial F, ln(K) / N for exponential F).

    "stable" runs on blocked fields (:func:`damjax.capacity.no_error_capacity`: one field per
    pattern, memory O(block x N); ``patterns`` "stored" = the same int8 pool, "regenerated" =
    never stored). "retrieves" is the exact dense search (every pattern cued)."""
    kx, ks = jax.random.split(key)
    N = config["N"]
    F = make_interaction(config["F"], config["n"], config["beta"])
    if config["criterion"] == "stable":
        src = _pool(config, kx)
        k, _ = _no_error_one(F, src, jnp.int32(1), jnp.int32(config["k_pool"]), 256)
        return {"capacity": k, "alpha": _alpha(config, k)}
    X = random_binary(kx, config["k_pool"], N)
    crit = Retrieves(
        rho=config["rho"],
        threshold=config["threshold"],
        rule=make_rule(config["rule"]),
        max_steps=config["max_steps"],
    )
    k = capacity_search(X[None], F, criterion=crit, key=ks)[0]
    return {"capacity": k, "alpha": _alpha(config, k)}


def _alpha(config, k):
    kf = k.astype(jnp.float32)
    if config["F"] == "exp":
        return jnp.log(jnp.maximum(kf, 1.0)) / config["N"]
    return kf / float(config["N"]) ** (config["n"] - 1)


def _check_k_half(cfg):
    _check_model_params(cfg)
    _check_patterns(cfg)
    if cfg["k_pool"] < 1:
        raise ValueError(f"`k_pool` (largest K tried) must be >= 1; got {cfg['k_pool']}")
    if not 1 <= cfg["k_min"] <= cfg["k_pool"]:
        raise ValueError(f"`k_min` must lie in [1, k_pool]; got {cfg['k_min']}")
    if cfg["starts"] not in ("cues", "random"):
        raise ValueError(f"`starts` must be 'cues' or 'random'; got {cfg['starts']!r}")
    if not 0.0 <= cfg["rho"] <= 1.0:
        raise ValueError(f"`rho` must lie in [0, 1]; got {cfg['rho']}")
    if not 0.0 < cfg["confidence"] < 1.0:
        raise ValueError(f"`confidence` must lie in (0, 1); got {cfg['confidence']}")
    _check_resolution(cfg["k_resolution"])
    need = probes_for_halfwidth(cfg["halfwidth"], cfg["confidence"])
    if cfg["probes"] != 0 and cfg["probes"] < need:
        raise ValueError(
            f"`probes` = {cfg['probes']} cannot give a {cfg['confidence']:.0%} interval of "
            f"half-width {cfg['halfwidth']} at rate 1/2: that needs >= {need} (0 = that many)"
        )


def _k_half_buckets(cfg) -> bool:
    """Asynchronous probes (run on size buckets of the pool, :func:`._sampled.async_buckets`):
    the rows of a batch then run in sequence, so that each row's K really picks its bucket."""
    return _bucketed(make_rule(cfg["rule"]), cfg["starts"], cfg["rho"])


@experiment(
    name="k_half",
    params={
        **_POOL_MODEL,
        "starts": "cues",
        "rho": 0.0,
        "rule": "sync",
        "max_steps": 50,
        "probes": 0,
        "halfwidth": 0.05,
        "confidence": 0.95,
        "k_min": 1,
        "patterns": "regenerated",
        "block_size": 0,
        "k_resolution": 0.0,
    },
    types=_POOL_TYPES,
    # rho, halfwidth and confidence choose the search and the probe count: static like the rest
    static=frozenset(
        "N k_pool F n starts rho rule max_steps probes halfwidth confidence k_min patterns "
        "block_size k_resolution".split()
    ),
    validate=_check_k_half,
    # k_resolution came after stored rows: at 0 it leaves their ids (and keys) as they were
    added={"k_resolution"},
    sequential=_k_half_buckets,
)
def k_half(config, key):
    """K_1/2, SAMPLED (:func:`damjax.capacity.sampled_k_half`): ``starts`` "cues" (memories
    with a fraction ``rho`` flipped, retrieved exactly) or "random" (random starts converging
    onto a memory), ``probes`` per candidate K (0 = enough for a Wilson half-width
    ``halfwidth`` at rate 1/2), K searched in [``k_min``, ``k_pool``]. ``block_size`` 0 picks
    k_pool / 512 (at least 16) for rho = 0 cues (then K lies on that grid) and 1024 otherwise.
    ``k_resolution`` > 0 stops the bisections at a relative bracket (see ``sampled_k_half``).

    Returns ``k_half``, its interval ``k_half_lower`` / ``k_half_upper``, ``resolved`` (1 when
    the interval lies inside [k_min, k_pool]; 0 means the pool cannot answer and the three
    values are censored at its ends), ``probes_used`` and ``resolution`` (the K grid step)."""
    kx, kp = jax.random.split(key)
    curve = config["starts"] == "cues" and config["rho"] == 0.0
    block = config["block_size"] or (max(16, config["k_pool"] // 512) if curve else 1024)
    cfg = dict(config, block_size=block)
    probes = config["probes"] or probes_for_halfwidth(config["halfwidth"], config["confidence"])
    probe = _Probe(
        F=make_interaction(config["F"], config["n"], config["beta"]),
        rule=make_rule(config["rule"]),
        rho=float(config["rho"]),
        num_probes=probes,
        max_steps=config["max_steps"],
        starts=config["starts"],
        method="exact",
        buckets=_k_half_buckets(config),
    )
    lo, hi = jnp.int32(config["k_min"]), jnp.int32(config["k_pool"])
    point, lower, upper, _, step = _k_half_one(
        probe, _pool(cfg, kx), kp, lo, hi, config["confidence"], rel=config["k_resolution"]
    )
    resolved = (lower >= lo) & (upper <= hi)
    return {
        "k_half": point,
        "k_half_lower": lower,
        "k_half_upper": upper,
        "resolved": resolved.astype(jnp.int32),
        "probes_used": jnp.int32(probes),
        "resolution": step,
    }
