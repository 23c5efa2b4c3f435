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

import asyncio
import concurrent.futures
import dataclasses
import inspect
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage, convert_to_messages
from langchain_core.tools import BaseTool
from langchain_core.tools import tool as lc_tool
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple, PendingWrite

from agentgit_langgraph._claims import ReversalAttempt
from agentgit_langgraph._langgraph import NULL_TASK_ID
from agentgit_langgraph._plan import Plan, call
from agentgit_langgraph.configs import checkpoint_config
from agentgit_langgraph.errors import InvalidConfigError, ReversalTimeoutError, ToolReversalError
from agentgit_langgraph.sessions import FAILED, NO_HANDLER, PENDING, REVERSED, Claimant, Reversal
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = [
    "ExecutedToolCall",
    "Reverser",
    "ToolReversalError",
    "ToolReversers",
    "executed_tool_calls",
    "reverse_tool_calls",
    "reversers_from",
    "reversible_tool",
    "with_undo",
]

Reverser = Callable[..., Any]
"""`handler(args)`, `handler(args, result)` or `handler(args, result, artifact)`, sync or async."""

_UNDO_ATTR = "_agentgit_undo"
_MAX_DEPTH = 4

T = TypeVar("T", bound=BaseTool)


@dataclass(frozen=True)
class ExecutedToolCall:
    """A tool call that ran: what was asked and what came back."""

    tool_call_id: str
    tool_name: str
    args: dict[str, Any]
    result: Any
    """The `ToolMessage`'s `content`."""
    artifact: Any = None
    """The `ToolMessage`'s `artifact` (None unless the tool returned one)."""


# -- handlers ----------------------------------------------------------------


def _arity(fn: Reverser) -> int:
    """How many of (args, result, artifact) `fn` takes: 1, 2 or 3."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: the documented default
        return 2
    positional = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return 3
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    if positional < 1:
        raise InvalidConfigError(
            f"reverser {fn!r} must take the call's arguments: handler(args[, result[, artifact]])"
        )
    return min(positional, 3)


def _is_async(fn: Reverser) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with `async def __call__`
    )


def _run_coroutine(awaitable: Any) -> Any:
    """Run an awaitable to completion from sync code, with or without a running loop."""

    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    # This thread runs a loop we must not block on re-entrantly: use a fresh
    # loop in a worker thread and wait for it.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="agentgit-undo") as pool:
        return pool.submit(asyncio.run, wait()).result()


class ToolReversers:
    """Undo handlers by tool name: the `"reversers"` target of the rollback plan.

    `run` (sync) and `arun` (async) invoke the handler for one call and return
    the status to record: `reversed`, or `no_handler` when the tool has none.
    A handler's exception propagates.

    Example:
        >>> r = ToolReversers({"book_flight": lambda args, result: None})
        >>> "book_flight" in r, "search" in r
        (True, False)
    """

    def __init__(self, handlers: Mapping[str, Reverser] | None = None) -> None:
        self._handlers: dict[str, tuple[Reverser, int]] = {}
        for name, fn in (handlers or {}).items():
            self.register(name, fn)

    def register(self, name: str, fn: Reverser) -> None:
        """Use `fn` to undo calls of the tool `name` (replacing any earlier handler)."""
        if not isinstance(name, str) or not name:
            raise InvalidConfigError(f"a reverser needs a tool name, got {name!r}")
        if not callable(fn):
            raise InvalidConfigError(f"reverser for tool {name!r} is not callable: {fn!r}")
        self._handlers[name] = (fn, _arity(fn))

    def unregister(self, name: str) -> None:
        """Forget the handler of `name` (no error when there is none)."""
        self._handlers.pop(name, None)

    def get(self, name: str) -> Reverser | None:
        entry = self._handlers.get(name)
        return entry[0] if entry is not None else None

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._handlers))

    def __len__(self) -> int:
        return len(self._handlers)

    def _bind(self, call: ExecutedToolCall) -> tuple[Reverser, tuple[Any, ...]] | None:
        entry = self._handlers.get(call.tool_name)
        if entry is None:
            return None
        fn, arity = entry
        args = (dict(call.args), call.result, call.artifact)[:arity]
        return fn, args

    def run(self, call: ExecutedToolCall, *, timeout: float | None = None) -> str:
        """Undo `call` now; an async handler runs to completion on a fresh loop.

        With `timeout` (seconds), the handler runs in a worker thread and is
        abandoned (`ReversalTimeoutError`) if it has not finished in time.
        """
        bound = self._bind(call)
        if bound is None:
            return NO_HANDLER
        fn, args = bound
        if timeout is None:
            out = fn(*args)
            if inspect.isawaitable(out):
                _run_coroutine(out)
            return REVERSED
        future = _in_daemon_thread(_call_to_completion, fn, args, timeout)
        done, _ = concurrent.futures.wait([future], timeout)
        if not done or future.result() is False:  # result() raises the handler's error
            raise _timed_out(call, timeout)
        return REVERSED

    async def arun(self, call: ExecutedToolCall, *, timeout: float | None = None) -> str:
        """Async twin of `run`: a sync handler runs in a worker thread.

        With `timeout`, an async handler is cancelled (as by `asyncio.wait_for`)
        and a sync one abandoned in its thread, either way `ReversalTimeoutError`.
        """
        bound = self._bind(call)
        if bound is None:
            return NO_HANDLER
        fn, args = bound
        if timeout is None:
            if _is_async(fn):
                out = fn(*args)
            else:
                out = await asyncio.to_thread(fn, *args)
            if inspect.isawaitable(out):
                await out
            return REVERSED
        if _is_async(fn):
            finished = await _await_within(fn(*args), timeout)
        else:
            # A thread of our own, not the loop's executor: an abandoned
            # handler must not hold up the loop's shutdown.
            future = _in_daemon_thread(_call_to_completion, fn, args, None)
            finished = await _await_within(asyncio.wrap_future(future), timeout)
        if not finished:
            raise _timed_out(call, timeout)
        return REVERSED


def _timed_out(call: ExecutedToolCall, timeout: float) -> ReversalTimeoutError:
    return ReversalTimeoutError(
        f"undo handler of {call.tool_name!r} for call {call.tool_call_id!r} did not finish "
        f"within reverse_timeout={timeout:g}s and was abandoned",
        tool_name=call.tool_name,
        timeout=timeout,
    )


async def _await_within(awaitable: Any, timeout: float) -> bool:
    """Await `awaitable` for up to `timeout` seconds; False (and cancelled) if it took longer.

    Unlike `asyncio.wait_for`, a `TimeoutError` the handler raises itself stays
    its own error, not ours.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except BaseException:  # we were cancelled: so is the handler
        task.cancel()
        raise
    if not done:
        task.cancel()
        return False
    task.result()
    return True


