"""`AgentGitSaver`: git-style sessions around any LangGraph checkpointer.

The saver is the `BaseCheckpointSaver` contract only: construction, delegation
of every checkpointer method to the wrapped saver, counting each put into its
session, and the owner check. Sessions and branches (`branching.Branching`),
history (`history.History`) and maintenance (`maintenance.Maintenance`) are
services it owns (`saver.branching`, `saver.history`, `saver.maintenance`),
sharing one `SaverContext`; its flat public methods forward to them.

Example:
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> saver = AgentGitSaver(InMemorySaver())
    >>> graph = builder.compile(checkpointer=saver)          # doctest: +SKIP
    >>> graph.invoke(inputs, {"configurable": {"thread_id": "chat"}})  # doctest: +SKIP
    >>> history = list(graph.get_state_history({"configurable": {"thread_id": "chat"}}))
    >>> branch = saver.rollback(history[2].config)            # doctest: +SKIP
    >>> graph.invoke(new_inputs, branch)                      # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from agentgit_langgraph import _validate as check
from agentgit_langgraph._access import access_plan
from agentgit_langgraph._context import SaverContext
from agentgit_langgraph._faults import reached
from agentgit_langgraph._plan import run_async, run_sync
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.backends import default_store_for
from agentgit_langgraph.branching import Branching, timeout_of
from agentgit_langgraph.configs import owner_of
from agentgit_langgraph.fsck import FsckReport
from agentgit_langgraph.history import History
from agentgit_langgraph.history.records import Diff, LogEntry
from agentgit_langgraph.maintenance import Maintenance
from agentgit_langgraph.reversal import Reverser, ToolReversers
from agentgit_langgraph.sessions import ExternalSession, InternalSession, Reversal, Tag
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = ["AgentGitSaver"]


def _access_target(config: Any) -> tuple[str, str] | None:
    """`(thread_id, owner key)` when the config asks for an ownership check.

    A config `user_id` that is not an int or a str is `InvalidConfigError`.
    """
    owner = owner_of(config)
    if owner is None:
        return None
    thread_id = config["configurable"].get("thread_id")
    return None if thread_id is None else (str(thread_id), owner)


def _put_target(config: Any) -> tuple[str, str]:
    """`(thread_id, owner key)` a put counts into: checked before the saver writes.

    The owner is the config's `user_id` (int or str), else "0" (agentgit's user 0).
    """
    thread_id = check.thread_id(config["configurable"]["thread_id"])
    owner = owner_of(config)
    return thread_id, "0" if owner is None else owner


class AgentGitSaver(BaseCheckpointSaver[Any]):
    """A checkpointer that wraps another one and adds sessions and branches.

    Every `BaseCheckpointSaver` method is delegated to `saver` unchanged; each
    successful `put` into a thread of a session is also counted in `store`.
    `rollback` opens a new thread at any checkpoint, leaving the old one as it
    was. The session, history and maintenance methods forward to the services
    the saver owns: `branching`, `history` and `maintenance`. The wrapped
    saver's own attributes (e.g. `conn`) are on `saver`, not forwarded.

    Args:
        saver: The LangGraph checkpointer to wrap (InMemorySaver, SqliteSaver,
            AsyncSqliteSaver, PostgresSaver, AsyncPostgresSaver, ...).
        store: Where sessions live. When None, the saver's own database
            (SQLite, PostgreSQL, sync or async: see `backends.default_store_for`),
            memory for `InMemorySaver`, and memory with a warning otherwise.
        auto_session: Create a session for the first checkpoint of an unknown
            thread, so an existing agent gets sessions without code changes.

    Example:
        ```python
        from langgraph.checkpoint.memory import InMemorySaver
        from agentgit_langgraph import AgentGitSaver

        saver = AgentGitSaver(InMemorySaver())
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "chat-1"}}
        graph.invoke({"messages": [("user", "hi")]}, config)
        earlier = list(graph.get_state_history(config))[-2]
        branch = saver.rollback(earlier.config)   # a new thread starting there
        graph.invoke({"messages": [("user", "try again")]}, branch)
        ```
    """

    def __init__(
        self,
        saver: BaseCheckpointSaver[Any],
        store: BaseSessionStore | None = None,
        *,
        auto_session: bool = True,
        reversers: Mapping[str, Reverser] | None = None,
        reverse_timeout: float | None = None,
    ) -> None:
        """See the class docstring.

        `reversers` maps a tool name to the handler that undoes a call of it
        (`handler(args[, result[, artifact]])`, sync or async), run by
        `rollback(..., reverse_tools=True)`; see `agentgit_langgraph.reversal`.
        More can be added with `register_reverser`. `reverse_timeout` is the
        default bound, in seconds, on each handler of such a rollback (None: no
        bound; a rollback's own `reverse_timeout=` overrides it).
        """
        # BaseCheckpointSaver.__init__ only sets `serde`, which we take from `saver`.
        self._attach(
            SaverContext(
                saver,
                store if store is not None else default_store_for(saver),
                auto_session=auto_session,
                reversers=ToolReversers(reversers),
                reverse_timeout=timeout_of(reverse_timeout),
            )
        )

    def _attach(self, ctx: SaverContext) -> None:
        """Own `ctx` and the services built on it."""
        self._ctx = ctx
        self.branching = Branching(ctx)
        """Sessions, branches, rollback, recovery, fsck and tool reversal."""
        self.history = History(ctx)
        """Log, tags and refs, diff, tree and Mermaid."""
        self.maintenance = Maintenance(ctx)
        """Deleting sessions and threads, pruning, copying threads."""

    # -- what it wraps ---------------------------------------------------------
    @property
    def saver(self) -> BaseCheckpointSaver[Any]:
        """The wrapped LangGraph checkpointer (its own attributes, e.g. `conn`, are there)."""
        return self._ctx.saver

    @property
    def store(self) -> BaseSessionStore:
        """The session store."""
        return self._ctx.store

    @property
    def auto_session(self) -> bool:
        """Whether a put into a thread no session holds creates a session for it."""
        return self._ctx.auto_session

    @auto_session.setter
    def auto_session(self, value: bool) -> None:
        self._ctx.auto_session = value

    @property
    def reversers(self) -> ToolReversers:
        """The tool-reversal handlers (`register_reverser` adds one)."""
        return self._ctx.reversers

    @property
    def reverse_timeout(self) -> float | None:
        """The default bound, in seconds, on each reversal handler (None: no bound)."""
        return self._ctx.reverse_timeout

    @reverse_timeout.setter
    def reverse_timeout(self, value: float | None) -> None:
        self._ctx.reverse_timeout = value

    @property
    def _targets(self) -> dict[type, Any]:
        """The plan targets (`_plan.py`), for running a plan directly."""
        return self._ctx.targets

    # -- construction --------------------------------------------------------
    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        conn_string: str,
        *,
        auto_session: bool = True,
        reversers: Mapping[str, Reverser] | None = None,
        reverse_timeout: float | None = None,
    ) -> Iterator[AgentGitSaver]:
        """Open the LangGraph saver and the session store on one database.

        A SQLite path (or `":memory:"`) opens `SqliteSaver`; a `postgresql://`
        URI opens `PostgresSaver` (needs the `postgres` extra).

        Example:
            ```python
            with AgentGitSaver.from_conn_string("agent.db") as saver:
                graph = builder.compile(checkpointer=saver)
            ```
        """
        from agentgit_langgraph.backends import open_sync

        with open_sync(conn_string) as (saver, store):
            wrapped = cls(
                saver,
                store,
                auto_session=auto_session,
                reversers=reversers,
                reverse_timeout=reverse_timeout,
            )
            wrapped.recover_branches()  # cheap: finishes what dead operations left
            yield wrapped

    @classmethod
    @asynccontextmanager
    async def afrom_conn_string(
        cls,
        conn_string: str,
        *,
        auto_session: bool = True,
        reversers: Mapping[str, Reverser] | None = None,
        reverse_timeout: float | None = None,
    ) -> AsyncIterator[AgentGitSaver]:
        """Async twin of `from_conn_string` (`AsyncSqliteSaver`, `AsyncPostgresSaver`)."""
        from agentgit_langgraph.backends import open_async

        async with open_async(conn_string) as (saver, store):
            wrapped = cls(
                saver,
                store,
                auto_session=auto_session,
                reversers=reversers,
                reverse_timeout=reverse_timeout,
            )
            await wrapped.arecover_branches()
            yield wrapped

    def setup(self) -> None:
        """Set up the wrapped saver (if it has `setup`) and the session store."""
        setup = getattr(self.saver, "setup", None)
        if callable(setup):
            setup()
        self.store.setup()

    async def asetup(self) -> None:
        """Async twin of `setup` (awaits the saver's async `setup` when it has one)."""
        setup = getattr(self.saver, "asetup", None) or getattr(self.saver, "setup", None)
        if callable(setup):
            result = setup()
            if hasattr(result, "__await__"):
                await result
        await self.store.asetup()

    # -- delegation ----------------------------------------------------------
    @property
    def serde(self) -> SerializerProtocol:
        return self.saver.serde

    @serde.setter
    def serde(self, value: SerializerProtocol) -> None:
        self.saver.serde = value

    @property
    def config_specs(self) -> builtins.list[Any]:
        return self.saver.config_specs

    def with_allowlist(self, extra_allowlist: Collection[tuple[str, ...]]) -> AgentGitSaver:
        inner = self.saver.with_allowlist(extra_allowlist)
        if inner is self.saver:
            return self
        clone = copy.copy(self)
        clone._attach(self._ctx.with_saver(inner))
        return clone

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self.saver.get_next_version(current, channel)

    # -- user isolation ------------------------------------------------------
    def _check_access(self, config: Any) -> None:
        """Refuse a config whose `user_id` (int or str) does not own the thread's session.

        Free when the config has no `user_id` (the common case on the hot
        path); otherwise `access_plan`: one indexed store read, never cached.
        A `user_id` that is neither an int nor a str is `InvalidConfigError`.
        """
        if (target := _access_target(config)) is not None:
            run_sync(access_plan(*target), self._targets)

    async def _acheck_access(self, config: Any) -> None:
        """Async twin of `_check_access`."""
        if (target := _access_target(config)) is not None:
            await run_async(access_plan(*target), self._targets)

    def get(self, config: RunnableConfig) -> Checkpoint | None:
        self._check_access(config)
        return self.saver.get(config)

    async def aget(self, config: RunnableConfig) -> Checkpoint | None:
        await self._acheck_access(config)
        return await self.saver.aget(config)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        self._check_access(config)
        return self.saver.get_tuple(config)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        await self._acheck_access(config)
        return await self.saver.aget_tuple(config)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        self._check_access(config)
        return self.saver.list(config, filter=filter, before=before, limit=limit)

    def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        if owner_of(config) is None:
            return self.saver.alist(config, filter=filter, before=before, limit=limit)
        return self._alist_checked(config, filter=filter, before=before, limit=limit)

    async def _alist_checked(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> AsyncIterator[CheckpointTuple]:
        await self._acheck_access(config)
        inner = self.saver.alist(config, filter=filter, before=before, limit=limit)
        try:
            async for item in inner:
                yield item
        finally:
            aclose = getattr(inner, "aclose", None)
            if aclose is not None:
                await aclose()

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        thread_id, owner = _put_target(config)
        self._check_access(config)
        if self.auto_session and thread_id not in self._ctx.registered:
            # The session first: a process dying after the save leaves no
            # checkpoint that no session holds.
            self.store.ensure_session_for_thread(thread_id, user_id=owner)
        reached("put.before_save")
        saved = self.saver.put(config, checkpoint, metadata, new_versions)
        reached("put.saved")
        if not self.store.record_checkpoints(thread_id):
            if not self.auto_session:
                return saved
            # Its session was deleted meanwhile (another process): the run goes on in a new one.
            self.store.ensure_session_for_thread(thread_id, user_id=owner)
            self.store.record_checkpoints(thread_id)
        self._ctx.registered.add(thread_id)
        return saved

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        thread_id, owner = _put_target(config)
        await self._acheck_access(config)
        if self.auto_session and thread_id not in self._ctx.registered:
            await self.store.aensure_session_for_thread(thread_id, user_id=owner)
        reached("put.before_save")
        saved = await self.saver.aput(config, checkpoint, metadata, new_versions)
        reached("put.saved")
        if not await self.store.arecord_checkpoints(thread_id):
            if not self.auto_session:
                return saved
            await self.store.aensure_session_for_thread(thread_id, user_id=owner)
            await self.store.arecord_checkpoints(thread_id)
        self._ctx.registered.add(thread_id)
        return saved

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._check_access(config)
        self.saver.put_writes(config, writes, task_id, task_path)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._acheck_access(config)
        await self.saver.aput_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        """Delete the thread in the wrapped saver and take it out of its session.

        Also drops a leftover rewrite backup of it. If it was its session's
        current thread, the session's newest remaining thread becomes current;
        a session left without threads is deleted.
        """
        self.maintenance.delete_thread(thread_id)

    async def adelete_thread(self, thread_id: str) -> None:
        await self.maintenance.adelete_thread(thread_id)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and write of a thread, all namespaces, into another.

        Delegated when the wrapped saver implements it; otherwise done over its
        primitives, keeping ids, metadata, parent links and writes. A target
        that belongs to a session is counted; with `auto_session`, an unknown
        target gets a session owned by the source's owner.
        """
        self.maintenance.copy_thread(source_thread_id, target_thread_id)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self.maintenance.acopy_thread(source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Prune threads: `"keep_latest"` per namespace (DeltaChannel-safe) or `"delete"`.

        Delegated when the wrapped saver implements it; otherwise done over its
        primitives (module doc: what is kept, and the non-atomic window).
        Counts of threads in sessions then equal what the saver holds; with
        `"delete"` the threads leave their sessions, as with `delete_thread`.
        """
        self.maintenance.prune(thread_ids, strategy=strategy)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self.maintenance.aprune(thread_ids, strategy=strategy)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) whose metadata `run_id` is listed.

        Delegated when the wrapped saver implements it; otherwise each thread
        holding such checkpoints is rewritten without them (module doc).
        """
        self.maintenance.delete_for_runs(run_ids)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self.maintenance.adelete_for_runs(run_ids)

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        self._check_access(config)
        return self.saver.get_delta_channel_history(config=config, channels=channels)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        await self._acheck_access(config)
        return await self.saver.aget_delta_channel_history(config=config, channels=channels)

    # -- the flat public API: each method forwards to the service that owns it ----
    # sessions and branches
    def create_session(
        self, user_id: UserId = 0, session_name: str = "", metadata: Mapping[str, Any] | None = None
    ) -> ExternalSession:
        """Create a session with a fresh first thread; `config_for` gives its config."""
        return self.branching.create_session(user_id, session_name, metadata)

    async def acreate_session(
        self, user_id: UserId = 0, session_name: str = "", metadata: Mapping[str, Any] | None = None
    ) -> ExternalSession:
        return await self.branching.acreate_session(user_id, session_name, metadata)

    def get_session(self, session_id: int, *, user_id: UserId | None = None) -> ExternalSession:
        """The session, checked against `user_id` when given."""
        return self.branching.get_session(session_id, user_id=user_id)

    async def aget_session(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> ExternalSession:
        return await self.branching.aget_session(session_id, user_id=user_id)

    def list_sessions(self, user_id: UserId | None = None) -> builtins.list[ExternalSession]:
        """Every session, or only those of `user_id` (an int or a str owner)."""
        return self.branching.list_sessions(user_id)

    async def alist_sessions(self, user_id: UserId | None = None) -> builtins.list[ExternalSession]:
        return await self.branching.alist_sessions(user_id)

    def session_for_thread(
        self, thread_id: str, *, user_id: UserId | None = None
    ) -> ExternalSession:
        """The session holding `thread_id` (`ThreadNotFoundError` if none)."""
        return self.branching.session_for_thread(thread_id, user_id=user_id)

    async def asession_for_thread(
        self, thread_id: str, *, user_id: UserId | None = None
    ) -> ExternalSession:
        return await self.branching.asession_for_thread(thread_id, user_id=user_id)

    def config_for(
        self, session_or_id: ExternalSession | int, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        """The config of the session's current thread, ready for `graph.invoke`."""
        return self.branching.config_for(session_or_id, user_id=user_id)

    async def aconfig_for(
        self, session_or_id: ExternalSession | int, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        return await self.branching.aconfig_for(session_or_id, user_id=user_id)

    def branches(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> builtins.list[InternalSession]:
        """The session's threads (its `InternalSession`s), first thread first."""
        return self.branching.branches(session_id, user_id=user_id)

    async def abranches(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> builtins.list[InternalSession]:
        return await self.branching.abranches(session_id, user_id=user_id)

    def switch(
        self, session_id: int, thread_id: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        """Make one of the session's threads current and return its config."""
        return self.branching.switch(session_id, thread_id, user_id=user_id)

    async def aswitch(
        self, session_id: int, thread_id: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        return await self.branching.aswitch(session_id, thread_id, user_id=user_id)

    def rollback(
        self,
        config: RunnableConfig,
        *,
        user_id: UserId | None = None,
        name: str | None = None,
        reverse_tools: bool = False,
        strict: bool = False,
        reverse_timeout: float | None = None,
    ) -> RunnableConfig:
        """Open a new branch: a new thread that starts at the checkpoint `config` names.

        Copies that one checkpoint and its pending writes (cost independent of
        the history's length), registers the thread as a branch of the same
        session (`branch_count` += 1, it becomes current) and returns its
        config. The original thread is not touched. All or nothing.

        Args:
            config: Names `thread_id` and `checkpoint_id`, e.g. a
                `StateSnapshot.config` from `graph.get_state_history()`.
            user_id: When given (an int or a str owner), must own the session
                (`SessionAccessError`). When not, `configurable.user_id` in
                `config`, if any, must.
            name: An optional label for the branch.
            reverse_tools: First undo, newest first, every tool call the thread
                executed after that checkpoint, with the handlers registered
                for the tools (`reversers=`, `register_reverser`). Each call is
                recorded (`reversals()`) and successfully undone at most once
                per session, even by rollbacks racing in other processes (one
                claims it, the others wait for its outcome).
            strict: With `reverse_tools`, stop at the first failing handler and
                raise `ToolReversalError` without creating the branch (by
                default the failure is recorded and the rollback goes on).
            reverse_timeout: With `reverse_tools`, the most seconds each
                handler may run: a sync one runs in a worker thread and is
                abandoned after it, an async one is cancelled; the call is
                recorded `failed` (`ReversalTimeoutError: ...`). None: the
                saver's `reverse_timeout` (by default none, no bound);
                `math.inf`: no bound for this rollback.

        Raises:
            InvalidConfigError, ThreadNotFoundError, CheckpointNotFoundError,
            SessionAccessError: nothing is changed.
            ToolReversalError: with `strict=True`; no branch, and the calls
                undone before the failing one stay recorded as `reversed`.

        Example:
            ```python
            saver.register_reverser("book_flight", lambda args, result: cancel(result))
            branch = saver.rollback(earlier.config, reverse_tools=True, reverse_timeout=30)
            saver.reversals(earlier.config["configurable"]["thread_id"])
            ```
        """
        return self.branching.rollback(
            config,
            user_id=user_id,
            name=name,
            reverse_tools=reverse_tools,
            strict=strict,
            reverse_timeout=reverse_timeout,
        )

    async def arollback(
        self,
        config: RunnableConfig,
        *,
        user_id: UserId | None = None,
        name: str | None = None,
        reverse_tools: bool = False,
        strict: bool = False,
        reverse_timeout: float | None = None,
    ) -> RunnableConfig:
        """Async twin of `rollback`."""
        return await self.branching.arollback(
            config,
            user_id=user_id,
            name=name,
            reverse_tools=reverse_tools,
            strict=strict,
            reverse_timeout=reverse_timeout,
        )

    def recover_branches(
        self, *, older_than: timedelta = timedelta(minutes=10)
    ) -> builtins.list[str]:
        """Finish what operations that died part way left; return the branch threads deleted.

        * Threads the store already forgot (`delete_session`, `prune_branches`,
          `delete_thread`) whose checkpoints were not all deleted yet: deleted.
        * Rollbacks that died before registering their branch: a rollback
          notes its new thread before copying into it, signed by its process
          (`_liveness.py`), and clears the note when it registers the branch.
          The thread is deleted once that process is gone: at once on this
          host; after `older_than` (counted in UTC) for a note from another
          host, which cannot be checked. A note of a branch that was
          registered after all is only dropped.

        Runs by itself when a saver is opened with `from_conn_string`, and as
        part of `fsck(repair=True)`. Safe while other processes work.
        """
        return self.branching.recover_branches(older_than=older_than)

    async def arecover_branches(
        self, *, older_than: timedelta = timedelta(minutes=10)
    ) -> builtins.list[str]:
        """Async twin of `recover_branches`."""
        return await self.branching.arecover_branches(older_than=older_than)

    def fsck(
        self, *, repair: bool = False, older_than: timedelta = timedelta(minutes=10)
    ) -> FsckReport:
        """Check every invariant between the wrapped saver and the store; repair with `repair`.

        Reports each violation found (`FsckReport.violations`) and, with
        `repair=True`, what it did about it: finishes deletes and removes the
        threads of dead rollbacks (as `recover_branches`, with `older_than`
        for notes from other hosts), adopts checkpoints no session holds into
        a session of their run's `user_id`, sets counts to what the saver
        holds, takes empty branches out of their session and gives a session
        whose current thread is gone its newest one. Reads the whole history
        once (see `agentgit_langgraph.fsck`); run it with no writer active for
        an exact picture, though it is safe at any time.

        Example:
            ```python
            report = saver.fsck(repair=True)
            assert report.clean, str(report)
            ```
        """
        return self.branching.fsck(repair=repair, older_than=older_than)

    async def afsck(
        self, *, repair: bool = False, older_than: timedelta = timedelta(minutes=10)
    ) -> FsckReport:
        """Async twin of `fsck`."""
        return await self.branching.afsck(repair=repair, older_than=older_than)

    def register_reverser(self, name: str, fn: Reverser) -> None:
        """Undo calls of the tool `name` with `fn` when a rollback reverses tools.

        `fn(args)`, `fn(args, result)` or `fn(args, result, artifact)`: the
        call's arguments, the `ToolMessage`'s content and artifact. Sync or
        async. Replaces an earlier handler of that tool.
        """
        self.branching.register_reverser(name, fn)

    def reversals(
        self,
        thread_id: str | None = None,
        *,
        session_id: int | None = None,
        user_id: UserId | None = None,
    ) -> builtins.list[Reversal]:
        """Reversal records of rollbacks from `thread_id`, or of a whole session.

        One per tool call (`tool_name`, `tool_call_id`, `args`, `status`:
        `reversed` / `no_handler` / `failed` with `error`, or `pending` while a
        handler runs or after a crash), oldest first. With `user_id`, the
        session must be theirs (`SessionAccessError`).
        """
        return self.branching.reversals(thread_id, session_id=session_id, user_id=user_id)

    async def areversals(
        self,
        thread_id: str | None = None,
        *,
        session_id: int | None = None,
        user_id: UserId | None = None,
    ) -> builtins.list[Reversal]:
        """Async twin of `reversals`."""
        return await self.branching.areversals(thread_id, session_id=session_id, user_id=user_id)

    # maintenance
    def delete_session(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> builtins.list[str]:
        """Erase a session: its threads in the wrapped saver, then its records.

        Every namespace, checkpoint and write of every thread of the session
        goes (`delete_thread`), then the session, its threads and tags in the
        store. A failure part way leaves the session in place with some
        threads already empty; calling again finishes. Stop runs on the
        session first: a run that saves into one of its threads afterwards
        starts a new (auto) session for that thread.

        Args:
            session_id: The session to erase.
            user_id: When given, must own the session (`SessionAccessError`).

        Returns:
            The deleted thread ids.

        Raises:
            SessionNotFoundError, SessionAccessError: nothing is changed.

        Example:
            ```python
            saver.delete_session(session.id, user_id=42)
            ```
        """
        return self.maintenance.delete_session(session_id, user_id=user_id)

    async def adelete_session(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> builtins.list[str]:
        """Async twin of `delete_session`."""
        return await self.maintenance.adelete_session(session_id, user_id=user_id)

    def prune_branches(
        self,
        session_id: int,
        *,
        older_than: timedelta | None = None,
        user_id: UserId | None = None,
    ) -> builtins.list[str]:
        """Remove the branches that are neither current nor an ancestor of it.

        The current thread and its chain of parents (`parent_thread_id`) are
        kept; any other thread of the session, the first one included, is
        deleted in the wrapped saver and forgotten by the store (with its tags).
        The first thread is kept whenever it is an ancestor of the current one,
        which it is unless an earlier prune removed a thread in between.
        Kept branches keep working: a branch is a self-contained copy and never
        reads its parent's checkpoints. A kept branch may then name a removed
        parent in `parent_thread_id`.

        Args:
            session_id: The session.
            older_than: Only remove branches created longer ago than this.
            user_id: When given, must own the session (`SessionAccessError`).

        Returns:
            The removed thread ids, in the order they were added to the session.

        Example:
            ```python
            removed = saver.prune_branches(session.id, older_than=timedelta(days=7))
            ```
        """
        return self.maintenance.prune_branches(session_id, older_than=older_than, user_id=user_id)

    async def aprune_branches(
        self,
        session_id: int,
        *,
        older_than: timedelta | None = None,
        user_id: UserId | None = None,
    ) -> builtins.list[str]:
        """Async twin of `prune_branches`."""
        return await self.maintenance.aprune_branches(
            session_id, older_than=older_than, user_id=user_id
        )

    # history
    def log(
        self,
        config_or_session: RunnableConfig | ExternalSession | int,
        *,
        limit: int | None = None,
        user_id: UserId | None = None,
    ) -> builtins.list[LogEntry]:
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
        return self.history.log(config_or_session, limit=limit, user_id=user_id)

    async def alog(
        self,
        config_or_session: RunnableConfig | ExternalSession | int,
        *,
        limit: int | None = None,
        user_id: UserId | None = None,
    ) -> builtins.list[LogEntry]:
        """Async twin of `log`."""
        return await self.history.alog(config_or_session, limit=limit, user_id=user_id)

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
        return self.history.tag(config, name, user_id=user_id)

    async def atag(
        self, config: RunnableConfig, name: str, *, user_id: UserId | None = None
    ) -> Tag:
        """Async twin of `tag`."""
        return await self.history.atag(config, name, user_id=user_id)

    def tags(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> builtins.list[Tag]:
        """The session's tags, oldest first."""
        return self.history.tags(session_id, user_id=user_id)

    async def atags(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> builtins.list[Tag]:
        """Async twin of `tags`."""
        return await self.history.atags(session_id, user_id=user_id)

    def untag(
        self, session_id: int | ExternalSession, name: str, *, user_id: UserId | None = None
    ) -> bool:
        """Remove a tag (the checkpoint stays); False if the session had no such tag."""
        return self.history.untag(session_id, name, user_id=user_id)

    async def auntag(
        self, session_id: int | ExternalSession, name: str, *, user_id: UserId | None = None
    ) -> bool:
        """Async twin of `untag`."""
        return await self.history.auntag(session_id, name, user_id=user_id)

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
        return self.history.resolve(session_id, ref, user_id=user_id)

    async def aresolve(
        self, session_id: int | ExternalSession, ref: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        """Async twin of `resolve`."""
        return await self.history.aresolve(session_id, ref, user_id=user_id)

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
        return self.history.diff(config_a, config_b, graph=graph, user_id=user_id)

    async def adiff(
        self,
        config_a: RunnableConfig,
        config_b: RunnableConfig,
        *,
        graph: Any = None,
        user_id: UserId | None = None,
    ) -> Diff:
        """Async twin of `diff` (uses `graph.aget_state`)."""
        return await self.history.adiff(config_a, config_b, graph=graph, user_id=user_id)

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
        return self.history.tree_data(session_id, user_id=user_id)

    async def atree_data(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> dict[str, Any]:
        """Async twin of `tree_data`."""
        return await self.history.atree_data(session_id, user_id=user_id)

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
        return self.history.tree(session_id, user_id=user_id)

    async def atree(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> str:
        """Async twin of `tree`."""
        return await self.history.atree(session_id, user_id=user_id)

    def mermaid(self, session_id: int | ExternalSession, *, user_id: UserId | None = None) -> str:
        """Mermaid `gitGraph` text of the session's branches.

        One commit per branch point and per head (one per checkpoint would be
        too many); reads only the session store. It renders on GitHub inside a
        ```` ```mermaid ```` block, and in Jupyter with
        `IPython.display.Markdown(f"```mermaid\\n{text}\\n```")` (JupyterLab 4.1+).
        """
        return self.history.mermaid(session_id, user_id=user_id)

    async def amermaid(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> str:
        """Async twin of `mermaid`."""
        return await self.history.amermaid(session_id, user_id=user_id)
