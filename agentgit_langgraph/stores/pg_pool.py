"""PostgreSQL's hot path: taking a connection, and sending a statement alone.

The PostgreSQL stores (`stores/postgres.py`) keep here what their blocking
and async sides share beyond the I/O: how a failure reads (`Outcome`), when
a statement may run alone, and which connections were seen working lately
(`Liveness`, shared with the pool's check, `Sweep`). That memory is an
object's, one per pool or store, never this module's.

Counting a put
--------------

`record_checkpoints` is the store's hot path. Where the store lives beside the
saver's tables (`open_postgres_*`, `counts_in_saver`) a save is counted by being
stored, and a put only reads whether a session still holds the thread, at most
once per `held_recheck_seconds` per thread (`SaverContext.skips_count`): one
SELECT sent alone (see "Reads sent alone" below).

A store that keeps counters of its own runs a single UPDATE instead. On an
autocommit connection that is not inside a transaction it runs alone: no
BEGIN and COMMIT round trips, its own implicit transaction (atomic;
concurrent increments queue on the row lock, none is lost). And it commits
without waiting for its WAL flush (`SET LOCAL synchronous_commit TO OFF`,
carried in the statement: see `Dialect.commit_without_flush`). That is safe
for the count:

* it is applied exactly once or not at all, in order with everything else:
  WAL is replayed in order, so a crash can lose only a suffix of the
  server's asynchronous commits, never apply a later one without an earlier
  one, never half of one;
* it is durable as soon as any later synchronous commit on the server is
  (flushing WAL flushes everything before it): the next put's checkpoint,
  for one. Otherwise the WAL writer flushes it within 3 x wal_writer_delay
  (600 ms by default). So only a server crash (not a client's) within that
  window after the last puts can lose their counts: the checkpoints survive
  (the saver commits with synchronous_commit as configured) and the thread's
  count is short by those puts. It is never too high;
* the setting is LOCAL: it ends with the statement's transaction, and the
  saver's commits on the same pooled connection keep the server's setting.

The saver's put has just waited for a flush; a second one per put would
cost about one more fsync per checkpoint (see benchmarks/bench_postgres.py).
Where the statement would run inside someone else's transaction (a shared
connection in a transaction, or not in autocommit), it runs in the usual
transaction instead, and there without relaxing anything.

On the pool `open_postgres_*` builds, which checks a connection with a round
trip before lending it (`Sweep`) and lends the same one whenever it is free
(`StickyConnectionPool`), every checkout (the saver's and the store's) skips
that check for a connection seen working less than
`Liveness.trust_seconds` ago that the server has not ended: a round trip
per saver call is what made a wrapped graph turn cost 1.5x a bare one. A
server that ends a connection (restart, `pg_terminate_backend`,
`idle_session_timeout`, a crashed backend) sends a FATAL message and closes
its socket: reading what has arrived, without waiting, finds the end
(`_ended`), and the full check runs. What the recency
covers is a middlebox dropping a connection idle for minutes, which only
shows at the next packet; a connection is fully checked at least every
`trust_seconds` (and a dead one found there sweeps every idle one). In the
remaining window (the connection lost between that read and the statement, as
it could be between a check and the statement) the count fails like any
store call on a broken connection: a `StoreError` saying whether it may have
been applied, the pool replaces the connection, and the count is never
applied twice. Setting `trust_seconds` to 0 checks every connection (one
round trip more per saver or store call).

Reads sent alone, on a connection of their own
-----------------------------------------------

The count of a put and the owner check are reads sent alone, on every
checkpointer call. Taking a connection from the pool for each costs more
than the read (psycopg_pool's checkout and return, and the check); so a store
`open_postgres_*` builds keeps one connection of its own for them
(`HotReads`): one round trip, nothing else. It serves one read at a time; a
read arriving while it is busy, or while it is lost, takes the pool's way
below, as does the read a lost connection failed (it changes nothing, so it
simply runs again there). A lost connection is opened again at the next read,
at most once per `retry_after` seconds.

Reading an owner
----------------

Every checkpointer call whose config has a `user_id` first reads the owner
of its thread (`thread_owner`), never from a cache: another process may have
handed the thread id to another user. It is one SELECT, so it runs like the
count of a put: alone in autocommit (one round trip; a single statement sees
one snapshot), on a connection the pool may lend without its check round
trip. If that connection turns out to be lost, the read (which changes
nothing) runs again, in a transaction on a connection the pool checks.
benchmarks/bench_access.py measures the cost.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Generic, TypeVar

import psycopg
from psycopg import AsyncConnection, AsyncCursor, Connection, Cursor
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import ConnStatus, TransactionStatus
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from agentgit_langgraph.configs import postgres_conninfo
from agentgit_langgraph.errors import StoreError
from agentgit_langgraph.stores.statements import Op, Result, Statement

__all__ = [
    "CONNECTION_KWARGS",
    "READ_SNAPSHOT",
    "AsyncHotReads",
    "AsyncStickyConnectionPool",
    "AsyncSweep",
    "HotReads",
    "Liveness",
    "Outcome",
    "StickyConnectionPool",
    "Sweep",
    "connection_lost",
    "conninfo",
    "may_have_run",
    "pool_kwargs",
    "runs_alone",
]

AnyConnection = Connection[Any] | AsyncConnection[Any]
C = TypeVar("C", Connection[Any], AsyncConnection[Any])

# How LangGraph's Postgres savers want their connections; the store reads
# tuples through its own cursors, so it works on these as on any other.
CONNECTION_KWARGS: Mapping[str, Any] = {
    "autocommit": True,
    "prepare_threshold": 0,
    "row_factory": dict_row,
}

# Multi-statement reads see one snapshot (a session row and its threads agree).
READ_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def conninfo(conn_string: str) -> str:
    """A libpq URI (`configs.postgres_conninfo`); other strings go to libpq as they are."""
    return postgres_conninfo(conn_string) or conn_string


# One connection, more only while calls overlap (at most four): the saver's
# calls and the store's take turns on it (`StickyConnectionPool`), so a run's
# statements reach one server process with warm caches, as on the bare
# saver's one connection.
POOL_SIZES: Mapping[str, int] = {"min_size": 1, "max_size": 4}


def pool_kwargs(conn_string: str) -> dict[str, Any]:
    """What `open_postgres_*` builds its pool with."""
    return {
        "conninfo": conninfo(conn_string),
        "kwargs": dict(CONNECTION_KWARGS),
        **POOL_SIZES,
        "open": False,  # opened by the caller's `with`
    }


# -- what a failure means ------------------------------------------------------


def may_have_run(exc: psycopg.Error, was_open: bool) -> bool:
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


def connection_lost(exc: StoreError) -> bool:
    """Whether a store call failed only because its connection was lost."""
    cause = exc.__cause__
    return isinstance(cause, psycopg.OperationalError) and not cause.sqlstate


def runs_alone(conn: AnyConnection) -> bool:
    """Whether a statement sent on `conn` is its own transaction (autocommit, none open)."""
    return conn.info.transaction_status == TransactionStatus.IDLE and conn.autocommit


class Outcome:
    """How far one operation got on PostgreSQL: what its failure must say.

    A failure before the end of the operation wrote nothing (its transaction
    rolls back); one after it, at the commit, may or may not have been
    applied; a statement sent alone may have committed if its connection
    broke after sending it (`may_have_run`).
    """

    def __init__(self, op: Op[Any]) -> None:
        self.name: str = getattr(op, "__name__", "operation")
        self.finished = False
        self.alone_on_open: bool | None = None
        """Sent alone: whether the connection was open then (None: not sent alone)."""

    def alone_sql(self, stmt: Statement, conn: AnyConnection) -> str:
        """What to send for `stmt` alone: one statement, the operation's only one."""
        if self.alone_on_open is not None or stmt.alone is None:
            raise AssertionError(f"{self.name} is not a single statement; it cannot run alone")
        self.alone_on_open = not conn.closed
        return stmt.alone

    def committing(self, exc: psycopg.Error) -> bool:
        if self.alone_on_open is not None:
            return may_have_run(exc, self.alone_on_open)
        return self.finished

    @contextmanager
    def failures(self) -> Iterator[None]:
        """Every psycopg error inside, as the `StoreError` it means."""
        try:
            yield
        except psycopg.Error as exc:
            raise self.error(exc) from exc

    def error(self, exc: psycopg.Error) -> StoreError:
        detail = str(exc).strip() or "no message"
        state = f" [SQLSTATE {exc.sqlstate}]" if getattr(exc, "sqlstate", None) else ""
        if self.committing(exc):
            outcome = "the connection failed while committing: it may or may not have been applied"
        else:
            outcome = "nothing was written"
        return StoreError(
            f"PostgreSQL session store: {self.name} failed, {outcome} "
            f"({type(exc).__name__}{state}: {detail})"
        )


