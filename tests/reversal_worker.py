"""Rollbacks with tool reversal in separate processes, for `test_reversal_claims.py`.

`rollback_worker` runs in a `multiprocessing` (spawn) child: it opens its own
`AgentGitSaver` on the shared database, registers an undo handler for the
`book` tool that appends `"<item> <pid>"` to a shared log (O_APPEND) and then
sleeps, waits at a barrier so all children roll back at once, and reports the
branch it created (or its error) on a queue.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from agentgit_langgraph import AgentGitSaver

__all__ = ["log_line", "make_undo", "read_log", "rollback_worker"]

BARRIER_TIMEOUT = 60.0


def log_line(log: str | Path, item: str) -> None:
    """Append one line atomically (O_APPEND, one write) to the shared log."""
    fd = os.open(str(log), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{item} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


def read_log(log: str | Path) -> list[tuple[str, int]]:
    """The log's lines as (item, pid)."""
    path = Path(log)
    if not path.exists():
        return []
    return [(a, int(b)) for a, b in (line.split() for line in path.read_text().splitlines())]


def make_undo(
    log: str, delay: float, *, use_async: bool, hang_item: str | None = None, started: str = ""
) -> Any:
    """The `book` tool's undo: log, then take `delay` seconds (or hang on `hang_item`)."""

    def pause(item: str) -> float:
        if item == hang_item:
            Path(started).write_text(str(os.getpid()))
            return 120.0
        return delay

    def undo(args: dict[str, Any], result: str) -> None:
        log_line(log, args["item"])
        time.sleep(pause(args["item"]))

    async def aundo(args: dict[str, Any], result: str) -> None:
        log_line(log, args["item"])
        await asyncio.sleep(pause(args["item"]))

    return aundo if use_async else undo


def rollback_worker(
    conn: str,
    target: dict[str, Any],
    log: str,
    delay: float,
    barrier: Any,
    results: Any,
    use_async: bool,
    hang_item: str | None = None,
    started: str = "",
) -> None:
    """Roll back to `target` with `reverse_tools=True`; put ("ok", thread) or ("error", repr)."""
    undo = make_undo(log, delay, use_async=use_async, hang_item=hang_item, started=started)
    try:
        if use_async:
            thread = asyncio.run(_arollback(conn, target, undo, barrier))
        else:
            with AgentGitSaver.from_conn_string(conn, reversers={"book": undo}) as saver:
                saver.setup()
                if barrier is not None:
                    barrier.wait(BARRIER_TIMEOUT)
                branch = saver.rollback(target, reverse_tools=True, strict=True)
                thread = str(branch["configurable"]["thread_id"])
        results.put(("ok", thread))
    except BaseException as exc:  # reported to the test, whatever it is
        results.put(("error", repr(exc)))


async def _arollback(conn: str, target: dict[str, Any], undo: Any, barrier: Any) -> str:
    async with AgentGitSaver.afrom_conn_string(conn, reversers={"book": undo}) as saver:
        await saver.asetup()
        if barrier is not None:
            barrier.wait(BARRIER_TIMEOUT)  # nothing else runs on this loop yet
        branch = await saver.arollback(target, reverse_tools=True, strict=True)
        return str(branch["configurable"]["thread_id"])
