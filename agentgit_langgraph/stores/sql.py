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
import os
import re
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from agentgit_langgraph import _validate as check
from agentgit_langgraph._claims import stamp, utc_now
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.errors import (
    AgentGitError,
    NameConflictError,
    SessionNotFoundError,
    StoreError,
    ThreadBusyError,
    ThreadNotFoundError,
)
from agentgit_langgraph.sessions import (
    FAILED,
    PENDING,
    REVERSED,
    Claimant,
    ExternalSession,
    InternalSession,
    Reversal,
    Tag,
    as_utc,
)
from agentgit_langgraph.stores.base import (
    CLAIM_COLUMNS,
    REVERSAL_COLUMNS,
    SESSION_COLUMNS,
    TAG_COLUMNS,
    THREAD_COLUMNS,
    BaseSessionStore,
    PendingBranch,
    as_metadata,
    claimant_from_row,
    group_thread_rows,
    now,
    pending_branch_from_row,
    reversal_from_row,
    session_from_rows,
    session_key,
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

Migration = str | Callable[[], str]
"""A migration's SQL, or a function rendering it when it runs (on this process's
settings, e.g. its time zone); either way one statement."""


@dataclass(frozen=True)
class Dialect:
    """What differs between SQL backends: placeholders, timestamps, DDL, locking."""

    name: str
    placeholder: str
    migrations: tuple[Migration, ...]
    for_update: str = ""
    timestamps_as_text: bool = False
    # A condition (always true) that makes the transaction evaluating it commit
    # without waiting for its WAL flush; "" where the backend has no such thing.
    # See `record_checkpoints`.
    commit_without_flush: str = ""
    # LangGraph's checkpoints table on the same database, when the store counts
    # each thread's checkpoints there (see `record_checkpoints`); None keeps
    # counters of the store's own.
    checkpoints_table: str | None = None

    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def ts(self, value: datetime) -> Any:
        """A timestamp parameter: UTC, aware (a naive one is taken as local time).

        As text (SQLite), fixed-width ISO-8601 with `+00:00`, so that text
        order is time order.
        """
        utc = as_utc(value)
        return utc.isoformat(timespec="microseconds") if self.timestamps_as_text else utc

    @property
    def counts_apart(self) -> bool:
        """The store keeps counters of its own: counting a save writes."""
        return self.checkpoints_table is None

    @property
    def thread_columns(self) -> str:
        """`THREAD_COLUMNS`, with the count read from the saver's table when it is known."""
        if self.checkpoints_table is None:
            return THREAD_COLUMNS
        counted = (
            f"(SELECT COUNT(*) FROM {self.checkpoints_table} c "
            "WHERE c.thread_id = agentgit_threads.thread_id)"
        )
        return THREAD_COLUMNS.replace("checkpoint_count", counted)


# -- to UTC: the migrations of naive local timestamps -------------------------
#
# Before these migrations every timestamp was naive local time of the process
# that wrote it (`datetime.now()`, as agentgit does). They are taken as local
# time of the process that runs the migration (the first `setup()` of the new
# version): the writers' zone, on the assumption that the processes sharing a
# database ran in one time zone. Rows written with an offset are left alone.
#
# Tables and their timestamp columns.
_TIMESTAMPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("agentgit_sessions", ("created_at", "updated_at")),
    ("agentgit_threads", ("created_at", "updated_at")),
    ("agentgit_tags", ("created_at",)),
    ("agentgit_reversals", ("created_at", "updated_at")),
    ("agentgit_pending_branches", ("created_at",)),
)


def _sqlite_naive(col: str) -> str:
    return f"({col} NOT GLOB '*[+-][0-9][0-9]:[0-9][0-9]' AND {col} NOT GLOB '*Z')"


def _sqlite_to_utc(table: str, cols: tuple[str, ...]) -> str:
    """Rewrite naive ISO text (local time) as UTC text with `+00:00`, in SQL.

    SQLite's `'utc'` modifier converts from the local time of the process
    running it, with its DST rules; the whole seconds go through it and the
    fraction is kept exactly.
    """

    def convert(c: str) -> str:
        return (
            f"CASE WHEN {_sqlite_naive(c)} THEN "
            f"strftime('%Y-%m-%dT%H:%M:%S', substr({c}, 1, 19), 'utc') || "
            f"CASE WHEN length({c}) > 19 THEN substr({c}, 20) ELSE '.000000' END || '+00:00' "
            f"ELSE {c} END"
        )

    sets = ", ".join(f"{c} = {convert(c)}" for c in cols)
    where = " OR ".join(_sqlite_naive(c) for c in cols)
    return f"UPDATE {table} SET {sets} WHERE {where}"


