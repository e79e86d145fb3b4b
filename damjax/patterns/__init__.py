"""Pattern generators and cue corruption (explicit PRNG keys everywhere).

Binary patterns are float arrays of +-1 (float32 by default).
"""

from ._binary import flip as flip
from ._binary import flip_bernoulli as flip_bernoulli
from ._binary import flip_exact as flip_exact
from ._binary import mask as mask
from ._binary import random_binary as random_binary
