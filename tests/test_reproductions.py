"""Every reproduction, found by the registry: it runs, its checks are computed by the run, its
summary documents the paper, and its --quick pass/miss pattern is the committed record.

No test here asks a reproduction to PASS: a MISS is a result. What the tests pin is the
*outcome pattern* (``experiments/results/quick.json``): a change of any check's outcome fails
here until the record is regenerated (one command, below) and the change is seen in review.

"Measured comes from the run" is checked statically on the reproduction's source (see
:func:`constant_check_arguments`): in every ``Check(...)`` / ``Check.close`` / ``at_least`` /
``at_most`` / ``holds`` call, the ``measured`` argument (and ``passed``, where it is given) must
not be a constant expression: a literal, a container / arithmetic / comparison / f-string of
literals, ``float(...)`` etc. of literals, or a name whose every assignment (module level or in
the enclosing function) is such an expression. A static rule sees every check of every code
path, also the ones a quick run does not reach, and costs nothing at run time; a rerun under
another seed would not catch a constant pasted into a check whose value is deterministic (the
theory constants), and would double the time of the suite. The rule is itself tested on fakes.
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from damjax import reproduce

ROOT = Path(__file__).resolve().parents[1]
QUICK_RECORD = ROOT / "experiments" / "results" / "quick.json"
DEFAULT_RECORD = ROOT / "experiments" / "results" / "default.json"
REGENERATE = "damjax reproduce all --quick --record experiments/results/quick.json"
REPRODUCTIONS = reproduce.available()
CONSTRUCTORS = {"close", "at_least", "at_most", "holds"}
SAFE_CALLS = {"float", "int", "bool", "str", "round", "abs", "min", "max", "len", "tuple", "list"}


# ------------------------------------------------------------------ the static "measured" rule
def _assignments(tree: ast.AST) -> dict[ast.AST, dict[str, list[ast.expr]]]:
    """For the module and every function: name -> the expressions assigned to it there."""
    scopes: dict[ast.AST, dict[str, list[ast.expr]]] = {}

    def visit(scope, body_nodes):
        table = scopes.setdefault(scope, {})
        for node in body_nodes:
            for sub in ast.walk(node) if scope is not tree else [node]:
                if isinstance(sub, ast.Assign):
                    for t in sub.targets:
                        if isinstance(t, ast.Name):
                            table.setdefault(t.id, []).append(sub.value)
                        elif isinstance(t, (ast.Tuple, ast.List)):  # unpacking: not constant
                            for e in t.elts:
                                if isinstance(e, ast.Name):
                                    table.setdefault(e.id, []).append(ast.Name("<unpacked>"))
                elif isinstance(sub, (ast.AnnAssign, ast.AugAssign)) and isinstance(
                    sub.target, ast.Name
                ):
                    # x += e: x is constant iff its other assignments and every e are
                    value = sub.value if sub.value is not None else ast.Name("<annotated>")
                    table.setdefault(sub.target.id, []).append(value)
                elif isinstance(sub, (ast.For, ast.comprehension, ast.With, ast.arguments)):
                    targets = []
                    if isinstance(sub, (ast.For, ast.comprehension)):
                        targets = [sub.target]
                    elif isinstance(sub, ast.arguments):
                        targets = [a for a in sub.args + sub.kwonlyargs + sub.posonlyargs]
                    for t in targets:
                        for e in ast.walk(t):
                            name = e.id if isinstance(e, ast.Name) else getattr(e, "arg", None)
                            if name:
                                table.setdefault(name, []).append(ast.Name("<bound>"))

    visit(tree, tree.body)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            visit(node, [node.args] + (node.body if isinstance(node.body, list) else [node.body]))
    return scopes


def _is_constant(expr, tables, seen=frozenset()) -> bool:
    """Whether ``expr`` is a constant expression given the assignments visible in ``tables``
    (innermost scope first)."""
    rec = lambda e: _is_constant(e, tables, seen)  # noqa: E731
    if isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
        return all(rec(e) for e in expr.elts)
    if isinstance(expr, ast.Dict):
        return all(k is None or rec(k) for k in expr.keys) and all(rec(v) for v in expr.values)
    if isinstance(expr, ast.UnaryOp):
        return rec(expr.operand)
    if isinstance(expr, ast.BinOp):
        return rec(expr.left) and rec(expr.right)
    if isinstance(expr, ast.BoolOp):
        return all(rec(v) for v in expr.values)
    if isinstance(expr, ast.Compare):
        return rec(expr.left) and all(rec(c) for c in expr.comparators)
    if isinstance(expr, ast.IfExp):
        return rec(expr.body) and rec(expr.orelse) and rec(expr.test)
    if isinstance(expr, ast.JoinedStr):
        return all(rec(v) for v in expr.values)
    if isinstance(expr, ast.FormattedValue):
        return rec(expr.value)
    if isinstance(expr, ast.Call):
        if isinstance(expr.func, ast.Name) and expr.func.id in SAFE_CALLS:
            return all(rec(a) for a in expr.args) and all(rec(k.value) for k in expr.keywords)
        return False
    if isinstance(expr, ast.Name):
        if expr.id in seen:
            return False
        for table in tables:
            if expr.id in table:
                return all(_is_constant(v, tables, seen | {expr.id}) for v in table[expr.id])
        return False  # a builtin or an import: not a literal
    return False


def _check_args(call: ast.Call):
    """(measured, passed) argument expressions of a Check constructor call (None if absent)."""
    f = call.func
    kw = {k.arg: k.value for k in call.keywords}
    if isinstance(f, ast.Name) and f.id == "Check":
        names = ["measured", "expected", "tolerance", "passed"]
    elif (
        isinstance(f, ast.Attribute)
        and isinstance(f.value, ast.Name)
        and f.value.id == "Check"
        and f.attr in CONSTRUCTORS
    ):
        names = ["measured", "expected", "passed"] if f.attr == "holds" else ["measured"]
    else:
        return None
    pos = dict(zip(names, call.args))
    return kw.get("measured", pos.get("measured")), kw.get("passed", pos.get("passed"))


def constant_check_arguments(source: str) -> list[str]:
    """Every Check constructor call of ``source`` whose ``measured`` or ``passed`` argument is a
    constant expression, as ``"line N: ..."``; also calls with no ``measured`` at all."""
    tree = ast.parse(source)
    scopes = _assignments(tree)
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        args = _check_args(node)
        if args is None:
            continue
        tables, p = [], node
        while p in parents:
            p = parents[p]
            if p in scopes:
                tables.append(scopes[p])
        measured, passed = args
        text = ast.get_source_segment(source, node) or ""
        if measured is None:
            bad.append(f"line {node.lineno}: no measured argument: {text[:80]}")
        elif _is_constant(measured, tables):
            bad.append(f"line {node.lineno}: constant measured: {text[:80]}")
        if passed is not None and _is_constant(passed, tables):
            bad.append(f"line {node.lineno}: constant passed: {text[:80]}")
    return bad


FAKES = {
    "literal": "Check.at_least(0.97, 0.9)",
    "constant_name": "ACC = 0.97\ndef run():\n    return Check.close(ACC, 1.0, 0.1)",
    "local_constant": "def run():\n    x = 2.0 * 3\n    return Check.at_most(float(x), 7)",
    "container": "Check.holds({'a': [1, 2]}, 'claim', bool(len(z)))",
    "fstring": "Check.holds(f'{3}', 'claim', ok)",
    "passed_literal": "def run(r):\n    return Check.holds(r.mean(), 'claim', True)",
    "constructor": "Check(measured=1.0, expected=1.0, tolerance=0, passed=ok)",
    "augmented": "def run():\n    x = 1\n    x += 2\n    return Check.at_least(x, 1)",
}
HONEST = {
    "from_call": "def run(df):\n    return Check.at_least(df['x'].mean(), 0.9)",
    "from_argument": "def run(rate):\n    return Check.close(float(rate), 1.0, 0.1)",
    "loop_variable": "def run(rs):\n    for r in rs:\n        Check.at_most(r, 0.2)",
    "unpacked": "def run(f):\n    a, b = f()\n    return Check.holds(a, 'claim', bool(b > 0))",
    "updated": "def run(f):\n    x = 0.0\n    x += f()\n    return Check.at_least(x, 1)",
}


@pytest.mark.parametrize("case", list(FAKES))
def test_rule_flags_constants(case):
    assert constant_check_arguments(FAKES[case]), case


@pytest.mark.parametrize("case", list(HONEST))
def test_rule_accepts_computed_values(case):
    assert constant_check_arguments(HONEST[case]) == []


@pytest.mark.parametrize("name", list(REPRODUCTIONS))
def test_checks_are_measured_by_the_run(name):
    """Static rule on the reproduction's module (and the experiments helpers it imports)."""
    module = inspect.getmodule(REPRODUCTIONS[name].run)
    source = inspect.getsource(module)
    assert "Check" in source, f"{name}: no Check constructed in {module.__name__}"
    bad = constant_check_arguments(source)
    assert not bad, f"{module.__name__}: checks not computed from the run: {bad}"


