"""The session-store contract, for every store, sync and async.

The contract's scenarios are plans (tests/plans.py) that `store_run` drives with
the sync API over `InMemorySessionStore` and `SqliteSessionStore` (a sqlite3
file), and with the async one over those two and `AsyncSqliteSessionStore`
(aiosqlite). SQLite-only properties (persistence, versioned migrations, table
prefix, corrupt rows) are checked on the file directly.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import aiosqlite
import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agentgit_langgraph import (
    AgentGitError,
    AsyncSqliteSessionStore,
    ExternalSession,
    InMemorySessionStore,
    InternalSession,
    SessionNotFoundError,
    SqliteSessionStore,
    StoreError,
)
from agentgit_langgraph._plan import Plan, call, run_async, run_sync
from agentgit_langgraph.stores.base import BaseSessionStore
from agentgit_langgraph.stores.sql import SQLITE
from tests.conftest import Run

T = TypeVar("T")

MISSING_SESSION = 987654

# -- fixtures ----------------------------------------------------------------


@contextmanager
def open_sync_store(path: Path) -> Iterator[SqliteSessionStore]:
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        yield SqliteSessionStore(conn)
    finally:
        conn.close()


@asynccontextmanager
async def open_async_store(kind: str, path: Path) -> AsyncIterator[BaseSessionStore]:
    """`sqlite`: the sync store's async twins; `aiosqlite`: AsyncSqliteSessionStore."""
    if kind == "sqlite":
        with open_sync_store(path) as store:
            yield store
        return
    async with aiosqlite.connect(path) as conn:
        yield AsyncSqliteSessionStore(conn)


@dataclass
class StoreRun:
    """A store and the API that drives a plan on it (`store_run(plan)`)."""

    run: Run
    store: BaseSessionStore

    async def __call__(self, plan: Plan[T]) -> T:
        return await self.run(plan, {BaseSessionStore: self.store})


# The sync API on the memory store and a SQLite file; the async one on those two
# (the sync store's async twins) and on AsyncSqliteSessionStore (aiosqlite).
STORE_RUNS = ["sync-memory", "sync-sqlite", "async-memory", "async-sqlite", "async-aiosqlite"]


@pytest.fixture(params=STORE_RUNS)
async def store_run(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreRun]:
    mode, kind = request.param.split("-")
    run = Run(cast(Literal["sync", "async"], mode))
    if kind == "memory":
        yield StoreRun(run, InMemorySessionStore())
        return
    async with open_async_store(kind, tmp_path / "sessions.db") as s:
        yield StoreRun(run, s)


def make_session(
    thread_id: str = "t1",
    *,
    user_id: int = 0,
    name: str = "",
    metadata: dict[str, Any] | None = None,
) -> Plan[ExternalSession]:
    """A session whose first thread is `thread_id` (a plan)."""
    return call(
        BaseSessionStore.create_session,
        user_id=user_id,
        session_name=name,
        metadata=metadata,
        thread_id=thread_id,
    )


def new_session(store: BaseSessionStore, thread_id: str = "t1", **kw: Any) -> ExternalSession:
    """`make_session` on `store` with the sync API."""
    return run_sync(make_session(thread_id, **kw), {BaseSessionStore: store})


async def anew_session(
    store: BaseSessionStore, thread_id: str = "t1", **kw: Any
) -> ExternalSession:
    """`make_session` on `store` with the async API."""
    return await run_async(make_session(thread_id, **kw), {BaseSessionStore: store})


def branch(session_id: int, thread_id: str, parent: str = "t1", **kw: Any) -> InternalSession:
    return InternalSession(
        thread_id=thread_id,
        session_id=session_id,
        parent_thread_id=parent,
        branch_checkpoint_id=kw.pop("checkpoint", f"cp-of-{thread_id}"),
        checkpoint_count=kw.pop("checkpoint_count", 1),
        is_branch=True,
        **kw,
    )


def dump(sessions: list[ExternalSession]) -> list[dict[str, Any]]:
    return [s.to_dict() for s in sessions]


# -- create / get / list -------------------------------------------------------


def _check_new_session(s: ExternalSession, before: datetime, after: datetime) -> None:
    assert isinstance(s.id, int)
    assert s.user_id == 3
    assert s.session_name == "trip"
    assert s.is_active is True
    assert s.internal_session_ids == ["t1"]
    assert s.current_internal_session_id == "t1"
    assert s.metadata == {"model": "echo"}
    assert s.branch_count == 0
    assert s.total_checkpoints == 0
    assert isinstance(s.created_at, datetime)
    assert s.created_at.utcoffset() == timedelta(0)  # aware UTC
    assert before <= s.created_at <= after
    assert s.updated_at is not None
    assert s.updated_at >= s.created_at
    assert s.get_session_age() is not None


def _check_first_thread(t: InternalSession | None, session_id: int) -> None:
    assert t is not None
    assert t.thread_id == "t1"
    assert t.session_id == session_id
    assert t.parent_thread_id is None
    assert t.branch_checkpoint_id is None
    assert t.name is None
    assert isinstance(t.created_at, datetime)
    assert t.checkpoint_count == 0
    assert t.is_branch is False


