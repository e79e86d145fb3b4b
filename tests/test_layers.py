"""The import-layer check: no module of damjax imports from a higher layer (damjax/_layers.py)."""

from pathlib import Path

import pytest
from helpers.layers import imports, violations

import damjax
from damjax._layers import LAYERS, layer_of
from damjax._moved import MOVED

ROOT = Path(damjax.__file__).parent


def test_no_module_imports_a_higher_layer():
    found = violations(ROOT, "damjax", layer_of, LAYERS, MOVED)
    assert not found, "imports against the layer order:\n" + "\n".join(found)


def test_every_module_has_a_layer():
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        layer_of(".".join(p for p in rel.parts if p != "__init__"))


def test_the_check_sees_a_violation(tmp_path):
    """A model importing dynamics, and a tool importing the package face, are both reported;
    relative, absolute, in-function and aliased (moved-module) imports are all parsed."""
    pkg = tmp_path / "damjax"
    for d in ("models", "dynamics", "sweep", "components"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("__version__ = '0'\n")
    (pkg / "components" / "interactions.py").write_text("")
    (pkg / "models" / "ok.py").write_text("from ..components import interactions\n")
    (pkg / "models" / "bad.py").write_text(
        "import jax\nfrom ..dynamics import retrieve\n\ndef f():\n    import damjax.dynamics\n"
    )
    (pkg / "sweep" / "bad.py").write_text("from .. import __version__\n")
    (pkg / "components" / "old.py").write_text("from ..interactions import F\n")
    aliases = {"damjax.interactions": ("damjax.components.interactions",)}
    found = violations(pkg, "damjax", layer_of, LAYERS, aliases)
    assert len(found) == 3, found
    assert any("models/bad.py:2" in f and "imports damjax.dynamics" in f for f in found)
    assert any("models/bad.py:5" in f for f in found)
    assert any("sweep/bad.py:1" in f and "imports damjax (layer application)" in f for f in found)
    seen = imports(pkg / "components" / "old.py", pkg, "damjax", aliases)
    assert seen == [(1, "damjax.components.interactions")]


def test_unknown_module_has_no_layer():
    with pytest.raises(KeyError, match="in no layer"):
        layer_of("numpy")
