"""Undo tool side effects when a rollback goes back past the calls that caused them.

A rollback makes a new thread that starts at an earlier checkpoint, but the
world outside the graph (files written, rows inserted, flights booked) still
holds what the tools did after that checkpoint. Register an undo handler per
tool and ask the rollback to run them:

```python
def cancel_booking(args: dict, result: str) -> None:
    airline.cancel(args["flight"])

saver = AgentGitSaver(InMemorySaver(), reversers={"book_flight": cancel_booking})
graph = builder.compile(checkpointer=saver)
...
branch = saver.rollback(earlier.config, reverse_tools=True)
for rec in saver.reversals(earlier.config["configurable"]["thread_id"]):
    print(rec.tool_name, rec.tool_call_id, rec.status, rec.error)
```

Or declare the tool and its undo together:

```python
@reversible_tool(undo=cancel_booking)
def book_flight(flight: str) -> str:
    \"\"\"Book a flight.\"\"\"
    return airline.book(flight)

tools = [book_flight, search_flights]
saver = AgentGitSaver(SqliteSaver(conn), reversers=reversers_from(tools))
```

**Handlers.** `handler(args)`, `handler(args, result)` or
`handler(args, result, artifact)`, chosen by how many positional parameters it
takes: `args` is the call's arguments (a copy of the `AIMessage.tool_calls`
entry's `args`), `result` the `ToolMessage`'s `content` (what the tool
returned, as the model saw it), `artifact` the `ToolMessage`'s `artifact`
(what a `response_format="content_and_artifact"` tool returned beside it; None
otherwise). A handler may be sync or async: a sync rollback runs an async
handler to completion (on a fresh event loop in a worker thread when the
calling thread already runs one); an async rollback runs a sync handler with
`asyncio.to_thread`. Its return value is ignored; raising means it failed.

**Which calls.** Every tool call executed on the source thread after the chosen
checkpoint, up to the thread's head: each `ToolMessage` in the head's state or
written on the way from that checkpoint to the head (so also the results of a
step that did not finish, and of calls whose messages were removed since)
whose call is not already answered in the chosen checkpoint's state, matched
by `tool_call_id` to the `AIMessage.tool_calls` entry that asked for it. Found
in any channel holding langchain messages, whether `ToolNode` or a node of your
own wrote it, `DeltaChannel`s and `durability="exit"` runs included. A
`ToolMessage` with `status="error"` (the tool raised) is skipped: there is no
result to undo. Rolling back to the head itself reverses nothing: the branch
holds everything the thread did. Handlers run **newest first** (reverse order
of their `ToolMessage`s; calls answered in one step in reverse order of the
`AIMessage.tool_calls`), before the branch is created.

**Records.** Each call gets a `Reversal` record in the session store, keyed by
`(session_id, tool_call_id)`: claimed as `pending` before the handler runs,
then `reversed`, `no_handler` or `failed` (with the error). A `reversed` call
is never reversed again: not by a second rollback past it, not from a branch
holding a copy of it, not by a retry after a crash.

**Exactly once.** A successful undo happens once per tool call per session,
across threads, tasks and processes. The claim is taken atomically by one
rollback and names its claimant (`Reversal.claimant`: a token per rollback
attempt, host, pid and process start time, claim time and lease, in UTC). A
rollback that finds a call `pending` under a live claimant never takes it
over: it waits (polling) for that claimant's outcome and makes it its own:
`reversed` is skipped, `failed` is reported as this rollback's failure too
(with `strict=True` it raises). It waits as long as it would let its own
handler run (`reverse_timeout` plus a 2 s grace; without a timeout, the
claim's lease, 15 minutes); if the call is still `pending` then, it is
reported (`error` names the holder; strict: `ToolReversalError`) and left to
its holder. A claimant is dead when its rollback has ended in this process,
when its pid on this host (same boot and pid namespace) has exited or now
names a later process (start time from `/proc`), or, on another host, when its
lease (`reverse_timeout` + 30 s, or 15 minutes) has run out. A dead claimant's
claim is taken over by compare-and-set on its token, so one of any number of
takers wins. So: **at-least-once across a crash of the undoer** (an undo
interrupted by a kill, a crash, `KeyboardInterrupt` or cancellation is run
again by the next rollback past it: handlers should tolerate a second run of
an undo that may have half happened), exactly once otherwise. A `failed` call
(and a `no_handler` one) is retried by the next rollback that finds it so,
not by the rollbacks that waited on the failing attempt.

**Timeouts.** `rollback(..., reverse_timeout=seconds)` (default: the saver's
`reverse_timeout`, by default None, no bound) bounds each handler: a sync one
runs in a daemon worker thread and is abandoned after the timeout (it may go
on running: Python cannot stop a thread), an async one is cancelled. The call
is recorded `failed` with `ReversalTimeoutError: ...`; with `strict=True`,
`ToolReversalError` (whose `__cause__` it is) and no branch. A sync rollback
runs an async handler on a loop of its own in a worker thread, so even one
that blocks without awaiting is abandoned in time; an async rollback awaits it
on its own loop and cannot interrupt a handler that never yields. Why no
default bound: an undo cut short is recorded `failed` though it may have half
happened, so a bound is a choice the caller makes knowing its handlers.

**Failures.** By default a failing handler is recorded and the rollback goes on.
With `strict=True` the rollback stops at the first failing handler, creates no
branch, and raises `ToolReversalError` naming the call; calls reversed before
it stay recorded as `reversed`. A call without a handler is never a failure.

Limits: calls made inside a subgraph count once the subgraph's output reaches
the root graph's messages. A call re-executed on a branch (rolled back to just
before the tools ran, then resumed) keeps its `tool_call_id`, so once that id
is `reversed` a later rollback past the re-execution does not undo it again.
A handler abandoned by `reverse_timeout` may still be running when a later
rollback retries the `failed` call. Claims from another host rely on clocks
agreeing to within the lease's margin.
"""

from __future__ import annotations

from agentgit_langgraph.errors import ToolReversalError
from agentgit_langgraph.reversal.calls import executed_tool_calls
from agentgit_langgraph.reversal.handlers import (
    ExecutedToolCall,
    Reverser,
    ToolReversers,
    reversers_from,
    reversible_tool,
    with_undo,
)
from agentgit_langgraph.reversal.undo import reverse_tool_calls, warn_unreversed

__all__ = [
    "ExecutedToolCall",
    "Reverser",
    "ToolReversalError",
    "ToolReversers",
    "executed_tool_calls",
    "reverse_tool_calls",
    "reversers_from",
    "reversible_tool",
    "warn_unreversed",
    "with_undo",
]
