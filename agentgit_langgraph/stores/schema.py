"""The store's tables, defined once and rendered for each SQL dialect.

`MIGRATIONS` is the one definition: version N is its N-th entry, a statement
whose `$WORD`s each dialect spells its own way (`Spelling`), or a `ToUtc`
that each dialect renders with its own function. `render` turns it into the
statements a `Dialect` runs. The rendering of every shipped version must stay
what it was: databases record which versions they ran, not their text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from string import Template

from agentgit_langgraph.stores.utc import Migration

__all__ = ["MIGRATIONS", "TIMESTAMPS", "Spelling", "ToUtc", "render"]


@dataclass(frozen=True)
class ToUtc:
    """Make a table's naive local timestamps UTC (see `stores/utc.py`)."""

    table: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Spelling:
    """How one dialect writes the words the schema leaves open."""

    words: Mapping[str, str]
    """`$WORD` -> its text: `ID` (an auto-incrementing integer key), `INT`,
    `BOOL`, `TRUE`, `FALSE`, `LOCAL_TIME` (a timestamp as versions 1-9 wrote
    it), `UTC_TIME`, `ADD_COLUMN` (as idempotent as the dialect allows)."""
    to_utc: Callable[[str, tuple[str, ...]], Migration]


# Tables and their timestamp columns, as of version 9 (naive local time).
TIMESTAMPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("agentgit_sessions", ("created_at", "updated_at")),
    ("agentgit_threads", ("created_at", "updated_at")),
    ("agentgit_tags", ("created_at",)),
    ("agentgit_reversals", ("created_at", "updated_at")),
    ("agentgit_pending_branches", ("created_at",)),
)

# Migrations are append-only: version N is the N-th entry. Never edit one that
# has shipped; add a new one.
MIGRATIONS: tuple[str | ToUtc, ...] = (
    """CREATE TABLE IF NOT EXISTS agentgit_migrations (v INTEGER PRIMARY KEY)""",
    """CREATE TABLE IF NOT EXISTS agentgit_sessions (
        id $ID,
        user_id $INT NOT NULL DEFAULT 0,
        session_name TEXT NOT NULL DEFAULT '',
        created_at $LOCAL_TIME NOT NULL,
        updated_at $LOCAL_TIME NOT NULL,
        is_active $BOOL NOT NULL DEFAULT $TRUE,
        current_thread_id TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        branch_count $INT NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS agentgit_threads (
        seq $ID,
        thread_id TEXT NOT NULL UNIQUE,
        session_id $INT NOT NULL REFERENCES agentgit_sessions(id) ON DELETE CASCADE,
        parent_thread_id TEXT,
        branch_checkpoint_id TEXT,
        name TEXT,
        created_at $LOCAL_TIME NOT NULL,
        checkpoint_count $INT NOT NULL DEFAULT 0,
        is_branch $BOOL NOT NULL DEFAULT $FALSE,
        updated_at $LOCAL_TIME NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS agentgit_threads_session_idx
        ON agentgit_threads(session_id, seq)""",
    """CREATE INDEX IF NOT EXISTS agentgit_sessions_user_idx
        ON agentgit_sessions(user_id)""",
    """CREATE TABLE IF NOT EXISTS agentgit_tags (
        session_id $INT NOT NULL REFERENCES agentgit_sessions(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        checkpoint_id TEXT NOT NULL,
        created_at $LOCAL_TIME NOT NULL,
        PRIMARY KEY (session_id, name)
    )""",
    """CREATE UNIQUE INDEX IF NOT EXISTS agentgit_threads_name_idx
        ON agentgit_threads(session_id, name)""",
    """CREATE TABLE IF NOT EXISTS agentgit_reversals (
        session_id $INT NOT NULL REFERENCES agentgit_sessions(id) ON DELETE CASCADE,
        tool_call_id TEXT NOT NULL,
        tool_name TEXT NOT NULL,
        args TEXT NOT NULL DEFAULT '{}',
        thread_id TEXT NOT NULL,
        checkpoint_id TEXT,
        status TEXT NOT NULL,
        error TEXT,
        created_at $LOCAL_TIME NOT NULL,
        updated_at $LOCAL_TIME NOT NULL,
        PRIMARY KEY (session_id, tool_call_id)
    )""",
    """CREATE INDEX IF NOT EXISTS agentgit_reversals_thread_idx
        ON agentgit_reversals(thread_id)""",
    """CREATE TABLE IF NOT EXISTS agentgit_pending_branches (
        thread_id TEXT PRIMARY KEY,
        session_id $INT NOT NULL,
        created_at $LOCAL_TIME NOT NULL
    )""",
    # 10-14: naive local time -> UTC.
    *(ToUtc(table, cols) for table, cols in TIMESTAMPS),
    # 15-17: string owners (`_validate.owner_key`); `user_id` stays agentgit's int.
    """ALTER TABLE agentgit_sessions $ADD_COLUMN owner TEXT""",
    """UPDATE agentgit_sessions SET owner = CAST(user_id AS TEXT) WHERE owner IS NULL""",
    """CREATE INDEX IF NOT EXISTS agentgit_sessions_owner_idx
        ON agentgit_sessions(owner)""",
    # 18-19: who makes a pending branch; threads forgotten, checkpoints to erase.
    """ALTER TABLE agentgit_pending_branches $ADD_COLUMN owner TEXT NOT NULL DEFAULT ''""",
    """CREATE TABLE IF NOT EXISTS agentgit_pending_deletes (
        thread_id TEXT PRIMARY KEY,
        created_at $UTC_TIME NOT NULL
    )""",
    # 20: who claimed each reversal (see `claim_reversal`).
    """CREATE TABLE IF NOT EXISTS agentgit_reversal_claims (
        session_id $INT NOT NULL,
        tool_call_id TEXT NOT NULL,
        token TEXT NOT NULL,
        host TEXT NOT NULL,
        node TEXT NOT NULL,
        pid $INT NOT NULL,
        pid_start TEXT,
        claimed_at $UTC_TIME NOT NULL,
        expires_at $UTC_TIME NOT NULL,
        PRIMARY KEY (session_id, tool_call_id)
    )""",
    # 21-23: what became of a branch, and why it was opened (`set_status`, `rollback(intent=)`).
    """ALTER TABLE agentgit_threads $ADD_COLUMN status TEXT NOT NULL DEFAULT 'active'""",
    """ALTER TABLE agentgit_threads $ADD_COLUMN status_reason TEXT""",
    """ALTER TABLE agentgit_threads $ADD_COLUMN intent TEXT""",
)


def render(spelling: Spelling) -> tuple[Migration, ...]:
    """Every migration in one dialect's words (a missing word raises `KeyError`)."""
    return tuple(
        spelling.to_utc(m.table, m.columns)
        if isinstance(m, ToUtc)
        else Template(m).substitute(spelling.words)
        for m in MIGRATIONS
    )
