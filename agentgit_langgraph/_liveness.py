"""Who is doing a multi-step operation, and whether they can still finish it.

A rollback notes its new thread before copying into it (`begin_branch`) and
signs the note with `owner_token()`. Recovery deletes such a thread only when
the signer is gone: on this host, a process that no longer exists (or whose
pid now belongs to a process started later), or this very process when the
rollback is no longer running in it. A note from another host cannot be
checked, so it is trusted for a grace period counted in UTC from the note.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

__all__ = ["is_gone", "owner_token", "running"]

_HOST = socket.gethostname()
_RUNNING: set[str] = set()
_RUNNING_LOCK = threading.Lock()


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: skip past it.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def owner_token() -> str:
    """`host|pid|start time|unique id`, naming one run of one operation."""
    pid = os.getpid()
    return f"{_HOST}|{pid}|{_start_time(pid) or ''}|{uuid.uuid4().hex}"


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


def is_gone(
    token: str, noted_at: datetime | None, *, grace: timedelta, at: datetime | None = None
) -> bool:
    """Whether the operation that signed `token` can no longer finish.

    `grace` applies only where the signer cannot be checked (another host, a
    token from an older version): the note must be older than it.
    """
    parts = token.split("|")
    if len(parts) == 4 and parts[0] == _HOST and parts[1].isdigit():
        pid = int(parts[1])
        if pid == os.getpid():
            with _RUNNING_LOCK:
                return token not in _RUNNING
        if not _pid_alive(pid):
            return True
        started = _start_time(pid)
        return bool(parts[2]) and started is not None and started != parts[2]
    if noted_at is None:
        return True
    if noted_at.tzinfo is None:  # notes written before timestamps carried their zone
        noted_at = noted_at.replace(tzinfo=UTC)
    return (at or datetime.now(UTC)) - noted_at > grace
