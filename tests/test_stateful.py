"""Stateful property test: random sessions, steps, rollbacks, switches and reopens.

A `RuleBasedStateMachine` drives a real chat graph through `AgentGitSaver` and
mirrors every action in a plain Python model (which threads each session has,
in which order, which is current, how many branches, how many checkpoints per
thread). After every step the saver must agree with the model exactly, and every
thread's `checkpoint_count` must equal the checkpoints the wrapped saver lists.

It runs on the memory backend and on a SQLite file (where `reopen` closes every
connection and opens new ones on the same file), through the sync API and
through the async API (driven from the rules on a per-machine event loop).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver

from agentgit_langgraph import AgentGitSaver, ExternalSession, InMemorySessionStore, InternalSession
from tests.graphs import chat_graph_builder, contents, human

T = TypeVar("T")

PER_TURN = 3  # checkpoints one turn of the chat graph writes
USERS = (0, 1, 2)
MAX_SESSIONS = 3  # more would spread the steps too thin to build deep branch trees

SETTINGS = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def cfg(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def tid(config: RunnableConfig) -> str:
    return str(config["configurable"]["thread_id"])


# -- drivers: one interface over the sync and the async API -----------------------


class Driver:
    """Opens the saver (again, for `reopen`) and calls its API, sync or async."""

    def __init__(self, kind: str, db_path: Path) -> None:
        self.kind = kind
        self.db_path = str(db_path)
        # The memory backend keeps its data across "reopens", like tests/conftest.py's.
        self.memory = (
            AgentGitSaver(InMemorySaver(), InMemorySessionStore()) if kind == "memory" else None
        )
        self.saver: AgentGitSaver
        self.graph: Any

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def teardown(self) -> None:
        self.close()

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """`saver.name(...)`, or `await saver.aname(...)`."""
        raise NotImplementedError

    def saved(self, thread_id: str) -> list[CheckpointTuple]:
        """Every checkpoint of the thread the wrapped saver holds (all namespaces)."""
        raise NotImplementedError

    def run_graph(self, inputs: Any, config: RunnableConfig) -> None:
        raise NotImplementedError

    def state(self, config: RunnableConfig) -> tuple[list[str], tuple[str, ...]]:
        """The graph's state at `config`: message texts and the nodes to run next."""
        raise NotImplementedError


class SyncDriver(Driver):
    def __init__(self, kind: str, db_path: Path) -> None:
        super().__init__(kind, db_path)
        self.cm: AbstractContextManager[AgentGitSaver] | None = None

    def open(self) -> None:
        if self.memory is not None:
            self.saver = self.memory
        else:
            self.cm = AgentGitSaver.from_conn_string(self.db_path)
            self.saver = self.cm.__enter__()
        self.graph = chat_graph_builder().compile(checkpointer=self.saver)

    def close(self) -> None:
        if self.cm is not None:
            cm, self.cm = self.cm, None
            cm.__exit__(None, None, None)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.saver, name)(*args, **kwargs)

    def saved(self, thread_id: str) -> list[CheckpointTuple]:
        return list(self.saver.list(cfg(thread_id)))

    def run_graph(self, inputs: Any, config: RunnableConfig) -> None:
        self.graph.invoke(inputs, config)

    def state(self, config: RunnableConfig) -> tuple[list[str], tuple[str, ...]]:
        snapshot = self.graph.get_state(config)
        return contents(snapshot.values), tuple(snapshot.next)


class AsyncDriver(Driver):
    """Every call goes through the async API, on one event loop per machine."""

    def __init__(self, kind: str, db_path: Path) -> None:
        super().__init__(kind, db_path)
        self.runner = asyncio.Runner()
        self.cm: AbstractAsyncContextManager[AgentGitSaver] | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    def open(self) -> None:
        if self.memory is not None:
            self.saver = self.memory
        else:
            self.cm = AgentGitSaver.afrom_conn_string(self.db_path)
            self.saver = self.run(self.cm.__aenter__())
        self.graph = chat_graph_builder().compile(checkpointer=self.saver)

    def close(self) -> None:
        if self.cm is not None:
            cm, self.cm = self.cm, None
            self.run(cm.__aexit__(None, None, None))

    def teardown(self) -> None:
        try:
            self.close()
        finally:
            self.runner.close()

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.run(getattr(self.saver, "a" + name)(*args, **kwargs))

    def saved(self, thread_id: str) -> list[CheckpointTuple]:
        async def collect() -> list[CheckpointTuple]:
            return [t async for t in self.saver.alist(cfg(thread_id))]

        return self.run(collect())

    def run_graph(self, inputs: Any, config: RunnableConfig) -> None:
        self.run(self.graph.ainvoke(inputs, config))

    def state(self, config: RunnableConfig) -> tuple[list[str], tuple[str, ...]]:
        snapshot = self.run(self.graph.aget_state(config))
        return contents(snapshot.values), tuple(snapshot.next)


