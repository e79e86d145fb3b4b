"""damjax: Dense Associative Memories in JAX.

Public API (import from here or from the public subpackages, never from private modules):

* interaction functions: :class:`Polynomial`, :class:`RectifiedPolynomial`, :class:`Exponential`;
* models: :class:`BinaryDAM`, :class:`HopfieldNetwork`, :class:`ModernHopfield`,
  :class:`LagrangianNetwork`, :class:`KernelizedHopfield`, :class:`ExpDAM`,
  :class:`RandomFeatureDAM`, :class:`HierarchicalNetwork` (with :class:`NeuronLayer`,
  :class:`DenseSynapse`, :class:`ConvSynapse`, :class:`PoolSynapse`);
* dynamics: :func:`retrieve` with rules :class:`Sync`, :class:`Async`, :class:`OneStep`,
  :class:`Euler`, :class:`ODE`, :class:`GradientDescent`; :func:`trajectory`; :data:`RESULTS`;
* model ingredients in :mod:`damjax.components`: :mod:`~damjax.components.interactions`,
  :mod:`~damjax.components.lagrangians`, :mod:`~damjax.components.normalizers`,
  :mod:`~damjax.components.feature_maps`, :mod:`~damjax.components.random_features`
  (their old paths ``damjax.interactions``, ``damjax.normalizers``, ... still work, with a
  ``DeprecationWarning``);
* modules: :mod:`damjax.patterns`, :mod:`damjax.capacity`, :mod:`damjax.sweep`,
  :mod:`damjax.learning`, :mod:`damjax.states`, :mod:`damjax.datasets`,
  :mod:`damjax.spherical`, :mod:`damjax.reproduce`, :mod:`damjax.nn` (Hopfield layers).

The package is layered (see ``damjax/_layers.py`` and CONTRIBUTING.md): a module imports only
from its own layer or lower ones.
"""

# Imports are lazy (PEP 562): ``import damjax`` loads no JAX, so ``damjax --help`` and
# ``damjax --version`` answer at once. A public name is imported on first access. Type checkers
# read the same names from the ``TYPE_CHECKING`` block below; tests/test_package.py checks that
# the block and the tables agree.

from __future__ import annotations

import importlib as _importlib
import sys as _sys
from typing import TYPE_CHECKING

from . import _moved

_moved.register()  # old module paths -> deprecated aliases (nothing is imported here)

#: Public subpackages and modules, imported on first access.
_SUBMODULES = (
    "capacity",
    "components",
    "datasets",
    "dynamics",
    "learning",
    "models",
    "nn",
    "patterns",
    "reproduce",
    "spherical",
    "states",
    "sweep",
)

#: Modules that moved into :mod:`damjax.components`; their old names stay as deprecated aliases.
_MOVED_SUBMODULES = (
    "feature_maps",
    "interactions",
    "lagrangians",
    "normalizers",
    "random_features",
)

