"""Undoing tool side effects on rollback: real files, real SQLite rows, every backend.

The agent is a `ToolNode` loop driven by a scripted chat model (no network):
each human turn names the tool calls the model makes, all at once (parallel
calls in one `AIMessage`). The tools write files under `tmp_path` and insert
rows into a SQLite table; their undo handlers delete them. After a rollback
with `reverse_tools=True` the folder and the table must be exactly as they
were at the chosen checkpoint.

Every scenario runs through the sync API on `backend` and the async API on
`abackend`: a plan (tests/plans.py) that the `run` fixture drives with each; under
the async API the undo handlers are async too where the scenario allows both.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from functools import reduce
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import BaseTool, tool
from langgraph.channels import DeltaChannel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import StateSnapshot
from pydantic import PrivateAttr

from agentgit_langgraph import AgentGitError, AgentGitSaver, InMemorySessionStore
from agentgit_langgraph._plan import Plan, call, run_async, run_sync
from agentgit_langgraph.errors import InvalidConfigError, ToolReversalError
from agentgit_langgraph.reversal import (
    ExecutedToolCall,
    ToolReversers,
    reversers_from,
    reversible_tool,
    with_undo,
)
from agentgit_langgraph.sessions import FAILED, NO_HANDLER, PENDING, REVERSED
from tests.conftest import AsyncBackend, Run
from tests.plans import get_state, history, invoke, on

# -- the scripted agent --------------------------------------------------------

Script = dict[str, list[tuple[str, dict[str, Any]]]]


class ScriptedChatModel(BaseChatModel):
    """On a human turn, makes the tool calls `script[text]` lists (all in one
    `AIMessage`); after tool results, or for an unscripted turn, answers `done`."""

    script: Script
    prefix: str = "call"
    _ids: Any = PrivateAttr(default_factory=lambda: itertools.count(1))

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        last = messages[-1]
        calls = self.script.get(str(last.content), []) if isinstance(last, HumanMessage) else []
        if calls:
            reply = AIMessage(
                content="",
                tool_calls=[
                    {"name": name, "args": args, "id": f"{self.prefix}_{next(self._ids)}"}
                    for name, args in calls
                ],
            )
        else:
            humans = [m for m in messages if isinstance(m, HumanMessage)]
            reply = AIMessage(content=f"done: {humans[-1].content if humans else ''}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _add_all(state: list[AnyMessage], writes: Sequence[Any]) -> list[AnyMessage]:
    return reduce(add_messages, writes, state)  # type: ignore[arg-type]


class DeltaState(TypedDict):
    messages: Annotated[list[AnyMessage], DeltaChannel(_add_all, snapshot_frequency=100)]


def agent_builder(model: BaseChatModel, tools: list[BaseTool], *, delta: bool = False) -> Any:
    def agent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    async def aagent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder: StateGraph[Any] = StateGraph(DeltaState if delta else State)
    builder.add_node("agent", RunnableLambda(agent, afunc=aagent))
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder


# -- the world the tools change ------------------------------------------------


class World:
    """A folder and a SQLite table, the tools that change them, and their undos.

    `undone` lists the undone calls in the order their handlers finished;
    `undo_counts` counts successful undos per call id; `fail` and `crash` make
    the handler of a call (by file name / item) raise an error or a
    KeyboardInterrupt-like `Crash`.
    """

    def __init__(self, root: Path, *, async_undo: bool = False) -> None:
        self.folder = root / "files"
        self.folder.mkdir()
        self.db = root / "ledger.db"
        with sqlite3.connect(self.db) as conn:
            conn.execute("CREATE TABLE expenses (id INTEGER PRIMARY KEY, item TEXT, amount REAL)")
        conn.close()
        self.undone: list[str] = []
        self.undo_counts: Counter[str] = Counter()
        self.fail: set[str] = set()
        self.crash: set[str] = set()
        self.undo_threads: set[int] = set()
        world = self

        def undo_file(args: dict[str, Any], result: str) -> None:
            world._check(args["name"])
            (world.folder / args["name"]).unlink()
            world._done(args["name"])

        def undo_expense(args: dict[str, Any], result: str, artifact: int) -> None:
            world._check(args["item"])
            with sqlite3.connect(world.db) as conn:
                conn.execute("DELETE FROM expenses WHERE id = ?", (artifact,))
            conn.close()
            world._done(args["item"])

        async def aundo_file(args: dict[str, Any], result: str) -> None:
            await asyncio.sleep(0)
            undo_file(args, result)

        async def aundo_expense(args: dict[str, Any], result: str, artifact: int) -> None:
            await asyncio.sleep(0)
            undo_expense(args, result, artifact)

        @reversible_tool(undo=aundo_file if async_undo else undo_file)
        def write_file(name: str, text: str) -> str:
            """Write a file."""
            (world.folder / name).write_text(text)
            return f"wrote {name}"

        @reversible_tool(
            undo=aundo_expense if async_undo else undo_expense,
            response_format="content_and_artifact",
        )
        def add_expense(item: str, amount: float) -> tuple[str, int]:
            """Record an expense."""
            with sqlite3.connect(world.db) as conn:
                row_id = conn.execute(
                    "INSERT INTO expenses (item, amount) VALUES (?, ?)", (item, amount)
                ).lastrowid
            conn.close()
            assert row_id is not None
            return f"added {item}", row_id

        @tool
        def log_note(text: str) -> str:
            """Note something down (no undo)."""
            return f"noted {text}"

        self.tools: list[BaseTool] = [write_file, add_expense, log_note]

    def _check(self, key: str) -> None:
        self.undo_threads.add(threading.get_ident())
        if key in self.crash:
            raise Crash(f"killed while undoing {key}")
        if key in self.fail:
            raise RuntimeError(f"cannot undo {key}")

    def _done(self, key: str) -> None:
        self.undone.append(key)
        self.undo_counts[key] += 1

    def snapshot(self) -> tuple[dict[str, str], list[tuple[str, float]]]:
        files = {p.name: p.read_text() for p in sorted(self.folder.iterdir())}
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute("SELECT item, amount FROM expenses ORDER BY id").fetchall()
        conn.close()
        return files, rows


class Crash(BaseException):
    """Like KeyboardInterrupt: the process dies half way through a rollback."""


SCRIPT: Script = {
    "t1": [
        ("write_file", {"name": "a.txt", "text": "A"}),
        ("add_expense", {"item": "coffee", "amount": 3}),
    ],
    "t2": [("add_expense", {"item": "lunch", "amount": 12})],
    "t3": [
        ("write_file", {"name": "b.txt", "text": "B"}),
        ("add_expense", {"item": "taxi", "amount": 30}),
    ],
    "t4": [("log_note", {"text": "remember"}), ("write_file", {"name": "c.txt", "text": "C"})],
}
# Call ids in order: t1 -> 1 (a.txt), 2 (coffee); t2 -> 3 (lunch); t3 -> 4 (b.txt), 5 (taxi);
# t4 -> the next two ids (log_note, c.txt).
AFTER_T1 = (["t1"], {"a.txt": "A"}, [("coffee", 3.0)])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def cfg(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def human(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text, id=f"human-{text}")]}


def end_of_turn(history: list[StateSnapshot], turns: int) -> StateSnapshot:
    """The checkpoint where turn `turns` is fully answered."""
    return next(
        s
        for s in history
        if not s.next
        and sum(isinstance(m, HumanMessage) for m in s.values.get("messages", [])) == turns
    )


def before_tools(history: list[StateSnapshot], turns: int) -> StateSnapshot:
    """The checkpoint of turn `turns` where the model has asked and the tools have not run."""
    return next(
        s
        for s in history
        if s.next == ("tools",)
        and sum(isinstance(m, HumanMessage) for m in s.values["messages"]) == turns
    )


def records_of(thread_id: str) -> Plan[dict[str, Any]]:
    """The thread's reversal records by call number (a plan)."""
    records = yield from call(AgentGitSaver.reversals, thread_id)
    return {r.tool_call_id.split("_")[-1]: r for r in records}


