"""A rollback that dies between copying and registering leaves a note; recovery
deletes the orphan thread it names, on every backend, sync and async."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from agentgit_langgraph import AgentGitSaver, InvalidConfigError
from agentgit_langgraph._plan import Plan, call
from tests.conftest import AsyncBackend, Run
from tests.graphs import chat_graph_builder, contents, human
from tests.plans import on


class Died(Exception):
    """Stands for the process dying: registration fails and so does the clean-up."""


def _thread(config: dict[str, Any]) -> str:
    return str(config["configurable"]["thread_id"])


def _seed(saver: AgentGitSaver, thread: str) -> Any:
    graph = chat_graph_builder().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": thread}}
    for n in range(2):
        graph.invoke(human(f"hi {n}", n), config)
    return graph, config, list(graph.get_state_history(config))[2]


def _die_midway(monkeypatch: pytest.MonkeyPatch, saver: AgentGitSaver) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise Died("gone")

    for name in ("add_branch", "aadd_branch"):
        monkeypatch.setattr(saver.store, name, fail)
    for name in ("delete_thread", "adelete_thread"):
        monkeypatch.setattr(saver.saver, name, fail)


def test_a_registered_rollback_leaves_no_note(backend: Any) -> None:
    with backend.open() as saver:
        _, _, target = _seed(saver, "clean")
        saver.rollback(target.config)
        assert saver.store.list_pending_branches() == []
        assert saver.recover_branches(older_than=timedelta(0)) == []


async def test_a_registered_arollback_leaves_no_note(abackend: Any) -> None:
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "clean"}}
        for n in range(2):
            await graph.ainvoke(human(f"hi {n}", n), config)
        target = [s async for s in graph.aget_state_history(config)][2]
        await saver.arollback(target.config)
        assert await saver.store.alist_pending_branches() == []
        assert await saver.arecover_branches(older_than=timedelta(0)) == []


def test_recover_deletes_the_thread_a_dead_rollback_left(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with backend.open() as saver:
        graph, _, target = _seed(saver, "dies")
        session = saver.session_for_thread("dies")
        with monkeypatch.context() as m:
            _die_midway(m, saver)
            with pytest.raises(Died):
                saver.rollback(target.config)
        (note,) = saver.store.list_pending_branches()
        orphan = note.thread_id
        assert list(saver.saver.list({"configurable": {"thread_id": orphan}}))  # it is there
        assert saver.session_for_thread("dies") == session  # never registered
        assert not note.registered
        # Signed by this process, whose rollback is over: gone, whatever its age.
        assert saver.recover_branches() == [orphan]
        assert list(saver.saver.list({"configurable": {"thread_id": orphan}})) == []
        assert saver.store.list_pending_branches() == []
        assert saver.recover_branches(older_than=timedelta(0)) == []
        branch = saver.rollback(target.config)
        assert contents(graph.get_state(branch).values) == contents(target.values)
        assert saver.session_for_thread("dies").branch_count == 1


async def test_arecover_deletes_the_thread_a_dead_arollback_left(
    abackend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "dies"}}
        for n in range(2):
            await graph.ainvoke(human(f"hi {n}", n), config)
        target = [s async for s in graph.aget_state_history(config)][2]
        with monkeypatch.context() as m:
            _die_midway(m, saver)
            with pytest.raises(Died):
                await saver.arollback(target.config)
        (note,) = await saver.store.alist_pending_branches()
        orphan = note.thread_id
        assert [t async for t in saver.saver.alist({"configurable": {"thread_id": orphan}})]
        assert await saver.arecover_branches() == [orphan]
        assert [t async for t in saver.saver.alist({"configurable": {"thread_id": orphan}})] == []
        branch = await saver.arollback(target.config)
        assert contents((await graph.aget_state(branch)).values) == contents(target.values)
        assert (await saver.asession_for_thread("dies")).branch_count == 1


def bad_ages() -> Plan[None]:
    for bad in (-timedelta(seconds=1), 10):  # negative; not a timedelta
        with pytest.raises(InvalidConfigError, match="older_than"):
            yield from call(AgentGitSaver.recover_branches, older_than=bad)  # type: ignore[arg-type]


async def test_recover_rejects_a_bad_age(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(bad_ages(), on(saver))
