"""Closed-form capacity theory (Krotov-Hopfield 2016, Demircigil et al. 2017) and the retrieval
measurements built on capacity_search: noisy_retrieval, k_half, ReachesMemory."""

from __future__ import annotations

import math
from statistics import NormalDist

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from damjax import Async, BinaryDAM, OneStep, Polynomial, RectifiedPolynomial, Sync
from damjax import capacity as cap
from damjax.patterns import random_binary

ND = NormalDist()


def test_double_factorial_and_omega():
    assert [cap.double_factorial(k) for k in (-1, 0, 1, 3, 5, 7)] == [1, 1, 1, 3, 15, 105]
    assert cap.krotov_omega(2) == 16  # 4 * 4 * 1!!
    assert cap.krotov_omega(3) == 108  # 4 * 9 * 3!!
    assert cap.krotov_omega(4) == 960  # 4 * 16 * 5!!


def test_krotov_alpha_hand_values():
    z = -ND.inv_cdf(0.0036)  # 2.6874...
    assert math.isclose(cap.krotov_alpha(2), 1 / z**2, rel_tol=1e-9)
    assert abs(cap.krotov_alpha(2) - cap.HOPFIELD_ALPHA) < 0.002  # the n = 2 limit, ~0.138 N
    assert math.isclose(cap.krotov_alpha(3), cap.krotov_alpha(2) / 3, rel_tol=1e-12)
    assert math.isclose(cap.krotov_alpha(4), cap.krotov_alpha(2) / 15, rel_tol=1e-12)
    assert math.isclose(cap.krotov_kmax(100, 2), 100 / z**2, rel_tol=1e-9)
    assert math.isclose(cap.krotov_kmax(100, 3), 1e4 / (3 * z**2), rel_tol=1e-9)
    # a looser error rate allows more memories
    assert cap.krotov_alpha(3, error_rate=0.01) > cap.krotov_alpha(3)


def test_krotov_no_errors_hand_values():
    assert math.isclose(cap.krotov_kmax_no_errors(100, 2), 100 / (2 * math.log(100)))
    assert math.isclose(cap.krotov_kmax_no_errors(100, 3), 1e4 / (6 * math.log(100)))
    assert math.isclose(cap.krotov_kmax_no_errors(50, 4), 50**3 / (30 * math.log(50)))
    np.testing.assert_allclose(
        cap.krotov_kmax_no_errors(np.array([10.0, 1000.0]), 2),
        [10 / (2 * math.log(10)), 1000 / (2 * math.log(1000))],
    )


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(2, 6),
    N=st.integers(20, 2000),
    rate=st.floats(1e-4, 0.2),
)
def test_error_rate_round_trip(n, N, rate):
    K = cap.krotov_kmax(N, n, error_rate=rate) + 1.0
    assert math.isclose(float(cap.krotov_bit_error_rate(N, K, n)), rate, rel_tol=1e-6)


def test_k_half_and_all_stable_match_their_definitions():
    for N, n in [(40, 3), (100, 2), (30, 4)]:
        p = 1 - 2 ** (-1 / N)
        z = -ND.inv_cdf(p)
        expect = 1 + N ** (n - 1) / (cap.double_factorial(2 * n - 3) * z * z)
        assert math.isclose(float(cap.krotov_k_half(N, n)), expect, rel_tol=1e-7)
        # (1 - P_err)^N = 1/2 at K_1/2
        pe = float(cap.krotov_bit_error_rate(N, expect, n))
        assert math.isclose((1 - pe) ** N, 0.5, rel_tol=1e-6)
        K = cap.krotov_k_all_stable(N, n)
        pe = float(cap.krotov_bit_error_rate(N, K, n))
        assert math.isclose((1 - pe) ** (N * K), 0.5, rel_tol=1e-5)
    # Krotov's no-error formula is the large-N form of the per-memory K_1/2; requiring all K
    # memories stable at once tends to 1/n of it (McEliece's N / (4 ln N) at n = 2)
    for n in (2, 3):
        a = [cap.krotov_k_half(N, n) / cap.krotov_kmax_no_errors(N, n) for N in (1e2, 1e4, 1e8)]
        b = [
            cap.krotov_k_all_stable(N, n) / cap.krotov_kmax_no_errors(N, n) for N in (1e2, 1e4, 1e8)
        ]
        assert abs(a[2] - 1) < abs(a[1] - 1) < abs(a[0] - 1)
        assert abs(b[2] - 1 / n) < abs(b[1] - 1 / n) < abs(b[0] - 1 / n)


