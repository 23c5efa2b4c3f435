"""A one-node chat graph with a deterministic model (`EchoChatModel`: no API key).

Compiled without `checkpointer=`: the server gives it its own, the
`AgentGitSaver` that `checkpointer.py` opens (`langgraph.json`).
"""

from __future__ import annotations

from langgraph.graph import START, MessagesState, StateGraph

from agentgit_langgraph.testing import EchoChatModel

model = EchoChatModel()


def chat(state: MessagesState) -> dict[str, object]:
    return {"messages": [model.invoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("chat", chat)
builder.add_edge(START, "chat")
graph = builder.compile()
