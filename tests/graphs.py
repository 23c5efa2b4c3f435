"""Deterministic agents for tests, examples and notebooks: no network, no keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from agentgit_langgraph.testing import EchoChatModel, ScriptedToolModel


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


def usage_of(messages: Sequence[BaseMessage], reply: AIMessage) -> UsageMetadata:
    """The deterministic usage the test models report: 10 tokens a message in, 7 (+3 a
    tool call) out, a tenth of the input read from cache, 2 reasoning tokens."""
    inp = 10 * len(messages)
    out = 7 + 3 * len(reply.tool_calls)
    return UsageMetadata(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=inp + out,
        input_token_details=InputTokenDetails(cache_read=len(messages)),
        output_token_details=OutputTokenDetails(reasoning=2),
    )


class UsageEchoModel(EchoChatModel):
    """`EchoChatModel` reporting `usage_of` (ids left to `add_messages`: unique per call)."""

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        reply = super()._reply(messages)
        return AIMessage(content=reply.content, usage_metadata=usage_of(messages, reply))


class UsageToolModel(ScriptedToolModel):
    """`ScriptedToolModel` reporting `usage_of`."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> UsageToolModel:
        return self

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        reply = super()._reply(messages)
        return AIMessage(
            content=reply.content,
            tool_calls=reply.tool_calls,
            usage_metadata=usage_of(messages, reply),
        )
