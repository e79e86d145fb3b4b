"""damjax.sweep.summarize / plot / export and ``damjax results ...`` on a real sweep store."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from damjax import sweep
from damjax.cli import main

CONFIG = (
    'experiment = "retrieval"\nseeds = 3\n[axes]\nN = [16]\nK = [2, 4, 8]\nn = [2, 3]\n'
    "[fixed]\nrho = 0.1\n"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    cfg = root / "c.toml"
    cfg.write_text(CONFIG)
    assert main(["sweep", str(cfg), "--out", str(root / "store"), "--quiet"]) == 0
    return root / "store"


def test_columns_split_into_parameters_and_measured(store):
    params = sweep.parameter_columns(store)
    measured = sweep.measured_columns(store)
    assert {"N", "K", "n", "rho"} <= set(params)
    assert "exact_rate" in measured
    assert not set(params) & set(measured)
    assert not {"seed", "point_id", "wall_time_s"} & set(params + measured)


def test_summarize_matches_a_direct_computation(store):
    rows = sweep.load(store)
    table = sweep.summarize(store, ci=0.9)
    assert len(table) == 6 and list(table.columns[:3]) == ["K", "n", "seeds"]
    assert (table["seeds"] == 3).all()
    measured = sweep.measured_columns(store)
    for _, r in table.iterrows():
        g = rows[(rows["K"] == r["K"]) & (rows["n"] == r["n"])]
        for c in measured:
            v = g[c].to_numpy(dtype=float)
            assert r[f"{c}_mean"] == pytest.approx(v.mean())
            assert r[f"{c}_std"] == pytest.approx(v.std(ddof=1), nan_ok=True)
            half = stats.t.ppf(0.95, 2) * v.std(ddof=1) / math.sqrt(3)
            assert r[f"{c}_ci"] == pytest.approx(half, nan_ok=True)


def test_summarize_never_averages_nan(tmp_path):
    df = pd.DataFrame(
        {
            "experiment": "e",
            "point_id": ["a"] * 3,
            "seed": [0, 1, 2],
            "K": 1,
            "y": [1.0, np.nan, 3.0],
        }
    )
    table = sweep.summarize(df)
    assert table["y_mean"].iloc[0] == 2.0 and table["y_nan"].iloc[0] == 1


def test_summarize_errors_name_the_argument(store, tmp_path):
    with pytest.raises(ValueError, match="`columns`"):
        sweep.summarize(store, columns=["nope"])
    with pytest.raises(ValueError, match="`ci`"):
        sweep.summarize(store, ci=95)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sweep.summarize(tmp_path / "none")
    with pytest.raises(ValueError, match="`where`"):
        sweep.summarize(store, where={"K": 3})


def test_plot_one_line_per_hue(store, tmp_path):
    fig = sweep.plot(store, x="K", y="exact_rate", hue="n", out=tmp_path / "f.png")
    ax = fig.axes[0]
    assert len(ax.get_lines()) >= 2 and ax.get_xlabel() == "K"
    assert "exact_rate" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["n = 2", "n = 3"]
    table = sweep.summarize(store)
    for line, n in zip(ax.containers, (2, 3)):  # errorbar containers, one per hue value
        x, y = line.lines[0].get_data()
        expect = table[table["n"] == n].sort_values("K")
        np.testing.assert_allclose(np.asarray(x, float), expect["K"].to_numpy(float))
        np.testing.assert_allclose(np.asarray(y, float), expect["exact_rate_mean"].to_numpy(float))
    assert (tmp_path / "f.png").stat().st_size > 0


def test_plot_refuses_to_average_over_a_varying_parameter(store):
    with pytest.raises(ValueError, match=r"\['n'\] also vary"):
        sweep.plot(store, x="K", y="exact_rate")
    fig = sweep.plot(store, x="K", y="exact_rate", where={"n": 3})
    assert len(fig.axes[0].containers) == 1
    with pytest.raises(ValueError, match="`y`"):
        sweep.plot(store, x="K", y="K", hue="n")


def test_export_writes_every_row(store, tmp_path):
    path = sweep.export(store, tmp_path / "rows.csv")
    back = pd.read_csv(path)
    rows = sweep.load(store)
    assert len(back) == len(rows) == 18
    assert set(rows.columns) == set(back.columns)
    np.testing.assert_allclose(
        back.sort_values(["K", "n", "seed"])["exact_rate"],
        rows.sort_values(["K", "n", "seed"])["exact_rate"],
    )


def test_cli_results_summarize_plot_export(store, tmp_path, capsys):
    assert main(["results", "summarize", str(store), "--csv", str(tmp_path / "s.csv")]) == 0
    out = capsys.readouterr().out
    assert "exact_rate_mean" in out and len(out.strip().splitlines()) == 7
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "s.csv"), sweep.summarize(store), check_dtype=False
    )
    fig = tmp_path / "fig.png"
    args = ["results", "plot", str(store), "--x", "K", "--y", "exact_rate", "--hue", "n"]
    assert main([*args, "--out", str(fig)]) == 0
    assert fig.read_bytes().startswith(b"\x89PNG")
    assert main([*args[:-2], "--where", "n=2", "--out", str(tmp_path / "f.svg")]) == 0
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")
    assert main(["results", "export", str(store), "--csv", str(tmp_path / "e.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "e.csv")) == 18
    capsys.readouterr()
    # usage errors: one line, exit 2
    assert main(["results", "summarize", str(tmp_path / "none")]) == 2
    assert main(["results", "plot", str(store), "--x", "K", "--y", "nope", "--hue", "n"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such folder" in err[0] and "`y`" in err[1]
