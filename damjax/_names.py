"""Names the command line lists without importing the modules that define them: benchmark
suites (``SUITE = "..."``) and reproductions (``REPRODUCTION = Reproduction(name=..., paper=...)``),
read from the module files with :mod:`ast`. Used by ``damjax bench --help``,
``damjax reproduce --help`` / ``--list`` and the documentation build."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

__all__ = ["bench_suites", "reproduction_names"]


def _package_dir(candidates: tuple[str, ...]) -> Path | None:
    """The folder of the first importable package in ``candidates``, without importing it."""
    for name in candidates:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.submodule_search_locations:
            return Path(next(iter(spec.submodule_search_locations)))
    return None


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, ValueError):
        return None


def _assigned(tree: ast.Module, variable: str) -> ast.expr | None:
    for node in tree.body:
        targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == variable for t in targets):
            return node.value
    return None


def _string(node: ast.expr | None, tree: ast.Module, folder: Path, depth: int = 0) -> str | None:
    """The value of a string expression made of literals and module-level names (also names
    imported from a sibling module: ``from ._hu2024 import PAPER``)."""
    if node is None or depth > 4:
        return None
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = (_string(n, tree, folder, depth + 1) for n in (node.left, node.right))
        return None if a is None or b is None else a + b
    if isinstance(node, ast.Name):
        value = _assigned(tree, node.id)
        if value is not None:
            return _string(value, tree, folder, depth + 1)
        for imp in tree.body:
            if isinstance(imp, ast.ImportFrom) and imp.level == 1 and imp.module:
                if any((a.asname or a.name) == node.id for a in imp.names):
                    other = _parse(folder / f"{imp.module}.py")
                    if other is not None:
                        return _string(_assigned(other, node.id), other, folder, depth + 1)
    return None


def _module_constants(folder: Path | None, variable: str) -> list[tuple[ast.expr, ast.Module]]:
    """``(value, module)`` of each assignment to ``variable`` at the top level of each public
    module in ``folder``."""
    found = []
    if folder is None:
        return found
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = _parse(path)
        value = None if tree is None else _assigned(tree, variable)
        if value is not None:
            found.append((value, tree))
    return found


def bench_suites() -> list[str]:
    """Benchmark suite names (``SUITE = "..."`` of each module), read without importing them."""
    folder = _package_dir(("damjax.benchmarks", "benchmarks"))
    names = {_string(v, tree, folder) for v, tree in _module_constants(folder, "SUITE")}
    return sorted(n for n in names if n)


def bench_opt_in_suites() -> list[str]:
    """Suites whose module sets ``OPT_IN = True`` (left out of ``--suite all``), read without
    importing them."""
    folder = _package_dir(("damjax.benchmarks", "benchmarks"))
    names = set()
    for value, tree in _module_constants(folder, "OPT_IN"):
        if isinstance(value, ast.Constant) and value.value is True:
            suite = _assigned(tree, "SUITE")
            name = None if suite is None else _string(suite, tree, folder)
            if name:
                names.add(name)
    return sorted(names)


def reproduction_names() -> dict[str, str]:
    """``{name: paper}`` of every reproduction (``REPRODUCTION = Reproduction(name=..., paper=...)``
    of each module of the experiments package), read without importing the modules."""
    folder = _package_dir(("experiments", "damjax.experiments"))
    found = {}
    for call, tree in _module_constants(folder, "REPRODUCTION"):
        if not isinstance(call, ast.Call):
            continue
        kw = {k.arg: k.value for k in call.keywords}
        name = _string(kw.get("name"), tree, folder)
        if name:
            found[name] = _string(kw.get("paper"), tree, folder) or ""
    return dict(sorted(found.items()))
