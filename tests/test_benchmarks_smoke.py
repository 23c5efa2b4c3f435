"""`benchmarks.run_all --quick --smoke` runs end to end and prints every row.

Tiny sizes (50-checkpoint "long" threads, 10 branches, one round each), so it
asserts the table's shape only, never a timing or a verdict.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run_all import SMOKE, measure_names

# A subprocess running every benchmark: the full suite, not the quick subset.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def _rows(table: str) -> dict[tuple[str, str], list[str]]:
    rows: dict[tuple[str, str], list[str]] = {}
    for line in table.splitlines():
        if not line.startswith("| ") or line.startswith("| backend "):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[(cells[0], cells[1])] = cells
    return rows


def test_run_all_smoke_prints_every_row(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--quick", "--smoke", "--dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # a bound against a hang: 48 s alone on a 2-core Xeon, more beside the suite
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "machine: " in out and "SQLite " in out and "total: " in out

    rows = _rows(out)
    backends = ["sqlite"]
    if "PostgreSQL skipped" not in out:
        backends.append("postgres")
    expected = {(b, m) for b in backends for m in measure_names(SMOKE, b)}
    if "viewer graph page skipped" in out:  # no Chromium on this machine
        expected = {(b, m) for b, m in expected if not m.startswith("graph page ready")}
    else:
        assert ("sqlite", "graph page ready / tree JSON, 10 branches") in expected
    assert set(rows) == expected, out
    for cells in rows.values():
        assert len(cells) == 5
        float(cells[2].replace(",", ""))  # a number
        assert cells[4] in {"pass", "MISS", "-"}