#: Public names, by the module that defines them.
_ATTRIBUTES = {
    "_validation": (
        "InputError",
        "check_traced_values",
    ),
    "dynamics": (
        "ODE",
        "RESULTS",
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
    "components.feature_maps": (
        "AbstractFeatureMap",
        "IdentityMap",
        "LinearMap",
        "MLPMap",
        "NormalizedMap",
    ),
    "components.interactions": (
        "AbstractHomogeneous",
        "AbstractInteraction",
        "Exponential",
        "Polynomial",
        "RectifiedPolynomial",
    ),
    "models": (
        "AbstractAsyncKernel",
        "AbstractBinaryMemory",
        "AbstractContinuousMemory",
        "AbstractMemory",
        "AbstractPatternMemory",
        "AbstractSynapse",
        "BinaryDAM",
        "ConvSynapse",
        "DenseSynapse",
        "ExpDAM",
        "HierarchicalNetwork",
        "HopfieldNetwork",
        "KernelizedHopfield",
        "LagrangianNetwork",
        "ModernHopfield",
        "NeuronLayer",
        "PoolSynapse",
        "RandomFeatureDAM",
    ),
    "components.normalizers": (
        "AbstractNormalizer",
        "Entmax",
        "Entmax15",
        "Softmax",
        "Sparsemax",
    ),
    "components.random_features": (
        "AbstractRandomFeatures",
        "Cos",
        "Orthogonal",
        "PositiveExp",
        "SinCos",
    ),
}
_WHERE = {name: module for module, names in _ATTRIBUTES.items() for name in names}

__all__ = sorted((*_SUBMODULES, *_WHERE, "__version__"))


def __getattr__(name: str):
    if name == "__version__":
        from ._version import __version__ as value
    elif name in _SUBMODULES:
        value = _importlib.import_module(f".{name}", __name__)
    elif name in _MOVED_SUBMODULES:
        value = _sys.modules[f"{__name__}.{name}"]
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
    from . import components as components
    from . import datasets as datasets
    from . import dynamics as dynamics
    from . import learning as learning
    from . import models as models
    from . import nn as nn
    from . import patterns as patterns
    from . import reproduce as reproduce
    from . import spherical as spherical
    from . import states as states
    from . import sweep as sweep
    from ._validation import InputError as InputError
    from ._validation import check_traced_values as check_traced_values
    from .components.feature_maps import AbstractFeatureMap as AbstractFeatureMap
    from .components.feature_maps import IdentityMap as IdentityMap
    from .components.feature_maps import LinearMap as LinearMap
    from .components.feature_maps import MLPMap as MLPMap
    from .components.feature_maps import NormalizedMap as NormalizedMap
    from .components.interactions import AbstractHomogeneous as AbstractHomogeneous
    from .components.interactions import AbstractInteraction as AbstractInteraction
    from .components.interactions import Exponential as Exponential
    from .components.interactions import Polynomial as Polynomial
    from .components.interactions import RectifiedPolynomial as RectifiedPolynomial
    from .components.normalizers import AbstractNormalizer as AbstractNormalizer
    from .components.normalizers import Entmax as Entmax
    from .components.normalizers import Entmax15 as Entmax15
    from .components.normalizers import Softmax as Softmax
    from .components.normalizers import Sparsemax as Sparsemax
    from .components.random_features import AbstractRandomFeatures as AbstractRandomFeatures
    from .components.random_features import Cos as Cos
    from .components.random_features import Orthogonal as Orthogonal
    from .components.random_features import PositiveExp as PositiveExp
    from .components.random_features import SinCos as SinCos
    from .dynamics import ODE as ODE
    from .dynamics import RESULTS as RESULTS
    from .dynamics import AbstractRule as AbstractRule
    from .dynamics import Async as Async
    from .dynamics import Euler as Euler
    from .dynamics import GradientDescent as GradientDescent
    from .dynamics import OneStep as OneStep
    from .dynamics import Retrieval as Retrieval
    from .dynamics import Sync as Sync
    from .dynamics import retrieve as retrieve
    from .dynamics import trajectory as trajectory
    from .models import AbstractAsyncKernel as AbstractAsyncKernel
    from .models import AbstractBinaryMemory as AbstractBinaryMemory
    from .models import AbstractContinuousMemory as AbstractContinuousMemory
    from .models import AbstractMemory as AbstractMemory
    from .models import AbstractPatternMemory as AbstractPatternMemory
    from .models import AbstractSynapse as AbstractSynapse
    from .models import BinaryDAM as BinaryDAM
    from .models import ConvSynapse as ConvSynapse
    from .models import DenseSynapse as DenseSynapse
    from .models import ExpDAM as ExpDAM
    from .models import HierarchicalNetwork as HierarchicalNetwork
    from .models import HopfieldNetwork as HopfieldNetwork
    from .models import KernelizedHopfield as KernelizedHopfield
    from .models import LagrangianNetwork as LagrangianNetwork
    from .models import ModernHopfield as ModernHopfield
    from .models import NeuronLayer as NeuronLayer
    from .models import PoolSynapse as PoolSynapse
    from .models import RandomFeatureDAM as RandomFeatureDAM
