"""Deterministic graphs for the fidelity matrix (`tests/test_fidelity.py`).

Every node's output depends only on its input state, so the same inputs run on
two threads give the same history; that is what lets LangGraph's own replay be
the oracle for a branch. Each builder returns a `Probe` whose `calls` counts
node executions and whose `fail` switches make chosen nodes raise.
"""

from __future__ import annotations

import itertools
import operator
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.channels import DeltaChannel
from langgraph.config import get_config
from langgraph.func import entrypoint, task
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Send, interrupt

CHAIN = ("a", "b", "c", "d", "e")


@dataclass
class Probe:
    """A graph builder plus the counters and switches its nodes read."""

    builder: StateGraph[Any]
    calls: Counter[str] = field(default_factory=Counter)
    fail: set[str] = field(default_factory=set)
    finished: set[tuple[str, str]] = field(default_factory=set)
    finished_changed: threading.Condition = field(default_factory=threading.Condition)

    def compile(self, checkpointer: Any) -> Any:
        return self.builder.compile(checkpointer=checkpointer)


def _chain(builder: StateGraph[Any], names: Sequence[str]) -> None:
    builder.add_edge(START, names[0])
    for first, second in itertools.pairwise(names):
        builder.add_edge(first, second)
    builder.add_edge(names[-1], END)


# -- 1/6/7: plain state ---------------------------------------------------------


class PlainState(TypedDict, total=False):
    count: int
    last: str
    log: Annotated[list[str], operator.add]


def plain_probe() -> Probe:
    """START -> a -> b -> c -> d -> e -> END over int / str / `operator.add` fields."""
    builder: StateGraph[Any] = StateGraph(PlainState)
    probe = Probe(builder)

    def make(name: str) -> Any:
        def node(state: PlainState) -> dict[str, Any]:
            probe.calls[name] += 1
            count = state.get("count", 0) + 1
            return {"count": count, "last": f"{name}{count}", "log": [f"{name}:{count}"]}

        return node

    for name in CHAIN:
        builder.add_node(name, make(name))
    _chain(builder, CHAIN)
    return probe


def plain_input(n: int) -> dict[str, Any]:
    return {"log": [f"in{n}"], "last": f"in{n}"}


# -- 1/6: add_messages state ----------------------------------------------------


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def messages_probe() -> Probe:
    """The same chain over `add_messages`; every message carries a stable id."""
    builder: StateGraph[Any] = StateGraph(ChatState)
    probe = Probe(builder)

    def make(name: str) -> Any:
        def node(state: ChatState) -> dict[str, Any]:
            probe.calls[name] += 1
            n = len(state["messages"])
            last = state["messages"][-1].content
            return {"messages": [AIMessage(content=f"{name} after {last!s}", id=f"{name}-{n}")]}

        return node

    for name in CHAIN:
        builder.add_node(name, make(name))
    _chain(builder, CHAIN)
    return probe


def messages_input(n: int) -> dict[str, Any]:
    return {"messages": [HumanMessage(content=f"hello {n}", id=f"human-{n}")]}


# -- 2: human in the loop -------------------------------------------------------


