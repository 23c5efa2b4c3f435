"""Session stores on PostgreSQL: `PostgresSessionStore` (psycopg 3, blocking)
and `AsyncPostgresSessionStore` (psycopg 3, asyncio).

Both run the shared operations of `stores.sql` with the `POSTGRES` dialect;
they differ only in how a statement reaches the server. Each operation runs in
one transaction (`conn.transaction()`), rolled back if anything in it fails, so
a failed call writes nothing. Every psycopg error (a lost connection, a pool
timeout, a constraint) comes out as `StoreError`, and the connection or pool
stays usable. Tables are prefixed `agentgit_` and created by versioned
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
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg import AsyncConnection, Connection
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from agentgit_langgraph.errors import StoreError
from agentgit_langgraph.stores.sql import (
    POSTGRES,
    Dialect,
    Op,
    Result,
    SqlSessionStore,
    Statement,
    migrate,
)
from agentgit_langgraph.stores.sqlite import _block_on

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

__all__ = [
    "AsyncPostgresSessionStore",
    "PostgresSessionStore",
    "open_postgres_async",
    "open_postgres_sync",
]

T = TypeVar("T")

Conn = Connection[Any] | ConnectionPool[Any]
AsyncConn = AsyncConnection[Any] | AsyncConnectionPool[Any]

# How LangGraph's Postgres savers want their connections; the store reads
# tuples through its own cursors, so it works on these as on any other.
CONNECTION_KWARGS: Mapping[str, Any] = {
    "autocommit": True,
    "prepare_threshold": 0,
    "row_factory": dict_row,
}

# Serializes the migrations of every store on one schema, across processes:
# two first `setup()`s racing on `CREATE TABLE IF NOT EXISTS` would otherwise
# collide in the catalog. Taken inside the migration transaction, so released
# at its commit or rollback.
_MIGRATION_LOCK = Statement(
    "SELECT pg_advisory_xact_lock("
    "hashtext('agentgit_langgraph.migrations:' || coalesce(current_schema(), '')))"
)
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

# Multi-statement reads see one snapshot (a session row and its threads agree).
_READ_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def _conninfo(conn_string: str) -> str:
    """Accept SQLAlchemy-style `postgresql+psycopg://` URIs too."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://"):
        if conn_string.startswith(prefix):
            return "postgresql://" + conn_string[len(prefix) :]
    return conn_string


def _setup_op(d: Dialect) -> Op[None]:
    """`migrate`, behind the advisory lock; reported as `setup` in errors."""

    def setup() -> Op[None]:
        yield _MIGRATION_LOCK
        yield from migrate(d)

    return setup()


def _reads_only(first: Statement, immediate: bool) -> bool:
    # Writers are `immediate`, except `record_checkpoints`: a single UPDATE.
    return not immediate and first.sql.lstrip()[:6].upper() == "SELECT"


def _op_name(op: Op[Any]) -> str:
    return getattr(op, "__name__", "operation")


def _store_error(op: Op[Any], exc: psycopg.Error, *, committing: bool) -> StoreError:
    detail = str(exc).strip() or "no message"
    state = f" [SQLSTATE {exc.sqlstate}]" if getattr(exc, "sqlstate", None) else ""
    if committing and isinstance(exc, psycopg.OperationalError):
        outcome = "the connection failed while committing: it may or may not have been applied"
    else:
        outcome = "nothing was written"
    return StoreError(
        f"PostgreSQL session store: {_op_name(op)} failed, {outcome} "
        f"({type(exc).__name__}{state}: {detail})"
    )


_SYNC_CONNS = (Connection, ConnectionPool)
_ASYNC_CONNS = (AsyncConnection, AsyncConnectionPool)


def _check_conn(store: str, conn: Any, *, is_async: bool) -> None:
    wanted, other = (_ASYNC_CONNS, _SYNC_CONNS) if is_async else (_SYNC_CONNS, _ASYNC_CONNS)
    if isinstance(conn, wanted):
        return
    hint = ""
    if isinstance(conn, other):
        hint = f" (use {'PostgresSessionStore' if is_async else 'AsyncPostgresSessionStore'})"
    raise TypeError(
        f"{store} needs a psycopg {wanted[0].__name__} or {wanted[1].__name__}, "
        f"got {type(conn).__name__}{hint}"
    )


