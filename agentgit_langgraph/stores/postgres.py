"""Session stores on PostgreSQL: `PostgresSessionStore` (psycopg 3, blocking)
and `AsyncPostgresSessionStore` (psycopg 3, asyncio).

Both run the shared operations of `stores/ops` with the `POSTGRES` dialect,
through the shared bases of `stores/transactions.py`; they differ only in how
a statement reaches the server. Each operation runs in
one transaction (`conn.transaction()`), rolled back if anything in it fails, so
a failed call writes nothing; counting a put (`record_checkpoints`, on every
put) is a single statement that runs alone, its own transaction, in one round
trip (see "Counting a put" in `stores/pg_pool.py`). Every psycopg error (a lost connection, a
pool timeout, a constraint) comes out as `StoreError`, and the connection or
pool stays usable. Tables are prefixed `agentgit_` and created by versioned
migrations on first use (lazy `setup()`), next to LangGraph's `checkpoints`
tables and never inside them.

A store takes what LangGraph's `PostgresSaver` takes: a `Connection` or a
`ConnectionPool` (their async twins for the async store), opened with
`autocommit=True`. Share a pool with the saver, or share a single connection
by passing the saver's `lock` so the two never interleave statements on it.

Example:
    ```python
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool
    from langgraph.checkpoint.postgres import PostgresSaver
    from agentgit_langgraph import AgentGitSaver
    from agentgit_langgraph.stores.postgres import PostgresSessionStore

    with ConnectionPool(uri, kwargs={"autocommit": True, "prepare_threshold": 0,
                                     "row_factory": dict_row}) as pool:
        saver = AgentGitSaver(PostgresSaver(pool), PostgresSessionStore(pool))
        saver.setup()
        graph = builder.compile(checkpointer=saver)
    ```

    or simply `AgentGitSaver.from_conn_string("postgresql://...")`, which does
    the same through `open_postgres_sync`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import AsyncConnection, AsyncCursor, Connection, Cursor
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from agentgit_langgraph.errors import InvalidConfigError, StoreError
from agentgit_langgraph.stores.dialect import POSTGRES, counting_in_saver
from agentgit_langgraph.stores.pg_pool import (
    CONNECTION_KWARGS,
    READ_SNAPSHOT,
    AsyncHotReads,
    AsyncStickyConnectionPool,
    HotReads,
    Liveness,
    Outcome,
    StickyConnectionPool,
    connection_lost,
    conninfo,
    may_have_run,
    pool_kwargs,
    runs_alone,
)
from agentgit_langgraph.stores.statements import Op, Result, Statement
from agentgit_langgraph.stores.transactions import (
    AsyncExecute,
    AsyncSqlStore,
    BlockingSqlStore,
    Execute,
)

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

__all__ = [
    "CONNECTION_KWARGS",
    "AsyncPostgresSessionStore",
    "PostgresSessionStore",
    "may_have_run",
    "open_postgres_async",
    "open_postgres_sync",
]

Conn = Connection[Any] | ConnectionPool[Any]
AsyncConn = AsyncConnection[Any] | AsyncConnectionPool[Any]


# Held on a connection of its own while `open_postgres_*` sets up the saver and
# the store: LangGraph's `setup()` has no guard, and two first ones racing fail
# in the catalog. Waiters poll `pg_try_advisory_lock` rather than block in
# `pg_advisory_lock`: a blocked statement holds a snapshot, and the
# `CREATE INDEX CONCURRENTLY` in LangGraph's migrations waits for every older
# snapshot in the database, so blocking waiters would deadlock with the holder.
_OPEN_LOCK = (
    "SELECT pg_try_advisory_lock("
    "hashtext('agentgit_langgraph.setup:' || coalesce(current_schema(), '')))"
)
_OPEN_LOCK_TIMEOUT = 300.0


_SYNC_CONNS = (Connection, ConnectionPool)
_ASYNC_CONNS = (AsyncConnection, AsyncConnectionPool)


def _check_conn(store: str, conn: Any, *, is_async: bool) -> None:
    wanted, other = (_ASYNC_CONNS, _SYNC_CONNS) if is_async else (_SYNC_CONNS, _ASYNC_CONNS)
    if isinstance(conn, wanted):
        return
    hint = ""
    if isinstance(conn, other):
        hint = f" (use {'PostgresSessionStore' if is_async else 'AsyncPostgresSessionStore'})"
    raise InvalidConfigError(
        f"{store} needs a psycopg {wanted[0].__name__} or {wanted[1].__name__}, "
        f"got {type(conn).__name__}{hint}"
    )


def _execute(cur: Cursor[Any], sql: str, params: Sequence[Any]) -> Result:
    cur.execute(sql, params or None)
    return Result(cur.rowcount, cur.fetchall() if cur.description else [])


async def _aexecute(cur: AsyncCursor[Any], sql: str, params: Sequence[Any]) -> Result:
    await cur.execute(sql, params or None)
    return Result(cur.rowcount, await cur.fetchall() if cur.description else [])


class PostgresSessionStore(BlockingSqlStore):
    """Sessions in PostgreSQL through a blocking psycopg 3 connection or pool.

    Args:
        conn: A `psycopg.Connection` (opened with `autocommit=True`, as
            LangGraph's savers need) or a `psycopg_pool.ConnectionPool`.
        lock: Guards a single connection; pass the `PostgresSaver`'s `lock`
            when the two share one. A new lock when None. With a pool every
            call takes its own connection and the lock only guards `setup`.
        counts_in_saver: The store is on the saver's database (same schema),
            set up before it: a thread's count is then what LangGraph's
            `checkpoints` table holds for it, so a save is counted exactly
            when it is stored, whatever crashes. Otherwise the store keeps
            counters of its own.

    The async methods run the blocking ones in a worker thread.

    Example:
        >>> with PostgresSessionStore.from_conn_string(uri) as store:  # doctest: +SKIP
        ...     s = store.create_session(user_id=0, session_name="demo",
        ...                              metadata=None, thread_id="t1")
        ...     store.get_thread("t1").session_id == s.id
        True
    """

    dialect = POSTGRES
    may_lose_connections = True

    def __init__(
        self,
        conn: Conn,
        *,
        lock: threading.Lock | threading.RLock | None = None,
        counts_in_saver: bool = False,
    ) -> None:
        _check_conn(type(self).__name__, conn, is_async=False)
        self.conn = conn
        self.lock = lock or threading.Lock()
        if counts_in_saver:
            self.dialect = counting_in_saver(POSTGRES)
        self.liveness = Liveness()
        self.hot_reads: HotReads | None = None
        """Where reads sent alone go first (`open_postgres_sync` sets it); None: the pool."""

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str) -> Iterator[PostgresSessionStore]:
        """Open a store on its own connection and close it afterwards.

        Like `PostgresSaver.from_conn_string`, this is one connection: for a
        server that may drop connections, or for many threads, pass a
        `ConnectionPool` to the constructor (or use `open_postgres_sync`).
        """
        with Connection.connect(
            conninfo(conn_string), autocommit=True, prepare_threshold=0
        ) as conn:
            yield cls(conn)

    def _guard(self) -> AbstractContextManager[Any]:
        # A pool lends each call its own connection: the lock only guards setup.
        return nullcontext() if isinstance(self.conn, ConnectionPool) else self.lock

    def _lost(self, exc: StoreError) -> bool:
        return connection_lost(exc)

    def _read_alone(self, op: Op[Any], stmt: Statement) -> Result | None:
        return None if self.hot_reads is None else self.hot_reads.read(op, stmt)

    @contextmanager
    def _connection(self) -> Iterator[Connection[Any]]:
        if isinstance(self.conn, ConnectionPool):
            with self.conn.connection() as conn:
                yield conn
        else:
            yield self.conn

    @contextmanager
    def _transaction(self, op: Op[Any], *, immediate: bool, alone: bool) -> Iterator[Execute]:
        outcome = Outcome(op)
        with (
            outcome.failures(),
            self._connection() as conn,
            conn.cursor(row_factory=tuple_row) as cur,
        ):
            if alone and runs_alone(conn):
                yield lambda stmt: _execute(cur, outcome.alone_sql(stmt, conn), stmt.params)
                self.liveness.saw(conn)
                return
            with conn.transaction():
                if not immediate:  # a read: one snapshot, and nothing written by mistake
                    cur.execute(READ_SNAPSHOT)
                yield lambda stmt: _execute(cur, stmt.sql, stmt.params)
                outcome.finished = True  # a failure from here on is the commit's


class AsyncPostgresSessionStore(AsyncSqlStore):
    """Sessions in PostgreSQL through an async psycopg 3 connection or pool.

    No blocking I/O runs in the async methods. The sync twins may be called
    only from a thread other than the event loop's (as with LangGraph's
    `AsyncPostgresSaver`); they hand the work to that loop. Build the store
    inside the loop that will run it.

    Args:
        conn: A `psycopg.AsyncConnection` (with `autocommit=True`) or a
            `psycopg_pool.AsyncConnectionPool`.
        lock: Guards a single connection; pass the `AsyncPostgresSaver`'s
            `lock` when the two share one.
        counts_in_saver: See `PostgresSessionStore`.

    Example:
        >>> async with AsyncPostgresSessionStore.from_conn_string(uri) as store:  # doctest: +SKIP
        ...     s = await store.acreate_session(user_id=0, session_name="demo",
        ...                                     metadata=None, thread_id="t1")
    """

    dialect = POSTGRES
    may_lose_connections = True

    def __init__(
        self, conn: AsyncConn, *, lock: asyncio.Lock | None = None, counts_in_saver: bool = False
    ) -> None:
        _check_conn(type(self).__name__, conn, is_async=True)
        self.conn = conn
        self.lock = lock or asyncio.Lock()
        if counts_in_saver:
            self.dialect = counting_in_saver(POSTGRES)
        self.loop = asyncio.get_running_loop()
        self.liveness = Liveness()
        self.hot_reads: AsyncHotReads | None = None
        """Where reads sent alone go first (`open_postgres_async` sets it); None: the pool."""

    @classmethod
    @asynccontextmanager
    async def from_conn_string(cls, conn_string: str) -> AsyncIterator[AsyncPostgresSessionStore]:
        """Open a store on its own connection and close it afterwards."""
        async with await AsyncConnection.connect(
            conninfo(conn_string), autocommit=True, prepare_threshold=0
        ) as conn:
            yield cls(conn)

    def _guard(self) -> AbstractAsyncContextManager[Any]:
        return nullcontext() if isinstance(self.conn, AsyncConnectionPool) else self.lock

    def _lost(self, exc: StoreError) -> bool:
        return connection_lost(exc)

    async def _aread_alone(self, op: Op[Any], stmt: Statement) -> Result | None:
        return None if self.hot_reads is None else await self.hot_reads.read(op, stmt)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        if isinstance(self.conn, AsyncConnectionPool):
            async with self.conn.connection() as conn:
                yield conn
        else:
            yield self.conn

    @asynccontextmanager
    async def _transaction(
        self, op: Op[Any], *, immediate: bool, alone: bool
    ) -> AsyncIterator[AsyncExecute]:
        outcome = Outcome(op)
        with outcome.failures():
            async with (
                self._connection() as conn,
                conn.cursor(row_factory=tuple_row) as cur,
            ):
                if alone and runs_alone(conn):
                    yield lambda stmt: _aexecute(cur, outcome.alone_sql(stmt, conn), stmt.params)
                    self.liveness.saw(conn)
                    return
                async with conn.transaction():
                    if not immediate:
                        await cur.execute(READ_SNAPSHOT)
                    yield lambda stmt: _aexecute(cur, stmt.sql, stmt.params)
                    outcome.finished = True


# -- saver and store on one pool ----------------------------------------------


def _backoff() -> Iterator[float]:
    delay = 0.02
    deadline = time.monotonic() + _OPEN_LOCK_TIMEOUT
    while time.monotonic() < deadline:
        yield delay
        delay = min(delay * 2, 0.5)
    raise StoreError(
        f"PostgreSQL: another process has been setting up this schema for over "
        f"{_OPEN_LOCK_TIMEOUT:.0f}s; gave up waiting"
    )


def _take_open_lock(guard: Connection[Any]) -> None:
    """Hold the setup lock on `guard` (until it closes), polling without a snapshot."""
    for delay in _backoff():
        row = guard.execute(_OPEN_LOCK).fetchone()
        if row is not None and row[0]:
            return
        time.sleep(delay)


async def _atake_open_lock(guard: AsyncConnection[Any]) -> None:
    for delay in _backoff():
        row = await (await guard.execute(_OPEN_LOCK)).fetchone()
        if row is not None and row[0]:
            return
        await asyncio.sleep(delay)


def _open_error(exc: psycopg.Error) -> StoreError:
    return StoreError(
        f"PostgreSQL: could not connect or set up the saver and session store "
        f"({type(exc).__name__}: {str(exc).strip()})"
    )


@contextmanager
def open_postgres_sync(
    conn_string: str, *, set_up_store: bool = True
) -> Iterator[tuple[PostgresSaver, PostgresSessionStore]]:
    """A `PostgresSaver` and a `PostgresSessionStore` on one connection pool, set up.

    The pool lends the saver and the store the same connection whenever it is
    free (`StickyConnectionPool`) and checks a connection before lending it,
    so one the server dropped is replaced instead of failing the next call. First-time
    setup is serialized across processes. This is what
    `AgentGitSaver.from_conn_string("postgresql://...")` uses. With
    `set_up_store=False` the store's tables are left as they are (see
    `BlockingSqlStore.use_existing_tables`).

    Example:
        >>> with open_postgres_sync("postgresql://...") as (saver, store):  # doctest: +SKIP
        ...     graph = builder.compile(checkpointer=AgentGitSaver(saver, store))
    """
    from langgraph.checkpoint.postgres import PostgresSaver

    with StickyConnectionPool(**pool_kwargs(conn_string)) as pool:
        saver = PostgresSaver(pool)
        store = PostgresSessionStore(pool, counts_in_saver=True)
        store.liveness = pool.liveness  # what the store sees working, the pool trusts
        try:
            with Connection.connect(conninfo(conn_string), autocommit=True) as guard:
                _take_open_lock(guard)  # released when `guard` closes
                saver.setup()
                if set_up_store:
                    store.setup()
        except psycopg.Error as exc:
            raise _open_error(exc) from exc
        store.hot_reads = hot = HotReads(conn_string)
        try:
            yield saver, store
        finally:
            hot.close()


@asynccontextmanager
async def open_postgres_async(
    conn_string: str,
) -> AsyncIterator[tuple[AsyncPostgresSaver, AsyncPostgresSessionStore]]:
    """Async twin of `open_postgres_sync`: `AsyncPostgresSaver` and
    `AsyncPostgresSessionStore` on one `AsyncConnectionPool`, set up."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    async with AsyncStickyConnectionPool(**pool_kwargs(conn_string)) as pool:
        saver = AsyncPostgresSaver(pool)
        store = AsyncPostgresSessionStore(pool, counts_in_saver=True)
        store.liveness = pool.liveness
        try:
            async with await AsyncConnection.connect(
                conninfo(conn_string), autocommit=True
            ) as guard:
                await _atake_open_lock(guard)
                await saver.setup()
                await store.asetup()
        except psycopg.Error as exc:
            raise _open_error(exc) from exc
        store.hot_reads = ahot = AsyncHotReads(conn_string)
        try:
            yield saver, store
        finally:
            await ahot.close()
