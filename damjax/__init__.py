"""damjax: Dense Associative Memories in JAX.

Public API (import from here or from the public subpackages, never from private modules):

* interaction functions: :class:`Polynomial`, :class:`RectifiedPolynomial`, :class:`Exponential`;
* models: :class:`BinaryDAM`, :class:`HopfieldNetwork`, :class:`ModernHopfield`,
  :class:`LagrangianNetwork`, :class:`KernelizedHopfield`, :class:`ExpDAM`,
  :class:`RandomFeatureDAM`, :class:`HierarchicalNetwork` (with :class:`NeuronLayer`,
  :class:`DenseSynapse`);
* dynamics: :func:`retrieve` with rules :class:`Sync`, :class:`Async`, :class:`OneStep`,
  :class:`Euler`, :class:`ODE`, :class:`GradientDescent`; :func:`trajectory`;
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

from . import _moved

_moved.register()

from . import components as components
from . import capacity as capacity
from . import datasets as datasets
from . import learning as learning
from . import nn as nn
from . import patterns as patterns
from . import reproduce as reproduce
from . import spherical as spherical
from . import states as states
from . import sweep as sweep
from ._validation import InputError as InputError
from ._validation import check_traced_values as check_traced_values
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
from .models import AbstractAsyncKernel as AbstractAsyncKernel
from .models import AbstractBinaryMemory as AbstractBinaryMemory
from .models import AbstractContinuousMemory as AbstractContinuousMemory
from .models import AbstractMemory as AbstractMemory
from .models import AbstractPatternMemory as AbstractPatternMemory
from .models import BinaryDAM as BinaryDAM
from .models import DenseSynapse as DenseSynapse
from .models import ExpDAM as ExpDAM
from .models import HierarchicalNetwork as HierarchicalNetwork
from .models import HopfieldNetwork as HopfieldNetwork
from .models import KernelizedHopfield as KernelizedHopfield
from .models import LagrangianNetwork as LagrangianNetwork
from .models import ModernHopfield as ModernHopfield
from .models import NeuronLayer as NeuronLayer
from .models import RandomFeatureDAM as RandomFeatureDAM
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

_moved.bind_parents()

from ._version import __version__ as __version__
