"""The sweep engine: batch every (point, seed) that shares static values into one compiled,
vmapped call, shard the batch over the local devices, and stream the rows into the store."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pyarrow as pa

from .._validation import ExperimentOutputError, InputError
from ._experiment import Experiment, get_experiment
from ._grid import Grid
from ._store import (
    KEY_COLUMNS,
    StoreError,
    clean_temporaries,
    record_grid,
    result_schema,
    scan,
    store_lock,
    write_json_atomic,
    write_part,
)

__all__ = ["SweepResult", "compilation_count", "parse_shard", "point_id", "run"]

META_COLUMNS = (
    "experiment",
    "point_id",
    "seed",
    "damjax_version",
    "jax_version",
    "device_kind",
    "num_devices",
    "wall_time_s",
    "timestamp",
    "shard",
    "process_index",
    "key_scheme",
)

# how a row's PRNG key is derived from (seed, point id): 2 = all 64 bits of the id folded in as
# two 32-bit words (1, before: the first 28 bits only, so two points could share a key)
KEY_SCHEME = 2

# compiled batched functions, reused across points, groups and runs in one process
_CACHE: dict[tuple, Any] = {}
_TRACES = [0]


def compilation_count() -> int:
    """Total number of batched experiment functions traced (= compiled) in this process."""
    return _TRACES[0]


def point_id(config: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit id of a point's full config (canonical JSON, sorted keys)."""
    blob = json.dumps({k: config[k] for k in sorted(config)}, sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse_shard(shard) -> tuple[int, int]:
    """``"i/n"`` or ``(i, n)`` -> ``(i, n)`` with ``0 <= i < n``.

    **Raises:** ``ValueError`` naming ``shard`` otherwise.
    """
    if isinstance(shard, str):
        parts = shard.split("/")
        try:
            i, n = (int(p) for p in parts) if len(parts) == 2 else (None, None)
        except ValueError:
            i = n = None
        if i is None:
            raise ValueError(f"`shard` must look like 'i/n' (e.g. '0/4'); got {shard!r}")
    else:
        try:
            i, n = shard
        except (TypeError, ValueError):
            raise ValueError(f"`shard` must be 'i/n' or a pair (i, n); got {shard!r}") from None
    if isinstance(i, bool) or not isinstance(i, int) or not isinstance(n, int) or n < 1:
        raise ValueError(f"`shard` must be 'i/n' with integers n >= 1; got {shard!r}")
    if not 0 <= i < n:
        raise ValueError(f"`shard` index must satisfy 0 <= i < n; got {i}/{n}")
    return i, n


@dataclasses.dataclass
class SweepResult:
    """What :func:`run` did.

    **Fields:** ``out`` (store folder or ``None``), ``experiment`` (name), ``points`` (points
    assigned to this shard/process), ``rows_total`` (their (point, seed) rows), ``rows_computed``,
    ``rows_skipped`` (already in the store), ``compilations`` (batched functions compiled by this
    run; reused compilations are not counted), ``wall_time_s``, ``corrupt_files`` (quarantined
    store files whose points were recomputed), ``files_written``.
    """

    out: Path | None
    experiment: str
    points: int
    rows_total: int
    rows_computed: int
    rows_skipped: int
    compilations: int
    wall_time_s: float
    corrupt_files: list[Path]
    files_written: list[Path]
    _tables: list = dataclasses.field(default_factory=list, repr=False)
    _ids: frozenset = dataclasses.field(default_factory=frozenset, repr=False)
    _seeds: tuple = dataclasses.field(default=(), repr=False)

    def frame(self):
        """The rows of this run's grid (this shard) as a pandas DataFrame, including rows that
        were already in the store; other rows of the store are left out (use :func:`load`)."""
        if self.out is not None:
            from ._store import load

            df = load(self.out, experiment=self.experiment)
            keep = df["point_id"].isin(self._ids) & df["seed"].isin(self._seeds)
            return df[keep].reset_index(drop=True)
        import pandas as pd

        if not self._tables:
            return pd.DataFrame(columns=list(KEY_COLUMNS))
        return pa.concat_tables(self._tables, promote_options="default").to_pandas()


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def _dtype_of(t: type):
    return {float: np.float32, int: np.int32, bool: np.bool_}.get(t)


def point_words(pid: str) -> tuple[int, int]:
    """The 64-bit point id as two unsigned 32-bit words (folded into the row's key)."""
    return int(pid[:8], 16), int(pid[8:16], 16)


def _build(exp: Experiment, static_cfg: dict, dyn_names: tuple, common_keys: bool, mesh):
    def one(seed, phash, dyn):
        key = jax.random.key(seed)
        if not common_keys:
            key = jax.random.fold_in(jax.random.fold_in(key, phash[0]), phash[1])
        cfg = dict(static_cfg)
        cfg.update(dyn)
        out = exp.fn(cfg, key)
        if not isinstance(out, Mapping) or not out:
            raise ExperimentOutputError(
                f"experiment {exp.name!r} must return a non-empty dict of scalars; got "
                f"{type(out).__name__}"
            )
        res = {}
        for k, v in out.items():
            v = jnp.asarray(v)
            if v.shape != ():
                raise ExperimentOutputError(
                    f"experiment {exp.name!r} returned a non-scalar for {k!r}: shape {v.shape} "
                    f"(every value must be a 0-d number)"
                )
            res[str(k)] = v
        return res

    def batched(seed, phash, dyn):
        _TRACES[0] += 1
        return jax.vmap(one)(seed, phash, dyn)

    if mesh is None:
        return jax.jit(batched)
    sh = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    return jax.jit(batched, in_shardings=(sh, sh, sh), out_shardings=sh)


def _versions() -> dict:
    from .. import __version__

    return {"damjax_version": __version__, "jax_version": jax.__version__}


def run(
    grid: Grid,
    experiment: str | Experiment,
    out: str | Path | None = None,
    *,
    shard: str | tuple[int, int] = (0, 1),
    batch_size: int | None = None,
    devices: list | None = None,
    progress: bool = True,
    flush_seconds: float = 10.0,
    flush_rows: int = 8192,
) -> SweepResult:
    """Run ``experiment`` on every (point, seed) of ``grid`` and store one row for each.

    Points are grouped by their static parameter values; all (point, seed) rows of a group are
    evaluated in chunks of ``batch_size`` by ONE compiled, vmapped function (so compilation is
    reused across points and seeds; the dynamic parameters and the keys are batched inputs). The
    chunk axis is sharded over ``devices`` (default: every local device) with a 1-D
    :class:`jax.sharding.Mesh` and ``NamedSharding``; the last chunk of a group is padded.

    Row ``(point, seed)`` gets the key ``fold_in(key(seed), hash(point))`` (``key(seed)`` with
    ``grid.common_keys``), so results do not depend on batching, sharding or the job split.

    **Arguments:**

    * ``grid`` — a :class:`Grid`.
    * ``experiment`` — an :class:`Experiment`, a registered name, ``"module:function"``.
    * ``out`` — store folder (created). Rows already in it are skipped (resume); corrupt files
      are reported, moved to ``out/corrupt/`` and their points recomputed. ``None``: keep the
      rows in memory (``result.frame()``).
    * ``shard`` — ``"i/n"``: run only points with ``index % n == i`` (job arrays; all shards
      write into the same store). Under ``jax.distributed`` each process further takes every
      ``process_count``-th point of its shard and runs on its local devices.
    * ``batch_size`` — rows per compiled call (rounded up to a multiple of the device count).
      Default: the number of seeds, i.e. one point's seeds per call. Larger batches mix points
      and amortise dispatch for cheap experiments; for experiments with data-dependent loops
      (dynamics to convergence) every row of a batch runs as long as the slowest one.
    * ``devices`` — devices to shard over (default ``jax.local_devices()``).
    * ``progress`` — show a tqdm bar (rows done, rate, ETA).
    * ``flush_seconds`` / ``flush_rows`` — write a part file at least this often; a killed run
      loses at most the rows since the last write (and recomputes them on resume).

    **Returns:** a :class:`SweepResult`.

    **Raises:** ``ValueError`` / ``TypeError`` naming the field for a malformed grid or point
    (before any work), a bad ``shard`` or ``batch_size``.
    """
    t_start = time.perf_counter()
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a damjax.sweep.Grid; got {type(grid).__name__}")
    exp = get_experiment(experiment)
    si, sn = parse_shard(shard)
    if batch_size is not None and (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"`batch_size` must be None or an integer >= 1; got {batch_size!r}")
    _check_flush(flush_seconds, flush_rows)
    if batch_size is None:
        batch_size = len(grid.seeds)
    devices = list(jax.local_devices() if devices is None else devices)
    if not devices:
        raise ValueError("`devices` must not be empty")
    ndev = len(devices)
    mesh = jax.sharding.Mesh(np.array(devices), ("batch",)) if ndev > 1 else None
    pidx, pcount = jax.process_index(), jax.process_count()

    # 1. resolve and validate every point before any work
    configs: list[dict] = []
    ids: list[str] = []
    j = 0
    all_ids: list[str] = []
    for idx, pt in enumerate(grid.points()):
        cfg = exp.resolve(pt, where=f"grid point {idx} {pt}")
        all_ids.append(point_id(cfg))
        if idx % sn != si:
            continue
        j += 1
        if (j - 1) % pcount != pidx:
            continue
        for k in cfg:
            if k in META_COLUMNS:
                raise ValueError(f"axis name {k!r} clashes with a metadata column of the store")
        configs.append(cfg)
        ids.append(all_ids[-1])

    root = Path(out) if out is not None else None
    lock = contextlib.nullcontext()
    if root is not None:
        _prepare_store(root, exp, grid)
        lock = store_lock(root, f"s{si}of{sn}-p{pidx}")
    with lock:
        return _run_locked(
            grid, exp, root, configs, ids, all_ids, devices, ndev, mesh, si, sn, pidx, pcount,
            batch_size, progress, flush_seconds, flush_rows, t_start,
        )  # fmt: skip


def _check_flush(flush_seconds, flush_rows) -> None:
    if (
        isinstance(flush_seconds, bool)
        or not isinstance(flush_seconds, (int, float, np.integer, np.floating))
        or not math.isfinite(flush_seconds)
        or flush_seconds < 0
    ):
        raise InputError(
            f"`flush_seconds` must be a finite number >= 0 (seconds between writes); "
            f"got {flush_seconds!r}"
        )
    if (
        isinstance(flush_rows, bool)
        or not isinstance(flush_rows, (int, np.integer))
        or flush_rows < 1
    ):
        raise InputError(f"`flush_rows` must be an integer >= 1; got {flush_rows!r}")


def _prepare_store(root: Path, exp: Experiment, grid: Grid) -> None:
    """Check that ``root`` can be a sweep store (a folder, writable) and create it.

    **Raises:** :class:`StoreError` naming ``out``."""
    if root.exists() and not root.is_dir():
        raise StoreError(f"`out` = {root} is an existing file, not a folder (sweep store)")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"`out` = {root}: cannot create the store folder ({e.strerror})") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise StoreError(f"`out` = {root}: the store folder is not writable")


