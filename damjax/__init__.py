"""damjax: Dense Associative Memories in JAX.

Public API (import from here or from the public subpackages, never from private modules):

* interaction functions: :class:`Polynomial`, :class:`RectifiedPolynomial`, :class:`Exponential`;
* models: :class:`BinaryDAM`, :class:`HopfieldNetwork`, :class:`ModernHopfield`,
  :class:`LagrangianNetwork`, :class:`KernelizedHopfield`, :class:`ExpDAM`,
  :class:`RandomFeatureDAM`, :class:`HierarchicalNetwork` (with :class:`NeuronLayer`,
  :class:`DenseSynapse`);
* dynamics: :func:`retrieve` with rules :class:`Sync`, :class:`Async`, :class:`OneStep`,
  :class:`Euler`, :class:`ODE`, :class:`GradientDescent`; :func:`trajectory`;
* modules: :mod:`damjax.patterns`, :mod:`damjax.capacity`, :mod:`damjax.sweep`,
  :mod:`damjax.learning`, :mod:`damjax.states`, :mod:`damjax.datasets`,
  :mod:`damjax.normalizers`, :mod:`damjax.spherical`, :mod:`damjax.lagrangians`,
  :mod:`damjax.random_features`, :mod:`damjax.reproduce`, :mod:`damjax.nn` (Hopfield layers).
"""

from importlib.metadata import PackageNotFoundError, version

from . import capacity as capacity
from . import datasets as datasets
from . import lagrangians as lagrangians
from . import learning as learning
from . import nn as nn
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
from .models import DenseSynapse as DenseSynapse
from .models import ExpDAM as ExpDAM
from .models import HierarchicalNetwork as HierarchicalNetwork
from .models import HopfieldNetwork as HopfieldNetwork
from .models import KernelizedHopfield as KernelizedHopfield
from .models import LagrangianNetwork as LagrangianNetwork
from .models import ModernHopfield as ModernHopfield
from .models import NeuronLayer as NeuronLayer
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

try:
    __version__ = version("damjax")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
