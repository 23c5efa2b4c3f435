"""Without a `store`, sessions live where the wrapped saver keeps its checkpoints.

`AgentGitSaver(SqliteSaver(conn))`, the one-line integration, must survive a
restart: after it, in a new process, the branches, tags and counts are all
there and `rollback` works. Same for `AsyncSqliteSaver`, `PostgresSaver` and
`AsyncPostgresSaver`. `InMemorySaver` keeps an in-memory store; any other saver
gets one too, with a warning naming the fix.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agentgit_langgraph import (
    AgentGitSaver,
    AsyncSqliteSessionStore,
    InMemorySessionStore,
    SqliteSessionStore,
)
from agentgit_langgraph.backends import default_store_for
from agentgit_langgraph.errors import VolatileSessionStoreWarning

# -- which store --------------------------------------------------------------------


def test_sqlite_saver_gets_a_store_on_its_connection_and_lock() -> None:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    inner = SqliteSaver(conn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        saver = AgentGitSaver(inner)
    assert isinstance(saver.store, SqliteSessionStore)
    assert saver.store.conn is conn and saver.store.lock is inner.lock


async def test_async_sqlite_saver_gets_a_store_on_its_connection_and_lock() -> None:
    async with aiosqlite.connect(":memory:") as conn:
        inner = AsyncSqliteSaver(conn)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            saver = AgentGitSaver(inner)
        assert isinstance(saver.store, AsyncSqliteSessionStore)
        assert saver.store.conn is conn and saver.store.lock is inner.lock


@pytest.mark.postgres
def test_postgres_saver_gets_a_store_on_its_connection_and_lock(postgres_schema_uri: str) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import Connection
    from psycopg.rows import dict_row

    from agentgit_langgraph.stores.postgres import PostgresSessionStore

    with Connection.connect(
        postgres_schema_uri, autocommit=True, prepare_threshold=0, row_factory=dict_row
    ) as conn:
        inner = PostgresSaver(conn)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            saver = AgentGitSaver(inner)
        assert isinstance(saver.store, PostgresSessionStore)
        assert saver.store.conn is conn and saver.store.lock is inner.lock


@pytest.mark.postgres
async def test_async_postgres_saver_gets_a_store_on_its_connection_and_lock(
    postgres_schema_uri: str,
) -> None:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row

    from agentgit_langgraph.stores.postgres import AsyncPostgresSessionStore

    async with await AsyncConnection.connect(
        postgres_schema_uri, autocommit=True, prepare_threshold=0, row_factory=dict_row
    ) as conn:
        inner = AsyncPostgresSaver(conn)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            saver = AgentGitSaver(inner)
        assert isinstance(saver.store, AsyncPostgresSessionStore)
        assert saver.store.conn is conn and saver.store.lock is inner.lock


def test_in_memory_saver_keeps_an_in_memory_store_quietly() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        saver = AgentGitSaver(InMemorySaver())
    assert isinstance(saver.store, InMemorySessionStore)


class _OtherSaver(BaseCheckpointSaver[Any]):
    """A checkpointer of none of the known kinds (its checkpoints could be anywhere)."""


def test_other_saver_warns_and_names_the_fix() -> None:
    with pytest.warns(VolatileSessionStoreWarning) as caught:
        saver = AgentGitSaver(_OtherSaver())
    assert isinstance(saver.store, InMemorySessionStore)
    message = str(caught[0].message)
    assert "_OtherSaver" in message and "store=" in message and "from_conn_string" in message
    assert caught[0].filename == __file__  # points at the caller's line


def test_an_explicit_store_is_used_without_a_warning() -> None:
    store = InMemorySessionStore()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        saver = AgentGitSaver(_OtherSaver(), store)
    assert saver.store is store
    assert type(default_store_for(InMemorySaver())) is InMemorySessionStore


# -- the one-line integration survives a restart --------------------------------------

SCRIPT = r"""
import asyncio, json, sqlite3, sys

from agentgit_langgraph import AgentGitSaver
from tests.graphs import chat_graph_builder, human

kind, target, action = sys.argv[1:4]
CHAT = {"configurable": {"thread_id": "chat"}}


def summary(saver, session, branches, tags, counted):
    return {
        "session": session.to_dict() | {"created_at": None, "updated_at": None},
        "branches": [
            [b.thread_id, b.name, b.parent_thread_id, b.branch_checkpoint_id,
             b.checkpoint_count, b.is_branch, b.is_current] for b in branches
        ],
        "tags": sorted([t.name, t.thread_id, t.checkpoint_id] for t in tags),
        "counted": counted,
        "store": type(saver.store).__name__,
    }