def create_session_flow() -> Plan[None]:
    before = datetime.now(UTC)
    s = yield from make_session(user_id=3, name="trip", metadata={"model": "echo"})
    _check_new_session(s, before, datetime.now(UTC))
    assert (yield from call(BaseSessionStore.get_session, s.id)) == s
    _check_first_thread((yield from call(BaseSessionStore.get_thread, "t1")), s.id)


async def test_create_session(store_run: StoreRun) -> None:
    await store_run(create_session_flow())


def create_session_ids_are_distinct_flow() -> Plan[None]:
    a = yield from make_session("a")
    b = yield from make_session("b")
    assert a.id != b.id
    assert (yield from call(BaseSessionStore.get_session, a.id)).internal_session_ids == ["a"]
    assert (yield from call(BaseSessionStore.get_session, b.id)).internal_session_ids == ["b"]


async def test_create_session_ids_are_distinct(store_run: StoreRun) -> None:
    await store_run(create_session_ids_are_distinct_flow())


def create_session_with_taken_thread_raises_and_writes_nothing_flow() -> Plan[None]:
    s = yield from make_session("t1", user_id=1)
    before = dump((yield from call(BaseSessionStore.list_sessions)))
    with pytest.raises(StoreError, match="'t1'"):
        yield from make_session("t1", user_id=2, name="dup")
    assert dump((yield from call(BaseSessionStore.list_sessions))) == before
    assert (yield from call(BaseSessionStore.list_sessions, 2)) == []
    assert (yield from call(BaseSessionStore.get_thread, "t1")).session_id == s.id


async def test_create_session_with_taken_thread_raises_and_writes_nothing(
    store_run: StoreRun,
) -> None:
    await store_run(create_session_with_taken_thread_raises_and_writes_nothing_flow())


def unknown_ids_give_none_or_empty_flow() -> Plan[None]:
    yield from make_session()
    assert (yield from call(BaseSessionStore.get_session, MISSING_SESSION)) is None
    assert (yield from call(BaseSessionStore.get_thread, "nope")) is None
    assert (yield from call(BaseSessionStore.list_threads, MISSING_SESSION)) == []


async def test_unknown_ids_give_none_or_empty(store_run: StoreRun) -> None:
    await store_run(unknown_ids_give_none_or_empty_flow())


def list_sessions_user_filter_oldest_first_flow() -> Plan[None]:
    assert (yield from call(BaseSessionStore.list_sessions)) == []
    a = yield from make_session("a", user_id=1)
    b = yield from make_session("b", user_id=2)
    c = yield from make_session("c", user_id=1)
    assert [s.id for s in (yield from call(BaseSessionStore.list_sessions))] == [a.id, b.id, c.id]
    assert [s.id for s in (yield from call(BaseSessionStore.list_sessions, 1))] == [a.id, c.id]
    assert [s.id for s in (yield from call(BaseSessionStore.list_sessions, 2))] == [b.id]
    assert (yield from call(BaseSessionStore.list_sessions, 3)) == []
    # Listed records are the same as the ones get_session returns.
    assert (yield from call(BaseSessionStore.list_sessions, 1)) == [
        (yield from call(BaseSessionStore.get_session, a.id)),
        (yield from call(BaseSessionStore.get_session, c.id)),
    ]
    assert (yield from call(BaseSessionStore.list_sessions, 0)) == []


async def test_list_sessions_user_filter_oldest_first(store_run: StoreRun) -> None:
    await store_run(list_sessions_user_filter_oldest_first_flow())


def list_sessions_with_branches_filtered_flow() -> Plan[None]:
    a = yield from make_session("a", user_id=1)
    b = yield from make_session("b", user_id=2)
    yield from call(BaseSessionStore.add_branch, branch(a.id, "a2", parent="a"))
    yield from call(BaseSessionStore.add_branch, branch(b.id, "b2", parent="b"))
    yield from call(BaseSessionStore.record_checkpoints, "b2", 4)
    [only_b] = yield from call(BaseSessionStore.list_sessions, 2)
    assert only_b.internal_session_ids == ["b", "b2"]
    assert only_b.total_checkpoints == 5
    assert only_b.branch_count == 1


async def test_list_sessions_with_branches_filtered(store_run: StoreRun) -> None:
    await store_run(list_sessions_with_branches_filtered_flow())


def returned_records_are_snapshots_flow() -> Plan[None]:
    s = yield from make_session(metadata={"a": 1})
    s.metadata["a"] = 2
    s.internal_session_ids.append("fake")
    s.branch_count = 99
    fresh = yield from call(BaseSessionStore.get_session, s.id)
    assert fresh.metadata == {"a": 1}
    assert fresh.internal_session_ids == ["t1"]
    assert fresh.branch_count == 0


async def test_returned_records_are_snapshots(store_run: StoreRun) -> None:
    await store_run(returned_records_are_snapshots_flow())


# -- record_checkpoints / total_checkpoints -------------------------------------------


