"""Every notebook in `notebooks/` and every script in `examples/` runs, top to bottom.

Notebooks are executed with nbclient on a kernel of *this* interpreter (a
kernelspec written to a temporary directory whose argv is `sys.executable`), so
they import the package exactly as the tests do, on a fresh machine too, with
no kernel registered. Each runs in a temporary working directory and fails the
test on the first error; each notebook and script gets at most `TIMEOUT`
seconds. Without an API key in the environment (the tests remove it) they use
deterministic fake models. The PostgreSQL notebook and script skip without a
server, unless CI=true (then they fail, like the rest of the suite).

Refresh the outputs saved in the notebooks (a clean run, in place):

    .venv/bin/python tests/test_notebooks.py            # all of them
    .venv/bin/python tests/test_notebooks.py 02_branches_log_diff.ipynb
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
NEEDS_POSTGRES = {"04_postgres.ipynb", "postgres.py"}
# Kernels and subprocesses: the full suite, not the quick subset.
pytestmark = pytest.mark.slow

TIMEOUT = 60  # seconds, per notebook and per script
KERNEL_NAME = "agentgit-test-python"
# Real models are used only when their key is set; the tests never use them.
API_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
# The kernelspec committed notebooks carry (what Jupyter users get).
SAVED_KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _kernel_manager(spec_dir: Path) -> KernelManager:
    """A kernel manager whose only kernelspec runs this interpreter's ipykernel."""
    kernel_dir = spec_dir / KERNEL_NAME
    kernel_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({sys.executable})",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir)], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def _hermetic_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in API_KEYS}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def execute_notebook(path: Path, workdir: Path) -> Any:
    """Run the notebook at `path` top to bottom in `workdir`; returns it with outputs.

    Raises `nbclient.exceptions.CellExecutionError` on the first failing cell
    and `TimeoutError` when one cell runs longer than TIMEOUT seconds.
    """
    nb = nbformat.read(path, as_version=4)
    km = _kernel_manager(workdir / ".kernels")
    client = nbclient.NotebookClient(
        nb,
        km=km,
        kernel_name=KERNEL_NAME,
        timeout=TIMEOUT,
        startup_timeout=TIMEOUT,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute(env=_hermetic_env())  # the kernel's environment: this one, minus API keys
    nb.metadata["kernelspec"] = dict(SAVED_KERNELSPEC)
    return nb


def _needs_postgres(name: str, request: pytest.FixtureRequest) -> None:
    if name in NEEDS_POSTGRES:
        request.getfixturevalue("postgres_server")  # skips (or fails, with CI=true)


def test_there_is_a_notebook_and_an_example_per_use() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_branches_log_diff.ipynb",
        "03_tool_reversal.ipynb",
        "04_postgres.ipynb",
        "05_existing_agent.ipynb",
    ]
    names = {p.name for p in EXAMPLES}
    expected = {"quickstart.py", "branches_log_diff.py", "postgres.py", "existing_agent.py"}
    assert expected <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    _needs_postgres(path.name, request)
    started = time.monotonic()
    nb = execute_notebook(path, tmp_path)
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT, f"{path.name} took {elapsed:.0f}s"
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells and all(c.execution_count for c in code_cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_saved_notebook_shows_a_clean_run(path: Path) -> None:
    """What is committed is a clean run: every code cell executed in order, no error."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), (
        f"{path.name}: re-run it with `python tests/test_notebooks.py {path.name}`"
    )
    for cell in code_cells:
        for output in cell.outputs:
            assert output.output_type != "error", f"{path.name}: a saved error output"
            assert output.get("name") != "stderr", f"{path.name}: saved stderr: {output.text}"
    assert nb.metadata.get("kernelspec") == SAVED_KERNELSPEC


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_script_runs(
    path: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> None:
    _needs_postgres(path.name, request)
    # The quick start keeps its database for the CLI: here, one of this test's own.
    demo_db = str(tmp_path_factory.mktemp("demo") / "quickstart.db")
    proc = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env={**_hermetic_env(), "AGENTGIT_DEMO_DB": demo_db},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip(), f"{path.name} printed nothing"
    assert list(tmp_path.iterdir()) == [], f"{path.name} left files in its working directory"


def _write_outputs(names: list[str]) -> None:
    chosen = [p for p in NOTEBOOKS if not names or p.name in names]
    for path in chosen:
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            nb = execute_notebook(path, Path(tmp))
        nbformat.write(nb, path)
        print(f"{path.name}: ran in {time.monotonic() - started:.1f}s, outputs saved")


if __name__ == "__main__":
    _write_outputs(sys.argv[1:])
