"""The embedded result store: a folder of Parquet files, one tidy row per (point, seed).

Layout of a store folder ``DIR``::

    DIR/sweep.json                      description of the last sweep run into DIR
    DIR/grids/<grid id>.json            every grid run into DIR: its point ids and seeds
    DIR/part-<time>-<shard>-<uid>-<sha>.parquet   result rows (any number of files)
    DIR/corrupt/                        damaged files moved aside (their points are recomputed)
    DIR/.lock-<shard>                   held while a process runs that shard (owner pid / host)

Integrity: every part file is written to a hidden temporary name
(``.tmp-<host>-<pid>-<uid>.parquet``) and renamed into place (``os.replace`` is atomic on
POSIX), so a killed process leaves either a complete file or none. Its name carries ``<sha>``,
the first 32 hex digits of the SHA-256 of the whole file, so the integrity record is written
atomically with the file itself (no manifest to keep in step). Before its rows count as done a
file is read in full and must match its hash (any changed byte, footer included, is caught), carry
page checksums and its row count, and have the store's schema: the key columns ``experiment`` /
``point_id`` (strings) and ``seed`` (integer), the metadata columns with their types, and -- when
the experiment is known (resume in :func:`damjax.sweep.run`) -- every declared parameter of the
experiment with its declared type, and only numeric / bool result columns. Files of stores
written before the hash (no ``<sha>`` in the name) are still read, with the schema checks only.

Concurrency: processes running the *same* shard into one folder would compute every row twice;
:func:`damjax.sweep.run` therefore holds ``DIR/.lock-<shard>`` (created exclusively, holding the
owner's pid, host and start time) and refuses a second run of that shard with a clear error. A
lock whose owner is gone (same host, pid not alive: a kill -9) is recovered with a warning.
Different shards (job arrays) still write into one store at the same time. Should rows still be
duplicated (overlapping shard splits, a lock removed by hand), :func:`load` keeps one row per
``(experiment, point_id, seed)`` deterministically: the one in the first file by name (time).
Temporary files left by a killed writer are removed at the next run, except those of a live
process on this host (files from other hosts only after an hour without change).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
import uuid
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .._validation import InputError

__all__ = ["CorruptFileWarning", "StoreError", "load", "scan", "store_grids", "write_part"]

KEY_COLUMNS = ("experiment", "point_id", "seed")
_ROWS_META = b"damjax_rows"
_HASH_DIGITS = 32
# metadata columns written by damjax.sweep.run and their Arrow type test
_META_TYPES = {
    "experiment": pa.types.is_string,
    "point_id": pa.types.is_string,
    "seed": pa.types.is_integer,
    "damjax_version": pa.types.is_string,
    "jax_version": pa.types.is_string,
    "device_kind": pa.types.is_string,
    "num_devices": pa.types.is_integer,
    "wall_time_s": pa.types.is_floating,
    "timestamp": pa.types.is_string,
    "shard": pa.types.is_string,
    "process_index": pa.types.is_integer,
    "key_scheme": pa.types.is_integer,
}


class CorruptFileWarning(UserWarning):
    """A Parquet file of a sweep store could not be read or failed verification."""


class StoreError(InputError):
    """A sweep store cannot be used as asked (locked by another process, a different grid, an
    unwritable folder); the message names the folder and what to do."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:_HASH_DIGITS]


def _recorded_digest(path: Path) -> str | None:
    """The hash in a part file's name, or None for files written before hashes."""
    tail = path.stem.rsplit("-", 1)[-1]
    if len(tail) == _HASH_DIGITS and all(c in "0123456789abcdef" for c in tail):
        return tail
    return None


def _type_ok(t: pa.DataType, py: type) -> bool:
    if py is bool:
        return pa.types.is_boolean(t)
    if py is int:
        return pa.types.is_integer(t)
    if py is float:
        return pa.types.is_floating(t) or pa.types.is_integer(t)
    if py is str:
        return pa.types.is_string(t) or pa.types.is_large_string(t)
    return True