def record_checkpoints_flow() -> Plan[None]:
    s = yield from make_session()
    assert (yield from call(BaseSessionStore.record_checkpoints, "t1")) is True
    assert (yield from call(BaseSessionStore.record_checkpoints, "t1")) is True
    assert (yield from call(BaseSessionStore.record_checkpoints, "t1", 5)) is True
    assert (yield from call(BaseSessionStore.get_thread, "t1")).checkpoint_count == 7
    assert (yield from call(BaseSessionStore.get_session, s.id)).total_checkpoints == 7


async def test_record_checkpoints(store_run: StoreRun) -> None:
    await store_run(record_checkpoints_flow())


def record_checkpoints_unknown_thread_is_false_and_changes_nothing_flow() -> Plan[None]:
    yield from make_session()
    yield from call(BaseSessionStore.record_checkpoints, "t1", 2)
    before = dump((yield from call(BaseSessionStore.list_sessions)))
    assert (yield from call(BaseSessionStore.record_checkpoints, "stranger")) is False
    assert (yield from call(BaseSessionStore.record_checkpoints, "stranger", 3)) is False
    assert dump((yield from call(BaseSessionStore.list_sessions))) == before
    assert (yield from call(BaseSessionStore.get_thread, "stranger")) is None


async def test_record_checkpoints_unknown_thread_is_false_and_changes_nothing(
    store_run: StoreRun,
) -> None:
    await store_run(record_checkpoints_unknown_thread_is_false_and_changes_nothing_flow())


def total_checkpoints_is_sum_of_thread_counts_flow() -> Plan[None]:
    s = yield from make_session()
    other = yield from make_session("other")
    yield from call(BaseSessionStore.add_branch, branch(s.id, "b1", checkpoint_count=1))
    yield from call(BaseSessionStore.add_branch, branch(s.id, "b2", checkpoint_count=0))
    yield from call(BaseSessionStore.record_checkpoints, "t1", 3)
    yield from call(BaseSessionStore.record_checkpoints, "b1", 2)
    yield from call(BaseSessionStore.record_checkpoints, "b2")
    yield from call(BaseSessionStore.record_checkpoints, "other", 10)
    threads = yield from call(BaseSessionStore.list_threads, s.id)
    assert [t.checkpoint_count for t in threads] == [3, 3, 1]
    assert (yield from call(BaseSessionStore.get_session, s.id)).total_checkpoints == 7
    assert (yield from call(BaseSessionStore.get_session, s.id)).total_checkpoints == sum(
        t.checkpoint_count for t in threads
    )
    assert (yield from call(BaseSessionStore.get_session, other.id)).total_checkpoints == 10
    totals = {x.id: x.total_checkpoints for x in (yield from call(BaseSessionStore.list_sessions))}
    assert totals == {s.id: 7, other.id: 10}


async def test_total_checkpoints_is_sum_of_thread_counts(store_run: StoreRun) -> None:
    await store_run(total_checkpoints_is_sum_of_thread_counts_flow())


# -- add_branch ------------------------------------------------------------------------


def _check_branch_added(s: ExternalSession, t: InternalSession | None, session_id: int) -> None:
    assert s.branch_count == 1
    assert s.internal_session_ids == ["t1", "b1"]
    assert s.current_internal_session_id == "b1"
    assert s.total_checkpoints == 1
    assert s.get_branch_info() == {
        "total_branches": 1,
        "total_sessions": 2,
        "current_session": "b1",
        "is_branched": True,
    }
    assert t is not None
    assert t.thread_id == "b1"
    assert t.session_id == session_id
    assert t.parent_thread_id == "t1"
    assert t.branch_checkpoint_id == "cp-7"
    assert t.name == "retry"
    assert t.checkpoint_count == 1
    assert t.is_branch is True
    assert isinstance(t.created_at, datetime)


def add_branch_flow() -> Plan[None]:
    s = yield from make_session()
    yield from call(
        BaseSessionStore.add_branch, branch(s.id, "b1", checkpoint="cp-7", name="retry")
    )
    after = yield from call(BaseSessionStore.get_session, s.id)
    _check_branch_added(after, (yield from call(BaseSessionStore.get_thread, "b1")), s.id)
    assert after.updated_at >= s.updated_at
    assert [t.thread_id for t in (yield from call(BaseSessionStore.list_threads, s.id))] == [
        "t1",
        "b1",
    ]
    # A second branch, from the branch.
    yield from call(BaseSessionStore.add_branch, branch(s.id, "b2", parent="b1"))
    again = yield from call(BaseSessionStore.get_session, s.id)
    assert again.branch_count == 2
    assert again.current_internal_session_id == "b2"
    assert [t.thread_id for t in (yield from call(BaseSessionStore.list_threads, s.id))] == [
        "t1",
        "b1",
        "b2",
    ]
    assert (yield from call(BaseSessionStore.get_thread, "b2")).parent_thread_id == "b1"


async def test_add_branch(store_run: StoreRun) -> None:
    await store_run(add_branch_flow())