def _call_to_completion(fn: Reverser, args: tuple[Any, ...], timeout: float | None) -> bool:
    """Run a handler in this thread (an async one on a fresh loop, for up to `timeout`).

    False when the async handler did not finish in time (it is cancelled).
    """
    out = fn(*args)
    if inspect.isawaitable(out):
        if timeout is None:
            _run_coroutine(out)
        else:
            return bool(asyncio.run(_await_within(out, timeout)))
    return True


def _in_daemon_thread(fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
    """Run `fn(*args)` in a new daemon thread; abandoning it never blocks an exit."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def target() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to the waiter, whatever it is
            future.set_exception(exc)
        else:
            future.set_result(result)

    threading.Thread(target=target, name="agentgit-undo", daemon=True).start()
    return future


# -- declaring a tool with its undo -------------------------------------------


def with_undo(tool: T, undo: Reverser) -> T:
    """Attach `undo` to an existing LangChain tool (the tool is returned unchanged otherwise).

    Example:
        ```python
        search = with_undo(TavilySearch(), undo=lambda args: None)
        ```
    """
    if not isinstance(tool, BaseTool):
        raise InvalidConfigError(f"with_undo takes a LangChain BaseTool, got {tool!r}")
    _arity(undo)
    # Not a pydantic field: kept out of the tool's schema, dumps and tracing metadata.
    object.__setattr__(tool, _UNDO_ATTR, undo)
    return tool


@overload
def reversible_tool(
    name_or_callable: Callable[..., Any], *, undo: Reverser, **tool_kwargs: Any
) -> BaseTool: ...


@overload
def reversible_tool(
    name_or_callable: str | None = None, *, undo: Reverser, **tool_kwargs: Any
) -> Callable[[Callable[..., Any]], BaseTool]: ...


def reversible_tool(
    name_or_callable: str | Callable[..., Any] | None = None,
    *,
    undo: Reverser,
    **tool_kwargs: Any,
) -> BaseTool | Callable[[Callable[..., Any]], BaseTool]:
    """`langchain_core.tools.tool`, plus the handler that undoes a call of it.

    Takes `tool`'s keyword arguments (`description`, `response_format`,
    `parse_docstring`, ...). `reversers_from([...])` collects the handlers.

    Example:
        ```python
        def unbook(args: dict, result: str) -> None:
            airline.cancel(args["flight"])

        @reversible_tool(undo=unbook)
        def book_flight(flight: str) -> str:
            \"\"\"Book a flight.\"\"\"
            return airline.book(flight)
        ```
    """
    _arity(undo)

    def decorate(fn: Callable[..., Any]) -> BaseTool:
        made: Any = (
            lc_tool(name_or_callable, **tool_kwargs)(fn)
            if isinstance(name_or_callable, str)
            else lc_tool(**tool_kwargs)(fn)
        )
        made_tool: BaseTool = made
        return with_undo(made_tool, undo)

    if callable(name_or_callable) and not isinstance(name_or_callable, str):
        return decorate(name_or_callable)
    return decorate


def reversers_from(tools: Iterable[Any]) -> dict[str, Reverser]:
    """`{tool.name: undo}` for the tools declared with `reversible_tool`/`with_undo`.

    Other tools are skipped, so the agent's whole tool list can be passed.

    Example:
        ```python
        saver = AgentGitSaver(SqliteSaver(conn), reversers=reversers_from(tools))
        ```
    """
    found: dict[str, Reverser] = {}
    for t in tools:
        undo = getattr(t, _UNDO_ATTR, None) if isinstance(t, BaseTool) else None
        if undo is not None:
            found[t.name] = undo
    return found


# -- finding the calls a rollback goes back past ------------------------------


def _messages_in(value: Any, depth: int = 0) -> Iterator[BaseMessage]:
    """Langchain messages held by a channel value or a write, in order."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, BaseMessage):
        yield value
    elif isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], str):
            return  # a ("role", "text") message: never a tool call or result
        for item in value:
            yield from _messages_in(item, depth + 1)
    elif isinstance(value, dict):
        if ("role" in value or "type" in value) and "content" in value:
            try:
                converted = convert_to_messages([value])
            except Exception:  # not a message after all
                return
            yield from converted
    elif type(value).__name__ in ("Overwrite", "_DeltaSnapshot") and hasattr(value, "value"):
        yield from _messages_in(value.value, depth + 1)


