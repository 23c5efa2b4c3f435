"""`History`: the history service an `AgentGitSaver` owns (`saver.history`).

Every method runs one plan (see `_plan.py`) from `log.py`, `refs.py`,
`diff.py` or `tree.py`, synchronously or awaiting the store's and saver's
async methods: the logic is written once. The saver's flat methods (`log`,
`tag`, `diff`, `tree`, ...) forward here and carry the user-facing docs.

Example:
    ```python
    entries = await saver.history.alog(session_id, limit=5)   # as saver.alog(...)
    ```
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel

from agentgit_langgraph._context import SaverContext
from agentgit_langgraph._plan import run_async, run_sync
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.history.diff import _diff_plan
from agentgit_langgraph.history.log import _log_plan
from agentgit_langgraph.history.records import Diff, LogEntry
from agentgit_langgraph.history.refs import _resolve_plan, _tag_plan, _tags_plan, _untag_plan
from agentgit_langgraph.history.tree import _tree_plan, render_mermaid, render_tree
from agentgit_langgraph.sessions import ExternalSession, Tag

__all__ = ["History"]


class History:
    """History of the sessions of one `AgentGitSaver` (its `history`); see its methods."""

    def __init__(self, ctx: SaverContext) -> None:
        self._ctx = ctx

    # log
    def log(
        self,
        config_or_session: RunnableConfig | ExternalSession | int,
        *,
        limit: int | None = None,
        user_id: UserId | None = None,
    ) -> list[LogEntry]:
        return run_sync(_log_plan(config_or_session, limit, user_id), self._ctx.targets)

    async def alog(
        self,
        config_or_session: RunnableConfig | ExternalSession | int,
        *,
        limit: int | None = None,
        user_id: UserId | None = None,
    ) -> list[LogEntry]:
        return await run_async(_log_plan(config_or_session, limit, user_id), self._ctx.targets)

    # tags and refs
    def tag(self, config: RunnableConfig, name: str, *, user_id: UserId | None = None) -> Tag:
        return run_sync(_tag_plan(config, name, user_id), self._ctx.targets)

    async def atag(
        self, config: RunnableConfig, name: str, *, user_id: UserId | None = None
    ) -> Tag:
        return await run_async(_tag_plan(config, name, user_id), self._ctx.targets)

    def tags(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> list[Tag]:
        return run_sync(_tags_plan(session_id, user_id), self._ctx.targets)

    async def atags(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> list[Tag]:
        return await run_async(_tags_plan(session_id, user_id), self._ctx.targets)

    def untag(
        self, session_id: int | ExternalSession, name: str, *, user_id: UserId | None = None
    ) -> bool:
        return run_sync(_untag_plan(session_id, name, user_id), self._ctx.targets)

    async def auntag(
        self, session_id: int | ExternalSession, name: str, *, user_id: UserId | None = None
    ) -> bool:
        return await run_async(_untag_plan(session_id, name, user_id), self._ctx.targets)

    def resolve(
        self, session_id: int | ExternalSession, ref: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        return run_sync(_resolve_plan(session_id, ref, user_id), self._ctx.targets)

    async def aresolve(
        self, session_id: int | ExternalSession, ref: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        return await run_async(_resolve_plan(session_id, ref, user_id), self._ctx.targets)

    # diff
    def diff(
        self,
        config_a: RunnableConfig,
        config_b: RunnableConfig,
        *,
        graph: Any = None,
        user_id: UserId | None = None,
    ) -> Diff:
        targets = {**self._ctx.targets, Pregel: graph}
        return run_sync(_diff_plan(config_a, config_b, graph, user_id), targets)

    async def adiff(
        self,
        config_a: RunnableConfig,
        config_b: RunnableConfig,
        *,
        graph: Any = None,
        user_id: UserId | None = None,
    ) -> Diff:
        targets = {**self._ctx.targets, Pregel: graph}
        return await run_async(_diff_plan(config_a, config_b, graph, user_id), targets)

    # tree and Mermaid
    def tree_data(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> dict[str, Any]:
        return run_sync(_tree_plan(session_id, user_id), self._ctx.targets).to_dict()

    async def atree_data(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> dict[str, Any]:
        tree = await run_async(_tree_plan(session_id, user_id), self._ctx.targets)
        return tree.to_dict()

    def tree(self, session_id: int | ExternalSession, *, user_id: UserId | None = None) -> str:
        return render_tree(run_sync(_tree_plan(session_id, user_id), self._ctx.targets))

    async def atree(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> str:
        return render_tree(await run_async(_tree_plan(session_id, user_id), self._ctx.targets))

    def mermaid(self, session_id: int | ExternalSession, *, user_id: UserId | None = None) -> str:
        return render_mermaid(run_sync(_tree_plan(session_id, user_id), self._ctx.targets))

    async def amermaid(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> str:
        return render_mermaid(await run_async(_tree_plan(session_id, user_id), self._ctx.targets))