def add_branch_to_missing_session_raises_and_writes_nothing_flow() -> Plan[None]:
    yield from make_session()
    before = dump((yield from call(BaseSessionStore.list_sessions)))
    with pytest.raises(SessionNotFoundError, match=str(MISSING_SESSION)):
        yield from call(BaseSessionStore.add_branch, branch(MISSING_SESSION, "orphan"))
    assert (yield from call(BaseSessionStore.get_thread, "orphan")) is None
    assert (yield from call(BaseSessionStore.list_threads, MISSING_SESSION)) == []
    assert dump((yield from call(BaseSessionStore.list_sessions))) == before
    assert (yield from call(BaseSessionStore.record_checkpoints, "orphan")) is False


async def test_add_branch_to_missing_session_raises_and_writes_nothing(store_run: StoreRun) -> None:
    await store_run(add_branch_to_missing_session_raises_and_writes_nothing_flow())


def add_branch_with_taken_thread_raises_and_writes_nothing_flow(taken: str) -> Plan[None]:
    s = yield from make_session()
    other = yield from make_session("other")
    yield from call(BaseSessionStore.add_branch, branch(s.id, "b1"))
    yield from call(BaseSessionStore.set_current, s.id, "t1")
    before = dump((yield from call(BaseSessionStore.list_sessions)))
    threads_before = (yield from call(BaseSessionStore.list_threads, s.id)) + (
        yield from call(BaseSessionStore.list_threads, other.id)
    )
    with pytest.raises(StoreError, match=repr(taken)):
        yield from call(
            BaseSessionStore.add_branch, branch(s.id, taken, checkpoint="cp-x", checkpoint_count=5)
        )
    assert dump((yield from call(BaseSessionStore.list_sessions))) == before
    assert (yield from call(BaseSessionStore.list_threads, s.id)) + (
        yield from call(BaseSessionStore.list_threads, other.id)
    ) == threads_before
    after = yield from call(BaseSessionStore.get_session, s.id)
    assert after.branch_count == 1
    assert after.current_internal_session_id == "t1"


@pytest.mark.parametrize("taken", ["t1", "b1", "other"])
async def test_add_branch_with_taken_thread_raises_and_writes_nothing(
    store_run: StoreRun, taken: str
) -> None:
    await store_run(add_branch_with_taken_thread_raises_and_writes_nothing_flow(taken))


# -- set_current ----------------------------------------------------------------------


def set_current_flow() -> Plan[None]:
    s = yield from make_session()
    yield from call(BaseSessionStore.add_branch, branch(s.id, "b1"))
    assert (yield from call(BaseSessionStore.set_current, s.id, "t1")) is True
    after = yield from call(BaseSessionStore.get_session, s.id)
    assert after.current_internal_session_id == "t1"
    assert after.branch_count == 1
    assert after.internal_session_ids == ["t1", "b1"]
    assert (yield from call(BaseSessionStore.set_current, s.id, "b1")) is True
    assert (yield from call(BaseSessionStore.get_session, s.id)).current_internal_session_id == "b1"


async def test_set_current(store_run: StoreRun) -> None:
    await store_run(set_current_flow())


def set_current_refuses_foreign_or_unknown_thread_flow() -> Plan[None]:
    s = yield from make_session()
    other = yield from make_session("other")
    yield from call(BaseSessionStore.add_branch, branch(other.id, "other-b", parent="other"))
    before = dump((yield from call(BaseSessionStore.list_sessions)))
    assert (yield from call(BaseSessionStore.set_current, s.id, "other")) is False
    assert (yield from call(BaseSessionStore.set_current, s.id, "other-b")) is False
    assert (yield from call(BaseSessionStore.set_current, s.id, "nope")) is False
    assert (yield from call(BaseSessionStore.set_current, MISSING_SESSION, "t1")) is False
    assert dump((yield from call(BaseSessionStore.list_sessions))) == before
    assert (yield from call(BaseSessionStore.get_session, s.id)).current_internal_session_id == "t1"


async def test_set_current_refuses_foreign_or_unknown_thread(store_run: StoreRun) -> None:
    await store_run(set_current_refuses_foreign_or_unknown_thread_flow())


# -- update_metadata -----------------------------------------------------------------


def update_metadata_merges_flow() -> Plan[None]:
    s = yield from make_session(metadata={"model": "a", "keep": [1, 2]})
    assert (
        yield from call(BaseSessionStore.update_metadata, s.id, {"model": "b", "temperature": 0.5})
    ) is True
    assert (yield from call(BaseSessionStore.update_metadata, s.id, {"nested": {"x": 1}})) is True
    after = yield from call(BaseSessionStore.get_session, s.id)
    assert after.metadata == {"model": "b", "keep": [1, 2], "temperature": 0.5, "nested": {"x": 1}}
    assert after.updated_at >= s.updated_at
    assert after.branch_count == 0
    assert after.internal_session_ids == ["t1"]


async def test_update_metadata_merges(store_run: StoreRun) -> None:
    await store_run(update_metadata_merges_flow())


def update_metadata_unknown_session_is_false_flow() -> Plan[None]:
    s = yield from make_session(metadata={"a": 1})
    before = dump((yield from call(BaseSessionStore.list_sessions)))
    assert (yield from call(BaseSessionStore.update_metadata, MISSING_SESSION, {"a": 2})) is False
    assert dump((yield from call(BaseSessionStore.list_sessions))) == before
    assert (yield from call(BaseSessionStore.get_session, s.id)).metadata == {"a": 1}


