"""Operations on threads: reading them, counting their saves, adding branches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agentgit_langgraph import _validate as check
from agentgit_langgraph.errors import (
    NameConflictError,
    SessionNotFoundError,
    StoreError,
)
from agentgit_langgraph.sessions import (
    InternalSession,
)
from agentgit_langgraph.stores.base import CheckpointLinks, PendingBranch, now
from agentgit_langgraph.stores.dialect import Dialect
from agentgit_langgraph.stores.rows import (
    pending_branch_from_row,
    thread_from_row,
)
from agentgit_langgraph.stores.statements import Op, Statement


def select_threads(d: Dialect) -> str:
    return d.sql(
        f"SELECT {d.thread_columns} FROM agentgit_threads WHERE session_id = ? ORDER BY seq"
    )


# The columns `thread_params` fills, in its order (`session_id` second).
THREAD_INSERT_COLUMNS = (
    "thread_id, session_id, parent_thread_id, branch_checkpoint_id, name, created_at, "
    "checkpoint_count, is_branch, updated_at, status, status_reason, intent"
)

INSERT_THREAD = (
    f"INSERT INTO agentgit_threads ({THREAD_INSERT_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO NOTHING"
)


def thread_params(d: Dialect, t: InternalSession, stamp: datetime) -> tuple[Any, ...]:
    created = d.ts(t.created_at or stamp)
    return (
        t.thread_id,
        t.session_id,
        t.parent_thread_id,
        t.branch_checkpoint_id,
        t.name,
        created,
        t.checkpoint_count,
        t.is_branch,
        created,
        t.status,
        t.status_reason,
        t.intent,
    )


def get_thread(d: Dialect, thread_id: str) -> Op[InternalSession | None]:
    thread_id = check.thread_id(thread_id)
    res = yield Statement(
        d.sql(f"SELECT {d.thread_columns} FROM agentgit_threads WHERE thread_id = ?"),
        (thread_id,),
    )
    return thread_from_row(res.rows[0]) if res.rows else None


def thread_owner(d: Dialect, thread_id: str) -> Op[tuple[int, str] | None]:
    """One statement, on the unique index of `thread_id` and the sessions' key."""
    sql = d.sql(
        "SELECT s.id, COALESCE(s.owner, CAST(s.user_id AS TEXT)) FROM agentgit_threads t "
        "JOIN agentgit_sessions s ON s.id = t.session_id WHERE t.thread_id = ?"
    )
    # Every checkpointer call with a `user_id` reads this: one statement, so a
    # store may run it alone (a single statement sees one snapshot).
    res = yield Statement(sql, (thread_id,), alone=sql)
    if not res.rows:
        return None
    row = res.rows[0]
    return (int(row[0]), str(row[1]))


def list_threads(d: Dialect, session_id: int) -> Op[list[InternalSession]]:
    session_id = check.store_session_id(session_id)
    res = yield Statement(select_threads(d), (session_id,))
    return [thread_from_row(r) for r in res.rows]


def checkpoint_links(d: Dialect, session_id: int) -> Op[CheckpointLinks | None]:
    """Each of the session's threads' root-namespace checkpoints as `(id, parent id)`,
    newest first, read from the saver's own table in one query: what drawing
    in-thread forks needs, without loading a checkpoint. None where the store
    does not live beside the saver's tables (`Dialect.checkpoints_table`)."""
    session_id = check.store_session_id(session_id)
    if d.checkpoints_table is None:
        return None
    sql = (
        f"SELECT c.thread_id, c.checkpoint_id, c.parent_checkpoint_id "
        f"FROM {d.checkpoints_table} c JOIN agentgit_threads t ON t.thread_id = c.thread_id "
        f"WHERE t.session_id = ? AND c.checkpoint_ns = '' ORDER BY c.checkpoint_id DESC"
    )
    res = yield Statement(d.sql(sql), (session_id,))
    links: dict[str, list[tuple[str, str | None]]] = {}
    for thread_id, checkpoint_id, parent in res.rows:
        links.setdefault(str(thread_id), []).append((str(checkpoint_id), parent))
    return links


def record_checkpoints(
    d: Dialect, thread_id: str, count: int, *, without_flush: bool = False
) -> Op[bool]:
    """Note `count` more saves of a thread, after a put; False if no session holds it.

    Where the store counts in the saver's own table (`Dialect.checkpoints_table`)
    a save is counted by being stored: this only reads whether the thread is
    held, so no crash between the save and this call can lose a count (and a
    put may skip it for a thread read held lately: `SaverContext.skips_count`).
    Otherwise it is one UPDATE, so a store may run it alone in autocommit (it
    is its own transaction, atomic; concurrent increments serialize on the row
    lock and none is lost). Alone (or with `without_flush`, where the
    transaction is the caller's own), it also commits without waiting for its
    WAL flush when the dialect can: the saver's put it counts has just waited for one,
    and the next synchronous commit on the server flushes this one too (see
    `stores/pg_pool.py`).
    """
    thread_id, count = check.thread_id(thread_id), check.count(count)
    if d.checkpoints_table is not None:
        sql = d.sql("SELECT 1 FROM agentgit_threads WHERE thread_id = ?")
        held = yield Statement(sql, (thread_id,), alone=sql)
        return bool(held.rows)
    sql = (
        "UPDATE agentgit_threads SET checkpoint_count = checkpoint_count + ?, "
        "updated_at = ? WHERE thread_id = ?"
    )
    # Alone, the transaction is the statement's own: it may commit without flush.
    relaxed = f"{sql} AND {d.commit_without_flush}" if d.commit_without_flush else sql
    res = yield Statement(
        d.sql(relaxed if without_flush else sql),
        (count, d.ts(now()), thread_id),
        alone=d.sql(relaxed),
    )
    return res.rowcount > 0