def result_schema(experiment, config: dict) -> dict[str, type] | None:
    """The result columns ``experiment`` declares, ``{name: bool | int | float}``, from its
    output for ``config`` (abstract evaluation with ``jax.eval_shape``: nothing is computed).
    ``None`` when it cannot be traced here (the run reports the error itself)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    static = {k: v for k, v in config.items() if experiment.is_static(k, v)}
    dyn = {k: np.asarray(v) for k, v in config.items() if k not in static}

    def f(dyn, key):
        return experiment.fn({**static, **dyn}, key)

    try:
        out = jax.eval_shape(f, dyn, jax.random.key(0))
    except Exception:  # noqa: BLE001
        return None
    if not isinstance(out, dict):
        return None
    kinds = {}
    for k, v in out.items():
        dt = getattr(v, "dtype", None)
        if dt is None:
            return None
        kinds[str(k)] = (
            bool if dt == jnp.bool_ else int if jnp.issubdtype(dt, jnp.integer) else float
        )
    return kinds


def _check_schema(table: pa.Table, experiment=None, results: dict | None = None) -> None:
    """Key / metadata column types, and (``experiment`` given) its declared parameters."""
    missing = [c for c in KEY_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"missing key columns {missing}")
    schema = table.schema
    for name, ok in _META_TYPES.items():
        if name in schema.names and not ok(schema.field(name).type):
            raise ValueError(f"column {name!r} has type {schema.field(name).type}")
    if experiment is None or table.num_rows == 0:
        return
    names = set(table.column("experiment").unique().to_pylist())
    if names != {experiment.name}:
        return  # rows of other experiments: checked against theirs when those are resumed
    for name in experiment.params or {}:
        if name not in schema.names:
            if name in experiment.added:  # stored before it was added: at its default
                continue
            raise ValueError(f"missing parameter column {name!r} of experiment {experiment.name}")
        py = experiment.param_type(name)
        if not _type_ok(schema.field(name).type, py):
            raise ValueError(
                f"parameter column {name!r} has type {schema.field(name).type}, expected "
                f"{py.__name__}"
            )
    if experiment.params is None:
        return  # any axis accepted: parameter and result columns cannot be told apart
    found = [f for f in schema if f.name not in _META_TYPES and f.name not in experiment.params]
    for f in found:
        t = f.type
        if not (pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t)):
            raise ValueError(f"result column {f.name!r} has non-numeric type {t}")
    if results is not None:
        names = {f.name for f in found}
        if names != set(results):
            raise ValueError(
                f"result columns {sorted(names)} differ from those experiment "
                f"{experiment.name!r} returns {sorted(results)}"
            )
        for f in found:
            if not _type_ok(f.type, results[f.name]):
                raise ValueError(
                    f"result column {f.name!r} has type {f.type}, expected "
                    f"{results[f.name].__name__}"
                )


def _read_verified(path: Path, experiment=None, results: dict | None = None) -> pa.Table:
    """Read a part file in full and verify it: its content hash (in the name), page checksums,
    the row count, the key / metadata column types and the experiment's declared schema."""
    data = path.read_bytes()
    want = _recorded_digest(path)
    if want is not None and _digest(data) != want:
        raise ValueError("content does not match the SHA-256 recorded in its name (damaged)")
    pf = pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True)
    meta = pf.schema_arrow.metadata or {}
    table = pf.read()
    if _ROWS_META not in meta:
        raise ValueError("missing damjax row-count metadata (not written by damjax.sweep?)")
    if int(meta[_ROWS_META]) != table.num_rows:
        raise ValueError(f"row count {table.num_rows} != recorded {int(meta[_ROWS_META])}")
    _check_schema(table, experiment, results)
    return table


