"""MkDocs hooks of the damjax documentation (``hooks:`` in mkdocs.yml).

* The API reference pages (``api/*.md``) are generated from the package's public names: the
  ``from .x import NAME as NAME`` re-exports and ``__all__`` of each public module, read with
  :mod:`ast` (nothing is imported), one ``::: damjax.module.NAME`` block each. A public name added
  or moved is documented without editing a page.
* One page per reproduction (``reproductions/NAME.md``) and an index, generated from the
  committed outcome records (``experiments/results/default.json``, else ``quick.json``) and, when
  ``DAMJAX_DOCS_RESULTS`` names the output folder of ``damjax reproduce all --out DIR``, the full
  summaries there (protocol, deviations, figures). Numbers come from those files, never from the
  pages.
* The notebooks' navigation is built from ``notebooks/*.ipynb`` (titles: their first heading).
* reST roles left in docstrings (``:class:`X```) are shown as code.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "damjax"

# public modules documented in the API reference, in the order of the navigation
API_MODULES = {
    "damjax": "Top level: models, interactions, dynamics",
    "damjax.patterns": "Patterns and cues",
    "damjax.capacity": "Capacity and theory",
    "damjax.sweep": "Sweeps and the store",
    "damjax.learning": "Training",
    "damjax.learning.sequential": "Sequential learning",
    "damjax.states": "Stable states",
    "damjax.datasets": "Datasets",
    "damjax.components.interactions": "Interaction functions",
    "damjax.components.normalizers": "Normalizers",
    "damjax.components.lagrangians": "Lagrangians",
    "damjax.components.random_features": "Random features",
    "damjax.components.feature_maps": "Feature maps",
    "damjax.nn": "Hopfield layers",
    "damjax.spherical": "Spherical codes",
    "damjax.reproduce": "Reproduction framework",
}


# ----------------------------------------------------------------------------- public names


def _module_file(module: str) -> Path:
    parts = module.split(".")[1:]
    base = PKG.joinpath(*parts)
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def public_names(module: str) -> list[tuple[str, str]]:
    """``(name, defining module)`` of the public names of ``module``, read statically."""
    path = _module_file(module)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    declared = None
    body = list(tree.body)
    for node in tree.body:  # the TYPE_CHECKING block of a lazy __init__
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            body += node.body
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            for a in node.names:
                if a.asname == a.name and not a.name.startswith("_"):
                    if node.module is None:
                        continue  # a submodule: it has its own page
                    names[a.name] = module
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, (ast.List, ast.Tuple))
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        ):
            declared = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            names.setdefault(node.name, module)
    if declared is not None:
        names = {n: module for n in declared if n != "__version__"}
    return sorted(names.items(), key=lambda kv: (not kv[0][:1].isupper(), kv[0].lower()))


def _api_page(module: str, title: str) -> str:
    lines = [
        f"# {title}",
        "",
        f"::: {module}",
        "    options:",
        "      members: false",
        "      show_root_heading: false",
        "",
    ]
    for name, _ in public_names(module):
        lines += [f"::: {module}.{name}", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- reproductions


def _reproductions() -> dict[str, dict]:
    """``{name: {"paper", "doc", "module"}}`` of the experiments package, read statically (the
    same parser as ``damjax reproduce --help``)."""
    from damjax import _names as cli

    folder = ROOT / "experiments"
    found = {}
    for path in sorted(folder.glob("*.py")):
        tree = None if path.name.startswith("_") else cli._parse(path)
        call = None if tree is None else cli._assigned(tree, "REPRODUCTION")
        if not isinstance(call, ast.Call):
            continue
        kw = {k.arg: k.value for k in call.keywords}
        name = cli._string(kw.get("name"), tree, folder)
        if name:
            found[name] = {
                "paper": cli._string(kw.get("paper"), tree, folder) or "",
                "doc": ast.get_docstring(tree) or "",
                "module": path.name,
            }
    return dict(sorted(found.items()))


def _record() -> tuple[dict, str] | tuple[None, None]:
    for kind in ("default", "quick"):
        path = ROOT / "experiments" / "results" / f"{kind}.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8")), f"experiments/results/{kind}.json"
    return None, None


def _summaries() -> tuple[dict, Path | None]:
    where = os.environ.get("DAMJAX_DOCS_RESULTS")
    if not where:
        return {}, None
    root = Path(where)
    found = {}
    for path in sorted(root.glob("*/summary.json")):
        s = json.loads(path.read_text(encoding="utf-8"))
        found[s["name"]] = s
    return found, root


def _fmt(x) -> str:
    from damjax._report import _fmt as fmt

    return fmt(x).replace("|", "\\|").replace("\n", " ")


def _repro_page(name: str, info: dict, entry: dict | None, source: str | None, summary) -> str:
    lines = [f"# {name}", "", f"**Paper:** {info['paper']}", ""]
    if info["doc"]:
        lines += [info["doc"], ""]
    lines += [f"Run it: `damjax reproduce {name} --out results/{name}` (add `--quick` for the", ""]
    lines[-2] += " reduced size). Module: `experiments/" + info["module"] + "`."
    run = summary or entry
    if run is None:
        lines += [
            "!!! note",
            "    No recorded run of this reproduction was found when these pages were built",
            "    (`experiments/results/default.json` / `quick.json`).",
            "",
        ]
        return "\n".join(lines)
    origin = (
        "the run in `DAMJAX_DOCS_RESULTS`"
        if summary is not None
        else f"`{source}`"
        + (f" (command: `{entry.get('command')}`)" if entry.get("command") else "")
    )
    passed = run.get("passed")
    lines += [
        "## Checks",
        "",
        f"From {origin}: **{'PASS' if passed else 'MISS'}**"
        + (f", runtime {_fmt(run['runtime_s'])} s." if "runtime_s" in run else "."),
        "",
        "| check | measured | expected | outcome | source | cite |",
        "|---|---|---|---|---|---|",
    ]
    for k, c in run.get("checks", {}).items():
        outcome = c.get("outcome") or ("PASS" if c.get("passed") else "MISS")
        cells = [
            k,
            c.get("measured"),
            c.get("expected"),
            outcome,
            c.get("source", ""),
            c.get("cite", ""),
        ]
        lines.append("| " + " | ".join(_fmt(v) for v in cells) + " |")
    lines.append("")
    protocol = run.get("protocol")
    if protocol:
        lines += ["## Protocol of the paper", ""]
        lines += [f"* **{k}:** {_fmt(v)}" for k, v in protocol.items()]
        lines.append("")
    deviations = run.get("deviations")
    if deviations:
        lines += ["## Deviations from the paper", ""]
        for d in deviations:
            lines.append(f"* {d.get('what', '')} — *why:* {d.get('why', '')}")
        lines.append("")
    if summary is not None and summary.get("figures"):
        lines += ["## Figures", ""]
        lines += [f"![{f}](figures/{name}/{f})" for f in summary["figures"]]
        lines.append("")
    if run.get("notes"):
        lines += ["## Notes", "", run["notes"], ""]
    return "\n".join(lines)


def _repro_index(reps: dict, record: dict | None, source: str | None, summaries: dict) -> str:
    lines = [
        "# Reproductions",
        "",
        "Each page below is generated from the recorded runs when the documentation is built"
        + (
            f" (`{source}`" + (" and `DAMJAX_DOCS_RESULTS`" if summaries else "") + ")."
            if source
            else "."
        ),
        "See [Reproductions](../concepts/reproductions.md) for the framework.",
        "",
        "| reproduction | paper | outcome |",
        "|---|---|---|",
    ]
    for name, info in reps.items():
        run = summaries.get(name) or ((record or {}).get("reproductions", {}).get(name))
        outcome = "—" if run is None else ("PASS" if run.get("passed") else "MISS")
        if run is not None:
            checks = run.get("checks", {})
            ok = sum(
                1
                for c in checks.values()
                if (c.get("outcome") or ("PASS" if c.get("passed") else "MISS")) == "PASS"
            )
            outcome += f" ({ok}/{len(checks)} checks)"
        lines.append(f"| [{name}]({name}.md) | {_fmt(info['paper'])} | {outcome} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- mkdocs events

_STATE: dict = {}


def _notebook_title(path: Path) -> str:
    """The first Markdown heading of a notebook (else its file name)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", [])).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem.replace("_", " ")


