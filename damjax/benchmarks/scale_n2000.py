"""Opt-in scale benchmark: the N = 2000 point of the n = 3 K_1/2 curve of the ``scale`` suite
(5 seeds, every CI <= 5% of K; issue 14's floor: under 10 more minutes on the 2-core machine).
Run it with ``damjax bench --suite scale-n2000``; ``--suite all`` leaves it out (``OPT_IN``).
``--quick`` runs N = 300 under the same keys (the JSON says which N)."""

from __future__ import annotations

import time

from .scale import _k_half, _summary

SUITE = "scale-n2000"
OPT_IN = True


def run(quick: bool = False) -> dict:
    N = 300 if quick else 2000
    t0 = time.perf_counter()
    _, est = _k_half(N, seeds=5, key=N)
    return {
        "k_half_curve_n3_N2000_s": time.perf_counter() - t0,
        "k_half_curve_n3_N2000": {
            "N": N,
            "seeds": 5,
            "ci_target_rel": 0.05,
            **_summary(est),
        },
    }
