"""Opening a LangGraph saver and a session store on the same database.

The backend follows from the connection string, as SQLAlchemy URLs do:
`postgresql://...` (or `postgres://...`) is PostgreSQL, anything else is a
SQLite path, `":memory:"` included.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agentgit_langgraph.stores.base import BaseSessionStore
from agentgit_langgraph.stores.sqlite import AsyncSqliteSessionStore, SqliteSessionStore

__all__ = ["is_postgres_uri", "open_async", "open_sync"]

Pair = tuple[BaseCheckpointSaver[Any], BaseSessionStore]


def is_postgres_uri(conn_string: str) -> bool:
    return conn_string.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


# The store shares the saver's connection and lock: on the hot path it only
# reads (`record_checkpoints`; counts come from the saver's own table), and a
# second connection writing would make SQLite drop the saver connection's page
# cache at every change.


@contextmanager
def open_sync(conn_string: str) -> Iterator[Pair]:
    if is_postgres_uri(conn_string):
        from agentgit_langgraph.stores.postgres import open_postgres_sync

        with open_postgres_sync(conn_string) as pair:
            yield pair
        return
    with closing(sqlite3.connect(conn_string, check_same_thread=False)) as conn:
        saver = SqliteSaver(conn)
        yield saver, SqliteSessionStore(conn, lock=saver.lock, saver=saver)


@asynccontextmanager
async def open_async(conn_string: str) -> AsyncIterator[Pair]:
    if is_postgres_uri(conn_string):
        from agentgit_langgraph.stores.postgres import open_postgres_async

        async with open_postgres_async(conn_string) as pair:
            yield pair
        return
    async with aiosqlite.connect(conn_string) as conn:
        saver = AsyncSqliteSaver(conn)
        yield saver, AsyncSqliteSessionStore(conn, lock=saver.lock, saver=saver)
