"""Forgetting sessions and threads, and the notes of checkpoints left to erase."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentgit_langgraph import _validate as check
from agentgit_langgraph.errors import (
    ThreadBusyError,
)
from agentgit_langgraph.stores.base import now
from agentgit_langgraph.stores.dialect import Dialect
from agentgit_langgraph.stores.ops.reversals import DELETE_ORPHAN_CLAIMS
from agentgit_langgraph.stores.statements import Op, Statement


def _note_deletes(d: Dialect, thread_ids: Sequence[str]) -> Op[None]:
    """Note threads whose checkpoints must go, in the transaction forgetting them."""
    stamp = d.ts(now())
    for thread_id in thread_ids:
        yield Statement(
            d.sql(
                "INSERT INTO agentgit_pending_deletes (thread_id, created_at) VALUES (?, ?) "
                "ON CONFLICT (thread_id) DO NOTHING"
            ),
            (thread_id, stamp),
        )


def list_pending_deletes(d: Dialect) -> Op[list[str]]:
    res = yield Statement("SELECT thread_id FROM agentgit_pending_deletes ORDER BY created_at")
    return [str(r[0]) for r in res.rows]


def forget_pending_delete(d: Dialect, thread_id: str) -> Op[bool]:
    res = yield Statement(
        d.sql("DELETE FROM agentgit_pending_deletes WHERE thread_id = ?"), (thread_id,)
    )
    return res.rowcount > 0


def _in_list(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def delete_session(d: Dialect, session_id: int) -> Op[list[str] | None]:
    """Forget the session, noting its threads for deletion; None if there was none."""
    session_id = check.store_session_id(session_id)
    # Lock the session row first: a branch being added (`add_branch` updates
    # that row) then either lands before and is listed below, or finds the
    # session gone. Without it, under READ COMMITTED the DELETE below could
    # remove a branch registered after the SELECT, leaving its checkpoints
    # unnoted.
    found = yield Statement(
        d.sql("SELECT id FROM agentgit_sessions WHERE id = ?" + d.for_update), (session_id,)
    )
    if not found.rows:
        return None
    threads = yield Statement(
        d.sql("SELECT thread_id FROM agentgit_threads WHERE session_id = ? ORDER BY seq"),
        (session_id,),
    )
    thread_ids = [str(r[0]) for r in threads.rows]
    # Explicit deletes: SQLite enforces ON DELETE CASCADE only with foreign_keys on.
    yield Statement(d.sql("DELETE FROM agentgit_reversals WHERE session_id = ?"), (session_id,))
    yield Statement(
        d.sql("DELETE FROM agentgit_reversal_claims WHERE session_id = ?"), (session_id,)
    )
    yield Statement(d.sql("DELETE FROM agentgit_tags WHERE session_id = ?"), (session_id,))
    yield Statement(d.sql("DELETE FROM agentgit_threads WHERE session_id = ?"), (session_id,))
    res = yield Statement(d.sql("DELETE FROM agentgit_sessions WHERE id = ?"), (session_id,))
    if res.rowcount == 0:
        return None
    yield from _note_deletes(d, thread_ids)
    return thread_ids


def delete_threads(d: Dialect, session_id: int, thread_ids: Sequence[str]) -> Op[int]:
    """Forget threads of a session (never its current one) and their tags.

    Checked and done in one transaction, which also notes the threads for
    deletion (`list_pending_deletes`): the caller deletes their checkpoints
    only after this succeeded, so a refusal destroys nothing.
    """
    session_id, ids = check.store_session_id(session_id), check.thread_ids(thread_ids)
    if not ids:
        return 0
    current = yield Statement(
        d.sql("SELECT current_thread_id FROM agentgit_sessions WHERE id = ?" + d.for_update),
        (session_id,),
    )
    if current.rows and current.rows[0][0] in ids:
        raise ThreadBusyError(
            f"thread {current.rows[0][0]!r} is current in session {session_id}; nothing was removed"
        )
    for table in ("agentgit_tags", "agentgit_reversals"):
        yield Statement(
            d.sql(f"DELETE FROM {table} WHERE session_id = ? AND thread_id IN ({_in_list(ids)})"),
            (session_id, *ids),
        )
    yield Statement(d.sql(DELETE_ORPHAN_CLAIMS), (session_id,))
    res = yield Statement(
        d.sql(
            f"DELETE FROM agentgit_threads WHERE session_id = ? AND thread_id IN ({_in_list(ids)})"
        ),
        (session_id, *ids),
    )
    yield from _note_deletes(d, ids)
    return res.rowcount


def forget_thread(d: Dialect, thread_id: str) -> Op[bool]:
    """Take a thread out of its session, noting it for deletion; False if none held it.

    When it was current, the session's newest remaining thread becomes current;
    a session left without threads is forgotten with it.
    """
    found = yield Statement(
        d.sql("SELECT session_id FROM agentgit_threads WHERE thread_id = ?"), (thread_id,)
    )
    if not found.rows:
        return False
    session_id = int(found.rows[0][0])
    yield Statement(
        d.sql("SELECT id FROM agentgit_sessions WHERE id = ?" + d.for_update), (session_id,)
    )
    for table in ("agentgit_tags", "agentgit_threads"):
        yield Statement(d.sql(f"DELETE FROM {table} WHERE thread_id = ?"), (thread_id,))
    rest = yield Statement(
        d.sql("SELECT thread_id FROM agentgit_threads WHERE session_id = ? ORDER BY seq DESC"),
        (session_id,),
    )
    if rest.rows:
        yield Statement(
            d.sql(
                "UPDATE agentgit_sessions SET current_thread_id = ?, updated_at = ? "
                "WHERE id = ? AND current_thread_id = ?"
            ),
            (rest.rows[0][0], d.ts(now()), session_id, thread_id),
        )
    else:
        yield from delete_session(d, session_id)
    yield from _note_deletes(d, [thread_id])
    return True