def statuses_of(thread_id: str) -> Plan[dict[str, str]]:
    return {k: r.status for k, r in (yield from records_of(thread_id)).items()}


def statuses(saver: AgentGitSaver, thread_id: str) -> dict[str, str]:
    return run_sync(statuses_of(thread_id), on(saver))


async def astatuses(saver: AgentGitSaver, thread_id: str) -> dict[str, str]:
    return await run_async(statuses_of(thread_id), on(saver))


class Agent:
    """One test's agent: world, model, graph on `saver`, and a fresh thread."""

    def __init__(
        self, saver: AgentGitSaver, tmp_path: Path, *, async_undo: bool = False, delta: bool = False
    ) -> None:
        self.world = World(tmp_path, async_undo=async_undo)
        self.saver = saver
        for name, fn in reversers_from(self.world.tools).items():
            saver.register_reverser(name, fn)
        model = ScriptedChatModel(script=SCRIPT, prefix=unique("call"))
        self.graph = agent_builder(model, self.world.tools, delta=delta).compile(checkpointer=saver)
        self.thread = unique("chat")
        self.config = cfg(self.thread)

    def play(self, *texts: str) -> Plan[None]:
        """A human turn for each text (a plan: `invoke`, or `ainvoke` under `run_async`)."""
        for text in texts:
            yield from invoke(self.graph, human(text), self.config)

    def snapshots(self, config: Any = None) -> Plan[list[StateSnapshot]]:
        """The thread's state history, newest first (a plan)."""
        return history(self.graph, config or self.config)

    def turns(self, *texts: str) -> None:
        run_sync(self.play(*texts), on(self.saver))

    async def aturns(self, *texts: str) -> None:
        await run_async(self.play(*texts), on(self.saver))

    def history(self, config: Any = None) -> list[StateSnapshot]:
        return run_sync(self.snapshots(config), on(self.saver))

    async def ahistory(self, config: Any = None) -> list[StateSnapshot]:
        return await run_async(self.snapshots(config), on(self.saver))