# -- connections seen working --------------------------------------------------


def _reusable(conn: AnyConnection) -> bool:
    """Whether `conn` is as a pool lends it: open, no transaction left."""
    pgconn = conn.pgconn
    return pgconn.status == ConnStatus.OK and pgconn.transaction_status == TransactionStatus.IDLE


def _ended(conn: AnyConnection) -> bool:
    """Whether the server has ended `conn` since its last use, as far as what has
    arrived says, read without waiting (libpq's `PQconsumeInput`).

    A server ending a connection sends a FATAL message and closes the socket:
    the first read takes the message in, the second meets the end of the
    stream, and libpq marks the connection bad. Unlike polling the socket,
    which also sees that, these reads keep Python's GIL: in a sync graph the
    saver's calls run in LangGraph's background thread while the main thread
    runs Python, and a poll there, releasing the GIL, waited for it again
    (about 180 µs a checkout against 4 µs, measured against a thread running
    Python). Anything else that arrived (a notification) stays in libpq for
    whoever reads the connection next.
    """
    pgconn = conn.pgconn
    try:
        pgconn.consume_input()
        pgconn.consume_input()
    except psycopg.OperationalError:
        return True
    return pgconn.status != ConnStatus.OK


class Liveness:
    """Which connections were seen working lately: the memory that lets the
    pool lend one without its check round trip.

    One per pool (its `Sweep` holds it, and the stores on that pool share it);
    a store on a pool without a `Sweep` keeps one nobody reads.
    """

    def __init__(self, trust_seconds: float = 5.0) -> None:
        self.trust_seconds = trust_seconds
        """How long a connection seen working may skip the check; 0 checks each one."""
        self._seen: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def saw(self, conn: AnyConnection) -> None:
        """`conn` just worked."""
        self._seen[conn] = time.monotonic()

    def last_seen(self, conn: AnyConnection) -> float | None:
        """When `conn` was last seen working (`time.monotonic()`), if it was."""
        return self._seen.get(conn)

    def seen_working(self, conn: AnyConnection) -> bool:
        """Whether `conn` may skip the pool's check (see "Counting a put")."""
        seen = self._seen.get(conn)
        if seen is None or time.monotonic() - seen > self.trust_seconds:
            return False
        return _reusable(conn) and not _ended(conn)


