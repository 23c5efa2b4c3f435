"""Time is UTC and timezone-aware everywhere: store columns, records, JSON.

* A database written before (naive local timestamps: SQLite text without an
  offset, PostgreSQL `timestamp`) is migrated by the first `setup()` of this
  version: SQLite text gets `+00:00`, PostgreSQL columns become `timestamptz`,
  and every value keeps the instant it meant, the old values being local time
  of the writer, taken as the zone of the migrating process.
* Processes in different time zones sharing a database agree on ages, order
  and JSON (which carries the offset).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite
import pytest

from agentgit_langgraph import AgentGitSaver, AsyncSqliteSessionStore, SqliteSessionStore
from agentgit_langgraph._plan import Plan, call
from agentgit_langgraph.stores.base import BaseSessionStore
from agentgit_langgraph.stores.sql import POSTGRES, SQLITE
from tests.conftest import Run
from tests.plans import on

OLD_VERSIONS = 10
"""Migrations 0-9 shipped with naive local timestamps; 10-14 convert them."""

W1 = datetime(2025, 1, 15, 10, 30, 0, 500000)  # naive, as the old code wrote: winter
W2 = datetime(2025, 7, 1, 9, 0)  # and summer (DST where the zone has it)
ZONES = ["Asia/Tokyo", "America/Los_Angeles"]
TIMESTAMP_COLUMNS = {
    "agentgit_sessions": ("created_at", "updated_at"),
    "agentgit_threads": ("created_at", "updated_at"),
    "agentgit_tags": ("created_at",),
    "agentgit_reversals": ("created_at", "updated_at"),
    "agentgit_pending_branches": ("created_at",),
}

# The rows an old version wrote: one of each table, every timestamp naive.
OLD_ROWS: list[tuple[str, tuple[Any, ...]]] = [
    (
        "INSERT INTO agentgit_sessions (id, user_id, session_name, created_at, updated_at, "
        "is_active, current_thread_id, metadata, branch_count) "
        "VALUES (1, 5, 'old', ?, ?, ?, 't2', '{}', 1)",
        (W1, W2, True),
    ),
    (
        "INSERT INTO agentgit_threads (thread_id, session_id, parent_thread_id, "
        "branch_checkpoint_id, name, created_at, checkpoint_count, is_branch, updated_at) "
        "VALUES ('t1', 1, NULL, NULL, NULL, ?, 3, ?, ?)",
        (W1, False, W1),
    ),
    (
        "INSERT INTO agentgit_threads (thread_id, session_id, parent_thread_id, "
        "branch_checkpoint_id, name, created_at, checkpoint_count, is_branch, updated_at) "
        "VALUES ('t2', 1, 't1', 'c1', 'b', ?, 1, ?, ?)",
        (W2, True, W2),
    ),
    (
        "INSERT INTO agentgit_tags (session_id, name, thread_id, checkpoint_ns, "
        "checkpoint_id, created_at) VALUES (1, 'v1', 't1', '', 'c1', ?)",
        (W1,),
    ),
    (
        "INSERT INTO agentgit_reversals (session_id, tool_call_id, tool_name, args, "
        "thread_id, checkpoint_id, status, error, created_at, updated_at) "
        "VALUES (1, 'call-1', 'book', '{}', 't1', 'c1', 'reversed', NULL, ?, ?)",
        (W1, W2),
    ),
    (
        "INSERT INTO agentgit_pending_branches (thread_id, session_id, created_at) "
        "VALUES ('t9', 1, ?)",
        (W1,),
    ),
]


def meant(naive: datetime, zone: str) -> datetime:
    """The instant a naive value written in `zone` stood for."""
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _old_sqlite(path: Path) -> None:
    """A file as the previous version left it: migrations 0-9 and naive text."""
    with closing(sqlite3.connect(path)) as conn:
        for v, ddl in enumerate(SQLITE.migrations[:OLD_VERSIONS]):
            assert isinstance(ddl, str)
            conn.execute(ddl)
            conn.execute("INSERT INTO agentgit_migrations (v) VALUES (?)", (v,))
        for sql, params in OLD_ROWS:
            old = tuple(p.isoformat() if isinstance(p, datetime) else p for p in params)
            conn.execute(sql, old)
        conn.commit()


def _old_postgres(uri: str) -> None:
    """A schema as the previous version left it: `timestamp` columns, naive values."""
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        for v, ddl in enumerate(POSTGRES.migrations[:OLD_VERSIONS]):
            assert isinstance(ddl, str)
            conn.execute(ddl)
            conn.execute("INSERT INTO agentgit_migrations (v) VALUES (%s)", (v,))
        for sql, params in OLD_ROWS:
            conn.execute(sql.replace("?", "%s"), params)  # psycopg sends naive as timestamp


def migrated_flow(zone: str) -> Plan[None]:
    """Every timestamp comes back aware UTC, the instant the old writer meant."""
    s = yield from call(BaseSessionStore.get_session, 1)
    assert s.created_at == meant(W1, zone) and s.created_at.tzinfo is UTC
    assert s.updated_at == meant(W2, zone) and s.updated_at.tzinfo is UTC
    threads = yield from call(BaseSessionStore.list_threads, 1)
    assert [(t.thread_id, t.created_at) for t in threads] == [
        ("t1", meant(W1, zone)),
        ("t2", meant(W2, zone)),
    ]
    assert all(t.created_at is not None and t.created_at.tzinfo is UTC for t in threads)
    (tag,) = yield from call(BaseSessionStore.list_tags, 1)
    assert tag.created_at == meant(W1, zone) and tag.created_at.tzinfo is UTC
    (rev,) = yield from call(BaseSessionStore.list_reversals, session_id=1)
    assert (rev.created_at, rev.updated_at) == (meant(W1, zone), meant(W2, zone))
    (note,) = yield from call(BaseSessionStore.list_pending_branches)
    assert note.thread_id == "t9" and note.created_at == meant(W1, zone)
    assert note.created_at.tzinfo is UTC
    # Writes after the migration are aware UTC and order after the old ones.
    assert (yield from call(BaseSessionStore.record_checkpoints, "t1")) is True
    again = yield from call(BaseSessionStore.get_session, 1)
    assert again.total_checkpoints == 5
    assert again.updated_at > s.updated_at
    assert again.updated_at.tzinfo is UTC


def _sqlite_texts(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [
            str(value)
            for table, cols in TIMESTAMP_COLUMNS.items()
            for col in cols
            for (value,) in conn.execute(f"SELECT {col} FROM {table}")
        ]


def _check_sqlite_file(path: Path, zone: str) -> None:
    texts = _sqlite_texts(path)
    assert texts and all(t.endswith("+00:00") for t in texts), texts
    with closing(sqlite3.connect(path)) as conn:
        (session_created,) = conn.execute(
            "SELECT created_at FROM agentgit_sessions WHERE id = 1"
        ).fetchone()
    assert session_created == meant(W1, zone).isoformat(timespec="microseconds")
    versions = [v for (v,) in sqlite3.connect(path).execute("SELECT v FROM agentgit_migrations")]
    assert sorted(versions) == list(range(len(SQLITE.migrations)))


@asynccontextmanager
async def sqlite_store(run: Run, path: Path) -> AsyncIterator[BaseSessionStore]:
    """A SQLite session store on `path` for the API `run` drives."""
    if run.is_async:
        async with aiosqlite.connect(path) as aconn:
            yield AsyncSqliteSessionStore(aconn)
    else:
        with closing(sqlite3.connect(path, check_same_thread=False)) as conn:
            yield SqliteSessionStore(conn)


@pytest.mark.parametrize("zone", ZONES)
async def test_sqlite_naive_rows_migrate_to_utc(
    run: Run, tmp_path: Path, local_zone: Callable[[str], None], zone: str
) -> None:
    local_zone(zone)
    path = tmp_path / "old.db"
    _old_sqlite(path)
    async with sqlite_store(run, path) as store:
        await run(migrated_flow(zone), {BaseSessionStore: store})
    _check_sqlite_file(path, zone)
    with closing(sqlite3.connect(path, check_same_thread=False)) as conn:
        reopened = SqliteSessionStore(conn)
        reopened.setup()  # applied versions are not run again
        s = reopened.get_session(1)
        assert s is not None and s.created_at == meant(W1, zone)


def _check_postgres_columns(uri: str) -> None:
    import psycopg

    with psycopg.connect(uri) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name LIKE 'agentgit_%%' "
            "AND column_name IN ('created_at', 'updated_at')"
        ).fetchall()
        versions = [r[0] for r in conn.execute("SELECT v FROM agentgit_migrations ORDER BY v")]
    found = {(t, c): ty for t, c, ty in rows}
    expected = {(t, c) for t, cols in TIMESTAMP_COLUMNS.items() for c in cols}
    # Tables created after the conversion are timestamptz from the start.
    expected |= {("agentgit_pending_deletes", "created_at")}
    assert set(found) == expected
    assert set(found.values()) == {"timestamp with time zone"}
    assert versions == list(range(len(POSTGRES.migrations)))


@asynccontextmanager
async def postgres_store(run: Run, uri: str) -> AsyncIterator[BaseSessionStore]:
    """A PostgreSQL session store on `uri` for the API `run` drives."""
    from psycopg import AsyncConnection, Connection

    from agentgit_langgraph.stores.postgres import AsyncPostgresSessionStore, PostgresSessionStore

    if run.is_async:
        async with await AsyncConnection.connect(uri, autocommit=True) as aconn:
            yield AsyncPostgresSessionStore(aconn)
    else:
        with Connection.connect(uri, autocommit=True) as conn:
            yield PostgresSessionStore(conn)


@pytest.mark.postgres
@pytest.mark.parametrize("zone", ZONES)
async def test_postgres_naive_rows_migrate_to_timestamptz(
    run: Run, fresh_postgres_uri: str, local_zone: Callable[[str], None], zone: str
) -> None:
    local_zone(zone)
    _old_postgres(fresh_postgres_uri)
    async with postgres_store(run, fresh_postgres_uri) as store:
        await run(migrated_flow(zone), {BaseSessionStore: store})
    _check_postgres_columns(fresh_postgres_uri)


# -- two processes, two time zones ----------------------------------------------------

WRITER = """
import asyncio, json, sys, time
from datetime import UTC, datetime
from agentgit_langgraph import AgentGitSaver
from tests.graphs import chat_graph_builder, human

