"""Release hygiene: the lazy top-level namespace, the release files, and the sdist + wheel, built
with ``python -m build`` and installed into fresh virtual environments."""

import ast
import importlib.metadata
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import damjax

ROOT = Path(__file__).resolve().parent.parent


def test_every_public_name_resolves():
    for name in damjax.__all__:
        assert getattr(damjax, name) is not None, name
    assert set(damjax.__all__) <= set(dir(damjax))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        damjax.nope  # noqa: B018


def test_type_checking_imports_match_the_lazy_tables():
    tree = ast.parse((ROOT / "damjax" / "__init__.py").read_text())
    block = next(
        n
        for n in tree.body
        if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"
    )
    modules, names = set(), {}
    for node in block.body:
        if isinstance(node, ast.AnnAssign):  # __version__: str
            assert node.target.id == "__version__"
            continue
        assert isinstance(node, ast.ImportFrom) and node.level == 1
        for alias in node.names:
            assert alias.asname == alias.name  # explicit re-export
            if node.module is None:
                modules.add(alias.name)
            else:
                names[alias.name] = node.module
    assert modules == set(damjax._SUBMODULES)
    assert names == damjax._WHERE


def test_import_damjax_loads_no_jax():
    code = "import sys, damjax; print(sorted(m for m in ('jax', 'equinox') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_is_single_sourced():
    meta = importlib.metadata.version("damjax")
    assert damjax.__version__ == meta
    assert not hasattr(damjax, "version")  # importlib.metadata.version no longer leaks
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{meta}"' in pyproject
    assert f"version: {meta}" in (ROOT / "CITATION.cff").read_text()


def test_release_files_present():
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    cff = (ROOT / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in cff and "license: Apache-2.0" in cff
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "Keep a Changelog" in changelog and f"## [{damjax.__version__}]" in changelog
    assert (ROOT / "damjax" / "py.typed").is_file()


def _fresh_venv(where: Path) -> Path:
    """A venv without pip that sees this environment's dependencies (not its damjax)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # dependencies (jax, numpy, ...) from the test environment; a path in a .pth file does not
    # run that folder's own .pth files, so the editable damjax of the test environment stays out
    (Path(site) / "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


SMOKE = """
import pathlib, sys
import jax, damjax as dj
assert pathlib.Path(dj.__file__).resolve().is_relative_to(pathlib.Path(sys.prefix).resolve()), dj.__file__
X = dj.patterns.random_binary(jax.random.key(0), 4, 32)
out = dj.retrieve(dj.BinaryDAM(X, dj.Polynomial(3)), X)
assert bool((out.states == X).all()) and bool(out.converged.all())
from damjax import reproduce
assert "krotov2016-capacity" in reproduce.available()
assert (pathlib.Path(dj.__file__).parent / "py.typed").is_file()
print("SMOKE OK", dj.__version__)
"""


@pytest.mark.slow
def test_sdist_and_wheel_install_and_run(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("damjax-*.whl")
    (sdist,) = dist.glob("damjax-*.tar.gz")
    names = zipfile.ZipFile(wheel).namelist()
    assert "damjax/py.typed" in names
    # the reproductions ship as the private damjax._experiments, never as a top-level package
    assert "damjax/_experiments/krotov2016_capacity.py" in names
    assert not any(n.startswith("experiments/") for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XLA_FLAGS")}
    for artifact in (wheel, sdist):
        python = _fresh_venv(tmp_path / artifact.name.replace(".", "_"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(python),
                "install",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                str(artifact),
            ],
            check=True,
            env=env,
        )
        r = subprocess.run(
            [str(python), "-c", SMOKE], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert r.returncode == 0 and "SMOKE OK" in r.stdout, r.stderr
        cli = python.parent / "damjax"
        r = subprocess.run([str(cli), "--version"], capture_output=True, text=True, env=env)
        assert r.stdout.strip() == f"damjax {damjax.__version__}", r.stderr