# -- the model ------------------------------------------------------------------------


# Checkpoints a run with no input still writes, by the nodes the state has next.
REMAINING = {(): 0, ("chat",): 1, ("__start__",): 2}


@dataclass
class ModelSession:
    user_id: int
    threads: list[str]
    current: str
    counts: dict[str, int]  # checkpoints saved per thread
    parents: dict[str, str | None]
    pending: dict[str, int]  # checkpoints a run with no input would still write
    branches: int = 0

    def threads_with_checkpoints(self) -> list[str]:
        return [t for t in self.threads if self.counts[t] > 0]

    def add_thread(self, thread_id: str, parent: str | None, count: int, pending: int) -> None:
        self.threads.append(thread_id)
        self.counts[thread_id] = count
        self.parents[thread_id] = parent
        self.pending[thread_id] = pending
        self.current = thread_id


@dataclass
class Model:
    sessions: dict[int, ModelSession] = field(default_factory=dict)

    def add(self, session_id: int, user_id: int, thread_id: str, count: int) -> ModelSession:
        assert session_id not in self.sessions
        m = ModelSession(user_id, [], thread_id, {}, {}, {})
        m.add_thread(thread_id, None, count, 0)
        self.sessions[session_id] = m
        return m

    def all_threads(self) -> set[str]:
        return {t for s in self.sessions.values() for t in s.threads}

    def with_checkpoints(self) -> list[int]:
        return [sid for sid, s in self.sessions.items() if s.threads_with_checkpoints()]

    def with_current_checkpoints(self) -> list[int]:
        return [sid for sid, s in self.sessions.items() if s.counts[s.current] > 0]


# -- the machine ----------------------------------------------------------------------


