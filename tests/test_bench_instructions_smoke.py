"""`benchmarks.bench_instructions` counts instructions under valgrind and prints its rows.

A smoke run (50 calls a side, 20 turns): it asserts the table's shape and that every
side's count is a plausible, positive number, never a ratio's value.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI

# Seven valgrind runs: the full suite, not the quick subset.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ROWS = (
    "put instructions: wrapped / bare",
    "  floor: bare + 1 statement",
    "get_tuple instructions: wrapped / bare",
    "turn instructions (messages, sync): wrapped / bare",
)


def test_bench_instructions_smoke_prints_every_row() -> None:
    if shutil.which("valgrind") is None:
        if IN_CI:
            pytest.fail("valgrind is not installed (.ci/run installs it)")
        pytest.skip("valgrind is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_instructions", "--calls", "50"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = {line[: len(name)]: line for line in done.stdout.splitlines() for name in ROWS}
    for name in ROWS:
        line = lines.get(name)
        assert line is not None, (name, done.stdout)
        counts = [int(n.replace(",", "")) for n in re.findall(r"([\d,]+) instr", line)]
        assert len(counts) == 2 and all(10_000 < n < 100_000_000 for n in counts), line
        assert re.search(r"\s\d\.\d{3}\s", line), line