# -- the main scenario ---------------------------------------------------------


def undoes_files_and_rows(saver: AgentGitSaver, agent: Agent) -> Plan[None]:
    yield from agent.play("t1")
    at_t1 = agent.world.snapshot()
    yield from agent.play("t2", "t3")
    assert agent.world.snapshot() != at_t1
    target = end_of_turn((yield from agent.snapshots()), 1)
    session = yield from call(AgentGitSaver.session_for_thread, agent.thread)

    branch = yield from call(AgentGitSaver.rollback, target.config, reverse_tools=True)

    assert agent.world.snapshot() == at_t1 == ({"a.txt": "A"}, [("coffee", 3.0)])
    # Newest first; the parallel calls of t3 in reverse order of the AIMessage.
    assert agent.world.undone == ["taxi", "b.txt", "lunch"]
    records = yield from records_of(agent.thread)
    assert {k: r.status for k, r in records.items()} == {
        "3": REVERSED,
        "4": REVERSED,
        "5": REVERSED,
    }
    assert records["5"].tool_name == "add_expense"
    assert records["5"].args == {"item": "taxi", "amount": 30}
    assert records["4"].tool_name == "write_file"
    assert records["4"].args == {"name": "b.txt", "text": "B"}
    assert all(r.thread_id == agent.thread for r in records.values())
    assert all(
        r.checkpoint_id == target.config["configurable"]["checkpoint_id"] for r in records.values()
    )
    assert all(r.error is None and r.session_id == session.id for r in records.values())
    by_session = yield from call(AgentGitSaver.reversals, session_id=session.id)
    by_thread = yield from call(AgentGitSaver.reversals, agent.thread)
    assert [r.tool_call_id for r in by_session] == [r.tool_call_id for r in by_thread]
    assert len(by_session) == 3
    # The branch is the usual branch: at turn 1, and it goes on from there.
    assert (yield from get_state(agent.graph, branch)).values == target.values
    assert (yield from call(AgentGitSaver.get_session, session.id)).branch_count == 1
    yield from invoke(agent.graph, human("t2"), branch)
    assert agent.world.snapshot() == ({"a.txt": "A"}, [("coffee", 3.0), ("lunch", 12.0)])
    assert (yield from call(AgentGitSaver.reversals, branch["configurable"]["thread_id"])) == []


async def test_rollback_undoes_files_and_rows(
    run: Run, run_backend: AsyncBackend, tmp_path: Path
) -> None:
    """The async API with async undo handlers."""
    async with run_backend.open() as saver:
        agent = Agent(saver, tmp_path, async_undo=run.is_async)
        await run(undoes_files_and_rows(saver, agent), on(saver))


def to_before_the_tools_ran(agent: Agent) -> Plan[None]:
    """The chosen checkpoint holds the AIMessage that asked: its calls are undone."""
    yield from agent.play("t1", "t2")
    at_t2 = agent.world.snapshot()
    yield from agent.play("t3")
    target = before_tools((yield from agent.snapshots()), 3)
    yield from call(AgentGitSaver.rollback, target.config, reverse_tools=True)
    assert agent.world.snapshot() == at_t2
    assert agent.world.undone == ["taxi", "b.txt"]
    assert (yield from statuses_of(agent.thread)) == {"4": REVERSED, "5": REVERSED}