class PostgresSessionStore(SqlSessionStore):
    """Sessions in PostgreSQL through a blocking psycopg 3 connection or pool.

    Args:
        conn: A `psycopg.Connection` (opened with `autocommit=True`, as
            LangGraph's savers need) or a `psycopg_pool.ConnectionPool`.
        lock: Guards a single connection; pass the `PostgresSaver`'s `lock`
            when the two share one. A new lock when None. With a pool every
            call takes its own connection and the lock only guards `setup`.

    The async methods run the blocking ones in a worker thread.

    Example:
        >>> with PostgresSessionStore.from_conn_string(uri) as store:  # doctest: +SKIP
        ...     s = store.create_session(user_id=0, session_name="demo",
        ...                              metadata=None, thread_id="t1")
        ...     store.get_thread("t1").session_id == s.id
        True
    """

    dialect = POSTGRES

    def __init__(
        self,
        conn: Conn,
        *,
        lock: threading.Lock | threading.RLock | None = None,
    ) -> None:
        _check_conn(type(self).__name__, conn, is_async=False)
        self.conn = conn
        self.lock = lock or threading.Lock()
        self.is_setup = False

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str) -> Iterator[PostgresSessionStore]:
        """Open a store on its own connection and close it afterwards.

        Like `PostgresSaver.from_conn_string`, this is one connection: for a
        server that may drop connections, or for many threads, pass a
        `ConnectionPool` to the constructor (or use `open_postgres_sync`).
        """
        with Connection.connect(
            _conninfo(conn_string), autocommit=True, prepare_threshold=0
        ) as conn:
            yield cls(conn)

    def setup(self) -> None:
        """Create or migrate the tables (once per store; later calls return at once)."""
        if self.is_setup:
            return
        with self.lock:
            if not self.is_setup:
                self._execute_in_transaction(_setup_op(self.dialect), immediate=True)
                self.is_setup = True

    async def asetup(self) -> None:
        await asyncio.to_thread(self.setup)

    @contextmanager
    def _connection(self) -> Iterator[Connection[Any]]:
        if isinstance(self.conn, ConnectionPool):
            with self.conn.connection() as conn:
                yield conn
        else:
            yield self.conn

    def _execute_in_transaction(self, op: Op[T], *, immediate: bool) -> T:
        try:
            stmt = next(op)  # pure: an op that fails before any SQL touches nothing
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        committing = False
        try:
            with (
                self._connection() as conn,
                conn.transaction(),
                conn.cursor(row_factory=tuple_row) as cur,
            ):
                if _reads_only(stmt, immediate):
                    cur.execute(_READ_SNAPSHOT)
                while True:
                    cur.execute(stmt.sql, stmt.params or None)
                    rows = cur.fetchall() if cur.description else []
                    try:
                        stmt = op.send(Result(cur.rowcount, rows))
                    except StopIteration as stop:
                        value: T = stop.value
                        committing = True
                        break
            return value  # committed
        except psycopg.Error as exc:
            raise _store_error(op, exc, committing=committing) from exc
        finally:
            op.close()

    def _run(self, op: Op[T], *, immediate: bool) -> T:
        self.setup()
        if isinstance(self.conn, ConnectionPool):
            return self._execute_in_transaction(op, immediate=immediate)
        with self.lock:
            return self._execute_in_transaction(op, immediate=immediate)


