"""Who holds a reversal claim, and whether they are still alive.

A rollback that reverses tools claims each call in the session store before
running its handler (`stores.*.claim_reversal`). The claim names its claimant
(`sessions.Claimant`): a token unique to the rollback attempt, the host, the
pid and the process's start time. A competing rollback that finds the claim
`pending` asks `ReversalAttempt.alive` whether the claimant can still finish:

* same process: alive while the attempt that holds the token is running
  (`ReversalAttempt` registers it for its duration);
* same node (boot id and pid namespace: a pid there means one process): alive
  while that pid exists, is not a zombie, and started when the claim says (a
  reused pid started later);
* another node: alive until its lease expires (`Claimant.expires_at`).

A dead claimant's claim is taken over (`take_over_reversal`, a conditional
UPDATE on its token, so two takers cannot both win); a live one is waited for.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import TracebackType

from agentgit_langgraph.sessions import Claimant

__all__ = [
    "CLAIM_MARGIN",
    "DEFAULT_LEASE",
    "ReversalAttempt",
    "claimant_alive",
    "lease_for",
    "stamp",
    "utc_now",
]

DEFAULT_LEASE = 900.0
"""Seconds a claim from another node is honoured when its rollback set no `reverse_timeout`."""
CLAIM_MARGIN = 30.0
"""Seconds added to `reverse_timeout` for a claim's lease (start-up, recording, clock skew)."""

_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


def utc_now() -> datetime:
    """Timezone-aware UTC: every claim time."""
    return datetime.now(UTC)


def lease_for(timeout: float | None) -> float:
    """The lease of a claim whose handler runs at most `timeout` seconds."""
    if timeout is None or timeout == float("inf"):
        return DEFAULT_LEASE
    return timeout + CLAIM_MARGIN


def stamp(claimant: Claimant, at: datetime) -> Claimant:
    """`claimant` as a claim taken at `at`: with `claimed_at` and `expires_at`."""
    return Claimant(
        token=claimant.token,
        host=claimant.host,
        pid=claimant.pid,
        node=claimant.node,
        pid_start=claimant.pid_start,
        lease_seconds=claimant.lease_seconds,
        claimed_at=at,
        expires_at=at + timedelta(seconds=claimant.lease_seconds),
    )


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


@functools.cache
def _node() -> str:
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


@functools.cache
def _start_of(pid: int) -> str | None:
    stat = _stat(pid)
    return stat[1] if stat is not None else None


def _pid_alive(pid: int, start: str | None) -> bool:
    if os.path.isdir("/proc/self"):
        stat = _stat(pid)
        if stat is None:
            return False
        state, started = stat
        if state in ("Z", "X", "x"):  # killed, not yet reaped
            return False
        return start is None or started == start
    try:  # pragma: no cover - no /proc: existence only
        os.kill(pid, 0)
    except ProcessLookupError:  # pragma: no cover
        return False
    except PermissionError:  # pragma: no cover - someone else's process
        return True
    return True  # pragma: no cover


def current_claimant(timeout: float | None) -> Claimant:
    """A claimant for a new rollback attempt of this process."""
    pid = os.getpid()
    return Claimant(
        token=uuid.uuid4().hex,
        host=socket.gethostname(),
        pid=pid,
        node=_node(),
        pid_start=_start_of(pid),
        lease_seconds=lease_for(timeout),
    )


def claimant_alive(holder: Claimant | None, *, at: datetime | None = None) -> bool:
    """Whether the rollback holding a `pending` claim may still finish it (see the module)."""
    if holder is None:  # a claim recorded before claimants were: its rollback is long gone
        return False
    if holder.node and holder.node == _node():
        pid = os.getpid()
        if holder.pid == pid and holder.pid_start == _start_of(pid):
            with _ACTIVE_LOCK:
                return holder.token in _ACTIVE
        return _pid_alive(holder.pid, holder.pid_start)
    if holder.expires_at is None:
        return False
    expires = holder.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return (at or utc_now()) < expires


class ReversalAttempt:
    """One rollback's reversal run: its claimant, and the `"claims"` target of its plan.

    Used as a context manager around the rollback: while it is open, this
    process's competing rollbacks see its claims as alive; once it closes
    (returned, raised, interrupted) any claim it left `pending` is dead and the
    next rollback past the call takes it over.

    Example:
        >>> with ReversalAttempt(timeout=5.0) as attempt:
        ...     claimant_alive(attempt.claimant)
        True
    """

    def __init__(self, timeout: float | None = None) -> None:
        self.claimant = current_claimant(timeout)

    def __enter__(self) -> ReversalAttempt:
        with _ACTIVE_LOCK:
            _ACTIVE.add(self.claimant.token)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(self.claimant.token)

    # The plan's calls: `method` from a sync rollback, `amethod` from an async one.
    def alive(self, holder: Claimant | None) -> bool:
        return claimant_alive(holder)

    async def aalive(self, holder: Claimant | None) -> bool:
        return claimant_alive(holder)

    def pause(self, seconds: float) -> None:
        time.sleep(seconds)

    async def apause(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
