"""Per-point experiments ``(config, key) -> {name: scalar}`` and their registry.

An :class:`Experiment` wraps such a function with a parameter schema (names, types, defaults) and
says which parameters are *static* (they fix array shapes or Python control flow: N, K, degree n,
rule names) and which are *dynamic* (numbers that may be traced: beta, rho, ...). The engine
batches every (point, seed) that shares its static values into one vmapped, compiled call; the
dynamic values arrive as traced scalars.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "Experiment",
    "experiment",
    "get_experiment",
    "register_axis_check",
    "registered_experiments",
]

_REGISTRY: dict[str, Experiment] = {}

_TYPES = (bool, int, float, str)


#: axis name -> checks ``check(value) -> None`` raising ``ValueError`` (see
#: :func:`register_axis_check`); the engine itself knows no axis names.
_AXIS_CHECKS: dict[str, list[Callable[[Any], None]]] = {}


def register_axis_check(name: str, check: Callable[[Any], None]) -> None:
    """Validate every value of the parameter ``name`` of every experiment with ``check``.

    For conventions shared by a family of experiments: :mod:`damjax.capacity` registers the
    checks of ``N`` (neurons >= 2), ``K`` (memories >= 1) and ``rho`` (a fraction in [0, 1]).
    ``check(value)`` raises ``ValueError`` with a message naming the parameter; the engine adds
    which grid point it was.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string; got {name!r}")
    if not callable(check):
        raise TypeError(f"`check` must be callable; got {check!r}")
    _AXIS_CHECKS.setdefault(name, []).append(check)


def _check_axes(name: str, value: Any, where: str) -> None:
    for check in _AXIS_CHECKS.get(name, ()):
        try:
            check(value)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None


