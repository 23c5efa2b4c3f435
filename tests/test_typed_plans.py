"""Plans name the real methods they call: a type checker follows them.

`mypy --strict` must fail on a misspelled plan call and on a wrong argument,
and accept the correct call, whose result has the method's return type. The
saver's public sync/async pairs (`_plan.twins`) are checked the same way, called
on a saver (`saver.log(...)`, `await saver.alog(...)`) or named in a plan
(`call(AgentGitSaver.rollback, ...)`).
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph._plan import Call, call, gather, run_async, run_sync
from agentgit_langgraph.sessions import InternalSession
from agentgit_langgraph.stores.base import BaseSessionStore
from agentgit_langgraph.stores.memory import InMemorySessionStore

HEADER = """\
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph.history.records import LogEntry
from agentgit_langgraph.sessions import InternalSession
from agentgit_langgraph.stores.base import BaseSessionStore
"""

CASES = {
    "correct": (
        """
        def plan(thread_id: str) -> Plan[InternalSession | None]:
            thread = yield from call(BaseSessionStore.get_thread, thread_id)
            config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
            tuples: list[CheckpointTuple] = yield from gather(
                BaseCheckpointSaver.list, config, limit=1
            )
            return thread
        """,
        None,
    ),
    "misspelled method": (
        """
        def plan(thread_id: str) -> Plan[None]:
            yield from call(BaseSessionStore.get_thred, thread_id)
        """,
        'has no attribute "get_thred"',
    ),
    "wrong argument count": (
        """
        def plan(thread_id: str) -> Plan[None]:
            yield from call(BaseSessionStore.get_thread, thread_id, "extra")
        """,
        '"call"',
    ),
    "wrong argument type": (
        """
        def plan() -> Plan[None]:
            yield from call(BaseSessionStore.get_session, "not an int")
        """,
        'incompatible type "str"',
    ),
    "saver calls": (
        """
        async def use(saver: AgentGitSaver, cfg: RunnableConfig) -> None:
            entries: list[LogEntry] = saver.log(cfg, limit=3, user_id="alice")
            more: list[LogEntry] = await saver.alog(7, limit=1)
            branch: RunnableConfig = saver.rollback(cfg, name="retry", strict=True)
            again: RunnableConfig = await saver.arollback(branch)
            text: str = saver.tree(7)
            plan: Plan[RunnableConfig] = call(AgentGitSaver.rollback, cfg, name="retry")
            later: Plan[list[LogEntry]] = call(AgentGitSaver.log, 7, limit=2)
        """,
        None,
    ),
    "saver sync call, wrong argument": (
        """
        def use(saver: AgentGitSaver, cfg: RunnableConfig) -> None:
            saver.log(cfg, limit="3")
        """,
        'Argument "limit" has incompatible type "str"',
    ),
    "saver async call, wrong argument": (
        """
        async def use(saver: AgentGitSaver, cfg: RunnableConfig) -> None:
            await saver.alog(cfg, limitt=3)
        """,
        'Unexpected keyword argument "limitt"',
    ),
    "saver call, wrong result": (
        """
        def use(saver: AgentGitSaver) -> int:
            return saver.tree(7)
        """,
        "Incompatible return value type",
    ),
    "saver method in a plan, wrong argument": (
        """
        def plan(cfg: RunnableConfig) -> Plan[RunnableConfig]:
            return (yield from call(AgentGitSaver.rollback, cfg, nam="retry"))
        """,
        'Unexpected keyword argument "nam" for "call"',
    ),
    "wrong result type": (
        """
        def plan(thread_id: str) -> Plan[int]:
            thread = yield from call(BaseSessionStore.get_thread, thread_id)
            return thread
        """,
        "Incompatible return value type",
    ),
}


@pytest.mark.slow
def test_mypy_strict_follows_plan_calls(tmp_path: Path) -> None:
    for name, (body, _expected) in CASES.items():
        module = tmp_path / f"case_{name.replace(' ', '_')}.py"
        module.write_text(HEADER + textwrap.dedent(body))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / ".cache"),
            *sorted(str(p) for p in tmp_path.glob("case_*.py")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = result.stdout
    for name, (_, expected) in CASES.items():
        lines = [
            line for line in report.splitlines() if f"case_{name.replace(' ', '_')}.py" in line
        ]
        if expected is None:
            assert lines == [], f"{name}: {lines}"
        else:
            assert any(expected in line for line in lines), f"{name}: {lines}\n{report}"


def test_drivers_find_the_target_by_the_methods_class() -> None:
    store = InMemorySessionStore()
    store.create_session(user_id=1, session_name="s", metadata=None, thread_id="t")

    def plan() -> object:
        thread = yield from call(BaseSessionStore.get_thread, "t")
        return thread

    found = run_sync(plan(), {BaseSessionStore: store})  # type: ignore[arg-type]
    assert isinstance(found, InternalSession) and found.thread_id == "t"
    with pytest.raises(LookupError, match="get_thread"):
        run_sync(plan(), {})  # type: ignore[arg-type]
    assert Call(BaseSessionStore.get_thread).collect is False
    assert gather is not call


def test_the_drivers_call_the_savers_public_methods() -> None:
    """`call(AgentGitSaver.<method>, ...)` runs `saver.<method>` or awaits `saver.a<method>`."""
    saver = AgentGitSaver(InMemorySaver())
    targets = {AgentGitSaver: saver}
    # On the class, a public pair is one object each time, named as the method.
    assert AgentGitSaver.rollback is AgentGitSaver.rollback
    assert AgentGitSaver.rollback.__name__ == "rollback"
    assert AgentGitSaver.arollback.__name__ == "arollback"
    session = run_sync(call(AgentGitSaver.create_session, 1, "typed"), targets)
    assert session.id is not None
    found = asyncio.run(run_async(call(AgentGitSaver.get_session, session.id), targets))
    assert found.id == session.id and found.session_name == "typed"
    config = run_sync(call(AgentGitSaver.config_for, session), targets)
    assert config == saver.config_for(session.id)


def test_the_public_pairs_keep_their_signature_and_docs() -> None:
    saver = AgentGitSaver(InMemorySaver())
    assert saver.log.__name__ == "log" and saver.alog.__name__ == "alog"
    assert "newest first" in (saver.log.__doc__ or "")
    assert (saver.alog.__doc__ or "").startswith("Async twin of `log`")
    params = inspect.signature(saver.rollback).parameters
    assert list(params)[:3] == ["config", "user_id", "name"]
    assert asyncio.iscoroutine(coroutine := saver.alist_sessions())
    assert asyncio.run(coroutine) == []
