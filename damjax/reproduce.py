"""The reproduction framework behind ``damjax reproduce``.

Each reproduction is one module in the ``experiments/`` folder of the repository that defines::

    REPRODUCTION = Reproduction(name="krotov2016-capacity", paper="Krotov & Hopfield 2016, ...",
                                run=run)

    def run(out: pathlib.Path, *, quick: bool) -> Outcome: ...

``run`` computes (usually through :mod:`damjax.sweep`), draws its figures into ``out`` with
matplotlib, and returns an :class:`Outcome` with named :class:`Check` results. The framework times
it and writes ``out/summary.json``::

    {"name", "paper",
     "checks": {name: {"measured", "expected", "tolerance", "passed", "source", "cite"}},
     "protocol", "deviations", "runtime_s", "config", "quick", "figures", "notes", "passed",
     "provenance"}

``provenance`` records the damjax / jax / jaxlib versions, the device kind and count, the git
commit when run from a checkout, the UTC timestamp, the exact command line and the seeds (see
:func:`damjax._report.provenance`). Figures are saved with :func:`save_figure` (PNG at 150 dpi and
a PDF beside it); :func:`stage` tells the progress display what a reproduction is doing.

``expected`` holds the paper's value (or the paper's qualitative claim as a string). Each check
says where its ``expected`` comes from (``source``):

* ``"paper"`` — a number or claim stated in the paper; ``cite`` names the section, figure, table
  or code file;
* ``"theory"`` — damjax's own evaluation of the paper's formula (``cite`` names the formula);
* ``"ours"`` — a threshold of our own (``cite`` says why it was chosen).

``protocol`` describes what the paper did (sizes, dynamics, criterion, with the section / figure /
code file it comes from) and ``deviations`` lists every place the reproduction departs from it,
each ``{"what": ..., "why": ...}``. A reproduction that misses the paper reports
``passed: false`` for that check; nothing is faked.

Discovery (the library never imports a top-level package named ``experiments``): the modules of
``experiments/`` are imported as the private package ``damjax._experiments``. An installed wheel
carries them there (``pyproject.toml`` maps the folder into the wheel); from a checkout or an
editable install they are loaded by path from the ``experiments/`` folder next to ``damjax/``.
Other packages add reproductions through the entry-point group ``damjax.reproductions`` (each
entry point names a :class:`Reproduction` or a module with ``REPRODUCTION``), or at run time with
:func:`register`.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import json
import math
import pkgutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._records import load_record, outcome_pattern, results_table, sync_readme, write_record
from ._report import progress as _progress
from ._report import provenance as _provenance
from ._report import save_figure as save_figure
from ._report import stage as stage
from ._report import write_index as _write_index
from ._validation import InputError

__all__ = [
    "Check",
    "Outcome",
    "Reproduction",
    "SOURCES",
    "available",
    "get",
    "load_record",
    "outcome_pattern",
    "register",
    "results_table",
    "run",
    "run_all",
    "save_figure",
    "stage",
    "sync_readme",
    "write_record",
]

#: Where a check's ``expected`` value comes from (see the module docstring).
SOURCES = ("paper", "theory", "ours")


def _jsonable(x):
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return _jsonable(np.asarray(x).tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


@dataclasses.dataclass(frozen=True)
class Check:
    """One comparison with the paper. ``passed`` is computed by the caller from ``measured``."""

    measured: Any
    expected: Any
    tolerance: Any
    passed: bool
    source: str = "paper"
    cite: str = ""

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"Check source must be one of {SOURCES}, got {self.source!r}")

    @classmethod
    def close(
        cls, measured: float, expected: float, tolerance: float, *, source="paper", cite=""
    ) -> Check:
        """``|measured - expected| <= tolerance``."""
        measured = float(measured)
        ok = math.isfinite(measured) and abs(measured - expected) <= tolerance
        return cls(measured, expected, tolerance, bool(ok), source, cite)

    @classmethod
    def at_least(cls, measured: float, bound: float, *, source="paper", cite="") -> Check:
        measured = float(measured)
        ok = math.isfinite(measured) and measured >= bound
        return cls(measured, f">= {bound}", None, bool(ok), source, cite)

    @classmethod
    def at_most(cls, measured: float, bound: float, *, source="paper", cite="") -> Check:
        measured = float(measured)
        ok = math.isfinite(measured) and measured <= bound
        return cls(measured, f"<= {bound}", None, bool(ok), source, cite)

    @classmethod
    def holds(cls, measured: Any, expected: str, passed: bool, *, source="paper", cite="") -> Check:
        """A qualitative claim of the paper (``expected``) and what was measured."""
        return cls(measured, expected, None, bool(passed), source, cite)

    def to_json(self) -> dict:
        return {
            "measured": _jsonable(self.measured),
            "expected": _jsonable(self.expected),
            "tolerance": _jsonable(self.tolerance),
            "passed": bool(self.passed),
            "source": self.source,
            "cite": self.cite,
        }


@dataclasses.dataclass
class Outcome:
    checks: dict[str, Check]
    config: dict[str, Any]
    figures: list[str] = dataclasses.field(default_factory=list)
    notes: str = ""
    #: What the paper did: e.g. {"source": "Sec. 3, Fig. 2", "sizes": ..., "dynamics": ...,
    #: "criterion": ...}.
    protocol: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Each departure from ``protocol``: {"what": ..., "why": ...}.
    deviations: list[dict[str, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Reproduction:
    name: str
    paper: str
    run: Callable[..., Outcome]
    description: str = ""


#: The package name under which the reproduction modules are imported.
PACKAGE = "damjax._experiments"
#: Entry-point group through which other distributions add reproductions.
ENTRY_POINT_GROUP = "damjax.reproductions"

_REGISTERED: dict[str, Reproduction] = {}


def register(rep: Reproduction) -> Reproduction:
    """Add a reproduction at run time (e.g. from a notebook or a plug-in); returns ``rep``.

    **Raises:** ``TypeError`` if ``rep`` is not a :class:`Reproduction`.
    """
    if not isinstance(rep, Reproduction):
        raise TypeError(f"`rep` must be a damjax.reproduce.Reproduction; got {rep!r}")
    _REGISTERED[rep.name] = rep
    return rep


def _experiments_folder() -> Path:
    """The ``experiments/`` folder of a checkout: next to the ``damjax/`` package directory."""
    return Path(__file__).resolve().parent.parent / "experiments"


def _experiments_package():
    """The reproduction modules as the package :data:`PACKAGE`, or ``None`` when there are none
    (an installed wheel has them inside damjax; a checkout has the ``experiments/`` folder)."""
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    if importlib.util.find_spec(PACKAGE) is not None:  # installed from a wheel
        return importlib.import_module(PACKAGE)
    folder = _experiments_folder()
    init = folder / "__init__.py"
    if not init.is_file():
        return None
    spec = importlib.util.spec_from_file_location(
        PACKAGE, init, submodule_search_locations=[str(folder)]
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[PACKAGE]
        raise
    return mod


def _from_entry_points() -> dict[str, Reproduction]:
    found = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        rep = obj if isinstance(obj, Reproduction) else getattr(obj, "REPRODUCTION", None)
        if not isinstance(rep, Reproduction):
            raise TypeError(
                f"entry point {ep.name!r} of group {ENTRY_POINT_GROUP!r} must name a Reproduction "
                f"or a module defining REPRODUCTION; got {obj!r}"
            )
        found[rep.name] = rep
    return found


def _discover() -> dict[str, Reproduction]:
    found = {}
    pkg = _experiments_package()
    if pkg is not None:
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("_"):
                continue
            mod = importlib.import_module(f"{PACKAGE}.{info.name}")
            rep = getattr(mod, "REPRODUCTION", None)
            if isinstance(rep, Reproduction):
                found[rep.name] = rep
    found.update(_from_entry_points())
    found.update(_REGISTERED)
    return dict(sorted(found.items()))


def available() -> dict[str, Reproduction]:
    """All reproductions, by name."""
    return _discover()


class UnknownReproduction(InputError, KeyError):
    """No reproduction of that name: a ``ValueError`` (the command line prints one line, exit 2)
    and, as before, a ``KeyError``."""

    __str__ = ValueError.__str__  # the message, not KeyError's quoted repr


def get(name: str) -> Reproduction:
    """The reproduction ``name``. **Raises:** :class:`UnknownReproduction` listing the names."""
    reps = _discover()
    if name not in reps:
        raise UnknownReproduction(f"unknown reproduction {name!r}; available: {', '.join(reps)}")
    return reps[name]


def _last_runtime(out: Path, quick: bool) -> float | None:
    """The runtime of the previous run of the same size in ``out`` (for the progress estimate)."""
    try:
        prev = json.loads((out / "summary.json").read_text())
        return float(prev["runtime_s"]) if bool(prev.get("quick")) == quick else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run(
    name: str,
    out: str | Path,
    *,
    quick: bool = False,
    progress: bool = False,
    argv: list[str] | None = None,
) -> dict:
    """Run one reproduction into ``out/`` and write ``out/summary.json``; returns the summary.

    **Arguments:** ``name`` — a name from :func:`available`; ``out`` — the output folder;
    ``quick`` — reduced size; ``progress`` — print stage lines with the elapsed time (and an
    estimate from the last run in ``out``) to stderr; ``argv`` — the command line recorded in
    ``provenance`` (default ``sys.argv``).

    **Raises:** ``KeyError`` for an unknown name.
    """
    rep = get(name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with _progress(rep.name, enabled=progress, estimate_s=_last_runtime(out, quick)):
        outcome = rep.run(out, quick=quick)
    runtime = time.perf_counter() - t0
    summary = {
        "name": rep.name,
        "paper": rep.paper,
        "checks": {k: c.to_json() for k, c in outcome.checks.items()},
        "protocol": _jsonable(outcome.protocol),
        "deviations": _jsonable(outcome.deviations),
        "runtime_s": runtime,
        "config": _jsonable(outcome.config),
        "quick": quick,
        "figures": list(outcome.figures),
        "notes": outcome.notes,
        "passed": all(c.passed for c in outcome.checks.values()),
        "provenance": _jsonable(_provenance(outcome.config, argv=argv)),
    }
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2))
    tmp.replace(out / "summary.json")
    return summary


def run_all(
    out: str | Path,
    *,
    quick: bool = False,
    names=None,
    progress: bool = False,
    argv: list[str] | None = None,
    on_summary: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Run every reproduction into ``out/NAME/`` and write ``out/index.md`` and ``out/index.html``
    (a report with every check and the figures inline).

    ``on_summary(summary)`` is called after each reproduction (the CLI prints its result there).
    """
    out = Path(out)
    summaries = []
    for n in names or available():
        summaries.append(run(n, out / n, quick=quick, progress=progress, argv=argv))
        if on_summary is not None:
            on_summary(summaries[-1])
    _write_index(out, summaries)
    return summaries