async def test_update_metadata_unknown_session_is_false(store_run: StoreRun) -> None:
    await store_run(update_metadata_unknown_session_is_false_flow())


# -- ensure_session_for_thread ---------------------------------------------------------


def ensure_session_for_thread_is_idempotent_flow() -> Plan[None]:
    yield from call(BaseSessionStore.ensure_session_for_thread, "auto", user_id=5)
    yield from call(BaseSessionStore.ensure_session_for_thread, "auto", user_id=5)
    yield from call(BaseSessionStore.ensure_session_for_thread, "auto", user_id=6)
    [s] = yield from call(BaseSessionStore.list_sessions)
    assert s.user_id == 5
    assert s.session_name == "auto"
    assert s.internal_session_ids == ["auto"]
    assert s.current_internal_session_id == "auto"
    assert s.branch_count == 0
    assert s.total_checkpoints == 0
    assert s.metadata == {}
    assert (yield from call(BaseSessionStore.list_sessions, 6)) == []
    assert (yield from call(BaseSessionStore.record_checkpoints, "auto")) is True
    assert (yield from call(BaseSessionStore.get_session, s.id)).total_checkpoints == 1


async def test_ensure_session_for_thread_is_idempotent(store_run: StoreRun) -> None:
    await store_run(ensure_session_for_thread_is_idempotent_flow())


def ensure_session_takes_back_a_thread_noted_for_deletion_flow() -> Plan[None]:
    """A run writing into a thread whose session was deleted gets a new session,
    and the thread's note for deletion goes, so no sweep deletes what it writes."""
    yield from call(BaseSessionStore.ensure_session_for_thread, "gone", user_id=1)
    assert (yield from call(BaseSessionStore.forget_thread, "gone")) is True
    assert (yield from call(BaseSessionStore.list_pending_deletes)) == ["gone"]
    yield from call(BaseSessionStore.ensure_session_for_thread, "gone", user_id=2)
    assert (yield from call(BaseSessionStore.list_pending_deletes)) == []
    [s] = yield from call(BaseSessionStore.list_sessions)
    assert (s.user_id, s.internal_session_ids) == (2, ["gone"])
    yield from call(BaseSessionStore.ensure_session_for_thread, "gone", user_id=3)
    assert [x.to_dict() for x in (yield from call(BaseSessionStore.list_sessions))] == [s.to_dict()]


async def test_ensure_session_takes_back_a_thread_noted_for_deletion(store_run: StoreRun) -> None:
    await store_run(ensure_session_takes_back_a_thread_noted_for_deletion_flow())


def ensure_session_for_held_thread_creates_nothing_flow() -> Plan[None]:
    s = yield from make_session(user_id=1)
    yield from call(BaseSessionStore.add_branch, branch(s.id, "b1"))
    before = dump((yield from call(BaseSessionStore.list_sessions)))
    yield from call(BaseSessionStore.ensure_session_for_thread, "t1", user_id=2)
    yield from call(BaseSessionStore.ensure_session_for_thread, "b1", user_id=2)
    assert dump((yield from call(BaseSessionStore.list_sessions))) == before


async def test_ensure_session_for_held_thread_creates_nothing(store_run: StoreRun) -> None:
    await store_run(ensure_session_for_held_thread_creates_nothing_flow())


# -- the async SQLite store's sync twins ----------------------------------------------


async def test_async_sqlite_store_sync_twins_work_from_another_thread(tmp_path):
    async with open_async_store("aiosqlite", tmp_path / "s.db") as st:
        s = await anew_session(st, user_id=2)
        got = await asyncio.to_thread(st.get_session, s.id)
        assert got == s
        assert await asyncio.to_thread(st.record_checkpoints, "t1", 2) is True
        assert (await st.aget_session(s.id)).total_checkpoints == 2
        # On the event loop's own thread a sync call would deadlock: refused.
        with pytest.raises(AgentGitError):
            st.get_session(s.id)


# -- SQLite: persistence --------------------------------------------------------------


def fill() -> Plan[int]:
    """A session with a branch, counts, a switch and metadata: its id."""
    s = yield from make_session(user_id=4, name="kept", metadata={"k": "v"})
    yield from call(BaseSessionStore.add_branch, branch(s.id, "b1", name="alt"))
    yield from call(BaseSessionStore.record_checkpoints, "t1", 3)
    yield from call(BaseSessionStore.set_current, s.id, "t1")
    yield from call(BaseSessionStore.update_metadata, s.id, {"k2": 2})
    return s.id


def _check_kept(s: ExternalSession | None, threads: list[InternalSession]) -> None:
    assert s is not None
    assert s.user_id == 4
    assert s.session_name == "kept"
    assert s.metadata == {"k": "v", "k2": 2}
    assert s.internal_session_ids == ["t1", "b1"]
    assert s.current_internal_session_id == "t1"
    assert s.branch_count == 1
    assert s.total_checkpoints == 4
    assert [(t.thread_id, t.checkpoint_count, t.is_branch, t.name) for t in threads] == [
        ("t1", 3, False, None),
        ("b1", 1, True, "alt"),
    ]