class Sweep:
    """The pool's `check`: test a connection before lending it, as
    `ConnectionPool.check_connection` does, and when one is dead test every
    idle one at once. A server restart kills them all; without the sweep the
    pool would find them one by one, backing off 1, 2, 4... seconds in between.
    A connection seen working just before skips the round trip (see
    "Counting a put").
    """

    def __init__(self, liveness: Liveness | None = None) -> None:
        self.liveness = liveness or Liveness()
        self.pool: ConnectionPool[Any] | None = None

    def __call__(self, conn: Connection[Any]) -> None:
        if self.liveness.seen_working(conn):
            return
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None:
                self.pool.check()
            raise
        self.liveness.saw(conn)


class AsyncSweep:
    """`Sweep` for an `AsyncConnectionPool`."""

    def __init__(self, liveness: Liveness | None = None) -> None:
        self.liveness = liveness or Liveness()
        self.pool: AsyncConnectionPool[Any] | None = None

    async def __call__(self, conn: AsyncConnection[Any]) -> None:
        if self.liveness.seen_working(conn):
            return
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None:
                await self.pool.check()
            raise
        self.liveness.saw(conn)


# -- the same connection, whenever it is free ----------------------------------


class _HeldConnection(Generic[C]):
    """The connection a sticky pool lends whenever it is free: the decisions its
    blocking and async twins share (they differ only in awaiting the pool)."""

    def __init__(self, liveness: Liveness) -> None:
        self.liveness = liveness
        self.conn: C | None = None

    def take(self) -> tuple[C | None, C | None]:
        """`(ready, stale)`: the held connection if it may be lent as it is
        (`Liveness.seen_working`), else one to give back to the pool, which
        checks, resets or replaces it."""
        held, self.conn = self.conn, None
        if held is None:
            return None, None
        return (held, None) if self.liveness.seen_working(held) else (None, held)

    def keep(self, conn: C, pool_closed: bool) -> bool:
        """After a call on `conn`: hold it again (True), or give it back to the pool
        (broken, left in a transaction, or the pool closed meanwhile)."""
        if pool_closed or not _reusable(conn):
            return False
        self.conn = conn
        self.liveness.saw(conn)
        return True

    def release(self) -> C | None:
        """On closing: the held connection, to give back to the pool."""
        conn, self.conn = self.conn, None
        return conn


