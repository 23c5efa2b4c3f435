"""A put in each state it can meet, sync and async, on SQLite and PostgreSQL.

The steady state (no `user_id`, a thread this process already saw held) calls
the saver and the store directly; every other state goes through plans. These
tests put the steady state where the plans used to decide alone:

* another saver (another connection, as another process) deletes the session
  of a thread this saver has seen: the next put goes on in a new session that
  counts it, or, without `auto_session`, is saved outside any session;
* the named fault points around the save (`put.before_save`, `put.saved`,
  where the crash harness kills its workers) are still reached, in order.

Where the store counts saves in the saver's own table (every SQL backend
here), a steady put reads whether a session still holds its thread at most
once per `held_recheck_seconds`: the tests of a deletion elsewhere set it to
0 (every put reads) or to a short window they wait out, and others show that
inside the window no put reads, that a store with counters of its own is
still told of every save, and that counts stay exact either way.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agentgit_langgraph import (
    AgentGitSaver,
    ExternalSession,
    InvalidConfigError,
    SessionNotFoundError,
    ThreadNotFoundError,
)
from agentgit_langgraph._faults import clear_hooks, set_hook
from agentgit_langgraph._plan import call
from agentgit_langgraph.stores.sqlite import AsyncSqliteSessionStore, SqliteSessionStore
from tests.conftest import AsyncBackend, Run
from tests.graphs import chat_graph_builder, human
from tests.plans import Graph, cfg, counts_exact, invoke, on, rows


class InjectedFault(Exception):
    pass


@pytest.fixture
def hooks() -> Iterator[None]:
    yield
    clear_hooks()


def _seen(saver: AgentGitSaver, thread_id: str) -> bool:
    """Whether a put into `thread_id` is in the steady state on `saver`."""
    return saver._ctx.steady(thread_id, None)


@asynccontextmanager
async def deleted_elsewhere(
    run: Run, backend: AsyncBackend, recheck: float = 0.0
) -> AsyncIterator[tuple[AgentGitSaver, Any, str, ExternalSession]]:
    """A saver that ran a turn in a thread whose session another saver then deleted:
    `(saver, graph, thread id, the deleted session)`; the next put is in the steady state.
    `recheck`: the saver's `held_recheck_seconds`."""
    async with backend.open() as ours, backend.open() as other:
        ours.held_recheck_seconds = recheck
        graph = chat_graph_builder().compile(checkpointer=ours)
        thread = f"chat-{uuid.uuid4().hex[:8]}"
        await run(invoke(graph, human("one", 0), cfg(thread)), on(ours))
        first = await run(call(AgentGitSaver.session_for_thread, thread), on(ours))
        assert first.id is not None
        await run(call(AgentGitSaver.delete_session, first.id), on(other))
        assert _seen(ours, thread)  # the next put takes the direct way
        yield ours, graph, thread, first


async def in_a_new_session(
    run: Run, saver: AgentGitSaver, thread: str, first: ExternalSession, at_least: int = 1
) -> ExternalSession:
    """The session holding `thread` now: not `first`, counting each of the at least
    `at_least` checkpoints the thread holds, with a clean `fsck`."""
    second = await run(call(AgentGitSaver.session_for_thread, thread), on(saver))
    assert second.id is not None and second.id != first.id
    assert second.total_checkpoints == len(await run(rows(thread), on(saver))) >= at_least
    await run(counts_exact(second.id), on(saver))
    report = await run(call(AgentGitSaver.fsck), on(saver))
    assert report.clean, str(report)
    return second


async def test_a_seen_thread_whose_session_was_deleted_elsewhere_goes_on_in_a_new_one(
    run: Run, run_sql_backend: AsyncBackend
) -> None:
    async with deleted_elsewhere(run, run_sql_backend) as (ours, graph, thread, first):
        await run(invoke(graph, human("two", 1), cfg(thread)), on(ours))
        await in_a_new_session(run, ours, thread, first)


async def test_without_auto_session_such_a_put_is_saved_outside_any_session(
    run: Run, run_sql_backend: AsyncBackend
) -> None:
    async with deleted_elsewhere(run, run_sql_backend) as (ours, graph, thread, first):
        ours.auto_session = False
        await run(invoke(graph, human("two", 1), cfg(thread)), on(ours))
        assert len(await run(rows(thread), on(ours))) > 0  # saved, as without the wrapper
        with pytest.raises((SessionNotFoundError, ThreadNotFoundError)):
            await run(call(AgentGitSaver.session_for_thread, thread), on(ours))
        with pytest.raises(SessionNotFoundError):
            await run(call(AgentGitSaver.get_session, first.id or 0), on(ours))


