"""Tests of damjax.sweep: grids, configs, the engine, the store, sharding, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from damjax import sweep
from damjax.cli import main as cli_main

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent

# an importable experiment module for subprocesses ("toyexp:toy") and this process
TOY_SRC = textwrap.dedent(
    """
    import os, time
    import jax, jax.numpy as jnp
    from damjax import sweep
    from damjax.patterns import random_binary

    SLOW = float(os.environ.get("TOY_SLOW", "0"))

    def _sleep():
        time.sleep(SLOW)

    @sweep.experiment(name="toy", params={"N": None, "K": None, "rho": 0.0, "mode": "a"},
                      types={"N": int, "K": int}, register=False)
    def toy(cfg, key):
        if SLOW:
            jax.debug.callback(_sleep)
        X = random_binary(key, cfg["K"], cfg["N"])
        m = X @ X[0]
        return {"score": jnp.mean(m) * (1.0 + cfg["rho"]), "first": X[0, 0],
                "count": jnp.sum(X > 0).astype(jnp.int32)}

    # the same rows, mapped in sequence (mode "a") instead of vmapped
    toy_seq = sweep.Experiment(fn=toy.fn, name="toy_seq", params=toy.params, types=toy.types,
                               sequential=lambda cfg: cfg["mode"] == "a")
    """
)


@pytest.fixture(scope="module")
def toymod(tmp_path_factory):
    d = tmp_path_factory.mktemp("toymod")
    (d / "toyexp.py").write_text(TOY_SRC)
    sys.path.insert(0, str(d))
    import toyexp

    yield d, toyexp
    sys.path.remove(str(d))


def _grid(seeds=3):
    return sweep.Grid({"N": [8, 12], "K": [3], "rho": [0.0, 0.1, 0.3]}, seeds=seeds)


def _key_cols(df):
    return df.sort_values(["point_id", "seed"]).reset_index(drop=True)


VALUE_COLS = ["N", "K", "rho", "seed", "score", "first", "count", "point_id"]


# --------------------------------------------------------------------------- grids and configs


def test_grid_points_and_ranges():
    g = sweep.Grid({"N": [10, 20], "rho": {"start": 0.0, "stop": 0.2, "num": 3}}, seeds=2)
    assert len(g) == 6 and g.num_rows == 12
    pts = list(g.points())
    assert pts[0] == {"N": 10, "rho": 0.0} and pts[-1]["N"] == 20
    assert np.allclose([p["rho"] for p in pts[:3]], [0.0, 0.1, 0.2])
    assert sweep.expand_range({"start": 10, "stop": 1000, "num": 3, "scale": "log"}) == [
        10,
        100,
        1000,
    ]
    assert sweep.expand_range({"start": 2, "stop": 8, "step": 3}) == [2, 5, 8]
    g2 = g + sweep.Grid({"N": [40], "rho": [0.5]}, seeds=2)
    assert len(g2) == 7 and list(g2.points())[-1] == {"N": 40, "rho": 0.5}
    assert sweep.Grid({"K": 5}, fixed={"n": 3}).blocks[0] == {"K": (5,), "n": (3,)}


@pytest.mark.parametrize(
    "axes,kw,match",
    [
        ({"N": []}, {}, "axis `N` is empty"),
        ({"N": [1, 1]}, {}, "duplicate"),
        ({"N": [1, "a"]}, {}, "one type"),
        ({"N": [[1]]}, {}, "axis `N`"),
        ({"seed": [1]}, {}, "seeds="),
        ({"N": [4]}, {"seeds": 0}, "seeds"),
        ({"N": {"start": 1}}, {}, "stop"),
    ],
)
def test_grid_rejects_bad_input(axes, kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        sweep.Grid(axes, **kw)


def test_join_needs_same_seeds():
    with pytest.raises(ValueError, match="seeds"):
        sweep.Grid({"N": [4]}, seeds=2) + sweep.Grid({"N": [5]}, seeds=3)


GOOD = 'experiment = "retrieval"\nseeds = 2\n[axes]\nN = [10, 20]\nK = [3]\n[fixed]\nn = 3\n'


@pytest.mark.parametrize(
    "text,match",
    [
        ("seeds = 2\n[axes]\nN = [10]\nK = [3]\n", "'experiment'"),
        ('experiment = "nope"\n[axes]\nN = [10]\nK = [3]\n', "'experiment'"),
        ('experiment = "retrieval"\nbogus = 1\n[axes]\nN = [10]\nK = [3]\n', "'bogus'"),
        ('experiment = "retrieval"\n[axes]\nN = [10]\nK = [3]\nZ = [1]\n', "'Z'"),
        ('experiment = "retrieval"\n[axes]\nN = [10]\nK = [3.5]\n', "`K`"),
        ('experiment = "retrieval"\n[axes]\nN = []\nK = [3]\n', "`N` is empty"),
        ('experiment = "retrieval"\n[axes]\nN = [10]\nK = [0]\n', "`K`"),
        ('experiment = "retrieval"\n[axes]\nN = [1]\nK = [3]\n', "`N`"),
        ('experiment = "retrieval"\n[axes]\nN = [10]\nK = [3]\nrule = ["zig"]\n', "`rule`"),
        ('experiment = "retrieval"\n[axes]\nN = [10]\nK = [3]\nrho = [1.5]\n', "`rho`"),
        ('experiment = "retrieval"\n[axes]\nK = [3]\n', "`N`"),
        ('experiment = "retrieval"\nseeds = "x"\n[axes]\nN = [10]\nK = [3]\n', "seeds"),
        ('experiment = "retrieval"\n', "'axes'"),
        ('experiment = "retrieval"\n[axes\n', "TOML"),
    ],
)
def test_config_errors_name_the_field(tmp_path, text, match):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises((ValueError, TypeError), match=match):
        sweep.load_config(p)


def test_cli_bad_config_fails_before_work(tmp_path, capsys):
    p = tmp_path / "c.toml"
    p.write_text('experiment = "retrieval"\n[axes]\nN = [10]\nK = [0]\n')
    out = tmp_path / "store"
    assert cli_main(["sweep", str(p), "--out", str(out), "--no-progress"]) == 2
    assert "`K`" in capsys.readouterr().err
    assert not out.exists()


def test_config_parses_blocks(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(
        'experiment = "fixed_points"\nseeds = [3, 5]\n[[axes]]\nN = [10]\nK = [2, 4]\n'
        '[[axes]]\nN = [20]\nK = {start = 4, stop = 16, num = 3, scale = "log"}\n'
        "[fixed]\nn = 2\n"
    )
    cfg = sweep.load_config(p)
    assert cfg.grid.seeds == (3, 5)
    assert [pt["K"] for pt in cfg.grid.points()] == [2, 4, 4, 8, 16]
    assert cfg.experiment.name == "fixed_points"


def test_shard_parsing():
    assert sweep.parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "a/b", "1", (1, 0)):
        with pytest.raises(ValueError, match="shard"):
            sweep.parse_shard(bad)


# --------------------------------------------------------------------------- engine and store


def test_run_store_load_and_skip(tmp_path, toymod):
    _, toyexp = toymod
    g = _grid()
    res = sweep.run(g, toyexp.toy, tmp_path / "s", progress=False)
    assert res.rows_computed == g.num_rows == 18 and res.rows_skipped == 0
    df = sweep.load(tmp_path / "s")
    assert len(df) == 18 and not df.duplicated(["point_id", "seed"]).any()
    for col in [
        "N",
        "K",
        "rho",
        "mode",
        "seed",
        "score",
        "first",
        "count",
        "experiment",
        "point_id",
        "damjax_version",
        "jax_version",
        "device_kind",
        "wall_time_s",
        "timestamp",
    ]:
        assert col in df.columns, col
    assert df["count"].dtype.kind == "i" and df["jax_version"].iloc[0] == jax.__version__
    # the same computation in memory gives the same rows
    mem = sweep.run(g, toyexp.toy, None, progress=False).frame()
    pd.testing.assert_frame_equal(_key_cols(df)[VALUE_COLS], _key_cols(mem)[VALUE_COLS])
    # a second run skips everything and compiles nothing
    again = sweep.run(g, toyexp.toy, tmp_path / "s", progress=True)
    assert again.rows_computed == 0 and again.rows_skipped == 18 and again.compilations == 0
    # a grown grid computes only the new rows
    bigger = sweep.Grid({"N": [8, 12], "K": [3], "rho": [0.0, 0.1, 0.3, 0.5]}, seeds=3)
    more = sweep.run(bigger, toyexp.toy, tmp_path / "s", progress=False)
    assert more.rows_computed == 6 and len(sweep.load(tmp_path / "s")) == 24


def test_rows_match_direct_computation(toymod):
    _, toyexp = toymod
    g = sweep.Grid({"N": [8], "K": [4], "rho": [0.2]}, seeds=[0, 7])
    df = sweep.run(g, toyexp.toy, None, progress=False).frame()
    for _, row in df.iterrows():
        cfg = {"N": 8, "K": 4, "rho": 0.2, "mode": "a"}
        pid = sweep.point_id(cfg)  # all 64 bits of the id, as two 32-bit words
        key = jax.random.key(int(row.seed))
        key = jax.random.fold_in(jax.random.fold_in(key, int(pid[:8], 16)), int(pid[8:], 16))
        direct = toyexp.toy.fn(cfg, key)
        assert np.isclose(row.score, float(direct["score"]), rtol=1e-6)
        assert row["count"] == int(direct["count"])
    # rows mapped in sequence (Experiment(sequential=...)) are the same rows
    seq = sweep.run(g, toyexp.toy_seq, None, progress=False).frame()
    pd.testing.assert_frame_equal(_key_cols(seq)[VALUE_COLS], _key_cols(df)[VALUE_COLS])
    with pytest.raises(TypeError, match="`sequential`"):
        sweep.Experiment(fn=toyexp.toy.fn, name="bad", sequential=True)
    # common_keys: the key depends on the seed only
    g2 = sweep.Grid({"N": [8], "K": [4], "rho": [0.0, 0.2]}, seeds=2, common_keys=True)
    df2 = sweep.run(g2, toyexp.toy, None, progress=False).frame()
    firsts = df2.groupby("seed")["count"].nunique()
    assert (firsts == 1).all()


def test_compilation_reused_across_points(toymod):
    _, toyexp = toymod
    # rho is dynamic: 2 static groups (N = 8, 12) -> 2 compilations for 6 points x 3 seeds
    exp = sweep.Experiment(
        fn=toyexp.toy.fn, name="toy_compile", params=toyexp.toy.params, types=toyexp.toy.types
    )
    res = sweep.run(_grid(), exp, None, progress=False, batch_size=4)
    assert res.compilations == 2
    # the same shapes in a later run reuse the compiled functions
    assert sweep.run(_grid(), exp, None, progress=False, batch_size=4).compilations == 0


def test_experiment_must_return_scalars():
    bad = sweep.Experiment(fn=lambda c, k: {"v": jnp.zeros(3)}, name="bad")
    with pytest.raises(TypeError, match="'v'"):
        sweep.run(sweep.Grid({"N": [4]}), bad, None, progress=False)
    clash = sweep.Experiment(fn=lambda c, k: {"N": 1.0}, name="clash")
    with pytest.raises(ValueError, match="clashes"):
        sweep.run(sweep.Grid({"N": [4]}), clash, None, progress=False)


def test_shards_merge_to_whole_grid(tmp_path, toymod):
    d, toyexp = toymod
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'experiment = "toyexp:toy"\nseeds = 2\n[axes]\nN = [8, 12, 16]\nK = [3]\n'
        "rho = [0.0, 0.25]\n"
    )
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert cli_main(["sweep", str(cfg), "--out", str(whole), "--no-progress"]) == 0
    assert (
        cli_main(["sweep", str(cfg), "--out", str(parts), "--shard", "0/2", "--no-progress"]) == 0
    )
    a = sweep.load(parts)
    assert 0 < len(a) < 12
    assert (
        cli_main(["sweep", str(cfg), "--out", str(parts), "--shard", "1/2", "--no-progress"]) == 0
    )
    w, p = _key_cols(sweep.load(whole)), _key_cols(sweep.load(parts))
    assert len(w) == 12
    pd.testing.assert_frame_equal(w[VALUE_COLS], p[VALUE_COLS])
    assert set(p["shard"]) == {"0/2", "1/2"}


def test_corrupt_file_detected_and_recomputed(tmp_path, toymod):
    _, toyexp = toymod
    g = _grid(seeds=2)
    store = tmp_path / "s"
    res = sweep.run(g, toyexp.toy, store, progress=False, flush_rows=4)
    assert len(res.files_written) > 1
    ref = _key_cols(sweep.load(store))
    victim = res.files_written[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])  # a partly written file
    (store / "part-garbage.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match="corrupt"):
        sweep.load(store, on_corrupt="raise")
    with pytest.warns(sweep.CorruptFileWarning):
        partial = sweep.load(store)
    assert len(partial) < len(ref)
    with pytest.warns(sweep.CorruptFileWarning, match="recomputed"):
        again = sweep.run(g, toyexp.toy, store, progress=False)
    assert len(again.corrupt_files) == 2 and again.rows_computed == len(ref) - len(partial)
    assert (store / "corrupt" / victim.name).exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = _key_cols(sweep.load(store))
    pd.testing.assert_frame_equal(fixed[VALUE_COLS], ref[VALUE_COLS])


def test_checksum_catches_flipped_bytes(tmp_path, toymod):
    _, toyexp = toymod
    store = tmp_path / "s"
    res = sweep.run(sweep.Grid({"N": [64], "K": [32]}, seeds=64), toyexp.toy, store, progress=False)
    f = res.files_written[0]
    data = bytearray(f.read_bytes())
    # flip bytes in the middle of the data pages (not the footer)
    mid = 200
    data[mid : mid + 8] = bytes(b ^ 0xFF for b in data[mid : mid + 8])
    f.write_bytes(bytes(data))
    with pytest.warns(sweep.CorruptFileWarning):
        sweep.load(store)


def test_many_points_stream_to_disk(tmp_path):
    # 10^4 points, one compiled function, results flushed in bounded parts
    exp = sweep.Experiment(fn=lambda c, k: {"y": c["a"] * 2.0 + jax.random.uniform(k)}, name="tiny")
    g = sweep.Grid({"a": np.linspace(0.0, 1.0, 100).tolist(), "b": np.arange(100.0).tolist()})
    res = sweep.run(g, exp, tmp_path / "s", progress=False, batch_size=1024, flush_rows=2048)
    assert res.rows_computed == 10_000 and res.compilations == 1
    assert len(res.files_written) >= 5 and res._tables == []
    df = sweep.load(tmp_path / "s", columns=["a", "y"])
    assert len(df) == 10_000 and df["point_id"].nunique() == 10_000


# --------------------------------------------------------------------------- processes


def _env(**extra):
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    env.update(extra)
    return env


def _sweep_on_four_devices(cfg, out, cwd):
    script = (
        "import jax, sys; assert jax.local_device_count() == 4, jax.devices();"
        "from damjax.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    r = subprocess.run(
        [PY, "-c", script, "sweep", str(cfg), "--out", str(out), "--no-progress"],
        cwd=cwd,
        env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=4"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return _key_cols(sweep.load(out))


def test_sharded_over_four_devices_equals_unsharded(tmp_path, toymod):
    d, toyexp = toymod
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'experiment = "toyexp:toy"\nseeds = 3\nbatch_size = 8\n[axes]\nN = [8, 12]\nK = [5]\n'
        "rho = [0.0, 0.1, 0.2]\n"
    )
    four = _sweep_on_four_devices(cfg, tmp_path / "four", d)
    assert (four["num_devices"] == 4).all()
    one = _key_cols(
        sweep.run(
            sweep.load_config(cfg).grid, toyexp.toy, None, progress=False, batch_size=8
        ).frame()
    )
    assert len(four) == len(one) == 18
    pd.testing.assert_frame_equal(four[VALUE_COLS], one[VALUE_COLS], check_exact=False, rtol=1e-6)
    # rows mapped in sequence on each device's shard (shard_map of lax.map) are the same rows
    seq = tmp_path / "seq.toml"
    seq.write_text(cfg.read_text().replace("toyexp:toy", "toyexp:toy_seq"))
    four_seq = _sweep_on_four_devices(seq, tmp_path / "four_seq", d)
    assert toyexp.toy_seq.runs_sequentially({"mode": "a"}) and len(four_seq) == 18
    pd.testing.assert_frame_equal(
        four_seq[VALUE_COLS], one[VALUE_COLS], check_exact=False, rtol=1e-6
    )


def test_kill_and_resume_loses_and_duplicates_nothing(tmp_path, toymod):
    d, toyexp = toymod
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'experiment = "toyexp:toy"\nseeds = 4\nbatch_size = 2\n[axes]\nN = [8]\nK = [3]\n'
        "rho = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35]\n"
    )
    store = tmp_path / "s"
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "damjax.cli",
            "sweep",
            str(cfg),
            "--out",
            str(store),
            "--no-progress",
            "--flush-seconds",
            "0",
        ],
        cwd=d,
        env=_env(TOY_SLOW="0.25"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 240
        while time.time() < deadline and len(list(store.glob("part-*.parquet"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # a real, abrupt kill mid-sweep
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = sweep.load(store)
    assert 0 < len(partial) < 32, "the sweep should have been killed mid-way"
    res = sweep.run(sweep.load_config(cfg).grid, toyexp.toy, store, progress=False, batch_size=2)
    assert res.rows_skipped == len(partial) and res.rows_computed == 32 - len(partial)
    raw = pd.concat([pd.read_parquet(f) for f in sorted(store.glob("part-*.parquet"))])
    assert len(raw) == 32 and not raw.duplicated(["point_id", "seed"]).any()
    ref = sweep.run(sweep.load_config(cfg).grid, toyexp.toy, None, progress=False).frame()
    pd.testing.assert_frame_equal(_key_cols(raw)[VALUE_COLS], _key_cols(ref)[VALUE_COLS])


def test_jax_distributed_processes_split_the_grid(tmp_path, toymod):
    import socket

    d, toyexp = toymod
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    script = textwrap.dedent(
        f"""
        import sys, jax
        jax.distributed.initialize(coordinator_address="localhost:{port}", num_processes=2,
                                   process_id=int(sys.argv[1]))
        from damjax import sweep
        import toyexp
        g = sweep.Grid({{"N": [8, 12], "K": [3], "rho": [0.0, 0.1, 0.3]}}, seeds=3)
        r = sweep.run(g, toyexp.toy, sys.argv[2], progress=False)
        assert jax.process_count() == 2 and r.points == 3, (jax.process_count(), r.points)
        """
    )
    store = tmp_path / "s"
    procs = [
        subprocess.Popen(
            [PY, "-c", script, str(i), str(store)],
            cwd=d,
            env=_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    df = _key_cols(sweep.load(store))
    assert set(df["process_index"]) == {0, 1}
    ref = _key_cols(sweep.run(_grid(), toyexp.toy, None, progress=False).frame())
    pd.testing.assert_frame_equal(df[VALUE_COLS], ref[VALUE_COLS])


def test_added_parameter_at_default_keeps_ids_keys_and_rows(tmp_path):
    def fn(config, key):
        return {"u": jax.random.uniform(key) + 0.0 * config.get("extra", 0.0)}

    before = sweep.experiment(fn, name="grow", params={"N": 4}, register=False)
    after = sweep.experiment(
        fn, name="grow", params={"N": 4, "extra": 0.0}, added={"extra"}, register=False
    )
    g = sweep.Grid({"N": [4, 5]}, seeds=2)
    old = sweep.run(g, before, tmp_path / "s", progress=False).frame()
    # resuming with the grown experiment finds every row done (same ids), nothing recomputed
    res = sweep.run(g, after, tmp_path / "s", progress=False)
    assert (res.rows_computed, res.rows_skipped) == (0, 4)
    new = res.frame()
    assert len(new) == len(old) == 4
    assert set(new["point_id"]) == set(old["point_id"]) and (new["extra"] == 0.0).all()
    # in memory too: the same keys, so the same values
    fresh = sweep.run(g, after, None, progress=False).frame()
    cols = ["point_id", "seed", "u"]
    assert (
        fresh[cols].sort_values(cols).values.tolist() == old[cols].sort_values(cols).values.tolist()
    )
    # a non-default value is a different point
    moved = sweep.run(sweep.Grid({"N": [4], "extra": [1.0]}, seeds=1), after, None, progress=False)
    assert not set(moved.frame()["point_id"]) & set(old["point_id"])
    with pytest.raises(TypeError, match="`added` must name parameters"):
        sweep.experiment(fn, name="bad", params={"N": 4}, added={"nope"}, register=False)
