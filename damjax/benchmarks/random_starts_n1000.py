"""Opt-in scale benchmark: the paper's K_1/2 (Krotov & Hopfield 2016, Appendix B: random starts,
random-order asynchronous dynamics, converged exactly onto a memory) at N = 1000, n = 3, one seed
for the power and one for the rectified F, with 93 probes per candidate K (Wilson half-width 0.1)
and bisection to 1% of K over [0.05, 1.5] x theory -- the settings of the ``krotov2016-capacity``
reproduction at its largest size (where it runs one seed per F): about 10 minutes on 2 cores
(its store, 2026-12-01: 260 s power, 321 s rectified).
Run it with ``damjax bench --suite random-starts-n1000``; ``--suite all`` leaves it out
(``OPT_IN``). ``--quick`` runs N = 100 under the same keys (the JSON says which N)."""

from __future__ import annotations

from ..capacity import krotov_k_half
from ..components.interactions import Polynomial, RectifiedPolynomial
from .scale import _k_half_random

SUITE = "random-starts-n1000"
OPT_IN = True


def run(quick: bool = False) -> dict:
    N = 100 if quick else 1000
    theory = float(krotov_k_half(N, 3))
    out: dict = {"N": N, "theory": theory}
    for name, F in (("power", Polynomial(3)), ("rectified", RectifiedPolynomial(3))):
        t, est = _k_half_random(N, F)
        out[f"k_half_random_{name}_s"] = t
        out[f"k_half_random_{name}"] = {**est, "ratio_to_theory": est["k_half"][0] / theory}
    return {"random_starts_n1000": out}
