"""A one-node chat graph with a deterministic model (`EchoChatModel`: no API key).

The server compiles it with its own checkpointer (`langgraph.json`), so it is
exported uncompiled-checkpointer-free: no `checkpointer=` here.
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
