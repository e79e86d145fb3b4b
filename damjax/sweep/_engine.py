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
    _exp: Any = dataclasses.field(default=None, repr=False)

    def frame(self):
        """The rows of this run's grid (this shard) as a pandas DataFrame, including rows that
        were already in the store; other rows of the store are left out (use :func:`load`)."""
        if self.out is not None:
            from ._store import fill_added, load

            df = load(self.out, experiment=self.experiment)
            if self._exp is not None:
                df = fill_added(df, self._exp)
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

    sequential = exp.runs_sequentially(static_cfg)
    spec = jax.sharding.PartitionSpec("batch")

    def rows(seed, phash, dyn):
        if sequential:
            return jax.lax.map(lambda a: one(*a), (seed, phash, dyn))
        return jax.vmap(one)(seed, phash, dyn)

    if mesh is not None and sequential:
        # each device maps its own shard of rows (lax.map over the sharded axis would gather it)
        rows = jax.shard_map(rows, mesh=mesh, in_specs=spec, out_specs=spec)

    def batched(seed, phash, dyn):
        _TRACES[0] += 1
        return rows(seed, phash, dyn)

    if mesh is None:
        return jax.jit(batched)
    sh = jax.sharding.NamedSharding(mesh, spec)
    return jax.jit(batched, in_shardings=(sh, sh, sh), out_shardings=sh)


def _versions() -> dict:
    from .._version import __version__

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
    _check_flush(flush_seconds, flush_rows)
    plan = _plan(grid, experiment, out, shard=shard, batch_size=batch_size, devices=devices)
    # one writer per shard of a store at a time (a second one gets a StoreError naming the owner)
    lock = contextlib.nullcontext() if plan.root is None else store_lock(plan.root, plan.tag)
    with lock:
        _schedule(plan)
        writer = _Writer(plan.root, plan.tag, flush_seconds=flush_seconds, flush_rows=flush_rows)
        traces0 = _TRACES[0]
        try:
            computed = _execute(plan, writer, progress=progress)
        finally:
            writer.flush()
    return SweepResult(
        out=plan.root,
        experiment=plan.exp.name,
        points=len(plan.configs),
        rows_total=plan.rows_total,
        rows_computed=computed,
        rows_skipped=plan.skipped,
        compilations=_TRACES[0] - traces0,
        wall_time_s=time.perf_counter() - t_start,
        corrupt_files=plan.corrupt,
        files_written=writer.files,
        _tables=writer.tables,
        _ids=frozenset(plan.ids),
        _seeds=tuple(plan.grid.seeds),
        _exp=plan.exp,
    )


@dataclasses.dataclass
class _Plan:
    """What a run will do, decided before any work: the resolved points of this shard / process
    (:func:`_plan`), and, read from the store under its lock (:func:`_schedule`), the rows still
    to compute grouped by static values."""

    exp: Experiment
    grid: Grid
    configs: list[dict]
    ids: list[str]
    all_ids: list[str]
    root: Path | None
    batch_size: int
    devices: list
    mesh: Any
    meta: dict
    shard: str
    tag: str
    groups: dict[tuple, list[tuple[int, int]]] = dataclasses.field(default_factory=dict)
    statics: dict[tuple, tuple[dict, tuple]] = dataclasses.field(default_factory=dict)
    rows_total: int = 0
    skipped: int = 0
    corrupt: list[Path] = dataclasses.field(default_factory=list)


def _plan(grid, experiment, out, *, shard, batch_size, devices) -> _Plan:
    """Validate the arguments, resolve every point (before any work) and check that ``out`` can
    be a store."""
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
    if batch_size is None:
        batch_size = len(grid.seeds)
    devices = list(jax.local_devices() if devices is None else devices)
    if not devices:
        raise ValueError("`devices` must not be empty")
    ndev = len(devices)
    mesh = jax.sharding.Mesh(np.array(devices), ("batch",)) if ndev > 1 else None
    pidx, pcount = jax.process_index(), jax.process_count()

    configs: list[dict] = []
    ids: list[str] = []
    all_ids: list[str] = []
    j = 0
    for idx, pt in enumerate(grid.points()):
        cfg = exp.resolve(pt, where=f"grid point {idx} {pt}")
        all_ids.append(point_id(exp.identity(cfg)))
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
    if root is not None:
        _prepare_store(root)
    meta = {
        **_versions(),
        "device_kind": devices[0].device_kind,
        "num_devices": ndev,
        "shard": f"{si}/{sn}",
        "process_index": pidx,
        "key_scheme": KEY_SCHEME,
    }
    return _Plan(
        exp=exp,
        grid=grid,
        configs=configs,
        ids=ids,
        all_ids=all_ids,
        root=root,
        batch_size=batch_size,
        devices=devices,
        mesh=mesh,
        meta=meta,
        shard=f"{si}/{sn}",
        tag=f"s{si}of{sn}-p{pidx}",
    )


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


