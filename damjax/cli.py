"""The ``damjax`` command: ``bench``, ``reproduce``, ``sweep`` and ``results``.

Exit status (the same for every subcommand):

* ``0`` — success (``reproduce``: every check of every reproduction passed);
* ``1`` — ``reproduce``: at least one reproduction reported a MISS; or an unexpected error
  (a bug: its traceback is printed);
* ``2`` — a usage error: bad flag, unknown name, unreadable config, unwritable ``--out``, a
  ``ValueError`` / ``KeyError`` / ``OSError`` from the library about its input. One line on
  stderr (``damjax COMMAND: error: ...``); ``--debug`` shows the traceback instead.

``damjax --help`` and ``damjax --version`` import no JAX (the names listed in the help of
``bench`` and ``reproduce`` are read from the module files without importing them).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from pathlib import Path

from ._names import bench_opt_in_suites as bench_opt_in_suites
from ._names import bench_suites as bench_suites
from ._names import reproduction_names as reproduction_names

EXIT_OK, EXIT_MISS, EXIT_USAGE = 0, 1, 2

_EPILOG = (
    "exit status: 0 success; 1 a reproduction reported a MISS (or an unexpected error, with its "
    "traceback); 2 usage error (one line on stderr; --debug shows the traceback)"
)


class UsageError(Exception):
    """A problem with the command line or its files: one line on stderr, exit status 2."""


# ----------------------------------------------------------------------------- flag types


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return v


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds >= 0, got {text!r}"
        ) from None
    if not (math.isfinite(v) and v >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text!r}")
    return v


def _shard(text: str) -> str:
    parts = text.split("/")
    try:
        i, n = (int(p) for p in parts) if len(parts) == 2 else (-1, 0)
    except ValueError:
        i, n = -1, 0
    if not (n >= 1 and 0 <= i < n):
        raise argparse.ArgumentTypeError(f"expected i/n with 0 <= i < n (e.g. 0/4), got {text!r}")
    return text


def _where(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected COLUMN=VALUE, got {text!r}")
    return key, value


# ----------------------------------------------------------------------------- file checks


def _writable_dir(path: str, flag: str = "--out") -> Path:
    """Create ``path`` if needed and check that files can be written in it."""
    import tempfile

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{flag} {path}: exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=p):
            pass
    except OSError as e:
        raise UsageError(f"{flag} {path}: cannot write there ({e.strerror or e})") from None
    return p


def _writable_file(path: str, flag: str) -> Path:
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a folder, expected a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: folder {parent} does not exist")
    return p


def _readable_file(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{what} {path}: no such file")
    if p.is_dir():
        raise UsageError(f"{what} {path}: is a folder, expected a file")
    return p


def _store_dir(path: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise UsageError(f"sweep store {path}: no such folder")
    return p


# ----------------------------------------------------------------------------- bench


def _bench(args) -> int:
    import jax

    from . import __version__
    from .benchmarks import opt_in_suites, suites

    available = suites()
    if args.suite == "all":
        opt_in = opt_in_suites()
        names = [n for n in available if n not in opt_in]
    else:
        names = [args.suite]
    for name in names:
        if name not in available:
            raise UsageError(f"unknown suite {name!r}; available: all, {', '.join(available)}")
    if args.json:
        _writable_file(args.json, "--json")
    result: dict = {}
    for name in names:
        for fn in available[name]:
            result.update(fn(quick=args.quick))
    dev = jax.devices()[0]
    result.update(
        {
            "dtype": "float32",
            "jax_version": jax.__version__,
            "damjax_version": __version__,
            "device": f"{dev.platform}:{dev.device_kind}",
            "device_count": jax.device_count(),
            "suites": names,
            "quick": bool(args.quick),
        }
    )
    width = max(len(k) for k in result)
    for k, v in result.items():
        shown = f"{v:.4g}" if isinstance(v, float) else json.dumps(v)
        print(f"{k:<{width}}  {shown}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return EXIT_OK


# ----------------------------------------------------------------------------- reproduce


def _print_summary(s: dict, out: Path) -> None:
    from ._report import _fmt

    mark = "PASS" if s["passed"] else "MISS"
    print(f"[{mark}] {s['name']} ({s['runtime_s']:.1f} s) -> {out}", flush=True)
    for k, c in s["checks"].items():
        print(
            f"    {'ok ' if c['passed'] else 'no '} {k}: measured {_fmt(c['measured'])}"
            f" expected {_fmt(c['expected'])}",
            flush=True,
        )


def _reproduce(args) -> int:
    if args.table:
        from ._records import load_record, results_table, sync_readme

        record = load_record(_readable_file(args.table, "--table"))
        if args.readme:
            changed = sync_readme(args.readme, record)
            print(f"{args.readme}: results table {'updated' if changed else 'unchanged'}")
        else:
            print(results_table(record))
        return EXIT_OK
    known = reproduction_names()
    if args.list or not args.name:
        for name, paper in known.items():
            print(f"{name:<32} {paper}")
        return EXIT_OK
    if args.name != "all" and args.name not in known:
        from . import reproduce  # registered some other way than a module constant?

        known = {n: rep.paper for n, rep in reproduce.available().items()}
    if args.name != "all" and args.name not in known:
        raise UsageError(
            f"unknown reproduction {args.name!r}; available: all, {', '.join(known)} "
            f"(damjax reproduce --list)"
        )
    out = _writable_dir(args.out or f"results/{args.name}")
    from . import reproduce

    argv = ["damjax", *args.argv]
    if args.name == "all":
        summaries = reproduce.run_all(
            out,
            quick=args.quick,
            progress=not args.quiet,
            argv=argv,
            on_summary=lambda s: _print_summary(s, out / s["name"]),
        )
        if not args.quiet:
            print(f"report: {out / 'index.html'} (and index.md)", file=sys.stderr)
    else:
        summaries = [
            reproduce.run(args.name, out, quick=args.quick, progress=not args.quiet, argv=argv)
        ]
        _print_summary(summaries[0], out)
    if args.record:
        import shlex

        reproduce.write_record(args.record, summaries, command=shlex.join(argv))
    return EXIT_OK if all(s["passed"] for s in summaries) else EXIT_MISS


# ----------------------------------------------------------------------------- sweep


def _sweep(args) -> int:
    config = _readable_file(args.config, "CONFIG.toml")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out}: exists and is not a folder")
    if args.cwd_import:
        sys.path.insert(0, str(Path.cwd()))
    from .sweep import load_config, run

    try:
        cfg = load_config(config)
    except TypeError as e:  # the config's field types (the library names the field)
        raise UsageError(str(e)) from None
    out = _writable_dir(args.out)  # after the config is valid: a bad config creates nothing
    res = run(
        cfg.grid,
        cfg.experiment,
        out,
        shard=args.shard,
        batch_size=cfg.batch_size if args.batch_size is None else args.batch_size,
        progress=not (args.no_progress or args.quiet),
        flush_seconds=args.flush_seconds,
    )
    if not args.quiet:
        print(
            f"{res.experiment}: {res.rows_computed} rows computed, {res.rows_skipped} already "
            f"done, {res.compilations} compilations, {res.wall_time_s:.1f} s -> {out}"
        )
    if res.corrupt_files:
        print(f"recomputed the points of {len(res.corrupt_files)} corrupt file(s)", file=sys.stderr)
    return EXIT_OK


# ----------------------------------------------------------------------------- results


def _results_summarize(args) -> int:
    import pandas as pd

    from .sweep import summarize

    table = summarize(
        _store_dir(args.dir),
        columns=args.columns.split(",") if args.columns else None,
        ci=args.ci,
        experiment=args.experiment,
        where=dict(args.where or ()),
    )
    if args.csv:
        table.to_csv(_writable_file(args.csv, "--csv"), index=False)
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return EXIT_OK


def _results_plot(args) -> int:
    from .sweep import plot

    out = _writable_file(args.out, "--out")
    plot(
        _store_dir(args.dir),
        x=args.x,
        y=args.y,
        hue=args.hue,
        out=out,
        ci=args.ci,
        experiment=args.experiment,
        where=dict(args.where or ()),
        logx=args.logx,
        logy=args.logy,
    )
    print(out)
    return EXIT_OK


def _results_export(args) -> int:
    from .sweep import export

    path = export(
        _store_dir(args.dir),
        _writable_file(args.csv, "--csv"),
        experiment=args.experiment,
        summary=args.summary,
    )
    print(path)
    return EXIT_OK


# ----------------------------------------------------------------------------- parser


class _VersionAction(argparse.Action):
    """``--version``: reads the package metadata only when asked (not for ``--help``)."""

    def __init__(
        self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None
    ):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from . import __version__

        print(f"damjax {__version__}")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """An argument parser whose description / epilog can be computed when help is shown (the
    lists of suites and reproductions are read from files: not needed for ``damjax --help``)."""

    def __init__(self, *args, lazy_text=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._lazy_text = lazy_text

    def format_help(self) -> str:
        if self._lazy_text is not None:
            self.description, self.epilog = self._lazy_text(self.description, self.epilog)
            self._lazy_text = None
        return super().format_help()


def _fill(*paragraphs: str) -> str:
    return "\n\n".join(textwrap.fill(p, 88) for p in paragraphs)


def _bench_text(description, epilog):
    suites = ", ".join(bench_suites())
    opt = ", ".join(bench_opt_in_suites())
    text = f"suites: all (default; without the opt-in {opt}), {suites}"
    return _fill(description), _fill(text, epilog)


def _reproduce_text(description, epilog):
    listing = "\n".join(f"  {n:<30} {paper}" for n, paper in reproduction_names().items())
    return _fill(description), "reproductions:\n" + listing + "\n\n" + _fill(epilog)


def build_parser() -> argparse.ArgumentParser:
    """The ``damjax`` argument parser (builds without importing JAX)."""
    parser = argparse.ArgumentParser(
        prog="damjax",
        description="Dense Associative Memories in JAX: sweeps, benchmarks, paper reproductions.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks of usage errors (exit status 2)"
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    p = sub.add_parser(
        "bench",
        help="speed benchmarks (ratios measured in one run)",
        description="Speed benchmarks: ratios of times measured in one run (e.g. our update vs. "
        "the bare matrix products of the same shapes).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        lazy_text=_bench_text,
    )
    p.add_argument("--suite", default="all", metavar="SUITE", help="benchmark suite (listed below)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--quick", action="store_true", help="small shapes (smoke test)")
    p.set_defaults(func=_bench)

    p = sub.add_parser(
        "reproduce",
        help="reproduce a paper's figures and checks",
        description="Run a reproduction of a paper (or 'all'): compute, draw the figures (PNG "
        "and PDF), compare with the paper's values and write OUT/summary.json (checks, protocol, "
        "deviations, provenance). 'all' also writes OUT/index.md and OUT/index.html. Progress "
        "goes to stderr (--quiet: none).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        lazy_text=_reproduce_text,
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="reproduction name (below), or 'all'")
    p.add_argument("--list", action="store_true", help="list the reproductions")
    p.add_argument("--out", metavar="DIR", help="output folder (default results/NAME)")
    p.add_argument("--quick", action="store_true", help="reduced size (minutes, for CI)")
    p.add_argument(
        "--record",
        metavar="FILE",
        help="also write the pass/miss outcomes into this record "
        "(experiments/results/quick.json or default.json)",
    )
    p.add_argument("--table", metavar="RECORD", help="print the results table of a record")
    p.add_argument("--readme", metavar="FILE", help="with --table: rewrite FILE's table block")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_reproduce)

    p = sub.add_parser(
        "sweep",
        help="run a parameter sweep from a TOML config into a Parquet store",
        description="Run a sweep described by CONFIG.toml; rows go to Parquet files in DIR. "
        "Re-running skips finished rows; shards i/n of a job array write into the same DIR.",
        epilog=_EPILOG,
    )
    p.add_argument("config", metavar="CONFIG.toml", help="sweep config (TOML)")
    p.add_argument("--out", metavar="DIR", required=True, help="result store folder")
    p.add_argument(
        "--shard", default="0/1", type=_shard, metavar="i/n", help="run shard i of n (job arrays)"
    )
    p.add_argument(
        "--batch-size", type=_positive_int, default=None, metavar="B", help="rows per compiled call"
    )
    p.add_argument(
        "--flush-seconds",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="write results at least every S seconds (default 10; 0: after every batch)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    p.add_argument(
        "--no-cwd-import",
        dest="cwd_import",
        action="store_false",
        help="do not put the current directory on sys.path for 'module:function' experiments",
    )
    p.set_defaults(func=_sweep, library_errors=True)

    p = sub.add_parser(
        "results",
        help="summarize, plot or export a sweep store",
        description="Look at a sweep store (damjax sweep --out DIR) without writing pandas.",
        epilog=_EPILOG,
    )
    rsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(q):
        q.add_argument("dir", metavar="DIR", help="sweep store folder")
        q.add_argument("--experiment", help="the experiment's rows, when DIR holds several")

    def filters(q):
        q.add_argument(
            "--where",
            type=_where,
            action="append",
            metavar="COL=VALUE",
            help="keep rows with COL == VALUE (repeatable)",
        )
        q.add_argument("--ci", type=float, default=0.95, help="confidence level (default 0.95)")

    q = rsub.add_parser(
        "summarize",
        help="one row per point: mean, std and CI over seeds of every measured column",
        epilog=_EPILOG,
    )
    common(q)
    filters(q)
    q.add_argument("--columns", metavar="A,B", help="measured columns (default: all numeric)")
    q.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    q.set_defaults(func=_results_summarize, library_errors=True)

    q = rsub.add_parser(
        "plot", help="mean of Y over seeds against X, one line per HUE value", epilog=_EPILOG
    )
    common(q)
    filters(q)
    q.add_argument("--x", required=True, help="parameter on the x axis (e.g. K)")
    q.add_argument("--y", required=True, help="measured column (e.g. exact_rate)")
    q.add_argument("--hue", help="parameter: one line per value (e.g. n)")
    q.add_argument(
        "--out", default="fig.png", metavar="FILE", help="figure file .png/.pdf/.svg (fig.png)"
    )
    q.add_argument("--logx", action="store_true", help="log x axis")
    q.add_argument("--logy", action="store_true", help="log y axis")
    q.set_defaults(func=_results_plot, library_errors=True)

    q = rsub.add_parser("export", help="write the store's rows as CSV", epilog=_EPILOG)
    common(q)
    q.add_argument("--csv", required=True, metavar="FILE", help="CSV file to write")
    q.add_argument("--summary", action="store_true", help="write the per-point summary instead")
    q.set_defaults(func=_results_export, library_errors=True)
    return parser


def _one_line(e: BaseException) -> str:
    if isinstance(e, KeyError) and e.args:
        text = str(e.args[0])
    elif isinstance(e, OSError) and e.filename is not None and e.strerror:
        text = f"{e.filename}: {e.strerror}"
    else:
        text = str(e) or type(e).__name__
    return " ".join(text.split())


def main(argv=None) -> int:
    """Run the ``damjax`` command; returns the exit status (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    name = f"damjax {args.command}" + (f" {args.action}" if getattr(args, "action", None) else "")
    try:
        return int(args.func(args) or 0)
    # BrokenPipeError first: it is an OSError
    except BrokenPipeError:  # output piped into a command that stopped reading (| head)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except UsageError as e:
        if args.debug:
            raise
        print(f"{name}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, KeyError, OSError) as e:
        # sweep / results: the library's errors about its input (they name the argument). Other
        # types, and errors while a benchmark or a reproduction runs, are bugs: traceback.
        if args.debug or not getattr(args, "library_errors", False):
            raise
        print(f"{name}: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
