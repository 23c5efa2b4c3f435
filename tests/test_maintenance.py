"""Erasing sessions and pruning branches, sync and async, on every backend.

* `delete_session`: afterwards the wrapped saver holds nothing for any thread
  of the session (every namespace), the store forgets it, nothing else moves;
  a failure part way leaves the session there and calling again finishes.
* `prune_branches`: removes what is neither current nor an ancestor of it
  (optionally only the old), returns what it removed, keeps counts exact, and
  kept branches keep working: their stored rows are untouched and a
  `DeltaChannel` or subgraph branch resumes as an untouched twin does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

import agentgit_langgraph.maintenance as maintenance
from agentgit_langgraph import (
    AgentGitSaver,
    InvalidConfigError,
    SessionAccessError,
    SessionNotFoundError,
    ThreadNotFoundError,
)
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph.stores.base import BaseSessionStore
from tests.conftest import AsyncBackend, Run
from tests.fidelity_graphs import delta_input, delta_probe, subgraph_probe
from tests.graphs import chat_graph_builder, contents, human
from tests.plans import (
    cfg,
    counts_exact,
    get_state,
    history,
    invoke,
    on,
    rows,
    snapshot,
    thread_bytes,
    threads_bytes,
)
from tests.test_fidelity import norm, view

OWNER = 7


class InjectedFault(Exception):
    """The failure a test injects."""


def new_id(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


def tid(config: Any) -> str:
    return str(config["configurable"]["thread_id"])


# -- a session with branches -------------------------------------------------------------


def chat_session(saver: AgentGitSaver, turns: int = 3) -> Plan[tuple[Any, int, str]]:
    """A chat thread of `turns` turns owned by OWNER: (graph, session id, thread id)."""
    graph = chat_graph_builder().compile(checkpointer=saver)
    thread = new_id("main")
    for n in range(turns):
        yield from invoke(graph, human(f"turn {n}", n), cfg(thread, user_id=OWNER))
    session = yield from call(AgentGitSaver.session_for_thread, thread)
    assert session.user_id == OWNER
    return graph, session.id, thread


def branch_at(saver: AgentGitSaver, graph: Any, thread: str, back: int) -> Plan[str]:
    """Roll back `back` checkpoints on `thread` and run a turn on the branch."""
    snaps = yield from history(graph, cfg(thread))
    branch = yield from call(AgentGitSaver.rollback, snaps[back].config)
    yield from invoke(graph, human(f"on {tid(branch)}", 9), branch)
    return tid(branch)


# -- delete_session ---------------------------------------------------------------------


def delete_session_flow(saver: AgentGitSaver) -> Plan[None]:
    # A session whose threads have a subgraph namespace, with two branches.
    probe = subgraph_probe()
    graph = probe.compile(saver)
    first = new_id("sub")
    yield from invoke(graph, {"log": ["in"]}, cfg(first, user_id=OWNER))
    yield from invoke(graph, Command(resume="A"), cfg(first))
    snaps = yield from history(graph, cfg(first))
    b1 = tid((yield from call(AgentGitSaver.rollback, snaps[2].config)))
    b2 = tid((yield from call(AgentGitSaver.rollback, snaps[-1].config)))
    yield from invoke(graph, {"log": ["in"]}, cfg(b2))  # interrupted inside the subgraph
    session = yield from call(AgentGitSaver.session_for_thread, first)
    threads = [first, b1, b2]
    assert session.internal_session_ids == threads
    namespaces = set()
    for thread in threads:
        namespaces |= {t.config["configurable"]["checkpoint_ns"] for t in (yield from rows(thread))}
    assert len(namespaces) >= 2, namespaces

    # Another session, which must not move.
    other_graph, other_id, other_thread = yield from chat_session(saver, 2)
    yield from branch_at(saver, other_graph, other_thread, 1)
    before = yield from snapshot(saver)
    assert set(before) == {session.id, other_id}

    deleted = yield from call(AgentGitSaver.delete_session, session.id, user_id=OWNER)
    assert deleted == threads
    for thread in threads:
        assert (yield from rows(thread)) == [], thread
        for ns in namespaces:
            listed = yield from gather(BaseCheckpointSaver.list, cfg(thread, checkpoint_ns=ns))
            assert listed == [], (thread, ns)
            assert (
                yield from call(BaseCheckpointSaver.get_tuple, cfg(thread, checkpoint_ns=ns))
            ) is None
    after = yield from snapshot(saver)
    assert after == {other_id: before[other_id]}
    with pytest.raises(SessionNotFoundError):
        yield from call(AgentGitSaver.get_session, session.id)
    with pytest.raises(ThreadNotFoundError):
        yield from call(AgentGitSaver.session_for_thread, b1)
    with pytest.raises(SessionNotFoundError):
        yield from call(AgentGitSaver.delete_session, session.id)
    # The erased thread id is free again: a new run starts a fresh session.
    yield from invoke(graph, {"log": ["in"]}, cfg(first, user_id=OWNER + 1))
    fresh = yield from call(AgentGitSaver.session_for_thread, first)
    assert fresh.id != session.id and fresh.user_id == OWNER + 1


async def test_delete_session(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(delete_session_flow(saver), on(saver))


def refused_delete_flow(saver: AgentGitSaver) -> Plan[None]:
    graph, session_id, thread = yield from chat_session(saver)
    yield from branch_at(saver, graph, thread, 2)
    before = yield from snapshot(saver)
    with pytest.raises(SessionAccessError, match=str(session_id)):
        yield from call(AgentGitSaver.delete_session, session_id, user_id=OWNER + 1)
    with pytest.raises(SessionNotFoundError, match="12345"):
        yield from call(AgentGitSaver.delete_session, 12345)
    assert (yield from snapshot(saver)) == before


async def test_delete_session_refused(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(refused_delete_flow(saver), on(saver))


def failing_second_delete(saver: AgentGitSaver, monkeypatch: Any, *, is_async: bool) -> list[str]:
    """Make the wrapped saver's second `delete_thread` of a real thread fail."""
    seen: list[str] = []
    name = "adelete_thread" if is_async else "delete_thread"
    original = getattr(saver.saver, name)

    def check(thread_id: str) -> None:
        if not thread_id.startswith(maintenance.BACKUP_PREFIX):
            seen.append(thread_id)
            if len(seen) == 2:
                raise InjectedFault(f"injected: cannot delete {thread_id}")

    if is_async:

        async def adelete(thread_id: str) -> None:
            check(thread_id)
            await original(thread_id)

        monkeypatch.setattr(saver.saver, name, adelete)
    else:

        def delete(thread_id: str) -> None:
            check(thread_id)
            original(thread_id)

        monkeypatch.setattr(saver.saver, name, delete)
    return seen


