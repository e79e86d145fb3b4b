"""Pattern generators and cue corruption (explicit PRNG keys everywhere).

Binary patterns are float arrays of +-1 (float32 by default).
"""

from ._binary import flip as flip
from ._binary import flip_bernoulli as flip_bernoulli
from ._binary import flip_exact as flip_exact
from ._binary import mask as mask
from ._binary import random_binary as random_binary
from ._correlated import PatternSet as PatternSet
from ._correlated import correlated_patterns as correlated_patterns
from ._correlated import correlated_sample as correlated_sample
from ._correlated import separated_patterns as separated_patterns
from ._prototypes import PrototypeTask as PrototypeTask
from ._prototypes import prototype_examples as prototype_examples
from ._prototypes import prototype_task as prototype_task
from ._separated import SeparationBounds as SeparationBounds
from ._separated import separation_bounds as separation_bounds
from ._stats import PatternStats as PatternStats
from ._stats import pattern_stats as pattern_stats
