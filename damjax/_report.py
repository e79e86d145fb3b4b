"""What ``damjax reproduce`` writes and shows besides the checks: provenance, figures, progress,
``index.md`` and ``index.html``. Used by :mod:`damjax.reproduce`; public names are re-exported
there (:func:`save_figure`, :func:`stage`)."""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import html
import math
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["FIGURE_DPI", "provenance", "progress", "save_figure", "stage", "write_index"]

#: Resolution of the PNG figures of a reproduction (the PDF beside it is vector).
FIGURE_DPI = 150


# ----------------------------------------------------------------------------- provenance


def _git_commit(where: Path) -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the git checkout containing ``where``, or None."""
    try:
        top = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if top.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return {"commit": top.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def _seeds(config: Any, prefix: str = "") -> dict[str, Any]:
    """Every entry of ``config`` (nested dicts) whose name mentions a seed, by dotted path."""
    found: dict[str, Any] = {}
    if isinstance(config, dict):
        for k, v in config.items():
            path = f"{prefix}{k}"
            if "seed" in str(k).lower():
                found[path] = v
            elif isinstance(v, dict):
                found.update(_seeds(v, path + "."))
    return found


def provenance(config: dict | None = None, *, argv: list[str] | None = None) -> dict[str, Any]:
    """Where and how a result was computed (written into ``summary.json`` as ``provenance``).

    **Returns:** ``{"damjax_version", "jax_version", "jaxlib_version", "platform",
    "device_kind", "device_count", "git_commit", "git_dirty", "timestamp_utc", "command_line",
    "python_version", "seeds"}``. ``git_commit`` is the commit of the checkout damjax runs from
    (``None`` for an installed package); ``seeds`` lists every seed entry of ``config`` (the
    reproduction's recorded configuration) by its dotted name.
    """
    import jax
    import jaxlib

    from . import __version__

    devices = jax.devices()
    git = _git_commit(Path(__file__).resolve().parent)
    argv = sys.argv if argv is None else argv
    prog = Path(argv[0]).name if argv else "python"
    return {
        "damjax_version": __version__,
        "jax_version": jax.__version__,
        "jaxlib_version": getattr(jaxlib, "__version__", None) or jaxlib.version.__version__,
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "git_commit": None if git is None else git["commit"],
        "git_dirty": None if git is None else git["dirty"],
        "timestamp_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command_line": shlex.join([prog, *argv[1:]]),
        "python_version": sys.version.split()[0],
        "seeds": _seeds(config or {}),
    }


# ----------------------------------------------------------------------------- progress

_CURRENT: contextvars.ContextVar[_Progress | None] = contextvars.ContextVar(
    "damjax_progress", default=None
)


class _Progress:
    """Stage lines with elapsed time on stderr, and a heartbeat while a stage runs long."""

    def __init__(self, name: str, estimate_s: float | None, heartbeat_s: float, stream):
        self.name, self.estimate_s, self.stream = name, estimate_s, stream
        self.t0 = time.perf_counter()
        self.stage = "starting"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        if heartbeat_s > 0:
            self._thread = threading.Thread(target=self._beat, args=(heartbeat_s,), daemon=True)

    def _eta(self, elapsed: float) -> str:
        if self.estimate_s is None:
            return ""
        left = self.estimate_s - elapsed
        if left > 0:
            return f", about {_duration(left)} left (last run took {_duration(self.estimate_s)})"
        return f", past the last run's {_duration(self.estimate_s)}"

    def line(self, text: str) -> None:
        elapsed = time.perf_counter() - self.t0
        with self._lock:
            print(f"[{_duration(elapsed):>7}] {self.name}: {text}", file=self.stream, flush=True)

    def set(self, text: str) -> None:
        self.stage = text
        self.line(text)

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            elapsed = time.perf_counter() - self.t0
            self.line(f"still {self.stage}{self._eta(elapsed)}")

    def __enter__(self):
        self.set(f"running{self._eta(0.0)}")
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d} min" if m < 60 else f"{m // 60}:{m % 60:02d} h"


@contextlib.contextmanager
def progress(
    name: str,
    *,
    enabled: bool = True,
    estimate_s: float | None = None,
    heartbeat_s: float = 30.0,
    stream=None,
) -> Iterator[None]:
    """Report the stages of a reproduction while the block runs (see :func:`stage`).

    Prints ``[elapsed] NAME: stage`` lines to ``stream`` (stderr), and every ``heartbeat_s``
    seconds a ``still <stage>`` line with the estimate of the time left (from ``estimate_s``,
    the last run's runtime, when known). ``enabled=False``: silent.
    """
    if not enabled:
        token = _CURRENT.set(None)
        try:
            yield
        finally:
            _CURRENT.reset(token)
        return
    with _Progress(name, estimate_s, heartbeat_s, stream or sys.stderr) as p:
        token = _CURRENT.set(p)
        try:
            yield
        finally:
            _CURRENT.reset(token)


def stage(text: str) -> None:
    """Tell the running reproduction's progress display what it is doing now (``"sweep 2/3"``).

    A no-op outside ``damjax reproduce`` (or with ``--quiet``)."""
    p = _CURRENT.get()
    if p is not None:
        p.set(text)


# ----------------------------------------------------------------------------- figures


def save_figure(fig, path: str | Path, *, dpi: int = FIGURE_DPI, vector: str = "pdf") -> str:
    """Save a reproduction's figure as ``path`` (PNG, ``dpi`` >= 150) and as a vector file
    beside it (``vector`` = ``"pdf"`` or ``"svg"``, same stem), then close it.

    **Arguments:** ``fig`` — a matplotlib figure; ``path`` — the PNG file (``out / "name.png"``);
    ``dpi`` — PNG resolution (at least 150); ``vector`` — the vector format.

    **Returns:** the PNG's file name (what :class:`~damjax.reproduce.Outcome` lists in
    ``figures``).
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"`path` must name a .png file; got {str(path)!r}")
    if dpi < 150:
        raise ValueError(f"`dpi` must be >= 150; got {dpi}")
    if vector not in ("pdf", "svg"):
        raise ValueError(f"`vector` must be 'pdf' or 'svg'; got {vector!r}")
    fig.savefig(path, dpi=dpi)
    fig.savefig(path.with_suffix(f".{vector}"))
    plt.close(fig)
    stage(f"saved figure {path.name}")
    return path.name


