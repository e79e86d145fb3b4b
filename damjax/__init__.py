"""damjax: Dense Associative Memories in JAX.

Public API (import from here or from the public subpackages, never from private modules):

* interaction functions: :class:`Polynomial`, :class:`RectifiedPolynomial`, :class:`Exponential`;
* models: :class:`BinaryDAM`, :class:`HopfieldNetwork`, :class:`ModernHopfield`,
  :class:`LagrangianNetwork`, :class:`KernelizedHopfield`, :class:`ExpDAM`,
  :class:`RandomFeatureDAM`;
* dynamics: :func:`retrieve` with rules :class:`Sync`, :class:`Async`, :class:`OneStep`,
  :class:`Euler`, :class:`ODE`, :class:`GradientDescent`; :func:`trajectory`;
* modules: :mod:`damjax.patterns`, :mod:`damjax.capacity`, :mod:`damjax.sweep`,
  :mod:`damjax.learning`, :mod:`damjax.states`, :mod:`damjax.datasets`,
  :mod:`damjax.normalizers`, :mod:`damjax.spherical`, :mod:`damjax.lagrangians`,
  :mod:`damjax.random_features`, :mod:`damjax.reproduce`.
"""


# Imports are lazy (PEP 562): ``import damjax`` loads no JAX, so ``damjax --help`` and
# ``damjax --version`` answer at once. A public name is imported on first access. Type checkers
# read the same names from the ``TYPE_CHECKING`` block below; tests/test_package.py checks that
# the block and the tables agree.

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING

#: Public subpackages and modules, imported on first access.
_SUBMODULES = (
    "capacity",
    "datasets",
    "lagrangians",
    "learning",
    "normalizers",
    "patterns",
    "random_features",
    "reproduce",
    "spherical",
    "states",
    "sweep",
)

#: Public names, by the module that defines them.
_ATTRIBUTES = {
    "dynamics": (
        "ODE",
        "AbstractRule",
        "Async",
        "Euler",
        "GradientDescent",
        "OneStep",
        "Retrieval",
        "Sync",
        "retrieve",
        "trajectory",
    ),
    "feature_maps": ("AbstractFeatureMap", "IdentityMap", "LinearMap", "MLPMap", "NormalizedMap"),
    "interactions": (
        "AbstractHomogeneous",
        "AbstractInteraction",
        "Exponential",
        "Polynomial",
        "RectifiedPolynomial",
    ),
    "models": (
        "AbstractBinaryMemory",
        "AbstractContinuousMemory",
        "AbstractMemory",
        "AbstractPatternMemory",
        "BinaryDAM",
        "ExpDAM",
        "HopfieldNetwork",
        "KernelizedHopfield",
        "LagrangianNetwork",
        "ModernHopfield",
        "RandomFeatureDAM",
    ),
    "normalizers": ("AbstractNormalizer", "Entmax", "Entmax15", "Softmax", "Sparsemax"),
    "random_features": ("AbstractRandomFeatures", "Cos", "Orthogonal", "PositiveExp", "SinCos"),
}
_WHERE = {name: module for module, names in _ATTRIBUTES.items() for name in names}

__all__ = sorted((*_SUBMODULES, *_WHERE, "__version__"))


def _package_version() -> str:
    """The installed distribution's version (single source: ``project.version`` in
    pyproject.toml), read from the package metadata on first access of ``__version__``."""
    import importlib.metadata

    try:
        return importlib.metadata.version("damjax")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source tree
        return "0.0.0+unknown"


def __getattr__(name: str):
    if name == "__version__":
        value = _package_version()
    elif name in _SUBMODULES:
        value = _importlib.import_module(f".{name}", __name__)
    elif name in _WHERE:
        value = getattr(_importlib.import_module(f".{_WHERE[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'damjax' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    __version__: str
    from . import capacity as capacity
    from . import datasets as datasets
    from . import lagrangians as lagrangians
    from . import learning as learning
    from . import normalizers as normalizers
    from . import patterns as patterns
    from . import random_features as random_features
    from . import reproduce as reproduce
    from . import spherical as spherical
    from . import states as states
    from . import sweep as sweep
    from .dynamics import ODE as ODE
    from .dynamics import AbstractRule as AbstractRule
    from .dynamics import Async as Async
    from .dynamics import Euler as Euler
    from .dynamics import GradientDescent as GradientDescent
    from .dynamics import OneStep as OneStep
    from .dynamics import Retrieval as Retrieval
    from .dynamics import Sync as Sync
    from .dynamics import retrieve as retrieve
    from .dynamics import trajectory as trajectory
    from .feature_maps import AbstractFeatureMap as AbstractFeatureMap
    from .feature_maps import IdentityMap as IdentityMap
    from .feature_maps import LinearMap as LinearMap
    from .feature_maps import MLPMap as MLPMap
    from .feature_maps import NormalizedMap as NormalizedMap
    from .interactions import AbstractHomogeneous as AbstractHomogeneous
    from .interactions import AbstractInteraction as AbstractInteraction
    from .interactions import Exponential as Exponential
    from .interactions import Polynomial as Polynomial
    from .interactions import RectifiedPolynomial as RectifiedPolynomial
    from .models import AbstractBinaryMemory as AbstractBinaryMemory
    from .models import AbstractContinuousMemory as AbstractContinuousMemory
    from .models import AbstractMemory as AbstractMemory
    from .models import AbstractPatternMemory as AbstractPatternMemory
    from .models import BinaryDAM as BinaryDAM
    from .models import ExpDAM as ExpDAM
    from .models import HopfieldNetwork as HopfieldNetwork
    from .models import KernelizedHopfield as KernelizedHopfield
    from .models import LagrangianNetwork as LagrangianNetwork
    from .models import ModernHopfield as ModernHopfield
    from .models import RandomFeatureDAM as RandomFeatureDAM
    from .normalizers import AbstractNormalizer as AbstractNormalizer
    from .normalizers import Entmax as Entmax
    from .normalizers import Entmax15 as Entmax15
    from .normalizers import Softmax as Softmax
    from .normalizers import Sparsemax as Sparsemax
    from .random_features import AbstractRandomFeatures as AbstractRandomFeatures
    from .random_features import Cos as Cos
    from .random_features import Orthogonal as Orthogonal
    from .random_features import PositiveExp as PositiveExp
    from .random_features import SinCos as SinCos
