"""The library never imports the application: reproductions are found without a top-level
``experiments`` package, from a checkout, an unrelated working folder and a built wheel."""

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import damjax
from damjax import reproduce

ROOT = Path(damjax.__file__).resolve().parent.parent
MODULES = sorted(p.stem for p in (ROOT / "experiments").glob("*.py") if not p.stem.startswith("_"))

PROBE = (
    "import sys, damjax\n"
    "assert 'experiments' not in sys.modules\n"
    "from damjax import reproduce\n"
    "names = list(reproduce.available())\n"
    "assert not any(m == 'experiments' or m.startswith('experiments.') for m in sys.modules)\n"
    "print(damjax.__file__)\n"
    "print(' '.join(names))\n"
)


def _probe(cwd, env_path=None):
    env = None
    if env_path is not None:
        import os

        env = {**os.environ, "PYTHONPATH": str(env_path)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    where, names = out.stdout.strip().splitlines()
    return where, names.split()


def test_every_module_is_discovered_from_the_checkout():
    reps = reproduce.available()
    assert len(reps) == len(MODULES) >= 12
    mods = {sys.modules[rep.run.__module__].__name__ for rep in reps.values()}
    assert mods == {f"{reproduce.PACKAGE}.{m}" for m in MODULES}


def test_a_working_folder_with_its_own_experiments_package(tmp_path):
    # before: a folder with its own `experiments/` shadowed ours and available() returned []
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "__init__.py").write_text("")
    _, names = _probe(tmp_path)
    assert names == list(reproduce.available())


def test_register_adds_a_reproduction():
    rep = reproduce.Reproduction(name="zz-test-only", paper="none", run=lambda out, quick: None)
    try:
        assert reproduce.register(rep) is rep
        assert reproduce.get("zz-test-only") is rep
    finally:
        reproduce._REGISTERED.pop("zz-test-only", None)
    with pytest.raises(TypeError, match="Reproduction"):
        reproduce.register("krotov2016-capacity")


@pytest.mark.slow
def test_the_wheel_has_no_top_level_experiments_and_finds_every_reproduction(tmp_path):
    if importlib.util.find_spec("hatchling") is None:
        args = []  # pip builds in an isolated environment (needs hatchling in pip's cache)
    else:
        args = ["--no-build-isolation"]
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)]
        + args,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("damjax-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = wheel.name.split("-py3")[0] + ".dist-info"
    assert {n.split("/")[0] for n in names} == {"damjax", dist_info}
    assert all(f"damjax/_experiments/{m}.py" in names for m in MODULES)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    (work / "experiments").mkdir(parents=True)
    (work / "experiments" / "__init__.py").write_text("")
    where, found = _probe(work, env_path=site)
    assert where.startswith(str(site))
    assert found == list(reproduce.available())