def arm_failing_delete(
    run: Run, saver: AgentGitSaver, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], None]:
    """Arms `failing_second_delete` for the API `run` drives."""
    return lambda: failing_second_delete(saver, monkeypatch, is_async=run.is_async) and None


def retry_delete_flow(
    saver: AgentGitSaver, arm: Callable[[], None], disarm: Callable[[], None]
) -> Plan[None]:
    graph, session_id, thread = yield from chat_session(saver)
    b1 = yield from branch_at(saver, graph, thread, 2)
    b2 = yield from branch_at(saver, graph, thread, 4)
    arm()
    with pytest.raises(InjectedFault):
        yield from call(AgentGitSaver.delete_session, session_id)
    disarm()
    # Part way: the session is gone at once; what is left of its threads is noted.
    with pytest.raises(SessionNotFoundError):
        yield from call(AgentGitSaver.get_session, session_id)
    assert (yield from rows(thread)) == []
    assert (yield from rows(b1)) != []
    assert (yield from call(BaseSessionStore.list_pending_deletes)) == [b1, b2]
    # Recovery (also run when a saver opens) finishes the job.
    assert (yield from call(AgentGitSaver.recover_branches)) == []
    for t in (thread, b1, b2):
        assert (yield from rows(t)) == []
    assert (yield from call(BaseSessionStore.list_pending_deletes)) == []
    assert (yield from call(AgentGitSaver.list_sessions)) == []


