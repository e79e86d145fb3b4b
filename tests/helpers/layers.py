"""Parse the imports of a package tree and report those that go to a higher layer."""

from __future__ import annotations

import ast
from pathlib import Path


def module_name(path: Path, root: Path, package: str) -> tuple[str, bool]:
    """``(dotted module name, is_package)`` of the file ``path`` under the package dir ``root``."""
    rel = path.relative_to(root).with_suffix("")
    parts = [package, *rel.parts]
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _exists(root: Path, package: str, dotted: str) -> bool:
    rel = dotted.split(".")[1:] if dotted != package else []
    base = root.joinpath(*rel) if rel else root
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports(path: Path, root: Path, package: str, aliases: dict) -> list[tuple[int, str]]:
    """``[(line, imported module)]`` for every import of ``package`` modules in ``path``
    (also those inside functions); old paths in ``aliases`` count as their new homes."""
    name, is_pkg = module_name(path, root, package)
    here = name if is_pkg else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                targets.append(sub if sub in aliases or _exists(root, package, sub) else mod)
        for t in targets:
            if t != package and not t.startswith(package + "."):
                continue
            for new in aliases.get(t, (t,)):
                if (node.lineno, new) not in out:
                    out.append((node.lineno, new))
    return out


def violations(root: Path, package: str, layer_of, layers, aliases) -> list[str]:
    """Every import in the tree ``root`` of a module from a higher layer, as readable lines."""
    found = []
    for path in sorted(root.rglob("*.py")):
        name, _ = module_name(path, root, package)
        mine = layer_of(name)
        for line, target in imports(path, root, package, aliases):
            theirs = layer_of(target)
            if theirs > mine:
                found.append(
                    f"{path.relative_to(root.parent)}:{line}: {name} (layer {layers[mine][0]}) "
                    f"imports {target} (layer {layers[theirs][0]})"
                )
    return found
