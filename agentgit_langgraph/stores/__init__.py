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