_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")


def _zone_name(candidate: str) -> str | None:
    if not _ZONE_NAME.fullmatch(candidate):
        return None
    try:
        ZoneInfo(candidate)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return None
    return candidate


def local_zone_name() -> str | None:
    """The IANA name of this process's local time zone, when it can be known.

    From `TZ` when set (a POSIX rule like `JST-9` has no name: None), else from
    the `/etc/localtime` link.
    """
    tz = os.environ.get("TZ")
    if tz is not None:
        tz = tz.removeprefix(":")
        return "UTC" if tz == "" else _zone_name(tz)
    target = os.path.realpath("/etc/localtime")
    marker = "/zoneinfo/"
    if marker in target:
        return _zone_name(target.split(marker, 1)[1])
    return None


def local_zone_sql() -> str:
    """This process's time zone as the operand of PostgreSQL's `AT TIME ZONE`.

    Its IANA name (so each value gets the offset of its own date, DST included),
    else its current UTC offset as an interval (ISO sign: a bare `'+09:00'`
    string would be read as a POSIX zone, sign reversed).
    """
    name = local_zone_name()
    if name is not None:
        return f"'{name}'"
    offset = datetime.now().astimezone().utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"INTERVAL '{sign}{hours:02d}:{mins:02d}'"


def _postgres_to_timestamptz(table: str, cols: tuple[str, ...]) -> Migration:
    """`timestamp` (naive local) -> `timestamptz`, read in this process's zone."""

    def render() -> str:
        zone = local_zone_sql()
        alters = ", ".join(
            f"ALTER COLUMN {c} TYPE timestamptz USING {c} AT TIME ZONE {zone}" for c in cols
        )
        return f"ALTER TABLE {table} {alters}"

    render.__qualname__ = f"timestamptz({table})"
    return render


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
        # 10-14: naive local text -> UTC text with +00:00 (see _TIMESTAMPS).
        *(_sqlite_to_utc(table, cols) for table, cols in _TIMESTAMPS),
        # 15-17: string owners (`_validate.owner_key`); `user_id` stays agentgit's int.
        """ALTER TABLE agentgit_sessions ADD COLUMN owner TEXT""",
        """UPDATE agentgit_sessions SET owner = CAST(user_id AS TEXT) WHERE owner IS NULL""",
        """CREATE INDEX IF NOT EXISTS agentgit_sessions_owner_idx
            ON agentgit_sessions(owner)""",
        # 18-19: who makes a pending branch; threads forgotten, checkpoints to erase.
        """ALTER TABLE agentgit_pending_branches ADD COLUMN owner TEXT NOT NULL DEFAULT ''""",
        """CREATE TABLE IF NOT EXISTS agentgit_pending_deletes (
            thread_id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL
        )""",
        # 20: who claimed each reversal (see `claim_reversal`); times ISO-8601 UTC with offset.
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
        # 10-14: TIMESTAMP (naive local) -> TIMESTAMPTZ (see _TIMESTAMPS).
        *(_postgres_to_timestamptz(table, cols) for table, cols in _TIMESTAMPS),
        # 15-17: string owners (`_validate.owner_key`); `user_id` stays agentgit's int.
        """ALTER TABLE agentgit_sessions ADD COLUMN IF NOT EXISTS owner TEXT""",
        """UPDATE agentgit_sessions SET owner = CAST(user_id AS TEXT) WHERE owner IS NULL""",
        """CREATE INDEX IF NOT EXISTS agentgit_sessions_owner_idx
            ON agentgit_sessions(owner)""",
        # 18-19: who makes a pending branch; threads forgotten, checkpoints to erase.
        """ALTER TABLE agentgit_pending_branches ADD COLUMN IF NOT EXISTS owner TEXT
            NOT NULL DEFAULT ''""",
        """CREATE TABLE IF NOT EXISTS agentgit_pending_deletes (
            thread_id TEXT PRIMARY KEY,
            created_at TIMESTAMPTZ NOT NULL
        )""",
        # 20: who claimed each reversal (see `claim_reversal`).
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


