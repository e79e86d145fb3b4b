"""Shared jaxtyping aliases (one place, as in diffrax's ``_custom_types.py``)."""

from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray, Scalar

__all__ = [
    "Array",
    "ArrayLike",
    "Bool",
    "Float",
    "Int",
    "PRNGKeyArray",
    "Scalar",
    "is_concrete",
]


def is_concrete(x) -> bool:
    """True when ``x`` holds values (not a tracer inside jit/vmap/grad).

    Value checks (is every entry +-1? is beta finite?) run only on concrete inputs; shape checks
    run always.
    """
    import jax

    return not isinstance(x, jax.core.Tracer)
