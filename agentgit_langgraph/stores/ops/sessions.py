"""Operations on sessions: creating, reading and annotating them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agentgit_langgraph import _validate as check
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.errors import (
    StoreError,
)
from agentgit_langgraph.sessions import (
    ExternalSession,
    InternalSession,
)
from agentgit_langgraph.stores.base import now
from agentgit_langgraph.stores.dialect import Dialect
from agentgit_langgraph.stores.ops.threads import (
    INSERT_THREAD,
    THREAD_INSERT_COLUMNS,
    select_threads,
    thread_params,
)
from agentgit_langgraph.stores.rows import (
    SESSION_COLUMNS,
    as_metadata,
    group_thread_rows,
    session_from_rows,
    session_key,
)
from agentgit_langgraph.stores.statements import Op, Statement

_SELECT_SESSION = f"SELECT {SESSION_COLUMNS} FROM agentgit_sessions WHERE id = ?"

# The columns `_session_params` fills, in its order.
_SESSION_INSERT_COLUMNS = (
    "user_id, session_name, created_at, updated_at, is_active, current_thread_id, "
    "metadata, branch_count, owner"
)

_INSERT_SESSION = (
    f"INSERT INTO agentgit_sessions ({_SESSION_INSERT_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)


def _load_session(d: Dialect, session_id: int) -> Op[ExternalSession | None]:
    res = yield Statement(d.sql(_SELECT_SESSION), (session_id,))
    if not res.rows:
        return None
    threads = yield Statement(select_threads(d), (session_id,))
    return session_from_rows(res.rows[0], threads.rows)


def _session_params(
    d: Dialect, owner: str, session_name: str, metadata: str, thread_id: str, stamp: datetime
) -> tuple[Any, ...]:
    """A new session's row (`_SESSION_INSERT_COLUMNS`), its first thread `thread_id`."""
    created = d.ts(stamp)
    return (
        check.user_id_column(owner),
        session_name,
        created,
        created,
        True,
        thread_id,
        metadata,
        0,
        owner,
    )


def _insert_session(
    d: Dialect, owner: str, session_name: str, metadata: str, thread_id: str
) -> Op[int | None]:
    """Insert a session and its first thread; None if the thread is already held.

    Arguments are checked already: `owner` is an owner key, `metadata` JSON text.
    """
    stamp = now()
    res = yield Statement(
        d.sql(_INSERT_SESSION), _session_params(d, owner, session_name, metadata, thread_id, stamp)
    )
    session_id = int(res.rows[0][0])
    first = InternalSession(thread_id=thread_id, session_id=session_id, created_at=stamp)
    inserted = yield Statement(d.sql(INSERT_THREAD), thread_params(d, first, stamp))
    if inserted.rowcount == 0:
        yield Statement(d.sql("DELETE FROM agentgit_sessions WHERE id = ?"), (session_id,))
        return None
    return session_id


def create_session(
    d: Dialect,
    user_id: UserId,
    session_name: str,
    metadata: Mapping[str, Any] | None,
    thread_id: str,
) -> Op[ExternalSession]:
    owner = check.owner_key(user_id)
    name = check.session_name(session_name)
    text = check.metadata_json(metadata)
    thread_id = check.thread_id(thread_id)
    session_id = yield from _insert_session(d, owner, name, text, thread_id)
    if session_id is None:
        raise StoreError(f"thread {thread_id!r} already belongs to a session")
    session = yield from _load_session(d, session_id)
    assert session is not None
    return session


# A run writing to a thread deleted meanwhile keeps what it writes now.
_KEEP_WRITING = "DELETE FROM agentgit_pending_deletes WHERE thread_id = ?"


def ensure_session_for_thread(d: Dialect, thread_id: str, user_id: UserId) -> Op[None]:
    """A session of `user_id`'s named after `thread_id`, holding it, unless one holds it.

    Where the dialect can (`Dialect.next_session_id`) it is one statement,
    which the store sends alone and which changes nothing for a held thread:
    the first put of every new conversation makes it, without reading first.
    Elsewhere its callers have just read the thread unheld, so it inserts
    first and lets a thread held meanwhile undo the insert.
    """
    owner, thread_id = check.owner_key(user_id), check.thread_id(thread_id)
    if d.next_session_id:
        yield _ensure_in_one_statement(d, owner, thread_id)
    elif (yield from _insert_session(d, owner, thread_id, "{}", thread_id)) is not None:
        yield Statement(d.sql(_KEEP_WRITING), (thread_id,))


def _ensure_in_one_statement(d: Dialect, owner: str, thread_id: str) -> Statement:
    """`ensure_session_for_thread` as one statement: the thread first, with the
    session's id taken ahead, then the session only if the thread went in. A
    thread held already, or taken by a concurrent insert (which this one waits
    for), inserts nothing at all; the foreign key is checked at the end of the
    statement, when both rows are there."""
    stamp = now()
    thread = thread_params(d, InternalSession(thread_id, 0, created_at=stamp), stamp)
    session = _session_params(d, owner, thread_id, "{}", thread_id, stamp)
    sql = d.sql(
        f"WITH t AS (INSERT INTO agentgit_threads ({THREAD_INSERT_COLUMNS}) "
        f"VALUES (?, {d.next_session_id}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (thread_id) DO NOTHING RETURNING session_id), "
        f"s AS (INSERT INTO agentgit_sessions (id, {_SESSION_INSERT_COLUMNS}) "
        "SELECT session_id, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM t RETURNING id) "
        f"{_KEEP_WRITING} AND EXISTS (SELECT 1 FROM s)"
    )
    return Statement(sql, (thread[0], *thread[2:], *session, thread_id), alone=sql)


def get_session(d: Dialect, session_id: int) -> Op[ExternalSession | None]:
    session_id = check.store_session_id(session_id)
    return (yield from _load_session(d, session_id))


def list_sessions(d: Dialect, user_id: UserId | None) -> Op[list[ExternalSession]]:
    owner = check.optional_owner(user_id)
    if owner is None:
        sessions = yield Statement(f"SELECT {SESSION_COLUMNS} FROM agentgit_sessions ORDER BY id")
        threads = yield Statement(f"SELECT {d.thread_columns} FROM agentgit_threads ORDER BY seq")
    else:
        sessions = yield Statement(
            d.sql(f"SELECT {SESSION_COLUMNS} FROM agentgit_sessions WHERE owner = ? ORDER BY id"),
            (owner,),
        )
        threads = yield Statement(
            d.sql(
                f"SELECT {d.thread_columns} FROM agentgit_threads WHERE session_id IN "
                "(SELECT id FROM agentgit_sessions WHERE owner = ?) ORDER BY seq"
            ),
            (owner,),
        )
    by_session = group_thread_rows(threads.rows)
    return [session_from_rows(row, by_session.get(session_key(row), [])) for row in sessions.rows]


def update_metadata(d: Dialect, session_id: int, metadata: Mapping[str, Any]) -> Op[bool]:
    session_id = check.store_session_id(session_id)
    check.metadata_json(metadata)
    res = yield Statement(
        d.sql("SELECT metadata FROM agentgit_sessions WHERE id = ?" + d.for_update),
        (session_id,),
    )
    if not res.rows:
        return False
    merged = as_metadata(res.rows[0][0], session_id)
    merged.update(metadata)
    yield Statement(
        d.sql("UPDATE agentgit_sessions SET metadata = ?, updated_at = ? WHERE id = ?"),
        (json.dumps(merged), d.ts(now()), session_id),
    )
    return True