def counting_in_saver(d: Dialect) -> Dialect:
    """`d` for a store on the saver's own database: counts come from LangGraph's table."""
    return dataclasses.replace(d, checkpoints_table="checkpoints")


# -- operations --------------------------------------------------------------

_SELECT_SESSION = f"SELECT {SESSION_COLUMNS} FROM agentgit_sessions WHERE id = ?"


def _select_threads(d: Dialect) -> str:
    return d.sql(
        f"SELECT {d.thread_columns} FROM agentgit_threads WHERE session_id = ? ORDER BY seq"
    )


_INSERT_SESSION = (
    "INSERT INTO agentgit_sessions (user_id, session_name, created_at, updated_at, "
    "is_active, current_thread_id, metadata, branch_count, owner) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) RETURNING id"
)
_INSERT_THREAD = (
    "INSERT INTO agentgit_threads (thread_id, session_id, parent_thread_id, "
    "branch_checkpoint_id, name, created_at, checkpoint_count, is_branch, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO NOTHING"
)


def migrate(d: Dialect) -> Op[None]:
    first = d.migrations[0]
    assert isinstance(first, str)
    yield Statement(first)
    done = yield Statement("SELECT v FROM agentgit_migrations")
    applied = {int(r[0]) for r in done.rows}
    for version, ddl in enumerate(d.migrations):
        if version not in applied:
            yield Statement(ddl if isinstance(ddl, str) else ddl())
            yield Statement(
                d.sql("INSERT INTO agentgit_migrations (v) VALUES (?) ON CONFLICT (v) DO NOTHING"),
                (version,),
            )


