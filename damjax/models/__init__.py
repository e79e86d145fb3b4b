"""Memory models: one file per model family."""

from .._moved import bind_children as _bind_children
from ._base import AbstractAsyncKernel as AbstractAsyncKernel
from ._base import AbstractBinaryMemory as AbstractBinaryMemory
from ._base import AbstractMemory as AbstractMemory
from ._base import AbstractPatternMemory as AbstractPatternMemory
from ._continuous import AbstractContinuousMemory as AbstractContinuousMemory
from .binary import BinaryDAM as BinaryDAM
from .classifier import DAMClassifier as DAMClassifier
from .exp_dam import ExpDAM as ExpDAM
from .hierarchical import AbstractSynapse as AbstractSynapse
from .hierarchical import ConvSynapse as ConvSynapse
from .hierarchical import DenseSynapse as DenseSynapse
from .hierarchical import HierarchicalNetwork as HierarchicalNetwork
from .hierarchical import NeuronLayer as NeuronLayer
from .hierarchical import PoolSynapse as PoolSynapse
from .hopfield import HopfieldNetwork as HopfieldNetwork
from .kernelized import KernelizedHopfield as KernelizedHopfield
from .lagrangian import LagrangianNetwork as LagrangianNetwork
from .modern import ModernHopfield as ModernHopfield
from .random_feature_dam import RandomFeatureDAM as RandomFeatureDAM

_bind_children(__name__)