async def test_delete_session_retry_after_failure(
    run: Run, run_backend: AsyncBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run_backend.open() as saver:
        arm = arm_failing_delete(run, saver, monkeypatch)
        await run(retry_delete_flow(saver, arm, monkeypatch.undo), on(saver))


# -- prune_branches ---------------------------------------------------------------------


def prune_tree_flow(saver: AgentGitSaver, set_now: Callable[[datetime | None], None]) -> Plan[None]:
    """T0 with side branches S1 (from T0) and S2 (from B1) and the current path T0 -> B1 -> B2."""
    graph, session_id, t0 = yield from chat_session(saver)
    s1 = yield from branch_at(saver, graph, t0, 2)
    b1 = yield from branch_at(saver, graph, t0, 4)
    s2 = yield from branch_at(saver, graph, b1, 1)
    b2 = yield from branch_at(saver, graph, b1, 3)
    session = yield from call(AgentGitSaver.get_session, session_id)
    assert session.current_internal_session_id == b2
    kept_before = yield from threads_bytes(saver, [t0, b1, b2])
    yield from counts_exact(session_id)

    # Young branches survive an age limit; the owner check comes first.
    assert (
        yield from call(AgentGitSaver.prune_branches, session_id, older_than=timedelta(hours=1))
    ) == []
    with pytest.raises(SessionAccessError):
        yield from call(AgentGitSaver.prune_branches, session_id, user_id=OWNER + 1)
    with pytest.raises(InvalidConfigError):
        yield from call(AgentGitSaver.prune_branches, session_id, older_than=timedelta(seconds=-1))
    with pytest.raises(InvalidConfigError):
        yield from call(AgentGitSaver.prune_branches, session_id, older_than=3600)
    assert len((yield from call(AgentGitSaver.branches, session_id))) == 5

    removed = yield from call(AgentGitSaver.prune_branches, session_id, user_id=OWNER)
    assert removed == [s1, s2]
    for t in removed:
        assert (yield from rows(t)) == []
    assert [b.thread_id for b in (yield from call(AgentGitSaver.branches, session_id))] == [
        t0,
        b1,
        b2,
    ]
    assert (yield from threads_bytes(saver, [t0, b1, b2])) == kept_before
    yield from counts_exact(session_id)
    assert (yield from call(AgentGitSaver.prune_branches, session_id)) == []
    # The current branch goes on.
    result = yield from invoke(graph, human("after prune", 10), cfg(b2))
    assert contents(result)[-1].startswith("echo: after prune")

    # The first thread goes only once it is no ancestor of the current one:
    # make Y from B1, switch to T0 and prune B1 alone (older than Y), so Y's
    # parent is gone; then, current on Y, T0 is removed too.
    y = yield from branch_at(saver, graph, b1, 1)
    threads = {t.thread_id: t for t in (yield from call(BaseSessionStore.list_threads, session_id))}
    yield from call(AgentGitSaver.switch, session_id, t0)
    set_now(threads[y].created_at)
    assert (yield from call(AgentGitSaver.prune_branches, session_id, older_than=timedelta(0))) == [
        b1,
        b2,
    ]
    set_now(None)
    y_before = yield from thread_bytes(saver, y)
    y_state = yield from get_state(graph, cfg(y))
    yield from call(AgentGitSaver.switch, session_id, y)
    assert (yield from call(AgentGitSaver.prune_branches, session_id)) == [t0]
    assert [b.thread_id for b in (yield from call(AgentGitSaver.branches, session_id))] == [y]
    assert (yield from rows(t0)) == []
    assert (yield from thread_bytes(saver, y)) == y_before
    assert view((yield from get_state(graph, cfg(y)))) == view(y_state)
    yield from counts_exact(session_id)
    yield from invoke(graph, human("still here", 11), cfg(y))


def _clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime | None], None]:
    real = maintenance.now

    def set_now(at: datetime | None) -> None:
        monkeypatch.setattr(maintenance, "now", real if at is None else (lambda: at))

    return set_now


