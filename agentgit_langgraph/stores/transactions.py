"""What every SQL store does around an operation, blocking or async.

`BlockingSqlStore` and `AsyncSqlStore` set the tables up once (under the
store's lock), and run each operation in one transaction: the backend
subclass supplies only the I/O, `_transaction`, a context manager that opens
the transaction, hands out the function sending a statement, and commits (or
rolls back, if the operation raised). The other side of each store bridges:
a worker thread for a blocking store, the owning event loop for an async one.
"""

from __future__ import annotations

import asyncio
import threading
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

from agentgit_langgraph.errors import StoreError
from agentgit_langgraph.stores.ops import applied, setup
from agentgit_langgraph.stores.sql import SqlSessionStore
from agentgit_langgraph.stores.statements import (
    Done,
    Op,
    Result,
    Statement,
    adrive,
    block_on,
    drive,
    finish,
    start,
)

__all__ = ["AsyncExecute", "AsyncSqlStore", "BlockingSqlStore", "Execute"]

T = TypeVar("T")

Execute = Callable[[Statement], Result]
AsyncExecute = Callable[[Statement], Awaitable[Result]]


@dataclass(frozen=True)
class Attempt:
    """One try at running an operation; as a context manager, it swallows the
    failure that `retry_if` says another attempt may mend."""

    alone: bool
    retry_if: Callable[[StoreError], bool] | None = None

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> bool:
        return isinstance(exc, StoreError) and self.retry_if is not None and self.retry_if(exc)


# Most operations are tried once: shared, as they hold no state.
_ONCE = {alone: (Attempt(alone=alone),) for alone in (False, True)}


def attempts(store: SqlSessionStore, *, immediate: bool, alone: bool) -> tuple[Attempt, ...]:
    """How to try an operation: once, or a read sent alone and then, if need be, again.

    A read sent alone may get a connection the pool lent without its check
    round trip (`stores/pg_pool.py`); if that connection turns out lost, the
    read, which changes nothing, runs again in a transaction, on a connection
    the pool checks first. The operation is still waiting for the result of
    its one statement, so it simply gets it from the second attempt.
    """
    if alone and not immediate and store.may_lose_connections:
        return (Attempt(alone=True, retry_if=store._lost), _ONCE[False][0])
    return _ONCE[alone]


class BlockingSqlStore(SqlSessionStore):
    """A store on a blocking connection; its async methods run in a worker thread."""

    lock: threading.Lock | threading.RLock
    is_setup: bool = False

    @abstractmethod
    def _transaction(
        self, op: Op[Any], *, immediate: bool, alone: bool
    ) -> AbstractContextManager[Execute]:
        """One transaction for `op`, in the mode `SqlSessionStore` documents.

        With `alone`, a backend that can may send the (single) statement on its
        own instead, as its own transaction (`Statement.alone`).
        """

    def _guard(self) -> AbstractContextManager[Any]:
        """Held while an operation runs: the connection is not for two at once."""
        return self.lock

    def _read_alone(self, op: Op[Any], stmt: Statement) -> Result | None:
        """The one statement of a read sent alone (`Statement.alone`), by the
        backend's shortest way; None where it has none free: the usual way then.

        Every checkpointer call makes such a read (the count of a put, the owner
        check), so this is the store's hot path: no transaction context, no
        retry machinery, one call into the driver.
        """
        return None

    def setup(self) -> None:
        """Create or migrate the tables (once per store; later calls return at once)."""
        if self.is_setup:
            return
        with self.lock:
            if not self.is_setup:
                self._in_transaction(setup(self.dialect), immediate=True, alone=False)
                self.is_setup = True

    async def asetup(self) -> None:
        await asyncio.to_thread(self.setup)

    def use_existing_tables(self) -> bool:
        """Use the tables as they are, never creating or migrating them (read-only tools).

        True when they exist at this version: the store is ready, `setup` does
        nothing. False when the database has none (nothing was created).
        `StoreError` when they need migrating.
        """
        with self._guard():
            done = self._in_transaction(applied(self.dialect), immediate=False, alone=False)
        if done is None:
            return False
        if set(range(len(self.dialect.migrations))) - done:
            raise StoreError(
                "the agentgit tables are from an older version and need migrating: "
                "open the database once with this version (a command that changes sessions)"
            )
        self.is_setup = True
        return True

    def _in_transaction(self, op: Op[T], *, immediate: bool, alone: bool) -> T:
        step = start(op)
        if isinstance(step, Done):  # needed no statement: no transaction either
            return step.value
        if alone and not immediate and step.alone is not None:
            result = self._read_alone(op, step)
            if result is not None:
                return finish(op, result)
        if not self.may_lose_connections:
            with self._transaction(op, immediate=immediate, alone=alone) as ex:
                return drive(op, step, ex)
        for attempt in attempts(self, immediate=immediate, alone=alone):
            with attempt, self._transaction(op, immediate=immediate, alone=attempt.alone) as ex:
                return drive(op, step, ex)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _run(self, op: Op[T], *, immediate: bool, alone: bool = False) -> T:
        if not self.is_setup:
            self.setup()
        with self._guard():
            return self._in_transaction(op, immediate=immediate, alone=alone)


class AsyncSqlStore(SqlSessionStore):
    """A store on an async connection, built inside the event loop that runs it.

    No blocking I/O runs in the async methods. The sync twins may be called
    only from a thread other than the loop's; they hand the work to the loop.
    """

    lock: asyncio.Lock
    is_setup: bool = False
    loop: asyncio.AbstractEventLoop

    @abstractmethod
    def _transaction(
        self, op: Op[Any], *, immediate: bool, alone: bool
    ) -> AbstractAsyncContextManager[AsyncExecute]:
        """`BlockingSqlStore._transaction`, async."""

    def _guard(self) -> AbstractAsyncContextManager[Any]:
        return self.lock

    async def _aread_alone(self, op: Op[Any], stmt: Statement) -> Result | None:
        """`BlockingSqlStore._read_alone`, async."""
        return None

    async def asetup(self) -> None:
        """Create or migrate the tables (once per store)."""
        if self.is_setup:
            return
        async with self.lock:
            if not self.is_setup:
                await self._in_transaction(setup(self.dialect), immediate=True, alone=False)
                self.is_setup = True

    def setup(self) -> None:
        block_on(self.loop, self.asetup())

    async def _in_transaction(self, op: Op[T], *, immediate: bool, alone: bool) -> T:
        step = start(op)
        if isinstance(step, Done):  # needed no statement: no transaction either
            return step.value
        if alone and not immediate and step.alone is not None:
            result = await self._aread_alone(op, step)
            if result is not None:
                return finish(op, result)
        if not self.may_lose_connections:
            async with self._transaction(op, immediate=immediate, alone=alone) as ex:
                return await adrive(op, step, ex)
        for attempt in attempts(self, immediate=immediate, alone=alone):
            with attempt:
                async with self._transaction(op, immediate=immediate, alone=attempt.alone) as ex:
                    return await adrive(op, step, ex)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _arun(self, op: Op[T], *, immediate: bool, alone: bool = False) -> T:
        if not self.is_setup:
            await self.asetup()
        async with self._guard():
            return await self._in_transaction(op, immediate=immediate, alone=alone)

    def _run(self, op: Op[T], *, immediate: bool, alone: bool = False) -> T:
        return block_on(self.loop, self._arun(op, immediate=immediate, alone=alone))