# ------------------------------------------------------------------ one run per reproduction
def _documented(summary: dict) -> list[str]:
    """What is missing from the paper documentation of a summary."""
    missing = []
    prot = summary["protocol"]
    if not isinstance(prot, dict) or not prot:
        missing.append("protocol (what the paper did) is empty")
    elif not any(str(v).strip() for k, v in prot.items() if k in ("source", "section")):
        missing.append("protocol has no 'source' (section / figure / code file of the paper)")
    devs = summary["deviations"]
    if not isinstance(devs, list):
        missing.append("deviations is not a list")
    else:
        for i, d in enumerate(devs):
            if not (
                isinstance(d, dict)
                and str(d.get("what", "")).strip()
                and str(d.get("why", "")).strip()
            ):
                missing.append(f"deviations[{i}] needs non-empty 'what' and 'why'")
    for k, c in summary["checks"].items():
        if c.get("source") not in reproduce.SOURCES:
            missing.append(f"check {k}: source {c.get('source')!r} not in {reproduce.SOURCES}")
        if not str(c.get("cite", "")).strip():
            missing.append(f"check {k}: no cite (where in the paper / which formula / why)")
    return missing


# Each quick reproduction runs in a fresh Python process. They are the suite's heaviest
# compilations; run one after another inside a long-lived pytest-xdist worker (next to the
# executables the rest of the suite left in it), XLA's CPU compiler segfaulted on the 2-core CI
# machine in 3 of 4 full runs, while every reproduction passes alone and the file passes alone.
# A fresh process per reproduction is also what a user's `damjax reproduce NAME --quick` is.
_RUN_ONE = (
    "import sys; from damjax import reproduce; "
    "reproduce.run(sys.argv[1], sys.argv[2], quick=True, argv=sys.argv[3:])"
)