def write(saver):
    graph = chat_graph_builder().compile(checkpointer=saver)
    graph.invoke(human("hi", 0), CHAT)
    graph.invoke(human("again", 1), CHAT)
    history = list(graph.get_state_history(CHAT))
    saver.tag(history[1].config, "v1")
    branch = saver.rollback(history[2].config, name="retry")
    graph.invoke(human("retry", 2), branch)


def read(saver):
    session = saver.session_for_thread("chat")
    branches = saver.branches(session.id)
    counted = {b.thread_id: len(list(saver.list({"configurable": {"thread_id": b.thread_id}})))
               for b in branches}
    out = summary(saver, session, branches, saver.tags(session.id), counted)
    # What failed before: a rollback after the restart.
    first = list(saver.list(CHAT))[-1]
    out["rollback_after_restart"] = saver.rollback(first.config)["configurable"]["thread_id"] != ""
    return out


async def awrite(saver):
    graph = chat_graph_builder().compile(checkpointer=saver)
    await graph.ainvoke(human("hi", 0), CHAT)
    await graph.ainvoke(human("again", 1), CHAT)
    history = [s async for s in graph.aget_state_history(CHAT)]
    await saver.atag(history[1].config, "v1")
    branch = await saver.arollback(history[2].config, name="retry")
    await graph.ainvoke(human("retry", 2), branch)


async def aread(saver):
    session = await saver.asession_for_thread("chat")
    branches = await saver.abranches(session.id)
    counted = {}
    for b in branches:
        config = {"configurable": {"thread_id": b.thread_id}}
        counted[b.thread_id] = len([c async for c in saver.alist(config)])
    out = summary(saver, session, branches, await saver.atags(session.id), counted)
    first = [c async for c in saver.alist(CHAT)][-1]
    new = await saver.arollback(first.config)
    out["rollback_after_restart"] = new["configurable"]["thread_id"] != ""
    return out


def run_sync():
    if kind == "sqlite":
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(target, check_same_thread=False)
        saver = AgentGitSaver(SqliteSaver(conn))   # the one-line integration
        try:
            return write(saver) if action == "write" else read(saver)
        finally:
            conn.close()
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import Connection
    from psycopg.rows import dict_row

    with Connection.connect(target, autocommit=True, prepare_threshold=0,
                            row_factory=dict_row) as conn:
        saver = AgentGitSaver(PostgresSaver(conn))
        saver.setup()
        return write(saver) if action == "write" else read(saver)


async def run_async():
    if kind == "asqlite":
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        async with aiosqlite.connect(target) as conn:
            saver = AgentGitSaver(AsyncSqliteSaver(conn))
            return await (awrite(saver) if action == "write" else aread(saver))
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row

    async with await AsyncConnection.connect(target, autocommit=True, prepare_threshold=0,
                                             row_factory=dict_row) as conn:
        saver = AgentGitSaver(AsyncPostgresSaver(conn))
        await saver.asetup()
        return await (awrite(saver) if action == "write" else aread(saver))


result = asyncio.run(run_async()) if kind.startswith("a") else run_sync()
print(json.dumps(result))
"""


def _run(kind: str, target: str, action: str) -> Any:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", SCRIPT, kind, target, action],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


STORES = {
    "sqlite": "SqliteSessionStore",
    "asqlite": "AsyncSqliteSessionStore",
    "postgres": "PostgresSessionStore",
    "apostgres": "AsyncPostgresSessionStore",
}


def _restart_check(kind: str, target: str) -> None:
    _run(kind, target, "write")
    after = _run(kind, target, "read")  # a new process: nothing survives but the database
    assert after["store"] == STORES[kind]
    session = after["session"]
    assert session["session_name"] == "chat"
    assert session["branch_count"] == 1
    (first, branch) = after["branches"]
    assert first[:2] == ["chat", None] and first[4:6] == [6, False]
    assert branch[1:3] == ["retry", "chat"] and branch[5:] == [True, True]
    assert session["current_internal_session_id"] == branch[0]
    assert session["internal_session_ids"] == [first[0], branch[0]]
    # The counts are the checkpoints the saver holds, and the total their sum.
    assert {b[0]: b[4] for b in after["branches"]} == after["counted"]
    assert session["total_checkpoints"] == sum(after["counted"].values())
    assert [t[:2] for t in after["tags"]] == [["v1", "chat"]]
    assert after["rollback_after_restart"] is True


def _sqlite_target(tmp_path: Path) -> str:
    return str(tmp_path / "agent.db")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "asqlite"])
def test_one_line_sqlite_integration_survives_a_restart(kind: str, tmp_path: Path) -> None:
    _restart_check(kind, _sqlite_target(tmp_path))


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["postgres", "apostgres"])
def test_one_line_postgres_integration_survives_a_restart(
    kind: str, postgres_schema_uri: str
) -> None:
    _restart_check(kind, postgres_schema_uri)