def _prepare_store(root: Path) -> None:
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


def _schedule(plan: _Plan) -> None:
    """Under the store's lock: remove dead writers' temporaries, read the finished rows (parts
    checked against the experiment's result schema), record the grid, and group the rows still
    to compute by static values (fills ``plan``)."""
    exp, grid, root, configs = plan.exp, plan.grid, plan.root, plan.configs
    done: set = set()
    if root is not None:
        clean_temporaries(root)
        results = result_schema(exp, configs[0]) if configs else None
        done, plan.corrupt = scan(root, experiment=exp, results=results)
        try:
            gid = record_grid(root, exp.name, grid.to_dict(), plan.all_ids, list(grid.seeds))
            write_json_atomic(
                root / "sweep.json",
                {
                    "experiment": exp.name,
                    "grid": grid.to_dict(),
                    "grid_id": gid,
                    "shard": plan.shard,
                    "key_scheme": KEY_SCHEME,
                    **_versions(),
                },
            )
        except OSError as e:
            raise StoreError(f"`out` = {root}: cannot write sweep.json ({e.strerror})") from None

    for p, cfg in enumerate(configs):
        st = {k: v for k, v in cfg.items() if exp.is_static(k, v)}
        dyn = tuple(
            sorted((k, exp.param_type(k, v).__name__) for k, v in cfg.items() if k not in st)
        )
        sig = (tuple(sorted(st.items())), dyn)
        plan.statics.setdefault(sig, (st, tuple(k for k, _ in dyn)))
        for s in grid.seeds:
            plan.rows_total += 1
            if (exp.name, plan.ids[p], s) in done:
                plan.skipped += 1
                continue
            plan.groups.setdefault(sig, []).append((p, s))


class _Writer:
    """Buffers row tables and writes a part file at least every ``flush_seconds`` /
    ``flush_rows`` (or keeps the tables in memory when there is no store)."""

    def __init__(self, root, tag, *, flush_seconds, flush_rows):
        self.root, self.tag = root, tag
        self.flush_seconds, self.flush_rows = flush_seconds, flush_rows
        self.files: list[Path] = []
        self.tables: list[pa.Table] = []
        self.buffer: list[pa.Table] = []
        self.buffered = 0
        self.last_flush = time.perf_counter()

    def add(self, table: pa.Table, now: float) -> None:
        self.buffer.append(table)
        self.buffered += table.num_rows
        if self.buffered >= self.flush_rows or now - self.last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            table = pa.concat_tables(self.buffer, promote_options="default")
            if self.root is None:
                self.tables.append(table)
            else:
                try:
                    self.files.append(write_part(self.root, table, self.tag))
                except OSError as e:
                    raise StoreError(
                        f"`out` = {self.root}: cannot write a result file ({e.strerror})"
                    ) from None
        self.buffer, self.buffered, self.last_flush = [], 0, time.perf_counter()


def _execute(plan: _Plan, writer: _Writer, *, progress: bool) -> int:
    """Compute the planned rows group by group (one compiled function per group, the next chunk
    dispatched before the previous one is fetched) and hand them to ``writer``; returns the
    number of rows computed."""
    from tqdm.auto import tqdm

    exp, configs, ids, ndev = plan.exp, plan.configs, plan.ids, len(plan.devices)
    bar = tqdm(
        total=plan.rows_total - plan.skipped,
        unit="row",
        desc=f"sweep {exp.name} ({len(configs)} pts x {len(plan.grid.seeds)} seeds)",
        disable=not progress,
        dynamic_ncols=True,
    )
    computed = 0
    try:
        for sig, items in plan.groups.items():
            st, dyn_names = plan.statics[sig]
            n_items = len(items)
            cs = _round_up(min(plan.batch_size, n_items), ndev)
            ck = (id(exp), exp.fn, sig, cs, tuple(plan.devices), plan.grid.common_keys)
            fn = _CACHE.get(ck)
            if fn is None:
                fn = _CACHE[ck] = _build(exp, st, dyn_names, plan.grid.common_keys, plan.mesh)
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
                    rows = _rows(exp, configs, ids, chunk_p, res, plan.meta, (now - t_prev) / mp)
                    t_prev = now
                    computed += mp
                    bar.update(mp)
                    writer.add(rows, now)
                pending = launched
            writer.flush()
    finally:
        bar.close()
    return computed


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
