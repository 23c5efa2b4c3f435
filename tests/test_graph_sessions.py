"""Sessions and branches driven through a real LangGraph graph, sync and async.

Every scenario is a plan (tests/plans.py) the `run` fixture drives twice: once
through the sync API (`invoke`, `get_state`, `rollback`, ...) on `backend`, once
through the async API (`ainvoke`, `aget_state`, `arollback`, ...) on `abackend`.
The chat graph writes three checkpoints per turn (input, before `chat`, after
`chat`), so counts are exact.

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
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph.testing import EchoChatModel
from tests.conftest import AsyncBackend, Run
from tests.graphs import chat_graph_builder, contents, human
from tests.plans import get_state, history, invoke, on

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


# plans: the sync API calls them, the async one awaits their `a` twins


def saved(saver: AgentGitSaver, thread_id: str) -> Plan[list[CheckpointTuple]]:
    """Every checkpoint the wrapped saver holds for the thread (all namespaces)."""
    return gather(AgentGitSaver.list, cfg(thread_id))


def assert_counts(
    saver: AgentGitSaver, session_id: int, expected: dict[str, int]
) -> Plan[ExternalSession]:
    """The session's threads, in order, each with exactly `expected[thread]` checkpoints."""
    session = yield from call(AgentGitSaver.get_session, session_id)
    held = {}
    for t in expected:
        held[t] = len((yield from saved(saver, t)))
    assert held == expected, "the saver does not hold the expected checkpoints"
    assert session.internal_session_ids == list(expected)
    threads = yield from call(AgentGitSaver.branches, session_id)
    assert [t.thread_id for t in threads] == list(expected)
    assert {t.thread_id: t.checkpoint_count for t in threads} == expected
    assert session.total_checkpoints == sum(expected.values())
    return session


def turns(graph: Any, config: Any, *texts: str, first_n: int = 0) -> Plan[dict[str, Any]]:
    result: dict[str, Any] = {}
    for i, text in enumerate(texts):
        result = yield from invoke(graph, human(text, first_n + i), config)
    return result


@pytest.fixture
def main_thread() -> str:
    return unique("main")


# -- counts ------------------------------------------------------------------


