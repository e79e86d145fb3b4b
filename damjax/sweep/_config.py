"""TOML sweep configs (read by ``damjax sweep CONFIG.toml``, see :mod:`damjax.cli`).

Format::

    experiment = "retrieval"      # registered name or "package.module:function"   (required)
    seeds = 8                     # int S (seeds 0..S-1) or a list of ints          (default 1)
    common_keys = false           # key depends on the seed only                   (optional)
    batch_size = 64               # rows per compiled call (default: one point's seeds)

    [axes]                        # one product block; or [[axes]] tables for several blocks
    N = [100, 200]
    K = {start = 10, stop = 80, num = 4, scale = "log"}
    rho = [0.0, 0.1]

    [fixed]                       # constants passed to every point                (optional)
    F = "poly"
    n = 3
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .._validation import InputError
from ._grid import Grid

__all__ = ["SweepConfig", "load_config", "parse_config"]

_TOP = {"experiment", "seeds", "common_keys", "batch_size", "axes", "fixed", "description"}


class SweepConfig:
    """A parsed TOML sweep config: ``grid``, ``experiment`` (resolved), ``batch_size``."""

    def __init__(self, grid: Grid, experiment, batch_size: int | None, raw: dict):
        self.grid = grid
        self.experiment = experiment
        self.batch_size = batch_size
        self.raw = raw

    def __repr__(self):
        return f"SweepConfig(experiment={self.experiment.name!r}, grid={self.grid!r})"


def parse_config(raw: dict[str, Any], *, source: str = "config") -> SweepConfig:
    """Validate a config dict (as read from TOML) and build its grid and experiment.

    Every point is resolved against the experiment's parameters, so unknown axes, wrong types,
    empty axes, K < 1, N < 2 ... fail here, before any work.

    **Raises:** ``ValueError`` / ``TypeError`` whose message names the offending field.
    """
    from ._experiment import get_experiment

    if not isinstance(raw, dict):
        raise TypeError(f"{source}: expected a table at the top level")
    unknown = sorted(set(raw) - _TOP)
    if unknown:
        raise ValueError(f"{source}: unknown field {unknown[0]!r}; allowed fields: {sorted(_TOP)}")
    if "experiment" not in raw:
        raise ValueError(f"{source}: missing required field 'experiment' (e.g. \"retrieval\")")
    try:
        exp = get_experiment(raw["experiment"])
    except (ValueError, TypeError) as e:
        raise type(e)(f"{source}: field 'experiment': {e}") from None
    seeds = raw.get("seeds", 1)
    common = raw.get("common_keys", False)
    if not isinstance(common, bool):
        raise TypeError(f"{source}: field 'common_keys' must be true or false; got {common!r}")
    bs = raw.get("batch_size")
    if bs is not None and (isinstance(bs, bool) or not isinstance(bs, int) or bs < 1):
        raise ValueError(f"{source}: field 'batch_size' must be an integer >= 1; got {bs!r}")
    if "axes" not in raw:
        raise ValueError(f"{source}: missing required field 'axes' (a table of axis values)")
    axes = raw["axes"]
    blocks = axes if isinstance(axes, list) else [axes]
    if not blocks or not all(isinstance(b, dict) for b in blocks):
        raise TypeError(f"{source}: field 'axes' must be a table or an array of tables")
    fixed = raw.get("fixed", {})
    if not isinstance(fixed, dict):
        raise TypeError(f"{source}: field 'fixed' must be a table")
    grid = None
    for bi, b in enumerate(blocks):
        where = "axes" if len(blocks) == 1 else f"axes[{bi}]"
        try:
            g = Grid(b, seeds=seeds, fixed=fixed, common_keys=common)
        except (ValueError, TypeError) as e:
            raise type(e)(f"{source}: field '{where}': {e}") from None
        grid = g if grid is None else grid + g
    for idx, pt in enumerate(grid.points()):
        exp.resolve(pt, where=f"{source}: grid point {idx}")
    return SweepConfig(grid, exp, bs, raw)


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a TOML sweep config (see the module docstring for the format)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    path = Path(path)
    if path.is_dir():
        raise InputError(f"sweep config {path} is a directory; expected a TOML file")
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"sweep config {path} not found") from None
    except UnicodeDecodeError as e:
        raise InputError(
            f"sweep config {path} is not UTF-8 text (byte {e.start}); expected a TOML file"
        ) from None
    except OSError as e:
        raise InputError(f"sweep config {path}: cannot read it ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML: {e}") from None
    return parse_config(raw, source=str(path))