async def test_prune_branches(
    run: Run, run_backend: AsyncBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run_backend.open() as saver:
        await run(prune_tree_flow(saver, _clock(monkeypatch)), on(saver))


def retry_prune_flow(
    saver: AgentGitSaver, arm: Callable[[], None], disarm: Callable[[], None]
) -> Plan[None]:
    graph, session_id, t0 = yield from chat_session(saver)
    s1 = yield from branch_at(saver, graph, t0, 2)
    s2 = yield from branch_at(saver, graph, t0, 3)
    yield from call(AgentGitSaver.switch, session_id, t0)
    arm()
    with pytest.raises(InjectedFault):
        yield from call(AgentGitSaver.prune_branches, session_id)
    disarm()
    # The store forgot both at once; the checkpoints left are noted and recovery erases them.
    assert [b.thread_id for b in (yield from call(AgentGitSaver.branches, session_id))] == [t0]
    assert (yield from rows(s1)) == [] and (yield from rows(s2)) != []
    assert (yield from call(BaseSessionStore.list_pending_deletes)) == [s2]
    assert (yield from call(AgentGitSaver.recover_branches)) == []
    assert (yield from call(AgentGitSaver.prune_branches, session_id)) == []
    yield from counts_exact(session_id)
    assert (yield from rows(s1)) == [] and (yield from rows(s2)) == []


async def test_prune_branches_retry_after_failure(
    run: Run, run_backend: AsyncBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run_backend.open() as saver:
        arm = arm_failing_delete(run, saver, monkeypatch)
        await run(retry_prune_flow(saver, arm, monkeypatch.undo), on(saver))


# -- kept branches of DeltaChannel and subgraph graphs keep working ----------------------


def delta_kept_flow(saver: AgentGitSaver) -> Plan[None]:
    """A branch whose DeltaChannel is rebuilt from copied ancestry, kept by a prune.

    Its twin is the same history on a thread of another session, rolled back
    at the same position and never pruned.
    """
    graph = delta_probe().compile(saver)
    kept: dict[str, str] = {}
    sessions = {}
    for role in ("pruned", "twin"):
        thread = new_id(f"delta-{role}")
        for n in range(2):
            yield from invoke(graph, delta_input(n), cfg(thread))
        snaps = yield from history(graph, cfg(thread))
        # A mid-run checkpoint whose DeltaChannel value is not stored in it.
        pos = next(
            i
            for i, s in enumerate(snaps)
            if s.next and s.metadata.get("counters_since_delta_snapshot", {}).get("items", (0,))[0]
        )
        side = yield from call(AgentGitSaver.rollback, snaps[pos + 2].config)
        yield from invoke(graph, None, side)
        branch = yield from call(AgentGitSaver.rollback, snaps[pos].config)
        kept[role] = tid(branch)
        sessions[role] = (yield from call(AgentGitSaver.session_for_thread, thread)).id
        if role == "pruned":
            pruned_side = tid(side)
    session_id = sessions["pruned"]
    before = yield from thread_bytes(saver, kept["pruned"])
    assert len(before) > 1, "expected the DeltaChannel's ancestry copied into the branch"
    state_before = yield from get_state(graph, cfg(kept["pruned"]))
    assert state_before.values["items"], "expected DeltaChannel state on the branch"

    removed = yield from call(AgentGitSaver.prune_branches, session_id)
    assert removed == [pruned_side]
    assert (yield from thread_bytes(saver, kept["pruned"])) == before
    state = yield from get_state(graph, cfg(kept["pruned"]))
    twin = yield from get_state(graph, cfg(kept["twin"]))
    assert view(state) == view(state_before) == view(twin)
    r_kept = yield from invoke(graph, None, cfg(kept["pruned"]))
    r_twin = yield from invoke(graph, None, cfg(kept["twin"]))
    assert norm(r_kept) == norm(r_twin)
    r_kept = yield from invoke(graph, delta_input(5), cfg(kept["pruned"]))
    r_twin = yield from invoke(graph, delta_input(5), cfg(kept["twin"]))
    assert norm(r_kept) == norm(r_twin)
    yield from counts_exact(session_id)


async def test_prune_branches_keeps_delta_branch_working(
    run: Run, run_backend: AsyncBackend
) -> None:
    async with run_backend.open() as saver:
        await run(delta_kept_flow(saver), on(saver))


def subgraph_kept_flow(saver: AgentGitSaver) -> Plan[None]:
    """A branch interrupted inside a subgraph (state in a child namespace), kept by a prune."""
    graph = subgraph_probe().compile(saver)
    kept: dict[str, str] = {}
    for role in ("pruned", "twin"):
        thread = new_id(f"sub-{role}")
        yield from invoke(graph, {"log": ["in"]}, cfg(thread))
        snaps = yield from history(graph, cfg(thread))
        side = yield from call(AgentGitSaver.rollback, snaps[-1].config)
        yield from invoke(graph, {"log": ["side"]}, side)
        branch = yield from call(AgentGitSaver.rollback, snaps[0].config)  # the interrupted head
        kept[role] = tid(branch)
        if role == "pruned":
            session_id = (yield from call(AgentGitSaver.session_for_thread, thread)).id
            pruned_side = tid(side)
    namespaces = {
        t.config["configurable"]["checkpoint_ns"] for t in (yield from rows(kept["pruned"]))
    }
    assert len(namespaces) == 2, "expected subgraph state on the branch"
    before = yield from thread_bytes(saver, kept["pruned"])
    state_before = yield from get_state(graph, cfg(kept["pruned"]), subgraphs=True)

    assert (yield from call(AgentGitSaver.prune_branches, session_id)) == [pruned_side]
    assert (yield from thread_bytes(saver, kept["pruned"])) == before
    state = yield from get_state(graph, cfg(kept["pruned"]), subgraphs=True)
    twin = yield from get_state(graph, cfg(kept["twin"]), subgraphs=True)
    assert view(state) == view(state_before) == view(twin)
    assert state.tasks[0].state is not None and state.tasks[0].state.values.get("private")
    r_kept = yield from invoke(graph, Command(resume="B"), cfg(kept["pruned"]))
    r_twin = yield from invoke(graph, Command(resume="B"), cfg(kept["twin"]))
    assert norm(r_kept) == norm(r_twin)
    assert "__interrupt__" not in r_kept
    yield from counts_exact(session_id)


async def test_prune_branches_keeps_subgraph_branch_working(
    run: Run, run_backend: AsyncBackend
) -> None:
    async with run_backend.open() as saver:
        await run(subgraph_kept_flow(saver), on(saver))