async def test_rollback_to_before_the_tools_ran(
    run: Run, run_backend: AsyncBackend, tmp_path: Path
) -> None:
    async with run_backend.open() as saver:
        await run(to_before_the_tools_ran(Agent(saver, tmp_path)), on(saver))


def test_sync_rollback_runs_async_handlers(backend: Any, tmp_path: Path) -> None:
    """Without a running loop, and from inside one (a fresh loop in a worker thread)."""
    with backend.open() as saver:
        agent = Agent(saver, tmp_path, async_undo=True)
        agent.turns("t1", "t2")
        at_t2 = agent.world.snapshot()
        agent.turns("t3")
        saver.rollback(end_of_turn(agent.history(), 2).config, reverse_tools=True)
        assert agent.world.snapshot() == at_t2

        at_t1 = end_of_turn(agent.history(), 1).config

        async def inside_a_loop() -> None:
            saver.rollback(at_t1, reverse_tools=True)  # a sync call, a loop running

        asyncio.run(inside_a_loop())
        assert len(agent.world.undo_threads) == 2  # this thread, then a worker thread
        assert agent.world.snapshot() == ({"a.txt": "A"}, [("coffee", 3.0)])
        assert agent.world.undone == ["taxi", "b.txt", "lunch"]


async def test_async_rollback_runs_sync_handlers_in_a_thread(abackend: Any, tmp_path: Path) -> None:
    async with abackend.open() as saver:
        agent = Agent(saver, tmp_path)
        await agent.aturns("t1")
        at_t1 = agent.world.snapshot()
        await agent.aturns("t2")
        await saver.arollback(end_of_turn(await agent.ahistory(), 1).config, reverse_tools=True)
        assert agent.world.snapshot() == at_t1
        assert agent.world.undo_threads and threading.get_ident() not in agent.world.undo_threads


# -- failure policies ----------------------------------------------------------


def failing_handler(agent: Agent) -> Plan[None]:
    yield from agent.play("t1", "t2", "t3")
    agent.world.fail.add("b.txt")
    target = end_of_turn((yield from agent.snapshots()), 1)
    session = yield from call(AgentGitSaver.session_for_thread, agent.thread)

    branch = yield from call(AgentGitSaver.rollback, target.config, reverse_tools=True)

    assert (yield from call(AgentGitSaver.get_session, session.id)).branch_count == 1
    assert (yield from get_state(agent.graph, branch)).values == target.values
    assert agent.world.undone == ["taxi", "lunch"]
    assert agent.world.snapshot() == ({"a.txt": "A", "b.txt": "B"}, [("coffee", 3.0)])
    records = yield from records_of(agent.thread)
    assert records["4"].status == FAILED
    assert records["4"].error == "RuntimeError: cannot undo b.txt"
    assert records["5"].status == records["3"].status == REVERSED

    # A failed call is retried by the next rollback past it; the others are not.
    agent.world.fail.clear()
    yield from call(AgentGitSaver.rollback, target.config, reverse_tools=True)
    assert agent.world.snapshot() == AFTER_T1[1:]
    assert agent.world.undo_counts == Counter({"taxi": 1, "lunch": 1, "b.txt": 1})
    assert (yield from statuses_of(agent.thread)) == {"3": REVERSED, "4": REVERSED, "5": REVERSED}


async def test_failing_handler_is_recorded_and_the_rollback_goes_on(
    run: Run, run_backend: AsyncBackend, tmp_path: Path
) -> None:
    async with run_backend.open() as saver:
        agent = Agent(saver, tmp_path, async_undo=run.is_async)
        await run(failing_handler(agent), on(saver))


