"""Session stores on SQLite: `SqliteSessionStore` (sqlite3) and
`AsyncSqliteSessionStore` (aiosqlite).

Both run the shared operations of `stores/ops` through the shared bases of
`stores/transactions.py`; they differ only in how a statement reaches the
database. Tables are prefixed `agentgit_` and created by
versioned migrations on first use (lazy `setup()`), next to, never inside,
LangGraph's own `checkpoints` and `writes` tables.

Example:
    >>> import sqlite3
    >>> store = SqliteSessionStore(sqlite3.connect(":memory:", check_same_thread=False))
    >>> s = store.create_session(user_id=0, session_name="demo", metadata=None, thread_id="t1")
    >>> store.get_thread("t1").session_id == s.id
    True
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from typing import Any, NoReturn

import aiosqlite
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agentgit_langgraph.errors import StoreError
from agentgit_langgraph.stores.dialect import SQLITE, counting_in_saver
from agentgit_langgraph.stores.statements import Op, Result, Statement
from agentgit_langgraph.stores.transactions import (
    AsyncExecute,
    AsyncSqlStore,
    BlockingSqlStore,
    Execute,
)

__all__ = [
    "AsyncSqliteSessionStore",
    "SqliteSessionStore",
    "aconnect_sqlite",
    "connect_sqlite",
]


def _begin(immediate: bool) -> str:
    # Reads too run in a transaction: a session row and its threads must come
    # from one snapshot. A writer takes the lock at once, not at its first write.
    return "BEGIN IMMEDIATE" if immediate else "BEGIN"


def _failed(exc: BaseException) -> NoReturn:
    """Raise what a failed transaction raises (it has been rolled back)."""
    if isinstance(exc, sqlite3.Error):
        raise StoreError(f"SQLite session store: {exc}") from exc
    raise exc


# Reads the file's header: fails at once on a file that is not a database.
_PROBE = "SELECT count(*) FROM sqlite_master"


def _open_error(path: str, exc: Exception) -> StoreError:
    return StoreError(f"cannot open {path!r} as a SQLite database: {exc}")


@contextmanager
def connect_sqlite(path: str) -> Iterator[sqlite3.Connection]:
    """`sqlite3.connect(path)`, closed afterwards; `StoreError` naming `path` when
    it cannot be opened or is not a database (checked before anything is yielded)."""
    try:
        conn = sqlite3.connect(path, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _open_error(path, exc) from exc
    with closing(conn):
        try:
            conn.execute(_PROBE).fetchall()
        except sqlite3.Error as exc:
            raise _open_error(path, exc) from exc
        yield conn


async def _worker_stopped(conn: aiosqlite.Connection) -> None:
    """Wait until a connection that failed to open has stopped its worker thread.

    aiosqlite stops it by posting a request nobody awaits; when the event loop
    closes first, the thread's reply raises "Event loop is closed" in it.
    """
    worker = getattr(conn, "_thread", None)  # aiosqlite's own: no public handle
    if isinstance(worker, threading.Thread) and worker.is_alive():
        await asyncio.to_thread(worker.join, 5.0)


@asynccontextmanager
async def aconnect_sqlite(path: str) -> AsyncIterator[aiosqlite.Connection]:
    """Async twin of `connect_sqlite` (an `aiosqlite` connection)."""
    conn = aiosqlite.connect(path)
    try:
        await conn
    except sqlite3.Error as exc:
        await _worker_stopped(conn)
        raise _open_error(path, exc) from exc
    try:
        try:
            async with conn.execute(_PROBE) as cur:
                await cur.fetchall()
        except sqlite3.Error as exc:
            raise _open_error(path, exc) from exc
        yield conn
    finally:
        await conn.close()


class SqliteSessionStore(BlockingSqlStore):
    """Sessions in a SQLite database through a `sqlite3` connection.

    The connection may be shared with a `SqliteSaver`; pass the saver's `lock`
    so the two never interleave statements on it.

    Args:
        conn: An open connection (`check_same_thread=False` if used from threads).
        lock: Guards the connection; a new lock when None.
        saver: The `SqliteSaver` whose database this is. Given, a thread's
            count is what that saver's `checkpoints` table holds for it (so a
            save is counted exactly when it is stored, whatever crashes); not
            given, the store keeps counters of its own.
    """

    dialect = SQLITE

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        lock: threading.Lock | threading.RLock | None = None,
        saver: SqliteSaver | None = None,
    ) -> None:
        self.conn = conn
        self.lock = lock or threading.Lock()
        self.saver = saver
        if saver is not None:
            self.dialect = counting_in_saver(SQLITE)

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str) -> Iterator[SqliteSessionStore]:
        """Open a store on a SQLite file (or `":memory:"`) and close it afterwards.

        Raises `StoreError` naming the path if it is not a SQLite database.
        """
        with connect_sqlite(conn_string) as conn:
            yield cls(conn)

    def setup(self) -> None:
        if self.saver is not None and not self.saver.is_setup:
            with self.saver.cursor(transaction=False):  # its own lazy setup, under its lock
                pass
        super().setup()

    def _read_alone(self, op: Op[Any], stmt: Statement) -> Result | None:
        if stmt.alone is None or self.conn.in_transaction:
            return None
        try:
            return Result(-1, self.conn.execute(stmt.alone, stmt.params).fetchall())
        except sqlite3.Error as exc:
            _failed(exc)

    @contextmanager
    def _transaction(self, op: Op[Any], *, immediate: bool, alone: bool) -> Iterator[Execute]:
        cur = self.conn.cursor()

        def execute(stmt: Statement) -> Result:
            cur.execute(stmt.sql, stmt.params)
            return Result(cur.rowcount, cur.fetchall() if cur.description else [])

        # A single statement sent alone needs no BEGIN and COMMIT of its own:
        # a read sees one snapshot; a write commits by itself (below).
        alone = alone and not self.conn.in_transaction
        try:
            if not self.conn.in_transaction and not alone:
                cur.execute(_begin(immediate))
            yield execute
            if self.conn.in_transaction:
                self.conn.commit()
        except BaseException as exc:
            self.conn.rollback()
            _failed(exc)
        finally:
            cur.close()


class AsyncSqliteSessionStore(AsyncSqlStore):
    """Sessions in a SQLite database through an `aiosqlite` connection.

    No blocking I/O runs in the async methods. The sync twins may be called
    only from a thread other than the event loop's (as with LangGraph's
    `AsyncSqliteSaver`); they hand the work to that loop.

    Args:
        conn: An `aiosqlite` connection, possibly shared with an `AsyncSqliteSaver`.
        lock: Guards the connection; pass the saver's `lock` when sharing it.
        saver: The `AsyncSqliteSaver` whose database this is: counts are then
            read from its `checkpoints` table (see `SqliteSessionStore`).
    """

    dialect = SQLITE

    def __init__(
        self,
        conn: aiosqlite.Connection,
        *,
        lock: asyncio.Lock | None = None,
        saver: AsyncSqliteSaver | None = None,
    ) -> None:
        self.conn = conn
        self.lock = lock or asyncio.Lock()
        self.saver = saver
        if saver is not None:
            self.dialect = counting_in_saver(SQLITE)
        self.loop = asyncio.get_running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(cls, conn_string: str) -> AsyncIterator[AsyncSqliteSessionStore]:
        """Open a store on a SQLite file (or `":memory:"`) and close it afterwards.

        Raises `StoreError` naming the path if it is not a SQLite database.
        """
        async with aconnect_sqlite(conn_string) as conn:
            yield cls(conn)

    async def asetup(self) -> None:
        if self.saver is not None and not self.saver.is_setup:
            await self.saver.setup()  # takes its own lock
        await super().asetup()

    async def _aread_alone(self, op: Op[Any], stmt: Statement) -> Result | None:
        if stmt.alone is None or self.conn.in_transaction:
            return None
        try:
            # One hop to the connection's thread, not three (execute, fetch, close).
            return Result(-1, list(await self.conn.execute_fetchall(stmt.alone, stmt.params)))
        except sqlite3.Error as exc:
            _failed(exc)

    @asynccontextmanager
    async def _transaction(
        self, op: Op[Any], *, immediate: bool, alone: bool
    ) -> AsyncIterator[AsyncExecute]:
        async def execute(stmt: Statement) -> Result:
            # One hop to the connection's thread (execute, fetch and close
            # together), not two or three: each is a thread handoff, which a
            # new conversation's session makes several of. The rows a statement
            # changed are what the connection's total grew by: no trigger
            # fires on these tables, every delete removes dependent rows first
            # (no cascade adds to it), and the lock keeps other statements out.
            before = self.conn.total_changes
            rows = list(await self.conn.execute_fetchall(stmt.sql, stmt.params))
            return Result(self.conn.total_changes - before, rows)

        # As in `SqliteSessionStore`: a statement sent alone is its own transaction.
        alone = alone and not self.conn.in_transaction
        try:
            if not self.conn.in_transaction and not alone:
                await self.conn.execute(_begin(immediate))
            yield execute
            if self.conn.in_transaction:
                await self.conn.commit()
        except BaseException as exc:
            await self.conn.rollback()
            _failed(exc)
