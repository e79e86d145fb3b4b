"""Argument checks with messages that name the argument and say what was expected."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ._custom_types import is_concrete

_TRACED = [False]


def check_traced_values(enabled: bool = True) -> bool:
    """Also check *values* of traced inputs (under ``jit`` / ``vmap``), at run time.

    By default value checks (cues are +-1, patterns are +-1 / finite, cues of continuous models
    are finite) run only on concrete inputs; inside ``jit`` they cannot see the values, and a NaN
    cue would come back as a silent NaN. With this on, such inputs get an ``eqx.error_if`` check
    that raises at run time (an ``EquinoxRuntimeError`` naming the argument); it costs one
    reduction over the input. Takes effect for functions traced after the call. Returns the
    previous setting.
    """
    prev = _TRACED[0]
    _TRACED[0] = bool(enabled)
    return prev


def _traced_check(arr, bad, message: str):
    """``arr`` with an ``eqx.error_if(arr, bad(arr), message)`` attached when traced values are
    checked (see :func:`check_traced_values`) and ``arr`` is a tracer."""
    if _TRACED[0] and not is_concrete(arr):
        import equinox as eqx

        return eqx.error_if(arr, bad(arr), message)
    return arr


def _not_pm1(a):
    return jnp.any((a != 1) & (a != -1))


def _not_finite(a):
    return jnp.any(~jnp.isfinite(a))


def check_finite_values(x, name: str):
    """Traced ``x`` checked for NaN / inf at run time (only with :func:`check_traced_values`);
    concrete values are checked by the callers' own checks."""
    return _traced_check(x, _not_finite, f"`{name}` must contain only finite values")


class InputError(ValueError):
    """Bad input to damjax (an argument, a config file, a store folder): the message names it
    and says what was expected. A ``ValueError``, so ``except ValueError`` catches it (the
    command line turns it into one line and exit status 2)."""


class ExperimentOutputError(InputError, TypeError):
    """A sweep experiment returned something other than a non-empty dict of 0-d numbers (also a
    ``TypeError``, as before)."""


def check_binary_patterns(patterns, name: str = "patterns"):
    """Return ``patterns`` as a float array after checking it is a 2-D (K, N) array of +-1."""
    arr = patterns if hasattr(patterns, "shape") else np.asarray(patterns)
    if arr.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D array of shape (K, N) with entries +-1; got shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"`{name}` must hold at least one pattern (K >= 1); got K = 0")
    if arr.shape[1] == 0:
        raise ValueError(f"`{name}` must have at least one neuron (N >= 1); got N = 0")
    if is_concrete(arr):
        host = np.asarray(arr)
        if not np.all((host == 1) | (host == -1)):
            bad = host[~((host == 1) | (host == -1))]
            raise ValueError(
                f"`{name}` must contain only +1 and -1 values; found e.g. {bad.ravel()[:3].tolist()}"
            )
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = jnp.asarray(arr, dtype=jnp.float32)
    return _traced_check(jnp.asarray(arr), _not_pm1, f"`{name}` must contain only +1 and -1 values")


def check_state_width(state, n: int, name: str = "cues"):
    """Check that the last axis of ``state`` has length ``n`` (no silent broadcasting)."""
    shape = jnp.shape(state)
    if len(shape) == 0 or shape[-1] != n:
        raise ValueError(
            f"`{name}` must have last dimension N = {n} (the number of neurons); got shape {shape}"
        )


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value}")
    return int(value)


def _as_number(value, name: str):
    """``value`` unchanged if it is an array or tracer, else as a NumPy array; a clear TypeError
    naming ``name`` for anything that is not numeric (None, strings, objects)."""
    if not hasattr(value, "dtype"):
        try:
            value = np.asarray(value)
        except (TypeError, ValueError) as e:
            raise TypeError(f"`{name}` must be a number; got {value!r}") from e
    if not (jnp.issubdtype(value.dtype, jnp.number) or jnp.issubdtype(value.dtype, jnp.bool_)):
        raise TypeError(f"`{name}` must be a number; got {value!r}")
    return value


def check_finite_scalar(value, name: str, *, positive: bool = False, nonnegative: bool = False):
    """Check a (possibly traced) scalar; value checks only when concrete."""
    arr = _as_number(value, name)
    if jnp.ndim(arr) != 0:
        raise ValueError(f"`{name}` must be a scalar; got shape {jnp.shape(arr)}")
    if is_concrete(arr):
        v = float(np.asarray(arr))
        if not math.isfinite(v):
            raise ValueError(f"`{name}` must be a finite number; got {v}")
        if positive and v <= 0:
            raise ValueError(f"`{name}` must be > 0; got {v}")
        if nonnegative and v < 0:
            raise ValueError(f"`{name}` must be >= 0; got {v}")
    return value


