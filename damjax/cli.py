"""The ``damjax`` command: ``damjax bench``, ``damjax reproduce``, ``damjax sweep``, ..."""

from __future__ import annotations

import argparse
import json
import sys


def _bench(args) -> int:
    import jax

    from . import __version__
    from .benchmarks import suites

    available = suites()
    names = list(available) if args.suite == "all" else [args.suite]
    for name in names:
        if name not in available:
            print(
                f"unknown suite {name!r}; available: all, {', '.join(available)}", file=sys.stderr
            )
            return 2
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
    return 0


def _reproduce(args) -> int:
    from . import reproduce

    if args.table:
        record = reproduce.load_record(args.table)
        if args.readme:
            changed = reproduce.sync_readme(args.readme, record)
            print(f"{args.readme}: results table {'updated' if changed else 'unchanged'}")
        else:
            print(reproduce.results_table(record))
        return 0
    if args.list or not args.name:
        for name, rep in reproduce.available().items():
            print(f"{name:<32} {rep.paper}")
        return 0
    out = args.out or f"results/{args.name}"
    if args.name == "all":
        summaries = reproduce.run_all(out, quick=args.quick)
    else:
        summaries = [reproduce.run(args.name, out, quick=args.quick)]
    if args.record:
        import shlex

        command = shlex.join(["damjax", *(args.argv or [])])
        reproduce.write_record(args.record, summaries, command=command)
    for s in summaries:
        mark = "PASS" if s["passed"] else "MISS"
        print(f"[{mark}] {s['name']} ({s['runtime_s']:.1f} s) -> {out}")
        for k, c in s["checks"].items():
            print(
                f"    {'ok ' if c['passed'] else 'no '} {k}: measured {c['measured']}"
                f" expected {c['expected']}"
            )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="damjax", description="Dense Associative Memories in JAX: sweeps, benchmarks, papers."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("bench", help="speed benchmarks (ratios measured in one run)")
    p.add_argument("--suite", default="all", help="benchmark suite (default: all)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--quick", action="store_true", help="small shapes (smoke test)")
    p.set_defaults(func=_bench)

    p = sub.add_parser("reproduce", help="reproduce a paper's figures and checks")
    p.add_argument("name", nargs="?", help="reproduction name, or 'all'")
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
    p.set_defaults(func=_reproduce)

    _add_plugins(sub)
    return parser


def _add_plugins(sub) -> None:
    """Subcommands contributed by other modules (each exposes ``add_cli(subparsers)``)."""
    import importlib

    for mod in ("damjax.sweep",):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name == mod:
                continue
            raise
        m.add_cli(sub)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
