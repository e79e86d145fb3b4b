"""Quick versions of the capacity reproductions run and pass their own checks."""

import json

import pytest

from damjax import reproduce


@pytest.mark.parametrize("name", ["krotov2016-capacity", "demircigil2017"])
def test_quick_reproduction_passes(name, tmp_path):
    summary = reproduce.run(name, tmp_path, quick=True)
    failed = {k: c for k, c in summary["checks"].items() if not c["passed"]}
    assert not failed, failed
    assert summary["passed"] and len(summary["checks"]) >= 5
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["name"] == name and on_disk["checks"].keys() == summary["checks"].keys()
    for fig in summary["figures"]:
        assert (tmp_path / fig).stat().st_size > 10_000
    # the sweeps behind it went through the Parquet store and can be resumed
    assert list((tmp_path / "sweeps" / "quick").rglob("part-*.parquet"))
