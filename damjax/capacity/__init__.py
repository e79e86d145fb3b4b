r"""Capacity and retrieval measurements (and closed-form capacity theory).

* :func:`fixed_point_fraction` — share of stored patterns that are fixed points of the update.
* :func:`retrieval_stats` — exact-retrieval rate, bit-error rate and overlaps after running
  dynamics from (corrupted) cues.
* :func:`nearest_overlap` — normalised overlap with the closest memory.
* :func:`capacity_search` — the largest K meeting a criterion (:class:`Stable`,
  :class:`Retrieves`), by binary search over K, vmapped over seeds, compiled once.
"""

from ._measure import fixed_point_fraction as fixed_point_fraction
from ._measure import is_fixed_point as is_fixed_point
from ._measure import nearest_overlap as nearest_overlap
from ._measure import retrieval_stats as retrieval_stats
from ._measure import retrieval_summary as retrieval_summary
from ._ramsauer import StorageConstants as StorageConstants
from ._ramsauer import lambertw as lambertw
from ._ramsauer import retrieval_error_bound as retrieval_error_bound
from ._ramsauer import separation as separation
from ._ramsauer import storage_constants as storage_constants
from ._retrieval import ReachesMemory as ReachesMemory
from ._retrieval import k_half as k_half
from ._retrieval import noisy_retrieval as noisy_retrieval
from ._search import AbstractCriterion as AbstractCriterion
from ._search import Retrieves as Retrieves
from ._search import Stable as Stable
from ._search import capacity_search as capacity_search
from ._theory import HOPFIELD_ALPHA as HOPFIELD_ALPHA
from ._theory import demircigil_alpha as demircigil_alpha
from ._theory import demircigil_info as demircigil_info
from ._theory import demircigil_max_patterns as demircigil_max_patterns
from ._theory import double_factorial as double_factorial
from ._theory import krotov_alpha as krotov_alpha
from ._theory import krotov_bit_error_rate as krotov_bit_error_rate
from ._theory import krotov_k_all_stable as krotov_k_all_stable
from ._theory import krotov_k_half as krotov_k_half
from ._theory import krotov_kmax as krotov_kmax
from ._theory import krotov_kmax_no_errors as krotov_kmax_no_errors
from ._theory import krotov_omega as krotov_omega

from . import _sweeps  # noqa: E402, F401  (registers the DAM sweep experiments)
