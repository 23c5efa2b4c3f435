"""Several branches of one conversation, then `log`, `diff`, `tree` and a Mermaid graph.

A chat agent plans a trip on the main thread. We tag a checkpoint, branch from
the tag, branch again from another point, branch off a branch, and then read the
history the way `git` shows it: the log of a branch (it goes on through the
thread it came from), the diff between two timelines, the tree of branches and
the same tree as a Mermaid `gitGraph` (paste it into a ```` ```mermaid ````
block on GitHub to draw it).

Run:  python examples/branches_log_diff.py   (no API key: the model is a deterministic fake)
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, MessagesState, StateGraph

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.history import LogEntry
from agentgit_langgraph.testing import EchoChatModel


def build_graph() -> StateGraph[Any]:
    model = EchoChatModel()

    def chat(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder: StateGraph[Any] = StateGraph(MessagesState)
    builder.add_node("chat", chat)
    builder.add_edge(START, "chat")
    builder.add_edge("chat", END)
    return builder


def say(graph: Any, config: Any, *texts: str) -> None:
    for text in texts:
        graph.invoke({"messages": [HumanMessage(text)]}, config)


def find(entries: list[LogEntry], preview: str) -> LogEntry:
    """The newest log entry whose preview starts with `preview`."""
    return next(entry for entry in entries if entry.preview.startswith(preview))


def main(db_path: str) -> None:
    with AgentGitSaver.from_conn_string(db_path) as saver:
        graph = build_graph().compile(checkpointer=saver)

        # The main timeline: three turns. Tag the state after the first one.
        main_cfg = {"configurable": {"thread_id": "trip"}}
        say(graph, main_cfg, "Plan a week in Lisbon")
        saver.tag(graph.get_state(main_cfg).config, "planned")
        say(graph, main_cfg, "Book the cheapest flight", "Add a hotel near the river")
        session = saver.session_for_thread("trip")

        # Branch 1, from the tag: go by train instead of flying.
        train = saver.rollback(saver.resolve(session.id, "planned"), name="train")
        say(graph, train, "Go by train instead", "Add a night in Madrid")

        # Branch 2, from main after the flight was booked: a different hotel.
        booked = find(saver.log(main_cfg), "ai: echo: Book the cheapest flight")
        hostel = saver.rollback(booked.config, name="hostel")
        say(graph, hostel, "Find a hostel instead")

        # Branch 3, off branch 1: skip Madrid.
        before_madrid = find(saver.log(train), "ai: echo: Go by train instead")
        direct = saver.rollback(before_madrid.config, name="direct-train")
        say(graph, direct, "Go straight to Lisbon")

        print("log of 'direct-train' (newest first, through 'train' and main):")
        for entry in saver.log(direct):
            tags = f"  [{', '.join(entry.tags)}]" if entry.tags else ""
            print(f"  {entry.thread_id[:8]:<8}  step {entry.step:>2}  {entry.preview}{tags}")

        print("\ndiff main -> train (heads):")
        print(saver.diff(saver.resolve(session.id, "main"), train).render())

        print("\ntree:")
        print(saver.tree(session.id))

        print("\nmermaid:")
        print(saver.mermaid(session.id))

        session = saver.get_session(session.id)
        print("\nget_branch_info():", session.get_branch_info())
        print("branches:", [b.name or "main" for b in saver.branches(session.id)])
        assert saver.log(main_cfg, limit=1)[0].preview.endswith("(#3)")  # main is untouched
        assert graph.get_state(hostel).values["messages"][-1].content.startswith("echo: Find")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(os.environ.get("AGENTGIT_DEMO_DB", os.path.join(tmp, "branches.db")))