@dataclass
class SqliteRun:
    """Opens a SQLite store on a file (`kind`: sqlite3 or aiosqlite) and drives plans on
    it with the API of `run`: `async with sqlite_run.open(path) as st: await
    sqlite_run(st, plan)`."""

    run: Run
    kind: str

    def open(self, path: Path) -> AbstractAsyncContextManager[BaseSessionStore]:
        return open_async_store(self.kind, path)

    async def __call__(self, store: BaseSessionStore, plan: Plan[T]) -> T:
        return await self.run(plan, {BaseSessionStore: store})


# SqliteSessionStore with the sync API and with its async twins; AsyncSqliteSessionStore.
SQLITE_RUNS = ["sync-sqlite", "async-sqlite", "async-aiosqlite"]


@pytest.fixture(params=SQLITE_RUNS)
def sqlite_run(request: pytest.FixtureRequest) -> SqliteRun:
    mode, kind = request.param.split("-")
    return SqliteRun(Run(cast(Literal["sync", "async"], mode)), kind)


def session_and_threads(session_id: int) -> Plan[tuple[Any, list[InternalSession]]]:
    session = yield from call(BaseSessionStore.get_session, session_id)
    return session, (yield from call(BaseSessionStore.list_threads, session_id))


def still_there(sid: int, first: Any, first_threads: list[InternalSession]) -> Plan[None]:
    again, threads = yield from session_and_threads(sid)
    _check_kept(again, threads)
    assert again == first
    assert threads == first_threads
    # And it keeps working: ids keep growing, counts keep adding.
    nxt = yield from make_session("t2")
    assert nxt.id > sid
    yield from call(BaseSessionStore.record_checkpoints, "b1")
    assert (yield from call(BaseSessionStore.get_session, sid)).total_checkpoints == 5


