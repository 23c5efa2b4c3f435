"""Session stores on PostgreSQL: `PostgresSessionStore` (psycopg 3, blocking)
and `AsyncPostgresSessionStore` (psycopg 3, asyncio).

Both run the shared operations of `stores.sql` with the `POSTGRES` dialect;
they differ only in how a statement reaches the server. Each operation runs in
one transaction (`conn.transaction()`), rolled back if anything in it fails, so
a failed call writes nothing; counting a put (`record_checkpoints`, on every
put) is a single statement that runs alone, its own transaction, in one round
trip (see "counting a put" below). Every psycopg error (a lost connection, a
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
import select
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg import AsyncConnection, Connection
from psycopg.pq import ConnStatus, TransactionStatus
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from agentgit_langgraph.configs import postgres_conninfo
from agentgit_langgraph.errors import InvalidConfigError, StoreError
from agentgit_langgraph.stores.sql import (
    POSTGRES,
    Dialect,
    Op,
    Result,
    SqlSessionStore,
    Statement,
    counting_in_saver,
    migrate,
    record_checkpoints,
    thread_owner,
)
from agentgit_langgraph.stores.sql import block_on as _block_on

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
    """A libpq URI (`configs.postgres_conninfo`); other strings go to libpq as they are."""
    return postgres_conninfo(conn_string) or conn_string


def _setup_op(d: Dialect) -> Op[None]:
    """`migrate`, behind the advisory lock; reported as `setup` in errors."""

    def setup() -> Op[None]:
        yield _MIGRATION_LOCK
        yield from migrate(d)

    return setup()


def _op_name(op: Op[Any] | str) -> str:
    return op if isinstance(op, str) else getattr(op, "__name__", "operation")


def _store_error(op: Op[Any] | str, exc: psycopg.Error, *, committing: bool) -> StoreError:
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


# -- counting a put: one statement, alone ----------------------------------------
#
# `record_checkpoints` runs on every put, so it is the store's hot path. It is a
# single UPDATE, so on an autocommit connection that is not inside a
# transaction it runs alone: no BEGIN and COMMIT round trips, its own implicit
# transaction (atomic; concurrent increments queue on the row lock, none is
# lost). And it commits without waiting for its WAL flush (`SET LOCAL
# synchronous_commit TO OFF`, carried in the statement: see
# `Dialect.commit_without_flush`). That is safe for the count:
#
# * it is applied exactly once or not at all, in order with everything else:
#   WAL is replayed in order, so a crash can lose only a suffix of the
#   server's asynchronous commits, never apply a later one without an earlier
#   one, never half of one;
# * it is durable as soon as any later synchronous commit on the server is
#   (flushing WAL flushes everything before it): the next put's checkpoint,
#   for one. Otherwise the WAL writer flushes it within 3 x wal_writer_delay
#   (600 ms by default). So only a server crash (not a client's) within that
#   window after the last puts can lose their counts: the checkpoints survive
#   (the saver commits with synchronous_commit as configured) and the thread's
#   count is short by those puts. It is never too high;
# * the setting is LOCAL: it ends with the statement's transaction, and the
#   saver's commits on the same pooled connection keep the server's setting.
#
# The saver's put has just waited for a flush; a second one per put would
# cost about one more fsync per checkpoint (see benchmarks/bench_postgres.py).
# Where the statement would run inside someone else's transaction (a shared
# connection in a transaction, or not in autocommit), it runs in the usual
# transaction instead, and there without relaxing anything.
#
# On the pool `open_postgres_*` builds, which checks every connection with a
# round trip before lending it (`_Sweep`), the count also skips that check
# for a connection seen working less than `_TRUST_RECENT` seconds ago whose
# socket has nothing to read. A server that ends a connection (restart,
# `pg_terminate_backend`, `idle_session_timeout`, a crashed backend) closes
# its socket, after a FATAL message: both make it readable, and the full
# check runs. What the recency covers is a middlebox dropping a connection
# idle for minutes, which only shows at the next packet; and the put's own
# save, just before on the same pool, took a fully checked connection (a dead
# one there sweeps every idle one). In the remaining window (the connection
# lost between the poll and the statement, as it could be between a check
# and the statement) the count fails like any store call on a broken
# connection: a `StoreError` saying whether it may have been applied, the pool
# replaces the connection, and the count is never applied twice. Setting
# `_TRUST_RECENT` to 0 checks every connection (about one round trip more per
# put: see benchmarks/bench_postgres.py, "alone, checked").
_TRUST_RECENT = 5.0
_ALIVE_AT: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
_LIGHT_CHECK: ContextVar[bool] = ContextVar("agentgit_light_check", default=False)


@contextmanager
def _lightly_checked() -> Iterator[None]:
    """Connections taken from a `_Sweep` pool meanwhile may skip the round trip."""
    token = _LIGHT_CHECK.set(True)
    try:
        yield
    finally:
        _LIGHT_CHECK.reset(token)


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    ready, _, _ = select.select([fd], [], [], 0)  # pragma: no cover - Windows
    return bool(ready)


def _seen_working(conn: Connection[Any] | AsyncConnection[Any]) -> bool:
    """Whether `conn` may skip the pool's check (see above)."""
    if not _LIGHT_CHECK.get():
        return False
    seen = _ALIVE_AT.get(conn)
    if seen is None or time.monotonic() - seen > _TRUST_RECENT:
        return False
    pgconn = conn.pgconn
    if pgconn.status != ConnStatus.OK or pgconn.transaction_status != TransactionStatus.IDLE:
        return False
    return not _readable(pgconn.socket)


