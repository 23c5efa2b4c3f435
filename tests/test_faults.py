"""Fault injection on rollback: all or nothing, sync and async, on every backend.

Each scenario is a plan (tests/plans.py) the `run` fixture drives with the
sync API, then the async one.

A fault is injected at one step of a rollback: the copy's `put` into the new
thread (before or after it wrote), the copy's `put_writes`, the step right
after the copy, or the store registering the branch. Each time the error must
reach the caller unchanged, no branch may be registered, no thread other than
the original ones may hold checkpoints or writes in the wrapped saver (looked
at in the saver's own storage: `InMemorySaver.storage`, the SQLite file's
`checkpoints`/`writes` tables), no count may move, and once the fault is
removed the next rollback must work.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

import agentgit_langgraph.branching as branching_module
from agentgit_langgraph import AgentGitSaver, StoreError
from agentgit_langgraph._plan import Plan, call, gather, run_async
from agentgit_langgraph.testing import EchoChatModel
from tests.conftest import AsyncBackend, Run, _conn_string_backend
from tests.graphs import chat_graph_builder, contents, human
from tests.plans import get_state, history, invoke, on

MAIN = "main-thread"
OTHER = "other-thread"
ORIGINALS = {MAIN, OTHER}


class InjectedFault(Exception):
    """The failure a test injects; it must reach the caller as is."""


# -- a real history ------------------------------------------------------------------


class FlakyModel(EchoChatModel):
    """The echo model, except that a turn saying "fail" fails (a model outage)."""

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        if messages[-1].content == "fail":
            raise RuntimeError("model down")
        return super()._generate(messages, stop, run_manager, **kw)


@dataclass
class Seeded:
    session_id: int
    target: Any  # the StateSnapshot rolled back to
    copied_writes: int  # pending writes a rollback to it copies


def _cfg(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


# Two rollback targets on MAIN, whose history is two good turns and a third
# that failed in the model:
# - "earlier": the input checkpoint of the second turn (mid-history: the copy
#   is a single `put`, the branch re-runs that turn's tasks);
# - "failed-head": the thread's head, where the failed task's error is a
#   pending write (the copy is a `put` and a `put_writes`).
TARGETS = ["earlier", "failed-head"]


def seed(saver: AgentGitSaver, target: str) -> Plan[Seeded]:
    graph = chat_graph_builder(FlakyModel()).compile(checkpointer=saver)
    for n in range(2):
        yield from invoke(graph, human(f"main {n}", n), _cfg(MAIN))
    with pytest.raises(RuntimeError, match="model down"):
        yield from invoke(graph, human("fail", 2), _cfg(MAIN))
    yield from invoke(graph, human("other 0", 0), _cfg(OTHER))
    snapshots = yield from history(graph, _cfg(MAIN))
    session = yield from call(AgentGitSaver.session_for_thread, MAIN)
    return _seeded(session.id, snapshots, target)


def _seeded(session_id: int, history: list[Any], target: str) -> Seeded:
    if target == "earlier":
        snap = history[4]
        assert snap.metadata["source"] == "input"
        assert contents(snap.values) == ["main 0", "echo: main 0 (#1)"]
        assert snap.next == ("__start__",)
        return Seeded(session_id, snap, 0)
    snap = history[0]
    assert contents(snap.values) == [
        "main 0",
        "echo: main 0 (#1)",
        "main 1",
        "echo: main 1 (#2)",
        "fail",
    ]
    assert snap.next == ("chat",)
    assert [t.error for t in snap.tasks] == ["RuntimeError('model down')"]
    return Seeded(session_id, snap, 1)


# -- what the wrapped saver holds, read from its own storage ---------------------------


def stored(
    backend_name: str, saver: AgentGitSaver, tmp_path: Path
) -> Plan[dict[str, Counter[str]]]:
    """Per thread: checkpoints, pending writes (and blobs for InMemorySaver)."""
    inner = saver.saver
    if isinstance(inner, InMemorySaver):
        checkpoints: Counter[str] = Counter()
        for thread_id, namespaces in inner.storage.items():
            for by_id in namespaces.values():
                checkpoints[thread_id] += len(by_id)
        writes: Counter[str] = Counter()
        for (thread_id, _ns, _cid), by_task in inner.writes.items():
            writes[thread_id] += len(by_task)
        blobs = Counter(key[0] for key in inner.blobs)
        return _nonzero(checkpoints=checkpoints, writes=writes, blobs=blobs)
    if backend_name == "sqlite":
        with sqlite3.connect(tmp_path / "agent.db") as conn:
            return _nonzero(
                checkpoints=Counter(
                    dict(
                        conn.execute(
                            "SELECT thread_id, COUNT(*) FROM checkpoints GROUP BY thread_id"
                        ).fetchall()
                    )
                ),
                writes=Counter(
                    dict(
                        conn.execute(
                            "SELECT thread_id, COUNT(*) FROM writes GROUP BY thread_id"
                        ).fetchall()
                    )
                ),
            )
    return _listed((yield from gather(BaseCheckpointSaver.list, None)))


def _listed(tuples: list[Any]) -> dict[str, Counter[str]]:
    checkpoints: Counter[str] = Counter()
    writes: Counter[str] = Counter()
    for t in tuples:
        thread_id = t.config["configurable"]["thread_id"]
        checkpoints[thread_id] += 1
        writes[thread_id] += len(t.pending_writes or [])
    return _nonzero(checkpoints=checkpoints, writes=writes)


def _nonzero(**counters: Counter[str]) -> dict[str, Counter[str]]:
    return {name: +c for name, c in counters.items()}


def threads_of(state: dict[str, Counter[str]]) -> set[str]:
    return set().union(*(set(c) for c in state.values()))


def sessions_state() -> Plan[dict[str, Any]]:
    sessions = yield from call(AgentGitSaver.list_sessions)
    branches = {}
    for s in sessions:
        branches[s.id] = yield from call(AgentGitSaver.branches, s.id)
    return {"sessions": [s.to_dict() for s in sessions], "branches": branches}


# -- the faults ------------------------------------------------------------------------

Install = Callable[[AgentGitSaver, pytest.MonkeyPatch, BaseException, bool], None]


def _new_thread(config: Any) -> bool:
    return config["configurable"]["thread_id"] not in ORIGINALS


def _wrap_saver_method(
    saver: AgentGitSaver,
    monkeypatch: pytest.MonkeyPatch,
    exc: BaseException,
    name: str,
    *,
    is_async: bool,
    write_first: bool,
) -> None:
    """Make the inner saver's `name` (or `aname`) raise for a new thread."""
    inner = saver.saver
    attr = "a" + name if is_async else name
    original = getattr(inner, attr)
    if is_async:

        async def afaulty(config: Any, *args: Any, **kwargs: Any) -> Any:
            if not _new_thread(config):
                return await original(config, *args, **kwargs)
            if write_first:
                await original(config, *args, **kwargs)
            raise exc

        monkeypatch.setattr(inner, attr, afaulty)
    else:

        def faulty(config: Any, *args: Any, **kwargs: Any) -> Any:
            if not _new_thread(config):
                return original(config, *args, **kwargs)
            if write_first:
                original(config, *args, **kwargs)
            raise exc

        monkeypatch.setattr(inner, attr, faulty)


