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
from typer.testing import CliRunner

from agentgit_langgraph import AgentGitSaver, StoreError
from agentgit_langgraph._liveness import node
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
from tests.chaos import check
from tests.graphs import chat_graph_builder, human
from tests.maintenance_helpers import Flow, Op, Tamper, adrive, cfg, drive, rows

DEAD = f"{node()}|4194999|1|dead"  # this node, a pid above Linux's pid_max: never alive


def _kinds(report: Any) -> set[str]:
    return {v.kind for v in report.violations}


def broken_world(saver: AgentGitSaver, counts_stored: bool) -> Flow[set[str]]:
    """A session with branches, then one violation of each kind; the kinds made."""
    graph = chat_graph_builder().compile(checkpointer=saver)
    bare = chat_graph_builder().compile(checkpointer=saver.saver)
    raw = Tamper(saver.store)
    for n in range(3):
        yield Op(graph, "invoke", (human(f"turn {n}", n), cfg("main", user_id=7)))
    history = yield Op(graph, "get_state_history", (cfg("main"),), collect=True)
    branches = []
    for back in (1, 2, 3):
        branch = yield Op(saver, "rollback", (history[back].config,))
        branches.append(branch["configurable"]["thread_id"])
    session = yield Op(saver, "session_for_thread", ("main",))
    assert (yield Op(saver, "fsck")).violations == []
    made = {ORPHAN_THREAD, PENDING_DELETE, DEAD_ROLLBACK, STALE_NOTE, EMPTY_BRANCH}
    made |= {CURRENT_MISSING, DANGLING_TAG}

    # Checkpoints written past the wrapper: in no session; the owner is in their metadata.
    yield Op(bare, "invoke", (human("hi", 0), cfg("orphan", user_id=42)))
    # The store forgot a branch; its checkpoints were never erased.
    yield Op(saver.store, "delete_threads", (session.id, [branches[0]]))
    # A rollback whose process died between its note and its registration.
    yield Op(saver.store, "begin_branch", ("dead-rollback", session.id, DEAD))
    yield Op(bare, "invoke", (human("half", 1), cfg("dead-rollback")))
    # A registered branch still noted as pending (as an older version could leave).
    yield Op(
        raw,
        "sql",
        (
            "INSERT INTO agentgit_pending_branches (thread_id, session_id, created_at, owner) "
            "VALUES (?, ?, '2026-01-01T00:00:00+00:00', ?)",
            (branches[1], session.id, DEAD),
        ),
    )
    # A branch whose checkpoints were deleted past the wrapper.
    yield Op(saver.saver, "delete_thread", (branches[2],))
    # A tag of a thread not in the session; a current thread that is not one.
    yield Op(
        raw,
        "sql",
        (
            "INSERT INTO agentgit_tags (session_id, name, thread_id, checkpoint_ns, checkpoint_id, "
            "created_at) VALUES (?, 'lost', 'nowhere', '', 'x', '2026-01-01T00:00:00+00:00')",
            (session.id,),
        ),
    )
    yield Op(
        raw,
        "sql",
        ("UPDATE agentgit_sessions SET current_thread_id = 'nowhere' WHERE id = ?", (session.id,)),
    )
    if counts_stored:  # only a store keeping counters of its own can miscount
        yield Op(saver.store, "record_checkpoints", ("main", 5))
        made.add(COUNT_MISMATCH)

    report = yield Op(saver, "fsck")
    assert _kinds(report) == made, str(report)
    assert not report.clean and all(not v.repaired for v in report.violations)
    assert (yield Op(saver, "fsck")).violations == report.violations  # read only
    orphan = next(v for v in report.violations if v.kind == ORPHAN_THREAD)
    assert orphan.subject == "orphan" and "owner 42" in orphan.detail

    repaired = yield Op(saver, "fsck", (), {"repair": True})
    assert _kinds(repaired) == made and repaired.clean
    assert (yield Op(saver, "fsck")).violations == []
    adopted = yield Op(saver, "session_for_thread", ("orphan",))
    assert adopted.user_id == 42 and adopted.total_checkpoints == len((yield rows(saver, "orphan")))
    assert (yield rows(saver, branches[0])) == [] and (yield rows(saver, "dead-rollback")) == []
    kept = yield Op(saver, "get_session", (session.id,))
    assert kept.internal_session_ids == ["main", branches[1]]
    assert kept.current_internal_session_id == branches[1]
    return made


def test_fsck_finds_and_repairs_each_violation(backend: Any) -> None:
    with backend.open() as saver:
        drive(broken_world(saver, counts_stored=backend.name == "memory"))
        assert check(saver) == []


async def test_afsck_finds_and_repairs_each_violation(abackend: Any) -> None:
    async with abackend.open() as saver:
        await adrive(broken_world(saver, counts_stored=abackend.name == "memory"))


def failing_count_flow(saver: AgentGitSaver, monkeypatch: pytest.MonkeyPatch) -> Flow[None]:
    """The store fails right after a save: the put raises, and the save stays counted."""
    graph = chat_graph_builder().compile(checkpointer=saver)
    yield Op(graph, "invoke", (human("one", 0), cfg("t")))

    def fail(*args: Any, **kwargs: Any) -> bool:
        raise StoreError("injected: the store is unreachable")

    for name in ("record_checkpoints", "arecord_checkpoints"):
        monkeypatch.setattr(saver.store, name, fail)
    with pytest.raises(StoreError, match="injected"):
        yield Op(graph, "invoke", (human("two", 1), cfg("t")))
    monkeypatch.undo()
    held = len((yield rows(saver, "t")))
    session = yield Op(saver, "session_for_thread", ("t",))
    assert session.total_checkpoints == held > 3
    assert (yield Op(saver, "fsck")).violations == []


# The memory store keeps counters of its own: its saver dies with it, so no
# process can die between a save and its count.
def test_a_failing_count_leaves_the_save_counted(
    sql_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sql_backend.open() as saver:
        drive(failing_count_flow(saver, monkeypatch))


async def test_a_failing_acount_leaves_the_save_counted(
    asql_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with asql_backend.open() as saver:
        await adrive(failing_count_flow(saver, monkeypatch))


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
