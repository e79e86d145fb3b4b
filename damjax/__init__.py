"""damjax: Dense Associative Memories in JAX.

Public API (import from here, never from private modules):

* interaction functions: :class:`Polynomial`, :class:`RectifiedPolynomial`, :class:`Exponential`;
* models: :class:`BinaryDAM`;
* dynamics: :func:`retrieve` with rules :class:`Sync`, :class:`Async`, :class:`OneStep`;
* modules: :mod:`damjax.patterns`, :mod:`damjax.capacity`.
"""

from importlib.metadata import PackageNotFoundError, version

from . import capacity as capacity
from . import patterns as patterns
from .dynamics import AbstractRule as AbstractRule
from .dynamics import Async as Async
from .dynamics import OneStep as OneStep
from .dynamics import Retrieval as Retrieval
from .dynamics import Sync as Sync
from .dynamics import retrieve as retrieve
from .interactions import AbstractHomogeneous as AbstractHomogeneous
from .interactions import AbstractInteraction as AbstractInteraction
from .interactions import Exponential as Exponential
from .interactions import Polynomial as Polynomial
from .interactions import RectifiedPolynomial as RectifiedPolynomial
from .models import AbstractBinaryMemory as AbstractBinaryMemory
from .models import AbstractMemory as AbstractMemory
from .models import BinaryDAM as BinaryDAM

try:
    __version__ = version("damjax")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