@dataclasses.dataclass(frozen=True, eq=False)
class Experiment:
    """A per-point experiment for :func:`damjax.sweep.run`.

    **Fields:**

    * ``fn`` — ``fn(config, key) -> {name: scalar}``; ``config`` maps every parameter to its value
      (static ones as Python values, dynamic ones as traced 0-d arrays), ``key`` is a PRNG key
      unique to the (point, seed) row (see ``Grid(common_keys=...)``). Must be traceable by JAX
      (it is vmapped and jitted); returns 0-d numbers.
    * ``name`` — registry / ``experiment = "..."`` name; also written to every row.
    * ``params`` — ``{name: default}``; the default's type is the parameter's type (``float``
      accepts ints). ``None`` as default makes the parameter required (type from ``types``).
      ``params=None`` accepts any axis (types inferred from the values).
    * ``types`` — ``{name: type}`` for required parameters (and to override inference).
    * ``static`` — names of the static parameters; by default every non-float parameter.
    * ``validate`` — optional ``validate(config) -> None`` raising ``ValueError`` for a bad point
      (runs on every point before any work).
    * ``added`` — parameters added to ``params`` after rows were stored: at their default value
      they are left out of the point's id (:meth:`identity`), so a point that does not use them
      keeps the id, and hence the key and the stored rows, it had before they existed.
    * ``sequential`` — optional ``sequential(static_config) -> bool``: True runs the rows of a
      batch one after another (``lax.map``; under a device mesh, per device shard) instead of
      vmapped, for an ``fn`` whose data-dependent control flow (``lax.switch`` / ``cond`` on a
      traced value) should branch rather than become a select that runs every branch. The rows
      are the same either way (up to float rounding); only the cost changes.
    """

    fn: Callable[[dict, Any], Mapping[str, Any]]
    name: str
    params: Mapping[str, Any] | None = None
    types: Mapping[str, type] = dataclasses.field(default_factory=dict)
    static: frozenset[str] | None = None
    validate: Callable[[dict], None] | None = None
    added: frozenset[str] = frozenset()
    sequential: Callable[[dict], bool] | None = None

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"`fn` must be callable; got {self.fn!r}")
        if self.sequential is not None and not callable(self.sequential):
            raise TypeError(f"`sequential` must be None or callable; got {self.sequential!r}")
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"`name` must be a non-empty string; got {self.name!r}")
        if self.params is not None:
            for k, d in self.params.items():
                if d is None and k not in self.types:
                    raise TypeError(f"required parameter `{k}` needs a type in `types`")
                if d is not None and not isinstance(d, _TYPES):
                    raise TypeError(f"default of `{k}` must be a bool/int/float/str; got {d!r}")
        if self.static is not None:
            object.__setattr__(self, "static", frozenset(self.static))
        object.__setattr__(self, "added", frozenset(self.added))
        if self.added and (self.params is None or not self.added <= set(self.params)):
            raise TypeError(f"`added` must name parameters with defaults; got {sorted(self.added)}")

    def identity(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The part of a resolved ``config`` that identifies its point (the input of
        :func:`damjax.sweep.point_id`): all of it, less the ``added`` parameters at their
        default."""
        return {
            k: v
            for k, v in config.items()
            if not (k in self.added and self.params is not None and v == self.params[k])
        }

    def __call__(self, config, key):
        return self.fn(config, key)

    def runs_sequentially(self, static_config: Mapping[str, Any]) -> bool:
        """Whether the engine maps this group's rows in sequence (``sequential``)."""
        return self.sequential is not None and bool(self.sequential(dict(static_config)))

    def param_type(self, name: str, value: Any = None) -> type:
        if name in self.types:
            return self.types[name]
        if self.params is not None and self.params.get(name) is not None:
            return type(self.params[name])
        return type(value)

    def is_static(self, name: str, value: Any) -> bool:
        if name == "seed":
            return False
        if self.static is not None:
            if name in self.static:
                return True
            if self.params is not None and name in self.params:
                return False
        return self.param_type(name, value) is not float

    def resolve(self, point: Mapping[str, Any], where: str = "point") -> dict[str, Any]:
        """Full config of a grid point: defaults filled in, types checked and normalised.

        **Raises:** ``ValueError`` naming the field for unknown axes, missing required
        parameters, wrong types, values refused by a registered axis check
        (:func:`register_axis_check`), or the experiment's own checks.
        """
        config: dict[str, Any] = {}
        if self.params is not None:
            unknown = [k for k in point if k not in self.params]
            if unknown:
                raise ValueError(
                    f"{where}: unknown axis {unknown[0]!r} for experiment {self.name!r}; "
                    f"its parameters are {sorted(self.params)}"
                )
            for k, d in self.params.items():
                if k in point:
                    config[k] = point[k]
                elif d is None:
                    raise ValueError(
                        f"{where}: experiment {self.name!r} needs parameter `{k}` (an axis or a "
                        f"fixed value)"
                    )
                else:
                    config[k] = d
        else:
            config.update(point)
        for k, v in config.items():
            t = self.param_type(k, v)
            if t is float and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            if type(v) is not t:
                raise TypeError(
                    f"{where}: `{k}` must be of type {t.__name__}; got {v!r} ({type(v).__name__})"
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{where}: `{k}` must be finite; got {v}")
            _check_axes(k, v, where)
            config[k] = v
        if self.validate is not None:
            try:
                self.validate(config)
            except (ValueError, TypeError) as e:
                raise type(e)(f"{where}: {e}") from None
        return config


def experiment(
    fn: Callable | None = None,
    *,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    types: Mapping[str, type] | None = None,
    static=None,
    validate: Callable[[dict], None] | None = None,
    register: bool = True,
    added=(),
    sequential: Callable[[dict], bool] | None = None,
):
    """Decorator turning ``fn(config, key) -> dict`` into an :class:`Experiment` (and registering
    it under ``name``, default ``fn.__name__``, so TOML configs can name it).

    Usage::

        @damjax.sweep.experiment(params={"N": None, "K": None, "rho": 0.1},
                                 types={"N": int, "K": int})
        def my_retrieval(config, key): ...
    """

    def wrap(f):
        exp = Experiment(
            fn=f,
            name=name or f.__name__,
            params=dict(params) if params is not None else None,
            types=dict(types or {}),
            static=frozenset(static) if static is not None else None,
            validate=validate,
            added=frozenset(added),
            sequential=sequential,
        )
        if register:
            _REGISTRY[exp.name] = exp
        return exp

    return wrap(fn) if fn is not None else wrap


#: Entry-point group of modules that register experiments when imported (damjax's own:
#: ``damjax.capacity``, declared in pyproject.toml). They are imported on the first look-up, so
#: the engine names no model and ``import damjax.sweep`` stays light.
ENTRY_POINT_GROUP = "damjax.sweep_experiments"
_PROVIDERS_LOADED = False


def _load_providers() -> None:
    global _PROVIDERS_LOADED
    if _PROVIDERS_LOADED:
        return
    _PROVIDERS_LOADED = True
    import importlib.metadata

    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        importlib.import_module(ep.value)


def registered_experiments() -> dict[str, Experiment]:
    """The registered experiments, by name: those registered with :func:`experiment`, and those
    of the modules named in the entry-point group ``damjax.sweep_experiments`` (imported on the
    first call; damjax's own DAM experiments come from :mod:`damjax.capacity` this way)."""
    _load_providers()
    return dict(sorted(_REGISTRY.items()))


def get_experiment(spec: str | Experiment | Callable) -> Experiment:
    """An :class:`Experiment` from a registered name, ``"module:function"`` or a callable.

    **Raises:** ``ValueError`` naming the ``experiment`` field when it cannot be resolved.
    """
    if isinstance(spec, Experiment):
        return spec
    if callable(spec):
        return Experiment(fn=spec, name=getattr(spec, "__name__", "experiment"))
    if not isinstance(spec, str) or not spec:
        raise TypeError(f"`experiment` must be a name, 'module:function' or callable; got {spec!r}")
    reg = registered_experiments()
    if spec in reg:
        return reg[spec]
    if ":" not in spec:
        raise ValueError(
            f"`experiment` = {spec!r} is not a registered experiment ({', '.join(reg)}) "
            f"and not of the form 'module:function'"
        )
    mod_name, _, attr = spec.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ValueError(f"`experiment` = {spec!r}: cannot import module {mod_name!r} ({e})") from e
    obj = getattr(mod, attr, None)
    if obj is None:
        raise ValueError(f"`experiment` = {spec!r}: module {mod_name!r} has no attribute {attr!r}")
    if isinstance(obj, Experiment):
        return obj
    if callable(obj):
        return Experiment(fn=obj, name=spec)
    raise ValueError(f"`experiment` = {spec!r} is neither an Experiment nor callable")
