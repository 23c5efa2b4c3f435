"""Races between real processes, forced where they are rare, and judged by the invariants.

* `prune_branches` against a concurrent `switch`: a hook stops prune after it
  chose its branches, another process makes one of them current, prune goes
  on: it must refuse (`ThreadBusyError`) and change nothing.
* A rollback still running in another process is never recovered (its thread
  is not deleted), whatever its age; once that process is killed it is.
* Notes from another host are judged by their age in UTC, whatever the local
  time zones of the process that wrote them and the one recovering.
* Four processes doing mixed operations on the same sessions: no error but
  documented typed ones, and every invariant holds afterwards.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import timedelta
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver

from agentgit_langgraph import AgentGitSaver, ThreadBusyError
from agentgit_langgraph._faults import clear_hooks, set_hook
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph.stores.base import BaseSessionStore
from tests import chaos
from tests.conftest import Run
from tests.graphs import chat_graph_builder, human
from tests.plans import Graph, cfg, on, snapshot


@pytest.fixture(scope="module")
def forkserver() -> Iterator[ForkServerContext]:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.chaos"])
    yield ctx


@pytest.fixture(autouse=True)
def _no_hooks() -> Iterator[None]:
    yield
    clear_hooks()


@pytest.fixture(params=["sqlite", "postgres"])
def conn_string(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "race.db")
    return str(request.getfixturevalue("postgres_schema_uri"))


def _in_child(ctx: ForkServerContext, target: Any, *args: Any) -> None:
    proc = ctx.Process(target=target, args=args)
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0, f"{target.__name__} failed in the child ({proc.exitcode})"


def prune_race_flow(saver: AgentGitSaver, ctx: ForkServerContext, conn: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    for n in range(3):
        yield from call(Graph.invoke, graph, human(f"turn {n}", n), cfg("main"))
    history = yield from gather(Graph.get_state_history, graph, cfg("main"))
    side = yield from call(AgentGitSaver.rollback, history[2].config)
    yield from call(Graph.invoke, graph, human("side", 9), side)
    session = yield from call(AgentGitSaver.session_for_thread, "main")
    yield from call(AgentGitSaver.switch, session.id, "main")
    doomed = side["configurable"]["thread_id"]
    set_hook("prune.planned", lambda _: _in_child(ctx, chaos.switch_to, conn, session.id, doomed))
    with pytest.raises(ThreadBusyError, match="current"):
        yield from call(AgentGitSaver.prune_branches, session.id)
    clear_hooks()
    after = yield from snapshot(saver)
    current = (yield from call(AgentGitSaver.get_session, session.id)).current_internal_session_id
    assert current == doomed
    assert set(after[session.id]["stored"]) == {"main", doomed}
    assert all(after[session.id]["stored"].values()), "no checkpoint was deleted"
    # Nothing changed but the other process's switch: prune again keeps all (main is an ancestor).
    assert (yield from call(AgentGitSaver.prune_branches, session.id)) == []
    assert (yield from snapshot(saver)) == after
    assert (yield from call(AgentGitSaver.fsck)).violations == []


async def test_prune_refuses_a_branch_made_current_meanwhile(
    run: Run, forkserver: ForkServerContext, conn_string: str
) -> None:
    async with run.from_conn_string(conn_string) as saver:
        await run(prune_race_flow(saver, forkserver, conn_string), on(saver))


def live_rollback_flow(saver: AgentGitSaver, ctx: ForkServerContext, conn: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    for n in range(2):
        yield from call(Graph.invoke, graph, human(f"turn {n}", n), cfg("main"))
    history = yield from gather(Graph.get_state_history, graph, cfg("main"))
    reached = ctx.Event()
    child = ctx.Process(target=chaos.rollback_and_hold, args=(conn, history[1].config, reached))
    child.start()
    try:
        assert reached.wait(60), "the child never reached its hook"
        (note,) = yield from call(BaseSessionStore.list_pending_branches)
        assert not note.registered and note.owner.split("|")[1] == str(child.pid)
        # Alive on this host: spared whatever its age, and not reported by fsck.
        assert (yield from call(AgentGitSaver.recover_branches, older_than=timedelta(0))) == []
        assert (yield from call(AgentGitSaver.fsck)).violations == []
        assert (yield from gather(BaseCheckpointSaver.list, cfg(note.thread_id))) != []
        child.kill()
        child.join()
        assert (yield from call(AgentGitSaver.recover_branches)) == [note.thread_id]
        assert (yield from gather(BaseCheckpointSaver.list, cfg(note.thread_id))) == []
        assert (yield from call(AgentGitSaver.fsck)).violations == []
    finally:  # (a killed child must not be waited on through a shared Event)
        child.kill()
        child.join()


async def test_recover_spares_a_rollback_running_in_another_process(
    run: Run, forkserver: ForkServerContext, conn_string: str
) -> None:
    async with run.from_conn_string(conn_string) as saver:
        await run(live_rollback_flow(saver, forkserver, conn_string), on(saver))


def test_notes_from_another_host_are_aged_in_utc(
    forkserver: ForkServerContext, conn_string: str
) -> None:
    """Written at UTC-8, recovered at UTC+9: a fresh note is 17 hours "old" in naive
    local times; in UTC it is seconds old and must be spared for the grace period."""
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        graph.invoke(human("hi", 0), cfg("main"))
        session = saver.session_for_thread("main")
        assert session.id is not None
    other_host = "another-node|1234|1|elsewhere"
    _in_child(
        forkserver,
        chaos.note_in_zone,
        conn_string,
        "America/Los_Angeles",
        "far",
        session.id,
        other_host,
    )
    out: Any = forkserver.Queue()
    _in_child(forkserver, chaos.recover_in_zone, conn_string, "Asia/Tokyo", out)
    assert out.get(timeout=10) == []
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        (note,) = saver.store.list_pending_branches()
        assert note.created_at is not None and note.created_at.utcoffset() is not None
        assert saver.recover_branches(older_than=timedelta(0)) == ["far"]


def test_a_writer_killed_inside_the_window_after_a_delete_leaves_what_fsck_adopts(
    forkserver: ForkServerContext, conn_string: str
) -> None:
    """Another process deletes the session; the writer, trusting its last read
    (`held_recheck_seconds`), saves a turn and is killed before reading again:
    that turn's checkpoints belong to no session, and `fsck(repair=True)` gives
    them one with exact counts (README: "A session deleted by another process")."""
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        saver.setup()
        ran, deleted = forkserver.Event(), forkserver.Event()
        child = forkserver.Process(
            target=chaos.write_across_a_delete, args=(conn_string, "w", ran, deleted)
        )
        child.start()
        try:
            assert ran.wait(60), "the child never ran its first turn"
            first = saver.session_for_thread("w")
            assert first.id is not None
            saver.delete_session(first.id)
            deleted.set()
            child.join(60)
            assert child.exitcode == -9
        finally:
            child.kill()
            child.join()
        stored = len(list(saver.saver.list(cfg("w"))))
        assert stored >= 3  # the second turn, saved after the delete
        assert chaos.check(saver) == [f"thread w holds {stored} checkpoints, no session"]
        report = saver.fsck(repair=True)
        assert [v.subject for v in report.violations] == ["w"], str(report)
        assert chaos.check(saver) == []
        adopted = saver.session_for_thread("w")
        assert adopted.id != first.id and adopted.total_checkpoints == stored
        assert saver.fsck().violations == []


@pytest.mark.slow
def test_mixed_operations_from_four_processes(
    forkserver: ForkServerContext, conn_string: str, tmp_path: Path
) -> None:
    errors = tmp_path / "errors.txt"
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        saver.setup()
    jobs = [
        chaos.Job(conn_string, slot, seed=1000 + slot, ops=60, cross=True, errors=str(errors))
        for slot in range(4)
    ]
    procs = [forkserver.Process(target=chaos.worker, args=(job,)) for job in jobs]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(180)
    assert not errors.exists(), errors.read_text()
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        broken = chaos.check(saver)
        assert broken == [], chaos.tally(broken)
        assert saver.fsck().violations == []
        assert saver.list_sessions(), "the workers did work"
