"""Git-style sessions for LangGraph agents.

Wrap any checkpointer and every conversation becomes a session; every rollback
opens a new branch (a fresh thread starting at the chosen checkpoint); nothing
is overwritten.

Example:
    ```python
    from agentgit_langgraph import AgentGitSaver

    with AgentGitSaver.from_conn_string("agent.db") as saver:
        graph = builder.compile(checkpointer=saver)
    ```
"""

from importlib.metadata import PackageNotFoundError, version

from agentgit_langgraph import stores
from agentgit_langgraph.adoption import SavedThread
from agentgit_langgraph.errors import (
    AgentGitError,
    AmbiguousRefError,
    AsyncUnsupportedError,
    CheckpointNotFoundError,
    InvalidConfigError,
    InvalidRequestError,
    NameConflictError,
    RefNotFoundError,
    ReversalTimeoutError,
    ReversedToolCallsWarning,
    SessionAccessError,
    SessionNotFoundError,
    StoreError,
    ThreadBusyError,
    ThreadNotFoundError,
    ToolReversalError,
    UnreversedToolCallsWarning,
    VolatileSessionStoreWarning,
)
from agentgit_langgraph.history import (
    BranchStats,
    CheckpointView,
    SessionStats,
    render_log,
)
from agentgit_langgraph.reversal import ToolReversers, reversers_from, reversible_tool, with_undo
from agentgit_langgraph.saver import AgentGitSaver
from agentgit_langgraph.sessions import ExternalSession, InternalSession, Reversal, Tag
from agentgit_langgraph.stores import (
    AsyncSqliteSessionStore,
    BaseSessionStore,
    InMemorySessionStore,
    SqliteSessionStore,
)

try:
    __version__ = version("agentgit-langgraph")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AgentGitError",
    "AgentGitSaver",
    "AmbiguousRefError",
    "AsyncSqliteSessionStore",
    "AsyncUnsupportedError",
    "BaseSessionStore",
    "BranchStats",
    "CheckpointNotFoundError",
    "CheckpointView",
    "ExternalSession",
    "InMemorySessionStore",
    "InternalSession",
    "InvalidConfigError",
    "InvalidRequestError",
    "NameConflictError",
    "RefNotFoundError",
    "Reversal",
    "ReversalTimeoutError",
    "ReversedToolCallsWarning",
    "SavedThread",
    "SessionAccessError",
    "SessionNotFoundError",
    "SessionStats",
    "SqliteSessionStore",
    "StoreError",
    "Tag",
    "ThreadBusyError",
    "ThreadNotFoundError",
    "ToolReversalError",
    "ToolReversers",
    "UnreversedToolCallsWarning",
    "VolatileSessionStoreWarning",
    "render_log",
    "reversers_from",
    "reversible_tool",
    "with_undo",
]

# The PostgreSQL stores when `stores` has them (the optional `postgres` extra).
if "PostgresSessionStore" in stores.__all__:
    from agentgit_langgraph.stores import AsyncPostgresSessionStore, PostgresSessionStore

    __all__ += ["AsyncPostgresSessionStore", "PostgresSessionStore"]
