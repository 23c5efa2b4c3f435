"""Who is doing a multi-step operation, and whether they can still finish it.

Two operations leave a mark in the store before their slow part and need to
know, when another process finds the mark, whether its maker still runs:

* a rollback notes its new thread before copying into it (`begin_branch`),
  signed with `owner_token()`; recovery deletes the thread only when the
  signer is gone (`is_gone`);
* a tool reversal claims each call before running its handler
  (`_claims.ReversalAttempt`); a competing rollback takes the claim over only
  when its claimant is gone.

The one rule for both: on the same node (boot id and pid namespace: where a
pid names one process), a maker in this very process is alive while its
operation is `running`; a maker in another process is alive while that pid
exists, is not a zombie, and started when the mark says (a reused pid started
later). A mark from another node cannot be checked: it is trusted for a grace
period (or a lease) counted in UTC.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

__all__ = [
    "is_gone",
    "is_running",
    "node",
    "owner_token",
    "pid_start",
    "process_alive",
    "running",
]

_RUNNING: set[str] = set()
_RUNNING_LOCK = threading.Lock()


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


@functools.cache
def node() -> str:
    """Where a pid names one process: boot id and pid namespace (Linux), else the host."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pidns = None
    if boot and pidns:
        return f"{boot}/{pidns}"
    return f"host:{socket.gethostname()}"


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in ticks) of `pid` from /proc, or None when it has no entry."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # fields 3.. (the name may hold spaces)
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


def pid_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None."""
    stat = _stat(pid)
    return stat[1] if stat is not None else None


def process_alive(pid: int, start: str | None) -> bool:
    """Whether process `pid` of this node, started at `start` (when known), still runs."""
    if os.path.isdir("/proc/self"):
        stat = _stat(pid)
        if stat is None:
            return False
        state, started = stat
        if state in ("Z", "X", "x"):  # killed, not yet reaped
            return False
        return not start or started == start
    try:  # pragma: no cover - no /proc: existence only
        os.kill(pid, 0)
    except ProcessLookupError:  # pragma: no cover
        return False
    except PermissionError:  # pragma: no cover - someone else's process
        return True
    return True  # pragma: no cover


@contextmanager
def running(token: str) -> Iterator[None]:
    """Mark `token`'s operation as running in this process while the block runs."""
    with _RUNNING_LOCK:
        _RUNNING.add(token)
    try:
        yield
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(token)


def is_running(token: str) -> bool:
    with _RUNNING_LOCK:
        return token in _RUNNING


@functools.lru_cache(maxsize=4)
def _own_start(pid: int) -> str | None:
    """This process's start time, read once per pid (a forked child has its own)."""
    return pid_start(pid)


def is_this_process(pid: int, start: str | None) -> bool:
    me = os.getpid()
    return pid == me and start == _own_start(me)


def owner_token() -> str:
    """`node|pid|start time|unique id`, naming one run of one operation of this process.

    Reads no file after the first call in a process (an async rollback signs
    one on the event loop; see the warm-up below).
    """
    pid = os.getpid()
    return f"{node()}|{pid}|{_own_start(pid) or ''}|{uuid.uuid4().hex}"


def is_gone(
    token: str, noted_at: datetime | None, *, grace: timedelta, at: datetime | None = None
) -> bool:
    """Whether the operation that signed `token` (see `owner_token`) can no longer finish.

    `grace` applies only where the signer cannot be checked (another node, a
    token from an older version): the note must be older than it, in UTC.
    """
    parts = token.split("|")
    if len(parts) == 4 and parts[0] == node() and parts[1].isdigit():
        pid, start = int(parts[1]), parts[2] or None
        if is_this_process(pid, start):
            return not is_running(token)
        return not process_alive(pid, start)
    if noted_at is None:
        return True
    if noted_at.tzinfo is None:  # no zone: written as UTC by this package
        noted_at = noted_at.replace(tzinfo=UTC)
    return (at or datetime.now(UTC)) - noted_at > grace


# Read /proc once at import, not on an event loop (the LangGraph server flags
# blocking file reads in async code).
node()
_own_start(os.getpid())