async def test_sqlite_data_survives_reopen(sqlite_run: SqliteRun, tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with sqlite_run.open(path) as st:
        sid = await sqlite_run(st, fill())
        first, first_threads = await sqlite_run(st, session_and_threads(sid))
    async with sqlite_run.open(path) as st:
        await sqlite_run(st, still_there(sid, first, first_threads))


async def test_sync_and_async_sqlite_stores_share_one_format(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with open_sync_store(path) as st:
        sid = run_sync(fill(), {BaseSessionStore: st})
    async with open_async_store("aiosqlite", path) as st:
        _check_kept(await st.aget_session(sid), await st.alist_threads(sid))


# -- SQLite: migrations and tables --------------------------------------------------------


def _versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT v FROM agentgit_migrations ORDER BY v")]


def _objects(path: Path) -> dict[str, tuple[str, str, str | None]]:
    with sqlite3.connect(path) as conn:
        return {
            name: (type_, tbl, sql)
            for type_, name, tbl, sql in conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master"
            )
        }


ALL_VERSIONS = list(range(len(SQLITE.migrations)))


def setup(times: int = 1) -> Plan[None]:
    for _ in range(times):
        yield from call(BaseSessionStore.setup)


def fill_between_setups(path: Path) -> Plan[tuple[int, Any]]:
    yield from setup()
    assert _versions(path) == ALL_VERSIONS
    sid = yield from fill()
    snapshot = yield from call(BaseSessionStore.get_session, sid)
    yield from setup(2)
    assert _versions(path) == ALL_VERSIONS
    return sid, snapshot


async def test_sqlite_migrations_are_versioned_and_setup_is_repeatable(
    sqlite_run: SqliteRun, tmp_path: Path
) -> None:
    path = tmp_path / "s.db"
    assert len(ALL_VERSIONS) >= 3
    async with sqlite_run.open(path) as st:
        sid, snapshot = await sqlite_run(st, fill_between_setups(path))
    async with sqlite_run.open(path) as st:
        await sqlite_run(st, setup(2))
        assert _versions(path) == ALL_VERSIONS
        assert await sqlite_run(st, call(BaseSessionStore.get_session, sid)) == snapshot


async def test_sqlite_setup_is_lazy(sqlite_run: SqliteRun, tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with sqlite_run.open(path) as st:
        assert "agentgit_sessions" not in _objects(path)
        # First use migrates.
        assert await sqlite_run(st, call(BaseSessionStore.get_session, 1)) is None
        assert _versions(path) == ALL_VERSIONS


def _downgrade_last_migration(path: Path) -> None:
    """Make the file look like one written before `agentgit_pending_deletes` shipped."""
    (version,) = [
        v
        for v, ddl in enumerate(SQLITE.migrations)
        if isinstance(ddl, str) and "CREATE TABLE IF NOT EXISTS agentgit_pending_deletes" in ddl
    ]
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM agentgit_migrations WHERE v = ?", (version,))
        conn.execute("DROP TABLE agentgit_pending_deletes")


async def test_sqlite_migrations_apply_only_missing_versions(
    sqlite_run: SqliteRun, tmp_path: Path
) -> None:
    path = tmp_path / "s.db"
    async with sqlite_run.open(path) as st:
        sid = await sqlite_run(st, fill())
        snapshot = await sqlite_run(st, call(BaseSessionStore.get_session, sid))
    _downgrade_last_migration(path)
    assert "agentgit_pending_deletes" not in _objects(path)
    async with sqlite_run.open(path) as st:
        await sqlite_run(st, setup())
        assert _versions(path) == ALL_VERSIONS
        assert "agentgit_pending_deletes" in _objects(path)
        assert await sqlite_run(st, call(BaseSessionStore.get_session, sid)) == snapshot
    # An applied version is not run again: drop its object but keep its row.
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE agentgit_pending_deletes")
    async with sqlite_run.open(path) as st:
        await sqlite_run(st, setup())
        assert "agentgit_pending_deletes" not in _objects(path)
        assert _versions(path) == ALL_VERSIONS


def _langgraph_state(path: Path) -> dict[str, Any]:
    """LangGraph's own schema objects and every row of its tables."""
    objects = {k: v for k, v in _objects(path).items() if not _is_ours(k, v[1])}
    with sqlite3.connect(path) as conn:
        rows = {
            table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table, (type_, _, _) in objects.items()
            if type_ == "table" and not table.startswith("sqlite_")
        }
    return {"objects": objects, "rows": rows}


def _is_ours(name: str, table: str) -> bool:
    return table.startswith("agentgit_") or name == "sqlite_sequence"


def _check_only_prefixed_objects_added(before: dict[str, Any], path: Path) -> None:
    added = set(_objects(path)) - set(before)
    assert {"agentgit_migrations", "agentgit_sessions", "agentgit_threads"} <= added
    for name in added:
        type_, table, _ = _objects(path)[name]
        # sqlite_sequence is SQLite's own bookkeeping for AUTOINCREMENT.
        assert name == "sqlite_sequence" or (
            table.startswith("agentgit_")
            and (name.startswith("agentgit_") or name.startswith("sqlite_autoindex_agentgit_"))
        ), (name, type_, table)


def _langgraph_checkpoint() -> Plan[None]:
    """A checkpoint and a pending write, put by LangGraph's own saver."""
    cfg = yield from call(
        BaseCheckpointSaver.put,
        {"configurable": {"thread_id": "lg", "checkpoint_ns": ""}},
        empty_checkpoint(),
        {"source": "input", "step": -1},
        {},
    )
    yield from call(BaseCheckpointSaver.put_writes, cfg, [("ch", "value")], "task-1")


def alongside_langgraph() -> Plan[None]:
    yield from setup()
    sid = yield from fill()
    yield from call(BaseSessionStore.ensure_session_for_thread, "lg", user_id=0)
    yield from call(BaseSessionStore.record_checkpoints, "lg")
    assert (yield from call(BaseSessionStore.get_session, sid)).total_checkpoints == 4


async def test_sqlite_store_leaves_langgraph_tables_untouched(
    sqlite_run: SqliteRun, tmp_path: Path
) -> None:
    path = tmp_path / "agent.db"
    if sqlite_run.run.is_async:
        async with AsyncSqliteSaver.from_conn_string(str(path)) as asaver:
            await asaver.setup()
            await run_async(_langgraph_checkpoint(), {BaseCheckpointSaver: asaver})
    else:
        with SqliteSaver.from_conn_string(str(path)) as saver:
            saver.setup()
            run_sync(_langgraph_checkpoint(), {BaseCheckpointSaver: saver})
    objects_before = _objects(path)
    lg_before = _langgraph_state(path)
    assert {"checkpoints", "writes"} <= set(lg_before["rows"])
    assert len(lg_before["rows"]["checkpoints"]) == 1
    assert len(lg_before["rows"]["writes"]) == 1
    async with sqlite_run.open(path) as st:
        await sqlite_run(st, alongside_langgraph())
    assert _langgraph_state(path) == lg_before
    _check_only_prefixed_objects_added(objects_before, path)
    # And LangGraph still reads its own data.
    with SqliteSaver.from_conn_string(str(path)) as saver:
        t = saver.get_tuple({"configurable": {"thread_id": "lg"}})
        assert t is not None
        assert [w[1:] for w in t.pending_writes] == [("ch", "value")]


async def test_sqlite_store_tables_are_prefixed_on_a_fresh_file(
    sqlite_run: SqliteRun, tmp_path: Path
) -> None:
    path = tmp_path / "s.db"
    async with sqlite_run.open(path) as st:
        await sqlite_run(st, setup())
    _check_only_prefixed_objects_added({}, path)


# -- SQLite: corrupt rows --------------------------------------------------------------


def _tamper(path: Path, sql: str, params: tuple[Any, ...] = ()) -> None:
    with sqlite3.connect(path) as conn:
        assert conn.execute(sql, params).rowcount == 1


CORRUPT_SESSION_ROWS = [
    pytest.param(
        "UPDATE agentgit_sessions SET metadata = 'not json' WHERE id = ?",
        "metadata",
        id="metadata-not-json",
    ),
    pytest.param(
        "UPDATE agentgit_sessions SET metadata = '[1, 2]' WHERE id = ?",
        "metadata",
        id="metadata-not-object",
    ),
    pytest.param(
        "UPDATE agentgit_sessions SET created_at = 'yesterday-ish' WHERE id = ?",
        "",
        id="bad-created-at",
    ),
    pytest.param(
        "UPDATE agentgit_sessions SET updated_at = 'later' WHERE id = ?",
        "",
        id="bad-updated-at",
    ),
]


def two_sessions() -> Plan[tuple[int, int]]:
    good = yield from make_session("good")
    bad = yield from make_session("bad", metadata={"a": 1})
    return good.id, bad.id


def corrupt_session_row(path: Path, sql: str, what: str) -> Plan[None]:
    good, bad = yield from two_sessions()
    _tamper(path, sql, (bad,))
    with pytest.raises(StoreError, match="corrupt") as err:
        yield from call(BaseSessionStore.get_session, bad)
    assert str(bad) in str(err.value)
    assert what in str(err.value)
    with pytest.raises(StoreError, match="corrupt"):
        yield from call(BaseSessionStore.list_sessions)
    # Other sessions stay readable.
    assert (yield from call(BaseSessionStore.get_session, good)).internal_session_ids == ["good"]


@pytest.mark.parametrize(("sql", "what"), CORRUPT_SESSION_ROWS)
async def test_corrupt_session_row_gives_store_error(
    sqlite_run: SqliteRun, tmp_path: Path, sql: str, what: str
) -> None:
    path = tmp_path / "s.db"
    async with sqlite_run.open(path) as st:
        await sqlite_run(st, corrupt_session_row(path, sql, what))


def corrupt_metadata_update(path: Path, bad_metadata: str) -> Plan[int]:
    _, bad = yield from two_sessions()
    _tamper(path, "UPDATE agentgit_sessions SET metadata = ? WHERE id = ?", (bad_metadata, bad))
    with pytest.raises(StoreError, match=f"corrupt metadata in session {bad}"):
        yield from call(BaseSessionStore.update_metadata, bad, {"x": 1})
    return bad


@pytest.mark.parametrize("bad_metadata", ["not json", "[1, 2]", "null", "42"])
async def test_update_metadata_of_corrupt_row_gives_store_error_and_changes_nothing(
    sqlite_run: SqliteRun, tmp_path: Path, bad_metadata: str
) -> None:
    path = tmp_path / "s.db"
    async with sqlite_run.open(path) as st:
        bad = await sqlite_run(st, corrupt_metadata_update(path, bad_metadata))
    with sqlite3.connect(path) as conn:
        [(stored,)] = conn.execute("SELECT metadata FROM agentgit_sessions WHERE id = ?", (bad,))
    assert stored == bad_metadata


# Which records are decoded from the bad column: the thread record (created_at,
# count) and/or the session record (its updated_at and total use the thread's
# updated_at and count; the thread's created_at is not part of it).
CORRUPT_THREAD_ROWS = [
    pytest.param(
        "UPDATE agentgit_threads SET created_at = 'when?' WHERE thread_id = 'bad'",
        True,
        False,
        id="bad-created-at",
    ),
    pytest.param(
        "UPDATE agentgit_threads SET updated_at = 'when?' WHERE thread_id = 'bad'",
        False,
        True,
        id="bad-updated-at",
    ),
    pytest.param(
        "UPDATE agentgit_threads SET checkpoint_count = 'many' WHERE thread_id = 'bad'",
        True,
        True,
        id="bad-count",
    ),
]


def corrupt_thread_row(path: Path, sql: str, in_thread: bool, in_session: bool) -> Plan[None]:
    good, bad = yield from two_sessions()
    _tamper(path, sql)
    if in_thread:
        with pytest.raises(StoreError, match="corrupt") as err:
            yield from call(BaseSessionStore.get_thread, "bad")
        assert "'bad'" in str(err.value)
        with pytest.raises(StoreError, match="corrupt"):
            yield from call(BaseSessionStore.list_threads, bad)
    if in_session:
        with pytest.raises(StoreError, match="corrupt") as err:
            yield from call(BaseSessionStore.get_session, bad)
        assert str(bad) in str(err.value)
        with pytest.raises(StoreError, match="corrupt"):
            yield from call(BaseSessionStore.list_sessions)
    assert (yield from call(BaseSessionStore.get_thread, "good")).session_id == good


@pytest.mark.parametrize(("sql", "in_thread", "in_session"), CORRUPT_THREAD_ROWS)
async def test_corrupt_thread_row_gives_store_error(
    sqlite_run: SqliteRun, tmp_path: Path, sql: str, in_thread: bool, in_session: bool
) -> None:
    path = tmp_path / "s.db"
    async with sqlite_run.open(path) as st:
        await sqlite_run(st, corrupt_thread_row(path, sql, in_thread, in_session))


def failing_sqlite(path: Path) -> Plan[None]:
    yield from make_session()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE agentgit_threads")
    with pytest.raises(StoreError, match="agentgit_threads"):
        yield from call(BaseSessionStore.get_thread, "t1")


async def test_sqlite_failure_is_a_store_error(sqlite_run: SqliteRun, tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with sqlite_run.open(path) as st:
        await sqlite_run(st, failing_sqlite(path))
