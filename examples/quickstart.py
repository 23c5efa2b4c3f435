"""Quick start: a chat agent on an embedded SQLite file, one rollback, two timelines.

Run:  python examples/quickstart.py   (no API key: the model is a deterministic fake)

The database is kept (in the system temp dir, or at $AGENTGIT_DEMO_DB) so the
`agentgit` CLI can explore it afterwards; each run starts it afresh.
"""

from __future__ import annotations

import os
import tempfile
from typing import Annotated, Any, TypedDict

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.testing import EchoChatModel


class State(TypedDict):
    messages: Annotated[list[BaseMessage], add_messages]


def build_graph() -> StateGraph[Any]:
    model = EchoChatModel()

    def chat(state: State) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder: StateGraph[Any] = StateGraph(State)
    builder.add_node("chat", chat)
    builder.add_edge(START, "chat")
    builder.add_edge("chat", END)
    return builder


def show(title: str, values: dict[str, Any]) -> None:
    print(f"\n{title}")
    for message in values["messages"]:
        print(f"  {message.type:>5}: {message.content}")


def default_db() -> str:
    """Where the demo keeps its database: the system temp dir, outside the clone."""
    return os.environ.get("AGENTGIT_DEMO_DB") or os.path.join(
        tempfile.gettempdir(), "agentgit-quickstart.db"
    )


def main(db_path: str) -> None:
    for stale in (db_path, db_path + "-wal", db_path + "-shm"):  # each run starts afresh
        if os.path.exists(stale):
            os.remove(stale)
    with AgentGitSaver.from_conn_string(db_path) as saver:
        graph = build_graph().compile(checkpointer=saver)  # the one-line integration

        config = {"configurable": {"thread_id": "trip-planning"}}
        for text in ("Plan a trip to Lisbon", "Book the cheapest flight", "Add a hotel"):
            graph.invoke({"messages": [HumanMessage(text)]}, config)
        show("Main timeline:", graph.get_state(config).values)

        # Go back to just after the first answer and try another path.
        history = list(graph.get_state_history(config))  # newest first
        after_first_answer = next(
            s for s in reversed(history) if len(s.values.get("messages", [])) == 2
        )
        branch = saver.rollback(after_first_answer.config, name="train-instead")
        graph.invoke({"messages": [HumanMessage("Take the train instead")]}, branch)
        show("Branch 'train-instead':", graph.get_state(branch).values)
        show("Main timeline, untouched:", graph.get_state(config).values)

        session = saver.session_for_thread("trip-planning")
        info = session.get_branch_info()  # agentgit's keys: its "sessions" are our threads
        print(
            f"\nSession {session.id}: {info['total_sessions']} threads "
            f"({info['total_branches']} branch), {session.total_checkpoints} checkpoints"
        )
        for thread in saver.branches(session.id):
            name = thread.name or ("main" if not thread.is_branch else "(unnamed)")
            mark = "*" if thread.is_current else " "
            print(f"  {mark} {name:<14} {thread.thread_id}  {thread.checkpoint_count} checkpoints")

        print("\nsaver.tree(session.id):")
        print(saver.tree(session.id))
        print("\nsaver.log(session.id, limit=4): the branch, newest first, into main")
        for entry in saver.log(session.id, limit=4):
            print(f"  {entry.step:>3}  {entry.thread_id[:8]:<8}  {entry.preview}")
        main_head = saver.resolve(session.id, "main")
        print("\nsaver.diff(main, train-instead):")
        print(saver.diff(main_head, saver.resolve(session.id, "train-instead")).render())

    print(f"\nThe database is kept at {db_path}. Explore it with the CLI:")
    sid = session.id
    for command in ("sessions", f"tree {sid}", f"log {sid}", f"diff {sid} main train-instead"):
        print(f"  agentgit --db {db_path} {command}")


if __name__ == "__main__":
    main(default_db())
