"""`agentgit threads` and `agentgit adopt`, on databases only LangGraph wrote.

The threads are written by the bare `SqliteSaver` / `PostgresSaver` through a
compiled chat graph (3 checkpoints a turn). Commands that only read must leave
such a database's schema exactly as it was: no `agentgit_*` table is created.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from agentgit_langgraph import AgentGitSaver
from tests.graphs import chat_graph_builder, human
from tests.test_cli import as_json, failed, ok, run

READS = (
    ("sessions",),
    ("--json", "sessions"),
    ("threads",),
    ("--json", "threads"),
    ("branches", "1"),
    ("log", "1"),
    ("log", "a"),
    ("tree", "1"),
    ("tree", "1", "--mermaid"),
    ("tags", "1"),
    ("diff", "1", "main", "main~1"),
)


def write_bare(saver: Any, threads: dict[str, int]) -> None:
    """Chat turns on each thread (`threads[id]` turns), saved by the bare saver."""
    saver.setup()
    graph = chat_graph_builder().compile(checkpointer=saver)
    for thread_id, turns in threads.items():
        for n in range(turns):
            graph.invoke(human(f"{thread_id} {n}", n), {"configurable": {"thread_id": thread_id}})


@pytest.fixture
def bare_db(tmp_path: Path) -> str:
    """A SQLite file with LangGraph's tables only: thread "a" (9 checkpoints), "b" (6)."""
    path = str(tmp_path / "agent.db")
    with SqliteSaver.from_conn_string(path) as saver:
        write_bare(saver, {"a": 3, "b": 2})
    return path


def sqlite_schema(path: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def test_read_commands_create_no_tables(bare_db: str) -> None:
    before = sqlite_schema(bare_db)
    assert before and not [row for row in before if row[1].startswith("agentgit")]
    for args in READS:
        run(bare_db, *args)
        assert sqlite_schema(bare_db) == before, args
    assert ok(bare_db, "sessions") == "no sessions\n"
    assert as_json(bare_db, "sessions") == []
    assert failed(bare_db, "branches", "1") == "error: session 1 not found\n"


def test_threads_then_adopt(bare_db: str) -> None:
    assert [line.split() for line in ok(bare_db, "threads").splitlines()] == [
        ["thread", "checkpoints", "session"],
        ["a", "9", "none"],
        ["b", "6", "none"],
    ]
    assert as_json(bare_db, "threads") == [
        {"thread_id": "a", "checkpoint_count": 9, "session_id": None},
        {"thread_id": "b", "checkpoint_count": 6, "session_id": None},
    ]
    assert (
        ok(bare_db, "adopt", "a", "--name", "old chat") == "thread a: session 1 (9 checkpoints)\n"
    )
    assert ok(bare_db, "threads").splitlines()[1].split() == ["a", "9", "1"]
    # Adopting it again answers with its session.
    assert ok(bare_db, "adopt", "a") == "thread a: session 1 (9 checkpoints)\n"
    assert ok(bare_db, "--user", "7", "adopt", "--all") == "thread b: session 2 (6 checkpoints)\n"
    assert ok(bare_db, "adopt", "--all") == "no thread without a session\n"
    sessions = as_json(bare_db, "sessions")
    assert [(s["session_name"], s["user_id"], s["total_checkpoints"]) for s in sessions] == [
        ("old chat", 0, 9),
        ("b", 7, 6),
    ]
    # --user lists only the threads no other user's session holds.
    assert [t["thread_id"] for t in as_json(bare_db, "--user", "7", "threads")] == ["b"]
    assert failed(bare_db, "--user", "7", "adopt", "a") == (
        "error: user 7 does not own session 1\n"
    )
    assert failed(bare_db, "adopt", "ghost") == (
        "error: the saver holds no checkpoint of thread 'ghost'\n"
    )
    with AgentGitSaver.from_conn_string(bare_db) as saver:
        assert saver.get_session(1).total_checkpoints == 9
        assert saver.branches(2)[0].checkpoint_count == 6


def test_adopt_usage(bare_db: str) -> None:
    assert failed(bare_db, "adopt", code=2)
    assert failed(bare_db, "adopt", "a", "--all", code=2)
    assert failed(bare_db, "adopt", "--all", "--name", "x", code=2)


def test_outdated_tables_are_not_migrated_by_a_read(bare_db: str) -> None:
    ok(bare_db, "adopt", "a")
    with sqlite3.connect(bare_db) as conn:
        conn.execute(
            "DELETE FROM agentgit_migrations WHERE v = (SELECT MAX(v) FROM agentgit_migrations)"
        )
    before = sqlite_schema(bare_db)
    assert "need migrating" in failed(bare_db, "sessions")
    assert sqlite_schema(bare_db) == before


# -- PostgreSQL ------------------------------------------------------------------------------


def pg_tables(uri: str) -> list[str]:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        return sorted(
            str(row[0])
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        )


@pytest.mark.postgres
def test_postgres_threads_adopt_and_read_only(fresh_postgres_uri: str) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    uri = fresh_postgres_uri
    a, b = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    with PostgresSaver.from_conn_string(uri) as saver:
        write_bare(saver, {a: 3, b: 1})
    before = pg_tables(uri)
    assert before and not [t for t in before if t.startswith("agentgit")]
    for args in READS:
        run(uri, *args)
    assert pg_tables(uri) == before
    assert ok(uri, "sessions") == "no sessions\n"
    listed: Callable[[], list[Any]] = lambda: [  # noqa: E731
        (t["thread_id"], t["checkpoint_count"], t["session_id"]) for t in as_json(uri, "threads")
    ]
    assert listed() == sorted([(a, 9, None), (b, 3, None)])
    assert ok(uri, "adopt", "--all").count("session") == 2
    adopted = {t[0]: t[2] for t in listed()}
    assert None not in adopted.values()
    sessions = {s["session_id"]: s["total_checkpoints"] for s in as_json(uri, "sessions")}
    assert {t: sessions[i] for t, i in adopted.items()} == {a: 9, b: 3}