def set_current(d: Dialect, session_id: int, thread_id: str) -> Op[bool]:
    session_id, thread_id = check.store_session_id(session_id), check.thread_id(thread_id)
    res = yield Statement(
        d.sql(
            "UPDATE agentgit_sessions SET current_thread_id = ?, updated_at = ? "
            "WHERE id = ? AND EXISTS (SELECT 1 FROM agentgit_threads "
            "WHERE thread_id = ? AND session_id = ?)"
        ),
        (thread_id, d.ts(now()), session_id, thread_id, session_id),
    )
    return res.rowcount > 0


def set_thread_status(d: Dialect, thread_id: str, status: str, reason: str | None) -> Op[bool]:
    """Record what became of a thread (`active`, `kept`, `abandoned`) and why; False if unknown."""
    thread_id, status = check.thread_id(thread_id), check.branch_status(status)
    reason = check.optional_text(reason, "status reason")
    res = yield Statement(
        d.sql(
            "UPDATE agentgit_threads SET status = ?, status_reason = ?, updated_at = ? "
            "WHERE thread_id = ?"
        ),
        (status, reason, d.ts(now()), thread_id),
    )
    return res.rowcount > 0


def add_branch(d: Dialect, branch: InternalSession) -> Op[None]:
    check.branch(branch)
    stamp = now()
    res = yield Statement(
        d.sql(
            "UPDATE agentgit_sessions SET branch_count = branch_count + 1, "
            "current_thread_id = ?, updated_at = ? WHERE id = ?"
        ),
        (branch.thread_id, d.ts(stamp), branch.session_id),
    )
    if res.rowcount == 0:
        raise SessionNotFoundError(f"session {branch.session_id} not found")
    if branch.name is not None:
        # A branch's name and a tag's name are both refs of the session: one of each kind.
        taken = yield Statement(
            d.sql(
                "SELECT 'branch' FROM agentgit_threads WHERE session_id = ? AND name = ? "
                "UNION ALL SELECT 'tag' FROM agentgit_tags WHERE session_id = ? AND name = ?"
            ),
            (branch.session_id, branch.name, branch.session_id, branch.name),
        )
        if taken.rows:
            shadow = (
                "" if taken.rows[0][0] == "branch" else ": a branch of that name would shadow it"
            )
            raise NameConflictError(
                f"session {branch.session_id} already has a {taken.rows[0][0]} "
                f"named {branch.name!r}{shadow}"
            )
    inserted = yield Statement(d.sql(INSERT_THREAD), thread_params(d, branch, stamp))
    if inserted.rowcount == 0:
        raise StoreError(f"thread {branch.thread_id!r} already belongs to a session")
    # Registered: the branch is no longer pending (see `begin_branch`).
    yield Statement(
        d.sql("DELETE FROM agentgit_pending_branches WHERE thread_id = ?"), (branch.thread_id,)
    )


def begin_branch(d: Dialect, thread_id: str, session_id: int, owner: str) -> Op[None]:
    """Note a branch thread, and the rollback making it, before anything is copied.

    `add_branch` removes the note in the transaction that registers the
    branch; a note left behind means the rollback died (or its clean-up
    failed) in between: `recover_branches` deletes the thread once `owner`
    (see `_liveness.py`) is known to be gone.
    """
    thread_id, session_id = check.thread_id(thread_id), check.store_session_id(session_id)
    yield Statement(
        d.sql(
            "INSERT INTO agentgit_pending_branches (thread_id, session_id, created_at, owner) "
            "VALUES (?, ?, ?, ?)"
        ),
        (thread_id, session_id, d.ts(now()), owner),
    )


def forget_pending_branch(d: Dialect, thread_id: str) -> Op[bool]:
    thread_id = check.thread_id(thread_id)
    res = yield Statement(
        d.sql("DELETE FROM agentgit_pending_branches WHERE thread_id = ?"), (thread_id,)
    )
    return res.rowcount > 0


def list_pending_branches(d: Dialect) -> Op[list[PendingBranch]]:
    res = yield Statement(
        "SELECT p.thread_id, p.session_id, p.owner, p.created_at, t.thread_id IS NOT NULL "
        "FROM agentgit_pending_branches p "
        "LEFT JOIN agentgit_threads t ON t.thread_id = p.thread_id ORDER BY p.created_at"
    )
    return [pending_branch_from_row(r) for r in res.rows]