class StickyConnectionPool(ConnectionPool[Connection[Any]]):
    """A `ConnectionPool` that lends the same connection whenever it is free.

    LangGraph's `PostgresSaver` takes a connection for every call and holds
    its own lock around it, so one connection serves it; but `psycopg_pool`
    lends its idle connections first in, first out, through a lock, its
    statistics and the `check`. Measured on whole graph turns against
    `PostgresSaver.from_conn_string`'s one connection, the bare saver read
    1.048 on a plain pool of four, 1.028 to 1.051 on a pool of one, and 1.016
    to 1.031 on this pool (benchmarks/bench_turns.py's pool rows). This pool
    keeps one connection out of the pool for whoever asks while it is free
    and lends it after only `Liveness.seen_working` (the part of `Sweep`
    that needs no round trip). Everything else is the pool's: a call
    arriving while that connection is busy gets another one, and a held
    connection not seen working lately (or that the server ended), or one a
    call left in a transaction or broken, goes back to
    the pool, which checks, resets or replaces it as it does any other.

    Its `check` is a `Sweep` of its own, sharing `liveness`.

    Example:
        >>> with StickyConnectionPool(**pool_kwargs(uri)) as pool:  # doctest: +SKIP
        ...     saver = PostgresSaver(pool)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        sweep = Sweep()
        super().__init__(*args, check=sweep, **kwargs)
        sweep.pool = self
        self.liveness = sweep.liveness
        """What this pool trusts; a store on it shares it (`open_postgres_sync`)."""
        self._held: _HeldConnection[Connection[Any]] = _HeldConnection(self.liveness)
        self._held_lock = threading.Lock()

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Connection[Any]]:
        if not self._held_lock.acquire(blocking=False):
            with super().connection(timeout) as conn:
                yield conn
            return
        try:
            ready, stale = self._held.take()
            if stale is not None:
                self.putconn(stale)
            conn = ready if ready is not None else self.getconn(timeout)
            try:
                yield conn
            finally:
                if not self._held.keep(conn, self.closed):
                    self.putconn(conn)
        finally:
            self._held_lock.release()

    def close(self, timeout: float = 5.0) -> None:
        # A call still holding it (a `list` left unfinished) returns it to the
        # closed pool, which closes it: never wait for that call here.
        if self._held_lock.acquire(blocking=False):
            try:
                if (conn := self._held.release()) is not None:
                    self.putconn(conn)
            finally:
                self._held_lock.release()
        super().close(timeout)


class AsyncStickyConnectionPool(AsyncConnectionPool[AsyncConnection[Any]]):
    """`StickyConnectionPool` for asyncio: an `AsyncConnectionPool` that lends
    the same connection whenever it is free."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        sweep = AsyncSweep()
        super().__init__(*args, check=sweep, **kwargs)
        sweep.pool = self
        self.liveness = sweep.liveness
        self._held: _HeldConnection[AsyncConnection[Any]] = _HeldConnection(self.liveness)
        self._held_busy = False  # one event loop: nothing runs between test and set

    @asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[AsyncConnection[Any]]:
        if self._held_busy:
            async with super().connection(timeout) as conn:
                yield conn
            return
        self._held_busy = True
        try:
            ready, stale = self._held.take()
            if stale is not None:
                await self.putconn(stale)
            conn = ready if ready is not None else await self.getconn(timeout)
            try:
                yield conn
            finally:
                if not self._held.keep(conn, self.closed):
                    await self.putconn(conn)
        finally:
            self._held_busy = False

    async def close(self, timeout: float = 5.0) -> None:
        # Else the call holding it returns it to the closed pool (as in `close`).
        if not self._held_busy and (conn := self._held.release()) is not None:
            await self.putconn(conn)
        await super().close(timeout)


