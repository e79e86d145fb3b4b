"""Benchmarks behind ``damjax bench``: ratios of times measured in one run, never absolute floors.

Each module in this package defines ``SUITE = "name"`` and ``run(quick: bool) -> dict`` returning
JSON-ready values (ratios, times, shapes). Modules are discovered automatically. A module with
``OPT_IN = True`` (a long run) is left out of ``damjax bench --suite all`` and runs only when
named.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._timing import median_time as median_time


def _modules():
    """Every public benchmark module of this package, imported."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{__name__}.{info.name}")


def suites() -> dict:
    """``{suite_name: [run, ...]}`` of every benchmark module in this package."""
    found: dict[str, list] = {}
    for mod in _modules():
        suite = getattr(mod, "SUITE", None)
        if suite is not None:
            found.setdefault(suite, []).append(mod.run)
    return found


def opt_in_suites() -> set[str]:
    """Names of the suites whose modules set ``OPT_IN = True`` (not run by ``--suite all``)."""
    return {
        mod.SUITE
        for mod in _modules()
        if getattr(mod, "OPT_IN", False) and getattr(mod, "SUITE", None)
    }