# ----------------------------------------------------------------------------- index files


def _fmt(x: Any) -> str:
    """A number rounded for reading (4 significant digits); other values as they are."""
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
            return f"{x:.3e}"
        return f"{x:.4g}"
    if isinstance(x, (list, tuple)):
        shown = ", ".join(_fmt(v) for v in x[:8])
        return f"[{shown}{', ...' if len(x) > 8 else ''}]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in list(x.items())[:8]) + "}"
    return str(x)


def _md_cell(x: Any) -> str:
    return _fmt(x).replace("|", "\\|").replace("\n", " ")


def _index_md(summaries: list[dict]) -> str:
    lines = ["# damjax reproductions", ""]
    for s in summaries:
        mark = "PASS" if s["passed"] else "MISS"
        lines += [f"## {s['name']} — {mark}", "", f"*{s['paper']}* ({_fmt(s['runtime_s'])} s)", ""]
        lines += ["| check | measured | expected | passed | source |", "|---|---|---|---|---|"]
        for k, c in s["checks"].items():
            cells = [k, c["measured"], c["expected"], c["passed"], c.get("source", "")]
            lines.append("| " + " | ".join(_md_cell(v) for v in cells) + " |")
        lines.append("")
        for fig in s["figures"]:
            lines.append(f"![{fig}]({s['name']}/{fig})")
        if s["notes"]:
            lines += ["", s["notes"]]
        lines.append("")
    return "\n".join(lines)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
.pass { color: #1a7f37; } .miss { color: #cf222e; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
"""


def _index_html(summaries: list[dict]) -> str:
    e = html.escape
    n_pass = sum(s["passed"] for s in summaries)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>damjax reproductions</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>damjax reproductions</h1>",
        f"<p>{n_pass} of {len(summaries)} reproductions pass all their checks.</p>",
        "<ul>",
    ]
    for s in summaries:
        cls, mark = ("pass", "PASS") if s["passed"] else ("miss", "MISS")
        parts.append(
            f'<li><a href="#{e(s["name"])}">{e(s["name"])}</a> '
            f'<span class="{cls}">{mark}</span></li>'
        )
    parts.append("</ul>")
    for s in summaries:
        cls, mark = ("pass", "PASS") if s["passed"] else ("miss", "MISS")
        parts += [
            f'<section id="{e(s["name"])}">',
            f'<h2>{e(s["name"])} — <span class="{cls}">{mark}</span></h2>',
            f"<p><em>{e(s['paper'])}</em> ({e(_fmt(s['runtime_s']))} s)</p>",
            "<table><tr><th>check</th><th>measured</th><th>expected</th><th>passed</th>"
            "<th>source</th></tr>",
        ]
        for k, c in s["checks"].items():
            ok = "pass" if c["passed"] else "miss"
            cells = [c["measured"], c["expected"]]
            parts.append(
                f"<tr><td>{e(k)}</td>"
                + "".join(f"<td>{e(_fmt(v))}</td>" for v in cells)
                + f'<td class="{ok}">{e(str(c["passed"]))}</td>'
                + f"<td>{e(str(c.get('source', '')))} {e(str(c.get('cite', '')))}</td></tr>"
            )
        parts.append("</table>")
        for fig in s["figures"]:
            parts.append(
                f'<figure><img src="{e(s["name"])}/{e(fig)}" alt="{e(fig)}">'
                f"<figcaption>{e(fig)}</figcaption></figure>"
            )
        if s.get("deviations"):
            parts.append("<h3>Deviations from the paper</h3><ul>")
            for d in s["deviations"]:
                what = d.get("what", "") if isinstance(d, dict) else str(d)
                why = d.get("why", "") if isinstance(d, dict) else ""
                parts.append(f"<li>{e(str(what))}" + (f" — {e(str(why))}" if why else "") + "</li>")
            parts.append("</ul>")
        if s.get("notes"):
            parts.append(f"<p>{e(s['notes'])}</p>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_index(out: str | Path, summaries: list[dict]) -> tuple[Path, Path]:
    """Write ``out/index.md`` and ``out/index.html`` (figures inline, paths relative to ``out``)
    for the summaries of a ``reproduce all`` run. **Returns:** the two paths."""
    out = Path(out)
    md, page = out / "index.md", out / "index.html"
    for path, text in ((md, _index_md(summaries)), (page, _index_html(summaries))):
        tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return md, page
