"""Prototype-regime tasks: shapes, Bernoulli flip statistics, distinctness, bad input."""

import math

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import damjax as dj


def test_shapes_grouping_and_determinism(getkey):
    key = getkey()
    task = dj.patterns.prototype_task(key, 4, 6, 50, 0.1)
    assert task.prototypes.shape == (4, 50)
    assert task.examples.shape == (24, 50)
    assert task.num_prototypes == 4 and task.examples_per_prototype == 6
    assert np.array_equal(np.asarray(task.prototype_of), np.repeat(np.arange(4), 6))
    again = dj.patterns.prototype_task(key, 4, 6, 50, 0.1)
    assert np.array_equal(np.asarray(task.examples), np.asarray(again.examples))
    # every example is closest to its own prototype at this low noise
    m = np.asarray(task.examples) @ np.asarray(task.prototypes).T
    assert np.array_equal(np.argmax(m, axis=1), np.asarray(task.prototype_of))


@pytest.mark.parametrize("p", [0.0, 0.1, 0.3, 0.5])
def test_flip_rate_matches_p(getkey, p):
    protos = dj.patterns.random_binary(getkey(), 5, 400)
    task = dj.patterns.prototype_examples(getkey(), protos, 40, p, distinct=p > 0)
    flips = np.asarray(task.examples) != np.asarray(protos)[np.asarray(task.prototype_of)]
    n = flips.size
    # binomial standard error; 5 sigma
    assert abs(flips.mean() - p) <= 5 * math.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-12


@settings(max_examples=12, deadline=None)
@given(
    shape=st.sampled_from([(1, 6, 8), (3, 4, 12)]),
    p=st.sampled_from([0.1, 0.25, 0.5]),
    seed=st.integers(0, 10_000),
)
def test_examples_distinct_and_binary(shape, p, seed):
    P, E, N = shape
    task = dj.patterns.prototype_task(jax.random.key(seed), P, E, N, p)
    ex = np.asarray(task.examples)
    assert ex.shape == (P * E, N)
    assert set(np.unique(ex)) <= {-1.0, 1.0}
    assert np.unique(ex, axis=0).shape[0] == P * E


def test_p_zero_single_example_is_the_prototype(getkey):
    protos = dj.patterns.random_binary(getkey(), 3, 20)
    task = dj.patterns.prototype_examples(getkey(), protos, 1, 0.0)
    assert np.array_equal(np.asarray(task.examples), np.asarray(protos))
    dup = dj.patterns.prototype_examples(getkey(), protos, 3, 0.0, distinct=False)
    assert np.array_equal(np.asarray(dup.examples), np.repeat(np.asarray(protos), 3, axis=0))


def test_bad_input(getkey):
    key = getkey()
    for p in (-0.1, 0.51, 1.0, float("nan")):
        with pytest.raises(ValueError, match=r"`p`.*\[0, 0.5\]"):
            dj.patterns.prototype_task(key, 2, 2, 10, p)
    with pytest.raises(ValueError, match="`P`"):
        dj.patterns.prototype_task(key, 0, 2, 10, 0.1)
    with pytest.raises(ValueError, match="`E`"):
        dj.patterns.prototype_task(key, 2, 0, 10, 0.1)
    with pytest.raises(ValueError, match="`N`"):
        dj.patterns.prototype_task(key, 2, 2, 0, 0.1)
    with pytest.raises(TypeError, match="`E`"):
        dj.patterns.prototype_task(key, 2, 1.5, 10, 0.1)
    # more distinct examples than exist
    with pytest.raises(ValueError, match="more distinct examples"):
        dj.patterns.prototype_task(key, 2, 3, 10, 0.0)
    with pytest.raises(ValueError, match="more distinct examples"):
        dj.patterns.prototype_task(key, 3, 3, 3, 0.2)  # 9 > 2^3
    same = np.ones((2, 5), np.float32)
    with pytest.raises(ValueError, match="more distinct examples"):
        dj.patterns.prototype_examples(key, same, 1, 0.0)
    # exist, but too unlikely to draw: clear error instead of an endless loop
    with pytest.raises(ValueError, match="could not draw"):
        dj.patterns.prototype_task(key, 1, 3, 10, 1e-5)
    with pytest.raises(ValueError, match=r"\+1 and -1"):
        dj.patterns.prototype_examples(key, np.zeros((2, 5)), 1, 0.1)
    # exactly all states of N = 3: possible (8 = 2^3)
    task = dj.patterns.prototype_task(key, 2, 4, 3, 0.5)
    assert np.unique(np.asarray(task.examples), axis=0).shape[0] == 8