def part_files(root: Path) -> list[Path]:
    """The store's part files (hidden temporaries excluded), sorted by name (write time)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*.parquet") if not p.name.startswith("."))


def _quarantine(root: Path, path: Path) -> Path | None:
    """Move ``path`` into ``root/corrupt/``; idempotent: ``None`` when another process already
    moved it (both may find the same damaged file at once)."""
    dest = root / "corrupt"
    dest.mkdir(exist_ok=True)
    target = dest / path.name
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return None
    return target


def scan(root: str | Path, *, quarantine: bool = True, experiment=None, results=None):
    """Collect the finished rows of a store, verifying every file.

    **Arguments:** ``experiment`` — an :class:`Experiment`: its parts are also checked against its
    declared parameters and types, and (``results``, from :func:`result_schema`) against the
    names and types of the results it returns.

    **Returns:** ``(done, corrupt)``: the set of ``(experiment, point_id, seed)`` keys present and
    the list of corrupt files found. Corrupt files are reported with a
    :class:`CorruptFileWarning` and (``quarantine=True``) moved to ``root/corrupt/`` so that
    their points are recomputed and they are never read again.
    """
    root = Path(root)
    done: set[tuple[str, str, int]] = set()
    corrupt: list[Path] = []
    for path in part_files(root):
        try:
            table = _read_verified(path, experiment, results)
        except FileNotFoundError:
            continue  # quarantined by another process meanwhile
        except Exception as e:  # noqa: BLE001 - any read failure means a corrupt file
            corrupt.append(path)
            msg = f"corrupt or partly written sweep file {path}: {type(e).__name__}: {e}"
            if quarantine:
                moved = _quarantine(root, path)
                where = moved if moved is not None else root / "corrupt"
                msg += f"; moved to {where}, its points will be recomputed"
            warnings.warn(msg, CorruptFileWarning, stacklevel=2)
            continue
        cols = table.select(list(KEY_COLUMNS)).to_pydict()
        done.update(zip(cols["experiment"], cols["point_id"], cols["seed"]))
        del table
    return done, corrupt


_HOST = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_temporaries(root: Path, *, foreign_age_s: float = 3600.0) -> list[Path]:
    """Remove ``.tmp-*.parquet`` files left by killed writers; returns those removed.

    A temporary named by a live process on this host (``.tmp-<host>-<pid>-<uid>.parquet``) is
    kept; one from another host only after ``foreign_age_s`` without change; one without owner
    (older damjax) after a minute."""
    removed = []
    for p in root.glob(".tmp-*.parquet"):
        parts = p.name[len(".tmp-") : -len(".parquet")].rsplit("-", 2)
        try:
            age = time.time() - p.stat().st_mtime
        except FileNotFoundError:
            continue
        if len(parts) == 3 and parts[1].isdigit():
            host, pid = parts[0], int(parts[1])
            stale = (not _pid_alive(pid)) if host == _safe_host() else age > foreign_age_s
        else:
            stale = age > 60.0
        if stale:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed.append(p)
    return removed


def _safe_host() -> str:
    return "".join(c if c.isalnum() else "_" for c in _HOST) or "host"


@contextlib.contextmanager
def store_lock(root: Path, name: str):
    """Hold ``root/.lock-<name>`` for the duration (see the module docstring).

    **Raises:** :class:`StoreError` when a live process holds it."""
    path = root / f".lock-{name}"
    owner = {"pid": os.getpid(), "host": _HOST, "since": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                held = json.loads(path.read_text())
            except (FileNotFoundError, ValueError):
                held = None
            if held is None:
                time.sleep(0.05)  # being written or just released: look again
                continue
            if held.get("host") == _HOST and not _pid_alive(int(held.get("pid", -1))):
                warnings.warn(
                    f"removing the stale lock {path} of process {held.get('pid')} (not running)",
                    stacklevel=3,
                )
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            raise StoreError(
                f"sweep store {root} is in use: shard {name} is being run by pid "
                f"{held.get('pid')} on host {held.get('host')} since {held.get('since')}; wait "
                f"for it to finish (if that process no longer exists, remove {path})"
            ) from None
        with os.fdopen(fd, "w") as f:
            json.dump(owner, f)
        break
    else:
        raise StoreError(f"could not acquire the lock {path} of sweep store {root}")
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def write_part(root: Path, table: pa.Table, tag: str) -> Path:
    """Write ``table`` atomically as a new part file of the store; returns its path. The name
    ends in the SHA-256 of the file's bytes (the integrity record)."""
    root.mkdir(parents=True, exist_ok=True)
    meta = dict(table.schema.metadata or {})
    meta[_ROWS_META] = str(table.num_rows).encode()
    table = table.replace_schema_metadata(meta)
    uid = uuid.uuid4().hex[:12]
    tmp = root / f".tmp-{_safe_host()}-{os.getpid()}-{uid}.parquet"
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, write_page_checksum=True)
    data = sink.getvalue().to_pybytes()
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    name = f"part-{time.strftime('%Y%m%dT%H%M%S')}-{tag}-{uid}-{_digest(data)}.parquet"
    os.replace(tmp, root / name)  # atomic: a killed process leaves the whole file or none
    return root / name


def record_grid(root: Path, experiment: str, grid: dict, point_ids: list, seeds: list) -> str:
    """Record which (point, seed) rows a grid has, as ``root/grids/<id>.json`` (atomic, once);
    returns the grid id (16 hex digits of the SHA-256 of experiment and grid)."""
    blob = json.dumps({"experiment": experiment, "grid": grid}, sort_keys=True, default=str)
    gid = hashlib.sha256(blob.encode()).hexdigest()[:16]
    path = root / "grids" / f"{gid}.json"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        write_json_atomic(
            path,
            {"experiment": experiment, "grid": grid, "point_ids": point_ids, "seeds": seeds},
        )
    return gid


def store_grids(root: str | Path) -> dict[str, dict]:
    """Every grid run into the store: ``{grid_id: {"experiment", "grid", "point_ids", "seeds"}}``
    (``sweep.json``'s ``grid_id`` names the last one)."""
    out = {}
    for p in sorted((Path(root) / "grids").glob("*.json")):
        out[p.stem] = json.loads(p.read_text())
    return out


