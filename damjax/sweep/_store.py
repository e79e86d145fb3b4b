"""The embedded result store: a folder of Parquet files, one tidy row per (point, seed).

Layout of a store folder ``DIR``::

    DIR/sweep.json                      description of the last sweep run into DIR
    DIR/part-<time>-<shard>-<uid>.parquet   result rows (any number of files)
    DIR/corrupt/                        unreadable files moved aside (their points are recomputed)

Every part file is written to a hidden temporary name and renamed into place (``os.replace`` is
atomic on POSIX), so a killed process leaves either a complete file or none; files are written
with Parquet page checksums and carry their row count in the footer metadata, and every file is
read in full and verified before its rows count as done. Rows are identified by
``(experiment, point_id, seed)``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["CorruptFileWarning", "load", "scan", "write_part"]

KEY_COLUMNS = ("experiment", "point_id", "seed")
_ROWS_META = b"damjax_rows"


class CorruptFileWarning(UserWarning):
    """A Parquet file of a sweep store could not be read or failed verification."""


def _read_verified(path: Path) -> pa.Table:
    """Read a part file in full, verifying page checksums, the row count and key columns."""
    pf = pq.ParquetFile(path, page_checksum_verification=True)
    meta = pf.schema_arrow.metadata or {}
    table = pf.read()
    if _ROWS_META not in meta:
        raise ValueError("missing damjax row-count metadata (not written by damjax.sweep?)")
    if int(meta[_ROWS_META]) != table.num_rows:
        raise ValueError(f"row count {table.num_rows} != recorded {int(meta[_ROWS_META])}")
    missing = [c for c in KEY_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"missing key columns {missing}")
    return table


def part_files(root: Path) -> list[Path]:
    """The store's part files (hidden temporaries excluded), sorted by name (write time)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*.parquet") if not p.name.startswith("."))


def scan(root: str | Path, *, quarantine: bool = True):
    """Collect the finished rows of a store, verifying every file.

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
            table = _read_verified(path)
        except Exception as e:  # noqa: BLE001 - any read failure means a corrupt file
            corrupt.append(path)
            msg = f"corrupt or partly written sweep file {path}: {type(e).__name__}: {e}"
            if quarantine:
                dest = root / "corrupt"
                dest.mkdir(exist_ok=True)
                shutil.move(str(path), str(dest / path.name))
                msg += f"; moved to {dest / path.name}, its points will be recomputed"
            warnings.warn(msg, CorruptFileWarning, stacklevel=2)
            continue
        cols = table.select(list(KEY_COLUMNS)).to_pydict()
        done.update(zip(cols["experiment"], cols["point_id"], cols["seed"]))
        del table
    return done, corrupt


def write_part(root: Path, table: pa.Table, tag: str) -> Path:
    """Write ``table`` atomically as a new part file of the store; returns its path."""
    root.mkdir(parents=True, exist_ok=True)
    meta = dict(table.schema.metadata or {})
    meta[_ROWS_META] = str(table.num_rows).encode()
    table = table.replace_schema_metadata(meta)
    uid = uuid.uuid4().hex[:12]
    name = f"part-{time.strftime('%Y%m%dT%H%M%S')}-{tag}-{uid}.parquet"
    tmp = root / f".tmp-{uid}.parquet"
    pq.write_table(table, tmp, write_page_checksum=True)
    os.replace(tmp, root / name)  # atomic: a killed process leaves the whole file or none
    return root / name


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def load(
    root: str | Path,
    *,
    experiment: str | None = None,
    on_corrupt: str = "warn",
    columns: list[str] | None = None,
):
    """Load a sweep store as a pandas DataFrame (one row per (point, seed)).

    **Arguments:**

    * ``root`` — the store folder (``--out DIR`` of the sweep).
    * ``experiment`` — keep only rows of this experiment name.
    * ``on_corrupt`` — ``"warn"`` (skip corrupt files with a :class:`CorruptFileWarning`) or
      ``"raise"``. Corrupt files are never read silently.
    * ``columns`` — load only these columns (plus the key columns).

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
    return df.drop_duplicates(subset=list(KEY_COLUMNS), keep="first").reset_index(drop=True)
