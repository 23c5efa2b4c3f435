"""Session stores: where `ExternalSession` and `InternalSession` records live."""

from agentgit_langgraph.stores.base import BaseSessionStore
from agentgit_langgraph.stores.memory import InMemorySessionStore
from agentgit_langgraph.stores.sqlite import AsyncSqliteSessionStore, SqliteSessionStore

__all__ = [
    "AsyncSqliteSessionStore",
    "BaseSessionStore",
    "InMemorySessionStore",
    "SqliteSessionStore",
]

try:  # the `postgres` extra (psycopg 3) is optional
    from agentgit_langgraph.stores.postgres import (
        AsyncPostgresSessionStore,
        PostgresSessionStore,
    )
except ImportError:  # pragma: no cover - depends on the environment
    pass
else:
    __all__ += ["AsyncPostgresSessionStore", "PostgresSessionStore"]