def strict_stops_at_the_first_failure(agent: Agent) -> Plan[None]:
    yield from agent.play("t1", "t2", "t3")
    agent.world.fail.add("b.txt")
    target = end_of_turn((yield from agent.snapshots()), 1)
    session = yield from call(AgentGitSaver.session_for_thread, agent.thread)
    threads_before = session.internal_session_ids

    with pytest.raises(ToolReversalError, match="write_file") as raised:
        yield from call(AgentGitSaver.rollback, target.config, reverse_tools=True, strict=True)

    err = raised.value
    assert isinstance(err, AgentGitError)
    assert "write_file" in str(err) and err.tool_name == "write_file"
    assert err.tool_call_id.endswith("_4") and err.tool_call_id in str(err)
    assert isinstance(err.__cause__, RuntimeError)
    after = yield from call(AgentGitSaver.get_session, session.id)
    assert after.branch_count == 0
    assert after.internal_session_ids == threads_before
    # Newer calls were undone (and stay recorded); older ones were not tried.
    assert agent.world.undone == ["taxi"]
    assert (yield from statuses_of(agent.thread)) == {"5": REVERSED, "4": FAILED}
    assert agent.world.snapshot() == (
        {"a.txt": "A", "b.txt": "B"},
        [("coffee", 3.0), ("lunch", 12.0)],
    )

    # Fixed, the retry skips what was undone and finishes the job.
    agent.world.fail.clear()
    yield from call(AgentGitSaver.rollback, target.config, reverse_tools=True, strict=True)
    assert agent.world.snapshot() == AFTER_T1[1:]
    assert agent.world.undo_counts == Counter({"taxi": 1, "b.txt": 1, "lunch": 1})
    assert (yield from call(AgentGitSaver.get_session, session.id)).branch_count == 1


async def test_strict_stops_at_the_first_failure_without_a_branch(
    run: Run, run_backend: AsyncBackend, tmp_path: Path
) -> None:
    async with run_backend.open() as saver:
        agent = Agent(saver, tmp_path, async_undo=run.is_async)
        await run(strict_stops_at_the_first_failure(agent), on(saver))


# -- idempotence -----------------------------------------------------------------


def rollbacks_past_the_same_calls(agent: Agent) -> Plan[None]:
    yield from agent.play("t1", "t2", "t3")
    history = yield from agent.snapshots()
    for turn in (1, 2, 1):  # past all three calls, past two of them, past all three again
        yield from call(
            AgentGitSaver.rollback, end_of_turn(history, turn).config, reverse_tools=True
        )
    assert agent.world.undo_counts == Counter({"taxi": 1, "b.txt": 1, "lunch": 1})
    assert agent.world.snapshot() == AFTER_T1[1:]
    # Further back: only the calls not undone yet.
    first = next(s for s in history if s.next == ("agent",) and len(s.values["messages"]) == 1)
    yield from call(AgentGitSaver.rollback, first.config, reverse_tools=True)
    assert agent.world.undo_counts == Counter(
        {"taxi": 1, "b.txt": 1, "lunch": 1, "a.txt": 1, "coffee": 1}
    )
    assert agent.world.undone[-2:] == ["coffee", "a.txt"]
    assert agent.world.snapshot() == ({}, [])
    assert set((yield from statuses_of(agent.thread)).values()) == {REVERSED}
    assert len((yield from call(AgentGitSaver.reversals, agent.thread))) == 5
    session = yield from call(AgentGitSaver.session_for_thread, agent.thread)
    assert (yield from call(AgentGitSaver.get_session, session.id)).branch_count == 4


async def test_two_rollbacks_past_the_same_calls_undo_them_once(
    run: Run, run_backend: AsyncBackend, tmp_path: Path
) -> None:
    async with run_backend.open() as saver:
        agent = Agent(saver, tmp_path, async_undo=run.is_async)
        await run(rollbacks_past_the_same_calls(agent), on(saver))


