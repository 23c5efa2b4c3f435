"""No cross-user read when a thread id changes hands in another process.

Worker 1 serves user A on thread `support-ticket-42`. Worker 2, another
process, deletes A's session and user B starts a session on the same thread
id. Worker 1 must then refuse A (never show B's messages) and serve B. With
an owner cached per process (as before), worker 1 did the opposite. Two real
processes (multiprocessing, spawn), on SQLite and PostgreSQL, sync and async,
in both orders (A asks worker 1 first, or B does; and the processes swap
roles).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.access_worker import serve

A, B = 1, 2
# Worker processes: the full suite, not the quick subset.
pytestmark = pytest.mark.slow

THREAD = "support-ticket-42"
TIMEOUT = 120


class Worker:
    def __init__(self, ctx: Any, conn_string: str, mode: str) -> None:
        self.inbox: Any = ctx.Queue()
        self.outbox: Any = ctx.Queue()
        self.process = ctx.Process(
            target=serve, args=(conn_string, mode, self.inbox, self.outbox), daemon=True
        )
        self.process.start()

    def ready(self) -> None:
        assert self.outbox.get(timeout=TIMEOUT) == ("ok", "ready")

    def ask(self, *cmd: Any) -> tuple[str, Any]:
        """The answer; of message lists, only what the users said (not the echoes)."""
        self.inbox.put(cmd)
        status, value = self.outbox.get(timeout=TIMEOUT)
        if status == "ok" and cmd[0] in ("invoke", "state"):
            assert not any("A's" in m for m in value) or cmd[2] == A, value  # never A's to B
            assert not any("B's" in m for m in value) or cmd[2] == B, value  # never B's to A
            value = [m for m in value if not m.startswith("echo")]
        return status, value

    def stop(self) -> None:
        self.inbox.put(None)
        self.process.join(TIMEOUT)
        if self.process.is_alive():  # pragma: no cover - a hung worker
            self.process.kill()


@contextmanager
def two_workers(conn_string: str, mode: str) -> Iterator[tuple[Worker, Worker]]:
    ctx = multiprocessing.get_context("spawn")
    first = Worker(ctx, conn_string, mode)
    second = Worker(ctx, conn_string, mode)
    try:
        first.ready()
        second.ready()
        yield first, second
    finally:
        first.stop()
        second.stop()


def _handover(conn_string: str, mode: str, swap: bool, a_first: bool) -> None:
    with two_workers(conn_string, mode) as (w1, w2):
        stale, other = (w2, w1) if swap else (w1, w2)
        # The stale worker serves A, and checks A's ownership on every call.
        assert stale.ask("invoke", THREAD, A, "A's card number", 0) == ("ok", ["A's card number"])
        assert stale.ask("state", THREAD, A)[0] == "ok"
        assert stale.ask("state", THREAD, B) == ("error", "SessionAccessError")
        # The other worker deletes A's session; B starts one on the same thread id.
        status, deleted = other.ask("delete", THREAD, A)
        assert status == "ok" and THREAD in deleted
        assert other.ask("invoke", THREAD, B, "B's secret", 0) == ("ok", ["B's secret"])

        def a_is_refused() -> None:
            assert stale.ask("state", THREAD, A) == ("error", "SessionAccessError")
            assert stale.ask("invoke", THREAD, A, "A again", 1) == ("error", "SessionAccessError")

        def b_is_served() -> None:
            assert stale.ask("state", THREAD, B) == ("ok", ["B's secret"])

        if a_first:
            a_is_refused()
            b_is_served()
        else:
            b_is_served()
            a_is_refused()
        # B goes on in the stale worker; A's refused turn left nothing behind.
        assert stale.ask("invoke", THREAD, B, "B again", 1) == ("ok", ["B's secret", "B again"])


ORDERS = [
    pytest.param(False, True, id="worker1-stale-A-asks-first"),
    pytest.param(True, False, id="worker2-stale-B-asks-first"),
]


def _conn_string(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return str(tmp_path / "shared.db")
    return str(request.getfixturevalue("postgres_schema_uri"))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize(("swap", "a_first"), ORDERS)
def test_no_cross_user_read_across_processes(
    kind: str, swap: bool, a_first: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    _handover(_conn_string(kind, tmp_path, request), "sync", swap, a_first)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize(("swap", "a_first"), ORDERS)
def test_no_cross_user_read_across_processes_async(
    kind: str, swap: bool, a_first: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    _handover(_conn_string(kind, tmp_path, request), "async", swap, a_first)
