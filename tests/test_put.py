"""A put in each state it can meet, sync and async, on SQLite and PostgreSQL.

The steady state (no `user_id`, a thread this process already saw held) calls
the saver and the store directly; every other state goes through plans. These
tests put the steady state where the plans used to decide alone:

* another saver (another connection, as another process) deletes the session
  of a thread this saver has seen: the next put goes on in a new session that
  counts it, or, without `auto_session`, is saved outside any session;
* the named fault points around the save (`put.before_save`, `put.saved`,
  where the crash harness kills its workers) are still reached, in order.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from agentgit_langgraph import (
    AgentGitSaver,
    ExternalSession,
    SessionNotFoundError,
    ThreadNotFoundError,
)
from agentgit_langgraph._faults import clear_hooks, set_hook
from agentgit_langgraph._plan import call
from tests.conftest import AsyncBackend, Run
from tests.graphs import chat_graph_builder, human
from tests.plans import cfg, counts_exact, invoke, on, rows


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
    run: Run, backend: AsyncBackend
) -> AsyncIterator[tuple[AgentGitSaver, Any, str, ExternalSession]]:
    """A saver that ran a turn in a thread whose session another saver then deleted:
    `(saver, graph, thread id, the deleted session)`; the next put is in the steady state."""
    async with backend.open() as ours, backend.open() as other:
        graph = chat_graph_builder().compile(checkpointer=ours)
        thread = f"chat-{uuid.uuid4().hex[:8]}"
        await run(invoke(graph, human("one", 0), cfg(thread)), on(ours))
        first = await run(call(AgentGitSaver.session_for_thread, thread), on(ours))
        assert first.id is not None
        await run(call(AgentGitSaver.delete_session, first.id), on(other))
        assert _seen(ours, thread)  # the next put takes the direct way
        yield ours, graph, thread, first


async def test_a_seen_thread_whose_session_was_deleted_elsewhere_goes_on_in_a_new_one(
    run: Run, run_sql_backend: AsyncBackend
) -> None:
    async with deleted_elsewhere(run, run_sql_backend) as (ours, graph, thread, first):
        await run(invoke(graph, human("two", 1), cfg(thread)), on(ours))
        second = await run(call(AgentGitSaver.session_for_thread, thread), on(ours))
        assert second.id is not None and second.id != first.id
        assert second.total_checkpoints == len(await run(rows(thread), on(ours))) > 0
        await run(counts_exact(second.id), on(ours))
        report = await run(call(AgentGitSaver.fsck), on(ours))
        assert report.clean, str(report)


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
