r"""Capacity and retrieval measurements (and closed-form capacity theory).

* :func:`fixed_point_fraction` — share of stored patterns that are fixed points of the update.
* :func:`retrieval_stats` — exact-retrieval rate, bit-error rate and overlaps after running
  dynamics from (corrupted) cues.
* :func:`nearest_overlap` — normalised overlap with the closest memory.
* :func:`capacity_search` — the largest K meeting a criterion (:class:`Stable`,
  :class:`Retrieves`), by binary search over K, vmapped over seeds, compiled once.

At scale (memory O(B x block + block x N), never K x N float32):

* :class:`StoredPatterns` (int8) / :class:`RandomPatterns` (regenerated from a key, never
  stored) — pattern sources; :class:`BlockedDAM` — the exact binary-DAM field over pattern
  blocks; :func:`field_memory` — XLA memory analysis of one blocked update.
* :func:`sampled_k_half` — K_1/2 from a fixed number of probes per K with Wilson intervals
  (SAMPLED); :func:`no_error_capacity` — all K patterns stable, one field per pattern (EXACT).
* :func:`kshard_update`, :func:`kshard_no_error_capacity`, :func:`kshard_sampled_k_half`,
  :func:`kshard_mesh` — one network
  across devices: K sharded over the mesh axis ``k`` (``psum`` of partial fields), states over
  ``batch``.
* :func:`make_interaction` — the interaction named in a sweep config (``"poly"`` / ``"rect"``
  of degree n, ``"exp"``), an error naming ``F`` for any other name.
"""

from . import _sweeps  # noqa: E402, F401  (registers the DAM sweep experiments)
from ._blocked import AbstractPatternSource as AbstractPatternSource
from ._blocked import BlockedDAM as BlockedDAM
from ._blocked import RandomPatterns as RandomPatterns
from ._blocked import StoredPatterns as StoredPatterns
from ._blocked import field_memory as field_memory
from ._measure import fixed_point_fraction as fixed_point_fraction
from ._measure import is_fixed_point as is_fixed_point
from ._measure import nearest_overlap as nearest_overlap
from ._measure import retrieval_stats as retrieval_stats
from ._measure import retrieval_summary as retrieval_summary
from ._no_error import no_error_capacity as no_error_capacity
from ._ramsauer import StorageConstants as StorageConstants
from ._ramsauer import lambertw as lambertw
from ._ramsauer import retrieval_error_bound as retrieval_error_bound
from ._ramsauer import separation as separation
from ._ramsauer import storage_constants as storage_constants
from ._retrieval import ReachesMemory as ReachesMemory
from ._retrieval import k_half as k_half
from ._retrieval import noisy_retrieval as noisy_retrieval
from ._sampled import KHalfEstimate as KHalfEstimate
from ._sampled import sampled_k_half as sampled_k_half
from ._search import AbstractCriterion as AbstractCriterion
from ._search import Retrieves as Retrieves
from ._search import Stable as Stable
from ._search import capacity_search as capacity_search
from ._shard import kshard_mesh as kshard_mesh
from ._shard import kshard_no_error_capacity as kshard_no_error_capacity
from ._shard import kshard_sampled_k_half as kshard_sampled_k_half
from ._shard import kshard_update as kshard_update
from ._sweeps import make_interaction as make_interaction
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
from ._wilson import probes_for_halfwidth as probes_for_halfwidth
from ._wilson import wilson_interval as wilson_interval
