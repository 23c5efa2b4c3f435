"""`copy_thread`, `prune` and `delete_for_runs`: delegated when the wrapped saver has
them, otherwise the wrapper's own over the saver's primitives.

* LangGraph's conformance suite passes them on the wrapper around
  `AsyncPostgresSaver` (InMemorySaver and AsyncSqliteSaver: `test_conformance.py`);
  `PostgresSaver.prune` is its own and is delegated to.
* Detection is the suite's: a method the saver's type overrides is called.
* On real graphs (`DeltaChannel`, subgraphs, interrupts), on every backend,
  sync and async: a copy is the source, byte for byte, and resumes alike; a
  pruned thread keeps its state and resumes as an unpruned twin does; counts
  of threads in sessions equal what the saver holds afterwards.
* Rewriting a thread (fallback `prune` / `delete_for_runs`) survives faults at
  every step: a failed backup changes nothing, a failed put-back is retried or
  recovered from the backup by the next call, and a run writing meanwhile is
  never overwritten (retry, then `ThreadBusyError`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver, copy_checkpoint, empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

import agentgit_langgraph._rewrite as rewrite
from agentgit_langgraph import (
    AgentGitSaver,
    InMemorySessionStore,
    InvalidConfigError,
    ThreadBusyError,
)
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph.maintenance import backup_thread_id, is_overridden
from agentgit_langgraph.stores.base import BaseSessionStore
from tests.conformance_helpers import (
    ConformanceCase,
    assert_wrapped_conforms,
    assert_wrapper_only_capabilities_fall_back,
    compare_conformance,
)
from tests.conftest import AsyncBackend, Run
from tests.fidelity_graphs import delta_input, delta_probe, fanout_probe, subgraph_probe
from tests.graphs import chat_graph_builder, human
from tests.plans import (
    cfg,
    counts_exact,
    get_state,
    invoke,
    on,
    rows,
    stored_bytes,
    thread_bytes,
)
from tests.test_fidelity import norm, view

# The fallbacks under every fault: the full suite, not the quick subset.
pytestmark = pytest.mark.slow

OWNER = 7
OPTIONAL = ("copy_thread", "delete_for_runs", "prune")


def new_id(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


# -- the conformance suite on AsyncPostgresSaver -------------------------------------------


async def test_postgres_conformance_optional_capabilities(postgres_schema_uri: str) -> None:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    uri = postgres_schema_uri

    @asynccontextmanager
    async def bare() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with AsyncPostgresSaver.from_conn_string(uri) as saver:
            await saver.setup()
            yield saver

    @asynccontextmanager
    async def wrapped() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with AgentGitSaver.afrom_conn_string(uri) as saver:
            await saver.asetup()
            yield saver

    case = ConformanceCase("AsyncPostgresSaver", bare, wrapped)
    comparison = await compare_conformance(case)
    assert_wrapped_conforms(comparison)
    for cap in OPTIONAL:
        assert comparison.wrapped.passed(cap), comparison.wrapped.describe(cap)
    # PostgresSaver has prune (delegated); the other two are the wrapper's.
    assert comparison.bare.passed("prune"), comparison.summary()
    assert await assert_wrapper_only_capabilities_fall_back(comparison, case) == [
        "copy_thread",
        "delete_for_runs",
    ]


# -- detection and delegation --------------------------------------------------------------


class NativeSaver(InMemorySaver):
    """An InMemorySaver that has all three capabilities (and records their calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.calls.append(("copy_thread", (source_thread_id, target_thread_id)))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.calls.append(("acopy_thread", (source_thread_id, target_thread_id)))

    def prune(self, thread_ids: Any, *, strategy: str = "keep_latest") -> None:
        self.calls.append(("prune", (list(thread_ids), strategy)))
        for t in thread_ids:
            self.delete_thread(t)

    async def aprune(self, thread_ids: Any, *, strategy: str = "keep_latest") -> None:
        self.calls.append(("aprune", (list(thread_ids), strategy)))
        for t in thread_ids:
            self.delete_thread(t)

    def delete_for_runs(self, run_ids: Any) -> None:
        self.calls.append(("delete_for_runs", list(run_ids)))

    async def adelete_for_runs(self, run_ids: Any) -> None:
        self.calls.append(("adelete_for_runs", list(run_ids)))


def test_detection_is_the_conformance_suites() -> None:
    from langgraph.checkpoint.conformance.capabilities import DetectedCapabilities
    from langgraph.checkpoint.postgres import PostgresSaver

    plain, native = InMemorySaver(), NativeSaver()
    detected = {c.value for c in DetectedCapabilities.from_instance(plain).detected}
    for cap in OPTIONAL:
        for method in (cap, f"a{cap}"):
            assert is_overridden(plain, method) is (cap in detected) is False
            assert is_overridden(native, method) is True
    assert is_overridden(AgentGitSaver(plain), "acopy_thread")
    assert PostgresSaver.prune is not BaseCheckpointSaver.prune


def delegation_flow(saver: AgentGitSaver, native: NativeSaver, prefix: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    yield from invoke(graph, human("hi", 0), cfg("t1", user_id=OWNER))
    session = yield from call(AgentGitSaver.session_for_thread, "t1")
    put_calls = len((yield from gather(BaseCheckpointSaver.list, cfg("t1"))))
    yield from call(AgentGitSaver.copy_thread, "t1", "t2")
    yield from call(AgentGitSaver.delete_for_runs, ["r1"])
    yield from call(AgentGitSaver.prune, ["t1"], strategy="keep_latest")
    assert native.calls == [
        (f"{prefix}copy_thread", ("t1", "t2")),
        (f"{prefix}delete_for_runs", ["r1"]),
        (f"{prefix}prune", (["t1"], "keep_latest")),
    ]
    assert put_calls == 3
    # Nothing was copied by the wrapper (the native copy_thread did nothing),
    # and the count follows what the native prune left (nothing).
    assert (yield from gather(BaseCheckpointSaver.list, cfg("t2"))) == []
    assert (yield from call(BaseSessionStore.get_thread, "t2")) is None
    yield from counts_exact(session.id)
    assert (yield from call(AgentGitSaver.get_session, session.id)).total_checkpoints == 0


async def test_native_capabilities_are_delegated(run: Run) -> None:
    native = NativeSaver()
    saver = AgentGitSaver(native, InMemorySessionStore())
    await run(delegation_flow(saver, native, "a" if run.is_async else ""), on(saver))


def test_fallbacks_refuse_bad_arguments() -> None:
    saver = AgentGitSaver(InMemorySaver())
    with pytest.raises(InvalidConfigError, match="thread_ids"):
        saver.prune("thread")
    with pytest.raises(InvalidConfigError, match="strategy"):
        saver.prune(["thread"], strategy="keep_none")
    with pytest.raises(InvalidConfigError, match="run_ids"):
        saver.delete_for_runs("run")


# -- copy_thread on real graphs ------------------------------------------------------------


def delta_graph_stopping(saver: AgentGitSaver) -> Any:
    """The DeltaChannel chain, stopping before "c": a head that stores no snapshot."""
    return delta_probe().builder.compile(checkpointer=saver, interrupt_before=["c"])


def delta_thread(saver: AgentGitSaver, graph: Any, runs: int = 2) -> Plan[str]:
    """`runs` runs, each but the last finished after its stop before "c"."""
    thread = new_id("delta")
    for n in range(runs):
        config = cfg(thread, user_id=OWNER, run_id=f"{thread}-run{n}")
        yield from invoke(graph, delta_input(n), config)
        if n < runs - 1:
            yield from invoke(graph, None, config)
    head = yield from call(BaseCheckpointSaver.get_tuple, cfg(thread))
    assert head.metadata.get("counters_since_delta_snapshot"), "expected a non-snapshot head"
    return thread


def sub_thread(saver: AgentGitSaver, graph: Any) -> Plan[str]:
    """A subgraph run that finished once and is now interrupted inside the subgraph."""
    thread = new_id("sub")
    yield from invoke(graph, {"log": ["in"]}, cfg(thread, user_id=OWNER))
    yield from invoke(graph, Command(resume="A"), cfg(thread))
    result = yield from invoke(graph, {"log": ["again"]}, cfg(thread))
    assert "__interrupt__" in result
    return thread


def copy_flow(saver: AgentGitSaver) -> Plan[None]:
    delta_graph = delta_graph_stopping(saver)
    sub_graph = subgraph_probe().compile(saver)
    cases = [
        (delta_graph, (yield from delta_thread(saver, delta_graph)), None, False),
        (sub_graph, (yield from sub_thread(saver, sub_graph)), Command(resume="B"), True),
    ]
    for graph, source, resume, subgraphs in cases:
        source_rows = yield from thread_bytes(saver, source)
        namespaces = {r[0] for r in source_rows}
        assert len(namespaces) >= 2 if subgraphs else namespaces == {""}
        target = new_id("copy")
        yield from call(AgentGitSaver.copy_thread, source, target)
        assert (yield from thread_bytes(saver, target)) == source_rows
        assert (yield from thread_bytes(saver, source)) == source_rows
        state = yield from get_state(graph, cfg(target), subgraphs=subgraphs)
        assert view(state) == view((yield from get_state(graph, cfg(source), subgraphs=subgraphs)))
        # The copy is the source's: same owner, counted exactly.
        copy_session = yield from call(AgentGitSaver.session_for_thread, target)
        assert copy_session.user_id == OWNER
        yield from counts_exact(copy_session.id)
        r_target = yield from invoke(graph, resume, cfg(target))
        r_source = yield from invoke(graph, resume, cfg(source))
        assert norm(r_target) == norm(r_source)

    # Parallel tasks' writes keep their order (LangGraph's, by task path).
    fan_graph = fanout_probe().compile(saver)
    fan = new_id("fan")
    result = yield from invoke(fan_graph, {"items": ["b", "a", "ask1", "d", "c"]}, cfg(fan))
    assert "__interrupt__" in result
    fan_rows = yield from thread_bytes(saver, fan)
    head_writes = max(fan_rows, key=lambda r: r[1])[5]
    assert len(head_writes) >= 4, "expected the finished tasks' writes on the head"
    fan_copy = new_id("fan-copy")
    yield from call(AgentGitSaver.copy_thread, fan, fan_copy)
    assert (yield from thread_bytes(saver, fan_copy)) == fan_rows
    r_copy = yield from invoke(fan_graph, Command(resume="yes"), cfg(fan_copy))
    r_fan = yield from invoke(fan_graph, Command(resume="yes"), cfg(fan))
    assert norm(r_copy) == norm(r_fan)

    # Into the (empty) first thread of an existing session: counted there.
    session = yield from call(AgentGitSaver.create_session, OWNER, "copies")
    into = session.current_internal_session_id
    yield from call(AgentGitSaver.copy_thread, cases[0][1], into)
    yield from counts_exact(session.id)
    total = (yield from call(AgentGitSaver.get_session, session.id)).total_checkpoints
    assert total == len((yield from rows(cases[0][1]))) > 0
    # A source with nothing: nothing copied, no session made.
    yield from call(AgentGitSaver.copy_thread, "no-such-thread", "nothing-here")
    assert (yield from rows("nothing-here")) == []
    assert (yield from call(BaseSessionStore.get_thread, "nothing-here")) is None


async def test_copy_thread(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(copy_flow(saver), on(saver))


# -- prune on real graphs -------------------------------------------------------------------


def _twin(saver: AgentGitSaver, source: str) -> Plan[str]:
    twin = new_id("twin")
    yield from call(AgentGitSaver.copy_thread, source, twin)
    return twin


def prune_flow(saver: AgentGitSaver, native_prune: bool) -> Plan[None]:
    delta_graph = delta_graph_stopping(saver)
    sub_graph = subgraph_probe().compile(saver)
    cases = [
        ("delta", delta_graph, (yield from delta_thread(saver, delta_graph, 3)), None),
        ("sub", sub_graph, (yield from sub_thread(saver, sub_graph)), Command(resume="B")),
    ]
    for kind, graph, thread, resume in cases:
        twin = yield from _twin(saver, thread)
        session = yield from call(AgentGitSaver.session_for_thread, thread)
        before_tuples = yield from rows(thread)
        before = stored_bytes(saver, before_tuples)
        state_before = yield from get_state(graph, cfg(thread), subgraphs=True)
        if native_prune and kind == "delta":
            # PostgresSaver refuses DeltaChannel threads; delegated as is.
            with pytest.raises(NotImplementedError):
                yield from call(AgentGitSaver.prune, [thread])
            assert (yield from thread_bytes(saver, thread)) == before
            continue
        yield from call(AgentGitSaver.prune, [thread], strategy="keep_latest")
        after = yield from thread_bytes(saver, thread)
        assert len(after) < len(before)
        heads = {}
        for r in before:
            heads[r[0]] = max(heads.get(r[0], ""), r[1])
        kept_heads = {r[0]: r[1] for r in after if r[1] == heads[r[0]]}
        assert "" in kept_heads and all(kept_heads[ns] == heads[ns] for ns in kept_heads)
        if not native_prune:  # PostgresSaver drops the namespaces of finished subgraph calls
            assert kept_heads == heads
        if kind == "delta":
            # The head plus the ancestors its DeltaChannel is rebuilt from,
            # unchanged but for the oldest one's parent link.
            assert len(after) > 1
            assert {r[1] for r in after} <= {r[1] for r in before}
            by_id = {r[1]: r for r in before}
            oldest = min(r[1] for r in after)
            for r in after:
                expected = by_id[r[1]]
                if r[1] == oldest:
                    assert r[2] is None
                    assert r[3:] == expected[3:]
                else:
                    assert r == expected
        else:
            assert len(after) == len({r[0] for r in after}), "one checkpoint per namespace"
            assert len(after) >= 2, "the interrupted subgraph's namespace is kept"
        state = yield from get_state(graph, cfg(thread), subgraphs=True)
        assert view(state) == view(state_before)
        assert norm(state.values) == norm((yield from get_state(graph, cfg(twin))).values)
        yield from counts_exact(session.id)
        r_pruned = yield from invoke(graph, resume, cfg(thread))
        r_twin = yield from invoke(graph, resume, cfg(twin))
        assert norm(r_pruned) == norm(r_twin)
        yield from counts_exact(session.id)
        # Pruning again changes nothing more than the new run added.
        yield from call(AgentGitSaver.prune, [thread, "no-such-thread"])
        yield from counts_exact(session.id)

    # strategy="delete": the thread is emptied and leaves its session (as delete_thread).
    thread = cases[1][2]
    yield from call(AgentGitSaver.prune, [thread], strategy="delete")
    assert (yield from rows(thread)) == []
    assert (yield from call(BaseSessionStore.get_thread, thread)) is None


async def test_prune(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        native = is_overridden(saver.saver, "aprune" if run.is_async else "prune")
        await run(prune_flow(saver, native), on(saver))


# -- delete_for_runs and delete_thread on real graphs ---------------------------------------


def delete_for_runs_flow(saver: AgentGitSaver) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    thread, other = new_id("runs"), new_id("other")
    for n in range(3):
        yield from invoke(graph, human(f"turn {n}", n), cfg(thread, run_id=f"{thread}-r{n}"))
    yield from invoke(graph, human("x", 0), cfg(other, run_id=f"{thread}-r1"))
    yield from invoke(graph, human("y", 1), cfg(other, run_id="kept"))
    session = yield from call(AgentGitSaver.session_for_thread, thread)
    before = yield from rows(thread)
    other_before = yield from rows(other)
    doomed = {f"{thread}-r0", f"{thread}-r1"}
    yield from call(AgentGitSaver.delete_for_runs, sorted(doomed))
    expected = stored_bytes(saver, [t for t in before if t.metadata.get("run_id") not in doomed])
    assert expected and len(expected) < len(before)
    assert (yield from thread_bytes(saver, thread)) == expected
    kept_other = [t for t in other_before if t.metadata.get("run_id") == "kept"]
    assert (yield from thread_bytes(saver, other)) == stored_bytes(saver, kept_other)
    yield from counts_exact(session.id)
    yield from counts_exact((yield from call(AgentGitSaver.session_for_thread, other)).id)
    result = yield from invoke(graph, human("later", 5), cfg(thread))
    assert result["messages"][-1].content.startswith("echo: later")
    yield from call(AgentGitSaver.delete_for_runs, [])
    yield from call(AgentGitSaver.delete_for_runs, ["no-such-run"])

    # delete_thread takes the thread out of its session: its only one, so the session goes.
    yield from call(AgentGitSaver.delete_thread, thread)
    assert (yield from rows(thread)) == []
    assert (yield from call(BaseSessionStore.get_thread, thread)) is None
    assert (yield from call(BaseSessionStore.get_session, session.id)) is None
    assert (yield from call(BaseSessionStore.list_pending_deletes)) == []


async def test_delete_for_runs(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(delete_for_runs_flow(saver), on(saver))


# -- rewriting a thread under faults --------------------------------------------------------


class Crash(BaseException):
    """Stands for the process dying: not an `Exception`, so nothing handles it."""


class Injected(Exception):
    """An ordinary failure of the wrapped saver."""


class Faults:
    """Hooks into the wrapped saver's `put` (sync or async) for one thread.

    `mode`:
    * "backup": the backup's completion marker fails to save;
    * "reput-once": the first put back into the thread fails;
    * "reput-crash": every put back into the thread "kills the process";
    * "busy-once" / "busy-always": a run saves a new checkpoint into the
      thread while its backup is written (once, or at every attempt).
    """

    def __init__(self, saver: AgentGitSaver, monkeypatch: pytest.MonkeyPatch, *, is_async: bool):
        self.saver, self.monkeypatch, self.is_async = saver, monkeypatch, is_async
        self.thread = ""
        self.mode = ""
        self.deleted = False
        self.fired = 0
        self.concurrent: list[str] = []

    def arm(self, thread: str, mode: str) -> None:
        self.thread, self.mode, self.deleted, self.fired = thread, mode, False, 0
        inner = self.saver.saver
        if self.is_async:
            put, delete = inner.aput, inner.adelete_thread

            async def aput(config: Any, *args: Any) -> Any:
                concurrent = self._before_put(config)
                if concurrent is not None:
                    await put(*concurrent)
                return await put(config, *args)

            async def adelete(thread_id: str) -> None:
                self._before_delete(thread_id)
                await delete(thread_id)

            self.monkeypatch.setattr(inner, "aput", aput)
            self.monkeypatch.setattr(inner, "adelete_thread", adelete)
        else:
            sput, sdelete = inner.put, inner.delete_thread

            def sync_put(config: Any, *args: Any) -> Any:
                concurrent = self._before_put(config)
                if concurrent is not None:
                    sput(*concurrent)
                return sput(config, *args)

            def sync_delete(thread_id: str) -> None:
                self._before_delete(thread_id)
                sdelete(thread_id)

            self.monkeypatch.setattr(inner, "put", sync_put)
            self.monkeypatch.setattr(inner, "delete_thread", sync_delete)

    def disarm(self) -> None:
        self.monkeypatch.undo()

    def _before_delete(self, thread_id: str) -> None:
        if thread_id == self.thread:
            self.deleted = True

    def _before_put(self, config: Any) -> tuple[Any, ...] | None:
        thread_id = config["configurable"]["thread_id"]
        ns = config["configurable"].get("checkpoint_ns")
        marker = thread_id == backup_thread_id(self.thread) and ns == rewrite._MARK_NS
        if self.mode == "backup" and marker:
            raise Injected("injected: the backup marker failed")
        if thread_id == self.thread and self.deleted:
            if self.mode == "reput-once" and not self.fired:
                self.fired += 1
                raise Injected("injected: put back failed")
            if self.mode == "reput-crash":
                raise Crash("injected: the process died")
        if marker and (self.mode == "busy-always" or (self.mode == "busy-once" and not self.fired)):
            self.fired += 1
            return self._concurrent_put()
        return None

    def _concurrent_put(self) -> tuple[Any, ...]:
        """A new latest checkpoint on the thread, as a run would save it."""
        checkpoint = empty_checkpoint()
        self.concurrent.append(checkpoint["id"])
        config = {"configurable": {"thread_id": self.thread, "checkpoint_ns": ""}}
        metadata = {"source": "update", "step": 99, "parents": {}, "run_id": "concurrent"}
        return (config, copy_checkpoint(checkpoint), metadata, {})


def fault_flow(saver: AgentGitSaver, faults: Faults, op: str, mode: str) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    thread = new_id("faulty")
    runs = [f"{thread}-r{n}" for n in range(3)]
    for n, run in enumerate(runs):
        yield from invoke(graph, human(f"turn {n}", n), cfg(thread, user_id=OWNER, run_id=run))
    session = yield from call(AgentGitSaver.session_for_thread, thread)
    before_tuples = yield from rows(thread)
    before = stored_bytes(saver, before_tuples)

    def operate() -> Plan[None]:
        if op == "prune":
            return call(AgentGitSaver.prune, [thread])
        return call(AgentGitSaver.delete_for_runs, [runs[0]])

    # What the operation leaves when nothing goes wrong.
    if op == "prune":
        twin = yield from _twin(saver, thread)
        yield from call(AgentGitSaver.prune, [twin])
        expected = yield from thread_bytes(saver, twin)
    else:
        kept = [t for t in before_tuples if t.metadata.get("run_id") != runs[0]]
        expected = stored_bytes(saver, kept)
    assert 0 < len(expected) < len(before)
    backup = backup_thread_id(thread)

    faults.arm(thread, mode)
    if mode == "backup":
        with pytest.raises(Injected):
            yield from operate()
        faults.disarm()
        assert (yield from thread_bytes(saver, thread)) == before
        assert (yield from rows(backup)) == []
    elif mode == "reput-once":
        with pytest.raises(Injected):
            yield from operate()
        faults.disarm()
        assert (yield from thread_bytes(saver, thread)) == expected
        assert (yield from rows(backup)) == []
    elif mode == "reput-crash":
        with pytest.raises(Crash):
            yield from operate()
        faults.disarm()
        assert (yield from thread_bytes(saver, thread)) != expected  # left partial
        assert len((yield from rows(backup))) == len(expected) + 1  # and the marker
        yield from operate()  # recovers from the backup first
        assert (yield from thread_bytes(saver, thread)) == expected
        assert (yield from rows(backup)) == []
    elif mode == "busy-once":
        yield from operate()
        faults.disarm()
        after = yield from rows(thread)
        ids = {t.checkpoint["id"] for t in after}
        assert faults.concurrent[0] in ids, "the run's checkpoint was lost"
        if op == "prune":
            assert max(ids) == faults.concurrent[0]
        else:
            assert {t.checkpoint["id"] for t in before_tuples} - ids == {
                t.checkpoint["id"] for t in before_tuples if t.metadata["run_id"] == runs[0]
            }
        assert (yield from rows(backup)) == []
    else:  # busy-always
        with pytest.raises(ThreadBusyError, match=thread):
            yield from operate()
        faults.disarm()
        after = yield from rows(thread)
        assert {t.checkpoint["id"] for t in after} == {
            t.checkpoint["id"] for t in before_tuples
        } | set(faults.concurrent)
        assert len(faults.concurrent) == rewrite._REWRITE_ATTEMPTS
        assert (yield from rows(backup)) == []
    yield from counts_exact(session.id)


MODES = ["backup", "reput-once", "reput-crash", "busy-once", "busy-always"]


def native_prune_flow(saver: AgentGitSaver) -> Plan[None]:
    """A saver that prunes natively (PostgresSaver) is delegated to, counts kept exact."""
    graph = chat_graph_builder().compile(checkpointer=saver)
    thread = new_id("native")
    for n in range(3):
        yield from invoke(graph, human(f"turn {n}", n), cfg(thread, user_id=OWNER))
    session = yield from call(AgentGitSaver.session_for_thread, thread)
    before = yield from rows(thread)
    yield from call(AgentGitSaver.prune, [thread])
    after = yield from rows(thread)
    assert [t.checkpoint["id"] for t in after] == [max(t.checkpoint["id"] for t in before)]
    yield from counts_exact(session.id)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["prune", "delete_for_runs"])
async def test_rewrite_under_faults(
    run: Run, run_backend: AsyncBackend, monkeypatch: pytest.MonkeyPatch, op: str, mode: str
) -> None:
    async with run_backend.open() as saver:
        if op == "prune" and is_overridden(saver.saver, "aprune" if run.is_async else "prune"):
            await run(native_prune_flow(saver), on(saver))  # no rewrite of ours to fault
            return
        faults = Faults(saver, monkeypatch, is_async=run.is_async)
        await run(fault_flow(saver, faults, op, mode), on(saver))


def delete_thread_flow(saver: AgentGitSaver, faults: Faults) -> Plan[None]:
    """`delete_thread` also removes a backup a crashed rewrite left."""
    graph = chat_graph_builder().compile(checkpointer=saver)
    thread = new_id("crashed")
    for n in range(2):
        yield from invoke(graph, human(f"turn {n}", n), cfg(thread, run_id=f"{thread}-r{n}"))
    faults.arm(thread, "reput-crash")
    with pytest.raises(Crash):
        yield from call(AgentGitSaver.delete_for_runs, [f"{thread}-r0"])
    faults.disarm()
    assert (yield from rows(backup_thread_id(thread))) != []
    yield from call(AgentGitSaver.delete_thread, thread)
    assert (yield from rows(backup_thread_id(thread))) == []
    assert (yield from rows(thread)) == []
    # Nothing to recover any more: a later call does not resurrect the thread.
    yield from call(AgentGitSaver.delete_for_runs, [f"{thread}-r1"])
    assert (yield from rows(thread)) == []


async def test_delete_thread_drops_backup(
    run: Run, run_backend: AsyncBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run_backend.open() as saver:
        faults = Faults(saver, monkeypatch, is_async=run.is_async)
        await run(delete_thread_flow(saver, faults), on(saver))