def test_demircigil_hand_values():
    assert math.isclose(cap.demircigil_alpha(0.0), math.log(2) / 2)
    # rho = 0.1: I(0.8) / 2 = (1.8 ln 1.8 + 0.2 ln 0.2) / 4
    assert math.isclose(
        cap.demircigil_alpha(0.1), (1.8 * math.log(1.8) + 0.2 * math.log(0.2)) / 4, rel_tol=1e-12
    )
    assert math.isclose(float(cap.demircigil_info(0.0)), 0.0, abs_tol=1e-15)
    assert math.isclose(float(cap.demircigil_info(1.0)), math.log(2))
    a = cap.demircigil_alpha(np.linspace(0, 0.49, 20))
    assert np.all(np.diff(a) < 0) and a[-1] > 0
    assert math.isclose(float(cap.demircigil_max_patterns(20, 0.0)), 2**10 + 1, rel_tol=1e-9)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: cap.krotov_alpha(1), "`n`"),
        (lambda: cap.krotov_alpha(2.5), "`n`"),
        (lambda: cap.krotov_alpha(3, error_rate=0.7), "error_rate"),
        (lambda: cap.krotov_kmax(1, 3), "`N`"),
        (lambda: cap.krotov_kmax_no_errors(np.array([10, 1]), 2), "`N`"),
        (lambda: cap.krotov_bit_error_rate(10, 0, 2), "`K`"),
        (lambda: cap.krotov_k_all_stable(10, 2, prob=1.0), "prob"),
        (lambda: cap.demircigil_alpha(0.5), "rho"),
        (lambda: cap.demircigil_alpha(-0.1), "rho"),
        (lambda: cap.demircigil_info(1.5), "`x`"),
    ],
)
def test_theory_rejects_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ----------------------------------------------------------------------------- measurements


def test_noisy_retrieval_below_capacity(getkey):
    X = random_binary(getkey(), 10, 60)
    model = BinaryDAM(X, Polynomial(3))
    for rule in (Sync(), Async(), OneStep()):
        out = cap.noisy_retrieval(model, 0.1, key=getkey(), rule=rule)
        assert float(out["exact_rate"]) == 1.0 and float(out["memory_rate"]) == 1.0
        assert float(out["bit_error_rate"]) == 0.0
    # random starts in an overloaded n = 2 network rarely end on a memory
    X = random_binary(getkey(), 60, 40)
    out = cap.noisy_retrieval(
        BinaryDAM(X, Polynomial(2)),
        0.5,
        key=getkey(),
        rule=Async(),
        method="bernoulli",
        num_cues=40,
    )
    assert float(out["memory_rate"]) < 0.3
    with pytest.raises(ValueError, match="rho"):
        cap.noisy_retrieval(model, 1.5, key=getkey())


def test_noisy_retrieval_respects_mask(getkey):
    X = random_binary(getkey(), 50, 40)
    mask = (np.arange(50) < 5).astype(np.float32)
    out = cap.noisy_retrieval(
        BinaryDAM(X, Polynomial(3), mask=mask), 0.05, key=getkey(), num_cues=30
    )
    assert float(out["exact_rate"]) == 1.0  # only the 5 active memories are cued


def test_k_half_is_the_half_crossing(getkey):
    N, kmax, S = 30, 160, 3
    P = random_binary(getkey(), S * kmax, N).reshape(S, kmax, N)
    F = Polynomial(3)
    kh = np.asarray(cap.k_half(P, F, key=getkey(), rule=OneStep()))

    @jax.jit
    def _frac(pats, K):
        return cap.fixed_point_fraction(BinaryDAM(pats, F, mask=(np.arange(kmax) < K) * 1.0))

    def frac(s, K):  # share of the first K memories that are fixed points (direct check)
        return float(_frac(P[s], K))

    for s in range(S):
        K = int(kh[s])
        assert 1 <= K < kmax
        assert frac(s, K) >= 0.5 and frac(s, K + 1) < 0.5
    # same order as the theory at this N
    assert 0.5 < kh.mean() / cap.krotov_k_half(N, 3) < 2.0


def test_reaches_memory_criterion(getkey):
    X = random_binary(getkey(), 3, 40)
    crit = cap.ReachesMemory(num_starts=20, threshold=0.9, rule=Async())
    assert bool(crit(BinaryDAM(X, RectifiedPolynomial(8)), getkey()))
    X = random_binary(getkey(), 200, 30)
    assert not bool(crit(BinaryDAM(X, Polynomial(2)), getkey()))
    P = random_binary(getkey(), 2 * 64, 30).reshape(2, 64, 30)
    kr = cap.k_half(P, Polynomial(4), key=getkey(), starts="random", num_starts=32, rule=Async())
    assert np.all(np.asarray(kr) >= 1)
    with pytest.raises(ValueError, match="starts"):
        cap.k_half(P, Polynomial(4), key=getkey(), starts="nowhere")
    with pytest.raises(ValueError, match="num_starts"):
        cap.ReachesMemory(num_starts=0)