class AskState(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    answer: str


def hitl_probe() -> Probe:
    """START -> prepare -> ask (interrupt) -> finish -> END."""
    builder: StateGraph[Any] = StateGraph(AskState)
    probe = Probe(builder)

    def prepare(state: AskState) -> dict[str, Any]:
        probe.calls["prepare"] += 1
        return {"log": ["prepare"]}

    def ask(state: AskState) -> dict[str, Any]:
        probe.calls["ask"] += 1
        answer = interrupt({"question": "go on?", "seen": list(state["log"])})
        return {"log": [f"ask:{answer}"], "answer": answer}

    def finish(state: AskState) -> dict[str, Any]:
        probe.calls["finish"] += 1
        return {"log": [f"finish:{state.get('answer')}"]}

    builder.add_node("prepare", prepare)
    builder.add_node("ask", ask)
    builder.add_node("finish", finish)
    _chain(builder, ("prepare", "ask", "finish"))
    return probe


# -- 3: subgraph with an interrupt in the middle ----------------------------------


class ParentState(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    topic: str
    sub_log: list[str]


class SubState(TypedDict, total=False):
    topic: str
    sub_log: Annotated[list[str], operator.add]
    private: str


def subgraph_probe() -> Probe:
    """START -> pre -> sub[s1 -> s_ask (interrupt) -> s2] -> post -> END.

    `private` lives only in the subgraph's own checkpoints (child namespace),
    so only `get_state(..., subgraphs=True)` shows it.
    """
    sub_builder: StateGraph[Any] = StateGraph(SubState)
    builder: StateGraph[Any] = StateGraph(ParentState)
    probe = Probe(builder)

    def s1(state: SubState) -> dict[str, Any]:
        probe.calls["s1"] += 1
        return {"sub_log": [f"s1:{state['topic']}"], "private": f"p1:{state['topic']}"}

    def s_ask(state: SubState) -> dict[str, Any]:
        probe.calls["s_ask"] += 1
        answer = interrupt({"sub_question": state["private"]})
        return {"sub_log": [f"s_ask:{answer}"], "private": f"p2:{answer}"}

    def s2(state: SubState) -> dict[str, Any]:
        probe.calls["s2"] += 1
        return {"sub_log": [f"s2:{state['private']}"]}

    sub_builder.add_node("s1", s1)
    sub_builder.add_node("s_ask", s_ask)
    sub_builder.add_node("s2", s2)
    _chain(sub_builder, ("s1", "s_ask", "s2"))

    def pre(state: ParentState) -> dict[str, Any]:
        probe.calls["pre"] += 1
        return {"log": ["pre"], "topic": f"topic{len(state['log'])}"}

    def post(state: ParentState) -> dict[str, Any]:
        probe.calls["post"] += 1
        return {"log": [f"post:{'|'.join(state.get('sub_log', []))}"]}

    builder.add_node("pre", pre)
    builder.add_node("sub", sub_builder.compile())
    builder.add_node("post", post)
    _chain(builder, ("pre", "sub", "post"))
    return probe


# -- 4: DeltaChannel ----------------------------------------------------------------


def extend(state: list[str], writes: Sequence[list[str]]) -> list[str]:
    """Batching-invariant reducer: `reducer(reducer(s, xs), ys) == reducer(s, xs + ys)`."""
    out = list(state)
    for write in writes:
        out.extend(write)
    return out


class DeltaState(TypedDict, total=False):
    items: Annotated[list[str], DeltaChannel(extend, snapshot_frequency=2)]
    count: int


def delta_probe() -> Probe:
    """The plain chain with a `DeltaChannel` list that snapshots every 2nd update.

    After one run the checkpoints alternate between a `_DeltaSnapshot` blob and
    nothing stored (state rebuilt from ancestors' writes).
    """
    builder: StateGraph[Any] = StateGraph(DeltaState)
    probe = Probe(builder)

    def make(name: str) -> Any:
        def node(state: DeltaState) -> dict[str, Any]:
            probe.calls[name] += 1
            count = state.get("count", 0) + 1
            return {"items": [f"{name}:{len(state['items'])}"], "count": count}

        return node

    for name in CHAIN:
        builder.add_node(name, make(name))
    _chain(builder, CHAIN)
    return probe


def delta_input(n: int) -> dict[str, Any]:
    return {"items": [f"in{n}"]}


# -- 5: Send fan-out ------------------------------------------------------------------


class FanState(TypedDict, total=False):
    items: list[str]
    done: Annotated[list[str], operator.add]


class WorkArg(TypedDict):
    item: str
    batch: list[str]


def fanout_probe() -> Probe:
    """START -> prep -> Send("work", item) for each item -> after -> END.

    `work` raises for items in `probe.fail` and calls `interrupt` for items
    starting with "ask".
    """
    builder: StateGraph[Any] = StateGraph(FanState)
    probe = Probe(builder)

    def prep(state: FanState) -> dict[str, Any]:
        probe.calls["prep"] += 1
        return {"done": ["prep"]}

    def fan(state: FanState) -> list[Send]:
        return [Send("work", {"item": item, "batch": state["items"]}) for item in state["items"]]

    def work(arg: WorkArg) -> dict[str, Any]:
        item = arg["item"]
        thread = get_config()["configurable"]["thread_id"]
        probe.calls[item] += 1
        if item in probe.fail:
            # A failing task cancels its siblings: fail only once they have
            # finished, so which tasks saved their writes is deterministic.
            others = {(thread, x) for x in arg["batch"] if x not in probe.fail}
            with probe.finished_changed:
                probe.finished_changed.wait_for(lambda: others <= probe.finished, timeout=5)
            time.sleep(0.05)  # let LangGraph save the siblings' writes
            raise ValueError(f"work failed on {item}")
        if item.startswith("ask"):
            answer = interrupt({"item": item})
            out = {"done": [f"{item}={answer}"]}
        else:
            out = {"done": [item]}
        with probe.finished_changed:
            probe.finished.add((thread, item))
            probe.finished_changed.notify_all()
        return out

    def after(state: FanState) -> dict[str, Any]:
        probe.calls["after"] += 1
        return {"done": [f"after:{len(state['done'])}"]}

    builder.add_node("prep", prep)
    builder.add_node("work", work)
    builder.add_node("after", after)
    builder.add_edge(START, "prep")
    builder.add_conditional_edges("prep", fan, ["work"])
    builder.add_edge("work", "after")
    builder.add_edge("after", END)
    return probe


# -- 8: a stateful subgraph (`checkpointer=True`): a sub-agent with its own memory --


class AgentState(TypedDict, total=False):
    inp: str
    out: str


class MemoryState(TypedDict, total=False):
    inp: str
    out: str
    mem: Annotated[list[str], operator.add]


def stateful_probe(*, ask: bool = False) -> Probe:
    """START -> agent[remember -> (check: interrupt) -> answer] -> END.

    `agent` is compiled with `checkpointer=True`: its memory `mem` lives under
    the stable namespace "agent" and carries over from one run of the parent to
    the next. It answers every input seen so far, joined by "|".
    """
    sub_builder: StateGraph[Any] = StateGraph(MemoryState)
    builder: StateGraph[Any] = StateGraph(AgentState)
    probe = Probe(builder)

    def remember(state: MemoryState) -> dict[str, Any]:
        probe.calls["remember"] += 1
        return {"mem": [state["inp"]]}

    def check(state: MemoryState) -> dict[str, Any]:
        probe.calls["check"] += 1
        answer = interrupt(f"keep {state['inp']}?")
        return {"mem": [f"ok:{answer}"]}

    def answer(state: MemoryState) -> dict[str, Any]:
        probe.calls["answer"] += 1
        return {"out": "|".join(state["mem"])}

    steps = ("remember", "check", "answer") if ask else ("remember", "answer")
    sub_builder.add_node("remember", remember)
    if ask:
        sub_builder.add_node("check", check)
    sub_builder.add_node("answer", answer)
    _chain(sub_builder, steps)

    builder.add_node("agent", sub_builder.compile(checkpointer=True))
    _chain(builder, ("agent",))
    return probe


# -- 9: the Functional API ---------------------------------------------------------------


@dataclass
class FuncProbe:
    """An `@entrypoint` workflow built for a checkpointer, with its node calls."""

    build: Any
    calls: Counter[str] = field(default_factory=Counter)

    def compile(self, checkpointer: Any) -> Any:
        return self.build(self, checkpointer)


def _sequential(probe: FuncProbe, checkpointer: Any) -> Any:
    """prepare, then two `@task`s that each ask a human, in sequence."""

    @task
    def prepare(x: str) -> str:
        probe.calls["prepare"] += 1
        return f"p({x})"

    @task
    def ask(question: str) -> str:
        probe.calls[question] += 1
        return f"{question}={interrupt(question)}"

    @entrypoint(checkpointer=checkpointer)
    def workflow(x: str) -> str:
        prepared = prepare(x).result()
        first = ask("q1").result()
        second = ask("q2").result()
        return f"{prepared}:{first},{second}"

    return workflow


def _parallel(probe: FuncProbe, checkpointer: Any) -> Any:
    """Three `@task`s started together: one plain, two asking a human."""

    @task
    def work(item: str) -> str:
        probe.calls[item] += 1
        if item.startswith("ask"):
            return f"{item}={interrupt(item)}"
        return item

    @entrypoint(checkpointer=checkpointer)
    def workflow(items: list[str]) -> list[str]:
        futures = [work(item) for item in items]
        return [f.result() for f in futures]

    return workflow


def _previous_final(probe: FuncProbe, checkpointer: Any) -> Any:
    """A running total in `previous`, returned apart from what is saved (`entrypoint.final`)."""

    @task
    def double(n: int) -> int:
        probe.calls["double"] += 1
        return 2 * n

    @entrypoint(checkpointer=checkpointer)
    def workflow(n: int, *, previous: dict[str, Any] | None = None) -> Any:
        seen = previous or {"total": 0, "runs": []}
        doubled = double(n).result()
        total = seen["total"] + doubled
        return entrypoint.final(
            value={"doubled": doubled, "before": seen["total"]},
            save={"total": total, "runs": [*seen["runs"], n]},
        )

    return workflow


def sequential_probe() -> FuncProbe:
    return FuncProbe(_sequential)


def parallel_probe() -> FuncProbe:
    return FuncProbe(_parallel)


def previous_final_probe() -> FuncProbe:
    return FuncProbe(_previous_final)
