"""Quick start: a chat agent on an embedded SQLite file, one rollback, two timelines.

Run:  python examples/quickstart.py   (no API key: the model is a deterministic fake)
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


def main(db_path: str) -> None:
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
        print("\nget_branch_info():", session.get_branch_info())
        print("total_checkpoints:", session.total_checkpoints)
        for thread in saver.branches(session.id):
            kind = "branch" if thread.is_branch else "first "
            counts = f"checkpoints={thread.checkpoint_count}"
            print(f"  {kind} {thread.thread_id}  name={thread.name}  {counts}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(os.environ.get("AGENTGIT_DEMO_DB", os.path.join(tmp, "quickstart.db")))