def _run_locked(
    grid, exp, root, configs, ids, all_ids, devices, ndev, mesh, si, sn, pidx, pcount,
    batch_size, progress, flush_seconds, flush_rows, t_start,
):  # fmt: skip
    corrupt: list[Path] = []
    done: set = set()
    if root is not None:
        clean_temporaries(root)
        results = result_schema(exp, configs[0]) if configs else None
        done, corrupt = scan(root, experiment=exp, results=results)
        try:
            gid = record_grid(root, exp.name, grid.to_dict(), all_ids, list(grid.seeds))
            write_json_atomic(
                root / "sweep.json",
                {
                    "experiment": exp.name,
                    "grid": grid.to_dict(),
                    "grid_id": gid,
                    "shard": f"{si}/{sn}",
                    "key_scheme": KEY_SCHEME,
                    **_versions(),
                },
            )
        except OSError as e:
            raise StoreError(f"`out` = {root}: cannot write sweep.json ({e.strerror})") from None

    # 2. group rows by static values
    groups: dict[tuple, list[tuple[int, int]]] = {}
    statics: dict[tuple, tuple[dict, tuple]] = {}
    rows_total = skipped = 0
    for p, cfg in enumerate(configs):
        st = {k: v for k, v in cfg.items() if exp.is_static(k, v)}
        dyn = tuple(
            sorted((k, exp.param_type(k, v).__name__) for k, v in cfg.items() if k not in st)
        )
        sig = (tuple(sorted(st.items())), dyn)
        statics.setdefault(sig, (st, tuple(k for k, _ in dyn)))
        for s in grid.seeds:
            rows_total += 1
            if (exp.name, ids[p], s) in done:
                skipped += 1
                continue
            groups.setdefault(sig, []).append((p, s))
    del done
    todo = rows_total - skipped

    meta = {
        **_versions(),
        "device_kind": devices[0].device_kind,
        "num_devices": ndev,
        "shard": f"{si}/{sn}",
        "process_index": pidx,
        "key_scheme": KEY_SCHEME,
    }
    tag = f"s{si}of{sn}-p{pidx}"
    traces0 = _TRACES[0]
    files: list[Path] = []
    tables: list[pa.Table] = []
    buffer: list[pa.Table] = []
    buffered = 0
    last_flush = time.perf_counter()

    def flush():
        nonlocal buffer, buffered, last_flush
        if buffer:
            table = pa.concat_tables(buffer, promote_options="default")
            if root is None:
                tables.append(table)
            else:
                try:
                    files.append(write_part(root, table, tag))
                except OSError as e:
                    raise StoreError(
                        f"`out` = {root}: cannot write a result file ({e.strerror})"
                    ) from None
        buffer, buffered, last_flush = [], 0, time.perf_counter()

    from tqdm.auto import tqdm

    bar = tqdm(
        total=todo,
        unit="row",
        desc=f"sweep {exp.name} ({len(configs)} pts x {len(grid.seeds)} seeds)",
        disable=not progress,
        dynamic_ncols=True,
    )
    computed = 0
    try:
        for sig, items in groups.items():
            st, dyn_names = statics[sig]
            n_items = len(items)
            cs = _round_up(min(batch_size, n_items), ndev)
            ck = (id(exp), exp.fn, sig, cs, tuple(devices), grid.common_keys)
            fn = _CACHE.get(ck)
            if fn is None:
                fn = _CACHE[ck] = _build(exp, st, dyn_names, grid.common_keys, mesh)
            pending = None
            t_prev = time.perf_counter()
            for c0 in [*range(0, n_items, cs), None]:
                launched = None
                if c0 is not None:
                    chunk = items[c0 : c0 + cs]
                    m = len(chunk)
                    padded = chunk + [chunk[-1]] * (cs - m)
                    seeds = np.array([s for _, s in padded], np.int32)
                    phash = np.array([point_words(ids[p]) for p, _ in padded], np.uint32)
                    dyn = {
                        k: np.array(
                            [configs[p][k] for p, _ in padded],
                            _dtype_of(exp.param_type(k, configs[padded[0][0]][k])),
                        )
                        for k in dyn_names
                    }
                    launched = (fn(seeds, phash, dyn), chunk)
                if pending is not None:
                    res, chunk_p = pending
                    res = jax.device_get(res)
                    now = time.perf_counter()
                    mp = len(chunk_p)
                    buffer.append(_rows(exp, configs, ids, chunk_p, res, meta, (now - t_prev) / mp))
                    t_prev = now
                    buffered += mp
                    computed += mp
                    bar.update(mp)
                    if buffered >= flush_rows or now - last_flush >= flush_seconds:
                        flush()
                pending = launched
            flush()
    finally:
        flush()
        bar.close()
    return SweepResult(
        out=root,
        experiment=exp.name,
        points=len(configs),
        rows_total=rows_total,
        rows_computed=computed,
        rows_skipped=skipped,
        compilations=_TRACES[0] - traces0,
        wall_time_s=time.perf_counter() - t_start,
        corrupt_files=corrupt,
        files_written=files,
        _tables=tables,
        _ids=frozenset(ids),
        _seeds=tuple(grid.seeds),
    )


def _rows(exp, configs, ids, chunk, res, meta, wall_per_row) -> pa.Table:
    m = len(chunk)
    cols: dict[str, Any] = {}
    names = list(dict.fromkeys(k for p, _ in chunk for k in configs[p]))
    for k in names:
        cols[k] = [configs[p].get(k) for p, _ in chunk]
    cols["seed"] = [s for _, s in chunk]
    for k, v in res.items():
        if k in cols or k in META_COLUMNS:
            raise ValueError(
                f"experiment {exp.name!r} returned {k!r}, which clashes with an axis or "
                f"metadata column"
            )
        v = np.asarray(v)[:m]
        if v.dtype.kind == "f":
            v = v.astype(np.float64) if v.dtype.itemsize > 4 else v
        cols[k] = v
    cols["experiment"] = [exp.name] * m
    cols["point_id"] = [ids[p] for p, _ in chunk]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for k, v in meta.items():
        cols[k] = [v] * m
    cols["wall_time_s"] = np.full(m, wall_per_row)
    cols["timestamp"] = [stamp] * m
    return pa.table(cols)