def _outside_transaction(conn: Connection[Any] | AsyncConnection[Any]) -> bool:
    return conn.info.transaction_status == TransactionStatus.IDLE


def _may_have_run(exc: psycopg.Error, was_open: bool) -> bool:
    """Whether a statement run alone may have committed although it raised.

    An error the server reports (one with a SQLSTATE: a constraint, a
    cancellation, 57P01 for a backend terminated while the statement waited on
    a lock or before it arrived) means its implicit transaction did not commit:
    the server reports a statement's failure before committing, and nothing
    after. A connection that just broke (no SQLSTATE: reset, end of file, or a
    backend that closed it after committing, as one terminated while waiting
    for a synchronous standby does) may have broken after the commit. One that
    was closed before the call sent nothing.
    """
    return was_open and isinstance(exc, psycopg.OperationalError) and not exc.sqlstate


def _finish_alone(op: Op[T], result: Result) -> T:
    try:
        op.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value
    raise AssertionError(f"{_op_name(op)} is not a single statement; it cannot run alone")


def _run_alone(conn: Connection[Any], op: Op[T]) -> T:
    """Run a one-statement operation in autocommit, its own transaction."""
    try:
        stmt = next(op)
        was_open = not conn.closed
        try:
            with conn.cursor(row_factory=tuple_row) as cur:
                cur.execute(stmt.sql, stmt.params or None)
                result = Result(cur.rowcount, cur.fetchall() if cur.description else [])
        except psycopg.Error as exc:
            raise _store_error(op, exc, committing=_may_have_run(exc, was_open)) from exc
        _ALIVE_AT[conn] = time.monotonic()
        return _finish_alone(op, result)
    finally:
        op.close()


async def _arun_alone(conn: AsyncConnection[Any], op: Op[T]) -> T:
    try:
        stmt = next(op)
        was_open = not conn.closed
        try:
            async with conn.cursor(row_factory=tuple_row) as cur:
                await cur.execute(stmt.sql, stmt.params or None)
                rows = await cur.fetchall() if cur.description else []
                result = Result(cur.rowcount, rows)
        except psycopg.Error as exc:
            raise _store_error(op, exc, committing=_may_have_run(exc, was_open)) from exc
        _ALIVE_AT[conn] = time.monotonic()
        return _finish_alone(op, result)
    finally:
        op.close()


