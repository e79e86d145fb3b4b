r"""Capacity sweeps at scale: grids, batched + sharded execution, a Parquet result store.

* :class:`Grid` — named axes (N, K, n, beta, rho, ... and any experiment parameter), their
  product (join grids with ``+``), replicated over ``seeds``.
* :class:`Experiment` / :func:`experiment` — a per-point function ``(config, key) -> {name:
  scalar}`` with its parameter schema. The engine is generic (it knows no model); the DAM
  experiments ``"retrieval"``, ``"fixed_points"``, ``"capacity"`` are registered by
  :mod:`damjax.capacity` when damjax is imported (see :func:`registered_experiments`).
* :func:`run` — batch rows with equal static values into one compiled vmapped call, shard the
  batch over the local devices (``jax.sharding``), split job arrays (``shard="i/n"``), stream
  rows to a Parquet store atomically, skip finished rows, recompute corrupt files.
* :func:`load` — the store as a pandas DataFrame; :func:`load_config` — TOML configs;
  ``damjax sweep CONFIG.toml --out DIR [--shard i/n]`` on the command line.
* :func:`summarize` (mean, std, CI over seeds per point), :func:`plot`, :func:`export` (CSV) —
  also ``damjax results summarize|plot|export DIR``.
"""

from ._config import SweepConfig as SweepConfig
from ._config import load_config as load_config
from ._config import parse_config as parse_config
from ._engine import SweepResult as SweepResult
from ._engine import compilation_count as compilation_count
from ._engine import parse_shard as parse_shard
from ._engine import point_id as point_id
from ._engine import run as run
from ._experiment import Experiment as Experiment
from ._experiment import experiment as experiment
from ._experiment import get_experiment as get_experiment
from ._experiment import register_axis_check as register_axis_check
from ._experiment import registered_experiments as registered_experiments
from ._grid import Grid as Grid
from ._grid import expand_range as expand_range
from ._results import export as export
from ._results import measured_columns as measured_columns
from ._results import parameter_columns as parameter_columns
from ._results import plot as plot
from ._results import summarize as summarize
from ._store import CorruptFileWarning as CorruptFileWarning
from ._store import StoreError as StoreError
from ._store import load as load
from ._store import store_grids as store_grids