@pytest.mark.parametrize("point", ["put.before_save", "put.saved"])
async def test_a_steady_put_reaches_the_fault_points_around_its_save(
    run: Run, run_sql_backend: AsyncBackend, point: str, hooks: None
) -> None:
    async with run_sql_backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        thread = f"chat-{uuid.uuid4().hex[:8]}"
        await run(invoke(graph, human("one", 0), cfg(thread)), on(saver))
        before = len(await run(rows(thread), on(saver)))
        assert _seen(saver, thread)
        reached: list[str] = []

        def fail(name: str) -> None:
            reached.append(name)
            raise InjectedFault(name)

        set_hook("put.before_save", reached.append)
        set_hook(point, fail)
        with pytest.raises(InjectedFault):
            await run(invoke(graph, human("two", 1), cfg(thread)), on(saver))
        clear_hooks()
        expected = ["put.before_save", "put.saved"]
        assert reached == expected[: expected.index(point) + 1]
        saved = len(await run(rows(thread), on(saver))) - before
        assert saved == (0 if point == "put.before_save" else 1)
        session = await run(call(AgentGitSaver.session_for_thread, thread), on(saver))
        assert session.id is not None
        await run(counts_exact(session.id), on(saver))


class CountedCounts:
    """Counts the calls of the store's `record_checkpoints` and its async twin."""

    def __init__(self, saver: AgentGitSaver) -> None:
        self.calls = 0
        store = saver.store
        sync, async_ = store.record_checkpoints, store.arecord_checkpoints

        def record(thread_id: str, count: int = 1) -> bool:
            self.calls += 1
            return sync(thread_id, count)

        async def arecord(thread_id: str, count: int = 1) -> bool:
            self.calls += 1
            return await async_(thread_id, count)

        store.record_checkpoints = record  # type: ignore[method-assign]
        store.arecord_checkpoints = arecord  # type: ignore[method-assign]


async def test_a_put_deleted_elsewhere_within_the_window_is_counted_once_it_is_noticed(
    run: Run, run_sql_backend: AsyncBackend
) -> None:
    window = 0.5
    async with deleted_elsewhere(run, run_sql_backend, window) as (ours, graph, thread, first):
        counted = CountedCounts(ours)
        await run(invoke(graph, human("two", 1), cfg(thread)), on(ours))
        within = counted.calls
        with pytest.raises((SessionNotFoundError, ThreadNotFoundError)):
            await run(call(AgentGitSaver.session_for_thread, thread), on(ours))
        await asyncio.sleep(window)
        await run(invoke(graph, human("three", 2), cfg(thread)), on(ours))
        # Every checkpoint since the deletion, those saved inside the window too.
        await in_a_new_session(run, ours, thread, first, at_least=4)
    assert within == 0  # the turn inside the window read nothing of the store


async def test_recheck_held_gives_a_new_session_to_what_was_saved_after_a_delete_elsewhere(
    run: Run, run_sql_backend: AsyncBackend
) -> None:
    """The writer stops inside the window: `recheck_held` does what its next put would."""
    async with deleted_elsewhere(run, run_sql_backend, 60.0) as (ours, graph, thread, first):
        await run(invoke(graph, human("two", 1), cfg(thread)), on(ours))
        assert await run(call(AgentGitSaver.recheck_held), on(ours)) == [thread]
        second = await in_a_new_session(run, ours, thread, first, at_least=3)
        # Read once: nothing is left to read, and a held thread is not reported.
        assert await run(call(AgentGitSaver.recheck_held), on(ours)) == []
        await run(invoke(graph, human("three", 2), cfg(thread)), on(ours))
        assert await run(call(AgentGitSaver.recheck_held), on(ours)) == []
        assert (await run(call(AgentGitSaver.session_for_thread, thread), on(ours))).id == second.id


