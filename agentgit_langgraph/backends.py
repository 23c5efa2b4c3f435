"""Opening a LangGraph saver and a session store on the same database.

The backend follows from the connection string, as SQLAlchemy URLs do:
`postgresql://...` (or `postgres://...`) is PostgreSQL, anything else is a
SQLite path, `":memory:"` included. A path that cannot be opened as a SQLite
database (a directory, a file that is not a database) raises `StoreError`
naming it, before anything is yielded. `default_store_for` picks the store of
a saver given without one.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agentgit_langgraph.configs import postgres_conninfo
from agentgit_langgraph.errors import VolatileSessionStoreWarning
from agentgit_langgraph.stores.base import BaseSessionStore
from agentgit_langgraph.stores.memory import InMemorySessionStore
from agentgit_langgraph.stores.sqlite import (
    AsyncSqliteSessionStore,
    SqliteSessionStore,
    aconnect_sqlite,
    connect_sqlite,
)

__all__ = ["default_store_for", "is_postgres_uri", "open_async", "open_sync", "sync_only"]

Pair = tuple[BaseCheckpointSaver[Any], BaseSessionStore]


def default_store_for(saver: BaseCheckpointSaver[Any]) -> BaseSessionStore:
    """The session store for `saver` when `AgentGitSaver` is given none.

    Sessions go where the checkpoints are, so that a one-line integration
    never loses them on restart:

    * `SqliteSaver` / `AsyncSqliteSaver`: `SqliteSessionStore` /
      `AsyncSqliteSessionStore` on the saver's connection, under its lock;
    * `PostgresSaver` / `AsyncPostgresSaver`: `PostgresSessionStore` /
      `AsyncPostgresSessionStore` on the saver's connection or pool, under its
      lock;
    * `InMemorySaver`: `InMemorySessionStore` (both die with the process);
    * any other saver: `InMemorySessionStore`, with a
      `VolatileSessionStoreWarning` naming the fix.

    The tables are created on first use (lazy `setup()`), next to the saver's.
    Each of these stores reads a thread's count from the saver's own
    `checkpoints` table, so a save is counted exactly when it is stored.

    Example:
        >>> import sqlite3
        >>> saver = SqliteSaver(sqlite3.connect(":memory:", check_same_thread=False))
        >>> type(default_store_for(saver)).__name__
        'SqliteSessionStore'
    """
    if isinstance(saver, SqliteSaver):
        return SqliteSessionStore(saver.conn, lock=saver.lock, saver=saver)
    if isinstance(saver, AsyncSqliteSaver):
        return AsyncSqliteSessionStore(saver.conn, lock=saver.lock, saver=saver)
    if isinstance(saver, InMemorySaver):
        return InMemorySessionStore()
    store = _postgres_store_for(saver)
    if store is not None:
        return store
    warnings.warn(
        f"AgentGitSaver keeps the sessions of this {type(saver).__name__} in memory: they "
        "are lost when the process ends, though its checkpoints may not be. Pass a "
        "persistent store (AgentGitSaver(saver, store=SqliteSessionStore(...)) or "
        "PostgresSessionStore(...)), or open both with AgentGitSaver.from_conn_string(...).",
        VolatileSessionStoreWarning,
        stacklevel=3,
    )
    return InMemorySessionStore()


def _postgres_store_for(saver: BaseCheckpointSaver[Any]) -> BaseSessionStore | None:
    try:  # the `postgres` extra is optional; without it no saver can be a Postgres one
        from langgraph.checkpoint.postgres import PostgresSaver
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        from agentgit_langgraph.stores.postgres import (
            AsyncPostgresSessionStore,
            PostgresSessionStore,
        )
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    if isinstance(saver, PostgresSaver):
        return PostgresSessionStore(saver.conn, lock=saver.lock, counts_in_saver=True)
    if isinstance(saver, AsyncPostgresSaver):
        return AsyncPostgresSessionStore(saver.conn, lock=saver.lock, counts_in_saver=True)
    return None


def sync_only(saver: BaseCheckpointSaver[Any]) -> str | None:
    """Why `saver` cannot serve async code (None when it can): it is a sync-only
    LangGraph saver, whose async methods only raise `NotImplementedError`.

    Example:
        >>> sync_only(InMemorySaver()) is None
        True
    """
    kind = type(saver).__name__
    if isinstance(saver, SqliteSaver) or kind == "PostgresSaver":
        twin = "AsyncSqliteSaver" if isinstance(saver, SqliteSaver) else "AsyncPostgresSaver"
        return (
            f"this AgentGitSaver wraps a {kind}, which has no async methods: in async code "
            "open it with `async with AgentGitSaver.afrom_conn_string(conn_string) as saver` "
            f"(it wraps {twin}), or wrap an {twin} yourself"
        )
    if type(saver).aget_tuple is BaseCheckpointSaver.aget_tuple:
        return (
            f"this AgentGitSaver wraps a {kind}, which has no async methods: in async code "
            "wrap a saver that has them (e.g. `AgentGitSaver.afrom_conn_string(...)`)"
        )
    return None


def is_postgres_uri(conn_string: str) -> bool:
    """Whether `from_conn_string` opens PostgreSQL for this string (`configs.postgres_conninfo`)."""
    return postgres_conninfo(conn_string) is not None


# On SQLite the store shares the saver's connection and lock (`default_store_for`):
# on the hot path it only reads (`record_checkpoints`; counts come from the
# saver's own table), and a second connection writing would make SQLite drop
# the saver connection's page cache at every change.


@contextmanager
def open_sync(conn_string: str, *, set_up_store: bool = True) -> Iterator[Pair]:
    """The saver and its store; `set_up_store=False` leaves the store's tables alone."""
    if is_postgres_uri(conn_string):
        from agentgit_langgraph.stores.postgres import open_postgres_sync

        with open_postgres_sync(conn_string, set_up_store=set_up_store) as pair:
            yield pair
        return
    with connect_sqlite(conn_string) as conn:
        saver = SqliteSaver(conn)
        yield saver, default_store_for(saver)


@asynccontextmanager
async def open_async(conn_string: str) -> AsyncIterator[Pair]:
    if is_postgres_uri(conn_string):
        from agentgit_langgraph.stores.postgres import open_postgres_async

        async with open_postgres_async(conn_string) as pair:
            yield pair
        return
    async with aconnect_sqlite(conn_string) as conn:
        saver = AsyncSqliteSaver(conn)
        yield saver, default_store_for(saver)
