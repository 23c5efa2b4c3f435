"""Deterministic chat models for demos and tests: no network, no API key.

`EchoChatModel` chats; `ScriptedToolModel` calls tools from a script.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> EchoChatModel().invoke([HumanMessage("hi")]).content
    'echo: hi (#1)'
"""

from __future__ import annotations

import hashlib
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

__all__ = ["EchoChatModel", "ScriptedToolModel"]


class _ReplyModel(BaseChatModel):
    """A chat model whose one reply is `_reply(messages)`: a function of the conversation."""

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        raise NotImplementedError

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])


class EchoChatModel(_ReplyModel):
    """Replies `echo: <last human message> (#n)`, n being the number of human turns.

    The reply depends only on the conversation, never on call order, so a
    branch and a replay of the same state give the same answer.
    """

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        humans = [m for m in messages if isinstance(m, HumanMessage)]
        last = humans[-1].content if humans else ""
        return AIMessage(content=f"echo: {last} (#{len(humans)})", id=f"ai-{len(messages)}")


class ScriptedToolModel(_ReplyModel):
    """Calls the tools `script` lists for a user message, then answers with their results.

    `script` maps a user message's text to `[(tool_name, args), ...]`. The reply
    depends only on the conversation (tool call ids are a hash of it), never on
    call order, so a branch replays exactly like the original. `bind_tools`
    returns the model itself: the script already names the tools.

    Example:
        >>> model = ScriptedToolModel(script={"weather?": [("get_weather", {"city": "Lisbon"})]})
        >>> model.invoke([HumanMessage("weather?")]).tool_calls[0]["name"]
        'get_weather'
    """

    script: dict[str, list[tuple[str, dict[str, Any]]]] = Field(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "scripted-tools"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedToolModel:
        return self

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        last = messages[-1]
        if isinstance(last, HumanMessage) and str(last.content) in self.script:
            seed = "\n".join(f"{m.type}: {m.content}" for m in messages)
            calls = [
                {"name": name, "args": args, "id": "call_" + _digest(f"{seed}\n{i}")}
                for i, (name, args) in enumerate(self.script[str(last.content)])
            ]
            return AIMessage(content="", tool_calls=calls)
        if isinstance(last, ToolMessage):
            results: list[str] = []
            for m in reversed(messages):
                if not isinstance(m, ToolMessage):
                    break
                results.insert(0, f"{m.name}: {m.content}")
            return AIMessage(content="Done. " + "; ".join(results) + ".")
        return AIMessage(content=f"Noted: {last.content}")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]
