"""Opening a LangGraph saver and a session store on the same database.

The backend follows from the connection string, as SQLAlchemy URLs do:
`postgresql://...` (or `postgres://...`) is PostgreSQL, anything else is a
SQLite path, `":memory:"` included. A path that cannot be opened as a SQLite
database (a directory, a file that is not a database) raises `StoreError`
naming it, before anything is yielded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agentgit_langgraph.stores.base import BaseSessionStore
from agentgit_langgraph.stores.sqlite import (
    AsyncSqliteSessionStore,
    SqliteSessionStore,
    aconnect_sqlite,
    connect_sqlite,
)

__all__ = ["is_postgres_uri", "open_async", "open_sync"]

Pair = tuple[BaseCheckpointSaver[Any], BaseSessionStore]


def is_postgres_uri(conn_string: str) -> bool:
    return conn_string.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


# The store gets a connection of its own, so counting a save never waits on the
# saver's lock, and it commits without an fsync of its own: in WAL mode the
# saver's next commit (synchronous=FULL by default) syncs the same log, so the
# count of a save is durable once the next save is; only a power cut right
# after a save can lose its count (never corrupt it). A second fsync per save
# would cost about 60% on `put` (see benchmarks/bench_core.py).
_STORE_SYNCHRONOUS = "PRAGMA synchronous=NORMAL"


def _is_private_sqlite(conn_string: str) -> bool:
    # A second connection to these would open a different, empty database.
    return conn_string == ":memory:" or conn_string == ""


@contextmanager
def open_sync(conn_string: str) -> Iterator[Pair]:
    if is_postgres_uri(conn_string):
        from agentgit_langgraph.stores.postgres import open_postgres_sync

        with open_postgres_sync(conn_string) as pair:
            yield pair
        return
    with connect_sqlite(conn_string) as conn:
        saver = SqliteSaver(conn)
        if _is_private_sqlite(conn_string):
            yield saver, SqliteSessionStore(conn, lock=saver.lock)
            return
        with connect_sqlite(conn_string) as store_conn:
            store_conn.execute(_STORE_SYNCHRONOUS)
            yield saver, SqliteSessionStore(store_conn)


@asynccontextmanager
async def open_async(conn_string: str) -> AsyncIterator[Pair]:
    if is_postgres_uri(conn_string):
        from agentgit_langgraph.stores.postgres import open_postgres_async

        async with open_postgres_async(conn_string) as pair:
            yield pair
        return
    async with aconnect_sqlite(conn_string) as conn:
        saver = AsyncSqliteSaver(conn)
        if _is_private_sqlite(conn_string):
            yield saver, AsyncSqliteSessionStore(conn, lock=saver.lock)
            return
        async with aconnect_sqlite(conn_string) as store_conn:
            await store_conn.execute(_STORE_SYNCHRONOUS)
            yield saver, AsyncSqliteSessionStore(store_conn)
