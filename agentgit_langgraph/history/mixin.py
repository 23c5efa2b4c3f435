"""`HistoryMixin`: the history methods `AgentGitSaver` offers, each with an `a…` twin.

Every method runs one plan (see `_plan.py`) from `log.py`, `refs.py`,
`diff.py` or `tree.py`, synchronously or awaiting the store's and saver's
async methods: the logic is written once.

Example:
    ```python
    class AgentGitSaver(HistoryMixin, MaintenanceMixin, BaseCheckpointSaver[Any]): ...

    entries = await saver.alog(session_id, limit=5)   # the same plan as `log`
    ```
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel

from agentgit_langgraph._plan import run_async, run_sync
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.history.diff import _diff_plan
from agentgit_langgraph.history.log import _log_plan
from agentgit_langgraph.history.records import Diff, LogEntry
from agentgit_langgraph.history.refs import _resolve_plan, _tag_plan, _tags_plan, _untag_plan
from agentgit_langgraph.history.tree import _tree_plan, render_mermaid, render_tree
from agentgit_langgraph.sessions import ExternalSession, Tag

__all__ = ["HistoryMixin"]


class HistoryMixin:
    """History methods of `AgentGitSaver` (each with an `a…` async twin)."""

    _targets: dict[type, Any]

    # log
    def log(
        self,
        config_or_session: RunnableConfig | ExternalSession | int,
        *,
        limit: int | None = None,
        user_id: UserId | None = None,
    ) -> list[LogEntry]:
        """The checkpoints of a branch, newest first, back through the threads it came from.

        Walks the branch's thread (root namespace) down to the checkpoint it
        was rolled back to, lists that one (a copy: same id as in the parent),
        then goes on in the parent thread from the checkpoint before it, and
        so on to the session's first checkpoint. Follows each checkpoint's
        parent, so forks made inside one thread are skipped.

        Args:
            config_or_session: A config (its thread's head, or from
                `configurable.checkpoint_id`), a session id or an
                `ExternalSession` (its current thread's head).
            limit: At most this many entries; the walk stops, and reads no
                further, once it has them.
            user_id: When given, must own the session (`SessionAccessError`).

        Example:
            ```python
            for e in saver.log(session_id, limit=10):
                print(e.step, e.source, e.preview)
            saver.rollback(saver.log(session_id)[3].config)
            ```
        """
        return run_sync(_log_plan(config_or_session, limit, user_id), self._targets)

    async def alog(
        self,
        config_or_session: RunnableConfig | ExternalSession | int,
        *,
        limit: int | None = None,
        user_id: UserId | None = None,
    ) -> list[LogEntry]:
        """Async twin of `log`."""
        return await run_async(_log_plan(config_or_session, limit, user_id), self._targets)

    # tags and refs
    def tag(self, config: RunnableConfig, name: str, *, user_id: UserId | None = None) -> Tag:
        """Name the checkpoint `config` names (its thread's head if it names none).

        Tag names are unique within a session (`NameConflictError`); the
        checkpoint must exist (`CheckpointNotFoundError`).

        Example:
            ```python
            saver.tag(graph.get_state(config).config, "before-booking")
            saver.rollback(saver.resolve(session_id, "before-booking"))
            ```
        """
        return run_sync(_tag_plan(config, name, user_id), self._targets)

    async def atag(
        self, config: RunnableConfig, name: str, *, user_id: UserId | None = None
    ) -> Tag:
        """Async twin of `tag`."""
        return await run_async(_tag_plan(config, name, user_id), self._targets)

    def tags(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> list[Tag]:
        """The session's tags, oldest first."""
        return run_sync(_tags_plan(session_id, user_id), self._targets)

    async def atags(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> list[Tag]:
        """Async twin of `tags`."""
        return await run_async(_tags_plan(session_id, user_id), self._targets)

    def untag(
        self, session_id: int | ExternalSession, name: str, *, user_id: UserId | None = None
    ) -> bool:
        """Remove a tag (the checkpoint stays); False if the session had no such tag."""
        return run_sync(_untag_plan(session_id, name, user_id), self._targets)

    async def auntag(
        self, session_id: int | ExternalSession, name: str, *, user_id: UserId | None = None
    ) -> bool:
        """Async twin of `untag`."""
        return await run_async(_untag_plan(session_id, name, user_id), self._targets)

    def resolve(
        self, session_id: int | ExternalSession, ref: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        """Turn a ref into the config of one checkpoint of the session.

        Tried in this order: a tag; a branch name; a thread id; `HEAD` (the
        current thread) and `main` (the first thread) unless a branch or tag
        has that name; a checkpoint id, found in the thread where it is
        original (the oldest thread holding it), not in a branch's copy;
        finally a unique prefix (4+ characters, a trailing `…` ignored) of a
        thread id or of a checkpoint id the session records (branch points and
        tags, as `tree` prints them). A branch or thread resolves to its head
        at the time of the call (the bare thread config if it has no
        checkpoint yet); use `switch`/`config_for` to keep working on a branch.

        Raises:
            RefNotFoundError: Nothing answers to `ref` (or a prefix is ambiguous).

        Example:
            ```python
            branch = saver.rollback(saver.resolve(session_id, "before-booking"))
            ```
        """
        return run_sync(_resolve_plan(session_id, ref, user_id), self._targets)

    async def aresolve(
        self, session_id: int | ExternalSession, ref: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        """Async twin of `resolve`."""
        return await run_async(_resolve_plan(session_id, ref, user_id), self._targets)

    # diff
    def diff(
        self,
        config_a: RunnableConfig,
        config_b: RunnableConfig,
        *,
        graph: Any = None,
        user_id: UserId | None = None,
    ) -> Diff:
        """Compare the state at two checkpoints, on any threads: a -> b.

        Without `graph`, values come from the checkpoints themselves
        (`checkpoint["channel_values"]`, LangGraph's internal channels left
        out). A `DeltaChannel` stores its value only every few steps; at other
        checkpoints it cannot be rebuilt without its reducer, so it is listed
        in `Diff.unresolved`. Pass the compiled graph (`graph=`) to compare
        `graph.get_state(config).values` instead, which is always complete.

        A config without `checkpoint_id` stands for its thread's head.

        Example:
            ```python
            d = saver.diff(saver.resolve(sid, "main"), saver.resolve(sid, "retry"))
            print(d.render())
            d.changed["messages"].messages.common_prefix
            ```
        """
        targets = {**self._targets, Pregel: graph}
        return run_sync(_diff_plan(config_a, config_b, graph, user_id), targets)

    async def adiff(
        self,
        config_a: RunnableConfig,
        config_b: RunnableConfig,
        *,
        graph: Any = None,
        user_id: UserId | None = None,
    ) -> Diff:
        """Async twin of `diff` (uses `graph.aget_state`)."""
        targets = {**self._targets, Pregel: graph}
        return await run_async(_diff_plan(config_a, config_b, graph, user_id), targets)

    # tree and Mermaid
    def tree_data(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> dict[str, Any]:
        """The session's branches as JSON-able nested nodes (for `--json` output).

        `{"session_id", "session_name", "user_id", "current_thread_id",
        "branch_count", "total_checkpoints", "roots": [node]}`, each node
        `{"thread_id", "short_id", "name", "label", "parent_thread_id",
        "short_parent_id", "branch_checkpoint_id", "short_branch_checkpoint_id",
        "branch_step", "checkpoint_count", "is_branch", "is_current",
        "created_at", "tags", "children"}`. Read from the session store only.
        `branch_step` is decoded from LangGraph's checkpoint id (None when it
        cannot be). It is `SessionTree.to_dict()`: `render_tree` and
        `render_mermaid` accept it as it is.
        """
        return run_sync(_tree_plan(session_id, user_id), self._targets).to_dict()

    async def atree_data(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> dict[str, Any]:
        """Async twin of `tree_data`."""
        tree = await run_async(_tree_plan(session_id, user_id), self._targets)
        return tree.to_dict()

    def tree(self, session_id: int | ExternalSession, *, user_id: UserId | None = None) -> str:
        """A text tree of the session's branches, e.g.::

            main  7f3a9c21…  (9 checkpoints)
            ├── retry  c1d2e3f4…  from 7f3a9c21…@1f1e8d32-b109…  (step 2)  (4 checkpoints)  *
            └── 0b5e8a17…  from 7f3a9c21…@1f1e8d32-b10f…  (step 5)  (2 checkpoints)

        Each line: name (the first thread is `main` unless named), short thread
        id, where it branched (parent thread @ checkpoint, its step), how many
        checkpoints it holds (all namespaces, the copied ones included), its
        tags, `*` on the current thread. Short ids are unique prefixes that
        `resolve` accepts. Reads only the session store.
        """
        return render_tree(run_sync(_tree_plan(session_id, user_id), self._targets))

    async def atree(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> str:
        """Async twin of `tree`."""
        return render_tree(await run_async(_tree_plan(session_id, user_id), self._targets))

    def mermaid(self, session_id: int | ExternalSession, *, user_id: UserId | None = None) -> str:
        """Mermaid `gitGraph` text of the session's branches.

        One commit per branch point and per head (one per checkpoint would be
        too many); reads only the session store. It renders on GitHub inside a
        ```` ```mermaid ```` block, and in Jupyter with
        `IPython.display.Markdown(f"```mermaid\\n{text}\\n```")` (JupyterLab 4.1+).
        """
        return render_mermaid(run_sync(_tree_plan(session_id, user_id), self._targets))

    async def amermaid(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> str:
        """Async twin of `mermaid`."""
        return render_mermaid(await run_async(_tree_plan(session_id, user_id), self._targets))
