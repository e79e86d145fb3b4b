"""Grid specifications: named axes whose Cartesian product (per block) gives the sweep's points.

A :class:`Grid` is one or more *blocks*; each block is a product over its axes. Blocks are joined
with ``+`` (e.g. a different K range for every N). ``seeds`` are the replicate axis: every point
is run once per seed, and the rows of the result table are (point, seed) pairs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["Grid", "expand_range"]

_SCALARS = (bool, int, float, str)


def _py(v: Any, where: str) -> Any:
    """Normalise one axis value to a Python scalar (bool, int, float or str)."""
    if isinstance(v, np.generic):
        v = v.item()
    if not isinstance(v, _SCALARS):
        raise TypeError(f"{where}: axis values must be numbers, booleans or strings; got {v!r}")
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{where}: axis values must be finite; got {v!r}")
    return v


def expand_range(spec: Mapping[str, Any], where: str = "axis") -> list:
    """Expand a range table ``{start, stop, num, scale}`` or ``{start, stop, step}`` to a list.

    * ``{start, stop, num, scale="linear"|"log"}`` — ``num`` values from ``start`` to ``stop``
      inclusive (``numpy.linspace`` / ``geomspace``); integers (rounded, duplicates dropped) when
      ``start`` and ``stop`` are both integers.
    * ``{start, stop, step}`` — ``start, start + step, ...`` up to and including ``stop``.

    **Raises:** ``ValueError`` / ``TypeError`` naming ``where`` for a malformed table.
    """
    keys = set(spec)
    allowed = {"start", "stop", "num", "scale", "step"}
    if keys - allowed:
        raise ValueError(
            f"{where}: unknown range key(s) {sorted(keys - allowed)}; allowed {allowed}"
        )
    for k in ("start", "stop"):
        if k not in spec:
            raise ValueError(f"{where}: a range needs `start` and `stop`; missing `{k}`")
        if isinstance(spec[k], bool) or not isinstance(spec[k], (int, float)):
            raise TypeError(f"{where}.{k} must be a number; got {spec[k]!r}")
    start, stop = spec["start"], spec["stop"]
    integer = isinstance(start, int) and isinstance(stop, int)
    if "step" in spec:
        if "num" in spec or "scale" in spec:
            raise ValueError(f"{where}: give either `step` or `num` (+ `scale`), not both")
        step = spec["step"]
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
            raise ValueError(f"{where}.step must be a number > 0; got {step!r}")
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        vals = [start + i * step for i in range(max(n, 0))]
        integer = integer and isinstance(step, int)
    else:
        num = spec.get("num")
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise ValueError(f"{where}.num must be an integer >= 1; got {num!r}")
        scale = spec.get("scale", "linear")
        if scale == "linear":
            vals = np.linspace(start, stop, num).tolist()
        elif scale == "log":
            if start <= 0 or stop <= 0:
                raise ValueError(f"{where}: a log range needs start, stop > 0")
            vals = np.geomspace(start, stop, num).tolist()
        else:
            raise ValueError(f"{where}.scale must be 'linear' or 'log'; got {scale!r}")
    if integer:
        vals = list(dict.fromkeys(int(round(v)) for v in vals))
    if not vals:
        raise ValueError(f"{where}: the range is empty")
    return vals


def _axis_values(name: str, values: Any) -> tuple:
    where = f"axis `{name}`"
    if not isinstance(name, str) or not name:
        raise TypeError(f"axis names must be non-empty strings; got {name!r}")
    if isinstance(values, Mapping):
        values = expand_range(values, where)
    elif isinstance(values, _SCALARS) or isinstance(values, np.generic):
        values = [values]
    elif isinstance(values, np.ndarray):
        values = values.ravel().tolist()
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise TypeError(f"{where}: expected a list of values or a range table; got {values!r}")
    if len(values) == 0:
        raise ValueError(f"{where} is empty: give at least one value")
    out = tuple(_py(v, where) for v in values)
    kinds = {type(v) for v in out}
    if kinds == {int, float}:
        out = tuple(float(v) for v in out)
    elif len(kinds) > 1:
        raise TypeError(
            f"{where}: all values must have one type; got {sorted(k.__name__ for k in kinds)}"
        )
    if len(set(out)) != len(out):
        raise ValueError(f"{where} has duplicate values: {list(out)}")
    return out


class Grid:
    """A sweep grid: named axes, their Cartesian product, replicated over ``seeds``.

    **Arguments:**

    * ``axes`` — ``{name: values}``; ``values`` is a list of numbers / strings / booleans, a
      single value, or a range table (see :func:`expand_range`). Axis names are the experiment's
      parameter names (``N``, ``K``, ``n``, ``beta``, ``rho``, ...).
    * ``seeds`` — an int S (seeds ``0..S-1``) or a list of non-negative ints.
    * ``fixed`` — ``{name: value}`` constants (a one-value axis; also written to every row).
    * ``common_keys`` — if True, the PRNG key of a row depends on its seed only (common random
      numbers across points); by default it depends on the seed *and* the point.

    ``grid_a + grid_b`` joins the points of two grids (same seeds and ``common_keys``).

    **Raises:** ``ValueError`` / ``TypeError`` naming the axis for empty axes, duplicate values,
    mixed types, non-scalar values or bad seeds.
    """

    def __init__(
        self,
        axes: Mapping[str, Any] | None = None,
        *,
        seeds: int | Sequence[int] = 1,
        fixed: Mapping[str, Any] | None = None,
        common_keys: bool = False,
    ):
        axes = dict(axes or {})
        fixed = dict(fixed or {})
        both = set(axes) & set(fixed)
        if both:
            raise ValueError(f"{sorted(both)} given both as an axis and as a fixed value")
        if "seed" in axes or "seed" in fixed:
            raise ValueError("`seed` is not an axis: pass `seeds=` (an int or a list of ints)")
        block = {name: _axis_values(name, v) for name, v in axes.items()}
        for name, v in fixed.items():
            block[name] = (_py(v, f"fixed value `{name}`"),)
        self._blocks: tuple[dict[str, tuple], ...] = (block,)
        self.seeds: tuple[int, ...] = _check_seeds(seeds)
        if not isinstance(common_keys, bool):
            raise TypeError(f"`common_keys` must be a bool; got {common_keys!r}")
        self.common_keys = common_keys

    @classmethod
    def _from_blocks(cls, blocks, seeds, common_keys) -> Grid:
        g = cls.__new__(cls)
        g._blocks = tuple(blocks)
        g.seeds = seeds
        g.common_keys = common_keys
        return g

    def __add__(self, other: Grid) -> Grid:
        if not isinstance(other, Grid):
            return NotImplemented
        if other.seeds != self.seeds:
            raise ValueError(
                f"cannot join grids with different seeds: {self.seeds} vs {other.seeds}"
            )
        if other.common_keys != self.common_keys:
            raise ValueError("cannot join grids with different `common_keys`")
        return Grid._from_blocks(self._blocks + other._blocks, self.seeds, self.common_keys)

    @property
    def blocks(self) -> tuple[dict[str, tuple], ...]:
        """The product blocks, ``({axis: values}, ...)``."""
        return self._blocks

    @property
    def axis_names(self) -> list[str]:
        """Every axis name used by any block, in first-seen order."""
        return list(dict.fromkeys(k for b in self._blocks for k in b))

    def __len__(self) -> int:
        """Number of points (without the seed replicates)."""
        return sum(math.prod(len(v) for v in b.values()) for b in self._blocks)

    @property
    def num_rows(self) -> int:
        """Number of (point, seed) rows of a complete sweep."""
        return len(self) * len(self.seeds)

    def points(self) -> Iterator[dict[str, Any]]:
        """Every point as ``{axis: value}``, block by block, last axis fastest."""
        for b in self._blocks:
            names = list(b)
            for combo in itertools.product(*(b[n] for n in names)):
                yield dict(zip(names, combo))

    def to_dict(self) -> dict:
        """A JSON-ready description (written to the store's ``sweep.json``)."""
        return {
            "blocks": [{k: list(v) for k, v in b.items()} for b in self._blocks],
            "seeds": list(self.seeds),
            "common_keys": self.common_keys,
        }

    def __repr__(self) -> str:
        parts = " + ".join(
            "Grid(" + ", ".join(f"{k}={list(v)}" for k, v in b.items()) + ")" for b in self._blocks
        )
        return f"{parts} x seeds {list(self.seeds)}"


def _check_seeds(seeds) -> tuple[int, ...]:
    if isinstance(seeds, bool):
        raise TypeError(f"`seeds` must be an int >= 1 or a list of ints; got {seeds!r}")
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"`seeds` must be >= 1; got {seeds}")
        return tuple(range(int(seeds)))
    if not isinstance(seeds, Sequence) or isinstance(seeds, str) or len(seeds) == 0:
        raise ValueError(f"`seeds` must be an int >= 1 or a non-empty list of ints; got {seeds!r}")
    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 or s >= 2**31:
            raise ValueError(f"`seeds` entries must be ints in [0, 2^31); got {s!r}")
        out.append(int(s))
    if len(set(out)) != len(out):
        raise ValueError(f"`seeds` has duplicates: {out}")
    return tuple(out)
