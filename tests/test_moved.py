"""Every moved module keeps its old import path (with a DeprecationWarning), and no file is left
at an old path."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import damjax
from damjax._moved import MOVED

# one public name per moved module (README names)
NAMES = {
    "damjax.interactions": "Polynomial",
    "damjax.lagrangians": "LogSumExp",
    "damjax.normalizers": "sparsemax",
    "damjax.feature_maps": "LinearMap",
    "damjax.random_features": "SinCos",
    "damjax.models.random_features": "RandomFeatureDAM",
    "damjax.dynamics.binary": "Async",
    "damjax.learning.classifier": "init_classifier",
}


def test_every_alias_is_covered():
    assert set(NAMES) == set(MOVED)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_works_and_warns(old):
    mod = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match="moved to"):
        obj = getattr(mod, NAMES[old])
    homes = [importlib.import_module(n) for n in MOVED[old]]
    assert any(getattr(h, NAMES[old], None) is obj for h in homes)
    root = Path(damjax.__file__).parent.parent
    rel = Path(*old.split("."))
    assert not rel.with_suffix(".py").exists() and not (root / rel).is_dir()
    with pytest.raises(AttributeError, match="no attribute"):
        mod.no_such_name  # noqa: B018


def test_old_paths_from_a_fresh_interpreter():
    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "import damjax\n"  # importing the package itself warns about nothing
        "warnings.simplefilter('ignore')\n"
        "import damjax.dynamics.binary, damjax.learning.classifier\n"
        "from damjax.interactions import Polynomial\n"
        "from damjax.learning import DAMClassifier, init_classifier, accuracy\n"
        "assert damjax.dynamics.binary.Sync is damjax.Sync\n"
        "assert DAMClassifier is damjax.models.DAMClassifier\n"
        "assert damjax.normalizers.softmax is damjax.components.normalizers.softmax\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
