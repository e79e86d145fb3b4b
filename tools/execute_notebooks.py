"""Execute the notebooks at their small size and save them with their outputs.

    DAMJAX_NOTEBOOK_SMALL=1 python tools/execute_notebooks.py [notebooks/NAME.ipynb ...]

The committed notebooks carry the outputs of this run, so they show their plots on GitHub and in
the documentation (which does not execute them); ``tests/test_notebooks.py`` executes them again
and fails on any error.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parent.parent


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as cwd:
        client = nbclient.NotebookClient(
            nb,
            timeout=1200,
            kernel_name="python3",
            record_timing=False,
            resources={"metadata": {"path": cwd}},
        )
        client.execute()
    for cell in nb.cells:  # keep the diff to what the cells show
        cell.get("metadata", {}).pop("execution", None)
        if "outputs" in cell:  # tqdm's note that ipywidgets is missing (names a local path)
            cell.outputs = [o for o in cell.outputs if "TqdmWarning" not in o.get("text", "")]
    nbformat.write(nb, path)
    return time.perf_counter() - t0


def main(argv: list[str]) -> int:
    os.environ.setdefault("DAMJAX_NOTEBOOK_SMALL", "1")
    paths = [Path(p) for p in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        print(f"{path.name}: {execute(path):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
