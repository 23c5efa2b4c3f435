"""What a store operation says to a database, and the two loops that carry it.

An operation (`Op`) is a generator that yields `Statement`s and receives each
one's `Result`; it holds all the logic (SQL, parameters, checks, decoding). A
store only carries statements to its connection: `drive` with a blocking one,
`adrive` with an async one, the only two loops that run operations. So sync
and async stores cannot drift apart: they share every line but the I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from agentgit_langgraph.errors import AgentGitError

__all__ = [
    "Done",
    "Op",
    "Result",
    "Statement",
    "Step",
    "adrive",
    "block_on",
    "drive",
    "finish",
    "start",
]

T = TypeVar("T")


# Named tuples, not frozen dataclasses (which set each field through
# object.__setattr__): one of each is built on every checkpointer call.
class Statement(NamedTuple):
    """One SQL statement, in the dialect's own placeholders."""

    sql: str
    params: Sequence[Any] = ()
    alone: str | None = None
    """The SQL to send when the statement runs alone, in autocommit, as its own
    transaction (a store may do so for a one-statement operation); None: never."""


class Result(NamedTuple):
    """What a statement did: rows changed, and rows read (empty for a write)."""

    rowcount: int
    rows: Sequence[Sequence[Any]]


Op = Generator[Statement, Result, T]


@dataclass(frozen=True)
class Done(Generic[T]):
    """An operation that has finished, with its value."""

    value: T


Step = Statement | Done[T]
"""Where an operation stands: its next statement, or its end."""


def _advance(op: Op[T], result: Result | None) -> Step[T]:
    try:
        return op.send(result)  # type: ignore[arg-type]  # None starts a generator
    except StopIteration as stop:
        return Done(stop.value)


def start(op: Op[T]) -> Step[T]:
    """Run `op` up to its first statement.

    Its checks run here, before any connection is taken: an operation that
    fails them, or needs no statement at all, touches no database.
    """
    return _advance(op, None)


def drive(op: Op[T], step: Step[T], execute: Callable[[Statement], Result]) -> T:
    """Carry `op` from `step` (see `start`) to its end, each statement through `execute`."""
    while not isinstance(step, Done):
        step = _advance(op, execute(step))
    return step.value


def finish(op: Op[T], result: Result) -> T:
    """Give a one-statement `op` (see `Statement.alone`) its statement's result; its value."""
    try:
        op.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value
    op.close()
    raise AssertionError("an operation sent alone asked for a second statement")


async def adrive(op: Op[T], step: Step[T], execute: Callable[[Statement], Awaitable[Result]]) -> T:
    """`drive`, awaiting each statement."""
    while not isinstance(step, Done):
        step = _advance(op, await execute(step))
    return step.value


def block_on(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on `loop` from another thread and wait for it: the sync twins of an
    async store (never from the loop's own thread, which would deadlock)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise AgentGitError(
            "synchronous calls to an async session store are only allowed from a thread "
            "other than its event loop's; use the async methods (e.g. `await ...aget_session()`)"
        )
    return asyncio.run_coroutine_threadsafe(coro, loop).result()