def test_a_branch_holding_copies_of_undone_calls_does_not_undo_them_again(
    backend: Any, tmp_path: Path
) -> None:
    """With a `DeltaChannel`, a branch copies the checkpoints (and writes) its
    messages are rebuilt from, so rolling back inside the branch goes past
    copies of the calls: they are the same calls, undone once in all."""
    with backend.open() as saver:
        agent = Agent(saver, tmp_path, delta=True)
        agent.turns("t1", "t2", "t3")
        history = agent.history()
        at_t1 = end_of_turn(history, 1)

        def branch_at_head() -> tuple[str, Any]:
            # A branch at the head (nothing to undo there), and its copy of turn 1.
            copy = saver.rollback(history[0].config, reverse_tools=True)
            copied_t1 = end_of_turn(agent.history(copy), 1)
            assert (
                copied_t1.config["configurable"]["checkpoint_id"]
                == (at_t1.config["configurable"]["checkpoint_id"])
            )
            return copy["configurable"]["thread_id"], copied_t1.config

        # Undone from a branch holding copies: found there, recorded there...
        first_copy, copied_t1 = branch_at_head()
        saver.rollback(copied_t1, reverse_tools=True)
        assert agent.world.undone == ["taxi", "b.txt", "lunch"]
        assert statuses(saver, first_copy) == {"3": REVERSED, "4": REVERSED, "5": REVERSED}
        assert agent.world.snapshot() == AFTER_T1[1:]

        # ... then never again: not from the original thread, not from another copy.
        saver.rollback(at_t1.config, reverse_tools=True)
        second_copy, copied_again = branch_at_head()
        saver.rollback(copied_again, reverse_tools=True)
        assert agent.world.undo_counts == Counter({"taxi": 1, "b.txt": 1, "lunch": 1})
        assert saver.reversals(agent.thread) == saver.reversals(second_copy) == []
        assert len(saver.reversals(session_id=saver.session_for_thread(agent.thread).id)) == 3


async def test_adelta_channel_messages_are_found(abackend: Any, tmp_path: Path) -> None:
    async with abackend.open() as saver:
        agent = Agent(saver, tmp_path, delta=True)
        await agent.aturns("t1", "t2")
        at_t2 = agent.world.snapshot()
        await agent.aturns("t3")
        await saver.arollback(before_tools(await agent.ahistory(), 3).config, reverse_tools=True)
        assert agent.world.snapshot() == at_t2
        records = {r.tool_call_id.split("_")[-1]: r for r in await saver.areversals(agent.thread)}
        assert records["4"].args == {"name": "b.txt", "text": "B"}
        assert records["5"].args == {"item": "taxi", "amount": 30}


def crash_part_way(agent: Agent) -> Plan[tuple[Any, int]]:
    """A handler "kills the process" part way: the rollback target and the session."""
    yield from agent.play("t1", "t2", "t3")
    agent.world.crash.add("b.txt")
    target = end_of_turn((yield from agent.snapshots()), 1)
    session = yield from call(AgentGitSaver.session_for_thread, agent.thread)

    with pytest.raises(Crash):
        yield from call(AgentGitSaver.rollback, target.config, reverse_tools=True)

    assert (yield from statuses_of(agent.thread)) == {"5": REVERSED, "4": PENDING}
    assert (yield from call(AgentGitSaver.get_session, session.id)).branch_count == 0
    agent.world.crash.clear()
    return target, session.id


def retry_after_the_crash(agent: Agent, target: Any, session_id: int) -> Plan[None]:
    yield from call(AgentGitSaver.rollback, target.config, reverse_tools=True)
    assert agent.world.undo_counts == Counter({"taxi": 1, "b.txt": 1, "lunch": 1})
    assert agent.world.snapshot() == AFTER_T1[1:]
    assert (yield from statuses_of(agent.thread)) == {"3": REVERSED, "4": REVERSED, "5": REVERSED}
    assert (yield from call(AgentGitSaver.get_session, session_id)).branch_count == 1


async def test_a_retry_after_a_crash_skips_what_was_undone(
    run: Run, run_backend: AsyncBackend, tmp_path: Path
) -> None:
    async with run_backend.open() as saver:
        agent = Agent(saver, tmp_path, async_undo=run.is_async)
        target, session_id = await run(crash_part_way(agent), on(saver))
    async with run_backend.open() as saver:  # a new process, on the same data
        for name, fn in reversers_from(agent.world.tools).items():
            saver.register_reverser(name, fn)
        await run(retry_after_the_crash(agent, target, session_id), on(saver))


# -- no handler, no reversal -------------------------------------------------------


def tool_without_handler(agent: Agent) -> Plan[None]:
    yield from agent.play("t1", "t2")
    at_t2 = agent.world.snapshot()
    yield from agent.play("t4")
    target = end_of_turn((yield from agent.snapshots()), 2)
    branch = yield from call(AgentGitSaver.rollback, target.config, reverse_tools=True, strict=True)
    assert agent.world.snapshot() == at_t2
    records = yield from records_of(agent.thread)
    # t4 makes calls 4 (log_note, no handler) and 5 (c.txt).
    assert records["4"].status == NO_HANDLER and records["4"].tool_name == "log_note"
    assert records["4"].args == {"text": "remember"}
    assert records["5"].status == REVERSED
    assert agent.world.undone == ["c.txt"]
    state = yield from get_state(agent.graph, branch)
    assert state.values["messages"][-1].content == "done: t2"


