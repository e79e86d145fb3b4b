"""Sweep store reliability (issue 18, items 5-12): integrity, stale rows, keys, concurrency,
clear errors."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

from damjax import sweep
from damjax.sweep import _store

TOY_SRC = textwrap.dedent(
    """
    import os, time
    import jax, jax.numpy as jnp
    from damjax import sweep

    SLOW = float(os.environ.get("TOY_SLOW", "0"))

    def _sleep():
        time.sleep(SLOW)

    @sweep.experiment(name="rtoy", params={"N": 8, "rho": 0.0, "tag": "a"}, register=False)
    def rtoy(cfg, key):
        if SLOW:
            jax.debug.callback(_sleep)
        u = jax.random.uniform(key)
        return {"bit_error_rate": u * (1.0 + cfg["rho"]), "n": jnp.int32(cfg["N"])}
    """
)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("rtoymod")
    (d / "rtoyexp.py").write_text(TOY_SRC)
    sys.path.insert(0, str(d))
    import rtoyexp

    yield d, rtoyexp
    sys.path.remove(str(d))


def _grid(rhos=(0.0, 0.1, 0.2), seeds=2):
    return sweep.Grid({"N": [8], "rho": list(rhos)}, seeds=seeds)


# ----------------------------------------------------------------------------- item 5: integrity


def test_byte_flip_fuzz_no_silent_change(toy, tmp_path):
    _, mod = toy
    root = tmp_path / "s"
    sweep.run(_grid(seeds=3), mod.rtoy, root, progress=False, flush_seconds=1e9)
    (part,) = _store.part_files(root)
    original = part.read_bytes()
    ref = _store._read_verified(part).to_pandas()
    rng = np.random.default_rng(0)
    trial = tmp_path / "t"
    trial.mkdir()
    target = trial / part.name
    detected = silent = unchanged = 0
    trials = 1200
    for _ in range(trials):
        data = bytearray(original)
        pos = int(rng.integers(len(data)))
        data[pos] ^= 1 << int(rng.integers(8))
        target.write_bytes(bytes(data))
        try:
            got = _store._read_verified(target).to_pandas()
        except Exception:  # noqa: BLE001 - any error is a detection
            detected += 1
            continue
        if got.equals(ref) and list(got.dtypes) == list(ref.dtypes):
            unchanged += 1
        else:
            silent += 1
    assert silent == 0, f"{silent} of {trials} byte flips changed the rows silently"
    assert detected + unchanged == trials and detected == trials  # the hash covers every byte


def test_footer_rename_and_type_change_detected_without_hash(toy, tmp_path):
    # files of stores written before the hash: the schema checks still catch a renamed result
    # column and a changed key-column type (the two footer flips)
    _, mod = toy
    root = tmp_path / "s"
    sweep.run(_grid(), mod.rtoy, root, progress=False, flush_seconds=1e9)
    (part,) = _store.part_files(root)
    legacy = part.with_name(part.name.rsplit("-", 1)[0] + ".parquet")
    data = part.read_bytes()
    part.unlink()
    i = data.index(b"bit_error_rate")  # the occurrence the reader takes the name from
    legacy.write_bytes(data[:i] + b"bit_error_ratd" + data[i + 14 :])
    exp = sweep.get_experiment(mod.rtoy)
    results = _store.result_schema(exp, {"N": 8, "rho": 0.0, "tag": "a"})
    assert results == {"bit_error_rate": float, "n": int}
    with pytest.warns(sweep.CorruptFileWarning, match="result columns"):
        done, corrupt = _store.scan(root, experiment=exp, results=results, quarantine=False)
    assert corrupt == [legacy] and not done
    with pytest.warns(sweep.CorruptFileWarning):
        res = sweep.run(_grid(), mod.rtoy, root, progress=False)  # the renamed part: recomputed
    assert res.rows_computed == _grid().num_rows
    df = sweep.load(root)
    assert len(df) == _grid().num_rows and df["bit_error_rate"].notna().all()


def test_damaged_part_recomputed_and_load_clean(toy, tmp_path):
    _, mod = toy
    root = tmp_path / "s"
    g = _grid()
    sweep.run(g, mod.rtoy, root, progress=False, flush_seconds=1e9)
    (part,) = _store.part_files(root)
    data = bytearray(part.read_bytes())
    data[-20] ^= 0x01  # inside the footer
    part.write_bytes(bytes(data))
    with pytest.warns(sweep.CorruptFileWarning):
        res = sweep.run(g, mod.rtoy, root, progress=False)
    assert res.rows_computed == g.num_rows and len(res.corrupt_files) == 1
    df = sweep.load(root)
    assert len(df) == g.num_rows and not df.duplicated(["point_id", "seed"]).any()
    assert df["bit_error_rate"].notna().all()


# ------------------------------------------------------------------------ item 6: grid changes


def test_shrunk_grid_returns_no_stale_rows(toy, tmp_path):
    _, mod = toy
    root = tmp_path / "s"
    sweep.run(_grid(rhos=(0.0, 0.1, 0.2, 0.3)), mod.rtoy, root, progress=False)
    small = _grid(rhos=(0.1,))
    res = sweep.run(small, mod.rtoy, root, progress=False)
    assert res.rows_computed == 0  # its rows were already there
    df = sweep.load(root)
    assert len(df) == small.num_rows and set(df["rho"]) == {0.1}
    every = sweep.load(root, grid="all")
    assert len(every) == 8 and every["in_last_grid"].sum() == small.num_rows
    grids = sweep.store_grids(root)
    assert len(grids) == 2
    first = next(g for g, r in grids.items() if len(r["point_ids"]) == 4)
    assert len(sweep.load(root, grid=first)) == 8
    with pytest.raises(ValueError, match="grid"):
        sweep.load(root, grid="0123456789abcdef")


# --------------------------------------------------------------------------- item 7: point keys


def test_points_sharing_28_bits_get_different_keys(toy):
    # find two configs whose ids agree in the first 7 hex digits (the old 28-bit key)
    seen = {}
    pair = None
    for i in range(200_000):
        cfg = {"N": 8, "rho": 0.0, "tag": f"t{i}"}
        pid = sweep.point_id(cfg)
        if pid[:7] in seen:
            pair = (seen[pid[:7]], cfg["tag"])
            break
        seen[pid[:7]] = cfg["tag"]
    assert pair is not None
    _, mod = toy
    res = sweep.run(sweep.Grid({"tag": list(pair)}, seeds=1), mod.rtoy, None, progress=False)
    df = res.frame()
    assert len(df) == 2 and df["bit_error_rate"].nunique() == 2


# ---------------------------------------------------------------- items 8-10: concurrency


def _damaged_store(tmp_path, mod, name):
    root = tmp_path / name
    sweep.run(_grid(), mod.rtoy, root, progress=False, flush_seconds=1e9)
    (part,) = _store.part_files(root)
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    return root, part


def test_quarantine_is_idempotent(toy, tmp_path):
    _, mod = toy
    root, part = _damaged_store(tmp_path, mod, "q")
    errors = []
    for trial in range(20):
        if trial:
            os.replace(root / "corrupt" / part.name, part)  # put it back
        barrier = threading.Barrier(2)

        def worker():
            barrier.wait()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _store.scan(root)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        ts = [threading.Thread(target=worker) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert (root / "corrupt" / part.name).exists() and not part.exists()
    assert errors == []
    assert _store._quarantine(root, part) is None  # already moved: nothing to do, no error


def _spawn_sweep(moddir, root, slow):
    code = textwrap.dedent(
        f"""
        import sys; sys.path.insert(0, {str(moddir)!r})
        import rtoyexp
        from damjax import sweep
        g = sweep.Grid({{"N": [8], "rho": [0.0, 0.1, 0.2, 0.3]}}, seeds=2)
        sweep.run(g, rtoyexp.rtoy, {str(root)!r}, progress=False, batch_size=1,
                  flush_seconds=0.0)
        """
    )
    env = dict(os.environ, TOY_SLOW=str(slow), JAX_PLATFORMS="cpu")
    return subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)


def _wait_for(pred, timeout=120.0):
    t0 = time.time()
    while not pred():
        if time.time() - t0 > timeout:
            raise TimeoutError
        time.sleep(0.05)


def test_two_processes_one_store(toy, tmp_path):
    moddir, mod = toy
    root = tmp_path / "s"
    g = sweep.Grid({"N": [8], "rho": [0.0, 0.1, 0.2, 0.3]}, seeds=2)
    a = _spawn_sweep(moddir, root, slow=2.5)  # holds the lock for ~20 s
    b = None
    try:
        _wait_for(lambda: any(root.glob(".lock-*")))
        # a second real process on the same shard is refused with a clear message
        b = _spawn_sweep(moddir, root, slow=0.0)
        _, err_b = b.communicate(timeout=300)
        assert b.returncode != 0 and b"is in use" in err_b and b"pid" in err_b
        # and this process too
        with pytest.raises(sweep.StoreError, match="in use.*pid"):
            sweep.run(g, mod.rtoy, root, progress=False)
        _, err_a = a.communicate(timeout=300)
        assert a.returncode == 0, err_a.decode()[-2000:]
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.kill()
    df = sweep.load(root)
    assert len(df) == g.num_rows and not df.duplicated(["point_id", "seed"]).any()
    assert not list(root.glob(".lock-*"))


def test_kill9_stale_lock_and_temporaries_recovered(toy, tmp_path):
    moddir, mod = toy
    root = tmp_path / "s"
    g = sweep.Grid({"N": [8], "rho": [0.0, 0.1, 0.2, 0.3]}, seeds=2)
    a = _spawn_sweep(moddir, root, slow=2.0)
    _wait_for(lambda: any(root.glob(".lock-*")))
    time.sleep(0.5)
    dead_pid = a.pid
    a.send_signal(signal.SIGKILL)
    a.wait()
    # a half-written temporary of the dead writer, and one of a live writer (this process)
    host = _store._safe_host()
    dead_tmp = root / f".tmp-{host}-{dead_pid}-deadbeef0000.parquet"
    live_tmp = root / f".tmp-{host}-{os.getpid()}-feedface0000.parquet"
    dead_tmp.write_bytes(b"PAR1 half")
    live_tmp.write_bytes(b"PAR1 half")
    with pytest.warns(UserWarning, match="stale lock"):
        res = sweep.run(g, mod.rtoy, root, progress=False)
    assert res.rows_computed + res.rows_skipped == g.num_rows
    assert not dead_tmp.exists() and live_tmp.exists()
    df = sweep.load(root)
    assert len(df) == g.num_rows and not df.duplicated(["point_id", "seed"]).any()


# ------------------------------------------------------------- items 11-12: clear errors


@pytest.mark.parametrize("bs", [0, -1, 2.5, True])
def test_batch_size_checked(toy, bs):
    _, mod = toy
    with pytest.raises(ValueError, match="batch_size"):
        sweep.run(_grid(), mod.rtoy, None, progress=False, batch_size=bs)


@pytest.mark.parametrize("fs", [float("nan"), -1.0, float("inf"), "10"])
def test_flush_seconds_checked(toy, fs):
    _, mod = toy
    with pytest.raises(ValueError, match="flush_seconds"):
        sweep.run(_grid(), mod.rtoy, None, progress=False, flush_seconds=fs)
    with pytest.raises(ValueError, match="flush_rows"):
        sweep.run(_grid(), mod.rtoy, None, progress=False, flush_rows=0)


def test_out_must_be_a_writable_folder(toy, tmp_path):
    _, mod = toy
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="existing file"):
        sweep.run(_grid(), mod.rtoy, f, progress=False)
    with pytest.raises(ValueError, match="/proc/x"):
        sweep.run(_grid(), mod.rtoy, "/proc/x", progress=False)
    with pytest.raises(ValueError, match="cannot create"):
        sweep.run(_grid(), mod.rtoy, f / "sub", progress=False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_out_read_only(toy, tmp_path):
    _, mod = toy
    root = tmp_path / "s"
    sweep.run(_grid(), mod.rtoy, root, progress=False)
    root.chmod(0o555)
    try:
        with pytest.raises(ValueError, match="not writable"):
            sweep.run(_grid(), mod.rtoy, root, progress=False)  # even though complete
    finally:
        root.chmod(0o755)


def test_config_file_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path}.*directory"):
        sweep.load_config(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'experiment = "retrieval"\n# \xff\xfe latin-1\n')
    with pytest.raises(ValueError, match="bad.toml.*UTF-8"):
        sweep.load_config(bad)


def test_experiment_non_scalar_is_a_value_error():
    bad = sweep.Experiment(fn=lambda c, k: {"v": jnp.zeros(3)}, name="mod:bad")
    with pytest.raises(ValueError, match="non-scalar for 'v'"):
        sweep.run(sweep.Grid({"N": [4]}), bad, None, progress=False)
    empty = sweep.Experiment(fn=lambda c, k: 1.0, name="mod:empty")
    with pytest.raises(ValueError, match="dict of scalars"):
        sweep.run(sweep.Grid({"N": [4]}), empty, None, progress=False)
