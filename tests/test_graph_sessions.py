"""Sessions and branches driven through a real LangGraph graph, sync and async.

Every scenario runs twice: once through the sync API (`invoke`, `get_state`,
`rollback`, ...) on `backend`, once through the async API (`ainvoke`,
`aget_state`, `arollback`, ...) on `abackend`. The chat graph writes three
checkpoints per turn (input, before `chat`, after `chat`), so counts are exact.

Thread ids and user ids are unique per test, so the tests also hold on a
database shared by the whole run (the PostgreSQL backend).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.types import StateSnapshot

from agentgit_langgraph import (
    AgentGitSaver,
    ExternalSession,
    InternalSession,
    SessionAccessError,
    ThreadNotFoundError,
)
from agentgit_langgraph.testing import EchoChatModel
from tests.graphs import chat_graph_builder, contents, human

PER_TURN = 3  # input checkpoint, loop checkpoint before `chat`, loop checkpoint after it


# -- helpers -----------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def unique_user() -> int:
    return 1_000_000 + uuid.uuid4().int % 1_000_000_000


def cfg(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def tid(config: Any) -> str:
    return str(config["configurable"]["thread_id"])


def cid(config: Any) -> str:
    return str(config["configurable"]["checkpoint_id"])


def echo_turns(*texts: str, start: int = 1) -> list[str]:
    """The messages of consecutive turns: `text`, `echo: text (#n)`."""
    out: list[str] = []
    for i, text in enumerate(texts):
        out += [text, f"echo: {text} (#{start + i})"]
    return out


def dump(saver: AgentGitSaver, tuples: list[CheckpointTuple]) -> list[tuple[Any, ...]]:
    """Each stored checkpoint, serialized: config, checkpoint, metadata, parent, writes."""
    serde = saver.serde
    return [
        (
            t.config,
            serde.dumps_typed(t.checkpoint),
            serde.dumps_typed(t.metadata),
            t.parent_config,
            [(task, ch, serde.dumps_typed(value)) for task, ch, value in t.pending_writes or []],
        )
        for t in tuples
    ]


def state_key(snapshot: StateSnapshot) -> tuple[list[str], tuple[str, ...]]:
    return contents(snapshot.values), tuple(snapshot.next)


def thread_rows(threads: list[InternalSession]) -> list[tuple[Any, ...]]:
    return [
        (
            t.thread_id,
            t.parent_thread_id,
            t.branch_checkpoint_id,
            t.name,
            t.is_branch,
            t.checkpoint_count,
        )
        for t in threads
    ]


class CountingEcho(EchoChatModel):
    """EchoChatModel that records every call, to tell a re-run from a replayed write."""

    calls: list[str] = []  # noqa: RUF012 (pydantic copies the default per instance)

    def _generate(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(str(messages[-1].content))
        return super()._generate(messages, *args, **kwargs)


# sync helpers


def saved(saver: AgentGitSaver, thread_id: str) -> list[CheckpointTuple]:
    """Every checkpoint the wrapped saver holds for the thread (all namespaces)."""
    return list(saver.list(cfg(thread_id)))


def history(graph: Any, config: Any) -> list[StateSnapshot]:
    return list(graph.get_state_history(config))


def assert_counts(
    saver: AgentGitSaver, session_id: int, expected: dict[str, int]
) -> ExternalSession:
    """The session's threads, in order, each with exactly `expected[thread]` checkpoints."""
    session = saver.get_session(session_id)
    held = {t: len(saved(saver, t)) for t in expected}
    assert held == expected, "the saver does not hold the expected checkpoints"
    assert session.internal_session_ids == list(expected)
    threads = saver.branches(session_id)
    assert [t.thread_id for t in threads] == list(expected)
    assert {t.thread_id: t.checkpoint_count for t in threads} == expected
    assert session.total_checkpoints == sum(expected.values())
    return session