def _load_session(d: Dialect, session_id: int) -> Op[ExternalSession | None]:
    res = yield Statement(d.sql(_SELECT_SESSION), (session_id,))
    if not res.rows:
        return None
    threads = yield Statement(_select_threads(d), (session_id,))
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
    d: Dialect, owner: str, session_name: str, metadata: str, thread_id: str
) -> Op[int | None]:
    """Insert a session and its first thread; None if the thread is already held.

    Arguments are checked already: `owner` is an owner key, `metadata` JSON text.
    """
    stamp = now()
    res = yield Statement(
        d.sql(_INSERT_SESSION),
        (
            check.user_id_column(owner),
            session_name,
            d.ts(stamp),
            d.ts(stamp),
            True,
            thread_id,
            metadata,
            owner,
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


def ensure_session_for_thread(d: Dialect, thread_id: str, user_id: UserId) -> Op[None]:
    owner, thread_id = check.owner_key(user_id), check.thread_id(thread_id)
    held = yield Statement(
        d.sql("SELECT 1 FROM agentgit_threads WHERE thread_id = ?"), (thread_id,)
    )
    if not held.rows:
        yield from _insert_session(d, owner, thread_id, "{}", thread_id)
        # A run writing to a thread deleted meanwhile keeps what it writes now.
        yield Statement(
            d.sql("DELETE FROM agentgit_pending_deletes WHERE thread_id = ?"), (thread_id,)
        )


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


def get_thread(d: Dialect, thread_id: str) -> Op[InternalSession | None]:
    thread_id = check.thread_id(thread_id)
    res = yield Statement(
        d.sql(f"SELECT {d.thread_columns} FROM agentgit_threads WHERE thread_id = ?"),
        (thread_id,),
    )
    return thread_from_row(res.rows[0]) if res.rows else None


def thread_owner(d: Dialect, thread_id: str) -> Op[tuple[int, str] | None]:
    """One statement, on the unique index of `thread_id` and the sessions' key."""
    res = yield Statement(
        d.sql(
            "SELECT s.id, COALESCE(s.owner, CAST(s.user_id AS TEXT)) FROM agentgit_threads t "
            "JOIN agentgit_sessions s ON s.id = t.session_id WHERE t.thread_id = ?"
        ),
        (thread_id,),
    )
    if not res.rows:
        return None
    row = res.rows[0]
    return (int(row[0]), str(row[1]))


def list_threads(d: Dialect, session_id: int) -> Op[list[InternalSession]]:
    session_id = check.store_session_id(session_id)
    res = yield Statement(_select_threads(d), (session_id,))
    return [thread_from_row(r) for r in res.rows]


def record_checkpoints(
    d: Dialect, thread_id: str, count: int, *, without_flush: bool = False
) -> Op[bool]:
    """Note `count` more saves of a thread, on every put; False if no session holds it.

    Where the store counts in the saver's own table (`Dialect.checkpoints_table`)
    a save is counted by being stored: this only reads whether the thread is
    held, so no crash between the save and this call can lose a count.
    Otherwise it is one UPDATE, so a store may run it alone in autocommit (it
    is its own transaction, atomic; concurrent increments serialize on the row
    lock and none is lost). With `without_flush` (only where the transaction
    is the store's own), it also commits without waiting for its WAL flush
    when the dialect can: the saver's put it counts has just waited for one,
    and the next synchronous commit on the server flushes this one too (see
    `stores/postgres.py`).
    """
    thread_id, count = check.thread_id(thread_id), check.count(count)
    if d.checkpoints_table is not None:
        held = yield Statement(
            d.sql("SELECT 1 FROM agentgit_threads WHERE thread_id = ?"), (thread_id,)
        )
        return bool(held.rows)
    sql = (
        "UPDATE agentgit_threads SET checkpoint_count = checkpoint_count + ?, "
        "updated_at = ? WHERE thread_id = ?"
    )
    if without_flush and d.commit_without_flush:
        sql += " AND " + d.commit_without_flush
    res = yield Statement(d.sql(sql), (count, d.ts(now()), thread_id))
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


def _in_list(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


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
    yield Statement(d.sql(_DELETE_ORPHAN_CLAIMS), (session_id,))
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
    check.reversal(rec)
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
    session_id, tool_call_id = check.reversal_key(session_id, tool_call_id)
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
    session_id, thread_id = check.reversal_filter(session_id, thread_id)
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

    # Each method below is one operation run in one transaction, in the mode it
    # states: `immediate=True` when it writes (SQLite `BEGIN IMMEDIATE`, a
    # read-write transaction on PostgreSQL), `False` when it only reads (one
    # snapshot; on PostgreSQL `REPEATABLE READ, READ ONLY`, so a read that
    # tried to write would fail instead of writing).
    def create_session(
        self,
        *,
        user_id: UserId,
        session_name: str,
        metadata: Mapping[str, Any] | None,
        thread_id: str,
    ) -> ExternalSession:
        op = create_session(self.dialect, user_id, session_name, metadata, thread_id)
        return self._run(op, immediate=True)

    async def acreate_session(
        self,
        *,
        user_id: UserId,
        session_name: str,
        metadata: Mapping[str, Any] | None,
        thread_id: str,
    ) -> ExternalSession:
        op = create_session(self.dialect, user_id, session_name, metadata, thread_id)
        return await self._arun(op, immediate=True)

    def ensure_session_for_thread(self, thread_id: str, *, user_id: UserId) -> None:
        self._run(ensure_session_for_thread(self.dialect, thread_id, user_id), immediate=True)

    async def aensure_session_for_thread(self, thread_id: str, *, user_id: UserId) -> None:
        await self._arun(
            ensure_session_for_thread(self.dialect, thread_id, user_id), immediate=True
        )

    def get_session(self, session_id: int) -> ExternalSession | None:
        return self._run(get_session(self.dialect, session_id), immediate=False)

    async def aget_session(self, session_id: int) -> ExternalSession | None:
        return await self._arun(get_session(self.dialect, session_id), immediate=False)

    def list_sessions(self, user_id: UserId | None = None) -> list[ExternalSession]:
        return self._run(list_sessions(self.dialect, user_id), immediate=False)

    async def alist_sessions(self, user_id: UserId | None = None) -> list[ExternalSession]:
        return await self._arun(list_sessions(self.dialect, user_id), immediate=False)

    def update_metadata(self, session_id: int, metadata: Mapping[str, Any]) -> bool:
        return self._run(update_metadata(self.dialect, session_id, metadata), immediate=True)

    async def aupdate_metadata(self, session_id: int, metadata: Mapping[str, Any]) -> bool:
        return await self._arun(update_metadata(self.dialect, session_id, metadata), immediate=True)

    def get_thread(self, thread_id: str) -> InternalSession | None:
        return self._run(get_thread(self.dialect, thread_id), immediate=False)

    async def aget_thread(self, thread_id: str) -> InternalSession | None:
        return await self._arun(get_thread(self.dialect, thread_id), immediate=False)

    def thread_owner(self, thread_id: str) -> tuple[int, str] | None:
        return self._run(thread_owner(self.dialect, thread_id), immediate=False)

    async def athread_owner(self, thread_id: str) -> tuple[int, str] | None:
        return await self._arun(thread_owner(self.dialect, thread_id), immediate=False)

    def list_threads(self, session_id: int) -> list[InternalSession]:
        return self._run(list_threads(self.dialect, session_id), immediate=False)

    async def alist_threads(self, session_id: int) -> list[InternalSession]:
        return await self._arun(list_threads(self.dialect, session_id), immediate=False)

    def record_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        op = record_checkpoints(self.dialect, thread_id, count)
        return self._run(op, immediate=self.dialect.counts_apart)

    async def arecord_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        op = record_checkpoints(self.dialect, thread_id, count)
        return await self._arun(op, immediate=self.dialect.counts_apart)

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

    def delete_session(self, session_id: int) -> list[str] | None:
        return self._run(delete_session(self.dialect, session_id), immediate=True)

    async def adelete_session(self, session_id: int) -> list[str] | None:
        return await self._arun(delete_session(self.dialect, session_id), immediate=True)

    def delete_threads(self, session_id: int, thread_ids: Sequence[str]) -> int:
        return self._run(delete_threads(self.dialect, session_id, thread_ids), immediate=True)

    async def adelete_threads(self, session_id: int, thread_ids: Sequence[str]) -> int:
        return await self._arun(
            delete_threads(self.dialect, session_id, thread_ids), immediate=True
        )

    def forget_thread(self, thread_id: str) -> bool:
        return self._run(forget_thread(self.dialect, thread_id), immediate=True)

    async def aforget_thread(self, thread_id: str) -> bool:
        return await self._arun(forget_thread(self.dialect, thread_id), immediate=True)

    def list_pending_deletes(self) -> list[str]:
        return self._run(list_pending_deletes(self.dialect), immediate=False)

    async def alist_pending_deletes(self) -> list[str]:
        return await self._arun(list_pending_deletes(self.dialect), immediate=False)

    def forget_pending_delete(self, thread_id: str) -> bool:
        return self._run(forget_pending_delete(self.dialect, thread_id), immediate=True)

    async def aforget_pending_delete(self, thread_id: str) -> bool:
        return await self._arun(forget_pending_delete(self.dialect, thread_id), immediate=True)

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

    def begin_branch(self, thread_id: str, session_id: int, owner: str) -> None:
        self._run(begin_branch(self.dialect, thread_id, session_id, owner), immediate=True)

    async def abegin_branch(self, thread_id: str, session_id: int, owner: str) -> None:
        await self._arun(begin_branch(self.dialect, thread_id, session_id, owner), immediate=True)

    def forget_pending_branch(self, thread_id: str) -> bool:
        return self._run(forget_pending_branch(self.dialect, thread_id), immediate=True)

    async def aforget_pending_branch(self, thread_id: str) -> bool:
        return await self._arun(forget_pending_branch(self.dialect, thread_id), immediate=True)

    def list_pending_branches(self) -> list[PendingBranch]:
        return self._run(list_pending_branches(self.dialect), immediate=False)

    async def alist_pending_branches(self) -> list[PendingBranch]:
        return await self._arun(list_pending_branches(self.dialect), immediate=False)


def block_on(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    """Run `coro` on `loop` from another thread and wait for it: the sync twins of an
    async store (never from the loop's own thread, which would deadlock)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise AgentGitError(
            "synchronous calls to an async session store are only allowed from a thread "
            "other than its event loop's; use the async methods (e.g. `await ...aget_session()`)"
        )
    return asyncio.run_coroutine_threadsafe(coro, loop).result()
