r"""Hopfield layers for neural networks (equinox modules): :class:`Hopfield`,
:class:`HopfieldPooling`, :class:`HopfieldLayer` (Ramsauer et al. 2020, "Hopfield Networks is
All You Need"; the interface of ml-jku/hopfield-layers, the call convention of
:class:`equinox.nn.MultiheadAttention`).
"""

from ._hopfield import Hopfield as Hopfield
from ._hopfield import __doc__ as _doc
from ._wrappers import HopfieldLayer as HopfieldLayer
from ._wrappers import HopfieldPooling as HopfieldPooling

__doc__ = __doc__ + "\n" + _doc
__all__ = ["Hopfield", "HopfieldLayer", "HopfieldPooling"]
