"""Branch insight: stats, status and intent, in-thread forks, show, rewind modes, render_log.

Scenarios are plans (tests/plans.py) run by `run` with the sync API and the
async one, on every backend (`run_backend`: memory, SQLite, PostgreSQL).

Expected token counts follow `tests.graphs.usage_of`: a model call that sees
n messages and asks for k tool calls reports 10n input tokens, 7 + 3k output
tokens, n cache reads and 2 reasoning tokens.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langgraph.types import StateSnapshot

from agentgit_langgraph import (
    AgentGitSaver,
    BranchStats,
    CheckpointView,
    InvalidConfigError,
    RefNotFoundError,
    SessionStats,
    ThreadNotFoundError,
    UnreversedToolCallsWarning,
    render_log,
)
from agentgit_langgraph._plan import Plan, call
from agentgit_langgraph.history.tree import SessionTree
from agentgit_langgraph.stores.base import BaseSessionStore
from tests.conftest import AsyncBackend, Run
from tests.graphs import UsageEchoModel, UsageToolModel, chat_graph_builder, human
from tests.plans import Graph, cfg, history, invoke, on, snapshot

# -- helpers ------------------------------------------------------------------------


def usage(n_messages: int, tool_calls: int = 0) -> tuple[int, int, int]:
    """(input, output, total) tokens of one model call (see `usage_of`)."""
    inp, out = 10 * n_messages, 7 + 3 * tool_calls
    return inp, out, inp + out


def cid(snap: StateSnapshot) -> str:
    return str(snap.config["configurable"]["checkpoint_id"])


def ts(snap: StateSnapshot) -> datetime:
    assert snap.created_at is not None
    return datetime.fromisoformat(snap.created_at)


def loops(snaps: Sequence[StateSnapshot]) -> int:
    return sum(1 for s in snaps if s.metadata and s.metadata.get("source") == "loop")


def expect(
    stats: BranchStats, calls: Sequence[tuple[int, int]], added: Sequence[StateSnapshot]
) -> None:
    """`stats` counts exactly the model calls `calls` ((messages seen, tool calls) each)
    and the checkpoints `added` (as LangGraph's own history lists them)."""
    tokens = [usage(n, k) for n, k in calls]
    assert stats.model_calls == len(calls)
    assert stats.input_tokens == sum(t[0] for t in tokens)
    assert stats.output_tokens == sum(t[1] for t in tokens)
    assert stats.total_tokens == sum(t[2] for t in tokens)
    assert stats.token_details == {
        "input_cache_read": sum(n for n, _ in calls),
        "output_reasoning": 2 * len(calls),
    }
    assert stats.steps == loops(added)
    assert stats.first_at == min(ts(s) for s in added)
    assert stats.last_at == max(ts(s) for s in added)
    assert stats.wall_time_s == (stats.last_at - stats.first_at).total_seconds()
    assert stats.first_at.utcoffset() is not None


def chat(saver: AgentGitSaver) -> Any:
    return chat_graph_builder(UsageEchoModel()).compile(checkpointer=saver)


# -- stats: a StateGraph ------------------------------------------------------------


def chat_stats_plan(saver: AgentGitSaver) -> Plan[None]:
    graph = chat(saver)
    main = cfg("chat-main")
    for n, text in enumerate(["a", "b", "c"]):
        yield from invoke(graph, human(text, n), main)
    main_history = yield from history(graph, main)
    end_of_turn_1 = main_history[6]
    branch = yield from call(AgentGitSaver.rollback, end_of_turn_1.config, intent="try x")
    yield from invoke(graph, human("x", 9), branch)
    branch_history = yield from history(graph, branch)
    point = cid(end_of_turn_1)

    main_stats = yield from call(AgentGitSaver.stats, "chat-main")
    assert isinstance(main_stats, BranchStats)
    expect(main_stats, [(1, 0), (3, 0), (5, 0)], main_history)
    assert main_stats.checkpoints == 9 and main_stats.tool_calls == {}
    added = [s for s in branch_history if cid(s) > point]
    branch_stats = yield from call(AgentGitSaver.stats, branch["configurable"]["thread_id"])
    assert isinstance(branch_stats, BranchStats)
    # Only the call the branch made: its copy of turn 1 is main's.
    expect(branch_stats, [(3, 0)], added)
    assert branch_stats.checkpoints == 4

    sid = (yield from call(AgentGitSaver.session_for_thread, "chat-main")).id
    session = yield from call(AgentGitSaver.stats, session_id=sid)
    assert isinstance(session, SessionStats)
    assert session.branches == (main_stats, branch_stats)
    expect(session.total, [(1, 0), (3, 0), (5, 0), (3, 0)], [*main_history, *added])
    assert session.total.thread_id is None and session.total.checkpoints == 13
    assert session.to_dict()["total"]["total_tokens"] == 17 + 37 + 57 + 37
    assert BranchStats.from_dict(branch_stats.to_dict()) == branch_stats

    # The tree carries the same numbers on request.
    data = yield from call(AgentGitSaver.tree_data, sid, stats=True)
    root = data["roots"][0]
    assert root["stats"] == main_stats.to_dict()
    assert root["children"][0]["stats"] == branch_stats.to_dict()
    text = yield from call(AgentGitSaver.tree, sid, stats=True)
    assert "3 model calls, 111 tokens, 0 tool calls" in text
    assert "1 model call, 37 tokens, 0 tool calls" in text
    plain = yield from call(AgentGitSaver.tree_data, sid)
    assert "stats" not in plain["roots"][0]


async def test_stats_of_a_state_graph(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(chat_stats_plan(saver), on(saver))


# -- stats: the prebuilt ReAct agent ------------------------------------------------


@tool
def book_flight(to: str) -> str:
    """Book a flight."""
    return f"booked {to}"


def react(saver: AgentGitSaver, tools: Sequence[Any] = (book_flight,)) -> Any:
    from langgraph.prebuilt import create_react_agent

    model = UsageToolModel(
        script={
            "book": [("book_flight", {"to": "LIS"})],
            "train": [("book_train", {"to": "LIS"})],
        }
    )
    with warnings.catch_warnings():  # deprecated in favour of langchain's create_agent
        warnings.simplefilter("ignore")
        return create_react_agent(model, list(tools), checkpointer=saver)


def react_stats_plan(saver: AgentGitSaver) -> Plan[None]:
    agent = react(saver)
    main = cfg("react-main")
    yield from invoke(agent, human("book", 0), main)
    yield from invoke(agent, human("thanks", 1), main)
    main_history = yield from history(agent, main)
    # call 1 sees [human] and asks for a tool; call 2 sees [human, ai, tool]; call 3 five.
    main_stats = yield from call(AgentGitSaver.stats, "react-main")
    assert isinstance(main_stats, BranchStats)
    expect(main_stats, [(1, 1), (3, 0), (5, 0)], main_history)
    assert main_stats.tool_calls == {"book_flight": 1}

    end_of_turn_1 = next(
        s
        for s in main_history
        if s.metadata["source"] == "loop" and s.values["messages"][-1].content.startswith("Done")
    )
    branch = yield from call(AgentGitSaver.rollback, end_of_turn_1.config)
    yield from invoke(agent, human("book", 2), branch)
    added = [s for s in (yield from history(agent, branch)) if cid(s) > cid(end_of_turn_1)]
    branch_stats = yield from call(AgentGitSaver.stats, branch["configurable"]["thread_id"])
    assert isinstance(branch_stats, BranchStats)
    expect(branch_stats, [(5, 1), (7, 0)], added)
    assert branch_stats.tool_calls == {"book_flight": 1}

    sid = (yield from call(AgentGitSaver.session_for_thread, "react-main")).id
    session = yield from call(AgentGitSaver.stats, session_id=sid)
    assert isinstance(session, SessionStats)
    assert session.total.tool_calls == {"book_flight": 2}
    assert session.total.model_calls == 5
    assert session.total.total_tokens == sum(
        usage(n, k)[2] for n, k in [(1, 1), (3, 0), (5, 0), (5, 1), (7, 0)]
    )


async def test_stats_of_a_react_agent(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(react_stats_plan(saver), on(saver))


# -- status and intent ----------------------------------------------------------------


def status_plan(saver: AgentGitSaver) -> Plan[None]:
    graph = chat(saver)
    main = cfg("st-main")
    yield from invoke(graph, human("a", 0), main)
    snaps = yield from history(graph, main)
    train = yield from call(
        AgentGitSaver.rollback, snaps[1].config, name="train", intent="take the train instead"
    )
    bus = yield from call(AgentGitSaver.rollback, snaps[1].config, intent="or the bus")
    train_id, bus_id = train["configurable"]["thread_id"], bus["configurable"]["thread_id"]
    sid = (yield from call(AgentGitSaver.session_for_thread, "st-main")).id
    yield from call(AgentGitSaver.switch, sid, "st-main")

    record = yield from call(AgentGitSaver.set_status, train_id, "kept", reason="cheaper")
    assert (record.status, record.status_reason, record.intent) == (
        "kept",
        "cheaper",
        "take the train instead",
    )
    yield from call(AgentGitSaver.set_status, bus_id, "abandoned")
    threads = yield from call(AgentGitSaver.branches, sid)
    assert [(t.status, t.status_reason, t.intent) for t in threads] == [
        ("active", None, None),
        ("kept", "cheaper", "take the train instead"),
        ("abandoned", None, "or the bus"),
    ]
    data = yield from call(AgentGitSaver.tree_data, sid, forks=False)
    kids = {c["thread_id"]: c for c in data["roots"][0]["children"]}
    assert (kids[train_id]["status"], kids[train_id]["status_reason"]) == ("kept", "cheaper")
    assert kids[bus_id]["intent"] == "or the bus" and kids[bus_id]["status"] == "abandoned"
    assert SessionTree.from_dict(data).to_dict() == data
    text = yield from call(AgentGitSaver.tree, sid)
    assert "[kept: cheaper]  intent: take the train instead" in text
    assert "[abandoned]  intent: or the bus" in text
    assert "[active]" not in text
    mermaid = yield from call(AgentGitSaver.mermaid, sid)
    assert "branch train" in mermaid
    assert 'commit id: "train head  [kept: cheaper]  intent: take the train instead"' in mermaid
    assert "[abandoned]  intent: or the bus" in mermaid and "[active]" not in mermaid
    with_stats = yield from call(AgentGitSaver.mermaid, sid, stats=True)
    assert (
        "train head  [kept: cheaper]  intent: take the train instead  0 model calls" in with_stats
    )

    # Pruning by status removes the abandoned branch only; a status change is reversible.
    yield from call(AgentGitSaver.set_status, train_id, "active")
    removed = yield from call(AgentGitSaver.prune_branches, sid, status="abandoned")
    assert removed == [bus_id]
    left = yield from call(AgentGitSaver.branches, sid)
    assert [(t.thread_id, t.status, t.status_reason) for t in left] == [
        ("st-main", "active", None),
        (train_id, "active", None),
    ]


async def test_status_and_intent_round_trip(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(status_plan(saver), on(saver))


def bad_status_plan(saver: AgentGitSaver) -> Plan[None]:
    graph = chat(saver)
    yield from invoke(graph, human("a", 0), cfg("bad-main"))
    snaps = yield from history(graph, cfg("bad-main"))
    sid = (yield from call(AgentGitSaver.session_for_thread, "bad-main")).id
    before = yield from snapshot(saver)
    refused: list[tuple[Any, type[Exception]]] = [
        (call(AgentGitSaver.set_status, "bad-main", "done"), InvalidConfigError),
        (call(AgentGitSaver.set_status, "bad-main", "kept", reason=""), InvalidConfigError),
        (call(AgentGitSaver.set_status, "bad-main", "kept", reason="x" * 5000), InvalidConfigError),
        (call(AgentGitSaver.set_status, "nobody", "kept"), ThreadNotFoundError),
        (call(AgentGitSaver.rollback, snaps[0].config, intent=7), InvalidConfigError),
        (call(AgentGitSaver.rollback, snaps[0].config, intent="a\x00b"), InvalidConfigError),
        (call(AgentGitSaver.prune_branches, sid, status="gone"), InvalidConfigError),
        (call(AgentGitSaver.stats), InvalidConfigError),
        (call(AgentGitSaver.stats, "bad-main", session_id=sid), InvalidConfigError),
        (call(AgentGitSaver.stats, "nobody"), ThreadNotFoundError),
        (call(AgentGitSaver.show, "HEAD"), InvalidConfigError),
        (call(AgentGitSaver.show, 42), InvalidConfigError),  # type: ignore[arg-type]
        (call(AgentGitSaver.show, "no-such-ref", session_id=sid), RefNotFoundError),
        (call(AgentGitSaver.log, cfg("bad-main"), fork="nope"), RefNotFoundError),
        (call(AgentGitSaver.log, snaps[0].config, fork=""), InvalidConfigError),
        (call(AgentGitSaver.undo_tools, cfg("bad-main")), InvalidConfigError),
        (call(AgentGitSaver.undo_tools, snaps[0].config, strict="yes"), InvalidConfigError),
    ]
    for plan, error in refused:
        with pytest.raises(error):
            yield from plan
    assert (yield from snapshot(saver)) == before


async def test_bad_input_changes_nothing(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(bad_status_plan(saver), on(saver))


# -- native forks -------------------------------------------------------------------------


def parent_chain(snaps: Sequence[StateSnapshot], leaf: str) -> list[str]:
    """The checkpoint ids from `leaf` back to the thread's root, by parent links."""
    parent = {
        cid(s): (s.parent_config or {}).get("configurable", {}).get("checkpoint_id") for s in snaps
    }
    chain, at = [], leaf
    while at is not None:
        chain.append(at)
        at = parent.get(at)
    return chain


def forks_plan(saver: AgentGitSaver) -> Plan[None]:
    graph = chat(saver)
    main = cfg("fork-main")
    for n, text in enumerate(["a", "b", "c"]):
        yield from invoke(graph, human(text, n), main)
    original = yield from history(graph, main)
    fork_a, fork_b = original[4], original[1]  # step 3 (before b's answer), step 6
    # Two forks by LangGraph's own time travel, in the same thread.
    yield from invoke(graph, None, fork_a.config)  # re-run from there
    yield from call(Graph.update_state, graph, fork_b.config, human("c, rather", 7))
    snaps = yield from history(graph, main)

    # Expected ids, as the SDK's getBranchSequence builds them: at a checkpoint with
    # two or more children, each child starts a path element.
    children: dict[str, list[str]] = {}
    for s in snaps:
        p = (s.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        if p:
            children.setdefault(p, []).append(cid(s))
    assert sorted(k for k, v in children.items() if len(v) > 1) == sorted(
        [cid(fork_a), cid(fork_b)]
    )
    orig_a = cid(original[3])  # the original child of fork_a
    orig_b = cid(original[0])  # the original child of fork_b
    rerun = next(c for c in children[cid(fork_a)] if c != orig_a)
    update = next(c for c in children[cid(fork_b)] if c != orig_b)
    head = cid(snaps[0])
    assert head == update  # LangGraph continues on the newest fork

    sid = (yield from call(AgentGitSaver.session_for_thread, "fork-main")).id
    data = yield from call(AgentGitSaver.tree_data, sid, stats=True)
    root = data["roots"][0]
    assert (root["kind"], root["fork_id"], root["head_checkpoint_id"]) == (
        "thread",
        f"{orig_a}>{update}",
        head,
    )
    forks = {c["fork_id"]: c for c in root["children"] if c["kind"] == "fork"}
    assert set(forks) == {rerun, f"{orig_a}>{orig_b}"}
    rerun_node, orig_node = forks[rerun], forks[f"{orig_a}>{orig_b}"]
    assert rerun_node["branch_checkpoint_id"] == cid(fork_a)
    assert orig_node["branch_checkpoint_id"] == cid(fork_b)
    assert orig_node["head_checkpoint_id"] == orig_b
    assert (orig_node["checkpoint_count"], orig_node["branch_step"]) == (1, 6)
    rerun_line = parent_chain(snaps, rerun_node["head_checkpoint_id"])
    assert rerun_node["checkpoint_count"] == rerun_line.index(cid(fork_a))
    # Each fork's stats: what its own line added. The re-run called the model once
    # on [a, ai, b]; the original tail's call saw five messages; the update, none.
    assert rerun_node["stats"]["model_calls"] == 1
    assert rerun_node["stats"]["total_tokens"] == usage(3)[2]
    assert orig_node["stats"]["total_tokens"] == usage(5)[2]
    # The thread counts everything it ran, once: three turns and the re-run.
    assert root["stats"]["model_calls"] == 4
    text = yield from call(AgentGitSaver.tree, sid)
    assert text.count("\n") == 2 and text.count("fork  ") == 2
    mermaid = yield from call(AgentGitSaver.mermaid, sid)
    assert mermaid.count("  branch ") == 2
    # Without stats the forks come from each checkpoint's parent link alone: one
    # query on SQLite and PostgreSQL (`checkpoint_links`), a list() elsewhere.
    links = yield from call(BaseSessionStore.checkpoint_links, sid)
    if links is not None:
        listed = [
            (cid(s), (s.parent_config or {}).get("configurable", {}).get("checkpoint_id"))
            for s in snaps
        ]
        assert links["fork-main"] == listed
    plain = yield from call(AgentGitSaver.tree_data, sid)
    strip = ("stats",)

    def shape(node: dict[str, Any]) -> Any:
        return {
            k: ([shape(c) for c in v] if k == "children" else v)
            for k, v in node.items()
            if k not in strip
        }

    assert shape(plain["roots"][0]) == shape(root)

    # log follows each line, as the parent links run.
    for fork_id, leaf in [
        (rerun, rerun_node["head_checkpoint_id"]),
        (f"{orig_a}>{orig_b}", orig_b),
    ]:
        entries = yield from call(AgentGitSaver.log, main, fork=fork_id)
        assert [e.checkpoint_id for e in entries] == parent_chain(snaps, leaf)
    entries = yield from call(AgentGitSaver.log, main, fork=root["fork_id"])
    assert [e.checkpoint_id for e in entries] == parent_chain(snaps, head)
    plain = yield from call(AgentGitSaver.tree_data, sid, forks=False)
    assert plain["roots"][0]["children"] == [] and plain["roots"][0]["fork_id"] is None

    # show: the fork point has both children.
    view = yield from call(AgentGitSaver.show, fork_a.config)
    assert isinstance(view, CheckpointView)
    assert view.children == tuple(sorted([orig_a, rerun]))
    assert view.parent_checkpoint_id == cid(original[5])
    assert view.next == ("chat",)


async def test_in_thread_forks_are_branches(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(forks_plan(saver), on(saver))


# -- rewind modes: forks' tool calls, undo_tools exactly once ----------------------------


class World:
    """Bookings the tools make, and the undos of them."""

    def __init__(self) -> None:
        self.booked: list[str] = []
        self.undone: Counter[str] = Counter()

    def tools(self) -> list[Any]:
        world = self

        @tool
        def book_flight(to: str) -> str:
            """Book a flight."""
            world.booked.append("flight")
            return "flight booked"

        @tool
        def book_train(to: str) -> str:
            """Book a train."""
            world.booked.append("train")
            return "train booked"

        return [book_flight, book_train]

    def register(self, saver: AgentGitSaver) -> None:
        def undo(name: str) -> Any:
            def handler(args: dict[str, Any], result: Any) -> None:
                self.undone.update([name])

            return handler

        for name in ("book_flight", "book_train"):
            saver.register_reverser(name, undo(name))


def forked_bookings_plan(saver: AgentGitSaver, world: World, thread: str) -> Plan[Any]:
    """Turn 1 "hi"; turn 2 "book" (a flight); then a fork by `update_state` at the end
    of turn 1 asking for a "train", run on: the head's line booked a train, the fork
    left behind booked a flight. Returns the checkpoint at the end of turn 1."""
    agent = react(saver, world.tools())
    config = cfg(thread)
    yield from invoke(agent, human("hi", 0), config)
    yield from invoke(agent, human("book", 1), config)
    snaps = yield from history(agent, config)
    end_of_turn_1 = next(
        s
        for s in snaps
        if s.metadata["source"] == "loop" and s.values["messages"][-1].content == "Noted: hi"
    )
    # As the tools node: the agent runs next and sees "train".
    forked = yield from call(
        Graph.update_state,
        agent,
        end_of_turn_1.config,
        {"messages": [HumanMessage("train")]},
        as_node="tools",
    )
    yield from invoke(agent, None, forked)
    assert world.booked == ["flight", "train"]
    return end_of_turn_1


def fork_report_plan(saver: AgentGitSaver, world: World) -> Plan[None]:
    end_of_turn_1 = yield from forked_bookings_plan(saver, world, "rep-main")
    with pytest.warns(UnreversedToolCallsWarning) as caught:
        yield from call(AgentGitSaver.rollback, end_of_turn_1.config, reverse_tools=True)
    assert world.undone == Counter({"book_train": 1})
    warning = caught[0].message
    assert isinstance(warning, UnreversedToolCallsWarning)
    assert [name for _, name in warning.tool_calls] == ["book_flight"]
    assert "book_flight" in str(warning)


async def test_reverse_tools_reports_the_forks_tool_calls(
    run: Run, run_backend: AsyncBackend
) -> None:
    world = World()
    async with run_backend.open() as saver:
        world.register(saver)
        await run(fork_report_plan(saver, world), on(saver))


def undo_then_rollback_plan(saver: AgentGitSaver, world: World, undo_first: bool) -> Plan[None]:
    thread = "undo-first" if undo_first else "rollback-first"
    end_of_turn_1 = yield from forked_bookings_plan(saver, world, thread)
    sid = (yield from call(AgentGitSaver.session_for_thread, thread)).id
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreversedToolCallsWarning)
        if undo_first:
            done = yield from call(AgentGitSaver.undo_tools, end_of_turn_1.config)
            assert [(r.tool_name, r.status) for r in done] == [("book_train", "reversed")]
            # Side effects only: no branch, the conversation is where it was.
            assert len((yield from call(AgentGitSaver.branches, sid))) == 1
            yield from call(AgentGitSaver.rollback, end_of_turn_1.config, reverse_tools=True)
        else:
            yield from call(AgentGitSaver.rollback, end_of_turn_1.config, reverse_tools=True)
            again = yield from call(AgentGitSaver.undo_tools, end_of_turn_1.config)
            assert [(r.tool_name, r.status) for r in again] == [("book_train", "reversed")]
        yield from call(AgentGitSaver.undo_tools, end_of_turn_1.config)
    assert world.undone == Counter({"book_train": 1})
    records = yield from call(AgentGitSaver.reversals, session_id=sid)
    assert [(r.tool_name, r.status) for r in records] == [("book_train", "reversed")]


@pytest.mark.parametrize(
    "undo_first", [True, False], ids=["undo-then-rollback", "rollback-then-undo"]
)
async def test_undo_tools_is_exactly_once_with_rollback(
    run: Run, run_backend: AsyncBackend, undo_first: bool
) -> None:
    world = World()
    async with run_backend.open() as saver:
        world.register(saver)
        await run(undo_then_rollback_plan(saver, world, undo_first), on(saver))


# -- show ---------------------------------------------------------------------------------


def show_plan(saver: AgentGitSaver) -> Plan[None]:
    graph = chat(saver)
    main = cfg("show-main")
    yield from invoke(graph, human("hello there", 0), main)
    snaps = yield from history(graph, main)
    yield from call(AgentGitSaver.tag, snaps[1].config, "asked")
    sid = (yield from call(AgentGitSaver.session_for_thread, "show-main")).id
    view = yield from call(AgentGitSaver.show, "asked", session_id=sid)
    assert isinstance(view, CheckpointView)
    assert (view.checkpoint_id, view.tags, view.next) == (cid(snaps[1]), ("asked",), ("chat",))
    assert view.children == (cid(snaps[0]),) and view.parent_checkpoint_id == cid(snaps[2])
    assert view.metadata["step"] == 0
    assert [m.content for m in view.values["messages"]] == ["hello there"]
    text = view.render()
    assert "human: hello there" in text and "next       chat" in text
    data = view.to_dict()
    assert data["values"]["messages"][0] == {
        "type": "human",
        "content": "hello there",
        "id": "human-0",
    }
    assert {"config", "next", "metadata", "parent_checkpoint_id", "parent_config"} <= set(data)
    head = yield from call(AgentGitSaver.show, main)
    assert head.checkpoint_id == cid(snaps[0]) and head.next == () and head.children == ()


async def test_show(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(show_plan(saver), on(saver))


# -- render_log is what the README shows ------------------------------------------------


def _readme_block(after: str) -> str:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    start = readme.index(after)
    block = readme[readme.index("```\n", start) + 4 :]
    return block[: block.index("```")].rstrip("\n")


def test_render_log_is_the_readmes_example(tmp_path: Path) -> None:
    """The README's history scenario, run: its log example is `render_log`'s output
    (thread columns are uuids: compared by the order they first appear)."""
    with AgentGitSaver.from_conn_string(str(tmp_path / "agent.db")) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = cfg("chat-1")
        for text in ["Plan a trip to Lisbon", "Book the flight", "Add a hotel"]:
            graph.invoke({"messages": [("user", text)]}, config)
        sid = saver.session_for_thread("chat-1").id
        past = list(graph.get_state_history(config))
        saver.tag(past[6].config, "before-booking")
        train = saver.rollback(saver.resolve(sid, "before-booking"), name="train")
        graph.invoke({"messages": [("user", "Take the train instead")]}, train)
        hostel = saver.rollback(saver.resolve(sid, "train"), name="hostel")
        graph.invoke({"messages": [("user", "A hostel is fine")]}, hostel)
        saver.rollback(past[3].config)
        saver.switch(sid, hostel["configurable"]["thread_id"])
        entries = saver.log(sid, limit=6)
        shown = render_log(entries)
    assert str(entries[0]) == shown.splitlines()[0]

    def normal(text: str) -> str:
        ids: dict[str, str] = {}
        lines = []
        for line in text.splitlines():
            column = line[12:20]
            lines.append(line[:12] + ids.setdefault(column, f"T{len(ids)}") + line[20:])
        return "\n".join(lines)

    assert normal(shown) == normal(_readme_block("walks the current branch back"))