def _grid_rows(root: Path, grid: str):
    """``(experiment, point ids, seeds)`` of ``grid`` ("last" or a grid id), or None for a store
    written before grids were recorded (then nothing can be filtered)."""
    gid = grid
    if grid == "last":
        info = root / "sweep.json"
        if not info.exists():
            return None
        gid = json.loads(info.read_text()).get("grid_id")
        if gid is None:
            return None
    path = root / "grids" / f"{gid}.json"
    if not path.exists():
        raise ValueError(
            f"`grid` = {grid!r}: no grid {gid} recorded in {root} (known: "
            f"{sorted(store_grids(root))})"
        )
    rec = json.loads(path.read_text())
    return rec["experiment"], set(rec["point_ids"]), set(rec["seeds"])


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def fill_added(df, experiment):
    """Rows stored before a parameter was ``added`` to ``experiment`` have no column (or NaN)
    for it: they were computed at its default, so fill that in."""
    for name in sorted(experiment.added):
        default = experiment.params[name]
        if name not in df:
            df[name] = default
        elif df[name].isna().any():
            df[name] = df[name].fillna(default).astype(type(default))
    return df


def load(
    root: str | Path,
    *,
    experiment: str | None = None,
    on_corrupt: str = "warn",
    columns: list[str] | None = None,
    grid: str = "last",
):
    """Load a sweep store as a pandas DataFrame (one row per (point, seed)).

    **Arguments:**

    * ``root`` — the store folder (``--out DIR`` of the sweep).
    * ``experiment`` — keep only rows of this experiment name (and, for a registered one, give
      rows stored before a parameter was ``added`` to it that parameter's default).
    * ``on_corrupt`` — ``"warn"`` (skip corrupt files with a :class:`CorruptFileWarning`) or
      ``"raise"``. Corrupt files are never read silently.
    * ``columns`` — load only these columns (plus the key columns).
    * ``grid`` — ``"last"`` (default): only the rows of the grid last run into ``root`` (its
      experiment, points and seeds), so rows of an earlier, changed grid never mix into the
      results; ``"all"``: every row, with a boolean column ``in_last_grid``; or a grid id (see
      :func:`store_grids`). One store may hold rows of any grids of one or more experiments:
      a grown grid computes only its new rows. Stores written before grids were recorded
      (damjax <= 0.x without ``grids/``) load every row.

    **Returns:** a DataFrame with the axis columns, ``seed``, the measured scalars and the
    metadata columns (``experiment``, ``point_id``, ``damjax_version``, ``jax_version``,
    ``device_kind``, ``wall_time_s``, ``timestamp``, ``shard``, ``process_index``). Rows duplicated
    by concurrent runs of the same points (same key) are dropped, first kept.

    **Raises:** ``FileNotFoundError`` if ``root`` does not exist; ``ValueError`` for a bad
    ``on_corrupt`` or (``on_corrupt="raise"``) a corrupt file.
    """
    import pandas as pd

    if on_corrupt not in ("warn", "raise"):
        raise ValueError(f"`on_corrupt` must be 'warn' or 'raise'; got {on_corrupt!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"sweep store {root} does not exist")
    frames = []
    for path in part_files(root):
        try:
            table = _read_verified(path)
        except Exception as e:  # noqa: BLE001
            msg = f"corrupt or partly written sweep file {path}: {type(e).__name__}: {e}"
            if on_corrupt == "raise":
                raise ValueError(msg) from e
            warnings.warn(msg + " (skipped)", CorruptFileWarning, stacklevel=2)
            continue
        df = table.to_pandas()
        if experiment is not None:
            df = df[df["experiment"] == experiment]
        if columns is not None:
            keep = list(dict.fromkeys(list(KEY_COLUMNS) + [c for c in columns if c in df]))
            df = df[keep]
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=list(KEY_COLUMNS))
    df = pd.concat(frames, ignore_index=True, sort=False)
    df = df.drop_duplicates(subset=list(KEY_COLUMNS), keep="first").reset_index(drop=True)
    if experiment is not None:
        from ._experiment import registered_experiments

        exp = registered_experiments().get(experiment)
        if exp is not None:
            df = fill_added(df, exp)
    which = _grid_rows(root, "last" if grid == "all" else grid)
    if which is None:
        return df
    exp_name, pids, seeds = which
    inside = (df["experiment"] == exp_name) & df["point_id"].isin(pids) & df["seed"].isin(seeds)
    if grid == "all":
        return df.assign(in_last_grid=inside.to_numpy())
    return df[inside.to_numpy()].reset_index(drop=True)
