"""Separation, Prop. 3.1 bounds, the Tammes table and the spherical-code generator."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import damjax
from damjax.spherical import (
    TAMMES_SOURCE,
    feature_separation,
    min_angle,
    min_separation,
    separation_bounds,
    sphere_separation_bounds,
    spherical_code,
    spherical_codes,
    tammes_table,
)


def brute_separation(x):
    x = np.asarray(x, np.float64)
    best = 2.0
    for i, j in itertools.combinations(range(len(x)), 2):
        c = x[i] @ x[j] / np.linalg.norm(x[i]) / np.linalg.norm(x[j])
        best = min(best, 1.0 - c)
    return best


def test_min_separation_matches_brute_force(getkey):
    x = jax.random.normal(getkey(), (9, 4))
    np.testing.assert_allclose(float(min_separation(x)), brute_separation(x), rtol=1e-5)
    # scale invariant; angle consistent
    np.testing.assert_allclose(float(min_separation(3.0 * x)), float(min_separation(x)), rtol=1e-5)
    np.testing.assert_allclose(1 - math.cos(float(min_angle(x))), brute_separation(x), rtol=1e-4)
    # regular simplex / cross polytope
    np.testing.assert_allclose(
        float(min_separation(jnp.concatenate([jnp.eye(3), -jnp.eye(3)]))), 1.0, atol=1e-6
    )


def test_feature_separation(getkey):
    x = jax.random.normal(getkey(), (6, 3))
    assert float(feature_separation(damjax.IdentityMap(3), x)) == pytest.approx(
        float(min_separation(x)), rel=1e-6
    )
    w = jax.random.normal(getkey(), (5, 3))
    assert float(feature_separation(damjax.LinearMap(w), x)) == pytest.approx(
        brute_separation(np.asarray(x) @ np.asarray(w).T), rel=1e-4
    )


def test_bounds_closed_forms_d3():
    m = np.arange(2, 200)
    lo, up = sphere_separation_bounds(m, 3)
    # d = 3: Gamma(2)/Gamma(3/2) = 2/sqrt(pi), Gamma(2)/Gamma(5/2) = 4/(3 sqrt(pi))
    np.testing.assert_allclose(up, 4.0 / np.sqrt(m), rtol=1e-12)
    np.testing.assert_allclose(lo, 2.0 / (3.0 * m), rtol=1e-12)
    for d in (2, 5, 10, 64):
        lo, up = sphere_separation_bounds(m, d)
        assert np.all(lo < up) and np.all(np.diff(up) < 0) and np.all(np.diff(lo) < 0)


def test_bounds_bracket_tammes():
    ms, deg = tammes_table()
    assert ms[0] == 4 and ms[-1] == 130 and len(ms) == 63
    sep = 1.0 - np.cos(np.radians(deg))
    lo, up = sphere_separation_bounds(ms, 3)
    assert np.all(lo <= sep) and np.all(sep <= up)
    # best-known angles never increase with M
    assert np.all(np.diff(deg) <= 1e-9)
    # table spot checks against exact solids: tetrahedron, octahedron, icosahedron
    exact = {4: math.degrees(math.acos(-1 / 3)), 6: 90.0, 12: math.degrees(math.atan(2.0))}
    for m, a in exact.items():
        assert deg[list(ms).index(m)] == pytest.approx(a, abs=1e-6)
    assert "Sloane" in TAMMES_SOURCE


def test_generator_finds_known_optima():
    codes = spherical_codes(jax.random.key(0), [4, 6, 12], 3, steps=800, restarts=2)
    ms, deg = tammes_table()
    for m, c in zip([4, 6, 12], codes):
        assert c.shape == (m, 3)
        np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, atol=1e-5)
        got = math.degrees(float(min_angle(c)))
        ref = deg[list(ms).index(m)]
        assert ref - 0.5 < got <= ref + 1e-3
    # generated codes in higher dimension stay between the bounds
    c = spherical_code(jax.random.key(1), 20, 5, steps=400, restarts=2)
    lo, up = sphere_separation_bounds(20, 5)
    assert lo <= float(min_separation(c)) <= up


def test_bad_input():
    with pytest.raises(ValueError, match="M >= 2"):
        min_separation(jnp.ones((1, 3)))
    with pytest.raises(ValueError, match="M >= 2"):
        sphere_separation_bounds(1, 3)
    with pytest.raises(ValueError, match="M >= 2"):
        feature_separation(damjax.IdentityMap(3), jnp.ones((1, 3)))
    with pytest.raises(ValueError, match="d"):
        sphere_separation_bounds(10, 1)
    with pytest.raises(ValueError, match="zero"):
        min_separation(jnp.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="2-D"):
        min_separation(jnp.ones(3))
    with pytest.raises(ValueError, match="M"):
        spherical_codes(jax.random.key(0), [1], 3)
    with pytest.raises(ValueError, match="lr"):
        spherical_code(jax.random.key(0), 5, 3, lr=0.0)


def test_old_separation_bounds_name_warns_and_agrees():
    with pytest.warns(DeprecationWarning, match="sphere_separation_bounds"):
        lo, up = separation_bounds(12, 3)
    lo2, up2 = sphere_separation_bounds(12, 3)
    assert lo == lo2 and up == up2