async def test_a_put_into_another_thread_a_window_later_rechecks_an_idle_one(
    run: Run, run_sql_backend: AsyncBackend
) -> None:
    """The writer moved on to another conversation: its first put a window
    later reads the idle thread, which goes on in a new session; read threads
    are not kept (what the process remembers stays bounded)."""
    window = 1.0
    async with deleted_elsewhere(run, run_sql_backend, window) as (ours, graph, thread, first):
        await run(invoke(graph, human("two", 1), cfg(thread)), on(ours))  # unread
        assert thread in ours._ctx.unread
        await asyncio.sleep(window)
        others = [f"other-{uuid.uuid4().hex[:8]}" for _ in range(2)]
        for other in others:
            await run(invoke(graph, human("elsewhere", 0), cfg(other)), on(ours))
        await in_a_new_session(run, ours, thread, first, at_least=3)
        assert thread not in ours._ctx.unread and set(ours._ctx.unread) <= set(others)
        assert await run(call(AgentGitSaver.recheck_held), on(ours)) == []
        assert not ours._ctx.unread


async def test_closing_the_saver_rechecks_what_it_saved_inside_the_window(
    run: Run, run_sql_backend: AsyncBackend
) -> None:
    thread = f"chat-{uuid.uuid4().hex[:8]}"
    async with run_sql_backend.open() as other:
        async with run_sql_backend.open() as ours:
            ours.held_recheck_seconds = 60.0
            graph = chat_graph_builder().compile(checkpointer=ours)
            await run(invoke(graph, human("one", 0), cfg(thread)), on(ours))
            first = await run(call(AgentGitSaver.session_for_thread, thread), on(ours))
            assert first.id is not None
            await run(call(AgentGitSaver.delete_session, first.id), on(other))
            await run(invoke(graph, human("two", 1), cfg(thread)), on(ours))
            with pytest.raises((SessionNotFoundError, ThreadNotFoundError)):
                await run(call(AgentGitSaver.session_for_thread, thread), on(other))
        # `ours` closed: it read the thread again and gave it a session.
        await in_a_new_session(run, other, thread, first, at_least=3)


@pytest.mark.parametrize("where", ["elsewhere", "here"])
async def test_a_session_deleted_after_the_last_put_stays_deleted(
    run: Run, run_sql_backend: AsyncBackend, where: str
) -> None:
    """Its checkpoints went with it: a recheck makes nothing (it reports the thread
    when another saver deleted it, which this one could not know), and the next put
    into the thread starts a new session at once, not a window later."""
    async with run_sql_backend.open() as ours, run_sql_backend.open() as other:
        ours.held_recheck_seconds = 60.0
        graph = chat_graph_builder().compile(checkpointer=ours)
        thread = f"chat-{uuid.uuid4().hex[:8]}"
        await run(invoke(graph, human("one", 0), cfg(thread)), on(ours))
        await run(invoke(graph, human("two", 1), cfg(thread)), on(ours))  # unread puts
        first = await run(call(AgentGitSaver.session_for_thread, thread), on(ours))
        deleter = other if where == "elsewhere" else ours
        await run(call(AgentGitSaver.delete_session, first.id or 0), on(deleter))
        reported = await run(call(AgentGitSaver.recheck_held), on(ours))
        assert reported == ([thread] if where == "elsewhere" else [])
        assert await run(rows(thread), on(ours)) == []
        with pytest.raises((SessionNotFoundError, ThreadNotFoundError)):
            await run(call(AgentGitSaver.session_for_thread, thread), on(ours))
        assert await run(call(AgentGitSaver.list_sessions), on(ours)) == []
        await run(invoke(graph, human("three", 2), cfg(thread)), on(ours))
        await in_a_new_session(run, ours, thread, first)


async def test_a_users_put_reads_its_owner_only_and_notices_a_delete_elsewhere_at_once(
    run: Run, run_sql_backend: AsyncBackend, hooks: None
) -> None:
    """With a `user_id` the owner is read before every save (never trusted), and
    that read says too whether a session holds the thread: a session deleted
    elsewhere is replaced by the user's next put, before it saves. A delete
    between that read and the save is left to the window, and the thread's
    new session is still that user's."""
    async with run_sql_backend.open() as ours, run_sql_backend.open() as other:
        ours.held_recheck_seconds = 60.0
        graph = chat_graph_builder().compile(checkpointer=ours)
        thread = f"chat-{uuid.uuid4().hex[:8]}"
        alice = cfg(thread, user_id="alice")
        await run(invoke(graph, human("one", 0), alice), on(ours))
        counted = CountedCounts(ours)
        await run(invoke(graph, human("two", 1), alice), on(ours))
        assert counted.calls == 0  # only the owner read before each save
        first = await run(call(AgentGitSaver.session_for_thread, thread), on(ours))
        await run(call(AgentGitSaver.delete_session, first.id or 0), on(other))
        await run(invoke(graph, human("three", 2), alice), on(ours))
        second = await in_a_new_session(run, ours, thread, first)
        assert second.owner == "alice"
        assert await run(call(AgentGitSaver.recheck_held), on(ours)) == []

        if run.is_async:
            return  # the hook below would have to wait on the event loop it blocks

        # Deleted after the owner read, before the save (of a lone put: a turn's
        # next put would read the owner again): read later, still alice's.
        def delete_now(_point: str) -> None:
            clear_hooks()
            other.delete_session(second.id or 0)

        set_hook("put.before_save", delete_now)
        await run(call(Graph.update_state, graph, alice, {"messages": []}), on(ours))
        assert await run(call(AgentGitSaver.recheck_held), on(ours)) == [thread]
        third = await in_a_new_session(run, ours, thread, second)
        assert third.owner == "alice"


