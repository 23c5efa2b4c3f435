"""PostgreSQL session stores on a real server.

The store contract on `PostgresSessionStore` and `AsyncPostgresSessionStore`,
each over a single connection and over a pool; failures that write nothing;
versioned, idempotent, race-free setup; connections killed by the server; and
`AgentGitSaver.from_conn_string("postgresql://...")` with a real chat graph.
Every test gets an empty schema of its own (inside the run's server).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import pytest

psycopg = pytest.importorskip("psycopg")
pytest.importorskip("psycopg_pool")

from psycopg import AsyncConnection, Connection  # noqa: E402
from psycopg_pool import AsyncConnectionPool, ConnectionPool  # noqa: E402

from agentgit_langgraph import (  # noqa: E402
    AgentGitError,
    AgentGitSaver,
    CheckpointNotFoundError,
    InternalSession,
    InvalidConfigError,
    SessionNotFoundError,
    StoreError,
)
from agentgit_langgraph._plan import Plan, Targets, call, run_async, run_sync  # noqa: E402
from agentgit_langgraph.stores.base import BaseSessionStore  # noqa: E402
from agentgit_langgraph.stores.pg_pool import (  # noqa: E402
    AsyncStickyConnectionPool,
    StickyConnectionPool,
)
from agentgit_langgraph.stores.postgres import (  # noqa: E402
    AsyncPostgresSessionStore,
    PostgresSessionStore,
    open_postgres_async,
    open_postgres_sync,
)
from agentgit_langgraph.stores.sql import POSTGRES, SqlSessionStore, Statement  # noqa: E402
from tests.conftest import Run  # noqa: E402
from tests.graphs import chat_graph_builder, contents, human  # noqa: E402
from tests.plans import get_state, held, history, invoke, on  # noqa: E402

T = TypeVar("T")

pytestmark = pytest.mark.postgres

TABLES = (
    "agentgit_migrations",
    "agentgit_pending_branches",
    "agentgit_pending_deletes",
    "agentgit_reversal_claims",
    "agentgit_reversals",
    "agentgit_sessions",
    "agentgit_tags",
    "agentgit_threads",
)


# -- a fresh schema per test ---------------------------------------------------


@dataclass
class Pg:
    """One test's schema: `uri` for the code under test, admin helpers for the test."""

    uri: str  # search_path = the schema; application_name = `app`
    admin_uri: str  # the same schema, another application_name
    schema: str
    app: str

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.admin_uri, autocommit=True) as conn:
            cur = conn.execute(sql, params or None)
            return cur.fetchall() if cur.description else []

    def snapshot(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Every row of the session tables, to show a failed call wrote nothing."""
        return (
            self.rows("SELECT * FROM agentgit_sessions ORDER BY id"),
            self.rows("SELECT * FROM agentgit_threads ORDER BY seq"),
        )

    def versions(self) -> list[int]:
        return [r[0] for r in self.rows("SELECT v FROM agentgit_migrations ORDER BY v")]

    def exists(self, table: str) -> bool:
        return self.rows("SELECT to_regclass(%s) IS NOT NULL", (table,))[0][0]  # type: ignore[no-any-return]

    def backend_pids(self, *, waiting_on_lock: bool = False) -> list[int]:
        sql = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
        if waiting_on_lock:
            sql += " AND wait_event_type = 'Lock'"
        return [r[0] for r in self.rows(sql, (self.app,))]

    def kill(self, pids: list[int]) -> None:
        """`pg_terminate_backend`, from another connection, as a server restart would.

        Waits until each backend has exited (and so closed its socket): a
        connection used while its backend is still dying fails mid-statement,
        which no pool check can hide.
        """
        for pid in pids:
            self.rows("SELECT pg_terminate_backend(%s, 10000)", (pid,))

    def kill_all(self) -> int:
        pids = self.backend_pids()
        self.kill(pids)
        return len(pids)

    def wait_for_no_backend(self, timeout: float = 10.0) -> bool:
        """Whether every backend of `app` is gone within `timeout`: a server
        process ends a moment after its client closed the connection."""
        deadline = time.monotonic() + timeout
        while self.backend_pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def wait_for_blocked_backend(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.backend_pids(waiting_on_lock=True)
            if pids:
                return pids[0]
            time.sleep(0.02)
        raise AssertionError("the store's statement never blocked")


@pytest.fixture
def pg(postgres_schema_uri: str) -> Iterator[Pg]:
    base, sep, run_schema = postgres_schema_uri.rpartition("search_path%3D")
    assert sep, postgres_schema_uri
    tag = uuid.uuid4().hex[:8]
    schema = f"{run_schema}_{tag}"
    admin_uri = f"{base}search_path%3D{schema}"
    with psycopg.connect(postgres_schema_uri, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Pg(
            uri=f"{admin_uri}&application_name=agentgit-test-{tag}",
            admin_uri=f"{admin_uri}&application_name=agentgit-admin-{tag}",
            schema=schema,
            app=f"agentgit-test-{tag}",
        )
    finally:
        with psycopg.connect(postgres_schema_uri, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


# -- both stores, over a connection and over a pool ------------------------------

KINDS = ["sync-conn", "sync-pool", "async-conn", "async-pool"]


@dataclass
class Driver:
    """Drives a plan on the store: `run_sync` on a sync store, `run_async` on an async one
    (`await st(call(BaseSessionStore.get_session, sid))`)."""

    store: SqlSessionStore
    kind: str

    @property
    def is_async(self) -> bool:
        return self.kind.startswith("async")

    @property
    def pooled(self) -> bool:
        return self.kind.endswith("pool")

    @property
    def targets(self) -> Targets:
        return {BaseSessionStore: self.store}

    async def __call__(self, plan: Plan[T]) -> T:
        if self.is_async:
            return await run_async(plan, self.targets)
        return run_sync(plan, self.targets)

    async def in_background(self, plan: Plan[T]) -> asyncio.Future[T]:
        """Start a plan that may block; the loop stays free for the test."""
        if self.is_async:
            return asyncio.ensure_future(run_async(plan, self.targets))
        return asyncio.ensure_future(asyncio.to_thread(run_sync, plan, self.targets))


@pytest.fixture(params=KINDS)
async def st(request: pytest.FixtureRequest, pg: Pg) -> AsyncIterator[Driver]:
    kind = request.param
    if kind == "sync-conn":
        with Connection.connect(pg.uri, autocommit=True) as conn:
            yield Driver(PostgresSessionStore(conn), kind)
    elif kind == "sync-pool":
        with ConnectionPool(
            pg.uri, kwargs={"autocommit": True}, min_size=2, max_size=8, open=False
        ) as pool:
            yield Driver(PostgresSessionStore(pool), kind)
    elif kind == "async-conn":
        async with await AsyncConnection.connect(pg.uri, autocommit=True) as aconn:
            yield Driver(AsyncPostgresSessionStore(aconn), kind)
    else:
        async with AsyncConnectionPool(
            pg.uri, kwargs={"autocommit": True}, min_size=2, max_size=8, open=False
        ) as apool:
            yield Driver(AsyncPostgresSessionStore(apool), kind)


def branch(session_id: int, thread_id: str, parent: str = "t1", **kw: Any) -> InternalSession:
    fields: dict[str, Any] = {
        "parent_thread_id": parent,
        "branch_checkpoint_id": f"ckpt-of-{thread_id}",
        "checkpoint_count": 1,
        "is_branch": True,
    }
    fields.update(kw)
    return InternalSession(thread_id=thread_id, session_id=session_id, **fields)


async def new_session(st: Driver, thread_id: str = "t1", **kw: Any) -> Any:
    args: dict[str, Any] = {"user_id": 7, "session_name": "demo", "metadata": None}
    args.update(kw)
    return await st(call(BaseSessionStore.create_session, thread_id=thread_id, **args))


# -- the store contract ----------------------------------------------------------


async def test_create_and_get_session(st: Driver) -> None:
    s = await new_session(st, metadata={"topic": "trip", "n": 1})
    assert isinstance(s.id, int)
    assert (s.user_id, s.session_name, s.metadata) == (7, "demo", {"topic": "trip", "n": 1})
    assert s.internal_session_ids == ["t1"]
    assert s.current_internal_session_id == "t1"
    assert (s.branch_count, s.total_checkpoints, s.is_active) == (0, 0, True)
    assert s.created_at is not None and s.created_at.utcoffset() == timedelta(0)  # aware UTC
    assert s.get_session_age() >= 0

    again = await st(call(BaseSessionStore.get_session, s.id))
    assert again.to_dict() == s.to_dict()
    first = await st(call(BaseSessionStore.get_thread, "t1"))
    assert first == InternalSession(
        thread_id="t1", session_id=s.id, created_at=first.created_at, checkpoint_count=0
    )
    assert first.parent_thread_id is None and first.is_branch is False
    assert await st(call(BaseSessionStore.list_threads, s.id)) == [first]


async def test_unknown_ids_change_nothing(st: Driver, pg: Pg) -> None:
    s = await new_session(st)
    before = pg.snapshot()
    assert await st(call(BaseSessionStore.get_session, s.id + 1000)) is None
    assert await st(call(BaseSessionStore.get_thread, "nope")) is None
    assert await st(call(BaseSessionStore.list_threads, s.id + 1000)) == []
    assert await st(call(BaseSessionStore.record_checkpoints, "nope")) is False
    assert await st(call(BaseSessionStore.update_metadata, s.id + 1000, {"a": 1})) is False
    assert await st(call(BaseSessionStore.set_current, s.id + 1000, "t1")) is False
    assert await st(call(BaseSessionStore.set_current, s.id, "nope")) is False
    with pytest.raises(SessionNotFoundError, match=str(s.id + 1000)):
        await st(call(BaseSessionStore.add_branch, branch(s.id + 1000, "t9")))
    assert pg.snapshot() == before


async def test_create_session_on_a_taken_thread_writes_nothing(st: Driver, pg: Pg) -> None:
    await new_session(st)
    before = pg.snapshot()
    with pytest.raises(StoreError, match="'t1' already belongs"):
        await new_session(st, session_name="other")
    assert pg.snapshot() == before
    assert [s.session_name for s in await st(call(BaseSessionStore.list_sessions))] == ["demo"]


async def test_list_sessions_oldest_first_and_by_user(st: Driver) -> None:
    a = await new_session(st, "a1", user_id=1, session_name="a")
    b = await new_session(st, "b1", user_id=2, session_name="b")
    c = await new_session(st, "a2", user_id=1, session_name="c")
    await st(call(BaseSessionStore.add_branch, branch(a.id, "a1-x", parent="a1")))
    await st(call(BaseSessionStore.record_checkpoints, "a1", 2))
    await st(call(BaseSessionStore.record_checkpoints, "b1", 5))

    everyone = await st(call(BaseSessionStore.list_sessions))
    assert [s.id for s in everyone] == [a.id, b.id, c.id]
    by_id = {s.id: s for s in everyone}
    assert by_id[a.id].internal_session_ids == ["a1", "a1-x"]
    assert (by_id[a.id].total_checkpoints, by_id[b.id].total_checkpoints) == (3, 5)
    assert [s.id for s in await st(call(BaseSessionStore.list_sessions, 1))] == [a.id, c.id]
    assert [s.to_dict() for s in await st(call(BaseSessionStore.list_sessions, 2))] == [
        by_id[b.id].to_dict()
    ]
    assert await st(call(BaseSessionStore.list_sessions, 99)) == []


async def test_record_checkpoints_adds_atomically(st: Driver) -> None:
    s = await new_session(st)
    assert await st(call(BaseSessionStore.record_checkpoints, "t1")) is True
    assert await st(call(BaseSessionStore.record_checkpoints, "t1", 3)) is True
    await st(call(BaseSessionStore.add_branch, branch(s.id, "t2")))
    await st(call(BaseSessionStore.record_checkpoints, "t2"))
    assert (await st(call(BaseSessionStore.get_thread, "t1"))).checkpoint_count == 4
    assert (await st(call(BaseSessionStore.get_thread, "t2"))).checkpoint_count == 2
    assert (await st(call(BaseSessionStore.get_session, s.id))).total_checkpoints == 6


async def test_add_branch_registers_and_makes_current(st: Driver) -> None:
    s = await new_session(st)
    await st(call(BaseSessionStore.add_branch, branch(s.id, "t2", name="retry")))
    await st(call(BaseSessionStore.add_branch, branch(s.id, "t3", parent="t2")))
    after = await st(call(BaseSessionStore.get_session, s.id))
    assert after.internal_session_ids == ["t1", "t2", "t3"]
    assert (after.branch_count, after.current_internal_session_id) == (2, "t3")
    assert after.updated_at >= s.updated_at
    t2 = await st(call(BaseSessionStore.get_thread, "t2"))
    assert (t2.parent_thread_id, t2.branch_checkpoint_id, t2.name) == ("t1", "ckpt-of-t2", "retry")
    assert (t2.is_branch, t2.checkpoint_count, t2.session_id) == (True, 1, s.id)
    assert [t.thread_id for t in await st(call(BaseSessionStore.list_threads, s.id))] == [
        "t1",
        "t2",
        "t3",
    ]


async def test_add_branch_on_a_taken_thread_rolls_back_the_session_update(
    st: Driver, pg: Pg
) -> None:
    s = await new_session(st)
    other = await new_session(st, "o1")
    before = pg.snapshot()
    # The UPDATE of the session runs first; the INSERT then finds the thread taken.
    with pytest.raises(StoreError, match="'o1' already belongs"):
        await st(call(BaseSessionStore.add_branch, branch(s.id, "o1")))
    assert pg.snapshot() == before
    again = await st(call(BaseSessionStore.get_session, s.id))
    assert (again.branch_count, again.current_internal_session_id) == (0, "t1")
    assert (await st(call(BaseSessionStore.get_thread, "o1"))).session_id == other.id


async def test_set_current_only_to_own_threads(st: Driver, pg: Pg) -> None:
    s = await new_session(st)
    other = await new_session(st, "o1")
    await st(call(BaseSessionStore.add_branch, branch(s.id, "t2")))
    assert await st(call(BaseSessionStore.set_current, s.id, "t1")) is True
    assert (await st(call(BaseSessionStore.get_session, s.id))).current_internal_session_id == "t1"
    before = pg.snapshot()
    # Not to another session's thread.
    assert await st(call(BaseSessionStore.set_current, s.id, "o1")) is False
    assert await st(call(BaseSessionStore.set_current, other.id, "t2")) is False
    assert pg.snapshot() == before


async def test_update_metadata_merges(st: Driver) -> None:
    s = await new_session(st, metadata={"a": 1, "b": {"x": 1}})
    assert await st(call(BaseSessionStore.update_metadata, s.id, {"b": 2, "c": [1, "two"]})) is True
    after = await st(call(BaseSessionStore.get_session, s.id))
    assert after.metadata == {"a": 1, "b": 2, "c": [1, "two"]}
    assert after.updated_at > s.updated_at


async def test_ensure_session_for_thread(st: Driver) -> None:
    await st(call(BaseSessionStore.ensure_session_for_thread, "chat", user_id=5))
    # Already held: a no-op.
    await st(call(BaseSessionStore.ensure_session_for_thread, "chat", user_id=6))
    sessions = await st(call(BaseSessionStore.list_sessions))
    assert len(sessions) == 1
    s = sessions[0]
    assert (s.user_id, s.session_name, s.internal_session_ids) == (5, "chat", ["chat"])
    await st(call(BaseSessionStore.add_branch, branch(s.id, "chat-b", parent="chat")))
    # A branch is held too.
    await st(call(BaseSessionStore.ensure_session_for_thread, "chat-b", user_id=0))
    assert [x.id for x in await st(call(BaseSessionStore.list_sessions))] == [s.id]


async def test_ensure_session_takes_back_a_thread_noted_for_deletion(st: Driver) -> None:
    from tests.test_stores import ensure_session_takes_back_a_thread_noted_for_deletion_flow

    await st(ensure_session_takes_back_a_thread_noted_for_deletion_flow())


def test_a_new_threads_session_is_one_statement_sent_alone(
    pg: Pg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first put of every conversation makes it: one round trip, no BEGIN or COMMIT."""
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def spy(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    with PostgresSessionStore.from_conn_string(pg.uri) as store:
        store.setup()
        monkeypatch.setattr(psycopg.Cursor, "execute", spy)
        store.ensure_session_for_thread("new", user_id=3)
        assert len(sent) == 1 and sent[0].startswith("WITH t AS (INSERT INTO agentgit_threads")
        assert store.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        store.ensure_session_for_thread("new", user_id=4)  # held: the same statement, no-op
        assert len(sent) == 2
    assert pg.rows("SELECT user_id, session_name, current_thread_id FROM agentgit_sessions") == [
        (3, "new", "new")
    ]


async def test_async_new_threads_session_is_one_statement_sent_alone(
    pg: Pg, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    execute = psycopg.AsyncCursor.execute

    async def spy(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return await execute(self, query, *args, **kwargs)

    async with AsyncPostgresSessionStore.from_conn_string(pg.uri) as store:
        await store.asetup()
        monkeypatch.setattr(psycopg.AsyncCursor, "execute", spy)
        await store.aensure_session_for_thread("new", user_id=3)
        assert len(sent) == 1 and sent[0].startswith("WITH t AS (INSERT INTO agentgit_threads")
    assert pg.rows("SELECT user_id, session_name FROM agentgit_sessions") == [(3, "new")]


def _store_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement of the session store sent from now on, sync or async."""
    sent: list[str] = []
    execute, aexecute = psycopg.Cursor.execute, psycopg.AsyncCursor.execute

    def spy(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if "agentgit_" in str(query):
            sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    async def aspy(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if "agentgit_" in str(query):
            sent.append(str(query))
        return await aexecute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", spy)
    monkeypatch.setattr(psycopg.AsyncCursor, "execute", aspy)
    return sent


async def test_a_new_conversations_first_turn_makes_one_store_statement(
    run: Run, pg: Pg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No owner read first: the one statement is a no-op where a session holds the thread."""
    async with run.from_conn_string(pg.uri) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        sent = _store_statements(monkeypatch)
        await run(invoke(graph, human("hi", 0), {"configurable": {"thread_id": "new"}}), on(saver))
        assert [q.split(" (")[0] for q in sent] == ["WITH t AS"]
        monkeypatch.undo()
        s = await run(call(AgentGitSaver.session_for_thread, "new"), on(saver))
        assert (s.user_id, s.internal_session_ids) == (0, ["new"])
        assert s.total_checkpoints == (await run(held(["new"]), on(saver))) > 0


async def test_driver_errors_are_store_errors_and_the_connection_stays_usable(
    st: Driver, pg: Pg
) -> None:
    s = await new_session(st)
    before = pg.snapshot()

    def create_session() -> Any:  # an op failing in its first statement
        yield Statement("SELECT 1 / 0")

    def add_branch() -> Any:  # an op failing after a write already ran in it
        yield Statement(
            "UPDATE agentgit_sessions SET branch_count = branch_count + 1 WHERE id = %s", (s.id,)
        )
        yield Statement("SELECT 1 / 0")

    async def run(op: Any) -> Any:
        if st.is_async:
            return await st.store._arun(op, immediate=True)
        return st.store._run(op, immediate=True)

    # Raised by the server (division by zero) in the first statement.
    with pytest.raises(StoreError, match=r"create_session failed, nothing was written") as err:
        await run(create_session())
    assert isinstance(err.value.__cause__, psycopg.Error)
    # Raised by the server after the session UPDATE already ran in the transaction.
    with pytest.raises(StoreError, match=r"add_branch failed.*division by zero"):
        await run(add_branch())
    # What the server would refuse (bigint out of range, NUL in text) is refused
    # before any statement, by the shared validation.
    with pytest.raises(InvalidConfigError, match=str(2**70)):
        await new_session(st, "t2", user_id=2**70)
    with pytest.raises(InvalidConfigError, match="NUL"):
        await st(call(BaseSessionStore.add_branch, branch(s.id, "bad\x00id")))
    assert pg.snapshot() == before
    # The same connection (or pool) carries on.
    await st(call(BaseSessionStore.add_branch, branch(s.id, "t2")))
    assert (await st(call(BaseSessionStore.get_session, s.id))).branch_count == 1


async def test_corrupt_rows_are_store_errors(st: Driver, pg: Pg) -> None:
    s = await new_session(st)
    good = await new_session(st, "g1")
    pg.rows("UPDATE agentgit_sessions SET metadata = 'not json' WHERE id = %s", (s.id,))
    before = pg.snapshot()
    with pytest.raises(StoreError, match=f"metadata in session {s.id}"):
        await st(call(BaseSessionStore.get_session, s.id))
    with pytest.raises(StoreError, match=f"metadata in session {s.id}"):
        await st(call(BaseSessionStore.update_metadata, s.id, {"a": 1}))
    assert pg.snapshot() == before
    assert (await st(call(BaseSessionStore.get_session, good.id))).internal_session_ids == ["g1"]


async def test_reads_see_one_snapshot_writes_do_not(st: Driver) -> None:
    """Multi-statement reads (a session row, then its threads) run in one
    REPEATABLE READ, READ ONLY snapshot, so they never see half of a concurrent
    `add_branch`; writes stay READ COMMITTED so concurrent counters never fail.
    The mode is what the operation states (`immediate`), never guessed from its
    SQL: a write run as a read fails, changing nothing."""

    def probe(first: str) -> Any:
        res = yield Statement(first)
        res = yield Statement(
            "SELECT current_setting('transaction_isolation'), "
            "current_setting('transaction_read_only')"
        )
        return tuple(res.rows[0])

    await new_session(st)
    read = probe("SELECT 1")
    write = probe("UPDATE agentgit_threads SET checkpoint_count = checkpoint_count")
    misread = probe("UPDATE agentgit_threads SET checkpoint_count = checkpoint_count")
    if st.is_async:
        assert await st.store._arun(read, immediate=False) == ("repeatable read", "on")
        assert await st.store._arun(write, immediate=True) == ("read committed", "off")
        with pytest.raises(StoreError, match="read-only"):
            await st.store._arun(misread, immediate=False)
    else:
        assert st.store._run(read, immediate=False) == ("repeatable read", "on")
        assert st.store._run(write, immediate=True) == ("read committed", "off")
        with pytest.raises(StoreError, match="read-only"):
            st.store._run(misread, immediate=False)


# -- sync and async twins ----------------------------------------------------------


async def test_sync_store_async_twins(pg: Pg) -> None:
    with Connection.connect(pg.uri, autocommit=True) as conn:
        store = PostgresSessionStore(conn)
        await store.asetup()
        s = await store.acreate_session(user_id=1, session_name="n", metadata=None, thread_id="t1")
        assert await store.arecord_checkpoints("t1", 2)
        assert (await store.aget_session(s.id)).total_checkpoints == 2
        assert store.get_session(s.id).to_dict() == (await store.aget_session(s.id)).to_dict()


async def test_async_store_sync_twins_run_on_its_loop(pg: Pg) -> None:
    async with AsyncConnectionPool(pg.uri, kwargs={"autocommit": True}, open=False) as pool:
        store = AsyncPostgresSessionStore(pool)
        s = await asyncio.to_thread(
            store.create_session, user_id=1, session_name="n", metadata=None, thread_id="t1"
        )
        assert await asyncio.to_thread(store.record_checkpoints, "t1")
        assert (await store.aget_session(s.id)).total_checkpoints == 1
        with pytest.raises(AgentGitError, match="thread other than its event loop"):
            store.get_session(s.id)  # from the loop itself: refused, not deadlocked


async def test_constructors_check_the_connection_type(pg: Pg) -> None:
    with pytest.raises(InvalidConfigError, match="Connection or ConnectionPool, got str"):
        PostgresSessionStore("postgresql://x")  # type: ignore[arg-type]
    async with await AsyncConnection.connect(pg.uri, autocommit=True) as aconn:
        with pytest.raises(InvalidConfigError, match="use AsyncPostgresSessionStore"):
            PostgresSessionStore(aconn)  # type: ignore[arg-type]
    with (
        Connection.connect(pg.uri, autocommit=True) as conn,
        pytest.raises(InvalidConfigError, match="use PostgresSessionStore"),
    ):
        AsyncPostgresSessionStore(conn)  # type: ignore[arg-type]


# -- concurrency -------------------------------------------------------------------


def test_concurrent_counting_loses_no_update(pg: Pg) -> None:
    threads, each = 8, 25
    with ConnectionPool(pg.uri, kwargs={"autocommit": True}, min_size=4, max_size=8) as pool:
        shared = PostgresSessionStore(pool)
        s = shared.create_session(user_id=0, session_name="c", metadata=None, thread_id="hot")
        barrier = threading.Barrier(threads)
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                barrier.wait()
                if i % 2:  # half on the pool, half on connections of their own
                    for _ in range(each):
                        shared.record_checkpoints("hot")
                else:
                    with PostgresSessionStore.from_conn_string(pg.uri) as own:
                        for _ in range(each):
                            own.record_checkpoints("hot")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        assert shared.get_session(s.id).total_checkpoints == threads * each


async def test_concurrent_async_counting_loses_no_update(pg: Pg) -> None:
    async with AsyncConnectionPool(
        pg.uri, kwargs={"autocommit": True}, min_size=4, max_size=8, open=False
    ) as pool:
        store = AsyncPostgresSessionStore(pool)
        s = await store.acreate_session(user_id=0, session_name="c", metadata=None, thread_id="h")
        await asyncio.gather(*(store.arecord_checkpoints("h") for _ in range(100)))
        assert (await store.aget_session(s.id)).total_checkpoints == 100


def test_concurrent_ensure_session_creates_exactly_one(pg: Pg) -> None:
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with PostgresSessionStore.from_conn_string(pg.uri) as store:
                store.setup()
                barrier.wait()
                store.ensure_session_for_thread("contended", user_id=0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert pg.rows("SELECT count(*) FROM agentgit_sessions")[0][0] == 1
    assert pg.rows("SELECT count(*) FROM agentgit_threads")[0][0] == 1


# -- setup: lazy, idempotent, versioned, race-free -----------------------------------


def test_setup_is_lazy_idempotent_and_versioned(pg: Pg) -> None:
    with Connection.connect(pg.uri, autocommit=True) as conn:
        store = PostgresSessionStore(conn)
        assert not any(pg.exists(t) for t in TABLES)  # nothing until first use
        assert store.list_sessions() == []
        assert pg.versions() == list(range(len(POSTGRES.migrations)))
        store.setup()
        store.setup()
    with Connection.connect(pg.uri, autocommit=True) as conn:
        PostgresSessionStore(conn).setup()  # a new store on the same schema
    assert pg.versions() == list(range(len(POSTGRES.migrations)))
    tables = {
        r[0]
        for r in pg.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (pg.schema,),
        )
    }
    assert tables == set(TABLES)  # only its own, prefixed tables


def test_setup_applies_only_missing_migrations(pg: Pg) -> None:
    # A database left by an older release: versions 0..2 only, with data.
    with psycopg.connect(pg.admin_uri, autocommit=True) as conn:
        for v, ddl in enumerate(POSTGRES.migrations[:3]):
            conn.execute(ddl)
            conn.execute("INSERT INTO agentgit_migrations (v) VALUES (%s)", (v,))
        conn.execute(
            "INSERT INTO agentgit_sessions (user_id, session_name, created_at, updated_at, "
            "current_thread_id) VALUES (3, 'old', now(), now(), 'old-t')"
        )
    with PostgresSessionStore.from_conn_string(pg.uri) as store:
        store.setup()
        assert [s.session_name for s in store.list_sessions(3)] == ["old"]
    assert pg.versions() == list(range(len(POSTGRES.migrations)))
    assert pg.exists("agentgit_threads_session_idx")
    assert pg.exists("agentgit_sessions_user_idx")


def test_setup_failure_is_a_store_error_and_retried(pg: Pg) -> None:
    # A table in the way of migration 1 (wrong shape): setup fails, atomically.
    pg.rows("CREATE TABLE agentgit_sessions (id INTEGER PRIMARY KEY)")
    with PostgresSessionStore.from_conn_string(pg.uri) as store:
        with pytest.raises(StoreError, match="setup failed, nothing was written"):
            store.get_session(1)
        assert not pg.exists("agentgit_migrations")  # the whole migration rolled back
        pg.rows("DROP TABLE agentgit_sessions")
        assert store.get_session(1) is None  # setup runs again, now succeeds
    assert pg.versions() == list(range(len(POSTGRES.migrations)))


@pytest.mark.slow
def test_concurrent_first_setup_from_several_processes(pg: Pg) -> None:
    """Processes opening saver + store on an empty schema at the same moment.

    LangGraph's own `PostgresSaver.setup()` fails when raced like this
    (duplicate catalog rows); `open_postgres_sync` serializes it.
    """
    script = (
        "import sys\n"
        "from agentgit_langgraph.stores.postgres import open_postgres_sync\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"  # the start gun
        "with open_postgres_sync(sys.argv[1]) as (saver, store):\n"
        "    store.ensure_session_for_thread('p', user_id=0)\n"
        "    print(len(store.list_sessions()))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, pg.uri],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:  # pragma: no cover - only after a failure above
                p.kill()
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == "1"
    assert pg.versions() == list(range(len(POSTGRES.migrations)))
    langgraph_versions = pg.rows("SELECT v, count(*) FROM checkpoint_migrations GROUP BY v")
    assert langgraph_versions and all(n == 1 for _, n in langgraph_versions)


# -- killed connections --------------------------------------------------------------


@pytest.mark.parametrize("method", ["add_branch", "record_checkpoints"])
async def test_connection_killed_mid_transaction(st: Driver, pg: Pg, method: str) -> None:
    s = await new_session(st)
    await st(call(BaseSessionStore.record_checkpoints, "t1"))
    before = pg.snapshot()
    with psycopg.connect(pg.admin_uri) as blocker:  # not autocommit: holds its locks
        if method == "add_branch":
            # An uncommitted row for the same thread: the store's UPDATE of the
            # session has run when its INSERT waits on this.
            blocker.execute(
                "INSERT INTO agentgit_threads (thread_id, session_id, created_at, updated_at) "
                "VALUES ('t2', %s, now(), now())",
                (s.id,),
            )
            pending = await st.in_background(call(BaseSessionStore.add_branch, branch(s.id, "t2")))
        else:
            blocker.execute("SELECT 1 FROM agentgit_threads WHERE thread_id = 't1' FOR UPDATE")
            pending = await st.in_background(call(BaseSessionStore.record_checkpoints, "t1", 5))
        pid = await asyncio.to_thread(pg.wait_for_blocked_backend)
        await asyncio.to_thread(pg.kill, [pid])
        with pytest.raises(StoreError, match=f"{method} failed, nothing was written") as err:
            await asyncio.wait_for(pending, 30)
        assert isinstance(err.value.__cause__, psycopg.OperationalError)
        blocker.rollback()
    assert pg.snapshot() == before  # nothing half-written

    if st.pooled:
        # The pool dropped the dead connection: the next call just works.
        assert (await st(call(BaseSessionStore.get_session, s.id))).total_checkpoints == 1
        await st(call(BaseSessionStore.add_branch, branch(s.id, "t2")))
        assert await st(call(BaseSessionStore.record_checkpoints, "t1", 5))
        after = await st(call(BaseSessionStore.get_session, s.id))
        assert (after.branch_count, after.total_checkpoints) == (1, 7)
    else:
        # A single connection cannot come back (as with LangGraph's savers):
        # each call says so, typed, and still writes nothing.
        with pytest.raises(StoreError, match=r"get_session failed.*connection is (lost|closed)"):
            await st(call(BaseSessionStore.get_session, s.id))
        assert pg.snapshot() == before


async def test_killed_idle_connections_between_calls(st: Driver, pg: Pg) -> None:
    s = await new_session(st)
    assert pg.kill_all() >= 1
    if st.pooled:
        # The pool in the fixture does not check connections, so a dead idle one
        # may fail one call, typed and harmless; a later call gets a live one.
        for _ in range(10):
            try:
                assert await st(call(BaseSessionStore.record_checkpoints, "t1"))
                break
            except StoreError as exc:
                assert "nothing was written" in str(exc)
        else:  # pragma: no cover
            pytest.fail("the pool never recovered")
        assert (await st(call(BaseSessionStore.get_session, s.id))).total_checkpoints == 1
    else:
        with pytest.raises(StoreError, match=r"record_checkpoints failed.*connection"):
            await st(call(BaseSessionStore.record_checkpoints, "t1"))
    assert pg.rows("SELECT checkpoint_count FROM agentgit_threads")[0][0] == (1 if st.pooled else 0)


# -- AgentGitSaver.from_conn_string on PostgreSQL ------------------------------------


def _checkpoint_count(saver: AgentGitSaver, thread_ids: list[str]) -> int:
    return sum(len(list(saver.saver.list({"configurable": {"thread_id": t}}))) for t in thread_ids)


def _threads_in_saver(pg: Pg) -> set[str]:
    return {r[0] for r in pg.rows("SELECT DISTINCT thread_id FROM checkpoints")}


def chat_graph_and_rollback(saver: AgentGitSaver, thread: str) -> Plan[tuple[int, list[str], int]]:
    """Three turns as user 42, a named rollback, a turn on the branch, a switch back:
    the session's id, its threads and its count."""
    config = {"configurable": {"thread_id": thread, "user_id": 42}}
    graph = chat_graph_builder().compile(checkpointer=saver)
    for n in range(3):
        yield from invoke(graph, human(f"hi {n}", n), config)
    session = yield from call(AgentGitSaver.session_for_thread, thread)
    assert (session.user_id, session.session_name) == (42, thread)
    assert session.total_checkpoints == (yield from held([thread])) == 9

    snaps = yield from history(graph, config)
    target = snaps[3]
    new_config = yield from call(AgentGitSaver.rollback, target.config, name="retry")
    new_thread = new_config["configurable"]["thread_id"]
    assert new_thread != thread
    state = yield from get_state(graph, new_config)
    assert (contents(state.values), state.next) == (contents(target.values), target.next)
    assert [h.config for h in (yield from history(graph, config))] == [h.config for h in snaps]

    session = yield from call(AgentGitSaver.get_session, session.id, user_id=42)
    assert session.internal_session_ids == [thread, new_thread]
    assert (session.branch_count, session.current_internal_session_id) == (1, new_thread)
    (_, b) = yield from call(AgentGitSaver.branches, session.id)
    assert (b.parent_thread_id, b.branch_checkpoint_id, b.name, b.is_branch) == (
        thread,
        target.config["configurable"]["checkpoint_id"],
        "retry",
        True,
    )

    yield from invoke(graph, human("again", 9), new_config)
    state = yield from get_state(graph, new_config)
    assert contents(state.values)[-2:] == ["again", "echo: again (#3)"]
    threads = [thread, new_thread]
    total = (yield from call(AgentGitSaver.get_session, session.id)).total_checkpoints
    assert total == (yield from held(threads))
    switched = yield from call(AgentGitSaver.switch, session.id, thread)
    assert switched["configurable"]["thread_id"] == thread
    return session.id, threads, total


def reopened(session_id: int, threads: list[str], total: int) -> Plan[None]:
    again = yield from call(AgentGitSaver.get_session, session_id)
    assert again.internal_session_ids == threads
    assert again.current_internal_session_id == threads[0]
    assert again.total_checkpoints == total == (yield from held(threads))


async def test_from_conn_string_chat_graph_and_rollback(run: Run, pg: Pg) -> None:
    async with run.from_conn_string(pg.uri) as saver:
        kind = "Async" if run.is_async else ""
        assert type(saver.saver).__name__ == f"{kind}PostgresSaver"
        assert type(saver.store).__name__ == f"{kind}PostgresSessionStore"
        session_id, threads, total = await run(chat_graph_and_rollback(saver, "chat"), on(saver))
        if run.is_async:  # the sync twins work from another thread (as AsyncPostgresSaver's do)
            same = await asyncio.to_thread(saver.get_session, session_id)
            assert same.to_dict() == (await saver.aget_session(session_id)).to_dict()

    # Reopened (new pool, new connections, SQLAlchemy-style URI): all still there.
    sqlalchemy_style = pg.uri.replace("postgresql://", "postgresql+psycopg://", 1)
    async with run.from_conn_string(sqlalchemy_style) as saver:
        await run(reopened(session_id, threads, total), on(saver))


def test_failed_rollback_leaves_no_orphan_thread(pg: Pg, monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"configurable": {"thread_id": "chat"}}
    with AgentGitSaver.from_conn_string(pg.uri) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        for n in range(2):
            graph.invoke(human(f"hi {n}", n), config)
        target = list(graph.get_state_history(config))[2]
        threads_before, sessions_before = _threads_in_saver(pg), pg.snapshot()

        with pytest.raises(CheckpointNotFoundError, match="no-such-checkpoint"):
            saver.rollback(
                {"configurable": {"thread_id": "chat", "checkpoint_id": "no-such-checkpoint"}}
            )

        def refuse(branch: InternalSession) -> None:
            raise StoreError(f"injected failure registering {branch.thread_id}")

        monkeypatch.setattr(saver.store, "add_branch", refuse)
        with pytest.raises(StoreError, match="injected failure"):
            saver.rollback(target.config)
        assert _threads_in_saver(pg) == threads_before  # the copied thread was deleted
        assert pg.snapshot() == sessions_before
        monkeypatch.undo()
        assert saver.rollback(target.config)  # and a real one still works


def turn_after_killed_connections(saver: AgentGitSaver, pg: Pg) -> Plan[None]:
    config = {"configurable": {"thread_id": "k"}}
    graph = chat_graph_builder().compile(checkpointer=saver)
    yield from invoke(graph, human("hi 0", 0), config)
    assert pg.kill_all() >= 1  # the saver's and the store's connections alike
    yield from invoke(graph, human("hi 1", 1), config)  # the pool replaces dead ones: no failure
    assert contents((yield from get_state(graph, config)).values)[-1] == "echo: hi 1 (#2)"
    total = (yield from call(AgentGitSaver.session_for_thread, "k")).total_checkpoints
    assert total == (yield from held(["k"])) > 0


async def test_from_conn_string_survives_killed_connections(run: Run, pg: Pg) -> None:
    async with run.from_conn_string(pg.uri) as saver:
        await run(turn_after_killed_connections(saver, pg), on(saver))


def test_store_sharing_one_connection_with_postgres_saver(pg: Pg) -> None:
    """Built by hand on the saver's own connection, with the saver's lock."""
    from langgraph.checkpoint.postgres import PostgresSaver

    config: Any = {"configurable": {"thread_id": "shared"}}
    with PostgresSaver.from_conn_string(pg.uri) as inner:
        inner.setup()
        saver = AgentGitSaver(inner, PostgresSessionStore(inner.conn, lock=inner.lock))
        graph = chat_graph_builder().compile(checkpointer=saver)
        for n in range(2):
            graph.invoke(human(f"hi {n}", n), config)
        target = list(graph.get_state_history(config))[2]
        branch_config = saver.rollback(target.config)
        graph.invoke(human("b", 5), branch_config)
        session = saver.session_for_thread("shared")
        threads = session.internal_session_ids
        assert session.total_checkpoints == _checkpoint_count(saver, threads)


async def test_async_store_sharing_one_connection_with_async_saver(pg: Pg) -> None:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    config: Any = {"configurable": {"thread_id": "ashared"}}
    async with AsyncPostgresSaver.from_conn_string(pg.uri) as inner:
        await inner.setup()
        store = AsyncPostgresSessionStore(inner.conn, lock=inner.lock)
        saver = AgentGitSaver(inner, store)
        graph = chat_graph_builder().compile(checkpointer=saver)
        for n in range(2):
            await graph.ainvoke(human(f"hi {n}", n), config)
        target = [s async for s in graph.aget_state_history(config)][2]
        await graph.ainvoke(human("b", 5), await saver.arollback(target.config))
        session = await saver.asession_for_thread("ashared")
        count = 0
        for t in session.internal_session_ids:
            count += len([c async for c in saver.alist({"configurable": {"thread_id": t}})])
        assert session.total_checkpoints == count


async def test_open_postgres_pairs_share_one_pool(pg: Pg) -> None:
    with open_postgres_sync(pg.uri) as (saver, store):
        assert saver.conn is store.conn
        assert pg.versions() == list(range(len(POSTGRES.migrations)))
    async with open_postgres_async(pg.uri) as (asaver, astore):
        assert asaver.conn is astore.conn


def test_open_postgres_unreachable_server_is_a_store_error() -> None:
    with (
        pytest.raises(StoreError, match="could not connect or set up"),
        open_postgres_sync("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"),
    ):
        pass  # pragma: no cover


# -- the owner read (every checked call): one statement, survives lost connections ----------


def owner_after_dropped_connections(pg: Pg) -> Plan[None]:
    s = yield from call(
        BaseSessionStore.create_session,
        user_id=4,
        session_name="",
        metadata=None,
        thread_id="t1",
    )
    # The connection is now "seen working".
    assert (yield from call(BaseSessionStore.thread_owner, "t1")) == (s.id, "4")
    assert (yield from call(BaseSessionStore.thread_owner, "nobody")) is None
    assert pg.kill_all() > 0
    assert (yield from call(BaseSessionStore.thread_owner, "t1")) == (s.id, "4")


async def test_thread_owner_after_the_server_dropped_every_connection(run: Run, pg: Pg) -> None:
    if run.is_async:
        async with open_postgres_async(pg.uri) as (_, astore):
            await run(owner_after_dropped_connections(pg), {BaseSessionStore: astore})
    else:
        with open_postgres_sync(pg.uri) as (_, store):
            await run(owner_after_dropped_connections(pg), {BaseSessionStore: store})


# -- reads sent alone: the store's own connection, the pool when it cannot serve -----


def test_reads_sent_alone_need_no_pool_connection(pg: Pg) -> None:
    with open_postgres_sync(pg.uri) as (saver, store):
        store.create_session(user_id=4, session_name="", metadata=None, thread_id="t1")
        pool = saver.conn
        assert isinstance(pool, ConnectionPool)
        with pool.connection():  # the connection it lends whenever free, and every other:
            taken = [pool.getconn() for _ in range(pool.max_size - 1)]
            try:  # only the store's own can answer
                assert store.record_checkpoints("t1") is True
                assert store.record_checkpoints("nobody") is False
                assert store.thread_owner("t1") is not None
            finally:
                for conn in taken:
                    pool.putconn(conn)
        assert pg.kill_all() > 0  # its own connection too: the pool's way answers, then it reopens
        assert store.record_checkpoints("t1") is True
        assert store.record_checkpoints("t1") is True


async def test_async_reads_sent_alone_need_no_pool_connection(pg: Pg) -> None:
    async with open_postgres_async(pg.uri) as (saver, store):
        await store.acreate_session(user_id=4, session_name="", metadata=None, thread_id="t1")
        pool = saver.conn
        assert isinstance(pool, AsyncConnectionPool)
        async with pool.connection():
            taken = [await pool.getconn() for _ in range(pool.max_size - 1)]
            try:
                assert await store.arecord_checkpoints("t1") is True
                assert await store.arecord_checkpoints("nobody") is False
                assert await store.athread_owner("t1") is not None
            finally:
                for conn in taken:
                    await pool.putconn(conn)
        assert pg.kill_all() > 0
        assert await store.arecord_checkpoints("t1") is True
        assert await store.arecord_checkpoints("t1") is True


def _bad_read() -> tuple[Any, Statement]:
    def reads_a_missing_table() -> Any:
        yield  # pragma: no cover - only its name is used

    sql = "SELECT 1 FROM agentgit_no_such_table"
    return reads_a_missing_table(), Statement(sql, (), alone=sql)


def test_hot_read_errors_are_store_errors_and_it_stays_usable(pg: Pg) -> None:
    from agentgit_langgraph.stores.pg_pool import HotReads

    hot = HotReads(pg.uri)
    try:
        with pytest.raises(StoreError, match=r"reads_a_missing_table failed, nothing was written"):
            hot.read(*_bad_read())
        sql = "SELECT current_setting('application_name')"
        assert hot.read(_bad_read()[0], Statement(sql, (), alone=sql)) is not None
    finally:
        hot.close()
    assert hot.read(_bad_read()[0], Statement("SELECT 1", (), alone="SELECT 1")) is None


async def test_async_hot_read_errors_are_store_errors_and_it_stays_usable(pg: Pg) -> None:
    from agentgit_langgraph.stores.pg_pool import AsyncHotReads

    hot = AsyncHotReads(pg.uri)
    try:
        with pytest.raises(StoreError, match=r"reads_a_missing_table failed, nothing was written"):
            await hot.read(*_bad_read())
        sql = "SELECT current_setting('application_name')"
        assert await hot.read(_bad_read()[0], Statement(sql, (), alone=sql)) is not None
    finally:
        await hot.close()
    assert await hot.read(_bad_read()[0], Statement("SELECT 1", (), alone="SELECT 1")) is None


def test_an_unreachable_server_leaves_reads_to_the_pool_without_retrying_at_once() -> None:
    from agentgit_langgraph.stores.pg_pool import HotReads

    hot = HotReads("postgresql://postgres@127.0.0.1:1/none", retry_after=3600)
    stmt = Statement("SELECT 1", (), alone="SELECT 1")
    assert hot.read(_bad_read()[0], stmt) is None
    assert not hot._policy.may_open()  # the next read does not try to connect again
    hot.close()


async def test_async_unreachable_server_leaves_reads_to_the_pool() -> None:
    from agentgit_langgraph.stores.pg_pool import AsyncHotReads

    hot = AsyncHotReads("postgresql://postgres@127.0.0.1:1/none", retry_after=3600)
    stmt = Statement("SELECT 1", (), alone="SELECT 1")
    assert await hot.read(_bad_read()[0], stmt) is None
    assert not hot._policy.may_open()
    await hot.close()


# -- the pool `open_postgres_*` builds lends one connection whenever it is free ------


def test_sticky_pool_lends_one_connection_to_saver_and_store(pg: Pg) -> None:
    """A run's saver and store calls reach one server process, not one per call."""
    config = {"configurable": {"thread_id": "sticky"}}
    with AgentGitSaver.from_conn_string(pg.uri) as saver:
        pool = saver.saver.conn
        assert isinstance(pool, StickyConnectionPool)
        graph = chat_graph_builder().compile(checkpointer=saver)
        before = pool.get_stats().get("requests_num", 0)
        for n in range(3):
            graph.invoke(human(f"hi {n}", n), config)
        saver.rollback(list(graph.get_state_history(config))[2].config)
        # About 30 saver and store calls: the pool itself lends only to those
        # arriving while another holds the connection (LangGraph saves in a
        # background thread); a pool lending to each call would count them all.
        assert pool.get_stats().get("requests_num", 0) - before <= 10
        with pool.connection() as a, pool.connection() as b:  # busy: another one
            assert a is not b
            assert a.execute("SELECT 1").fetchone() and b.execute("SELECT 1").fetchone()
        with pool.connection() as c:
            assert c is a


async def test_async_sticky_pool_lends_one_connection_to_saver_and_store(pg: Pg) -> None:
    config = {"configurable": {"thread_id": "sticky"}}
    async with AgentGitSaver.afrom_conn_string(pg.uri) as saver:
        pool = saver.saver.conn
        assert isinstance(pool, AsyncStickyConnectionPool)
        graph = chat_graph_builder().compile(checkpointer=saver)
        before = pool.get_stats().get("requests_num", 0)
        for n in range(3):
            await graph.ainvoke(human(f"hi {n}", n), config)
        states = [s async for s in graph.aget_state_history(config)]
        await saver.arollback(states[2].config)
        assert pool.get_stats().get("requests_num", 0) - before <= 10
        async with pool.connection() as a, pool.connection() as b:
            assert a is not b
            assert await (await a.execute("SELECT 1")).fetchone()
            assert await (await b.execute("SELECT 1")).fetchone()
        async with pool.connection() as c:
            assert c is a


def test_sticky_pool_never_lends_a_connection_left_in_a_transaction(pg: Pg) -> None:
    with open_postgres_sync(pg.uri) as (saver, store):
        pool = saver.conn
        with pool.connection() as conn:
            conn.execute("BEGIN")
            conn.execute("CREATE TABLE left_open (x int)")
        with pool.connection() as again:  # the pool rolled it back before lending it
            assert again.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            row = again.execute("SELECT to_regclass('left_open') AS t").fetchone()
            assert row == {"t": None}
        assert pg.kill_all() > 0  # the connection it holds dies: replaced, no error
        store.create_session(user_id=1, session_name="", metadata=None, thread_id="t")
        assert store.thread_owner("t") is not None


async def test_async_sticky_pool_never_lends_a_connection_left_in_a_transaction(pg: Pg) -> None:
    async with open_postgres_async(pg.uri) as (saver, store):
        pool = saver.conn
        async with pool.connection() as conn:
            await conn.execute("BEGIN")
            await conn.execute("CREATE TABLE left_open (x int)")
        async with pool.connection() as again:
            assert again.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            cur = await again.execute("SELECT to_regclass('left_open') AS t")
            assert await cur.fetchone() == {"t": None}
        assert pg.kill_all() > 0
        await store.acreate_session(user_id=1, session_name="", metadata=None, thread_id="t")
        assert await store.athread_owner("t") is not None


def test_closing_while_a_list_holds_the_connection_neither_waits_nor_leaks(pg: Pg) -> None:
    config = {"configurable": {"thread_id": "left"}}
    with AgentGitSaver.from_conn_string(pg.uri) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        graph.invoke(human("hi", 0), config)
        unfinished = saver.list(config)
        assert next(unfinished)
        pool = saver.saver.conn
        assert isinstance(pool, StickyConnectionPool)
        with pool.connection():  # the list holds the one it lends when free: another one
            pass
    started = time.monotonic()
    unfinished.close()  # hands its connection back to the closed pool, which closes it
    assert time.monotonic() - started < 5
    assert pg.wait_for_no_backend()


async def test_async_closing_while_a_list_holds_the_connection_neither_waits_nor_leaks(
    pg: Pg,
) -> None:
    config = {"configurable": {"thread_id": "left"}}
    async with AgentGitSaver.afrom_conn_string(pg.uri) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        await graph.ainvoke(human("hi", 0), config)
        unfinished = saver.alist(config)
        assert await unfinished.__anext__()
    await unfinished.aclose()
    assert pg.wait_for_no_backend()