def turns(graph: Any, config: Any, *texts: str, first_n: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for i, text in enumerate(texts):
        result = graph.invoke(human(text, first_n + i), config)
    return result


# async helpers


async def asaved(saver: AgentGitSaver, thread_id: str) -> list[CheckpointTuple]:
    return [t async for t in saver.alist(cfg(thread_id))]


async def ahistory(graph: Any, config: Any) -> list[StateSnapshot]:
    return [s async for s in graph.aget_state_history(config)]


async def aassert_counts(
    saver: AgentGitSaver, session_id: int, expected: dict[str, int]
) -> ExternalSession:
    session = await saver.aget_session(session_id)
    held = {t: len(await asaved(saver, t)) for t in expected}
    assert held == expected, "the saver does not hold the expected checkpoints"
    assert session.internal_session_ids == list(expected)
    threads = await saver.abranches(session_id)
    assert [t.thread_id for t in threads] == list(expected)
    assert {t.thread_id: t.checkpoint_count for t in threads} == expected
    assert session.total_checkpoints == sum(expected.values())
    return session


async def aturns(graph: Any, config: Any, *texts: str, first_n: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for i, text in enumerate(texts):
        result = await graph.ainvoke(human(text, first_n + i), config)
    return result


@pytest.fixture
def main_thread() -> str:
    return unique("main")


# -- counts ------------------------------------------------------------------


def test_counts_equal_saved_checkpoints(backend, main_thread):
    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        for n in range(4):
            graph.invoke(human(f"hi {n}", n), config)
            session = saver.session_for_thread(main_thread)
            assert session.total_checkpoints == PER_TURN * (n + 1)
            assert_counts(saver, session.id, {main_thread: PER_TURN * (n + 1)})
        assert session.session_name == main_thread
        assert session.user_id == 0

        snaps = history(graph, config)
        assert len(snaps) == 12
        branch = tid(saver.rollback(snaps[5].config))
        assert_counts(saver, session.id, {main_thread: 12, branch: 1})
        graph.invoke(human("alt", 10), cfg(branch))
        assert_counts(saver, session.id, {main_thread: 12, branch: 1 + PER_TURN})
        graph.invoke(human("more", 11), config)
        graph.invoke(human("more", 12), cfg(branch))
        assert_counts(saver, session.id, {main_thread: 12 + PER_TURN, branch: 1 + 2 * PER_TURN})
        # put_writes is not a save: the pending writes stored above counted nothing
        assert sum(len(t.pending_writes or []) for t in saved(saver, main_thread)) > 0


async def test_counts_equal_saved_checkpoints_async(abackend, main_thread):
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        for n in range(4):
            await graph.ainvoke(human(f"hi {n}", n), config)
            session = await saver.asession_for_thread(main_thread)
            assert session.total_checkpoints == PER_TURN * (n + 1)
            await aassert_counts(saver, session.id, {main_thread: PER_TURN * (n + 1)})
        assert session.session_name == main_thread
        assert session.user_id == 0

        snaps = await ahistory(graph, config)
        assert len(snaps) == 12
        branch = tid(await saver.arollback(snaps[5].config))
        await aassert_counts(saver, session.id, {main_thread: 12, branch: 1})
        await graph.ainvoke(human("alt", 10), cfg(branch))
        await aassert_counts(saver, session.id, {main_thread: 12, branch: 1 + PER_TURN})
        await graph.ainvoke(human("more", 11), config)
        await graph.ainvoke(human("more", 12), cfg(branch))
        await aassert_counts(
            saver, session.id, {main_thread: 12 + PER_TURN, branch: 1 + 2 * PER_TURN}
        )
        assert sum(len(t.pending_writes or []) for t in await asaved(saver, main_thread)) > 0


# -- rollback state ------------------------------------------------------------


def test_rollback_to_middle_checkpoint(backend, main_thread):
    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        turns(graph, config, "hi 0", "hi 1", "hi 2")
        snaps = history(graph, config)
        target = snaps[3]  # the end of the second turn
        assert state_key(target) == (echo_turns("hi 0", "hi 1"), ())

        branch = saver.rollback(target.config)
        assert tid(branch) != main_thread
        assert "checkpoint_id" not in branch["configurable"]
        state = graph.get_state(branch)
        assert state_key(state) == state_key(target)
        assert state.values == target.values
        assert tid(state.config) == tid(branch)
        assert state_key(graph.get_state(config)) == (echo_turns("hi 0", "hi 1", "hi 2"), ())

        result = graph.invoke(human("alt", 9), branch)
        assert contents(result) == echo_turns("hi 0", "hi 1", "alt")


async def test_rollback_to_middle_checkpoint_async(abackend, main_thread):
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        await aturns(graph, config, "hi 0", "hi 1", "hi 2")
        snaps = await ahistory(graph, config)
        target = snaps[3]
        assert state_key(target) == (echo_turns("hi 0", "hi 1"), ())

        branch = await saver.arollback(target.config)
        assert tid(branch) != main_thread
        assert "checkpoint_id" not in branch["configurable"]
        state = await graph.aget_state(branch)
        assert state_key(state) == state_key(target)
        assert state.values == target.values
        assert tid(state.config) == tid(branch)
        assert state_key(await graph.aget_state(config)) == (
            echo_turns("hi 0", "hi 1", "hi 2"),
            (),
        )

        result = await graph.ainvoke(human("alt", 9), branch)
        assert contents(result) == echo_turns("hi 0", "hi 1", "alt")


def test_rollback_to_every_checkpoint_restores_its_state(backend, main_thread):
    """For each checkpoint: the branch's state is the state at that checkpoint.

    Both views must agree: `get_state(branch)` against `get_state(checkpoint)`
    on the original thread, and the branch's one history entry against the
    history entry rolled back to.
    """
    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        turns(graph, config, "hi 0", "hi 1")
        snaps = history(graph, config)
        assert [s.metadata["step"] for s in snaps] == [4, 3, 2, 1, 0, -1]
        mismatches = []
        for snap in snaps:
            branch = saver.rollback(snap.config)
            expected = state_key(graph.get_state(snap.config))
            assert state_key(history(graph, branch)[0]) == state_key(snap)
            got = state_key(graph.get_state(branch))
            if got != expected:
                mismatches.append((snap.metadata["step"], expected, got))
        assert mismatches == []


async def test_rollback_to_every_checkpoint_restores_its_state_async(abackend, main_thread):
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        await aturns(graph, config, "hi 0", "hi 1")
        snaps = await ahistory(graph, config)
        assert [s.metadata["step"] for s in snaps] == [4, 3, 2, 1, 0, -1]
        mismatches = []
        for snap in snaps:
            branch = await saver.arollback(snap.config)
            expected = state_key(await graph.aget_state(snap.config))
            assert state_key((await ahistory(graph, branch))[0]) == state_key(snap)
            got = state_key(await graph.aget_state(branch))
            if got != expected:
                mismatches.append((snap.metadata["step"], expected, got))
        assert mismatches == []


def test_rollback_to_first_checkpoint_and_to_head(backend, main_thread):
    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        turns(graph, config, "hi 0", "hi 1")
        snaps = history(graph, config)
        first, head = snaps[-1], snaps[0]
        assert first.metadata["step"] == -1 and first.metadata["source"] == "input"
        assert state_key(first) == ([], ("__start__",))

        at_head = saver.rollback(head.config)
        assert state_key(graph.get_state(at_head)) == (echo_turns("hi 0", "hi 1"), ())
        assert contents(graph.invoke(human("hi 2", 2), at_head)) == echo_turns(
            "hi 0", "hi 1", "hi 2"
        )

        # the first checkpoint of a branch is its copy: rolling back to it works too
        branch_first = history(graph, at_head)[-1]
        assert cid(branch_first.config) == cid(head.config)
        again = saver.rollback(branch_first.config)
        assert state_key(graph.get_state(again)) == (echo_turns("hi 0", "hi 1"), ())
        branch = saver.branches(saver.session_for_thread(main_thread).id)[-1]
        assert (branch.thread_id, branch.parent_thread_id, branch.branch_checkpoint_id) == (
            tid(again),
            tid(at_head),
            cid(head.config),
        )

        at_first = saver.rollback(first.config)
        assert state_key(graph.get_state(at_first)) == ([], ("__start__",))
        assert contents(graph.invoke(human("new", 7), at_first)) == echo_turns("new")


async def test_rollback_to_first_checkpoint_and_to_head_async(abackend, main_thread):
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        await aturns(graph, config, "hi 0", "hi 1")
        snaps = await ahistory(graph, config)
        first, head = snaps[-1], snaps[0]
        assert first.metadata["step"] == -1 and first.metadata["source"] == "input"
        assert state_key(first) == ([], ("__start__",))

        at_head = await saver.arollback(head.config)
        assert state_key(await graph.aget_state(at_head)) == (echo_turns("hi 0", "hi 1"), ())
        assert contents(await graph.ainvoke(human("hi 2", 2), at_head)) == echo_turns(
            "hi 0", "hi 1", "hi 2"
        )

        branch_first = (await ahistory(graph, at_head))[-1]
        assert cid(branch_first.config) == cid(head.config)
        again = await saver.arollback(branch_first.config)
        assert state_key(await graph.aget_state(again)) == (echo_turns("hi 0", "hi 1"), ())
        session = await saver.asession_for_thread(main_thread)
        branch = (await saver.abranches(session.id))[-1]
        assert (branch.thread_id, branch.parent_thread_id, branch.branch_checkpoint_id) == (
            tid(again),
            tid(at_head),
            cid(head.config),
        )

        at_first = await saver.arollback(first.config)
        assert state_key(await graph.aget_state(at_first)) == ([], ("__start__",))
        assert contents(await graph.ainvoke(human("new", 7), at_first)) == echo_turns("new")


def test_resuming_a_branch_replays_like_the_original(backend, main_thread):
    """Resuming (input None) at a checkpoint whose `chat` task is next runs `chat`
    again, on the branch exactly as when replaying that checkpoint on the original."""
    with backend.open() as saver:
        model = CountingEcho()
        graph = chat_graph_builder(model).compile(checkpointer=saver)
        config = cfg(main_thread)
        turns(graph, config, "hi 0", "hi 1")
        before_chat = history(graph, config)[1]
        assert state_key(before_chat) == (["hi 0", "echo: hi 0 (#1)", "hi 1"], ("chat",))

        branch = saver.rollback(before_chat.config)
        model.calls.clear()
        on_branch = graph.invoke(None, branch)
        branch_calls = list(model.calls)

        model.calls.clear()
        replayed = graph.invoke(None, before_chat.config)
        assert model.calls == ["hi 1"]  # replaying re-runs the node
        assert contents(on_branch) == contents(replayed) == echo_turns("hi 0", "hi 1")
        assert branch_calls == model.calls


async def test_resuming_a_branch_replays_like_the_original_async(abackend, main_thread):
    async with abackend.open() as saver:
        model = CountingEcho()
        graph = chat_graph_builder(model).compile(checkpointer=saver)
        config = cfg(main_thread)
        await aturns(graph, config, "hi 0", "hi 1")
        before_chat = (await ahistory(graph, config))[1]
        assert state_key(before_chat) == (["hi 0", "echo: hi 0 (#1)", "hi 1"], ("chat",))

        branch = await saver.arollback(before_chat.config)
        model.calls.clear()
        on_branch = await graph.ainvoke(None, branch)
        branch_calls = list(model.calls)

        model.calls.clear()
        replayed = await graph.ainvoke(None, before_chat.config)
        assert model.calls == ["hi 1"]
        assert contents(on_branch) == contents(replayed) == echo_turns("hi 0", "hi 1")
        assert branch_calls == model.calls


# -- the original thread never changes -----------------------------------------


def test_branch_work_leaves_original_history_unchanged(backend, main_thread):
    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        turns(graph, config, "hi 0", "hi 1", "hi 2")
        before = saved(saver, main_thread)
        before_dump = dump(saver, before)
        before_states = [state_key(s) for s in history(graph, config)]
        assert len(before) == 9

        snaps = history(graph, config)
        branch = saver.rollback(snaps[3].config)
        turns(graph, branch, "alt 0", "alt 1", first_n=20)
        nested = saver.rollback(history(graph, branch)[1].config)
        graph.invoke(None, nested)
        turns(graph, nested, "deep", first_n=30)
        assert contents(graph.get_state(branch).values) == echo_turns(
            "hi 0", "hi 1", "alt 0", "alt 1"
        )

        after = saved(saver, main_thread)
        assert after == before
        assert dump(saver, after) == before_dump
        assert [state_key(s) for s in history(graph, config)] == before_states
        for snap in snaps:  # each checkpoint also reads back unchanged one by one
            one = saver.get_tuple(snap.config)
            assert one is not None and dump(saver, [one]) == [
                d for d in before_dump if d[0] == one.config
            ]


async def test_branch_work_leaves_original_history_unchanged_async(abackend, main_thread):
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        await aturns(graph, config, "hi 0", "hi 1", "hi 2")
        before = await asaved(saver, main_thread)
        before_dump = dump(saver, before)
        before_states = [state_key(s) for s in await ahistory(graph, config)]
        assert len(before) == 9

        snaps = await ahistory(graph, config)
        branch = await saver.arollback(snaps[3].config)
        await aturns(graph, branch, "alt 0", "alt 1", first_n=20)
        nested = await saver.arollback((await ahistory(graph, branch))[1].config)
        await graph.ainvoke(None, nested)
        await aturns(graph, nested, "deep", first_n=30)
        assert contents((await graph.aget_state(branch)).values) == echo_turns(
            "hi 0", "hi 1", "alt 0", "alt 1"
        )

        after = await asaved(saver, main_thread)
        assert after == before
        assert dump(saver, after) == before_dump
        assert [state_key(s) for s in await ahistory(graph, config)] == before_states
        for snap in snaps:
            one = await saver.aget_tuple(snap.config)
            assert one is not None and dump(saver, [one]) == [
                d for d in before_dump if d[0] == one.config
            ]


# -- session and branch records -------------------------------------------------


def test_branch_records(backend, main_thread):
    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        turns(graph, config, "hi 0", "hi 1")
        snaps = history(graph, config)
        b1 = tid(saver.rollback(snaps[1].config, name="retry"))
        b2 = tid(saver.rollback(snaps[4].config))
        assert len({main_thread, b1, b2}) == 3

        session = saver.session_for_thread(main_thread)
        assert saver.session_for_thread(b1).id == session.id
        assert saver.session_for_thread(b2).id == session.id
        assert session.branch_count == 2
        assert session.internal_session_ids == [main_thread, b1, b2]
        assert session.current_internal_session_id == b2
        assert session.get_branch_info() == {
            "total_branches": 2,
            "total_sessions": 3,
            "current_session": b2,
            "is_branched": True,
        }
        threads = saver.branches(session.id)
        assert thread_rows(threads) == [
            (main_thread, None, None, None, False, 6),
            (b1, main_thread, cid(snaps[1].config), "retry", True, 1),
            (b2, main_thread, cid(snaps[4].config), None, True, 1),
        ]
        assert {t.session_id for t in threads} == {session.id}
        assert all(t.created_at is not None for t in threads)
        assert saver.config_for(session) == cfg(b2)
        assert saver.config_for(session.id) == cfg(b2)
        # a rollback adds a branch to the session; it opens no session of its own
        holders = [s for s in saver.list_sessions() if b1 in s.internal_session_ids]
        assert [s.id for s in holders] == [session.id]


async def test_branch_records_async(abackend, main_thread):
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg(main_thread)
        await aturns(graph, config, "hi 0", "hi 1")
        snaps = await ahistory(graph, config)
        b1 = tid(await saver.arollback(snaps[1].config, name="retry"))
        b2 = tid(await saver.arollback(snaps[4].config))
        assert len({main_thread, b1, b2}) == 3

        session = await saver.asession_for_thread(main_thread)
        assert (await saver.asession_for_thread(b1)).id == session.id
        assert (await saver.asession_for_thread(b2)).id == session.id
        assert session.branch_count == 2
        assert session.internal_session_ids == [main_thread, b1, b2]
        assert session.current_internal_session_id == b2
        assert session.get_branch_info() == {
            "total_branches": 2,
            "total_sessions": 3,
            "current_session": b2,
            "is_branched": True,
        }
        threads = await saver.abranches(session.id)
        assert thread_rows(threads) == [
            (main_thread, None, None, None, False, 6),
            (b1, main_thread, cid(snaps[1].config), "retry", True, 1),
            (b2, main_thread, cid(snaps[4].config), None, True, 1),
        ]
        assert {t.session_id for t in threads} == {session.id}
        assert all(t.created_at is not None for t in threads)
        assert await saver.aconfig_for(session) == cfg(b2)
        assert await saver.aconfig_for(session.id) == cfg(b2)
        holders = [s for s in await saver.alist_sessions() if b1 in s.internal_session_ids]
        assert [s.id for s in holders] == [session.id]


def test_three_levels_of_branches(backend, main_thread):
    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        main = cfg(main_thread)
        turns(graph, main, "m0", "m1")
        main_before = dump(saver, saved(saver, main_thread))

        # level 1: from the end of the first turn of main
        t1 = history(graph, main)[3]
        assert contents(t1.values) == echo_turns("m0")
        b1 = saver.rollback(t1.config, name="level 1")
        turns(graph, b1, "b1", first_n=10)
        assert contents(graph.get_state(b1).values) == echo_turns("m0", "b1")

        # level 2: from b1's own head (a checkpoint only b1 has)
        t2 = history(graph, b1)[0]
        b2 = saver.rollback(t2.config, name="level 2")
        turns(graph, b2, "b2", first_n=20)
        assert contents(graph.get_state(b2).values) == echo_turns("m0", "b1", "b2")

        # level 3: from the end of b2's turn
        t3 = history(graph, b2)[0]
        b3 = saver.rollback(t3.config, name="level 3")
        assert state_key(graph.get_state(b3)) == (echo_turns("m0", "b1", "b2"), ())
        turns(graph, b3, "b3", first_n=30)

        heads = {
            thread: contents(graph.get_state(cfg(thread)).values)
            for thread in (main_thread, tid(b1), tid(b2), tid(b3))
        }
        assert heads == {
            main_thread: echo_turns("m0", "m1"),
            tid(b1): echo_turns("m0", "b1"),
            tid(b2): echo_turns("m0", "b1", "b2"),
            tid(b3): echo_turns("m0", "b1", "b2", "b3"),
        }
        session = assert_counts(
            saver,
            saver.session_for_thread(tid(b3)).id,
            {main_thread: 6, tid(b1): 4, tid(b2): 4, tid(b3): 4},
        )
        assert session.branch_count == 3
        assert session.current_internal_session_id == tid(b3)
        assert thread_rows(saver.branches(session.id)) == [
            (main_thread, None, None, None, False, 6),
            (tid(b1), main_thread, cid(t1.config), "level 1", True, 4),
            (tid(b2), tid(b1), cid(t2.config), "level 2", True, 4),
            (tid(b3), tid(b2), cid(t3.config), "level 3", True, 4),
        ]
        assert dump(saver, saved(saver, main_thread)) == main_before


async def test_three_levels_of_branches_async(abackend, main_thread):
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        main = cfg(main_thread)
        await aturns(graph, main, "m0", "m1")
        main_before = dump(saver, await asaved(saver, main_thread))

        t1 = (await ahistory(graph, main))[3]
        assert contents(t1.values) == echo_turns("m0")
        b1 = await saver.arollback(t1.config, name="level 1")
        await aturns(graph, b1, "b1", first_n=10)
        assert contents((await graph.aget_state(b1)).values) == echo_turns("m0", "b1")

        t2 = (await ahistory(graph, b1))[0]
        b2 = await saver.arollback(t2.config, name="level 2")
        await aturns(graph, b2, "b2", first_n=20)
        assert contents((await graph.aget_state(b2)).values) == echo_turns("m0", "b1", "b2")

        t3 = (await ahistory(graph, b2))[0]
        b3 = await saver.arollback(t3.config, name="level 3")
        assert state_key(await graph.aget_state(b3)) == (echo_turns("m0", "b1", "b2"), ())
        await aturns(graph, b3, "b3", first_n=30)

        heads = {
            thread: contents((await graph.aget_state(cfg(thread))).values)
            for thread in (main_thread, tid(b1), tid(b2), tid(b3))
        }
        assert heads == {
            main_thread: echo_turns("m0", "m1"),
            tid(b1): echo_turns("m0", "b1"),
            tid(b2): echo_turns("m0", "b1", "b2"),
            tid(b3): echo_turns("m0", "b1", "b2", "b3"),
        }
        session = await aassert_counts(
            saver,
            (await saver.asession_for_thread(tid(b3))).id,
            {main_thread: 6, tid(b1): 4, tid(b2): 4, tid(b3): 4},
        )
        assert session.branch_count == 3
        assert session.current_internal_session_id == tid(b3)
        assert thread_rows(await saver.abranches(session.id)) == [
            (main_thread, None, None, None, False, 6),
            (tid(b1), main_thread, cid(t1.config), "level 1", True, 4),
            (tid(b2), tid(b1), cid(t2.config), "level 2", True, 4),
            (tid(b3), tid(b2), cid(t3.config), "level 3", True, 4),
        ]
        assert dump(saver, await asaved(saver, main_thread)) == main_before


# -- close and reopen -------------------------------------------------------------


def _snapshot_all(saver: AgentGitSaver, graph: Any, session_ids: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sid in session_ids:
        session = saver.get_session(sid)
        threads = saver.branches(sid)
        out[f"session {sid}"] = session.to_dict()
        out[f"threads {sid}"] = threads
        for t in threads:
            out[f"state {t.thread_id}"] = state_key(graph.get_state(cfg(t.thread_id)))
            out[f"saved {t.thread_id}"] = dump(saver, saved(saver, t.thread_id))
    return out


async def _asnapshot_all(
    saver: AgentGitSaver, graph: Any, session_ids: list[int]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sid in session_ids:
        session = await saver.aget_session(sid)
        threads = await saver.abranches(sid)
        out[f"session {sid}"] = session.to_dict()
        out[f"threads {sid}"] = threads
        for t in threads:
            out[f"state {t.thread_id}"] = state_key(await graph.aget_state(cfg(t.thread_id)))
            out[f"saved {t.thread_id}"] = dump(saver, await asaved(saver, t.thread_id))
    return out


def test_everything_survives_reopen(backend, main_thread):
    user = unique_user()
    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        turns(graph, cfg(main_thread), "hi 0", "hi 1")
        branch = tid(saver.rollback(history(graph, cfg(main_thread))[3].config, name="b"))
        turns(graph, cfg(branch), "alt", first_n=5)
        made = saver.create_session(user, "made", {"k": [1, 2]})
        turns(graph, saver.config_for(made), "made 0", first_n=7)
        first = saver.session_for_thread(main_thread)
        ids = [first.id, made.id]
        before = _snapshot_all(saver, graph, ids)
        assert before[f"session {first.id}"]["total_checkpoints"] == 6 + 4
        assert before[f"session {first.id}"]["branch_count"] == 1
        assert before[f"session {first.id}"]["current_internal_session_id"] == branch
        assert before[f"session {made.id}"]["total_checkpoints"] == 3
        assert before[f"session {made.id}"]["metadata"] == {"k": [1, 2]}

    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        assert _snapshot_all(saver, graph, ids) == before
        assert [s.id for s in saver.list_sessions(user)] == [made.id]
        assert saver.get_session(made.id, user_id=user).session_name == "made"
        # carry on where we left off: the current thread of the first session is the branch
        resumed = saver.config_for(first.id)
        assert tid(resumed) == branch
        assert contents(turns(graph, resumed, "alt 2", first_n=8)) == echo_turns(
            "hi 0", "alt", "alt 2"
        )
        again = tid(saver.rollback(history(graph, cfg(branch))[0].config))
        assert_counts(saver, first.id, {main_thread: 6, branch: 7, again: 1})

    with backend.open() as saver:
        session = assert_counts(saver, first.id, {main_thread: 6, branch: 7, again: 1})
        assert session.branch_count == 2
        assert session.current_internal_session_id == again
        graph = chat_graph_builder().compile(checkpointer=saver)
        assert state_key(graph.get_state(cfg(again))) == (
            echo_turns("hi 0", "alt", "alt 2"),
            (),
        )


async def test_everything_survives_reopen_async(abackend, main_thread):
    user = unique_user()
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        await aturns(graph, cfg(main_thread), "hi 0", "hi 1")
        target = (await ahistory(graph, cfg(main_thread)))[3]
        branch = tid(await saver.arollback(target.config, name="b"))
        await aturns(graph, cfg(branch), "alt", first_n=5)
        made = await saver.acreate_session(user, "made", {"k": [1, 2]})
        await aturns(graph, await saver.aconfig_for(made), "made 0", first_n=7)
        first = await saver.asession_for_thread(main_thread)
        ids = [first.id, made.id]
        before = await _asnapshot_all(saver, graph, ids)
        assert before[f"session {first.id}"]["total_checkpoints"] == 6 + 4
        assert before[f"session {first.id}"]["branch_count"] == 1
        assert before[f"session {first.id}"]["current_internal_session_id"] == branch
        assert before[f"session {made.id}"]["total_checkpoints"] == 3
        assert before[f"session {made.id}"]["metadata"] == {"k": [1, 2]}

    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        assert await _asnapshot_all(saver, graph, ids) == before
        assert [s.id for s in await saver.alist_sessions(user)] == [made.id]
        assert (await saver.aget_session(made.id, user_id=user)).session_name == "made"
        resumed = await saver.aconfig_for(first.id)
        assert tid(resumed) == branch
        assert contents(await aturns(graph, resumed, "alt 2", first_n=8)) == echo_turns(
            "hi 0", "alt", "alt 2"
        )
        head = (await ahistory(graph, cfg(branch)))[0]
        again = tid(await saver.arollback(head.config))
        await aassert_counts(saver, first.id, {main_thread: 6, branch: 7, again: 1})

    async with abackend.open() as saver:
        session = await aassert_counts(saver, first.id, {main_thread: 6, branch: 7, again: 1})
        assert session.branch_count == 2
        assert session.current_internal_session_id == again
        graph = chat_graph_builder().compile(checkpointer=saver)
        assert state_key(await graph.aget_state(cfg(again))) == (
            echo_turns("hi 0", "alt", "alt 2"),
            (),
        )


# -- sessions API -------------------------------------------------------------------


def test_sessions_api(backend):
    user, other_user = unique_user(), unique_user()
    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        all_before = [s.id for s in saver.list_sessions()]
        session = saver.create_session(user, "trip", {"topic": "travel"})
        assert isinstance(session.id, int)
        first = session.current_internal_session_id
        assert first is not None
        assert (session.user_id, session.session_name, session.metadata) == (
            user,
            "trip",
            {"topic": "travel"},
        )
        assert session.internal_session_ids == [first]
        assert (session.branch_count, session.total_checkpoints, session.is_active) == (0, 0, True)
        assert session.created_at is not None

        config = saver.config_for(session)
        assert config == cfg(first)
        turns(graph, config, "t0", "t1")
        got = saver.get_session(session.id, user_id=user)
        assert got.total_checkpoints == 6
        assert thread_rows(saver.branches(session.id)) == [(first, None, None, None, False, 6)]
        assert saver.session_for_thread(first).id == session.id

        other = saver.create_session(other_user, "other")
        assert other.metadata == {}
        assert [s.id for s in saver.list_sessions(user)] == [session.id]
        assert [s.id for s in saver.list_sessions(other_user)] == [other.id]
        assert saver.list_sessions(unique_user()) == []
        assert [s.id for s in saver.list_sessions()] == [*all_before, session.id, other.id]
        with pytest.raises(SessionAccessError, match=str(session.id)):
            saver.get_session(session.id, user_id=other_user)

        # a branch becomes current; switch makes the first thread current again
        branch = tid(saver.rollback(history(graph, config)[3].config))
        assert saver.config_for(session) == cfg(branch)
        turns(graph, cfg(branch), "b0", first_n=10)
        switched = saver.switch(session.id, first)
        assert tid(switched) == first
        now = saver.get_session(session.id)
        assert now.current_internal_session_id == first
        assert now.branch_count == 1
        assert saver.config_for(session) == cfg(first)
        assert contents(graph.invoke(human("t2", 2), switched)) == echo_turns("t0", "t1", "t2")

        back = saver.switch(session.id, branch, user_id=user)
        assert saver.get_session(session.id).current_internal_session_id == branch
        assert contents(graph.invoke(human("b1", 11), back)) == echo_turns("t0", "b0", "b1")
        assert_counts(saver, session.id, {first: 9, branch: 7})

        # switching to a thread of another session fails and changes nothing
        with pytest.raises(ThreadNotFoundError):
            saver.switch(session.id, other.current_internal_session_id)
        assert saver.get_session(session.id).current_internal_session_id == branch


async def test_sessions_api_async(abackend):
    user, other_user = unique_user(), unique_user()
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        all_before = [s.id for s in await saver.alist_sessions()]
        session = await saver.acreate_session(user, "trip", {"topic": "travel"})
        assert isinstance(session.id, int)
        first = session.current_internal_session_id
        assert first is not None
        assert (session.user_id, session.session_name, session.metadata) == (
            user,
            "trip",
            {"topic": "travel"},
        )
        assert session.internal_session_ids == [first]
        assert (session.branch_count, session.total_checkpoints, session.is_active) == (0, 0, True)
        assert session.created_at is not None

        config = await saver.aconfig_for(session)
        assert config == cfg(first)
        await aturns(graph, config, "t0", "t1")
        got = await saver.aget_session(session.id, user_id=user)
        assert got.total_checkpoints == 6
        assert thread_rows(await saver.abranches(session.id)) == [
            (first, None, None, None, False, 6)
        ]
        assert (await saver.asession_for_thread(first)).id == session.id

        other = await saver.acreate_session(other_user, "other")
        assert other.metadata == {}
        assert [s.id for s in await saver.alist_sessions(user)] == [session.id]
        assert [s.id for s in await saver.alist_sessions(other_user)] == [other.id]
        assert await saver.alist_sessions(unique_user()) == []
        assert [s.id for s in await saver.alist_sessions()] == [*all_before, session.id, other.id]
        with pytest.raises(SessionAccessError, match=str(session.id)):
            await saver.aget_session(session.id, user_id=other_user)

        branch = tid(await saver.arollback((await ahistory(graph, config))[3].config))
        assert await saver.aconfig_for(session) == cfg(branch)
        await aturns(graph, cfg(branch), "b0", first_n=10)
        switched = await saver.aswitch(session.id, first)
        assert tid(switched) == first
        now = await saver.aget_session(session.id)
        assert now.current_internal_session_id == first
        assert now.branch_count == 1
        assert await saver.aconfig_for(session) == cfg(first)
        result = await graph.ainvoke(human("t2", 2), switched)
        assert contents(result) == echo_turns("t0", "t1", "t2")

        back = await saver.aswitch(session.id, branch, user_id=user)
        assert (await saver.aget_session(session.id)).current_internal_session_id == branch
        result = await graph.ainvoke(human("b1", 11), back)
        assert contents(result) == echo_turns("t0", "b0", "b1")
        await aassert_counts(saver, session.id, {first: 9, branch: 7})

        with pytest.raises(ThreadNotFoundError):
            await saver.aswitch(session.id, other.current_internal_session_id)
        assert (await saver.aget_session(session.id)).current_internal_session_id == branch


def test_auto_session(backend):
    user = unique_user()
    with backend.open() as opened:
        # on: the first put into an unknown thread opens a session, user_id from the config
        graph = chat_graph_builder().compile(checkpointer=opened)
        auto = unique("auto")
        turns(graph, {"configurable": {"thread_id": auto, "user_id": user}}, "a0", "a1")
        session = opened.session_for_thread(auto)
        assert (session.user_id, session.session_name, session.internal_session_ids) == (
            user,
            auto,
            [auto],
        )
        assert_counts(opened, session.id, {auto: 6})
        assert [s.id for s in opened.list_sessions(user)] == [session.id]

        # off: puts into unknown threads are saved but open no session
        saver = AgentGitSaver(opened.saver, opened.store, auto_session=False)
        graph = chat_graph_builder().compile(checkpointer=saver)
        sessions_before = [s.to_dict() for s in saver.list_sessions()]
        loose = unique("loose")
        turns(graph, {"configurable": {"thread_id": loose, "user_id": user}}, "l0", "l1")
        assert len(saved(saver, loose)) == 6
        assert contents(graph.get_state(cfg(loose)).values) == echo_turns("l0", "l1")
        with pytest.raises(ThreadNotFoundError, match=loose):
            saver.session_for_thread(loose)
        assert [s.to_dict() for s in saver.list_sessions()] == sessions_before

        # ...while threads of sessions are still counted
        made = saver.create_session(user, "made")
        turns(graph, saver.config_for(made), "m0", first_n=5)
        assert_counts(saver, made.id, {made.current_internal_session_id: 3})
        turns(graph, cfg(auto), "a2", first_n=2)
        assert_counts(saver, session.id, {auto: 9})


async def test_auto_session_async(abackend):
    user = unique_user()
    async with abackend.open() as opened:
        graph = chat_graph_builder().compile(checkpointer=opened)
        auto = unique("auto")
        await aturns(graph, {"configurable": {"thread_id": auto, "user_id": user}}, "a0", "a1")
        session = await opened.asession_for_thread(auto)
        assert (session.user_id, session.session_name, session.internal_session_ids) == (
            user,
            auto,
            [auto],
        )
        await aassert_counts(opened, session.id, {auto: 6})
        assert [s.id for s in await opened.alist_sessions(user)] == [session.id]

        saver = AgentGitSaver(opened.saver, opened.store, auto_session=False)
        graph = chat_graph_builder().compile(checkpointer=saver)
        sessions_before = [s.to_dict() for s in await saver.alist_sessions()]
        loose = unique("loose")
        await aturns(graph, {"configurable": {"thread_id": loose, "user_id": user}}, "l0", "l1")
        assert len(await asaved(saver, loose)) == 6
        assert contents((await graph.aget_state(cfg(loose))).values) == echo_turns("l0", "l1")
        with pytest.raises(ThreadNotFoundError, match=loose):
            await saver.asession_for_thread(loose)
        assert [s.to_dict() for s in await saver.alist_sessions()] == sessions_before

        made = await saver.acreate_session(user, "made")
        await aturns(graph, await saver.aconfig_for(made), "m0", first_n=5)
        await aassert_counts(saver, made.id, {made.current_internal_session_id: 3})
        await aturns(graph, cfg(auto), "a2", first_n=2)
        await aassert_counts(saver, session.id, {auto: 9})
