"""Who holds a reversal claim, and whether they are still alive.

A rollback that reverses tools claims each call in the session store before
running its handler (`stores.*.claim_reversal`). The claim names its claimant
(`sessions.Claimant`): a token unique to the rollback attempt, the host, the
pid and the process's start time. A competing rollback that finds the claim
`pending` asks `ReversalAttempt.alive` whether the claimant can still finish:

the rule of `_liveness.py` (this process: while the attempt runs; this node:
while its pid runs; another node: until its lease, `Claimant.expires_at`,
expires).

A dead claimant's claim is taken over (`take_over_reversal`, a conditional
UPDATE on its token, so two takers cannot both win); a live one is waited for.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import TracebackType

from agentgit_langgraph._liveness import (
    is_running,
    is_this_process,
    node,
    pid_start,
    process_alive,
    running,
)
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


def current_claimant(timeout: float | None) -> Claimant:
    """A claimant for a new rollback attempt of this process."""
    pid = os.getpid()
    return Claimant(
        token=uuid.uuid4().hex,
        host=socket.gethostname(),
        pid=pid,
        node=node(),
        pid_start=pid_start(pid),
        lease_seconds=lease_for(timeout),
    )


def claimant_alive(holder: Claimant | None, *, at: datetime | None = None) -> bool:
    """Whether the rollback holding a `pending` claim may still finish it (see the module)."""
    if holder is None:  # a claim recorded before claimants were: its rollback is long gone
        return False
    if holder.node and holder.node == node():
        if is_this_process(holder.pid, holder.pid_start):
            return is_running(holder.token)
        return process_alive(holder.pid, holder.pid_start)
    if holder.expires_at is None:
        return False
    expires = holder.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return (at or utc_now()) < expires


class ReversalAttempt:
    """One rollback's reversal run: its claimant, and what its plan asks (`call_on`).

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
        self._running = running(self.claimant.token)

    def __enter__(self) -> ReversalAttempt:
        self._running.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._running.__exit__(exc_type, exc, tb)

    # The plan's calls: `method` from a sync rollback, `amethod` from an async one.
    def alive(self, holder: Claimant | None) -> bool:
        return claimant_alive(holder)

    async def aalive(self, holder: Claimant | None) -> bool:
        return claimant_alive(holder)

    def pause(self, seconds: float) -> None:
        time.sleep(seconds)

    async def apause(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