def _run_isolated(name: str, out: Path) -> dict:
    cmd = [sys.executable, "-c", _RUN_ONE, name, str(out), "damjax", "reproduce", name, "--quick"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, (
        f"{name}: the reproduction process exited with {proc.returncode}; its stderr ends:\n"
        + proc.stderr[-4000:]
    )
    return json.loads((out / "summary.json").read_text())


@pytest.mark.parametrize("name", list(REPRODUCTIONS))
def test_quick_reproduction(name, tmp_path):
    """Runs; writes summary.json and its figures; documents the paper; pass/miss = record."""
    summary = _run_isolated(name, tmp_path)
    assert summary["name"] == name and summary["quick"] is True
    assert summary["checks"], f"{name}: no checks"
    for fig in summary["figures"]:
        assert (tmp_path / fig).stat().st_size > 0, fig

    missing = _documented(summary)
    assert not missing, f"{name}: summary.json does not document the paper: {missing}"

    assert QUICK_RECORD.exists(), f"no record {QUICK_RECORD}: run `{REGENERATE}`"
    record = reproduce.load_record(QUICK_RECORD)
    assert record["kind"] == "quick"
    assert name in record["reproductions"], f"{name} has no entry in the record: `{REGENERATE}`"
    want = reproduce.outcome_pattern(record["reproductions"][name])
    got = reproduce.outcome_pattern(summary)
    changed = {
        k: f"{want.get(k, 'absent')} -> {got.get(k, 'absent')}"
        for k in sorted(set(want) | set(got))
        if want.get(k) != got.get(k)
    }
    assert not changed, (
        f"{name}: outcomes differ from {QUICK_RECORD.name}: {changed}; if the change is "
        f"intended, rerun `{REGENERATE}` and commit the record"
    )


def test_run_returns_what_it_writes(tmp_path, monkeypatch):
    """In process (the quick runs above are in subprocesses): run's summary is summary.json,
    each check recorded as the Check computed it, and "passed" their conjunction."""
    made = {}

    def fake(out, *, quick):
        m = float(quick) + 1.0
        # two bounds either side of m, so that a conjunction and a disjunction differ
        made.update(
            low=reproduce.Check.at_least(m, m - 1.0, source="ours"),
            high=reproduce.Check.at_least(m, m + 1.0, source="ours"),
        )
        return reproduce.Outcome(
            checks=dict(made), config={"quick": quick}, protocol={"source": "fake"}
        )

    monkeypatch.setitem(
        reproduce._REGISTERED, "fake-run", reproduce.Reproduction("fake-run", "none", fake)
    )
    summary = reproduce.run("fake-run", tmp_path, quick=True, argv=["x"])
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    checks = summary["checks"]
    assert set(checks) == set(made)
    for name, check in made.items():
        # the whole entry as the Check serialises itself: measured, bounds, outcome, source
        assert checks[name] == check.to_json() and check.measured == 2.0
    # "passed" is the conjunction of the checks' own rules, which differs from the disjunction
    # for these bounds (m = 2 lies above the low one and below the high one)
    m = 2.0  # the fake's measurement at quick=True
    holds = [m >= m - 1.0, m >= m + 1.0]
    assert summary["passed"] == all(holds) != any(holds)


def test_record_covers_exactly_the_registry():
    record = reproduce.load_record(QUICK_RECORD)
    assert set(record["reproductions"]) == set(REPRODUCTIONS), f"rerun `{REGENERATE}`"
    for entry in record["reproductions"].values():
        assert entry["command"].startswith("damjax reproduce") and "--quick" in entry["command"]


def test_readme_table_is_generated_from_default_record():
    record = reproduce.load_record(DEFAULT_RECORD)
    assert record["kind"] == "default"
    for entry in record["reproductions"].values():
        assert entry["command"].startswith("damjax reproduce") and "--quick" not in entry["command"]
    text = (ROOT / "README.md").read_text()
    from damjax._records import README_BEGIN, README_END

    block = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0]
    assert block.strip() == reproduce.results_table(record).strip(), (
        "README results table is not the generated one: run `damjax reproduce --table "
        "experiments/results/default.json --readme README.md`"
    )