async def test_a_tool_without_handler_is_recorded_and_skipped(
    run: Run, run_backend: AsyncBackend, tmp_path: Path
) -> None:
    async with run_backend.open() as saver:
        await run(tool_without_handler(Agent(saver, tmp_path)), on(saver))


def without_reverse_tools(agent: Agent) -> Plan[None]:
    yield from agent.play("t1", "t2", "t3")
    at_head = agent.world.snapshot()
    yield from call(AgentGitSaver.rollback, end_of_turn((yield from agent.snapshots()), 1).config)
    assert agent.world.snapshot() == at_head
    assert agent.world.undone == []
    assert (yield from call(AgentGitSaver.reversals, agent.thread)) == []


async def test_without_reverse_tools_nothing_is_undone(
    run: Run, run_backend: AsyncBackend, tmp_path: Path
) -> None:
    async with run_backend.open() as saver:
        await run(without_reverse_tools(Agent(saver, tmp_path)), on(saver))


def runs_without_stored_writes(agent: Agent) -> Plan[None]:
    """`durability="exit"` keeps no writes between checkpoints: the head's state tells."""
    yield from invoke(agent.graph, human("t1"), agent.config, durability="exit")
    at_t1 = agent.world.snapshot()
    for text in ("t2", "t3"):
        yield from invoke(agent.graph, human(text), agent.config, durability="exit")
    target = end_of_turn((yield from agent.snapshots()), 1)
    yield from call(AgentGitSaver.rollback, target.config, reverse_tools=True)
    assert agent.world.snapshot() == at_t1
    assert agent.world.undone == ["taxi", "b.txt", "lunch"]
    assert (yield from statuses_of(agent.thread)) == {"3": REVERSED, "4": REVERSED, "5": REVERSED}


async def test_calls_of_runs_without_stored_writes_are_found(
    run: Run, run_backend: AsyncBackend, tmp_path: Path
) -> None:
    async with run_backend.open() as saver:
        await run(runs_without_stored_writes(Agent(saver, tmp_path)), on(saver))


def test_results_of_an_unfinished_step_are_undone(backend: Any, tmp_path: Path) -> None:
    """The tools ran, a node beside them failed: their results wait at the head as
    pending writes, never applied, yet the side effects happened."""
    with backend.open() as saver:
        world = World(tmp_path)
        for name, fn in reversers_from(world.tools).items():
            saver.register_reverser(name, fn)
        model = ScriptedChatModel(script=SCRIPT, prefix=unique("call"))
        broken = {"audit": False}

        def agent(state: State) -> dict[str, Any]:
            return {"messages": [model.invoke(state["messages"])]}

        def audit(state: State) -> dict[str, Any]:
            if broken["audit"]:
                raise RuntimeError("audit service down")
            return {}

        def route(state: State) -> list[str] | str:
            last = state["messages"][-1]
            return ["tools", "audit"] if isinstance(last, AIMessage) and last.tool_calls else END

        builder: StateGraph[Any] = StateGraph(State)
        builder.add_node("agent", agent)
        builder.add_node("tools", ToolNode(world.tools))
        builder.add_node("audit", audit)
        builder.add_edge(START, "agent")
        builder.add_conditional_edges("agent", route, ["tools", "audit", END])
        builder.add_edge("tools", "agent")
        builder.add_edge("audit", END)
        graph = builder.compile(checkpointer=saver)
        config = cfg(unique("chat"))
        graph.invoke(human("t1"), config)
        at_t1 = world.snapshot()
        broken["audit"] = True
        with pytest.raises(RuntimeError, match="audit service down"):
            graph.invoke(human("t3"), config)
        history = list(graph.get_state_history(config))
        assert set(history[0].next) == {"audit", "tools"}  # the step did not finish
        assert world.snapshot() != at_t1

        # To the head itself: the branch keeps those results, nothing to undo.
        saver.rollback(history[0].config, reverse_tools=True)
        assert world.undone == []
        saver.rollback(end_of_turn(history, 1).config, reverse_tools=True)
        assert world.snapshot() == at_t1
        assert world.undone == ["taxi", "b.txt"]


