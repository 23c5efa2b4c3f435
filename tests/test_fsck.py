"""`fsck` finds every kind of broken invariant, repairs each, and then finds none.

Each violation is made for real: checkpoints written past the wrapper, notes
left as a dead process leaves them, rows changed in the store's tables. The
scenario is written once and driven with the sync and the async API, on every
backend. A failing count (the store failing after a save) is shown to leave
the save counted.
"""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from typer.testing import CliRunner

from agentgit_langgraph import AgentGitSaver, StoreError
from agentgit_langgraph._liveness import node
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph.fsck import (
    COUNT_MISMATCH,
    CURRENT_MISSING,
    DANGLING_TAG,
    DEAD_ROLLBACK,
    EMPTY_BRANCH,
    ORPHAN_THREAD,
    PENDING_DELETE,
    STALE_NOTE,
)
from agentgit_langgraph.stores.base import BaseSessionStore
from tests.chaos import check
from tests.conftest import AsyncBackend, Run
from tests.graphs import chat_graph_builder, human
from tests.plans import Graph, Tamper, cfg, on, rows

DEAD = f"{node()}|4194999|1|dead"  # this node, a pid above Linux's pid_max: never alive


def _kinds(report: Any) -> set[str]:
    return {v.kind for v in report.violations}


def broken_world(saver: AgentGitSaver, counts_stored: bool) -> Plan[set[str]]:
    """A session with branches, then one violation of each kind; the kinds made."""
    graph = chat_graph_builder().compile(checkpointer=saver)
    bare = chat_graph_builder().compile(checkpointer=saver.saver)
    store = saver.store
    for n in range(3):
        yield from call(Graph.invoke, graph, human(f"turn {n}", n), cfg("main", user_id=7))
    history = yield from gather(Graph.get_state_history, graph, cfg("main"))
    branches = []
    for back in (1, 2, 3):
        branch = yield from call(AgentGitSaver.rollback, history[back].config)
        branches.append(branch["configurable"]["thread_id"])
    session = yield from call(AgentGitSaver.session_for_thread, "main")
    assert (yield from call(AgentGitSaver.fsck)).violations == []
    made = {ORPHAN_THREAD, PENDING_DELETE, DEAD_ROLLBACK, STALE_NOTE, EMPTY_BRANCH}
    made |= {CURRENT_MISSING, DANGLING_TAG}

    # Checkpoints written past the wrapper: in no session; the owner is in their metadata.
    yield from call(Graph.invoke, bare, human("hi", 0), cfg("orphan", user_id=42))
    # The store forgot a branch; its checkpoints were never erased.
    yield from call(BaseSessionStore.delete_threads, session.id, [branches[0]])
    # A rollback whose process died between its note and its registration.
    yield from call(BaseSessionStore.begin_branch, "dead-rollback", session.id, DEAD)
    yield from call(Graph.invoke, bare, human("half", 1), cfg("dead-rollback"))
    # A registered branch still noted as pending (as an older version could leave).
    yield from call(
        Tamper.sql,
        store,
        "INSERT INTO agentgit_pending_branches (thread_id, session_id, created_at, owner) "
        "VALUES (?, ?, '2026-01-01T00:00:00+00:00', ?)",
        (branches[1], session.id, DEAD),
    )
    # A branch whose checkpoints were deleted past the wrapper.
    yield from call(BaseCheckpointSaver.delete_thread, branches[2])
    # A tag of a thread not in the session; a current thread that is not one.
    yield from call(
        Tamper.sql,
        store,
        "INSERT INTO agentgit_tags (session_id, name, thread_id, checkpoint_ns, checkpoint_id, "
        "created_at) VALUES (?, 'lost', 'nowhere', '', 'x', '2026-01-01T00:00:00+00:00')",
        (session.id,),
    )
    yield from call(
        Tamper.sql,
        store,
        "UPDATE agentgit_sessions SET current_thread_id = 'nowhere' WHERE id = ?",
        (session.id,),
    )
    if counts_stored:  # only a store keeping counters of its own can miscount
        yield from call(BaseSessionStore.record_checkpoints, "main", 5)
        made.add(COUNT_MISMATCH)

    report = yield from call(AgentGitSaver.fsck)
    assert _kinds(report) == made, str(report)
    assert not report.clean and all(not v.repaired for v in report.violations)
    assert (yield from call(AgentGitSaver.fsck)).violations == report.violations  # read only
    orphan = next(v for v in report.violations if v.kind == ORPHAN_THREAD)
    assert orphan.subject == "orphan" and "owner 42" in orphan.detail

    repaired = yield from call(AgentGitSaver.fsck, repair=True)
    assert _kinds(repaired) == made and repaired.clean
    assert (yield from call(AgentGitSaver.fsck)).violations == []
    adopted = yield from call(AgentGitSaver.session_for_thread, "orphan")
    assert adopted.user_id == 42 and adopted.total_checkpoints == len((yield from rows("orphan")))
    assert (yield from rows(branches[0])) == [] and (yield from rows("dead-rollback")) == []
    kept = yield from call(AgentGitSaver.get_session, session.id)
    assert kept.internal_session_ids == ["main", branches[1]]
    assert kept.current_internal_session_id == branches[1]
    return made


