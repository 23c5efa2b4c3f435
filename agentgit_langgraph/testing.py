"""Deterministic chat models for demos and tests: no network, no API key.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> EchoChatModel().invoke([HumanMessage("hi")]).content
    'echo: hi (#1)'
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult

__all__ = ["EchoChatModel"]


class EchoChatModel(BaseChatModel):
    """Replies `echo: <last human message> (#n)`, n being the number of human turns.

    The reply depends only on the conversation, never on call order, so a
    branch and a replay of the same state give the same answer.
    """

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        humans = [m for m in messages if isinstance(m, HumanMessage)]
        last = humans[-1].content if humans else ""
        reply = AIMessage(content=f"echo: {last} (#{len(humans)})", id=f"ai-{len(messages)}")
        return ChatResult(generations=[ChatGeneration(message=reply)])
