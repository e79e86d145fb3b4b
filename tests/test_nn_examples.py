"""The nn benchmark suite and the MIL example run and compute (not that they pass)."""

import json

import jax
import numpy as np
import pytest

import damjax as dj
from damjax import reproduce
from damjax.cli import main
from damjax.nn import mil


def test_bench_nn_quick_writes_keys(tmp_path):
    path = tmp_path / "bench.json"
    assert main(["bench", "--suite", "nn", "--quick", "--json", str(path)]) == 0
    out = json.loads(path.read_text())
    for k in ("hopfield_fwd_bwd_vs_mha", "hopfield_vs_gemm"):
        assert isinstance(out[k], float) and np.isfinite(out[k]) and out[k] > 0
    assert out["suites"] == ["nn"]


def test_digit_bags():
    data = dj.datasets.load_digits()
    bags = mil.digit_bags(data, 40, key=jax.random.key(0), target=3)
    n = np.asarray(bags.instances).shape
    assert n[0] == 40 and n[2] == 64
    pad, digits = np.asarray(bags.padding), np.asarray(bags.digits)
    assert np.all((digits == -1) == pad) and np.all((~pad).sum(1) >= 2)
    assert np.array_equal(np.asarray(bags.labels), np.any(digits == 3, axis=1).astype(int))
    assert np.all(np.asarray(bags.instances)[pad] == 0.0)
    with pytest.raises(ValueError, match="target"):
        mil.digit_bags(data, 4, key=jax.random.key(0), target=10)
    with pytest.raises(ValueError, match="n_bags"):
        mil.digit_bags(data, 0, key=jax.random.key(0))


def test_mil_models_ignore_padding():
    data = dj.datasets.load_digits()
    bags = mil.digit_bags(data, 4, key=jax.random.key(1))
    for model in (
        mil.HopfieldMIL(64, key=jax.random.key(2)),
        mil.MeanPoolMIL(64, key=jax.random.key(2)),
    ):
        x, p = bags.instances[0], bags.padding[0]
        n = int((~np.asarray(p)).sum())
        assert np.allclose(model(x, p), model(x[:n], p[:n]), atol=1e-5)
        garbage = x.at[n:].set(5.0)
        assert np.allclose(model(garbage, p), model(x, p), atol=1e-5)
    att = mil.HopfieldMIL(64, key=jax.random.key(2)).attention(bags.instances[0], bags.padding[0])
    assert np.isclose(float(att.sum()), 1.0, atol=1e-5) and np.all(np.asarray(att)[n:] == 0.0)


def test_mil_example_runs_and_computes(tmp_path):
    summary = reproduce.run("hopfield-mil-digits", tmp_path, quick=True)
    assert set(summary["checks"]) == {
        "hopfield_pooling_accuracy",
        "above_mean_pooling",
        "attention_on_target_instances",
    }
    for c in summary["checks"].values():
        assert c["source"] == "ours" and c["cite"]
        assert isinstance(c["measured"], float) and np.isfinite(c["measured"])
    means = summary["config"]["means"]
    for k in ("hopfield_test_accuracy", "mean_pool_test_accuracy", "majority_test_accuracy"):
        assert 0.0 <= means[k] <= 1.0
    assert summary["protocol"] and summary["deviations"]
    assert (tmp_path / "mil.png").stat().st_size > 10_000


def test_hierarchical_digits_runs_and_computes(tmp_path):
    summary = reproduce.run("hierarchical-digits", tmp_path, quick=True)
    assert set(summary["checks"]) == {
        "energy_never_increases",
        "trajectories_finite",
        "completion_beats_mean_image",
        "label_layer_accuracy",
    }
    for c in summary["checks"].values():
        assert c["source"] in ("theory", "ours") and c["cite"]
    cfg = summary["config"]
    assert cfg["widths"] == [64, 100, 10]
    assert np.isfinite(cfg["completion_mse"]) and 0.0 <= cfg["label_accuracy"] <= 1.0
    assert (tmp_path / "hierarchical_digits.png").stat().st_size > 10_000
