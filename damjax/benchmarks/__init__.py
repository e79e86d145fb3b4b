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


def suites() -> dict:
    """``{suite_name: [run, ...]}`` of every benchmark module in this package."""
    found: dict[str, list] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        suite = getattr(mod, "SUITE", None)
        if suite is not None:
            found.setdefault(suite, []).append(mod.run)
    return found


def opt_in_suites() -> set[str]:
    """Names of the suites whose modules set ``OPT_IN = True`` (not run by ``--suite all``)."""
    out = set()
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if getattr(mod, "OPT_IN", False) and getattr(mod, "SUITE", None):
            out.add(mod.SUITE)
    return out