# ------------------------------------------------------------------ the record functions
def _summary(name, quick, **outcomes):
    return {
        "name": name,
        "quick": quick,
        "runtime_s": 1.0,
        "passed": all(outcomes.values()),
        "checks": {
            k: {"measured": 1.0, "expected": 2.0, "passed": v, "source": "paper", "cite": "x"}
            for k, v in outcomes.items()
        },
    }


def test_write_record_merges_and_refuses_mixed_kinds(tmp_path):
    path = tmp_path / "r" / "quick.json"
    reproduce.write_record(path, [_summary("a", True, c1=True, c2=False)], command="damjax x")
    rec = reproduce.write_record(path, [_summary("b", True, c3=True)], command="damjax y")
    assert set(rec["reproductions"]) == {"a", "b"}
    assert reproduce.outcome_pattern(rec["reproductions"]["a"]) == {"c1": "PASS", "c2": "MISS"}
    assert reproduce.load_record(path) == rec
    assert rec["reproductions"]["b"]["command"] == "damjax y"
    with pytest.raises(ValueError, match="records quick runs"):
        reproduce.write_record(path, [_summary("a", False, c1=True)], command="damjax z")
    with pytest.raises(ValueError, match="mix quick and default"):
        reproduce.write_record(
            tmp_path / "x.json", [_summary("a", False), _summary("b", True)], command="c"
        )
    assert not list(path.parent.glob("*.tmp"))


def test_sync_readme_rewrites_only_its_block(tmp_path):
    rec = {
        "kind": "default",
        "reproductions": {
            "a": {
                "checks": {
                    "c1": {
                        "outcome": "MISS",
                        "measured": 0.5,
                        "expected": ">= 1",
                        "source": "paper",
                    }
                }
            }
        },
    }
    readme = tmp_path / "README.md"
    from damjax._records import README_BEGIN, README_END

    readme.write_text(f"top\n{README_BEGIN}\nold\n{README_END}\nbottom\n")
    assert reproduce.sync_readme(readme, rec)
    text = readme.read_text()
    assert text.startswith("top\n") and text.endswith("bottom\n") and "old" not in text
    assert "| a | c1 | paper | 0.5 | >= 1 | MISS |" in text
    assert not reproduce.sync_readme(readme, rec)
    readme.write_text("no block")
    with pytest.raises(ValueError, match="no results-table block"):
        reproduce.sync_readme(readme, rec)


def test_cli_record_and_table(tmp_path, monkeypatch, capsys):
    from damjax import cli

    calls = []

    def fake_run(name, out, *, quick=False, **kwargs):
        calls.append((name, quick))
        return _summary(name, quick, c1=False)

    monkeypatch.setattr(reproduce, "run", fake_run)
    path = tmp_path / "default.json"
    assert (
        cli.main(
            ["reproduce", "demircigil2017", "--out", str(tmp_path / "o"), "--record", str(path)]
        )
        == 1  # the recorded run has a MISS: exit status 1 (and the record is still written)
    )
    rec = reproduce.load_record(path)
    entry = rec["reproductions"]["demircigil2017"]
    assert entry["command"].startswith("damjax reproduce demircigil2017 --out")
    assert rec["kind"] == "default" and calls == [("demircigil2017", False)]
    capsys.readouterr()
    assert cli.main(["reproduce", "--table", str(path)]) == 0
    assert "| demircigil2017 | c1 | paper | 1 | 2 | MISS |" in capsys.readouterr().out
