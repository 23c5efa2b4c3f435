"""`benchmarks.bench_access --quick` runs end to end (its shape, never a timing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_access_quick_prints_every_measure() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_access", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SQLite (file)" in done.stdout
    for line in ("bare", "no user_id", "cached", "checked", "checked / cached"):
        assert line in done.stdout
