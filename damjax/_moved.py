"""Old import paths of modules that moved, kept working as deprecated aliases.

A moved module leaves no file at its old path (so that edits made elsewhere follow the rename);
instead ``damjax/__init__.py`` registers a :class:`MovedModule` under the old name in
``sys.modules``. Attribute access from outside damjax warns with a ``DeprecationWarning`` naming
the new home; the objects are the very same (``damjax.interactions.Polynomial is
damjax.components.interactions.Polynomial``).
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings

#: old module path -> the module(s) that now hold its names, searched in order.
MOVED: dict[str, tuple[str, ...]] = {
    "damjax.interactions": ("damjax.components.interactions",),
    "damjax.lagrangians": ("damjax.components.lagrangians",),
    "damjax.normalizers": ("damjax.components.normalizers",),
    "damjax.feature_maps": ("damjax.components.feature_maps",),
    "damjax.random_features": ("damjax.components.random_features",),
    "damjax.models.random_features": ("damjax.models.random_feature_dam",),
    "damjax.dynamics.binary": ("damjax.dynamics.sync", "damjax.dynamics.async_"),
    "damjax.learning.classifier": ("damjax.models.classifier", "damjax.learning.training"),
}


class MovedModule(types.ModuleType):
    """A stand-in for a module that moved: forwards attribute access to its new home(s)."""

    def __init__(self, old: str, new: tuple[str, ...]):
        super().__init__(old, f"Deprecated alias of {', '.join(new)}.")
        self._damjax_new = new

    def _targets(self):
        return [importlib.import_module(n) for n in self._damjax_new]

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        for mod in self._targets():
            if hasattr(mod, name):
                caller = sys._getframe(1).f_globals.get("__name__", "")
                if not (caller == "damjax" or caller.startswith("damjax.")):
                    face = importlib.import_module("damjax")
                    also = " (or from the package face `damjax`)" if name in face.__all__ else ""
                    warnings.warn(
                        f"{self.__name__} moved to {mod.__name__}; import {name} from there{also}",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                return getattr(mod, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __dir__(self):
        names = set()
        for mod in self._targets():
            names.update(dir(mod))
        return sorted(names)


def register() -> None:
    """Put every old path into ``sys.modules`` (lazy: nothing is imported here)."""
    for old, new in MOVED.items():
        sys.modules.setdefault(old, MovedModule(old, new))


def bind_children(package: str) -> None:
    """Make the old paths below ``package`` reachable as its attributes (``import
    damjax.dynamics.binary; damjax.dynamics.binary``): called at the end of the ``__init__`` of
    each package that lost a module (the package face imports lazily, so it cannot bind them)."""
    register()
    for old in MOVED:
        parent, _, child = old.rpartition(".")
        if parent == package:
            setattr(sys.modules[parent], child, sys.modules[old])
