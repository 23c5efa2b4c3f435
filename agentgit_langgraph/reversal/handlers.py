"""Tool-reversal handlers: the registry (`ToolReversers`), running a handler
sync or async within its timeout, and declaring a tool with its undo
(`with_undo`, `reversible_tool`, `reversers_from`). See `agentgit_langgraph.reversal`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from langchain_core.tools import BaseTool
from langchain_core.tools import tool as lc_tool

from agentgit_langgraph.errors import InvalidConfigError, ReversalTimeoutError
from agentgit_langgraph.sessions import NO_HANDLER, REVERSED

__all__ = [
    "ExecutedToolCall",
    "Reverser",
    "ToolReversers",
    "reversers_from",
    "reversible_tool",
    "with_undo",
]

Reverser = Callable[..., Any]
"""`handler(args)`, `handler(args, result)` or `handler(args, result, artifact)`, sync or async."""

_UNDO_ATTR = "_agentgit_undo"

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