def _write_messages(writes: Iterable[PendingWrite], *, tasks_only: bool) -> list[BaseMessage]:
    found: list[BaseMessage] = []
    for task_id, _channel, value in writes:
        if tasks_only and task_id == NULL_TASK_ID:
            continue
        found.extend(_messages_in(value))
    return found


def _state_messages(tup: CheckpointTuple) -> Plan[list[BaseMessage]]:
    """Messages in the state at `tup` (and, for a `DeltaChannel`, its history too)."""
    checkpoint = tup.checkpoint
    found: list[BaseMessage] = []
    for value in checkpoint["channel_values"].values():
        found.extend(_messages_in(value))
    counters = tup.metadata.get("counters_since_delta_snapshot") or {}
    missing = sorted(
        ch
        for ch in counters
        if ch in checkpoint["channel_versions"] and ch not in checkpoint["channel_values"]
    )
    if missing:
        history: Mapping[str, Any] = yield from call(
            BaseCheckpointSaver.get_delta_channel_history, config=tup.config, channels=missing
        )
        for entry in history.values():
            found.extend(_messages_in(entry.get("seed")))
            found.extend(_messages_in([w[2] for w in entry.get("writes") or ()]))
    # Updates waiting at the checkpoint (`update_state`, `Command(update=...)`)
    # are part of its state: `get_state` shows them.
    found.extend(
        m for w in tup.pending_writes or () if w[0] == NULL_TASK_ID for m in _messages_in(w[2])
    )
    return found


def _tool_calls_by_id(
    messages: Iterable[BaseMessage],
) -> dict[str, tuple[str, dict[str, Any], int]]:
    """tool_call_id -> (tool name, args, position in its AIMessage's tool_calls)."""
    calls: dict[str, tuple[str, dict[str, Any], int]] = {}
    for m in messages:
        if isinstance(m, AIMessage):
            for i, tc in enumerate(m.tool_calls):
                if tc.get("id"):
                    calls.setdefault(str(tc["id"]), (tc["name"], dict(tc.get("args") or {}), i))
    return calls