# -- reads sent alone ----------------------------------------------------------


class _HotPolicy:
    """What `HotReads` and `AsyncHotReads` share: when to (re)open, what a failure means."""

    def __init__(self, conn_string: str, retry_after: float) -> None:
        info = conninfo(conn_string)
        # Opened inside a checkpointer call: never wait on an unreachable host
        # for the operating system's TCP timeout.
        if "connect_timeout" not in conninfo_to_dict(info):
            info = make_conninfo(info, connect_timeout=5)
        self.conninfo = info
        self.retry_after = retry_after
        self.failed_at = float("-inf")
        self.closed = False

    def may_open(self) -> bool:
        return not self.closed and time.monotonic() - self.failed_at >= self.retry_after

    def open_failed(self) -> None:
        self.failed_at = time.monotonic()

    @staticmethod
    def lost(conn: AnyConnection) -> bool:
        """After an error: whether it was only the connection that failed."""
        return conn.broken or conn.closed


class HotReads:
    """A connection of a store's own for its reads sent alone (see "Reads sent
    alone" above): `read` answers one, or None where the pool's way must.

    Example:
        >>> hot = HotReads("postgresql://...")  # doctest: +SKIP
        >>> store.hot_reads = hot               # a PostgresSessionStore; close `hot` after
    """

    def __init__(self, conn_string: str, *, retry_after: float = 1.0) -> None:
        self._policy = _HotPolicy(conn_string, retry_after)
        self._lock = threading.Lock()
        self._cursor: Cursor[Any] | None = None

    def read(self, op: Op[Any], stmt: Statement) -> Result | None:
        if stmt.alone is None or not self._lock.acquire(blocking=False):
            return None  # busy with another thread's read: that one takes the pool
        try:
            cur = self._cursor or self._open()
            if cur is None:
                return None
            try:
                cur.execute(stmt.alone, stmt.params)
                return Result(-1, cur.fetchall())
            except psycopg.Error as exc:
                if not self._policy.lost(cur.connection):
                    raise Outcome(op).error(exc) from exc
                self._drop()
                return None
        finally:
            self._lock.release()

    def _open(self) -> Cursor[Any] | None:
        if not self._policy.may_open():
            return None
        try:
            conn = Connection.connect(self._policy.conninfo, **CONNECTION_KWARGS)
        except psycopg.Error:
            self._policy.open_failed()
            return None
        self._cursor = conn.cursor(row_factory=tuple_row)
        return self._cursor

    def _drop(self) -> None:
        if self._cursor is not None:
            self._cursor.connection.close()
            self._cursor = None

    def close(self) -> None:
        with self._lock:
            self._policy.closed = True
            self._drop()


class AsyncHotReads:
    """`HotReads` for the async store, built in the loop that uses it."""

    def __init__(self, conn_string: str, *, retry_after: float = 1.0) -> None:
        self._policy = _HotPolicy(conn_string, retry_after)
        self._lock = asyncio.Lock()
        self._cursor: AsyncCursor[Any] | None = None

    async def read(self, op: Op[Any], stmt: Statement) -> Result | None:
        if stmt.alone is None or self._lock.locked():
            return None
        async with self._lock:
            cur = self._cursor or await self._open()
            if cur is None:
                return None
            try:
                await cur.execute(stmt.alone, stmt.params)
                return Result(-1, await cur.fetchall())
            except psycopg.Error as exc:
                if not self._policy.lost(cur.connection):
                    raise Outcome(op).error(exc) from exc
                await self._drop()
                return None

    async def _open(self) -> AsyncCursor[Any] | None:
        if not self._policy.may_open():
            return None
        try:
            conn = await AsyncConnection.connect(self._policy.conninfo, **CONNECTION_KWARGS)
        except psycopg.Error:
            self._policy.open_failed()
            return None
        self._cursor = conn.cursor(row_factory=tuple_row)
        return self._cursor

    async def _drop(self) -> None:
        if self._cursor is not None:
            await self._cursor.connection.close()
            self._cursor = None

    async def close(self) -> None:
        async with self._lock:
            self._policy.closed = True
            await self._drop()
