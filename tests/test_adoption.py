"""Adoption and the thread operations, on threads saved by a bare LangGraph saver.

A thread of 9 checkpoints (three chat turns) is written by the bare saver
(`InMemorySaver`, `SqliteSaver`/`AsyncSqliteSaver` on a file,
`PostgresSaver`/`AsyncPostgresSaver` on the server) through a compiled graph,
then the same data is wrapped: `adopt`, an auto-adopting put and an
auto-adopting rollback must count exactly what the saver holds. `copy_thread`
makes a branch of the source's session; `delete_thread` keeps the session true.
Every scenario is a plan the `run` fixture drives with the sync and the async API.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agentgit_langgraph import (
    AgentGitSaver,
    SessionAccessError,
    SessionNotFoundError,
    ThreadNotFoundError,
)
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph.adoption import SavedThread
from agentgit_langgraph.stores.memory import InMemorySessionStore
from tests.conftest import BACKEND_NAMES, Run
from tests.fidelity_graphs import stateful_probe
from tests.graphs import chat_graph_builder, human
from tests.plans import Graph, cfg, counts_exact, history, invoke, on, rows

TURNS = ("t0", "t1", "t2")  # three turns: 9 checkpoints


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Data:
    """One database, opened bare (LangGraph's saver alone) or wrapped."""

    bare: Callable[[], AbstractAsyncContextManager[BaseCheckpointSaver[Any]]]
    wrapped: Callable[..., AbstractAsyncContextManager[AgentGitSaver]]


def _memory() -> Data:
    inner = InMemorySaver()
    store = InMemorySessionStore()

    @asynccontextmanager
    async def bare() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        yield inner

    @asynccontextmanager
    async def wrapped(**options: Any) -> AsyncIterator[AgentGitSaver]:
        yield AgentGitSaver(inner, store, **options)

    return Data(bare, wrapped)


def _on_database(run: Run, conn_string: str, sync: Any, async_: Any) -> Data:
    @asynccontextmanager
    async def bare() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        if run.is_async:
            async with async_.from_conn_string(conn_string) as saver:
                await saver.setup()
                yield saver
        else:
            with sync.from_conn_string(conn_string) as saver:
                saver.setup()
                yield saver

    @asynccontextmanager
    async def wrapped(**options: Any) -> AsyncIterator[AgentGitSaver]:
        async with run.from_conn_string(conn_string, **options) as saver:
            yield saver

    return Data(bare, wrapped)


@pytest.fixture(params=BACKEND_NAMES)
def data(request: pytest.FixtureRequest, tmp_path: Path, run: Run) -> Data:
    """The bare saver and the wrapped one on the same data, for `run`'s API."""
    if request.param == "memory":
        return _memory()
    if request.param == "sqlite":
        return _on_database(run, str(tmp_path / "agent.db"), SqliteSaver, AsyncSqliteSaver)
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    uri = request.getfixturevalue("postgres_schema_uri")
    return _on_database(run, uri, PostgresSaver, AsyncPostgresSaver)


def chat_turns(graph: Any, thread_id: str, *texts: str, first: int = 0) -> Plan[None]:
    for i, text in enumerate(texts):
        yield from invoke(graph, human(text, first + i), cfg(thread_id))


async def bare_thread(run: Run, data: Data, *texts: str) -> str:
    """A thread the bare saver wrote (3 checkpoints a turn), no session anywhere."""
    thread_id = unique("bare")
    async with data.bare() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        await run(chat_turns(graph, thread_id, *(texts or TURNS)), on_graph())
    return thread_id


def on_graph() -> Any:
    """The targets of a plan that only runs a graph (on the bare saver)."""
    return {Graph: Graph()}


Flow = Callable[[AgentGitSaver, str], Plan[None]]


async def on_bare_thread(run: Run, data: Data, flow: Flow, *texts: str, **options: Any) -> None:
    """`flow(saver, thread)` on a thread the bare saver wrote, then wrapped with `options`."""
    thread_id = await bare_thread(run, data, *texts)
    async with data.wrapped(**options) as saver:
        await run(flow(saver, thread_id), on(saver))


# -- adopt -----------------------------------------------------------------------


def adopt_flow(saver: AgentGitSaver, thread_id: str) -> Plan[None]:
    with pytest.raises(ThreadNotFoundError, match=thread_id):
        yield from call(AgentGitSaver.session_for_thread, thread_id)
    assert SavedThread(thread_id, 9, None) in (yield from call(AgentGitSaver.threads))
    session = yield from call(AgentGitSaver.adopt, thread_id, user_id="alice")
    assert session.total_checkpoints == 9 == len((yield from rows(thread_id)))
    listed = yield from call(AgentGitSaver.threads, user_id="alice")
    assert SavedThread(thread_id, 9, session.id) in listed
    assert thread_id not in [
        t.thread_id for t in (yield from call(AgentGitSaver.threads, user_id="bob"))
    ]
    assert (session.owner, session.session_name) == ("alice", thread_id)
    assert session.internal_session_ids == [thread_id]
    assert session.current_internal_session_id == thread_id
    assert session.id is not None
    yield from counts_exact(session.id)
    # Adopting it again: the same session, for its owner only.
    again = yield from call(AgentGitSaver.adopt, thread_id, user_id="alice", session_name="x")
    assert (again.id, again.session_name, again.total_checkpoints) == (session.id, thread_id, 9)
    with pytest.raises(SessionAccessError):
        yield from call(AgentGitSaver.adopt, thread_id, user_id="bob")
    with pytest.raises(ThreadNotFoundError, match="ghost"):
        yield from call(AgentGitSaver.adopt, unique("ghost"))
    # The wrapper counts on from there.
    graph = chat_graph_builder().compile(checkpointer=saver)
    yield from invoke(graph, human("t3", 3), cfg(thread_id, user_id="alice"))
    yield from counts_exact(session.id)
    assert (yield from call(AgentGitSaver.get_session, session.id)).total_checkpoints == 12


async def test_adopt_counts_exact(run: Run, data: Data) -> None:
    await on_bare_thread(run, data, adopt_flow, auto_session=False)


def named_flow(saver: AgentGitSaver, thread_id: str) -> Plan[None]:
    session = yield from call(AgentGitSaver.adopt, thread_id, user_id=7, session_name="old")
    assert (session.user_id, session.session_name, session.total_checkpoints) == (7, "old", 6)


async def test_adopt_names_the_session(run: Run, data: Data) -> None:
    await on_bare_thread(run, data, named_flow, "a", "b")


def subgraph_flow(thread_id: str) -> Plan[None]:
    stored = len((yield from rows(thread_id)))
    root = len((yield from gather(BaseCheckpointSaver.list, cfg(thread_id, checkpoint_ns=""))))
    assert stored > root > 0  # the sub-agent's own checkpoints, in namespace "agent"
    session = yield from call(AgentGitSaver.adopt, thread_id)
    assert session.total_checkpoints == stored
    assert session.id is not None
    yield from counts_exact(session.id)


async def test_adopt_counts_every_namespace(run: Run, data: Data) -> None:
    thread_id = unique("sub")
    async with data.bare() as bare:
        graph = stateful_probe().compile(bare)
        for n in range(2):
            await run(invoke(graph, {"inp": f"q{n}"}, cfg(thread_id)), on_graph())
    async with data.wrapped() as saver:
        await run(subgraph_flow(thread_id), on(saver))


# -- auto_session adopts -----------------------------------------------------------


def put_flow(saver: AgentGitSaver, thread_id: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    yield from invoke(graph, human("t3", 3), cfg(thread_id, user_id=5))
    session = yield from call(AgentGitSaver.session_for_thread, thread_id)
    assert (session.user_id, session.total_checkpoints) == (5, 12)
    assert session.id is not None
    yield from counts_exact(session.id)


def rollback_flow(saver: AgentGitSaver, thread_id: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    snapshots = yield from history(graph, cfg(thread_id))
    assert len(snapshots) == 9
    branch = yield from call(AgentGitSaver.rollback, snapshots[3].config, user_id=9)
    session = yield from call(AgentGitSaver.session_for_thread, thread_id)
    assert session.user_id == 9
    assert session.internal_session_ids == [thread_id, branch["configurable"]["thread_id"]]
    assert session.current_internal_session_id == branch["configurable"]["thread_id"]
    assert session.id is not None
    threads = yield from call(AgentGitSaver.branches, session.id)
    assert threads[0].checkpoint_count == 9
    yield from counts_exact(session.id)


@pytest.mark.parametrize("flow", [put_flow, rollback_flow], ids=["put", "rollback"])
async def test_auto_session_adopts_with_exact_count(run: Run, data: Data, flow: Flow) -> None:
    await on_bare_thread(run, data, flow)


def no_auto_flow(saver: AgentGitSaver, thread_id: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    snapshots = yield from history(graph, cfg(thread_id))
    with pytest.raises(ThreadNotFoundError, match=thread_id):
        yield from call(AgentGitSaver.rollback, snapshots[3].config)
    assert (yield from call(AgentGitSaver.list_sessions)) == []


async def test_without_auto_session_rollback_does_not_adopt(run: Run, data: Data) -> None:
    await on_bare_thread(run, data, no_auto_flow, auto_session=False)


# -- copy_thread and delete_thread -----------------------------------------------------


def copy_flow(saver: AgentGitSaver, bare: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    source = unique("src")
    yield from chat_turns(graph, source, "s0", "s1")
    session = yield from call(AgentGitSaver.session_for_thread, source)
    assert session.id is not None
    head = yield from call(AgentGitSaver.get_tuple, cfg(source))
    assert head is not None
    target = unique("copy")
    yield from call(AgentGitSaver.copy_thread, source, target)
    assert (yield from call(AgentGitSaver.session_for_thread, target)).id == session.id
    threads = yield from call(AgentGitSaver.branches, session.id)
    assert [t.thread_id for t in threads] == [source, target]
    copy = threads[1]
    assert (copy.parent_thread_id, copy.branch_checkpoint_id) == (source, head.checkpoint["id"])
    assert copy.is_branch and copy.is_current and copy.checkpoint_count == 6
    now = yield from call(AgentGitSaver.get_session, session.id)
    assert (now.branch_count, now.total_checkpoints) == (1, 12)
    yield from counts_exact(session.id)
    # The copy goes on as the session's current thread.
    yield from invoke(graph, human("c2", 2), (yield from call(AgentGitSaver.config_for, now)))
    yield from counts_exact(session.id)
    assert len(sessions := (yield from call(AgentGitSaver.list_sessions))) == 1, sessions

    # A source saved without the wrapper is adopted first, with its exact count.
    target = unique("copy")
    yield from call(AgentGitSaver.copy_thread, bare, target)
    adopted = yield from call(AgentGitSaver.session_for_thread, bare)
    assert adopted.internal_session_ids == [bare, target]
    assert adopted.total_checkpoints == 18
    assert adopted.id is not None
    yield from counts_exact(adopted.id)


async def test_copy_thread_makes_a_branch(run: Run, data: Data) -> None:
    await on_bare_thread(run, data, copy_flow)


def delete_flow(saver: AgentGitSaver) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    first = unique("del")
    yield from chat_turns(graph, first, "d0", "d1")
    snapshots = yield from history(graph, cfg(first))
    a = (yield from call(AgentGitSaver.rollback, snapshots[2].config))["configurable"]["thread_id"]
    b = (yield from call(AgentGitSaver.rollback, snapshots[4].config))["configurable"]["thread_id"]
    session = yield from call(AgentGitSaver.session_for_thread, first)
    assert session.id is not None
    assert session.current_internal_session_id == b
    # The current thread goes: the newest remaining one becomes current.
    yield from call(AgentGitSaver.delete_thread, b)
    now = yield from call(AgentGitSaver.get_session, session.id)
    assert (now.internal_session_ids, now.current_internal_session_id) == ([first, a], a)
    assert (yield from rows(b)) == []
    yield from counts_exact(session.id)
    # Another thread goes: the current one stays.
    yield from call(AgentGitSaver.delete_thread, first)
    now = yield from call(AgentGitSaver.get_session, session.id)
    assert (now.internal_session_ids, now.current_internal_session_id) == ([a], a)
    yield from counts_exact(session.id)
    # The last thread goes with its session.
    yield from call(AgentGitSaver.delete_thread, a)
    with pytest.raises(SessionNotFoundError):
        yield from call(AgentGitSaver.get_session, session.id)
    assert (yield from rows(a)) == []
    assert (yield from call(AgentGitSaver.list_sessions)) == []


async def test_delete_thread_keeps_the_session_true(run: Run, data: Data) -> None:
    async with data.wrapped() as saver:
        await run(delete_flow(saver), on(saver))
