"""Looking at a sweep store without writing pandas: :func:`summarize`, :func:`plot`, :func:`export`.

The same operations are on the command line as ``damjax results summarize|plot|export DIR``.

A store's columns fall into three kinds: the point's **parameters** (the grid's axes and fixed
values, and the experiment's declared parameters), ``seed`` and the store's metadata columns
(``experiment``, ``point_id``, versions, timing), and the **measured** columns (everything the
experiment returned). Summaries group the rows by the parameters that vary and aggregate every
numeric measured column over seeds.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._engine import META_COLUMNS

__all__ = ["export", "measured_columns", "parameter_columns", "plot", "summarize"]

# the store's own columns (keys and metadata), never parameters nor measured values
_META = META_COLUMNS


def _frame(source, experiment: str | None):
    """``(DataFrame, store folder or None)`` from a store folder or a DataFrame."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        df = source
        root = None
    else:
        from ._store import load

        root = Path(source)
        if not root.is_dir():
            raise FileNotFoundError(f"sweep store {root} does not exist (or is not a folder)")
        df = load(root, experiment=experiment)
    if experiment is not None and "experiment" in df:
        df = df[df["experiment"] == experiment]
    if len(df) == 0:
        where = f"sweep store {root}" if root is not None else "the DataFrame"
        raise ValueError(
            f"{where} holds no rows" + (f" of experiment {experiment!r}" * bool(experiment))
        )
    names = df["experiment"].unique() if "experiment" in df else []
    if len(names) > 1:
        raise ValueError(
            f"the store holds rows of several experiments ({', '.join(map(str, names))}); "
            f"choose one with `experiment=` (--experiment)"
        )
    return df.reset_index(drop=True), root


def _declared_parameters(root: Path | None, experiment_name: str | None) -> set[str]:
    names: set[str] = set()
    if root is not None and (root / "sweep.json").is_file():
        try:
            desc = json.loads((root / "sweep.json").read_text())
            for block in desc.get("grid", {}).get("blocks", []):
                names.update(block)
        except (OSError, ValueError, AttributeError):
            pass
    if experiment_name is not None:
        from ._experiment import registered_experiments

        exp = registered_experiments().get(experiment_name)
        if exp is not None and exp.params is not None:
            names.update(exp.params)
    return names


def parameter_columns(source, *, experiment: str | None = None) -> list[str]:
    """The columns of a store (or of a DataFrame from :func:`load`) that describe the point.

    From the store's ``sweep.json`` (the grid's axes and fixed values) and the experiment's
    declared parameters; any other non-numeric column that is not metadata counts as a parameter
    too. **Returns:** the names, in column order.
    """
    df, root = _frame(source, experiment)
    return _split(df, root)[0]


def measured_columns(source, *, experiment: str | None = None) -> list[str]:
    """The numeric columns the experiment returned (what :func:`summarize` aggregates)."""
    df, root = _frame(source, experiment)
    return _split(df, root)[1]


def _split(df, root) -> tuple[list[str], list[str]]:
    import pandas as pd

    exp_name = str(df["experiment"].iloc[0]) if "experiment" in df else None
    declared = _declared_parameters(root, exp_name)
    params, measured = [], []
    for c in df.columns:
        if c in _META:
            continue
        if c in declared or not (
            pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
        ):
            params.append(c)
        else:
            measured.append(c)
    return params, measured


def _py(value):
    """A NumPy scalar as the Python value (for messages and titles)."""
    return value.item() if hasattr(value, "item") else value


def _varying(df, params: Sequence[str]) -> list[str]:
    return [c for c in params if df[c].nunique(dropna=False) > 1]


def _apply_where(df, where: Mapping[str, Any] | None):
    if not where:
        return df
    for k, v in where.items():
        if k not in df:
            raise ValueError(f"`where`: no column {k!r} in the store; columns: {list(df.columns)}")
        col = df[k]
        if col.dtype.kind in "iuf" and isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                raise ValueError(f"`where`: {k} is numeric; got {v!r}") from None
        df = df[col == v]
    if len(df) == 0:
        raise ValueError(f"`where` = {dict(where)} leaves no rows")
    return df