time.tzset()
conn_string, mode = sys.argv[1], sys.argv[2]
cfg = {"configurable": {"thread_id": "tokyo-chat", "user_id": 7}}
before = datetime.now(UTC)

def run():
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        graph.invoke(human("hi", 0), cfg)
        graph.invoke(human("again", 1), cfg)
        history = list(graph.get_state_history(cfg))
        saver.tag(history[1].config, "v1")
        branch = saver.rollback(history[2].config, name="retry")
        graph.invoke(human("retry", 2), branch)

async def arun():
    async with AgentGitSaver.afrom_conn_string(conn_string) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        await graph.ainvoke(human("hi", 0), cfg)
        await graph.ainvoke(human("again", 1), cfg)
        history = [s async for s in graph.aget_state_history(cfg)]
        await saver.atag(history[1].config, "v1")
        branch = await saver.arollback(history[2].config, name="retry")
        await graph.ainvoke(human("retry", 2), branch)

run() if mode == "sync" else asyncio.run(arun())
print(json.dumps({
    "before": before.isoformat(),
    "after": datetime.now(UTC).isoformat(),
    "local": datetime.now().isoformat(),
}))
"""


def _write_in_tokyo(conn_string: str, mode: str) -> dict[str, datetime]:
    env = {**os.environ, "TZ": "Asia/Tokyo", "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", WRITER, conn_string, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return {k: datetime.fromisoformat(v) for k, v in json.loads(out.stdout).items()}


def read_in_los_angeles_flow(written: dict[str, datetime]) -> Plan[None]:
    before, after = written["before"], written["after"]
    # The writer really was 17 hours (16 in summer) ahead of us.
    assert abs((written["local"] - datetime.now()).total_seconds()) > 15 * 3600
    session = yield from call(AgentGitSaver.session_for_thread, "tokyo-chat")
    assert session.user_id == 7
    assert session.created_at.tzinfo is UTC and before <= session.created_at <= after
    assert session.updated_at.tzinfo is UTC and session.created_at <= session.updated_at
    age = session.get_session_age()
    assert age is not None and 0 <= age <= (datetime.now(UTC) - before).total_seconds() / 3600
    first, branch = yield from call(AgentGitSaver.branches, session.id)
    assert (first.thread_id, branch.name) == ("tokyo-chat", "retry")
    assert first.created_at < branch.created_at <= after  # the order they were made in
    (tag,) = yield from call(AgentGitSaver.tags, session.id)
    assert first.created_at <= tag.created_at <= branch.created_at
    data = session.to_dict()
    assert data["created_at"].endswith("+00:00") and data["updated_at"].endswith("+00:00")
    assert datetime.fromisoformat(data["created_at"]) == session.created_at
    tree = yield from call(AgentGitSaver.tree_data, session.id)
    stamps = json.dumps(tree)
    assert '"created_at": "' in stamps and all(
        node["created_at"].endswith("+00:00") for node in _nodes(tree)
    )


def _nodes(tree: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = list(tree["roots"] if "roots" in tree else tree.get("threads", []))
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(node.get("children", []))
    assert found
    return found


def _conn_string(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return str(tmp_path / "shared.db")
    return str(request.getfixturevalue("postgres_schema_uri"))


KINDS = ["sqlite", "postgres"]


@pytest.mark.parametrize("kind", KINDS)
async def test_tokyo_writes_los_angeles_reads(
    run: Run,
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    local_zone: Callable[[str], None],
) -> None:
    conn_string = _conn_string(kind, tmp_path, request)
    local_zone("America/Los_Angeles")
    written = _write_in_tokyo(conn_string, run.mode)
    async with run.from_conn_string(conn_string) as saver:
        await run(read_in_los_angeles_flow(written), on(saver))