def _put_fails(write_first: bool) -> Install:
    def install(saver, monkeypatch, exc, is_async):
        _wrap_saver_method(
            saver, monkeypatch, exc, "put", is_async=is_async, write_first=write_first
        )

    return install


def _put_writes_fails(write_first: bool) -> Install:
    def install(saver, monkeypatch, exc, is_async):
        _wrap_saver_method(
            saver, monkeypatch, exc, "put_writes", is_async=is_async, write_first=write_first
        )

    return install


def _store_fails(saver, monkeypatch, exc, is_async):
    attr = "aadd_branch" if is_async else "add_branch"
    if is_async:

        async def afaulty(branch: Any) -> None:
            raise exc

        monkeypatch.setattr(saver.store, attr, afaulty)
    else:

        def faulty(branch: Any) -> None:
            raise exc

        monkeypatch.setattr(saver.store, attr, faulty)


def _fails_after_copy(saver, monkeypatch, exc, is_async):
    original = branching_module.copy_into_thread

    def copy_then_fail(*args: Any, **kwargs: Any) -> Any:
        yield from original(*args, **kwargs)
        raise exc

    monkeypatch.setattr(branching_module, "copy_into_thread", copy_then_fail)


FAULTS: dict[str, tuple[Install, type[BaseException]]] = {
    "put-fails-before-writing": (_put_fails(write_first=False), InjectedFault),
    "put-fails-after-writing": (_put_fails(write_first=True), InjectedFault),
    "put_writes-fails-before-writing": (_put_writes_fails(write_first=False), InjectedFault),
    "put_writes-fails-after-writing": (_put_writes_fails(write_first=True), InjectedFault),
    "fails-right-after-copy": (_fails_after_copy, InjectedFault),
    "store-add_branch-fails": (_store_fails, StoreError),
}

