"""`SaverContext`: what `AgentGitSaver` and the services it owns share.

The saver (the checkpointer contract) and its services (`Branching`,
`History`, `Maintenance`) each hold a reference to one context: the wrapped
saver, the session store, the plan targets, and the threads this process saw
held by a session. No service reaches into another object's private state.

Example:
    ```python
    ctx = SaverContext(InMemorySaver(), InMemorySessionStore(), auto_session=True)
    run_sync(session_plan(1, None), ctx.targets)
    ```
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agentgit_langgraph._access import ThreadSet
from agentgit_langgraph.reversal import ToolReversers
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = ["SaverContext"]


class SaverContext:
    """The state shared by `AgentGitSaver` and its services.

    Attributes:
        saver: The wrapped LangGraph checkpointer.
        store: The session store.
        auto_session: Whether a put into an unknown thread creates a session.
        reversers: The tool-reversal handlers, by tool name.
        reverse_timeout: The default bound, in seconds, on each reversal handler.
        targets: The plan targets (`_plan.py`): `{BaseCheckpointSaver: saver,
            BaseSessionStore: store, ToolReversers: reversers}`.
        registered: Threads this process saw held by a session: their puts
            skip the session check before saving (the count after still checks).
    """

    def __init__(
        self,
        saver: BaseCheckpointSaver[Any],
        store: BaseSessionStore,
        *,
        auto_session: bool,
        reversers: ToolReversers,
        reverse_timeout: float | None,
    ) -> None:
        self.saver = saver
        self.store = store
        self.auto_session = auto_session
        self.reversers = reversers
        self.reverse_timeout = reverse_timeout
        self.targets: dict[type, Any] = {
            BaseCheckpointSaver: saver,
            BaseSessionStore: store,
            ToolReversers: reversers,
        }
        self.registered = ThreadSet()

    def with_saver(self, saver: BaseCheckpointSaver[Any]) -> SaverContext:
        """A copy wrapping `saver` instead; the store and the thread set stay shared."""
        clone = copy.copy(self)
        clone.saver = saver
        clone.targets = {**self.targets, BaseCheckpointSaver: saver}
        return clone

    def forget(self, thread_ids: Iterable[str]) -> None:
        """Threads deleted or moved out of their session: check them again on put."""
        self.registered.discard(thread_ids)