def summarize(
    source,
    *,
    columns: Sequence[str] | None = None,
    ci: float = 0.95,
    experiment: str | None = None,
    where: Mapping[str, Any] | None = None,
):
    r"""One row per point: mean, standard deviation and confidence interval over seeds.

    For each measured column $y$ with values $y_1..y_S$ over the $S$ seeds of a point, the table
    holds ``y_mean`` $= \bar y$, ``y_std`` $= \sqrt{\sum_s (y_s - \bar y)^2 / (S - 1)}$ (NaN for
    $S = 1$) and ``y_ci`` $= t_{(1 + ci)/2,\,S-1}\, s / \sqrt S$, the half-width of the Student-t
    confidence interval of the mean. Rows whose value is NaN count in ``y_nan`` and are left out
    of the mean (never read as a number).

    **Arguments:**

    * ``source`` — a store folder (``damjax sweep --out DIR``) or a DataFrame from :func:`load`.
    * ``columns`` — measured columns to summarize (default: every numeric measured column).
    * ``ci`` — confidence level in (0, 1).
    * ``experiment`` — which experiment's rows, when a store holds several.
    * ``where`` — ``{column: value}`` filters applied first.

    **Returns:** a DataFrame with the varying parameter columns, ``seeds`` (rows per point) and
    ``<y>_mean``, ``<y>_std``, ``<y>_ci`` (and ``<y>_nan`` where any value is NaN) per column.

    **Raises:** ``FileNotFoundError`` for a missing store; ``ValueError`` for an empty store, an
    unknown column or a bad ``ci``.
    """
    if not (isinstance(ci, (int, float)) and 0 < ci < 1):
        raise ValueError(f"`ci` must be a confidence level in (0, 1); got {ci!r}")
    df, root = _frame(source, experiment)
    df = _apply_where(df, where)
    params, measured = _split(df, root)
    if columns is not None:
        columns = [columns] if isinstance(columns, str) else list(columns)
        unknown = [c for c in columns if c not in measured]
        if unknown:
            raise ValueError(
                f"`columns`: {unknown} are not measured columns of the store; "
                f"measured columns: {measured}"
            )
        measured = columns
    if not measured:
        raise ValueError("the store has no numeric measured columns to summarize")
    return _summary_table(df, params, measured, ci)


def _summary_table(df, params, measured, ci):
    import numpy as np
    import pandas as pd
    from scipy import stats

    keys = _varying(df, params)
    groups = df.groupby(keys, sort=True, dropna=False) if keys else [((), df)]
    out = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(keys, key))
        row["seeds"] = len(g)
        for c in measured:
            v = g[c].to_numpy(dtype=np.float64)
            nan = int(np.isnan(v).sum())
            v = v[~np.isnan(v)]
            s = len(v)
            mean = float(v.mean()) if s else math.nan
            std = float(v.std(ddof=1)) if s > 1 else math.nan
            half = (
                float(stats.t.ppf((1 + ci) / 2, s - 1) * std / math.sqrt(s)) if s > 1 else math.nan
            )
            row[f"{c}_mean"], row[f"{c}_std"], row[f"{c}_ci"] = mean, std, half
            if nan:
                row[f"{c}_nan"] = nan
        out.append(row)
    table = pd.DataFrame(out)
    table.attrs["ci"] = ci
    return table