def executed_tool_calls(source: CheckpointTuple) -> Plan[list[ExecutedToolCall]]:
    """Tool calls executed on `source`'s thread after it, up to the head; oldest first."""
    configurable = source.config["configurable"]
    source_id = source.checkpoint["id"]
    head_config = checkpoint_config(
        configurable["thread_id"], configurable.get("checkpoint_ns", "")
    )
    head: CheckpointTuple | None = yield from call(BaseCheckpointSaver.get_tuple, head_config)
    if head is None or head.checkpoint["id"] == source_id:
        return []

    # Walk from the head back to `source`, newest first. The writes stored at
    # a checkpoint are those of the tasks that ran from it.
    path: list[CheckpointTuple] = []
    cursor: CheckpointTuple | None = head
    while cursor is not None and cursor.checkpoint["id"] != source_id:
        path.append(cursor)
        parent = cursor.parent_config
        cursor = (
            None if parent is None else (yield from call(BaseCheckpointSaver.get_tuple, parent))
        )
    steps: list[list[BaseMessage]] = []
    if cursor is not None:  # `source` is an ancestor of the head: its tasks ran too
        steps.append(_write_messages(source.pending_writes or (), tasks_only=True))
    for tup in reversed(path):
        steps.append(_write_messages(tup.pending_writes or (), tasks_only=False))

    before = yield from _state_messages(source)
    # The head's state too: a run with `durability="exit"` stores no writes
    # between its checkpoints, so only the state says which tools ran.
    at_head = yield from _state_messages(head)
    answered = {m.tool_call_id for m in before if isinstance(m, ToolMessage)}
    asked = _tool_calls_by_id([*before, *(m for step in steps for m in step), *at_head])

    executed: list[ExecutedToolCall] = []
    seen: set[str] = set(answered)

    def take(messages: Iterable[BaseMessage]) -> list[tuple[int, ExecutedToolCall]]:
        found: list[tuple[int, ExecutedToolCall]] = []
        for m in messages:
            if not isinstance(m, ToolMessage) or m.tool_call_id in seen:
                continue
            seen.add(m.tool_call_id)
            if m.status == "error":
                continue
            name, args, position = asked.get(m.tool_call_id, (m.name or "", {}, 0))
            call = ExecutedToolCall(
                tool_call_id=m.tool_call_id,
                tool_name=name,
                args=args,
                result=m.content,
                artifact=m.artifact,
            )
            found.append((position, call))
        return found

    for step in steps:
        # Within one step, calls run in parallel: order them as the model asked.
        found = sorted(take(step), key=lambda pair: pair[0])
        executed.extend(call for _, call in found)
    executed.extend(call for _, call in take(at_head))  # in the order of the messages
    return executed


_POLL_FIRST = 0.02
_POLL_MAX = 0.25
_WAIT_GRACE = 2.0


def _claim(rec: Reversal, claimant: Claimant, wait: float) -> Plan[Reversal | None]:
    """Claim `rec`'s call for `claimant`: None once it is ours, else the record to report.

    A `reversed` record is returned at once (never undone again). A `failed` or
    `no_handler` one is taken over (a later rollback retries it). A `pending`
    one held by a live claimant is waited for, polling, for up to `wait`
    seconds: if it ends `reversed`
    or `failed` that is our outcome too (the concurrent attempt was the one
    attempt; the failed call is retried by the next rollback, not by every
    waiter); if it is still `pending` then, the record comes back with `error`
    saying who holds it. A dead claimant's claim is taken over, atomically.
    """
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
        alive: bool = yield from call(ReversalAttempt.alive, holder)
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
        yield from call(ReversalAttempt.pause, min(pause, max(deadline - clock, 0.0)))
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
    claimant: Claimant,
    *,
    strict: bool = False,
    timeout: float | None = None,
) -> Plan[list[Reversal]]:
    """Undo, newest first, the calls `executed_tool_calls(source)` finds; return their records.

    Each call is claimed for `claimant` in the store before its handler runs
    (`_claim`: exactly one rollback runs it) and finished after it; a call
    already `reversed` is skipped (its record is returned as is). The plan
    needs the targets `"store"`, `"reversers"` and `"claims"` (a
    `ReversalAttempt` holding `claimant`). `timeout` bounds each handler.
    """
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
        existing = yield from _claim(rec, claimant, wait)
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