# -- reading an owner: one statement, alone --------------------------------------
#
# Every checkpointer call whose config has a `user_id` first reads the owner
# of its thread (`thread_owner`), never from a cache: another process may have
# handed the thread id to another user. It is one SELECT, so it runs like the
# count of a put: alone in autocommit (one round trip; a single statement sees
# one snapshot), on a connection the pool may lend without its check round
# trip. If that connection turns out to be lost, the read (which changes
# nothing) runs again, in a transaction on a connection the pool checks.
# benchmarks/bench_access.py measures the cost.


def _connection_lost(exc: StoreError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, psycopg.OperationalError) and not cause.sqlstate


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


class PostgresSessionStore(SqlSessionStore):
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

    def _execute_in_transaction(
        self, op: Op[T], *, immediate: bool, conn: Connection[Any] | None = None
    ) -> T:
        try:
            stmt = next(op)  # pure: an op that fails before any SQL touches nothing
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        committing = False
        try:
            with (
                nullcontext(conn) if conn is not None else self._connection() as conn,
                conn.transaction(),
                conn.cursor(row_factory=tuple_row) as cur,
            ):
                if not immediate:  # a read: one snapshot, and nothing written by mistake
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

    # The hot path: see "counting a put" above.
    def record_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        self.setup()
        if isinstance(self.conn, ConnectionPool):
            return self._record_checkpoints(thread_id, count)
        with self.lock:
            return self._record_checkpoints(thread_id, count)

    async def arecord_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        return await asyncio.to_thread(self.record_checkpoints, thread_id, count)

    def _record_checkpoints(self, thread_id: str, count: int) -> bool:
        def op(alone: bool) -> Op[bool]:
            return record_checkpoints(self.dialect, thread_id, count, without_flush=alone)

        return self._single("record_checkpoints", op, writes=self.dialect.counts_apart)

    def _single(self, name: str, make_op: Callable[[bool], Op[T]], *, writes: bool) -> T:
        """Run a one-statement operation alone when the connection allows it.

        `make_op(alone)` builds it. On a connection lent without its check
        round trip (see "counting a put"), alone in autocommit: one round trip.
        """
        try:
            with _lightly_checked(), self._connection() as conn:
                alone = _outside_transaction(conn)
                op = make_op(alone)
                if alone and conn.autocommit:
                    return _run_alone(conn, op)
                return self._execute_in_transaction(op, immediate=writes, conn=conn)
        except psycopg.Error as exc:  # taking a connection from the pool: nothing was sent
            raise _store_error(name, exc, committing=False) from exc

    # The owner check of every call with a `user_id`: see "reading an owner".
    def thread_owner(self, thread_id: str) -> tuple[int, str] | None:
        self.setup()
        if isinstance(self.conn, ConnectionPool):
            return self._thread_owner(thread_id)
        with self.lock:
            return self._thread_owner(thread_id)

    async def athread_owner(self, thread_id: str) -> tuple[int, str] | None:
        return await asyncio.to_thread(self.thread_owner, thread_id)

    def _thread_owner(self, thread_id: str) -> tuple[int, str] | None:
        try:
            return self._single(
                "thread_owner", lambda _: thread_owner(self.dialect, thread_id), writes=False
            )
        except StoreError as exc:
            if not _connection_lost(exc):
                raise
        # A read changes nothing: on a connection lost since it was last seen
        # working, run it again on one the pool checks first.
        return self._execute_in_transaction(thread_owner(self.dialect, thread_id), immediate=False)


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
        counts_in_saver: See `PostgresSessionStore`.

    Example:
        >>> async with AsyncPostgresSessionStore.from_conn_string(uri) as store:  # doctest: +SKIP
        ...     s = await store.acreate_session(user_id=0, session_name="demo",
        ...                                     metadata=None, thread_id="t1")
    """

    dialect = POSTGRES

    def __init__(
        self, conn: AsyncConn, *, lock: asyncio.Lock | None = None, counts_in_saver: bool = False
    ) -> None:
        _check_conn(type(self).__name__, conn, is_async=True)
        self.conn = conn
        self.lock = lock or asyncio.Lock()
        if counts_in_saver:
            self.dialect = counting_in_saver(POSTGRES)
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

    async def _execute_in_transaction(
        self, op: Op[T], *, immediate: bool, conn: AsyncConnection[Any] | None = None
    ) -> T:
        try:
            stmt = next(op)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        committing = False
        try:
            async with (
                nullcontext(conn) if conn is not None else self._connection() as conn,
                conn.transaction(),
                conn.cursor(row_factory=tuple_row) as cur,
            ):
                if not immediate:  # a read: one snapshot, and nothing written by mistake
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

    # The hot path: see "counting a put" above.
    async def arecord_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        await self.asetup()
        if isinstance(self.conn, AsyncConnectionPool):
            return await self._record_checkpoints(thread_id, count)
        async with self.lock:
            return await self._record_checkpoints(thread_id, count)

    def record_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        return _block_on(self.loop, self.arecord_checkpoints(thread_id, count))  # type: ignore[no-any-return]

    async def _record_checkpoints(self, thread_id: str, count: int) -> bool:
        def op(alone: bool) -> Op[bool]:
            return record_checkpoints(self.dialect, thread_id, count, without_flush=alone)

        return await self._single("record_checkpoints", op, writes=self.dialect.counts_apart)

    async def _single(self, name: str, make_op: Callable[[bool], Op[T]], *, writes: bool) -> T:
        """Async twin of `PostgresSessionStore._single`."""
        try:
            with _lightly_checked():
                async with self._connection() as conn:
                    alone = _outside_transaction(conn)
                    op = make_op(alone)
                    if alone and conn.autocommit:
                        return await _arun_alone(conn, op)
                    return await self._execute_in_transaction(op, immediate=writes, conn=conn)
        except psycopg.Error as exc:  # taking a connection from the pool: nothing was sent
            raise _store_error(name, exc, committing=False) from exc

    async def athread_owner(self, thread_id: str) -> tuple[int, str] | None:
        await self.asetup()
        if isinstance(self.conn, AsyncConnectionPool):
            return await self._thread_owner(thread_id)
        async with self.lock:
            return await self._thread_owner(thread_id)

    def thread_owner(self, thread_id: str) -> tuple[int, str] | None:
        return _block_on(self.loop, self.athread_owner(thread_id))  # type: ignore[no-any-return]

    async def _thread_owner(self, thread_id: str) -> tuple[int, str] | None:
        try:
            return await self._single(
                "thread_owner", lambda _: thread_owner(self.dialect, thread_id), writes=False
            )
        except StoreError as exc:
            if not _connection_lost(exc):
                raise
        op = thread_owner(self.dialect, thread_id)
        return await self._execute_in_transaction(op, immediate=False)


# -- saver and store on one pool ----------------------------------------------


class _Sweep:
    """The pool's `check`: test a connection before lending it, as
    `ConnectionPool.check_connection` does, and when one is dead test every
    idle one at once. A server restart kills them all; without the sweep the
    pool would find them one by one, backing off 1, 2, 4... seconds in between.
    The store's count of a put skips the round trip for a connection seen
    working just before (see "counting a put").
    """

    def __init__(self) -> None:
        self.pool: ConnectionPool[Any] | None = None

    def __call__(self, conn: Connection[Any]) -> None:
        if _seen_working(conn):
            return
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None:
                self.pool.check()
            raise
        _ALIVE_AT[conn] = time.monotonic()


class _ASweep:
    """Async twin of `_Sweep`."""

    def __init__(self) -> None:
        self.pool: AsyncConnectionPool[Any] | None = None

    async def __call__(self, conn: AsyncConnection[Any]) -> None:
        if _seen_working(conn):
            return
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None:
                await self.pool.check()
            raise
        _ALIVE_AT[conn] = time.monotonic()


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
        store = PostgresSessionStore(pool, counts_in_saver=True)
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
        store = AsyncPostgresSessionStore(pool, counts_in_saver=True)
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
