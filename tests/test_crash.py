"""The crash harness: real processes killed with SIGKILL at random moments.

Worker processes (`tests/chaos.py`) run graph turns, rollbacks, switches,
tags, prunes and deletes on one shared database. The harness kills them with
SIGKILL at random moments, and half of the workers also kill themselves at a
named fault point between the steps of a multi-step operation (after a save
and before its count, between a rollback's note and its registration, between
a delete's store transaction and its erasure, ...). After at least
`AGENTGIT_CRASH_KILLS` (default 100) kills per backend, the documented
recovery runs (opening the saver: `recover_branches`) and then every
invariant is checked twice: by the test's own reading of the saver and the
store (`chaos.check`), and by `fsck()`. Both must find nothing.

The figures (kills at random, kills at a fault point, violations) are printed
with `-s`.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections.abc import Iterator
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

import pytest

from agentgit_langgraph import AgentGitSaver
from tests.chaos import FAULT_POINTS, Job, check, tally, worker

pytestmark = pytest.mark.slow

KILLS = int(os.environ.get("AGENTGIT_CRASH_KILLS", "100"))
WORKERS = 3
TIME_LIMIT = 240.0


@pytest.fixture(scope="module")
def forkserver() -> Iterator[ForkServerContext]:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.chaos"])
    yield ctx


@pytest.fixture(params=["sqlite", "postgres"])
def conn_string(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "crash.db")
    return str(request.getfixturevalue("postgres_schema_uri"))


def _harness(ctx: ForkServerContext, conn: str, errors: Path, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    stats = {"random_kills": 0, "fault_point_kills": 0}
    running: dict[int, tuple[Any, float]] = {}
    deadline = time.monotonic() + TIME_LIMIT
    with AgentGitSaver.from_conn_string(conn) as saver:  # tables exist before the workers race
        saver.setup()
    while stats["random_kills"] + stats["fault_point_kills"] < KILLS:
        assert time.monotonic() < deadline, f"only {stats} kills in {TIME_LIMIT}s"
        for slot in range(WORKERS):
            if slot in running:
                proc, kill_at = running[slot]
                if proc.is_alive():
                    if time.monotonic() >= kill_at:
                        proc.kill()
                        proc.join()
                        stats["random_kills"] += 1
                        del running[slot]
                    continue
                proc.join()
                assert proc.exitcode == -9, f"worker {slot} exited with {proc.exitcode}:\n" + (
                    errors.read_text() if errors.exists() else ""
                )
                stats["fault_point_kills"] += 1
                del running[slot]
            point = rng.choice(FAULT_POINTS) if rng.random() < 0.5 else None
            job = Job(
                conn, slot, rng.randrange(2**32), kill_at=point, kill_odds=0.3, errors=str(errors)
            )
            proc = ctx.Process(target=worker, args=(job,), daemon=True)
            proc.start()
            running[slot] = (proc, time.monotonic() + rng.uniform(0.05, 1.2))
        time.sleep(0.005)
    for proc, _ in running.values():
        proc.kill()
        proc.join()
    assert not errors.exists(), errors.read_text()
    return stats


def test_crashes_leave_every_invariant(
    forkserver: ForkServerContext, conn_string: str, tmp_path: Path
) -> None:
    stats = _harness(forkserver, conn_string, tmp_path / "errors.txt", seed=20261201)
    # The documented recovery: open the saver (it finishes what dead operations left).
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        broken = check(saver)
        report = saver.fsck()
        sessions = saver.list_sessions()
        checkpoints = sum(s.total_checkpoints for s in sessions)
    print(
        f"\n{conn_string.split('?')[0]}: {stats['random_kills']} random kills, "
        f"{stats['fault_point_kills']} at fault points; {len(sessions)} sessions, "
        f"{checkpoints} checkpoints; {len(broken)} violations, fsck {len(report.violations)}"
    )
    assert broken == [], tally(broken)
    assert report.violations == [], str(report)
    assert checkpoints > 0 and sessions, "the workers did work before they were killed"