def on_config(config):
    reps = _reproductions()
    _STATE["reps"] = reps
    nav = config["nav"]
    for section in nav:
        if isinstance(section, dict) and "API reference" in section:
            section["API reference"] = [
                {title: f"api/{module}.md"} for module, title in API_MODULES.items()
            ]
        if isinstance(section, dict) and "Notebooks" in section:
            section["Notebooks"] = [
                {_notebook_title(path): f"notebooks/{path.name}"}
                for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
            ]
        if isinstance(section, dict) and "Reproductions" in section:
            section["Reproductions"] = ["reproductions/index.md"] + [
                {name: f"reproductions/{name}.md"} for name in reps
            ]
    return config


def on_files(files, config):
    for module, title in API_MODULES.items():
        files.append(File.generated(config, f"api/{module}.md", content=_api_page(module, title)))
    reps = _STATE["reps"]
    record, source = _record()
    summaries, root = _summaries()
    files.append(
        File.generated(
            config, "reproductions/index.md", content=_repro_index(reps, record, source, summaries)
        )
    )
    for name, info in reps.items():
        entry = (record or {}).get("reproductions", {}).get(name)
        summary = summaries.get(name)
        page = _repro_page(name, info, entry, source, summary)
        files.append(File.generated(config, f"reproductions/{name}.md", content=page))
        if summary is not None:
            for fig in summary.get("figures", []):
                path = root / name / fig
                if path.is_file():
                    files.append(
                        File.generated(
                            config,
                            f"reproductions/figures/{name}/{fig}",
                            abs_src_path=str(path),
                        )
                    )
    return files


_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj|math|ref):\s*(?=<code)")


def on_page_content(html, page, config, files):
    return _ROLE.sub("", html)