# (fault, target) pairs: a put_writes fault needs a target whose copy has writes.
FAULT_CASES = [
    pytest.param(fault, target, id=f"{fault}-{target}")
    for fault in FAULTS
    for target in TARGETS
    if not (fault.startswith("put_writes") and target == "earlier")
]


# -- checks shared by sync and async -----------------------------------------------------


def _check_untouched(
    before_sessions: dict[str, Any],
    after_sessions: dict[str, Any],
    before_stored: dict[str, Counter[str]],
    after_stored: dict[str, Counter[str]],
    session_id: int,
) -> None:
    [main_before] = [s for s in before_sessions["sessions"] if s["id"] == session_id]
    [main_after] = [s for s in after_sessions["sessions"] if s["id"] == session_id]
    assert main_after["branch_count"] == main_before["branch_count"] == 0
    assert main_after["internal_session_ids"] == main_before["internal_session_ids"] == [MAIN]
    assert main_after["current_internal_session_id"] == MAIN
    assert main_after["total_checkpoints"] == main_before["total_checkpoints"]
    assert after_sessions == before_sessions
    # No orphan: only the original threads hold anything, and exactly as before.
    assert threads_of(after_stored) == ORIGINALS
    assert after_stored == before_stored


def _check_rollback_worked(
    new_config: Any,
    values: dict[str, Any],
    next_nodes: tuple[str, ...],
    seeded: Seeded,
    before_sessions: dict[str, Any],
    after_sessions: dict[str, Any],
    before_stored: dict[str, Counter[str]],
    after_stored: dict[str, Counter[str]],
) -> None:
    new_thread = new_config["configurable"]["thread_id"]
    assert new_thread not in ORIGINALS
    assert contents(values) == contents(seeded.target.values)
    assert next_nodes == seeded.target.next
    [main_before] = [s for s in before_sessions["sessions"] if s["id"] == seeded.session_id]
    [main_after] = [s for s in after_sessions["sessions"] if s["id"] == seeded.session_id]
    assert main_after["branch_count"] == 1
    assert main_after["internal_session_ids"] == [MAIN, new_thread]
    assert main_after["current_internal_session_id"] == new_thread
    assert main_after["total_checkpoints"] == main_before["total_checkpoints"] + 1
    # The invariant: the session's count is what the saver holds for its threads.
    assert main_after["total_checkpoints"] == sum(
        after_stored["checkpoints"][t] for t in main_after["internal_session_ids"]
    )
    assert threads_of(after_stored) == ORIGINALS | {new_thread}
    assert after_stored["checkpoints"][new_thread] == 1
    assert after_stored["writes"][new_thread] == seeded.copied_writes
    for name, counter in before_stored.items():
        for thread_id in ORIGINALS:
            assert after_stored[name][thread_id] == counter[thread_id]
    # The other session did not move.
    others_before = [s for s in before_sessions["sessions"] if s["id"] != seeded.session_id]
    others_after = [s for s in after_sessions["sessions"] if s["id"] != seeded.session_id]
    assert others_after == others_before


# -- a fault, then the same rollback without it ---------------------------------------------


def fault_then_rollback(
    saver: AgentGitSaver,
    look: Callable[[], Plan[dict[str, Counter[str]]]],
    target: str,
    inject: Callable[[], None],
    remove: Callable[[], None],
    kind: type[BaseException],
    *,
    exc: BaseException | None = None,
    match: str | None = None,
) -> Plan[None]:
    """A rollback under the fault `inject` raises it (`exc` itself when given) and
    changes nothing; once `remove`d, the same rollback works. `look` reads the saver."""
    seeded = yield from seed(saver, target)
    before_sessions = yield from sessions_state()
    before_stored = yield from look()
    assert threads_of(before_stored) == ORIGINALS

    inject()
    with pytest.raises(kind, match=match) as err:
        yield from call(AgentGitSaver.rollback, seeded.target.config)
    if exc is not None:
        assert err.value is exc
    _check_untouched(
        before_sessions,
        (yield from sessions_state()),
        before_stored,
        (yield from look()),
        seeded.session_id,
    )

    remove()
    new_config = yield from call(AgentGitSaver.rollback, seeded.target.config)
    graph = chat_graph_builder(FlakyModel()).compile(checkpointer=saver)
    state = yield from get_state(graph, new_config)
    _check_rollback_worked(
        new_config,
        state.values,
        state.next,
        seeded,
        before_sessions,
        (yield from sessions_state()),
        before_stored,
        (yield from look()),
    )