class SessionsMachine(RuleBasedStateMachine):
    driver_class: type[Driver] = SyncDriver
    kind: str = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="agentgit-stateful-"))
        self.driver = self.driver_class(self.kind, self.tmp / "agent.db")
        self.driver.open()
        self.model = Model()
        self.turn = 0  # message ids stay unique across every thread
        self.auto_threads = 0

    def teardown(self) -> None:
        try:
            self.driver.teardown()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _turn_input(self) -> dict[str, Any]:
        self.turn += 1
        return human(f"turn {self.turn}", self.turn)

    # rules ---------------------------------------------------------------------------

    @initialize(user_id=st.sampled_from(USERS))
    def first_session(self, user_id: int) -> None:
        """Start with one session that has a turn, so every rule is open from step one."""
        self.auto_session(user_id)

    @precondition(lambda self: len(self.model.sessions) < MAX_SESSIONS)
    @rule(user_id=st.sampled_from(USERS), name=st.sampled_from(["", "trip", "work"]))
    def create_session(self, user_id: int, name: str) -> None:
        session: ExternalSession = self.driver.call("create_session", user_id, name)
        assert isinstance(session.id, int)
        first = session.current_internal_session_id
        assert first is not None and first not in self.model.all_threads()
        assert (session.user_id, session.session_name, session.internal_session_ids) == (
            user_id,
            name,
            [first],
        )
        assert (session.branch_count, session.total_checkpoints) == (0, 0)
        self.model.add(session.id, user_id, first, 0)

    @precondition(lambda self: len(self.model.sessions) < MAX_SESSIONS)
    @rule(user_id=st.sampled_from(USERS))
    def auto_session(self, user_id: int) -> None:
        """A graph run on an unknown thread opens a session for it."""
        self.auto_threads += 1
        thread_id = f"auto-{self.auto_threads}"
        config: RunnableConfig = {"configurable": {"thread_id": thread_id, "user_id": user_id}}
        self.driver.run_graph(self._turn_input(), config)
        session: ExternalSession = self.driver.call("session_for_thread", thread_id)
        assert isinstance(session.id, int)
        assert (session.user_id, session.session_name) == (user_id, thread_id)
        self.model.add(session.id, user_id, thread_id, PER_TURN)

    @precondition(lambda self: self.model.sessions)
    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """One turn on the current thread of a session (through `config_for`)."""
        sid = data.draw(st.sampled_from(list(self.model.sessions)), label="session")
        m = self.model.sessions[sid]
        config = self.driver.call("config_for", sid)
        assert tid(config) == m.current
        self.driver.run_graph(self._turn_input(), config)
        m.counts[m.current] += PER_TURN
        m.pending[m.current] = 0

    @precondition(lambda self: self.model.with_checkpoints())
    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        """Run the graph with no input on a thread: it finishes a turn a rollback cut."""
        sid = data.draw(st.sampled_from(self.model.with_checkpoints()), label="session")
        m = self.model.sessions[sid]
        thread = data.draw(st.sampled_from(m.threads_with_checkpoints()), label="thread")
        self.driver.run_graph(None, cfg(thread))
        assert self.driver.state(cfg(thread))[1] == ()
        m.counts[thread] += m.pending[thread]
        m.pending[thread] = 0

    @precondition(lambda self: self.model.with_checkpoints())
    @rule(data=st.data())
    def rollback(self, data: st.DataObject) -> None:
        """Roll back to any checkpoint of any thread of a session."""
        sid = data.draw(st.sampled_from(self.model.with_checkpoints()), label="session")
        thread = data.draw(
            st.sampled_from(self.model.sessions[sid].threads_with_checkpoints()), label="thread"
        )
        self._rollback(data, sid, thread)

    @precondition(lambda self: self.model.with_current_checkpoints())
    @rule(data=st.data())
    def undo(self, data: st.DataObject) -> None:
        """Roll back on the thread the user is in (the session's current one)."""
        sid = data.draw(st.sampled_from(self.model.with_current_checkpoints()), label="session")
        self._rollback(data, sid, self.model.sessions[sid].current)

    def _rollback(self, data: st.DataObject, sid: int, thread: str) -> None:
        m = self.model.sessions[sid]
        checkpoints = self.driver.saved(thread)
        assert len(checkpoints) == m.counts[thread]
        target = data.draw(st.sampled_from(checkpoints), label="checkpoint").config
        expected = self.driver.state(target)

        branch = tid(self.driver.call("rollback", target))
        assert branch not in self.model.all_threads()
        assert self.driver.state(cfg(branch)) == expected
        m.add_thread(branch, thread, 1, REMAINING[expected[1]])  # one checkpoint copied
        m.branches += 1

    @precondition(lambda self: self.model.sessions)
    @rule(data=st.data())
    def switch(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(list(self.model.sessions)), label="session")
        m = self.model.sessions[sid]
        thread = data.draw(st.sampled_from(m.threads), label="thread")
        config = self.driver.call("switch", sid, thread)
        assert tid(config) == thread
        m.current = thread

    @rule()
    def reopen(self) -> None:
        """Close every connection and open the saver again on the same data."""
        self.driver.close()
        self.driver.open()

    # invariants ----------------------------------------------------------------------

    @invariant()
    def saver_agrees_with_model(self) -> None:
        listed: list[ExternalSession] = self.driver.call("list_sessions")
        assert [s.id for s in listed] == list(self.model.sessions)
        for user_id in USERS:
            mine: list[ExternalSession] = self.driver.call("list_sessions", user_id)
            assert [s.id for s in mine] == [
                sid for sid, m in self.model.sessions.items() if m.user_id == user_id
            ]

        for sid, m in self.model.sessions.items():
            session: ExternalSession = self.driver.call("get_session", sid, user_id=m.user_id)
            assert session.id == sid
            assert session.internal_session_ids == m.threads
            assert session.current_internal_session_id == m.current
            assert session.current_internal_session_id in session.internal_session_ids
            assert session.branch_count == m.branches
            assert session.total_checkpoints == sum(m.counts.values())

            threads: list[InternalSession] = self.driver.call("branches", sid)
            assert [t.thread_id for t in threads] == m.threads
            for t in threads:
                assert t.session_id == sid
                assert t.checkpoint_count == m.counts[t.thread_id]
                assert t.checkpoint_count == len(self.driver.saved(t.thread_id))
                assert t.parent_thread_id == m.parents[t.thread_id]
                assert t.is_branch == (m.parents[t.thread_id] is not None)


def _machine(driver_class: type[Driver], kind: str) -> Callable[[], SessionsMachine]:
    return type(
        f"{driver_class.__name__}{kind.title()}Machine",
        (SessionsMachine,),
        {"driver_class": driver_class, "kind": kind},
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_sessions_state_machine(kind: str) -> None:
    run_state_machine_as_test(_machine(SyncDriver, kind), settings=SETTINGS)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_sessions_state_machine_async(kind: str) -> None:
    run_state_machine_as_test(_machine(AsyncDriver, kind), settings=SETTINGS)
