"""Model ingredients: the pieces a memory model is built from, with no dynamics or analysis.

* :mod:`~damjax.components.interactions` — interaction functions F (``Polynomial``, ...);
* :mod:`~damjax.components.lagrangians` — Lagrangians of the Krotov-Hopfield 2021 networks;
* :mod:`~damjax.components.normalizers` — separation functions (softmax, sparsemax, entmax);
* :mod:`~damjax.components.feature_maps` — feature maps of kernelized memories;
* :mod:`~damjax.components.random_features` — random feature maps of the DrDAM kernel.
"""

from . import feature_maps as feature_maps
from . import interactions as interactions
from . import lagrangians as lagrangians
from . import normalizers as normalizers
from . import random_features as random_features
