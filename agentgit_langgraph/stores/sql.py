"""One implementation of every store operation, for every SQL backend.

Each operation is a generator that yields `Statement`s and receives each one's
`Result`; it holds all the logic (SQL, parameters, checks, decoding). A store
class only *drives* it: `SqlSessionStore._run` with a blocking connection, or
`_arun` with an async one, always inside one transaction that is rolled back
if the operation raises. So sync and async twins cannot drift apart: they share
every line but the I/O.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from agentgit_langgraph._claims import stamp, utc_now
from agentgit_langgraph.errors import NameConflictError, SessionNotFoundError, StoreError
from agentgit_langgraph.sessions import (
    FAILED,
    PENDING,
    REVERSED,
    Claimant,
    ExternalSession,
    InternalSession,
    Reversal,
    Tag,
)
from agentgit_langgraph.stores.base import (
    CLAIM_COLUMNS,
    REVERSAL_COLUMNS,
    SESSION_COLUMNS,
    TAG_COLUMNS,
    THREAD_COLUMNS,
    BaseSessionStore,
    as_metadata,
    claimant_from_row,
    group_thread_rows,
    now,
    reversal_from_row,
    session_from_rows,
    tag_from_row,
    thread_from_row,
)

__all__ = ["Dialect", "Result", "SqlSessionStore", "Statement"]

T = TypeVar("T")


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Sequence[Any] = ()


@dataclass(frozen=True)
class Result:
    rowcount: int
    rows: Sequence[Sequence[Any]]


Op = Generator[Statement, Result, T]


@dataclass(frozen=True)
class Dialect:
    """What differs between SQL backends: placeholders, timestamps, DDL, locking."""

    name: str
    placeholder: str
    migrations: tuple[str, ...]
    for_update: str = ""
    timestamps_as_text: bool = False
    # A condition (always true) that makes the transaction evaluating it commit
    # without waiting for its WAL flush; "" where the backend has no such thing.
    # See `record_checkpoints`.
    commit_without_flush: str = ""

    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def ts(self, value: datetime) -> Any:
        return value.isoformat() if self.timestamps_as_text else value


# Migrations are append-only: version N is the N-th statement. Never edit one
# that has shipped; add a new one.
SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    timestamps_as_text=True,
    migrations=(
        """CREATE TABLE IF NOT EXISTS agentgit_migrations (v INTEGER PRIMARY KEY)""",
        """CREATE TABLE IF NOT EXISTS agentgit_sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL DEFAULT 0,
            session_name TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            is_active INTEGER NOT NULL DEFAULT 1,
            current_thread_id TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            branch_count INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE IF NOT EXISTS agentgit_threads (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            thread_id TEXT NOT NULL UNIQUE,
            session_id INTEGER NOT NULL REFERENCES agentgit_sessions(id) ON DELETE CASCADE,
            parent_thread_id TEXT,
            branch_checkpoint_id TEXT,
            name TEXT,
            created_at TEXT NOT NULL,
            checkpoint_count INTEGER NOT NULL DEFAULT 0,
            is_branch INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        )""",
        """CREATE INDEX IF NOT EXISTS agentgit_threads_session_idx
            ON agentgit_threads(session_id, seq)""",
        """CREATE INDEX IF NOT EXISTS agentgit_sessions_user_idx
            ON agentgit_sessions(user_id)""",
        """CREATE TABLE IF NOT EXISTS agentgit_tags (
            session_id INTEGER NOT NULL REFERENCES agentgit_sessions(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            thread_id TEXT NOT NULL,
            checkpoint_ns TEXT NOT NULL DEFAULT '',
            checkpoint_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (session_id, name)
        )""",
        """CREATE UNIQUE INDEX IF NOT EXISTS agentgit_threads_name_idx
            ON agentgit_threads(session_id, name)""",
        """CREATE TABLE IF NOT EXISTS agentgit_reversals (
            session_id INTEGER NOT NULL REFERENCES agentgit_sessions(id) ON DELETE CASCADE,
            tool_call_id TEXT NOT NULL,
            tool_name TEXT NOT NULL,
            args TEXT NOT NULL DEFAULT '{}',
            thread_id TEXT NOT NULL,
            checkpoint_id TEXT,
            status TEXT NOT NULL,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (session_id, tool_call_id)
        )""",
        """CREATE INDEX IF NOT EXISTS agentgit_reversals_thread_idx
            ON agentgit_reversals(thread_id)""",
        """CREATE TABLE IF NOT EXISTS agentgit_pending_branches (
            thread_id TEXT PRIMARY KEY,
            session_id INTEGER NOT NULL,
            created_at TEXT NOT NULL
        )""",
        # Who claimed each reversal (see `claim_reversal`); times ISO-8601 UTC with offset.
        """CREATE TABLE IF NOT EXISTS agentgit_reversal_claims (
            session_id INTEGER NOT NULL,
            tool_call_id TEXT NOT NULL,
            token TEXT NOT NULL,
            host TEXT NOT NULL,
            node TEXT NOT NULL,
            pid INTEGER NOT NULL,
            pid_start TEXT,
            claimed_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            PRIMARY KEY (session_id, tool_call_id)
        )""",
    ),
)

POSTGRES = Dialect(
    name="postgres",
    placeholder="%s",
    for_update=" FOR UPDATE",
    # `SET LOCAL synchronous_commit TO OFF`, as an expression: it can ride in
    # the statement itself, which then needs no transaction block of its own.
    commit_without_flush="set_config('synchronous_commit', 'off', true) = 'off'",
    migrations=(
        """CREATE TABLE IF NOT EXISTS agentgit_migrations (v INTEGER PRIMARY KEY)""",
        """CREATE TABLE IF NOT EXISTS agentgit_sessions (
            id BIGSERIAL PRIMARY KEY,
            user_id BIGINT NOT NULL DEFAULT 0,
            session_name TEXT NOT NULL DEFAULT '',
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            is_active BOOLEAN NOT NULL DEFAULT TRUE,
            current_thread_id TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            branch_count BIGINT NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE IF NOT EXISTS agentgit_threads (
            seq BIGSERIAL PRIMARY KEY,
            thread_id TEXT NOT NULL UNIQUE,
            session_id BIGINT NOT NULL REFERENCES agentgit_sessions(id) ON DELETE CASCADE,
            parent_thread_id TEXT,
            branch_checkpoint_id TEXT,
            name TEXT,
            created_at TIMESTAMP NOT NULL,
            checkpoint_count BIGINT NOT NULL DEFAULT 0,
            is_branch BOOLEAN NOT NULL DEFAULT FALSE,
            updated_at TIMESTAMP NOT NULL
        )""",
        """CREATE INDEX IF NOT EXISTS agentgit_threads_session_idx
            ON agentgit_threads(session_id, seq)""",
        """CREATE INDEX IF NOT EXISTS agentgit_sessions_user_idx
            ON agentgit_sessions(user_id)""",
        """CREATE TABLE IF NOT EXISTS agentgit_tags (
            session_id BIGINT NOT NULL REFERENCES agentgit_sessions(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            thread_id TEXT NOT NULL,
            checkpoint_ns TEXT NOT NULL DEFAULT '',
            checkpoint_id TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (session_id, name)
        )""",
        """CREATE UNIQUE INDEX IF NOT EXISTS agentgit_threads_name_idx
            ON agentgit_threads(session_id, name)""",
        """CREATE TABLE IF NOT EXISTS agentgit_reversals (
            session_id BIGINT NOT NULL REFERENCES agentgit_sessions(id) ON DELETE CASCADE,
            tool_call_id TEXT NOT NULL,
            tool_name TEXT NOT NULL,
            args TEXT NOT NULL DEFAULT '{}',
            thread_id TEXT NOT NULL,
            checkpoint_id TEXT,
            status TEXT NOT NULL,
            error TEXT,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (session_id, tool_call_id)
        )""",
        """CREATE INDEX IF NOT EXISTS agentgit_reversals_thread_idx
            ON agentgit_reversals(thread_id)""",
        """CREATE TABLE IF NOT EXISTS agentgit_pending_branches (
            thread_id TEXT PRIMARY KEY,
            session_id BIGINT NOT NULL,
            created_at TIMESTAMP NOT NULL
        )""",
        # Who claimed each reversal (see `claim_reversal`).
        """CREATE TABLE IF NOT EXISTS agentgit_reversal_claims (
            session_id BIGINT NOT NULL,
            tool_call_id TEXT NOT NULL,
            token TEXT NOT NULL,
            host TEXT NOT NULL,
            node TEXT NOT NULL,
            pid BIGINT NOT NULL,
            pid_start TEXT,
            claimed_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (session_id, tool_call_id)
        )""",
    ),
)


# -- operations --------------------------------------------------------------

_SELECT_SESSION = f"SELECT {SESSION_COLUMNS} FROM agentgit_sessions WHERE id = ?"
_SELECT_THREADS = f"SELECT {THREAD_COLUMNS} FROM agentgit_threads WHERE session_id = ? ORDER BY seq"
_INSERT_SESSION = (
    "INSERT INTO agentgit_sessions (user_id, session_name, created_at, updated_at, "
    "is_active, current_thread_id, metadata, branch_count) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 0) RETURNING id"
)
_INSERT_THREAD = (
    "INSERT INTO agentgit_threads (thread_id, session_id, parent_thread_id, "
    "branch_checkpoint_id, name, created_at, checkpoint_count, is_branch, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO NOTHING"
)


def migrate(d: Dialect) -> Op[None]:
    yield Statement(d.migrations[0])
    done = yield Statement("SELECT v FROM agentgit_migrations")
    applied = {int(r[0]) for r in done.rows}
    for version, ddl in enumerate(d.migrations):
        if version not in applied:
            yield Statement(ddl)
            yield Statement(
                d.sql("INSERT INTO agentgit_migrations (v) VALUES (?) ON CONFLICT (v) DO NOTHING"),
                (version,),
            )


def _load_session(d: Dialect, session_id: int) -> Op[ExternalSession | None]:
    res = yield Statement(d.sql(_SELECT_SESSION), (session_id,))
    if not res.rows:
        return None
    threads = yield Statement(d.sql(_SELECT_THREADS), (session_id,))
    return session_from_rows(res.rows[0], threads.rows)


def _thread_params(d: Dialect, t: InternalSession, stamp: datetime) -> tuple[Any, ...]:
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
    )


def _insert_session(
    d: Dialect,
    user_id: int,
    session_name: str,
    metadata: Mapping[str, Any] | None,
    thread_id: str,
) -> Op[int | None]:
    """Insert a session and its first thread; None if the thread is already held."""
    stamp = now()
    res = yield Statement(
        d.sql(_INSERT_SESSION),
        (
            user_id,
            session_name,
            d.ts(stamp),
            d.ts(stamp),
            True,
            thread_id,
            json.dumps(dict(metadata or {})),
        ),
    )
    session_id = int(res.rows[0][0])
    first = InternalSession(thread_id=thread_id, session_id=session_id, created_at=stamp)
    inserted = yield Statement(d.sql(_INSERT_THREAD), _thread_params(d, first, stamp))
    if inserted.rowcount == 0:
        yield Statement(d.sql("DELETE FROM agentgit_sessions WHERE id = ?"), (session_id,))
        return None
    return session_id


def create_session(
    d: Dialect,
    user_id: int,
    session_name: str,
    metadata: Mapping[str, Any] | None,
    thread_id: str,
) -> Op[ExternalSession]:
    session_id = yield from _insert_session(d, user_id, session_name, metadata, thread_id)
    if session_id is None:
        raise StoreError(f"thread {thread_id!r} already belongs to a session")
    session = yield from _load_session(d, session_id)
    assert session is not None
    return session


def ensure_session_for_thread(d: Dialect, thread_id: str, user_id: int) -> Op[None]:
    held = yield Statement(
        d.sql("SELECT 1 FROM agentgit_threads WHERE thread_id = ?"), (thread_id,)
    )
    if not held.rows:
        yield from _insert_session(d, user_id, thread_id, None, thread_id)


def get_session(d: Dialect, session_id: int) -> Op[ExternalSession | None]:
    return (yield from _load_session(d, session_id))


def list_sessions(d: Dialect, user_id: int | None) -> Op[list[ExternalSession]]:
    if user_id is None:
        sessions = yield Statement(f"SELECT {SESSION_COLUMNS} FROM agentgit_sessions ORDER BY id")
        threads = yield Statement(f"SELECT {THREAD_COLUMNS} FROM agentgit_threads ORDER BY seq")
    else:
        sessions = yield Statement(
            d.sql(f"SELECT {SESSION_COLUMNS} FROM agentgit_sessions WHERE user_id = ? ORDER BY id"),
            (user_id,),
        )
        threads = yield Statement(
            d.sql(
                f"SELECT {THREAD_COLUMNS} FROM agentgit_threads WHERE session_id IN "
                "(SELECT id FROM agentgit_sessions WHERE user_id = ?) ORDER BY seq"
            ),
            (user_id,),
        )
    by_session = group_thread_rows(threads.rows)
    return [session_from_rows(row, by_session.get(int(row[0]), [])) for row in sessions.rows]


def update_metadata(d: Dialect, session_id: int, metadata: Mapping[str, Any]) -> Op[bool]:
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


def get_thread(d: Dialect, thread_id: str) -> Op[InternalSession | None]:
    res = yield Statement(
        d.sql(f"SELECT {THREAD_COLUMNS} FROM agentgit_threads WHERE thread_id = ?"), (thread_id,)
    )
    return thread_from_row(res.rows[0]) if res.rows else None


def list_threads(d: Dialect, session_id: int) -> Op[list[InternalSession]]:
    res = yield Statement(d.sql(_SELECT_THREADS), (session_id,))
    return [thread_from_row(r) for r in res.rows]


def record_checkpoints(
    d: Dialect, thread_id: str, count: int, *, without_flush: bool = False
) -> Op[bool]:
    """Count `count` more checkpoints of a thread: one UPDATE, on every put.

    One statement, so a store may run it alone in autocommit (it is its own
    transaction, atomic; concurrent increments serialize on the row lock and
    none is lost). With `without_flush` (only where the transaction is the
    store's own), it also commits without waiting for its WAL flush when the
    dialect can: the saver's put it counts has just waited for one, and the
    next synchronous commit on the server flushes this one too (see
    `stores/postgres.py`).
    """
    sql = (
        "UPDATE agentgit_threads SET checkpoint_count = checkpoint_count + ?, "
        "updated_at = ? WHERE thread_id = ?"
    )
    if without_flush and d.commit_without_flush:
        sql += " AND " + d.commit_without_flush
    res = yield Statement(d.sql(sql), (count, d.ts(now()), thread_id))
    return res.rowcount > 0


def add_branch(d: Dialect, branch: InternalSession) -> Op[None]:
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
        taken = yield Statement(
            d.sql("SELECT 1 FROM agentgit_threads WHERE session_id = ? AND name = ?"),
            (branch.session_id, branch.name),
        )
        if taken.rows:
            raise NameConflictError(
                f"session {branch.session_id} already has a branch named {branch.name!r}"
            )
    inserted = yield Statement(d.sql(_INSERT_THREAD), _thread_params(d, branch, stamp))
    if inserted.rowcount == 0:
        raise StoreError(f"thread {branch.thread_id!r} already belongs to a session")
    # Registered: the branch is no longer pending (see `begin_branch`).
    yield Statement(
        d.sql("DELETE FROM agentgit_pending_branches WHERE thread_id = ?"), (branch.thread_id,)
    )


def begin_branch(d: Dialect, thread_id: str, session_id: int) -> Op[None]:
    """Note a branch thread before anything is copied into it.

    `add_branch` removes the note in the transaction that registers the
    branch; a note left behind means the process died (or its clean-up
    failed) in between, and `list_pending_branches` finds the thread to delete.
    """
    yield Statement(
        d.sql(
            "INSERT INTO agentgit_pending_branches (thread_id, session_id, created_at) "
            "VALUES (?, ?, ?)"
        ),
        (thread_id, session_id, d.ts(now())),
    )


def forget_pending_branch(d: Dialect, thread_id: str) -> Op[bool]:
    res = yield Statement(
        d.sql("DELETE FROM agentgit_pending_branches WHERE thread_id = ?"), (thread_id,)
    )
    return res.rowcount > 0


def list_pending_branches(d: Dialect, older_than: datetime) -> Op[list[str]]:
    res = yield Statement(
        d.sql(
            "SELECT thread_id FROM agentgit_pending_branches WHERE created_at < ? "
            "ORDER BY created_at"
        ),
        (d.ts(older_than),),
    )
    return [str(r[0]) for r in res.rows]


def set_current(d: Dialect, session_id: int, thread_id: str) -> Op[bool]:
    res = yield Statement(
        d.sql(
            "UPDATE agentgit_sessions SET current_thread_id = ?, updated_at = ? "
            "WHERE id = ? AND EXISTS (SELECT 1 FROM agentgit_threads "
            "WHERE thread_id = ? AND session_id = ?)"
        ),
        (thread_id, d.ts(now()), session_id, thread_id, session_id),
    )
    return res.rowcount > 0


def _in_list(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def add_tag(d: Dialect, tag: Tag) -> Op[None]:
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
    res = yield Statement(
        d.sql(
            f"SELECT {TAG_COLUMNS} FROM agentgit_tags "
            "WHERE session_id = ? ORDER BY created_at, name"
        ),
        (session_id,),
    )
    return [tag_from_row(r) for r in res.rows]


def delete_tag(d: Dialect, session_id: int, name: str) -> Op[bool]:
    res = yield Statement(
        d.sql("DELETE FROM agentgit_tags WHERE session_id = ? AND name = ?"), (session_id, name)
    )
    return res.rowcount > 0


def delete_session(d: Dialect, session_id: int) -> Op[bool]:
    # Explicit deletes: SQLite enforces ON DELETE CASCADE only with foreign_keys on.
    yield Statement(d.sql("DELETE FROM agentgit_reversals WHERE session_id = ?"), (session_id,))
    yield Statement(
        d.sql("DELETE FROM agentgit_reversal_claims WHERE session_id = ?"), (session_id,)
    )
    yield Statement(d.sql("DELETE FROM agentgit_tags WHERE session_id = ?"), (session_id,))
    yield Statement(d.sql("DELETE FROM agentgit_threads WHERE session_id = ?"), (session_id,))
    res = yield Statement(d.sql("DELETE FROM agentgit_sessions WHERE id = ?"), (session_id,))
    return res.rowcount > 0


def delete_threads(d: Dialect, session_id: int, thread_ids: Sequence[str]) -> Op[int]:
    """Forget threads of a session (never its current one) and their tags."""
    if not thread_ids:
        return 0
    ids = list(thread_ids)
    current = yield Statement(
        d.sql("SELECT current_thread_id FROM agentgit_sessions WHERE id = ?" + d.for_update),
        (session_id,),
    )
    if current.rows and current.rows[0][0] in ids:
        raise StoreError(f"thread {current.rows[0][0]!r} is current in session {session_id}")
    for table in ("agentgit_tags", "agentgit_reversals"):
        yield Statement(
            d.sql(f"DELETE FROM {table} WHERE session_id = ? AND thread_id IN ({_in_list(ids)})"),
            (session_id, *ids),
        )
    yield Statement(d.sql(_DELETE_ORPHAN_CLAIMS), (session_id,))
    res = yield Statement(
        d.sql(
            f"DELETE FROM agentgit_threads WHERE session_id = ? AND thread_id IN ({_in_list(ids)})"
        ),
        (session_id, *ids),
    )
    return res.rowcount


_DELETE_ORPHAN_CLAIMS = (
    "DELETE FROM agentgit_reversal_claims WHERE session_id = ? AND NOT EXISTS "
    "(SELECT 1 FROM agentgit_reversals r WHERE r.session_id = agentgit_reversal_claims.session_id "
    "AND r.tool_call_id = agentgit_reversal_claims.tool_call_id)"
)
_CLAIM_PARAMS = "token, host, node, pid, pid_start, claimed_at, expires_at"


def _claim_values(d: Dialect, claimant: Claimant) -> tuple[Any, ...]:
    """`claimant` stamped now (aware UTC), in `_CLAIM_PARAMS` order."""
    c = stamp(claimant, utc_now())
    assert c.claimed_at is not None and c.expires_at is not None
    return (
        c.token,
        c.host,
        c.node,
        c.pid,
        c.pid_start,
        d.ts(c.claimed_at),
        d.ts(c.expires_at),
    )


def _put_claim(d: Dialect, rec: Reversal, claimant: Claimant) -> Op[None]:
    """Record `claimant` as the holder of `rec`'s claim (replacing the previous one)."""
    yield Statement(
        d.sql(
            "INSERT INTO agentgit_reversal_claims (session_id, tool_call_id, "
            f"{_CLAIM_PARAMS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (session_id, tool_call_id) DO UPDATE SET token = excluded.token, "
            "host = excluded.host, node = excluded.node, pid = excluded.pid, "
            "pid_start = excluded.pid_start, claimed_at = excluded.claimed_at, "
            "expires_at = excluded.expires_at"
        ),
        (rec.session_id, rec.tool_call_id, *_claim_values(d, claimant)),
    )


def _get_claim(d: Dialect, session_id: int, tool_call_id: str) -> Op[Claimant | None]:
    res = yield Statement(
        d.sql(
            f"SELECT {CLAIM_COLUMNS} FROM agentgit_reversal_claims "
            "WHERE session_id = ? AND tool_call_id = ?"
        ),
        (session_id, tool_call_id),
    )
    return claimant_from_row(res.rows[0]) if res.rows else None


def _lock_reversal(d: Dialect, session_id: int, tool_call_id: str) -> Op[Reversal | None]:
    res = yield Statement(
        d.sql(
            f"SELECT {REVERSAL_COLUMNS} FROM agentgit_reversals "
            "WHERE session_id = ? AND tool_call_id = ?" + d.for_update
        ),
        (session_id, tool_call_id),
    )
    return reversal_from_row(res.rows[0]) if res.rows else None


def claim_reversal(
    d: Dialect, rec: Reversal, claimant: Claimant, retry_failed: bool = True
) -> Op[Reversal | None]:
    """Claim a call for `claimant` before its handler runs: one transaction.

    Returns None when claimed (a new call; or one `no_handler`, or `failed`
    with `retry_failed`: taken over); else the existing record, unchanged,
    whose status decides: `reversed` is never reversed again, and `pending`
    comes with its `claimant`, for the caller to wait for or, if it is dead,
    to `take_over_reversal`. The row is locked (PostgreSQL `FOR UPDATE`;
    SQLite runs writers one at a time), so two claimants never both win.
    """
    stamp_ = d.ts(now())
    res = yield Statement(
        d.sql(
            "INSERT INTO agentgit_reversals (session_id, tool_call_id, tool_name, args, "
            "thread_id, checkpoint_id, status, error, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?) "
            "ON CONFLICT (session_id, tool_call_id) DO NOTHING"
        ),
        (
            rec.session_id,
            rec.tool_call_id,
            rec.tool_name,
            json.dumps(rec.args, default=str),
            rec.thread_id,
            rec.checkpoint_id,
            PENDING,
            stamp_,
            stamp_,
        ),
    )
    if res.rowcount > 0:
        yield from _put_claim(d, rec, claimant)
        return None
    found = yield from _lock_reversal(d, rec.session_id, rec.tool_call_id)
    if found is None:  # deleted between the two statements (SQLite cannot; PG READ COMMITTED)
        raise StoreError(f"reversal of {rec.tool_call_id!r} vanished while being claimed")
    holder = yield from _get_claim(d, rec.session_id, rec.tool_call_id)
    found = dataclasses.replace(found, claimant=holder)
    if found.status in (REVERSED, PENDING) or (found.status == FAILED and not retry_failed):
        return found
    # `failed` or `no_handler`: a retry, ours now.
    yield Statement(
        d.sql(
            "UPDATE agentgit_reversals SET status = ?, error = NULL, thread_id = ?, "
            "checkpoint_id = ?, updated_at = ? WHERE session_id = ? AND tool_call_id = ?"
        ),
        (PENDING, rec.thread_id, rec.checkpoint_id, stamp_, rec.session_id, rec.tool_call_id),
    )
    yield from _put_claim(d, rec, claimant)
    return None


def take_over_reversal(
    d: Dialect, rec: Reversal, stale_token: str | None, claimant: Claimant
) -> Op[bool]:
    """Compare-and-set a dead claimant's `pending` claim to `claimant`."""
    found = yield from _lock_reversal(d, rec.session_id, rec.tool_call_id)
    if found is None or found.status != PENDING:
        return False
    if stale_token is None:
        res = yield Statement(
            d.sql(
                "INSERT INTO agentgit_reversal_claims (session_id, tool_call_id, "
                f"{_CLAIM_PARAMS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (session_id, tool_call_id) DO NOTHING"
            ),
            (rec.session_id, rec.tool_call_id, *_claim_values(d, claimant)),
        )
    else:
        res = yield Statement(
            d.sql(
                "UPDATE agentgit_reversal_claims SET token = ?, host = ?, node = ?, pid = ?, "
                "pid_start = ?, claimed_at = ?, expires_at = ? "
                "WHERE session_id = ? AND tool_call_id = ? AND token = ?"
            ),
            (*_claim_values(d, claimant), rec.session_id, rec.tool_call_id, stale_token),
        )
    if res.rowcount == 0:
        return False
    yield Statement(
        d.sql(
            "UPDATE agentgit_reversals SET thread_id = ?, checkpoint_id = ?, updated_at = ? "
            "WHERE session_id = ? AND tool_call_id = ?"
        ),
        (rec.thread_id, rec.checkpoint_id, d.ts(now()), rec.session_id, rec.tool_call_id),
    )
    return True


def finish_reversal(
    d: Dialect,
    session_id: int,
    tool_call_id: str,
    status: str,
    error: str | None,
    claim_token: str | None = None,
) -> Op[bool]:
    sql = (
        "UPDATE agentgit_reversals SET status = ?, error = ?, updated_at = ? "
        "WHERE session_id = ? AND tool_call_id = ?"
    )
    params: tuple[Any, ...] = (status, error, d.ts(now()), session_id, tool_call_id)
    if claim_token is not None:
        sql += (
            " AND status = ? AND EXISTS (SELECT 1 FROM agentgit_reversal_claims c "
            "WHERE c.session_id = agentgit_reversals.session_id "
            "AND c.tool_call_id = agentgit_reversals.tool_call_id AND c.token = ?)"
        )
        params += (PENDING, claim_token)
    res = yield Statement(d.sql(sql), params)
    return res.rowcount > 0


def list_reversals(
    d: Dialect, *, session_id: int | None, thread_id: str | None
) -> Op[list[Reversal]]:
    where, params = (
        ("session_id = ?", (session_id,)) if thread_id is None else ("thread_id = ?", (thread_id,))
    )
    res = yield Statement(
        d.sql(
            f"SELECT {REVERSAL_COLUMNS} FROM agentgit_reversals WHERE {where} "
            "ORDER BY created_at, tool_call_id"
        ),
        params,
    )
    claims = yield Statement(
        d.sql(
            f"SELECT c.session_id, c.tool_call_id, {_qualified('c', CLAIM_COLUMNS)} "
            "FROM agentgit_reversal_claims c JOIN agentgit_reversals r "
            "ON r.session_id = c.session_id AND r.tool_call_id = c.tool_call_id "
            f"WHERE r.{where}"
        ),
        params,
    )
    holders = {(int(row[0]), str(row[1])): claimant_from_row(row[2:]) for row in claims.rows}
    return [
        dataclasses.replace(rec, claimant=holders.get((rec.session_id, rec.tool_call_id)))
        for rec in map(reversal_from_row, res.rows)
    ]


def _qualified(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


# -- the shared store --------------------------------------------------------


class SqlSessionStore(BaseSessionStore):
    """Every store method, over `_run` (blocking) and `_arun` (async) drivers.

    A backend subclass sets `dialect` and implements at least one driver; the
    other one bridges (`asyncio.to_thread` for a blocking connection, the
    owning event loop for an async one).
    """

    dialect: Dialect

    def _run(self, op: Op[T], *, immediate: bool) -> T:
        raise NotImplementedError

    async def _arun(self, op: Op[T], *, immediate: bool) -> T:
        return await asyncio.to_thread(self._run, op, immediate=immediate)

    # Each method below is one operation run in one transaction.
    def create_session(
        self,
        *,
        user_id: int,
        session_name: str,
        metadata: Mapping[str, Any] | None,
        thread_id: str,
    ) -> ExternalSession:
        op = create_session(self.dialect, user_id, session_name, metadata, thread_id)
        return self._run(op, immediate=True)

    async def acreate_session(
        self,
        *,
        user_id: int,
        session_name: str,
        metadata: Mapping[str, Any] | None,
        thread_id: str,
    ) -> ExternalSession:
        op = create_session(self.dialect, user_id, session_name, metadata, thread_id)
        return await self._arun(op, immediate=True)

    def ensure_session_for_thread(self, thread_id: str, *, user_id: int) -> None:
        self._run(ensure_session_for_thread(self.dialect, thread_id, user_id), immediate=True)

    async def aensure_session_for_thread(self, thread_id: str, *, user_id: int) -> None:
        await self._arun(
            ensure_session_for_thread(self.dialect, thread_id, user_id), immediate=True
        )

    def get_session(self, session_id: int) -> ExternalSession | None:
        return self._run(get_session(self.dialect, session_id), immediate=False)

    async def aget_session(self, session_id: int) -> ExternalSession | None:
        return await self._arun(get_session(self.dialect, session_id), immediate=False)

    def list_sessions(self, user_id: int | None = None) -> list[ExternalSession]:
        return self._run(list_sessions(self.dialect, user_id), immediate=False)

    async def alist_sessions(self, user_id: int | None = None) -> list[ExternalSession]:
        return await self._arun(list_sessions(self.dialect, user_id), immediate=False)

    def update_metadata(self, session_id: int, metadata: Mapping[str, Any]) -> bool:
        return self._run(update_metadata(self.dialect, session_id, metadata), immediate=True)

    async def aupdate_metadata(self, session_id: int, metadata: Mapping[str, Any]) -> bool:
        return await self._arun(update_metadata(self.dialect, session_id, metadata), immediate=True)

    def get_thread(self, thread_id: str) -> InternalSession | None:
        return self._run(get_thread(self.dialect, thread_id), immediate=False)

    async def aget_thread(self, thread_id: str) -> InternalSession | None:
        return await self._arun(get_thread(self.dialect, thread_id), immediate=False)

    def list_threads(self, session_id: int) -> list[InternalSession]:
        return self._run(list_threads(self.dialect, session_id), immediate=False)

    async def alist_threads(self, session_id: int) -> list[InternalSession]:
        return await self._arun(list_threads(self.dialect, session_id), immediate=False)

    def record_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        return self._run(record_checkpoints(self.dialect, thread_id, count), immediate=False)

    async def arecord_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        return await self._arun(record_checkpoints(self.dialect, thread_id, count), immediate=False)

    def add_branch(self, branch: InternalSession) -> None:
        self._run(add_branch(self.dialect, branch), immediate=True)

    async def aadd_branch(self, branch: InternalSession) -> None:
        await self._arun(add_branch(self.dialect, branch), immediate=True)

    def set_current(self, session_id: int, thread_id: str) -> bool:
        return self._run(set_current(self.dialect, session_id, thread_id), immediate=True)

    async def aset_current(self, session_id: int, thread_id: str) -> bool:
        return await self._arun(set_current(self.dialect, session_id, thread_id), immediate=True)

    def add_tag(self, tag: Tag) -> None:
        self._run(add_tag(self.dialect, tag), immediate=True)

    async def aadd_tag(self, tag: Tag) -> None:
        await self._arun(add_tag(self.dialect, tag), immediate=True)

    def list_tags(self, session_id: int) -> list[Tag]:
        return self._run(list_tags(self.dialect, session_id), immediate=False)

    async def alist_tags(self, session_id: int) -> list[Tag]:
        return await self._arun(list_tags(self.dialect, session_id), immediate=False)

    def delete_tag(self, session_id: int, name: str) -> bool:
        return self._run(delete_tag(self.dialect, session_id, name), immediate=True)

    async def adelete_tag(self, session_id: int, name: str) -> bool:
        return await self._arun(delete_tag(self.dialect, session_id, name), immediate=True)

    def delete_session(self, session_id: int) -> bool:
        return self._run(delete_session(self.dialect, session_id), immediate=True)

    async def adelete_session(self, session_id: int) -> bool:
        return await self._arun(delete_session(self.dialect, session_id), immediate=True)

    def delete_threads(self, session_id: int, thread_ids: Sequence[str]) -> int:
        return self._run(delete_threads(self.dialect, session_id, thread_ids), immediate=True)

    async def adelete_threads(self, session_id: int, thread_ids: Sequence[str]) -> int:
        return await self._arun(
            delete_threads(self.dialect, session_id, thread_ids), immediate=True
        )

    def claim_reversal(
        self, rec: Reversal, claimant: Claimant, *, retry_failed: bool = True
    ) -> Reversal | None:
        op = claim_reversal(self.dialect, rec, claimant, retry_failed)
        return self._run(op, immediate=True)

    async def aclaim_reversal(
        self, rec: Reversal, claimant: Claimant, *, retry_failed: bool = True
    ) -> Reversal | None:
        op = claim_reversal(self.dialect, rec, claimant, retry_failed)
        return await self._arun(op, immediate=True)

    def take_over_reversal(
        self, rec: Reversal, stale_token: str | None, claimant: Claimant
    ) -> bool:
        op = take_over_reversal(self.dialect, rec, stale_token, claimant)
        return self._run(op, immediate=True)

    async def atake_over_reversal(
        self, rec: Reversal, stale_token: str | None, claimant: Claimant
    ) -> bool:
        op = take_over_reversal(self.dialect, rec, stale_token, claimant)
        return await self._arun(op, immediate=True)

    def finish_reversal(
        self,
        session_id: int,
        tool_call_id: str,
        status: str,
        error: str | None = None,
        *,
        claim_token: str | None = None,
    ) -> bool:
        op = finish_reversal(self.dialect, session_id, tool_call_id, status, error, claim_token)
        return self._run(op, immediate=True)

    async def afinish_reversal(
        self,
        session_id: int,
        tool_call_id: str,
        status: str,
        error: str | None = None,
        *,
        claim_token: str | None = None,
    ) -> bool:
        op = finish_reversal(self.dialect, session_id, tool_call_id, status, error, claim_token)
        return await self._arun(op, immediate=True)

    def list_reversals(
        self, *, session_id: int | None = None, thread_id: str | None = None
    ) -> list[Reversal]:
        op = list_reversals(self.dialect, session_id=session_id, thread_id=thread_id)
        return self._run(op, immediate=False)

    async def alist_reversals(
        self, *, session_id: int | None = None, thread_id: str | None = None
    ) -> list[Reversal]:
        op = list_reversals(self.dialect, session_id=session_id, thread_id=thread_id)
        return await self._arun(op, immediate=False)

    def begin_branch(self, thread_id: str, session_id: int) -> None:
        self._run(begin_branch(self.dialect, thread_id, session_id), immediate=True)

    async def abegin_branch(self, thread_id: str, session_id: int) -> None:
        await self._arun(begin_branch(self.dialect, thread_id, session_id), immediate=True)

    def forget_pending_branch(self, thread_id: str) -> bool:
        return self._run(forget_pending_branch(self.dialect, thread_id), immediate=True)

    async def aforget_pending_branch(self, thread_id: str) -> bool:
        return await self._arun(forget_pending_branch(self.dialect, thread_id), immediate=True)

    def list_pending_branches(self, older_than: datetime) -> list[str]:
        return self._run(list_pending_branches(self.dialect, older_than), immediate=False)

    async def alist_pending_branches(self, older_than: datetime) -> list[str]:
        return await self._arun(list_pending_branches(self.dialect, older_than), immediate=False)