async def test_fsck_finds_and_repairs_each_violation(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(broken_world(saver, counts_stored=run_backend.name == "memory"), on(saver))
        if not run.is_async:  # the invariants' check reads with the sync API
            assert check(saver) == []


def failing_count_flow(saver: AgentGitSaver, monkeypatch: pytest.MonkeyPatch) -> Plan[None]:
    """The store fails right after a save: the put raises, and the save stays counted.
    (Every put reads the store here: `held_recheck_seconds` 0.)"""
    saver.held_recheck_seconds = 0
    graph = chat_graph_builder().compile(checkpointer=saver)
    yield from call(Graph.invoke, graph, human("one", 0), cfg("t"))

    def fail(*args: Any, **kwargs: Any) -> bool:
        raise StoreError("injected: the store is unreachable")

    for name in ("record_checkpoints", "arecord_checkpoints"):
        monkeypatch.setattr(saver.store, name, fail)
    with pytest.raises(StoreError, match="injected"):
        yield from call(Graph.invoke, graph, human("two", 1), cfg("t"))
    monkeypatch.undo()
    held = len((yield from rows("t")))
    session = yield from call(AgentGitSaver.session_for_thread, "t")
    assert session.total_checkpoints == held > 3
    assert (yield from call(AgentGitSaver.fsck)).violations == []


# The memory store keeps counters of its own: its saver dies with it, so no
# process can die between a save and its count.
async def test_a_failing_count_leaves_the_save_counted(
    run: Run, run_sql_backend: AsyncBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run_sql_backend.open() as saver:
        await run(failing_count_flow(saver, monkeypatch), on(saver))


def test_cli_fsck_reports_then_repairs(tmp_path: Any) -> None:
    from agentgit_langgraph.cli import app

    db = str(tmp_path / "agent.db")
    with AgentGitSaver.from_conn_string(db) as saver:
        bare = chat_graph_builder().compile(checkpointer=saver.saver)
        bare.invoke(human("hi", 0), cfg("orphan"))
    runner = CliRunner()
    found = runner.invoke(app, ["--db", db, "fsck"])
    assert found.exit_code == 1 and "orphan_thread: orphan" in found.stdout
    fixed = runner.invoke(app, ["--db", db, "--json", "fsck", "--repair"])
    assert fixed.exit_code == 0, fixed.output
    assert '"repaired": true' in fixed.stdout
    again = runner.invoke(app, ["--db", db, "fsck"])
    assert again.exit_code == 0 and "0 violation(s)" in again.stdout
