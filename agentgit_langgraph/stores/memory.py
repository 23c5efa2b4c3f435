"""In-process session store: the default for `InMemorySaver`.

A `SqliteSessionStore` on a private in-memory SQLite database, so every rule
of the store (counts, branches, tags, notes, reversal claims) is written once,
in `stores/sql.py`, and holds here exactly as on disk. Lost when the process
ends, like the `InMemorySaver` it is paired with.

Example:
    >>> store = InMemorySessionStore()
    >>> s = store.create_session(user_id=1, session_name="demo", metadata=None, thread_id="t1")
    >>> store.record_checkpoints("t1")
    True
    >>> store.get_session(s.id).total_checkpoints
    1
"""

from __future__ import annotations

import sqlite3

from agentgit_langgraph.stores.sqlite import SqliteSessionStore

__all__ = ["InMemorySessionStore"]


class InMemorySessionStore(SqliteSessionStore):
    """Sessions in a private in-memory SQLite database, guarded by a lock."""

    def __init__(self) -> None:
        super().__init__(sqlite3.connect(":memory:", check_same_thread=False))
