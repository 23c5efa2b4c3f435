"""Undoing the calls a rollback goes back past, each claimed so that it runs once.

`reverse_tool_calls` is the plan `rollback(..., reverse_tools=True)` runs
(see `agentgit_langgraph.reversal` for the rules, `_claims.py` for claimants).
"""

from __future__ import annotations

import dataclasses
import time
import warnings

from langgraph.checkpoint.base import CheckpointTuple

from agentgit_langgraph._claims import ReversalAttempt
from agentgit_langgraph._plan import Plan, call, call_on
from agentgit_langgraph.errors import ToolReversalError, UnreversedToolCallsWarning
from agentgit_langgraph.reversal.calls import executed_tool_calls, fork_tool_calls
from agentgit_langgraph.reversal.handlers import ExecutedToolCall, ToolReversers
from agentgit_langgraph.sessions import FAILED, PENDING, Reversal
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = ["reverse_tool_calls", "warn_unreversed"]

_POLL_FIRST = 0.02
_POLL_MAX = 0.25
_WAIT_GRACE = 2.0


def _claim(rec: Reversal, attempt: ReversalAttempt, wait: float) -> Plan[Reversal | None]:
    """Claim `rec`'s call for `attempt`'s claimant: None once it is ours, else the record to report.

    A `reversed` record is returned at once (never undone again). A `failed` or
    `no_handler` one is taken over (a later rollback retries it). A `pending`
    one held by a live claimant is waited for, polling, for up to `wait`
    seconds: if it ends `reversed`
    or `failed` that is our outcome too (the concurrent attempt was the one
    attempt; the failed call is retried by the next rollback, not by every
    waiter); if it is still `pending` then, the record comes back with `error`
    saying who holds it. A dead claimant's claim is taken over, atomically.
    """
    claimant = attempt.claimant
    waited = False
    deadline: float | None = None
    pause = _POLL_FIRST
    while True:
        found: Reversal | None = yield from call(
            BaseSessionStore.claim_reversal, rec, claimant, retry_failed=not waited
        )
        if found is None:
            return None
        if found.status != PENDING:
            return found
        holder = found.claimant
        alive: bool = yield from call_on(attempt, ReversalAttempt.alive, holder)
        if not alive:
            stale = holder.token if holder is not None else None
            taken: bool = yield from call(BaseSessionStore.take_over_reversal, rec, stale, claimant)
            if taken:
                return None
            continue  # someone else took it first: look again
        clock = time.monotonic()
        if deadline is None:
            deadline = clock + wait
        elif clock >= deadline:
            who = holder.describe() if holder is not None else "another rollback"
            return dataclasses.replace(
                found,
                error=f"still being undone by {who} after waiting {wait:g}s",
            )
        yield from call_on(attempt, ReversalAttempt.pause, min(pause, max(deadline - clock, 0.0)))
        pause = min(pause * 2, _POLL_MAX)
        waited = True


def _reversal_error(call: ExecutedToolCall, error: str, what: str) -> ToolReversalError:
    return ToolReversalError(
        f"undoing tool call {call.tool_call_id!r} of {call.tool_name!r} {what} "
        f"({error}); rollback stopped, no branch created",
        tool_name=call.tool_name,
        tool_call_id=call.tool_call_id,
    )


def reverse_tool_calls(
    source: CheckpointTuple,
    session_id: int,
    attempt: ReversalAttempt,
    *,
    strict: bool = False,
    timeout: float | None = None,
) -> Plan[list[Reversal]]:
    """Undo, newest first, the calls `executed_tool_calls(source)` finds; return their records.

    Each call is claimed for `attempt`'s claimant in the store before its
    handler runs (`_claim`: exactly one rollback runs it) and finished after
    it; a call already `reversed` is skipped (its record is returned as is).
    The plan's targets: the session store and the `ToolReversers`; `attempt`
    (open while the plan runs) is called directly. `timeout` bounds each handler.
    """
    claimant = attempt.claimant
    calls = yield from executed_tool_calls(source)
    thread_id = str(source.config["configurable"]["thread_id"])
    # How long to wait for another rollback's handler: as long as we would let
    # our own run (and a little to record it), else as long as a claim lasts.
    wait = claimant.lease_seconds if timeout is None else timeout + _WAIT_GRACE
    outcomes: list[Reversal] = []
    for executed in reversed(calls):
        rec = Reversal(
            session_id=session_id,
            tool_call_id=executed.tool_call_id,
            tool_name=executed.tool_name,
            args=dict(executed.args),
            thread_id=thread_id,
            checkpoint_id=source.checkpoint["id"],
        )
        existing = yield from _claim(rec, attempt, wait)
        if existing is not None:  # not ours to run: reversed, or another rollback's outcome
            outcomes.append(existing)
            if strict and existing.status in (FAILED, PENDING):
                what = "failed" if existing.status == FAILED else "did not finish"
                raise _reversal_error(executed, existing.error or existing.status, what)
            continue
        token = {"claim_token": claimant.token}
        try:
            status: str = yield from call(ToolReversers.run, executed, timeout=timeout)
        except Exception as exc:
            # (KeyboardInterrupt, cancellation: the record stays `pending`, as
            # after a crash; its claimant is gone once the rollback has ended,
            # so the next rollback past it takes it over and runs it again.)
            error = f"{type(exc).__name__}: {exc}"
            yield from call(
                BaseSessionStore.finish_reversal,
                session_id,
                executed.tool_call_id,
                FAILED,
                error,
                **token,
            )
            outcomes.append(dataclasses.replace(rec, status=FAILED, error=error, claimant=claimant))
            if strict:
                raise _reversal_error(executed, error, "failed") from exc
            continue
        yield from call(
            BaseSessionStore.finish_reversal,
            session_id,
            executed.tool_call_id,
            status,
            None,
            **token,
        )
        outcomes.append(dataclasses.replace(rec, status=status, claimant=claimant))
    return outcomes


def warn_unreversed(source: CheckpointTuple, outcomes: list[Reversal]) -> Plan[list[Reversal]]:
    """Warn (`UnreversedToolCallsWarning`) of tool calls on in-thread forks left done.

    Silence would say the world is as it was at `source`; it is not, where a
    fork LangGraph's time travel made in the thread ran tools. Returns `outcomes`.
    """
    left = yield from fork_tool_calls(source, [r.tool_call_id for r in outcomes])
    if left:
        named = ", ".join(f"{c.tool_name} ({c.tool_call_id})" for c in left)
        warnings.warn(
            UnreversedToolCallsWarning(
                f"thread {source.config['configurable']['thread_id']!r}: {len(left)} tool "
                f"call(s) ran on forks made inside the thread and were not undone: {named}",
                tuple((c.tool_call_id, c.tool_name) for c in left),
            ),
            stacklevel=2,
        )
    return outcomes