@pytest.mark.parametrize("recheck", [0.0, 60.0])
async def test_inside_the_window_a_steady_put_reads_nothing_and_every_count_stays_exact(
    run: Run, run_sql_backend: AsyncBackend, recheck: float
) -> None:
    async with run_sql_backend.open() as saver:
        assert saver.store.counts_in_saver
        saver.held_recheck_seconds = recheck
        graph = chat_graph_builder().compile(checkpointer=saver)
        thread = f"chat-{uuid.uuid4().hex[:8]}"
        await run(invoke(graph, human("one", 0), cfg(thread)), on(saver))
        before = len(await run(rows(thread), on(saver)))
        counted = CountedCounts(saver)
        for turn in range(1, 4):
            await run(invoke(graph, human("more", turn), cfg(thread)), on(saver))
        puts = len(await run(rows(thread), on(saver))) - before
        assert puts >= 6
        assert counted.calls == (puts if recheck == 0 else 0)
        session = await run(call(AgentGitSaver.session_for_thread, thread), on(saver))
        assert session.id is not None
        assert session.total_checkpoints == before + puts
        await run(counts_exact(session.id), on(saver))


async def test_a_store_with_counters_of_its_own_is_told_of_every_save(
    run: Run, tmp_path: Path
) -> None:
    """A store apart from the saver's tables cannot count a save by its being
    stored: every put records it, whatever the window."""
    async with _apart(run, tmp_path) as saver:
        assert not saver.store.counts_in_saver and saver.held_recheck_seconds > 0
        graph = chat_graph_builder().compile(checkpointer=saver)
        thread = f"chat-{uuid.uuid4().hex[:8]}"
        counted = CountedCounts(saver)
        for turn in range(3):
            await run(invoke(graph, human("more", turn), cfg(thread)), on(saver))
        stored = len(await run(rows(thread), on(saver)))
        assert counted.calls == stored >= 6
        session = await run(call(AgentGitSaver.session_for_thread, thread), on(saver))
        assert session.id is not None and session.total_checkpoints == stored
        await run(counts_exact(session.id), on(saver))


@asynccontextmanager
async def _apart(run: Run, tmp_path: Path) -> AsyncIterator[AgentGitSaver]:
    """A SQLite saver whose sessions live in a store file of their own."""
    if run.is_async:
        async with (
            AsyncSqliteSaver.from_conn_string(str(tmp_path / "a.db")) as saver,
            AsyncSqliteSessionStore.from_conn_string(str(tmp_path / "s.db")) as store,
        ):
            await saver.setup()
            await store.asetup()
            yield AgentGitSaver(saver, store)
    else:
        with (
            SqliteSaver.from_conn_string(str(tmp_path / "a.db")) as ssaver,
            SqliteSessionStore.from_conn_string(str(tmp_path / "s.db")) as sstore,
        ):
            ssaver.setup()
            sstore.setup()
            yield AgentGitSaver(ssaver, sstore)


@pytest.mark.parametrize("value", [-1, -0.5, True, "1", None, float("nan")])
def test_a_window_that_is_not_a_duration_is_refused_and_changes_nothing(
    tmp_path: Path, value: Any
) -> None:
    with pytest.raises(InvalidConfigError, match="held_recheck_seconds"):
        AgentGitSaver(InMemorySaver(), held_recheck_seconds=value)
    with AgentGitSaver.from_conn_string(str(tmp_path / "w.db")) as saver:
        with pytest.raises(InvalidConfigError, match="held_recheck_seconds"):
            saver.held_recheck_seconds = value
        assert saver.held_recheck_seconds == 1.0
