"""Operations on tags: names for checkpoints, one per name in a session."""

from __future__ import annotations

from agentgit_langgraph import _validate as check
from agentgit_langgraph.errors import (
    NameConflictError,
    ThreadNotFoundError,
)
from agentgit_langgraph.sessions import (
    Tag,
)
from agentgit_langgraph.stores.base import now
from agentgit_langgraph.stores.dialect import Dialect
from agentgit_langgraph.stores.rows import (
    TAG_COLUMNS,
    tag_from_row,
)
from agentgit_langgraph.stores.statements import Op, Statement


def add_tag(d: Dialect, tag: Tag) -> Op[None]:
    check.tag(tag)
    # Checked in the transaction that inserts: a tag never outlives its thread's
    # membership of the session (a delete or prune may have just forgotten it).
    held = yield Statement(
        d.sql(
            "SELECT 1 FROM agentgit_sessions s JOIN agentgit_threads t ON t.session_id = s.id "
            "WHERE s.id = ? AND t.thread_id = ?" + d.for_update
        ),
        (tag.session_id, tag.thread_id),
    )
    if not held.rows:
        raise ThreadNotFoundError(
            f"thread {tag.thread_id!r} is no longer in session {tag.session_id}; no tag added"
        )
    # In the transaction that adds it: a branch named meanwhile cannot slip in.
    shadowed = yield Statement(
        d.sql(
            "SELECT 1 FROM agentgit_threads WHERE session_id = ? AND (name = ? OR thread_id = ?)"
        ),
        (tag.session_id, tag.name, tag.name),
    )
    if shadowed.rows:
        raise NameConflictError(
            f"session {tag.session_id} has a branch or thread named {tag.name!r}: "
            "a tag of that name would shadow it"
        )
    res = yield Statement(
        d.sql(
            "INSERT INTO agentgit_tags (session_id, name, thread_id, checkpoint_ns, "
            "checkpoint_id, created_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (session_id, name) DO NOTHING"
        ),
        (
            tag.session_id,
            tag.name,
            tag.thread_id,
            tag.checkpoint_ns,
            tag.checkpoint_id,
            d.ts(tag.created_at or now()),
        ),
    )
    if res.rowcount == 0:
        raise NameConflictError(f"session {tag.session_id} already has a tag named {tag.name!r}")


def list_tags(d: Dialect, session_id: int) -> Op[list[Tag]]:
    session_id = check.store_session_id(session_id)
    res = yield Statement(
        d.sql(
            f"SELECT {TAG_COLUMNS} FROM agentgit_tags "
            "WHERE session_id = ? ORDER BY created_at, name"
        ),
        (session_id,),
    )
    return [tag_from_row(r) for r in res.rows]


def delete_tag(d: Dialect, session_id: int, name: str) -> Op[bool]:
    session_id, name = check.store_session_id(session_id), check.name(name)
    res = yield Statement(
        d.sql("DELETE FROM agentgit_tags WHERE session_id = ? AND name = ?"), (session_id, name)
    )
    return res.rowcount > 0
