r"""Stable states of binary memories and their classification (McAlister, Robins & Szymanski
2025; Robins & McCallum 2004).

* collecting: :func:`collect_stable_states` (many random starts, batched through
  :func:`damjax.retrieve`, deduplicated with basin counts), :func:`enumerate_stable_states`
  (exhaustive, N <= 20), :func:`is_stable`, :func:`all_states`;
* labels: :func:`label_states` — learned (a stored example), prototype (not stored, within
  Hamming distance ``floor(radius N)`` of a prototype, default radius 0.05) or spurious;
* profiles: :func:`unit_energies` (e_i = -x_i (W x)_i / 2; DAMs: -x_i h_i / 4 from the exact field),
  :func:`stability_ratio`, :func:`profile_features` (raw, sorted, normalised);
* classifiers: :func:`make_classifier` (logistic regression, linear / RBF SVMs, a small equinox
  MLP, the stability-ratio threshold), :class:`MLPStateClassifier`,
  :class:`StabilityRatioClassifier`, :func:`balanced_accuracy` (with a confidence interval);
* :func:`state_dataset` — from a stored :class:`damjax.patterns.PrototypeTask` to labelled profiles.
"""

from ._classifiers import CLASSIFIERS as CLASSIFIERS
from ._classifiers import MLPStateClassifier as MLPStateClassifier
from ._classifiers import StabilityRatioClassifier as StabilityRatioClassifier
from ._classifiers import balanced_accuracy as balanced_accuracy
from ._classifiers import make_classifier as make_classifier
from ._collect import StableStates as StableStates
from ._collect import all_states as all_states
from ._collect import collect_stable_states as collect_stable_states
from ._collect import enumerate_stable_states as enumerate_stable_states
from ._collect import is_stable as is_stable
from ._dataset import StateDataset as StateDataset
from ._dataset import balanced_indices as balanced_indices
from ._dataset import state_dataset as state_dataset
from ._labels import LABEL_NAMES as LABEL_NAMES
from ._labels import LEARNED as LEARNED
from ._labels import PROTOTYPE as PROTOTYPE
from ._labels import SPURIOUS as SPURIOUS
from ._labels import label_states as label_states
from ._labels import nearest_distance as nearest_distance
from ._labels import prototype_radius as prototype_radius
from ._profiles import profile_features as profile_features
from ._profiles import stability_ratio as stability_ratio
from ._profiles import unit_energies as unit_energies
