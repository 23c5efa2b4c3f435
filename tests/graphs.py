"""Deterministic agents for tests, examples and notebooks: no network, no keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from agentgit_langgraph.testing import EchoChatModel


class ChatState(TypedDict):
    messages: Annotated[list[BaseMessage], add_messages]


def chat_graph_builder(model: BaseChatModel | None = None) -> StateGraph[Any]:
    """START -> chat -> END, the chat node calling `model` on the messages."""
    llm = model or EchoChatModel()

    def chat(state: ChatState) -> dict[str, Any]:
        return {"messages": [llm.invoke(state["messages"])]}

    async def achat(state: ChatState) -> dict[str, Any]:
        return {"messages": [await llm.ainvoke(state["messages"])]}

    from langchain_core.runnables import RunnableLambda

    builder: StateGraph[Any] = StateGraph(ChatState)
    builder.add_node("chat", RunnableLambda(chat, afunc=achat))
    builder.add_edge(START, "chat")
    builder.add_edge("chat", END)
    return builder


def human(text: str, n: int) -> dict[str, Sequence[BaseMessage]]:
    """A turn's input with a stable message id."""
    return {"messages": [HumanMessage(content=text, id=f"human-{n}")]}


def contents(values: dict[str, Any]) -> list[str]:
    return [str(m.content) for m in values.get("messages", [])]