def plot(
    source,
    *,
    x: str,
    y: str,
    hue: str | None = None,
    out: str | Path | None = None,
    ci: float = 0.95,
    experiment: str | None = None,
    where: Mapping[str, Any] | None = None,
    logx: bool = False,
    logy: bool = False,
    dpi: int = 150,
):
    """Plot the mean of ``y`` over seeds against ``x``, one line per value of ``hue``, with the
    ``ci`` confidence interval of the mean as error bars (see :func:`summarize`).

    Every other parameter must be constant (after ``where``): a plot never averages silently over
    a parameter that varies.

    **Arguments:**

    * ``source`` — a store folder or a DataFrame from :func:`load`.
    * ``x`` / ``y`` — a parameter column and a measured column.
    * ``hue`` — a parameter column: one line per value (optional).
    * ``out`` — save the figure there (format from the suffix: ``.png`` at ``dpi``, ``.pdf``,
      ``.svg``); ``None``: only return it.
    * ``ci``, ``experiment``, ``where`` — as in :func:`summarize`; ``logx`` / ``logy`` — log axes.

    **Returns:** the matplotlib ``Figure``.

    **Raises:** ``ValueError`` naming the argument for an unknown column or for parameters that
    vary besides ``x`` and ``hue``.
    """
    import matplotlib

    if out is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    df, root = _frame(source, experiment)
    df = _apply_where(df, where)
    params, measured = _split(df, root)
    if x not in params:
        raise ValueError(f"`x` = {x!r} is not a parameter column; parameters: {params}")
    if y not in measured:
        raise ValueError(f"`y` = {y!r} is not a measured column; measured columns: {measured}")
    if hue is not None and hue not in params:
        raise ValueError(f"`hue` = {hue!r} is not a parameter column; parameters: {params}")
    if hue == x:
        raise ValueError("`hue` must differ from `x`")
    others = [c for c in _varying(df, params) if c not in (x, hue)]
    if others:
        fix = ", ".join(f"{c}={_py(df[c].iloc[0])}" for c in others)
        raise ValueError(
            f"parameters {others} also vary; pass one as `hue` or fix them with `where` "
            f"(e.g. --where {fix.replace(', ', ' --where ')})"
        )
    table = _summary_table(df, params, [y], ci)
    if x not in table:  # x constant: one point
        table[x] = df[x].iloc[0]
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    lines = [(None, table)] if hue is None or hue not in table else table.groupby(hue, sort=True)
    for value, g in lines:
        g = g.sort_values(x)
        label = None if value is None else f"{hue} = {value}"
        yerr = g[f"{y}_ci"].fillna(0).to_numpy()
        ax.errorbar(g[x], g[f"{y}_mean"], yerr=yerr, marker="o", ms=4, capsize=3, label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (mean, {round(ci * 100)}% CI over seeds)")
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if hue is not None and hue in table:
        ax.legend(title=None, fontsize="small")
    ax.grid(alpha=0.3)
    name = df["experiment"].iloc[0] if "experiment" in df else ""
    fixed = {c: _py(df[c].iloc[0]) for c in params if c not in (x, hue) and df[c].nunique() == 1}
    title = f"{name}: " + ", ".join(f"{k}={v}" for k, v in fixed.items())
    ax.set_title("\n".join(textwrap.wrap(title, 90)), fontsize="small")
    if out is not None:
        out = Path(out)
        if out.suffix.lower() not in (".png", ".pdf", ".svg"):
            plt.close(fig)
            raise ValueError(f"`out` must end in .png, .pdf or .svg; got {str(out)!r}")
        fig.savefig(out, dpi=dpi)
    return fig


def export(
    source, csv: str | Path, *, experiment: str | None = None, summary: bool = False
) -> Path:
    """Write every row of a store (or, with ``summary=True``, the :func:`summarize` table) to a
    CSV file.

    **Arguments:** ``source`` — a store folder or a DataFrame; ``csv`` — the file to write;
    ``experiment`` — as in :func:`summarize`; ``summary`` — write the per-point summary instead.

    **Returns:** the path written.
    """
    df, _ = _frame(source, experiment)
    table = summarize(source, experiment=experiment) if summary else df
    csv = Path(csv)
    table.to_csv(csv, index=False)
    return csv
