"""The DAM experiments of the sweep engine, registered on import of :mod:`damjax.capacity` and
usable by name from Python and TOML (``experiment = "retrieval"``).

Shared parameters: ``N`` (neurons), ``K`` (memories), ``F`` ("poly" = x^n, "rect" = rectified
x^n, "exp" = exp(beta x)), ``n`` (degree), ``beta`` (exponential F only), ``rule`` (a name of
:func:`damjax.dynamics.rule_names`: "sync", "async", "async-random", "onestep"),
``max_steps``. Memories are i.i.d. uniform +-1 drawn from the row's key.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..components.interactions import Exponential, Polynomial, RectifiedPolynomial
from ..dynamics import rule_from_name, rule_names
from ..models import BinaryDAM
from ..patterns import flip, random_binary
from ..sweep import experiment, register_axis_check
from ._measure import fixed_point_fraction, retrieval_stats
from ._search import Retrieves, Stable, capacity_search

__all__ = ["make_interaction", "make_rule"]

_F_NAMES = ("poly", "rect", "exp")


def make_interaction(name: str, n: int, beta=1.0):
    """Interaction function from its config name: ``poly`` / ``rect`` (degree ``n``) or ``exp``."""
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


@experiment(
    name="capacity",
    params={
        "N": None,
        "k_pool": None,
        "F": "poly",
        "n": 3,
        "beta": 1.0,
        "criterion": "stable",
        "rho": 0.1,
        "threshold": 0.9,
        "rule": "sync",
        "max_steps": 50,
    },
    types={"N": int, "k_pool": int},
    validate=_check_capacity,
)
def capacity(config, key):
    """Capacity by binary search over K in [1, ``k_pool``] (:func:`damjax.capacity.capacity_search`)
    for ``criterion`` "stable" (every memory a fixed point) or "retrieves" (share ``threshold``
    retrieved from ``rho``-corrupted cues). Returns ``capacity`` (K) and ``alpha`` (K / N^(n-1)
    for polynomial F, ln(K) / N for exponential F)."""
    kx, ks = jax.random.split(key)
    N = config["N"]
    X = random_binary(kx, config["k_pool"], N)
    F = make_interaction(config["F"], config["n"], config["beta"])
    if config["criterion"] == "stable":
        crit = Stable()
    else:
        crit = Retrieves(
            rho=config["rho"],
            threshold=config["threshold"],
            rule=make_rule(config["rule"]),
            max_steps=config["max_steps"],
        )
    k = capacity_search(X[None], F, criterion=crit, key=ks)[0]
    kf = k.astype(jnp.float32)
    if config["F"] == "exp":
        alpha = jnp.log(jnp.maximum(kf, 1.0)) / N
    else:
        alpha = kf / float(N) ** (config["n"] - 1)
    return {"capacity": k, "alpha": alpha}
