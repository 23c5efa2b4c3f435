"""Every store operation, for every SQL backend: generators of `Statement`s.

Each takes the `Dialect` first and holds all of its logic; a store runs it
in one transaction (`stores/statements.py`).
"""

from __future__ import annotations

from agentgit_langgraph.stores.ops.deletes import (
    delete_session,
    delete_threads,
    forget_pending_delete,
    forget_thread,
    list_pending_deletes,
)
from agentgit_langgraph.stores.ops.migrate import applied, migrate, setup
from agentgit_langgraph.stores.ops.reversals import (
    claim_reversal,
    finish_reversal,
    list_reversals,
    take_over_reversal,
)
from agentgit_langgraph.stores.ops.sessions import (
    create_session,
    ensure_session_for_thread,
    get_session,
    list_sessions,
    update_metadata,
)
from agentgit_langgraph.stores.ops.tags import add_tag, delete_tag, list_tags
from agentgit_langgraph.stores.ops.threads import (
    add_branch,
    begin_branch,
    checkpoint_links,
    forget_pending_branch,
    get_thread,
    list_pending_branches,
    list_threads,
    record_checkpoints,
    set_current,
    set_thread_status,
    thread_owner,
)

__all__ = [
    "add_branch",
    "add_tag",
    "applied",
    "begin_branch",
    "checkpoint_links",
    "claim_reversal",
    "create_session",
    "delete_session",
    "delete_tag",
    "delete_threads",
    "ensure_session_for_thread",
    "finish_reversal",
    "forget_pending_branch",
    "forget_pending_delete",
    "forget_thread",
    "get_session",
    "get_thread",
    "list_pending_branches",
    "list_pending_deletes",
    "list_reversals",
    "list_sessions",
    "list_tags",
    "list_threads",
    "migrate",
    "record_checkpoints",
    "set_current",
    "set_thread_status",
    "setup",
    "take_over_reversal",
    "thread_owner",
    "update_metadata",
]
