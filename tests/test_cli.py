import json
import subprocess
import sys

from damjax.cli import main


def test_help_lists_subcommands():
    out = subprocess.run(
        [sys.executable, "-m", "damjax.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for cmd in ("bench", "reproduce", "sweep"):
        assert cmd in out


def test_bench_core_quick_writes_keys(tmp_path):
    path = tmp_path / "bench.json"
    assert main(["bench", "--suite", "core", "--quick", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    for key in ("sync_vs_gemm", "naive_speedup", "async_vs_sync", "numpy_speedup"):
        assert data[key] > 0
    assert data["dtype"] == "float32" and "jax_version" in data and "device" in data
    assert data["core_shapes"]["F"] == "x^3"
    # the implementations being compared make the same decisions
    assert data["agreement_naive"] > 0.99 and data["agreement_numpy"] > 0.99


def test_bench_unknown_suite():
    assert main(["bench", "--suite", "nope", "--quick"]) == 2


def test_reproduce_list(capsys):
    assert main(["reproduce", "--list"]) == 0
    assert "krotov2016-capacity" in capsys.readouterr().out
