"""Plans name the real methods they call: a type checker follows them.

`mypy --strict` must fail on a misspelled plan call and on a wrong argument,
and accept the correct call, whose result has the method's return type.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agentgit_langgraph._plan import Call, call, gather, run_sync
from agentgit_langgraph.sessions import InternalSession
from agentgit_langgraph.stores.base import BaseSessionStore
from agentgit_langgraph.stores.memory import InMemorySessionStore

HEADER = """\
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph._plan import Plan, call, gather
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