def test_rollback_to_the_head_undoes_nothing(backend: Any, tmp_path: Path) -> None:
    with backend.open() as saver:
        agent = Agent(saver, tmp_path)
        agent.turns("t1", "t2")
        at_head = agent.world.snapshot()
        saver.rollback(agent.history()[0].config, reverse_tools=True)
        assert agent.world.snapshot() == at_head
        assert saver.reversals(agent.thread) == []


# -- a custom tool node, and the pieces on their own -----------------------------------


def test_tool_messages_from_a_custom_node(tmp_path: Path) -> None:
    """No ToolNode: a node of our own answers the calls with ToolMessages."""
    world = World(tmp_path)
    model = ScriptedChatModel(script=SCRIPT)
    tools = {t.name: t for t in world.tools}

    def agent(state: State) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def run_tools(state: State) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        out: list[ToolMessage] = []
        for tool_call in last.tool_calls:
            out.append(tools[tool_call["name"]].invoke({**tool_call, "type": "tool_call"}))
        return {"messages": out}

    builder: StateGraph[Any] = StateGraph(State)
    builder.add_node("agent", agent)
    builder.add_node("tools", run_tools)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition, ["tools", END])
    builder.add_edge("tools", "agent")
    saver = AgentGitSaver(InMemorySaver(), reversers=reversers_from(world.tools))
    graph = builder.compile(checkpointer=saver)
    config = cfg("custom")
    graph.invoke(human("t1"), config)
    at_t1 = world.snapshot()
    graph.invoke(human("t3"), config)
    saver.rollback(end_of_turn(list(graph.get_state_history(config)), 1).config, reverse_tools=True)
    assert world.snapshot() == at_t1
    assert world.undone == ["taxi", "b.txt"]


def test_reversers_registry_and_handler_shapes() -> None:
    seen: list[tuple[Any, ...]] = []
    reversers = ToolReversers(
        {
            "one": lambda args: seen.append((args,)),
            "two": lambda args, result: seen.append((args, result)),
            "three": lambda args, result, artifact: seen.append((args, result, artifact)),
            "star": lambda *a: seen.append(a),
        }
    )
    for name in ("one", "two", "three", "star"):
        call = ExecutedToolCall("id", name, {"x": 1}, "out", artifact=7)
        assert reversers.run(call) == REVERSED
    assert seen == [({"x": 1},), ({"x": 1}, "out"), ({"x": 1}, "out", 7), ({"x": 1}, "out", 7)]
    assert reversers.run(ExecutedToolCall("id", "other", {}, "")) == NO_HANDLER
    assert asyncio.run(reversers.arun(ExecutedToolCall("id", "other", {}, ""))) == NO_HANDLER
    assert set(reversers) == {"one", "two", "three", "star"} and len(reversers) == 4
    with pytest.raises(InvalidConfigError):
        reversers.register("bad", lambda: None)
    with pytest.raises(InvalidConfigError):
        reversers.register("bad", "not callable")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError):
        AgentGitSaver(InMemorySaver()).reversals()


def test_reversible_tool_and_reversers_from() -> None:
    def undo(args: dict[str, Any], result: str) -> None: ...

    @reversible_tool(undo=undo)
    def book(flight: str) -> str:
        """Book a flight."""
        return flight

    @reversible_tool("cancel_it", undo=undo, description="Cancel.")
    def cancel(flight: str) -> str:
        return flight

    @tool
    def search(q: str) -> str:
        """Search."""
        return q

    tagged = with_undo(search.model_copy(update={"name": "search2"}), undo)
    assert isinstance(book, BaseTool) and book.invoke({"flight": "LIS"}) == "LIS"
    assert cancel.name == "cancel_it" and cancel.description == "Cancel."
    assert reversers_from([book, cancel, search, tagged]) == {
        "book": undo,
        "cancel_it": undo,
        "search2": undo,
    }
    assert "undo" not in str(book.model_dump())  # not a field: kept out of schemas and dumps
    saver = AgentGitSaver(InMemorySaver(), InMemorySessionStore(), reversers=reversers_from([book]))
    assert "book" in saver.reversers and "search" not in saver.reversers
    saver.register_reverser("search", undo)
    assert saver.reversers.get("search") is undo


async def test_from_conn_string_takes_reversers(run: Run, tmp_path: Path) -> None:
    def undo(args: Any) -> None:
        return None

    async with run.from_conn_string(str(tmp_path / "r.db"), reversers={"book": undo}) as saver:
        assert saver.reversers.get("book") is undo
        assert saver.reversers.get("other") is None