def counts_equal_saved_checkpoints_flow(saver: AgentGitSaver, main_thread: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    config = cfg(main_thread)
    for n in range(4):
        yield from invoke(graph, human(f"hi {n}", n), config)
        session = yield from call(AgentGitSaver.session_for_thread, main_thread)
        assert session.total_checkpoints == PER_TURN * (n + 1)
        yield from assert_counts(saver, session.id, {main_thread: PER_TURN * (n + 1)})
    assert session.session_name == main_thread
    assert session.user_id == 0

    snaps = yield from history(graph, config)
    assert len(snaps) == 12
    branch = tid((yield from call(AgentGitSaver.rollback, snaps[5].config)))
    yield from assert_counts(saver, session.id, {main_thread: 12, branch: 1})
    yield from invoke(graph, human("alt", 10), cfg(branch))
    yield from assert_counts(saver, session.id, {main_thread: 12, branch: 1 + PER_TURN})
    yield from invoke(graph, human("more", 11), config)
    yield from invoke(graph, human("more", 12), cfg(branch))
    yield from assert_counts(
        saver, session.id, {main_thread: 12 + PER_TURN, branch: 1 + 2 * PER_TURN}
    )
    # put_writes is not a save: the pending writes stored above counted nothing
    assert sum(len(t.pending_writes or []) for t in (yield from saved(saver, main_thread))) > 0


async def test_counts_equal_saved_checkpoints(
    run: Run, run_backend: AsyncBackend, main_thread: str
) -> None:
    async with run_backend.open() as saver:
        await run(counts_equal_saved_checkpoints_flow(saver, main_thread), on(saver))


# -- rollback state ------------------------------------------------------------


def rollback_to_middle_checkpoint_flow(saver: AgentGitSaver, main_thread: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    config = cfg(main_thread)
    yield from turns(graph, config, "hi 0", "hi 1", "hi 2")
    snaps = yield from history(graph, config)
    target = snaps[3]  # the end of the second turn
    assert state_key(target) == (echo_turns("hi 0", "hi 1"), ())

    branch = yield from call(AgentGitSaver.rollback, target.config)
    assert tid(branch) != main_thread
    assert "checkpoint_id" not in branch["configurable"]
    state = yield from get_state(graph, branch)
    assert state_key(state) == state_key(target)
    assert state.values == target.values
    assert tid(state.config) == tid(branch)
    assert state_key((yield from get_state(graph, config))) == (
        echo_turns("hi 0", "hi 1", "hi 2"),
        (),
    )

    result = yield from invoke(graph, human("alt", 9), branch)
    assert contents(result) == echo_turns("hi 0", "hi 1", "alt")


async def test_rollback_to_middle_checkpoint(
    run: Run, run_backend: AsyncBackend, main_thread: str
) -> None:
    async with run_backend.open() as saver:
        await run(rollback_to_middle_checkpoint_flow(saver, main_thread), on(saver))


def rollback_to_every_checkpoint_restores_its_state_flow(
    saver: AgentGitSaver, main_thread: str
) -> Plan[None]:
    """For each checkpoint: the branch's state is the state at that checkpoint.

    Both views must agree: `get_state(branch)` against `get_state(checkpoint)`
    on the original thread, and the branch's one history entry against the
    history entry rolled back to.
    """
    graph = chat_graph_builder().compile(checkpointer=saver)
    config = cfg(main_thread)
    yield from turns(graph, config, "hi 0", "hi 1")
    snaps = yield from history(graph, config)
    assert [s.metadata["step"] for s in snaps] == [4, 3, 2, 1, 0, -1]
    mismatches = []
    for snap in snaps:
        branch = yield from call(AgentGitSaver.rollback, snap.config)
        expected = state_key((yield from get_state(graph, snap.config)))
        assert state_key((yield from history(graph, branch))[0]) == state_key(snap)
        got = state_key((yield from get_state(graph, branch)))
        if got != expected:
            mismatches.append((snap.metadata["step"], expected, got))
    assert mismatches == []


async def test_rollback_to_every_checkpoint_restores_its_state(
    run: Run, run_backend: AsyncBackend, main_thread: str
) -> None:
    async with run_backend.open() as saver:
        await run(
            rollback_to_every_checkpoint_restores_its_state_flow(saver, main_thread), on(saver)
        )


def rollback_to_first_checkpoint_and_to_head_flow(
    saver: AgentGitSaver, main_thread: str
) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    config = cfg(main_thread)
    yield from turns(graph, config, "hi 0", "hi 1")
    snaps = yield from history(graph, config)
    first, head = snaps[-1], snaps[0]
    assert first.metadata["step"] == -1 and first.metadata["source"] == "input"
    assert state_key(first) == ([], ("__start__",))

    at_head = yield from call(AgentGitSaver.rollback, head.config)
    assert state_key((yield from get_state(graph, at_head))) == (echo_turns("hi 0", "hi 1"), ())
    assert contents((yield from invoke(graph, human("hi 2", 2), at_head))) == echo_turns(
        "hi 0", "hi 1", "hi 2"
    )

    # the first checkpoint of a branch is its copy: rolling back to it works too
    branch_first = (yield from history(graph, at_head))[-1]
    assert cid(branch_first.config) == cid(head.config)
    again = yield from call(AgentGitSaver.rollback, branch_first.config)
    assert state_key((yield from get_state(graph, again))) == (echo_turns("hi 0", "hi 1"), ())
    session = yield from call(AgentGitSaver.session_for_thread, main_thread)
    branch = (yield from call(AgentGitSaver.branches, session.id))[-1]
    assert (branch.thread_id, branch.parent_thread_id, branch.branch_checkpoint_id) == (
        tid(again),
        tid(at_head),
        cid(head.config),
    )

    at_first = yield from call(AgentGitSaver.rollback, first.config)
    assert state_key((yield from get_state(graph, at_first))) == ([], ("__start__",))
    assert contents((yield from invoke(graph, human("new", 7), at_first))) == echo_turns("new")


async def test_rollback_to_first_checkpoint_and_to_head(
    run: Run, run_backend: AsyncBackend, main_thread: str
) -> None:
    async with run_backend.open() as saver:
        await run(rollback_to_first_checkpoint_and_to_head_flow(saver, main_thread), on(saver))


def resuming_a_branch_replays_like_the_original_flow(
    saver: AgentGitSaver, main_thread: str
) -> Plan[None]:
    """Resuming (input None) at a checkpoint whose `chat` task is next runs `chat`
    again, on the branch exactly as when replaying that checkpoint on the original."""
    model = CountingEcho()
    graph = chat_graph_builder(model).compile(checkpointer=saver)
    config = cfg(main_thread)
    yield from turns(graph, config, "hi 0", "hi 1")
    before_chat = (yield from history(graph, config))[1]
    assert state_key(before_chat) == (["hi 0", "echo: hi 0 (#1)", "hi 1"], ("chat",))

    branch = yield from call(AgentGitSaver.rollback, before_chat.config)
    model.calls.clear()
    on_branch = yield from invoke(graph, None, branch)
    branch_calls = list(model.calls)

    model.calls.clear()
    replayed = yield from invoke(graph, None, before_chat.config)
    assert model.calls == ["hi 1"]  # replaying re-runs the node
    assert contents(on_branch) == contents(replayed) == echo_turns("hi 0", "hi 1")
    assert branch_calls == model.calls


async def test_resuming_a_branch_replays_like_the_original(
    run: Run, run_backend: AsyncBackend, main_thread: str
) -> None:
    async with run_backend.open() as saver:
        await run(resuming_a_branch_replays_like_the_original_flow(saver, main_thread), on(saver))


# -- the original thread never changes -----------------------------------------


def branch_work_leaves_original_history_unchanged_flow(
    saver: AgentGitSaver, main_thread: str
) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    config = cfg(main_thread)
    yield from turns(graph, config, "hi 0", "hi 1", "hi 2")
    before = yield from saved(saver, main_thread)
    before_dump = dump(saver, before)
    before_states = [state_key(s) for s in (yield from history(graph, config))]
    assert len(before) == 9

    snaps = yield from history(graph, config)
    branch = yield from call(AgentGitSaver.rollback, snaps[3].config)
    yield from turns(graph, branch, "alt 0", "alt 1", first_n=20)
    nested = yield from call(AgentGitSaver.rollback, (yield from history(graph, branch))[1].config)
    yield from invoke(graph, None, nested)
    yield from turns(graph, nested, "deep", first_n=30)
    assert contents((yield from get_state(graph, branch)).values) == echo_turns(
        "hi 0", "hi 1", "alt 0", "alt 1"
    )

    after = yield from saved(saver, main_thread)
    assert after == before
    assert dump(saver, after) == before_dump
    assert [state_key(s) for s in (yield from history(graph, config))] == before_states
    for snap in snaps:  # each checkpoint also reads back unchanged one by one
        one = yield from call(AgentGitSaver.get_tuple, snap.config)
        assert one is not None and dump(saver, [one]) == [
            d for d in before_dump if d[0] == one.config
        ]


async def test_branch_work_leaves_original_history_unchanged(
    run: Run, run_backend: AsyncBackend, main_thread: str
) -> None:
    async with run_backend.open() as saver:
        await run(branch_work_leaves_original_history_unchanged_flow(saver, main_thread), on(saver))


# -- session and branch records -------------------------------------------------


def branch_records_flow(saver: AgentGitSaver, main_thread: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    config = cfg(main_thread)
    yield from turns(graph, config, "hi 0", "hi 1")
    snaps = yield from history(graph, config)
    b1 = tid((yield from call(AgentGitSaver.rollback, snaps[1].config, name="retry")))
    b2 = tid((yield from call(AgentGitSaver.rollback, snaps[4].config)))
    assert len({main_thread, b1, b2}) == 3

    session = yield from call(AgentGitSaver.session_for_thread, main_thread)
    assert (yield from call(AgentGitSaver.session_for_thread, b1)).id == session.id
    assert (yield from call(AgentGitSaver.session_for_thread, b2)).id == session.id
    assert session.branch_count == 2
    assert session.internal_session_ids == [main_thread, b1, b2]
    assert session.current_internal_session_id == b2
    assert session.get_branch_info() == {
        "total_branches": 2,
        "total_sessions": 3,
        "current_session": b2,
        "is_branched": True,
    }
    threads = yield from call(AgentGitSaver.branches, session.id)
    assert thread_rows(threads) == [
        (main_thread, None, None, None, False, 6),
        (b1, main_thread, cid(snaps[1].config), "retry", True, 1),
        (b2, main_thread, cid(snaps[4].config), None, True, 1),
    ]
    assert {t.session_id for t in threads} == {session.id}
    assert all(t.created_at is not None for t in threads)
    assert (yield from call(AgentGitSaver.config_for, session)) == cfg(b2)
    assert (yield from call(AgentGitSaver.config_for, session.id)) == cfg(b2)
    # a rollback adds a branch to the session; it opens no session of its own
    holders = [
        s for s in (yield from call(AgentGitSaver.list_sessions)) if b1 in s.internal_session_ids
    ]
    assert [s.id for s in holders] == [session.id]


async def test_branch_records(run: Run, run_backend: AsyncBackend, main_thread: str) -> None:
    async with run_backend.open() as saver:
        await run(branch_records_flow(saver, main_thread), on(saver))


def three_levels_of_branches_flow(saver: AgentGitSaver, main_thread: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    main = cfg(main_thread)
    yield from turns(graph, main, "m0", "m1")
    main_before = dump(saver, (yield from saved(saver, main_thread)))

    # level 1: from the end of the first turn of main
    t1 = (yield from history(graph, main))[3]
    assert contents(t1.values) == echo_turns("m0")
    b1 = yield from call(AgentGitSaver.rollback, t1.config, name="level 1")
    yield from turns(graph, b1, "b1", first_n=10)
    assert contents((yield from get_state(graph, b1)).values) == echo_turns("m0", "b1")

    # level 2: from b1's own head (a checkpoint only b1 has)
    t2 = (yield from history(graph, b1))[0]
    b2 = yield from call(AgentGitSaver.rollback, t2.config, name="level 2")
    yield from turns(graph, b2, "b2", first_n=20)
    assert contents((yield from get_state(graph, b2)).values) == echo_turns("m0", "b1", "b2")

    # level 3: from the end of b2's turn
    t3 = (yield from history(graph, b2))[0]
    b3 = yield from call(AgentGitSaver.rollback, t3.config, name="level 3")
    assert state_key((yield from get_state(graph, b3))) == (echo_turns("m0", "b1", "b2"), ())
    yield from turns(graph, b3, "b3", first_n=30)

    heads = {}
    for thread in (main_thread, tid(b1), tid(b2), tid(b3)):
        heads[thread] = contents((yield from get_state(graph, cfg(thread))).values)
    assert heads == {
        main_thread: echo_turns("m0", "m1"),
        tid(b1): echo_turns("m0", "b1"),
        tid(b2): echo_turns("m0", "b1", "b2"),
        tid(b3): echo_turns("m0", "b1", "b2", "b3"),
    }
    session = yield from call(AgentGitSaver.session_for_thread, tid(b3))
    session = yield from assert_counts(
        saver, session.id, {main_thread: 6, tid(b1): 4, tid(b2): 4, tid(b3): 4}
    )
    assert session.branch_count == 3
    assert session.current_internal_session_id == tid(b3)
    assert thread_rows((yield from call(AgentGitSaver.branches, session.id))) == [
        (main_thread, None, None, None, False, 6),
        (tid(b1), main_thread, cid(t1.config), "level 1", True, 4),
        (tid(b2), tid(b1), cid(t2.config), "level 2", True, 4),
        (tid(b3), tid(b2), cid(t3.config), "level 3", True, 4),
    ]
    assert dump(saver, (yield from saved(saver, main_thread))) == main_before


async def test_three_levels_of_branches(
    run: Run, run_backend: AsyncBackend, main_thread: str
) -> None:
    async with run_backend.open() as saver:
        await run(three_levels_of_branches_flow(saver, main_thread), on(saver))


# -- close and reopen -------------------------------------------------------------


def _snapshot_all(saver: AgentGitSaver, graph: Any, session_ids: list[int]) -> Plan[dict[str, Any]]:
    out: dict[str, Any] = {}
    for sid in session_ids:
        session = yield from call(AgentGitSaver.get_session, sid)
        threads = yield from call(AgentGitSaver.branches, sid)
        out[f"session {sid}"] = session.to_dict()
        out[f"threads {sid}"] = threads
        for t in threads:
            out[f"state {t.thread_id}"] = state_key((yield from get_state(graph, cfg(t.thread_id))))
            out[f"saved {t.thread_id}"] = dump(saver, (yield from saved(saver, t.thread_id)))
    return out


def before_reopen(saver: AgentGitSaver, main_thread: str, user: int) -> Plan[dict[str, Any]]:
    """A session with a branch, a session made by hand: everything they hold, by id."""
    graph = chat_graph_builder().compile(checkpointer=saver)
    yield from turns(graph, cfg(main_thread), "hi 0", "hi 1")
    snaps = yield from history(graph, cfg(main_thread))
    branch = tid((yield from call(AgentGitSaver.rollback, snaps[3].config, name="b")))
    yield from turns(graph, cfg(branch), "alt", first_n=5)
    made = yield from call(AgentGitSaver.create_session, user, "made", {"k": [1, 2]})
    yield from turns(graph, (yield from call(AgentGitSaver.config_for, made)), "made 0", first_n=7)
    first = yield from call(AgentGitSaver.session_for_thread, main_thread)
    before = yield from _snapshot_all(saver, graph, [first.id, made.id])
    assert before[f"session {first.id}"]["total_checkpoints"] == 6 + 4
    assert before[f"session {first.id}"]["branch_count"] == 1
    assert before[f"session {first.id}"]["current_internal_session_id"] == branch
    assert before[f"session {made.id}"]["total_checkpoints"] == 3
    assert before[f"session {made.id}"]["metadata"] == {"k": [1, 2]}
    return {"ids": [first.id, made.id], "branch": branch, "state": before}


def after_reopen(
    saver: AgentGitSaver, main_thread: str, user: int, made: dict[str, Any]
) -> Plan[str]:
    """All of it reads back; work goes on where it stopped. The new branch's id."""
    first_id, made_id = made["ids"]
    branch = made["branch"]
    graph = chat_graph_builder().compile(checkpointer=saver)
    assert (yield from _snapshot_all(saver, graph, made["ids"])) == made["state"]
    assert [s.id for s in (yield from call(AgentGitSaver.list_sessions, user))] == [made_id]
    session = yield from call(AgentGitSaver.get_session, made_id, user_id=user)
    assert session.session_name == "made"
    # carry on where we left off: the current thread of the first session is the branch
    resumed = yield from call(AgentGitSaver.config_for, first_id)
    assert tid(resumed) == branch
    assert contents((yield from turns(graph, resumed, "alt 2", first_n=8))) == echo_turns(
        "hi 0", "alt", "alt 2"
    )
    head = (yield from history(graph, cfg(branch)))[0]
    again = tid((yield from call(AgentGitSaver.rollback, head.config)))
    yield from assert_counts(saver, first_id, {main_thread: 6, branch: 7, again: 1})
    return again


def after_second_reopen(
    saver: AgentGitSaver, main_thread: str, made: dict[str, Any], again: str
) -> Plan[None]:
    expected = {main_thread: 6, made["branch"]: 7, again: 1}
    session = yield from assert_counts(saver, made["ids"][0], expected)
    assert session.branch_count == 2
    assert session.current_internal_session_id == again
    graph = chat_graph_builder().compile(checkpointer=saver)
    assert state_key((yield from get_state(graph, cfg(again)))) == (
        echo_turns("hi 0", "alt", "alt 2"),
        (),
    )


async def test_everything_survives_reopen(
    run: Run, run_backend: AsyncBackend, main_thread: str
) -> None:
    user = unique_user()
    async with run_backend.open() as saver:
        made = await run(before_reopen(saver, main_thread, user), on(saver))
    async with run_backend.open() as saver:
        again = await run(after_reopen(saver, main_thread, user, made), on(saver))
    async with run_backend.open() as saver:
        await run(after_second_reopen(saver, main_thread, made, again), on(saver))


# -- sessions API -------------------------------------------------------------------


def sessions_api_flow(saver: AgentGitSaver) -> Plan[None]:
    user, other_user = unique_user(), unique_user()
    graph = chat_graph_builder().compile(checkpointer=saver)
    all_before = [s.id for s in (yield from call(AgentGitSaver.list_sessions))]
    session = yield from call(AgentGitSaver.create_session, user, "trip", {"topic": "travel"})
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

    config = yield from call(AgentGitSaver.config_for, session)
    assert config == cfg(first)
    yield from turns(graph, config, "t0", "t1")
    got = yield from call(AgentGitSaver.get_session, session.id, user_id=user)
    assert got.total_checkpoints == 6
    assert thread_rows((yield from call(AgentGitSaver.branches, session.id))) == [
        (first, None, None, None, False, 6)
    ]
    assert (yield from call(AgentGitSaver.session_for_thread, first)).id == session.id

    other = yield from call(AgentGitSaver.create_session, other_user, "other")
    assert other.metadata == {}
    assert [s.id for s in (yield from call(AgentGitSaver.list_sessions, user))] == [session.id]
    assert [s.id for s in (yield from call(AgentGitSaver.list_sessions, other_user))] == [other.id]
    assert (yield from call(AgentGitSaver.list_sessions, unique_user())) == []
    assert [s.id for s in (yield from call(AgentGitSaver.list_sessions))] == [
        *all_before,
        session.id,
        other.id,
    ]
    with pytest.raises(SessionAccessError, match=str(session.id)):
        yield from call(AgentGitSaver.get_session, session.id, user_id=other_user)

    # a branch becomes current; switch makes the first thread current again
    snaps = yield from history(graph, config)
    branch = tid((yield from call(AgentGitSaver.rollback, snaps[3].config)))
    assert (yield from call(AgentGitSaver.config_for, session)) == cfg(branch)
    yield from turns(graph, cfg(branch), "b0", first_n=10)
    switched = yield from call(AgentGitSaver.switch, session.id, first)
    assert tid(switched) == first
    now = yield from call(AgentGitSaver.get_session, session.id)
    assert now.current_internal_session_id == first
    assert now.branch_count == 1
    assert (yield from call(AgentGitSaver.config_for, session)) == cfg(first)
    assert contents((yield from invoke(graph, human("t2", 2), switched))) == echo_turns(
        "t0", "t1", "t2"
    )

    back = yield from call(AgentGitSaver.switch, session.id, branch, user_id=user)
    assert (
        yield from call(AgentGitSaver.get_session, session.id)
    ).current_internal_session_id == branch
    assert contents((yield from invoke(graph, human("b1", 11), back))) == echo_turns(
        "t0", "b0", "b1"
    )
    yield from assert_counts(saver, session.id, {first: 9, branch: 7})

    # switching to a thread of another session fails and changes nothing
    with pytest.raises(ThreadNotFoundError):
        yield from call(AgentGitSaver.switch, session.id, other.current_internal_session_id)
    assert (
        yield from call(AgentGitSaver.get_session, session.id)
    ).current_internal_session_id == branch


async def test_sessions_api(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(sessions_api_flow(saver), on(saver))


def auto_session_on(opened: AgentGitSaver, user: int) -> Plan[tuple[str, int]]:
    """The first put into an unknown thread opens a session, user_id from the config."""
    graph = chat_graph_builder().compile(checkpointer=opened)
    auto = unique("auto")
    yield from turns(graph, {"configurable": {"thread_id": auto, "user_id": user}}, "a0", "a1")
    session = yield from call(AgentGitSaver.session_for_thread, auto)
    assert (session.user_id, session.session_name, session.internal_session_ids) == (
        user,
        auto,
        [auto],
    )
    yield from assert_counts(opened, session.id, {auto: 6})
    assert [s.id for s in (yield from call(AgentGitSaver.list_sessions, user))] == [session.id]
    return auto, session.id


def auto_session_off(saver: AgentGitSaver, user: int, auto: str, session_id: int) -> Plan[None]:
    """Puts into unknown threads are saved but open no session..."""
    graph = chat_graph_builder().compile(checkpointer=saver)
    sessions_before = [s.to_dict() for s in (yield from call(AgentGitSaver.list_sessions))]
    loose = unique("loose")
    yield from turns(graph, {"configurable": {"thread_id": loose, "user_id": user}}, "l0", "l1")
    assert len((yield from saved(saver, loose))) == 6
    assert contents((yield from get_state(graph, cfg(loose))).values) == echo_turns("l0", "l1")
    with pytest.raises(ThreadNotFoundError, match=loose):
        yield from call(AgentGitSaver.session_for_thread, loose)
    assert [s.to_dict() for s in (yield from call(AgentGitSaver.list_sessions))] == sessions_before

    # ...while threads of sessions are still counted
    made = yield from call(AgentGitSaver.create_session, user, "made")
    yield from turns(graph, (yield from call(AgentGitSaver.config_for, made)), "m0", first_n=5)
    yield from assert_counts(saver, made.id, {made.current_internal_session_id: 3})
    yield from turns(graph, cfg(auto), "a2", first_n=2)
    yield from assert_counts(saver, session_id, {auto: 9})


async def test_auto_session(run: Run, run_backend: AsyncBackend) -> None:
    user = unique_user()
    async with run_backend.open() as opened:
        auto, session_id = await run(auto_session_on(opened, user), on(opened))
        saver = AgentGitSaver(opened.saver, opened.store, auto_session=False)
        await run(auto_session_off(saver, user, auto, session_id), on(saver))