def binary_state(state, dim: int, name: str = "cues"):
    """``state`` checked as states of a binary model of ``dim`` neurons (the width always, the
    +-1 values when concrete) and returned as float +-1 (bool: True -> +1): the one check behind
    every binary model's ``check_state`` / ``prepare_state``."""
    check_state_width(state, dim, name)
    return check_binary_values(state, name)


def check_pm1_dtype(dtype, name: str = "dtype"):
    """``dtype`` as a NumPy dtype that holds -1 and +1 exactly: a float or a signed integer type
    (an unsigned or bool type turns -1 into 255 / True)."""
    dt = jnp.dtype(dtype)
    if not (jnp.issubdtype(dt, jnp.floating) or jnp.issubdtype(dt, jnp.signedinteger)):
        raise TypeError(f"`{name}` must be a float or signed integer type (holds -1); got {dt}")
    return dt


def check_key(key, name: str = "key"):
    """Check that ``key`` is a JAX PRNG key (``jax.random.key(0)``, or a legacy uint32 (2,)
    ``jax.random.PRNGKey`` array); a clear TypeError otherwise (an int crashed inside JAX)."""
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        return key
    if dtype == jnp.uint32 and jnp.shape(key)[-1:] == (2,):
        return key
    raise TypeError(
        f"`{name}` must be a PRNG key from jax.random.key(seed) (e.g. jax.random.key(0)); "
        f"got {type(key).__name__} {key!r}"[:200]
    )


def check_binary_values(x, name: str = "cues"):
    """Check (when concrete) that every entry of ``x`` is +1 or -1 (NaN, inf, 0/1 and 0.5
    are rejected); bool arrays are converted (True -> +1, False -> -1), integer ones to float.
    Returns the float array."""
    arr = jnp.asarray(x)
    if arr.dtype == jnp.bool_:
        return jnp.where(arr, 1.0, -1.0).astype(jnp.result_type(float))
    if not (jnp.issubdtype(arr.dtype, jnp.number)):
        raise TypeError(f"`{name}` must be a numeric array of +-1; got dtype {arr.dtype}")
    if is_concrete(arr):
        host = np.asarray(arr)
        ok = (host == 1) | (host == -1)
        if not np.all(ok):
            raise ValueError(
                f"`{name}` must contain only +1 and -1 values (a binary model's states); found "
                f"e.g. {host[~ok].ravel()[:3].tolist()}"
            )
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float))
    return _traced_check(arr, _not_pm1, f"`{name}` must contain only +1 and -1 values")


def check_fraction(value, name: str = "rho"):
    value = _as_number(value, name)
    if jnp.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a scalar in [0, 1]; got shape {jnp.shape(value)}")
    if is_concrete(value):
        v = float(np.asarray(value))
        if not (0.0 <= v <= 1.0) or math.isnan(v):
            raise ValueError(f"`{name}` must lie in [0, 1]; got {v}")
    return value


def check_real(x, name: str):
    """A ``TypeError`` naming ``name`` for complex values (a cast to float would drop the
    imaginary part silently)."""
    if jnp.iscomplexobj(x):
        raise TypeError(f"`{name}` must be real; got dtype {jnp.result_type(x)}")


def as_real_float(x, name: str, dtype=None):
    """``x`` as a real floating array (:func:`check_real`); integer and bool arrays converted to
    ``dtype`` (default: the default float type)."""
    arr = jnp.asarray(x)
    check_real(arr, name)
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float) if dtype is None else dtype)
    return arr


def check_finite_array(x, name: str):
    """``x`` (any shape) refused when concrete and holding NaN / inf; traced values checked at
    run time under :func:`check_traced_values`."""
    if is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
        raise ValueError(f"`{name}` must contain only finite values; found NaN or inf")
    return check_finite_values(x, name)


def check_real_matrix(x, name: str, shape_doc: str):
    """Return ``x`` as a finite floating 2-D array with both dimensions >= 1."""
    arr = x if hasattr(x, "shape") else np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D array of shape {shape_doc}; got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"`{name}` must have both dimensions >= 1 {shape_doc}; got {arr.shape}")
    return check_finite_array(as_real_float(arr, name), name)


def check_positive_scalar(value, name: str, dtype=None):
    """``value`` as a float scalar array (``dtype``, default the default float) that must be a
    scalar, and finite and > 0 (checked when concrete; traced values pass through converted)."""
    value = _as_number(value, name)
    if jnp.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a scalar; got shape {jnp.shape(value)}")
    check_finite_scalar(value, name, positive=True)
    return jnp.asarray(value, dtype=jnp.result_type(float) if dtype is None else dtype)
