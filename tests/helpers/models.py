"""Every model and rule of damjax, small, for contract tests.

``MODELS[name](key) -> model`` builds a model from a PRNG key only (so that
``eqx.filter_vmap(MODELS[name])(keys)`` gives a batch of models); ``CUES[name](key, B)`` gives B
valid cues for it. ``RULES`` holds one instance per rule configuration. ``compatible_pairs()``
lists the (model, rule) names that work together, decided by the rules' own declared
``check_model`` (never by a hand-kept table); ``differentiable(model, rule)`` says where a
gradient through ``retrieve(..., fixed_steps=True)`` is meaningful.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import damjax as dj

N = 16  # visible width of every model here
K = 6  # memories


def _binary(key):
    return jnp.where(jax.random.bernoulli(key, 0.5, (K, N)), 1.0, -1.0)


def _real(key):
    return jax.random.normal(key, (K, N)) / jnp.sqrt(N)


MODELS = {
    "binary_dam_poly": lambda k: dj.BinaryDAM(_binary(k), dj.Polynomial(3)),
    "binary_dam_exp": lambda k: dj.BinaryDAM(_binary(k), dj.Exponential(0.5)),
    "binary_dam_masked": lambda k: dj.BinaryDAM(
        _binary(k), dj.RectifiedPolynomial(4), mask=(jnp.arange(K) < K - 2).astype(jnp.float32)
    ),
    "hopfield": lambda k: dj.HopfieldNetwork(_binary(k)),
    "modern": lambda k: dj.ModernHopfield(_real(k) * 2.0, beta=2.0),
    "exp_dam": lambda k: dj.ExpDAM(_real(k), beta=2.0),
    "kernelized": lambda k: dj.KernelizedHopfield(_real(k), beta=2.0),
    "random_feature_dam": lambda k: dj.RandomFeatureDAM(
        _real(k), 2.0, num_features=64, key=jax.random.fold_in(k, 1)
    ),
    "lagrangian": lambda k: dj.LagrangianNetwork.model_b(jax.random.normal(k, (8, N)), 1.0),
}

BINARY = {"binary_dam_poly", "binary_dam_exp", "binary_dam_masked", "hopfield"}


def cues(name: str, key, batch: int, model=None):
    """B cues: random +-1 states for binary models; for continuous models with ``patterns``,
    noisy copies of the first memories (retrieval's regime), else small random vectors."""
    if name in BINARY:
        return jnp.where(jax.random.bernoulli(key, 0.5, (batch, N)), 1.0, -1.0)
    noise = jax.random.normal(key, (batch, N))
    if getattr(model, "patterns", None) is not None:
        return model.patterns[:batch] + 0.1 * noise / jnp.sqrt(N)
    return 0.5 * noise


RULES = {
    "sync": dj.Sync(),
    "onestep": dj.OneStep(),
    "async": dj.Async(),
    "async_random": dj.Async(order="random"),
    "euler": dj.Euler(0.2),
    "ode": dj.ODE(t1=5.0),
    "gradient": dj.GradientDescent(0.05),
}


def compatible(model, rule) -> bool:
    try:
        rule.check_model(model)
    except TypeError:
        return False
    return True


def compatible_pairs() -> list[tuple[str, str]]:
    key = jax.random.key(0)
    return [(m, r) for m in MODELS for r, rule in RULES.items() if compatible(MODELS[m](key), rule)]


#: continuous models whose energy is not smooth where retrieval goes: RandomFeatureDAM floors
#: its (signed, SinCos) kernel-sum estimate at ``floor`` inside the log, so its energy is constant
#: wherever the estimate is not positive, and unit gradient steps from a noisy memory land there.
NONSMOOTH = {"random_feature_dam"}


def differentiable(model_name: str, rule_name: str) -> bool:
    """A gradient w.r.t. the cue is meaningful: a continuous model with a smooth energy and a
    rule with the fixed-step (scan) mode (binary states have no gradient)."""
    if model_name in BINARY or model_name in NONSMOOTH:
        return False
    return RULES[rule_name].supports_fixed_steps
