"""The documentation site: pages generated from real records, and ``mkdocs build --strict``."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e .[docs])")


def _hooks():
    spec = importlib.util.spec_from_file_location("damjax_docs_hooks", ROOT / "docs" / "hooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_api_pages_list_every_public_name():
    import damjax

    hooks = _hooks()
    top = {name for name, _ in hooks.public_names("damjax")}
    assert top == set(damjax._WHERE)  # the lazy namespace's names, nothing more or less
    sweep_names = {name for name, _ in hooks.public_names("damjax.sweep")}
    assert {"summarize", "plot", "export", "run", "Grid", "load"} <= sweep_names
    page = hooks._api_page("damjax.sweep", "Sweeps")
    assert "::: damjax.sweep.summarize" in page


def test_reproduction_page_shows_the_recorded_run(tmp_path, monkeypatch):
    """A real run (a reproduction of the test suite's own) -> summary.json -> its page."""
    from damjax import reproduce
    from damjax.reproduce import Check, Outcome, Reproduction

    def run(out, *, quick):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([1, 2], [3, 4])
        value = sum(range(5)) / 3  # computed, shown rounded on the page
        return Outcome(
            {"ratio": Check.close(value, 3.0, 0.5, source="theory", cite="eq. 1")},
            config={"seed": 0},
            figures=[reproduce.save_figure(fig, out / "f.png")],
            protocol={"sizes": "N = 10"},
            deviations=[{"what": "smaller N", "why": "speed"}],
        )

    rep = Reproduction(name="toy-repro", paper="Toy 2024", run=run)
    monkeypatch.setattr(reproduce, "_discover", lambda: {"toy-repro": rep})
    summary = reproduce.run_all(tmp_path, names=["toy-repro"])[0]
    monkeypatch.setenv("DAMJAX_DOCS_RESULTS", str(tmp_path))
    hooks = _hooks()
    summaries, root = hooks._summaries()
    assert summaries["toy-repro"] == json.loads(
        (tmp_path / "toy-repro" / "summary.json").read_text()
    )
    info = {"paper": "Toy 2024", "doc": "What it shows.", "module": "toy.py"}
    page = hooks._repro_page("toy-repro", info, None, None, summaries["toy-repro"])
    assert "| ratio | 3.333 | 3 | PASS | theory | eq. 1 |" in page
    assert summary["checks"]["ratio"]["measured"] == pytest.approx(10 / 3)
    assert "* smaller N — *why:* speed" in page and "**sizes:** N = 10" in page
    assert "![f.png](figures/toy-repro/f.png)" in page
    index = hooks._repro_index({"toy-repro": info}, None, None, summaries)
    assert "[toy-repro](toy-repro.md)" in index and "PASS (1/1 checks)" in index


def test_reproduction_page_from_an_outcome_record():
    hooks = _hooks()
    entry = {
        "command": "damjax reproduce all --record r.json",
        "passed": False,
        "runtime_s": 12.0,
        "checks": {
            "k_half": {
                "outcome": "MISS",
                "measured": 0.123456,
                "expected": 0.2,
                "source": "paper",
                "cite": "Fig. 2",
            }
        },
    }
    info = {"paper": "P", "doc": "", "module": "m.py"}
    page = hooks._repro_page("x", info, entry, "experiments/results/default.json", None)
    assert "| k_half | 0.1235 | 0.2 | MISS | paper | Fig. 2 |" in page
    assert (
        "`experiments/results/default.json` (command: `damjax reproduce all --record r.json`)"
        in page
    )
    assert "**MISS**" in page


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAMJAX_DOCS_RESULTS"}
    r = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    site = tmp_path / "site"
    assert (site / "api" / "damjax" / "index.html").is_file()
    assert (site / "reproductions" / "krotov2016-capacity" / "index.html").is_file()
    assert (site / "notebooks" / "quickstart" / "index.html").is_file()
    api = (site / "api" / "damjax.sweep" / "index.html").read_text()
    assert "damjax.sweep.summarize" in api
