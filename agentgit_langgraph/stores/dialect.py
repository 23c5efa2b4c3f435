"""What differs between the SQL backends, and the two backends there are.

A `Dialect` is everything an operation needs to know of its database:
placeholders, how timestamps are stored, row locking, the schema rendered in
its words (`stores/schema.py`), and where a thread's count comes from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agentgit_langgraph.sessions import as_utc
from agentgit_langgraph.stores.rows import THREAD_COLUMNS
from agentgit_langgraph.stores.schema import Spelling, render
from agentgit_langgraph.stores.utc import Migration, postgres_to_timestamptz, sqlite_to_utc

__all__ = ["POSTGRES", "SQLITE", "Dialect", "counting_in_saver"]


@dataclass(frozen=True)
class Dialect:
    """What differs between SQL backends: placeholders, timestamps, DDL, locking."""

    name: str
    placeholder: str
    migrations: tuple[Migration, ...]
    """Version N is the N-th statement (`schema.render`)."""
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
    # Taken first in the migration transaction, where several processes may
    # set up one schema at once; "" where the backend runs writers one at a time.
    migration_lock: str = ""
    # An expression that takes the next session id ahead of its row, so one
    # statement can insert a thread before its session (with data-modifying
    # CTEs): `ensure_session_for_thread` in one round trip. "" where a
    # session's id comes only from inserting it.
    next_session_id: str = ""
    # One row when the table named by the parameter exists (read-only opening).
    has_table: str = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"

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


SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    timestamps_as_text=True,
    migrations=render(
        Spelling(
            words={
                "ID": "INTEGER PRIMARY KEY AUTOINCREMENT",
                "INT": "INTEGER",
                "BOOL": "INTEGER",
                "TRUE": "1",
                "FALSE": "0",
                # ISO-8601 text; with `+00:00` from version 10 on.
                "LOCAL_TIME": "TEXT",
                "UTC_TIME": "TEXT",
                "ADD_COLUMN": "ADD COLUMN",
            },
            to_utc=sqlite_to_utc,
        )
    ),
)

POSTGRES = Dialect(
    name="postgres",
    placeholder="%s",
    for_update=" FOR UPDATE",
    # `SET LOCAL synchronous_commit TO OFF`, as an expression: it can ride in
    # the statement itself, which then needs no transaction block of its own.
    commit_without_flush="set_config('synchronous_commit', 'off', true) = 'off'",
    next_session_id="nextval(pg_get_serial_sequence('agentgit_sessions', 'id'))",
    # Two first `setup()`s racing on `CREATE TABLE IF NOT EXISTS` would collide
    # in the catalog. Transaction-scoped: released at commit or rollback.
    migration_lock=(
        "SELECT pg_advisory_xact_lock("
        "hashtext('agentgit_langgraph.migrations:' || coalesce(current_schema(), '')))"
    ),
    has_table="SELECT 1 WHERE to_regclass(?) IS NOT NULL",
    migrations=render(
        Spelling(
            words={
                "ID": "BIGSERIAL PRIMARY KEY",
                "INT": "BIGINT",
                "BOOL": "BOOLEAN",
                "TRUE": "TRUE",
                "FALSE": "FALSE",
                "LOCAL_TIME": "TIMESTAMP",
                "UTC_TIME": "TIMESTAMPTZ",
                "ADD_COLUMN": "ADD COLUMN IF NOT EXISTS",
            },
            to_utc=postgres_to_timestamptz,
        )
    ),
)


def counting_in_saver(d: Dialect) -> Dialect:
    """`d` for a store on the saver's own database: counts come from LangGraph's table."""
    return dataclasses.replace(d, checkpoints_table="checkpoints")