@pytest.mark.parametrize(("fault", "target"), FAULT_CASES)
async def test_rollback_fault_changes_nothing(
    run: Run,
    run_backend: AsyncBackend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    target: str,
) -> None:
    install, kind = FAULTS[fault]
    exc = kind(f"injected: {fault}")
    async with run_backend.open() as saver:
        plan = fault_then_rollback(
            saver,
            lambda: stored(run_backend.name, saver, tmp_path),
            target,
            lambda: install(saver, monkeypatch, exc, run.is_async),
            monkeypatch.undo,
            kind,
            exc=exc,
        )
        await run(plan, on(saver))


# -- a real failure inside the SQLite store's transaction ---------------------------------

_TRIGGER = """
CREATE TRIGGER agentgit_test_refuse_threads BEFORE INSERT ON agentgit_threads
BEGIN SELECT RAISE(ABORT, 'injected: no new threads'); END
"""


@pytest.fixture
def sqlite_backend(run: Run, tmp_path: Path) -> AsyncBackend:
    """The SQLite-file backend alone: the fault is a trigger in its session tables."""
    return run.open(*_conn_string_backend("sqlite", str(tmp_path / "agent.db")))


def _set_trigger(tmp_path: Path, on: bool) -> None:
    with sqlite3.connect(tmp_path / "agent.db") as conn:
        conn.execute(_TRIGGER if on else "DROP TRIGGER agentgit_test_refuse_threads")


async def test_rollback_store_transaction_fails_midway(
    run: Run, sqlite_backend: AsyncBackend, tmp_path: Path
) -> None:
    """add_branch bumps branch_count, then its INSERT fails: the whole of it is undone."""
    async with sqlite_backend.open() as saver:
        plan = fault_then_rollback(
            saver,
            lambda: stored("sqlite", saver, tmp_path),
            "failed-head",
            lambda: _set_trigger(tmp_path, True),
            lambda: _set_trigger(tmp_path, False),
            StoreError,
            match="injected: no new threads",
        )
        await run(plan, on(saver))


# -- the clean-up itself fails: the original error is still the one reported ----------------


def cleanup_fails(
    saver: AgentGitSaver, exc: BaseException, inject: Callable[[], None]
) -> Plan[None]:
    seeded = yield from seed(saver, "failed-head")
    before_sessions = yield from sessions_state()
    inject()
    with pytest.raises(StoreError) as err:
        yield from call(AgentGitSaver.rollback, seeded.target.config)
    assert err.value is exc
    assert (yield from sessions_state()) == before_sessions


async def test_rollback_reports_original_error_when_cleanup_fails(
    run: Run, run_backend: AsyncBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    exc = StoreError("injected: registering failed")

    def delete_fails(thread_id: str) -> None:
        raise InjectedFault(f"injected: cannot delete {thread_id}")

    async def adelete_fails(thread_id: str) -> None:
        delete_fails(thread_id)

    async with run_backend.open() as saver:

        def inject() -> None:
            _store_fails(saver, monkeypatch, exc, run.is_async)
            monkeypatch.setattr(saver.saver, "delete_thread", delete_fails)
            monkeypatch.setattr(saver.saver, "adelete_thread", adelete_fails)

        await run(cleanup_fails(saver, exc, inject), on(saver))


# -- cancellation part way (asyncio) -----------------------------------------------------------


async def test_arollback_cancelled_during_copy_leaves_no_orphan(
    abackend: AsyncBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task cancelled while the copy is being written (e.g. a request timeout)."""
    async with abackend.open() as saver:
        targets = on(saver)
        seeded = await run_async(seed(saver, "failed-head"), targets)
        before_sessions = await run_async(sessions_state(), targets)
        before_stored = await run_async(stored(abackend.name, saver, tmp_path), targets)
        inner = saver.saver
        original = inner.aput
        written = asyncio.Event()

        async def slow_aput(config: Any, *args: Any, **kwargs: Any) -> Any:
            saved = await original(config, *args, **kwargs)
            if _new_thread(config):
                written.set()
                await asyncio.sleep(30)  # cancelled here
            return saved

        monkeypatch.setattr(inner, "aput", slow_aput)
        task = asyncio.create_task(saver.arollback(seeded.target.config))
        await asyncio.wait_for(written.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        monkeypatch.undo()

        _check_untouched(
            before_sessions,
            await run_async(sessions_state(), targets),
            before_stored,
            await run_async(stored(abackend.name, saver, tmp_path), targets),
            seeded.session_id,
        )
        new_config = await saver.arollback(seeded.target.config)
        assert new_config["configurable"]["thread_id"] not in ORIGINALS
        assert (await saver.aget_session(seeded.session_id)).branch_count == 1
