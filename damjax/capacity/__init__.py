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
from ._search import AbstractCriterion as AbstractCriterion
from ._search import Retrieves as Retrieves
from ._search import Stable as Stable
from ._search import capacity_search as capacity_search