class AsyncPostgresSessionStore(SqlSessionStore):
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

    Example:
        >>> async with AsyncPostgresSessionStore.from_conn_string(uri) as store:  # doctest: +SKIP
        ...     s = await store.acreate_session(user_id=0, session_name="demo",
        ...                                     metadata=None, thread_id="t1")
    """

    dialect = POSTGRES

    def __init__(self, conn: AsyncConn, *, lock: asyncio.Lock | None = None) -> None:
        _check_conn(type(self).__name__, conn, is_async=True)
        self.conn = conn
        self.lock = lock or asyncio.Lock()
        self.loop = asyncio.get_running_loop()
        self.is_setup = False

    @classmethod
    @asynccontextmanager
    async def from_conn_string(cls, conn_string: str) -> AsyncIterator[AsyncPostgresSessionStore]:
        """Open a store on its own connection and close it afterwards."""
        async with await AsyncConnection.connect(
            _conninfo(conn_string), autocommit=True, prepare_threshold=0
        ) as conn:
            yield cls(conn)

    async def asetup(self) -> None:
        """Create or migrate the tables (once per store)."""
        if self.is_setup:
            return
        async with self.lock:
            if not self.is_setup:
                await self._execute_in_transaction(_setup_op(self.dialect), immediate=True)
                self.is_setup = True

    def setup(self) -> None:
        _block_on(self.loop, self.asetup())

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        if isinstance(self.conn, AsyncConnectionPool):
            async with self.conn.connection() as conn:
                yield conn
        else:
            yield self.conn

    async def _execute_in_transaction(self, op: Op[T], *, immediate: bool) -> T:
        try:
            stmt = next(op)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        committing = False
        try:
            async with (
                self._connection() as conn,
                conn.transaction(),
                conn.cursor(row_factory=tuple_row) as cur,
            ):
                if _reads_only(stmt, immediate):
                    await cur.execute(_READ_SNAPSHOT)
                while True:
                    await cur.execute(stmt.sql, stmt.params or None)
                    rows = await cur.fetchall() if cur.description else []
                    try:
                        stmt = op.send(Result(cur.rowcount, rows))
                    except StopIteration as stop:
                        value: T = stop.value
                        committing = True
                        break
            return value  # committed
        except psycopg.Error as exc:
            raise _store_error(op, exc, committing=committing) from exc
        finally:
            op.close()

    async def _arun(self, op: Op[T], *, immediate: bool) -> T:
        await self.asetup()
        if isinstance(self.conn, AsyncConnectionPool):
            return await self._execute_in_transaction(op, immediate=immediate)
        async with self.lock:
            return await self._execute_in_transaction(op, immediate=immediate)

    def _run(self, op: Op[T], *, immediate: bool) -> T:
        return _block_on(self.loop, self._arun(op, immediate=immediate))  # type: ignore[no-any-return]


# -- saver and store on one pool ----------------------------------------------


class _Sweep:
    """The pool's `check`: test a connection before lending it, as
    `ConnectionPool.check_connection` does, and when one is dead test every
    idle one at once. A server restart kills them all; without the sweep the
    pool would find them one by one, backing off 1, 2, 4... seconds in between.
    """

    def __init__(self) -> None:
        self.pool: ConnectionPool[Any] | None = None

    def __call__(self, conn: Connection[Any]) -> None:
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None:
                self.pool.check()
            raise


class _ASweep:
    """Async twin of `_Sweep`."""

    def __init__(self) -> None:
        self.pool: AsyncConnectionPool[Any] | None = None

    async def __call__(self, conn: AsyncConnection[Any]) -> None:
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None:
                await self.pool.check()
            raise


def _pool_kwargs(conn_string: str) -> dict[str, Any]:
    return {
        "conninfo": _conninfo(conn_string),
        "kwargs": dict(CONNECTION_KWARGS),
        "open": False,  # opened by the `with` below
    }


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
    conn_string: str,
) -> Iterator[tuple[PostgresSaver, PostgresSessionStore]]:
    """A `PostgresSaver` and a `PostgresSessionStore` on one connection pool, set up.

    The pool checks each connection before lending it, so a connection the
    server dropped is replaced instead of failing the next call. First-time
    setup is serialized across processes. This is what
    `AgentGitSaver.from_conn_string("postgresql://...")` uses.

    Example:
        >>> with open_postgres_sync("postgresql://...") as (saver, store):  # doctest: +SKIP
        ...     graph = builder.compile(checkpointer=AgentGitSaver(saver, store))
    """
    from langgraph.checkpoint.postgres import PostgresSaver

    sweep = _Sweep()
    with ConnectionPool(check=sweep, **_pool_kwargs(conn_string)) as pool:
        sweep.pool = pool
        saver = PostgresSaver(pool)
        store = PostgresSessionStore(pool)
        try:
            with Connection.connect(_conninfo(conn_string), autocommit=True) as guard:
                _take_open_lock(guard)  # released when `guard` closes
                saver.setup()
                store.setup()
        except psycopg.Error as exc:
            raise _open_error(exc) from exc
        yield saver, store


@asynccontextmanager
async def open_postgres_async(
    conn_string: str,
) -> AsyncIterator[tuple[AsyncPostgresSaver, AsyncPostgresSessionStore]]:
    """Async twin of `open_postgres_sync`: `AsyncPostgresSaver` and
    `AsyncPostgresSessionStore` on one `AsyncConnectionPool`, set up."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    sweep = _ASweep()
    async with AsyncConnectionPool(check=sweep, **_pool_kwargs(conn_string)) as pool:
        sweep.pool = pool
        saver = AsyncPostgresSaver(pool)
        store = AsyncPostgresSessionStore(pool)
        try:
            async with await AsyncConnection.connect(
                _conninfo(conn_string), autocommit=True
            ) as guard:
                await _atake_open_lock(guard)
                await saver.setup()
                await store.asetup()
        except psycopg.Error as exc:
            raise _open_error(exc) from exc
        yield saver, store
