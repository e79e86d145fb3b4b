"""The layers of damjax, lowest first: the one place that says which module may import which.

A module may import from its own layer and from lower layers, never from a higher one
(``tests/test_layers.py`` parses every ``import`` in ``damjax/`` and fails otherwise). A module
path that is not listed belongs to the layer of its longest listed prefix. The package face
``damjax`` (``damjax/__init__.py``) re-exports everything and so sits at the top: nothing inside
the package may import from it (e.g. ``from .. import __version__``).

0. ``foundation`` — array types, argument validation, numerical constants, the version, the
   aliases of moved modules;
1. ``tools`` — model ingredients (:mod:`damjax.components`), pattern generators, datasets and
   the generic sweep engine: none of them knows a memory model;
2. ``models`` — memory models (energy, update, declared capabilities), no dynamics;
3. ``dynamics`` — rules and :func:`damjax.retrieve`, written against the models' interfaces;
4. ``analysis`` — capacity, states, learning, spherical codes, Hopfield layers: written against models and
   :func:`damjax.retrieve`; capacity registers the DAM experiments of the sweep engine;
5. ``application`` — reproductions, benchmarks, the command line and the package face.
"""

from __future__ import annotations

#: (layer name, module prefixes), lowest first.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "damjax._custom_types",
            "damjax._validation",
            "damjax._numerics",
            "damjax._version",
            "damjax._moved",
        ),
    ),
    ("tools", ("damjax.components", "damjax.patterns", "damjax.datasets", "damjax.sweep")),
    ("models", ("damjax.models",)),
    ("dynamics", ("damjax.dynamics",)),
    (
        "analysis",
        ("damjax.capacity", "damjax.states", "damjax.learning", "damjax.spherical", "damjax.nn"),
    ),
    (
        "application",
        (
            "damjax.reproduce",
            "damjax.benchmarks",
            "damjax.cli",
            "damjax._layers",
            "damjax",
        ),
    ),
)


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` of ``module`` (by its longest listed prefix).

    **Raises:** ``KeyError`` for a module outside every listed prefix.
    """
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    if best is None:
        raise KeyError(f"module {module!r} is in no layer of damjax._layers.LAYERS")
    return best
