"""`AgentGitSaver`: git-style sessions around any LangGraph checkpointer.

The saver is the `BaseCheckpointSaver` contract only: construction, delegation
of every checkpointer method to the wrapped saver, counting each put into its
session, and the owner check. Sessions and branches (`branching.Branching`),
history (`history.History`) and maintenance (`maintenance.Maintenance`) are
services it owns (`saver.branching`, `saver.history`, `saver.maintenance`),
sharing one `SaverContext`. Its flat public methods (`rollback`, `log`, ...)
are the services' sync/async pairs, re-exported one line per pair
(`rollback, arollback = Branching.rollback, Branching.arollback`); a service
declares each pair once, `twins(rollback_plan)`, from the plan function that
carries the signature and docs (`_plan.twins`).

Where a call goes: `put` → the wrapped saver's `put` and the store's
`record_checkpoints` (with `_before_save_plan` here first unless the put is
in the steady state: owner check, session);
`rollback` → `Branching.rollback` → `branching.rollback_plan` → `_copy.py`
and the store's `begin_branch`/`add_branch`; `log` → `History.log` →
`history.log.log_plan` → the saver's `list`/`get_tuple` and the store's tags.

Example:
    ```python
    saver = AgentGitSaver(InMemorySaver())
    graph = builder.compile(checkpointer=saver)
    branch = saver.rollback(list(graph.get_state_history(config))[2].config)
    ```
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any, TypedDict, TypeVar, Unpack

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
from agentgit_langgraph._context import (
    HELD_RECHECK_SECONDS,
    Forwarded,
    SaverContext,
    Settable,
    timeout_of,
)
from agentgit_langgraph._faults import reached
from agentgit_langgraph._plan import Plan, call, gather, local, run_async, run_sync, twins
from agentgit_langgraph.adoption import adopt_on_put
from agentgit_langgraph.backends import default_store_for, sync_only
from agentgit_langgraph.branching import Branching
from agentgit_langgraph.configs import checkpoint_config, owner_of
from agentgit_langgraph.errors import AsyncUnsupportedError
from agentgit_langgraph.history import History
from agentgit_langgraph.maintenance import (
    Maintenance,
    copy_thread_plan,
    delete_for_runs_plan,
    delete_thread_plan,
    prune_plan,
)
from agentgit_langgraph.reversal import Reverser, ToolReversers
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = ["AgentGitSaver"]

T = TypeVar("T")


def _access_target(config: Any) -> tuple[str, str] | None:
    """`(thread_id, owner key)` when the config asks for an ownership check.

    A config `user_id` that is not an int or a str is `InvalidConfigError`.
    """
    owner = owner_of(config)
    if owner is None:
        return None
    thread_id = config["configurable"].get("thread_id")
    return None if thread_id is None else (str(thread_id), owner)


def _put_target(config: Any) -> tuple[str, str | None]:
    """`(thread_id, owner key)` of a put, checked before the saver writes.

    The owner is the config's `user_id` (int or str); None when it has none,
    which needs no ownership check and counts as agentgit's user 0.
    """
    return check.thread_id(config["configurable"]["thread_id"]), owner_of(config)


class _Options(TypedDict, total=False):
    """The constructor's keyword arguments, which `from_conn_string` passes on."""

    auto_session: bool
    reversers: Mapping[str, Reverser] | None
    reverse_timeout: float | None
    held_recheck_seconds: float


class _ListOptions(TypedDict, total=False):
    """`list`/`alist`'s keyword arguments (LangGraph's: `filter`, `before`, `limit`)."""

    filter: dict[str, Any] | None
    before: RunnableConfig | None
    limit: int | None


def _before_save_plan(thread_id: str, user: str | None) -> Plan[None]:
    """What a put checks before saving, unless it is in the steady state (no
    `user_id`, and a thread this process saw held: `SaverContext.steady`).

    The owner, when the config has a `user_id`; then, with `auto_session`, that
    a session holds a thread this process has not seen yet: the session comes
    first, so a process dying after the save leaves no checkpoint that no
    session holds (checkpoints saved earlier without the wrapper are counted
    too: `adoption.py`).
    """
    if user is not None:
        # The owner read is also a read of whether a session holds the thread.
        read_at = yield from local(SaverContext.clock)
        if (yield from access_plan(thread_id, user)) is None:
            yield from local(SaverContext.forget, [thread_id])
        else:
            yield from local(SaverContext.held, thread_id, read_at)
    if (yield from local(SaverContext.unseen, thread_id)):
        yield from adopt_on_put(thread_id, "0" if user is None else user)


def _unheld_plan(thread_id: str, user: str | None) -> Plan[None]:
    """A thread no session holds any more, read after a put into it (or by
    `recheck_held`): another process deleted its session meanwhile. With
    `auto_session` the run goes on in a new session, which counts what was
    saved into the thread since; a thread whose checkpoints all went with its
    session is left deleted. Either way this process stops trusting it held."""
    yield from local(SaverContext.forget, [thread_id])
    if not (yield from local(SaverContext.creates_sessions)):
        return
    saved: list[CheckpointTuple] = yield from gather(
        BaseCheckpointSaver.list, checkpoint_config(thread_id, None), limit=1
    )
    if not saved:
        return
    owner = "0" if user is None else user
    yield from call(BaseSessionStore.ensure_session_for_thread, thread_id, user_id=owner)
    yield from call(BaseSessionStore.record_checkpoints, thread_id)
    yield from local(SaverContext.held, thread_id)


def recheck_held_plan() -> Plan[list[str]]:
    """Read whether a session still holds each thread this process put into
    without reading it (inside `held_recheck_seconds` of the last read); return
    those no session held.

    A thread whose session another process deleted meanwhile, and which holds
    checkpoints saved since, gets a new session that counts them, as its next
    put after the window would (with `auto_session`; without, it stays
    outside any session). `from_conn_string` runs this on closing, and a put
    runs it for threads left unread for a whole window; a process that builds
    its saver itself may run it before it stops.

    Example:
        ```python
        saver.recheck_held()  # [] unless a session was deleted elsewhere meanwhile
        ```
    """
    return (yield from _recheck_plan((yield from local(SaverContext.unread_threads))))


def _recheck_plan(threads: list[tuple[str, str | None]]) -> Plan[list[str]]:
    """`recheck_held` of `threads` (`(thread id, owner key of its puts)`): those
    no session held, each given a new session of that owner as its put would."""
    unheld: list[str] = []
    for thread_id, user in threads:
        read_at = yield from local(SaverContext.clock)
        if (yield from call(BaseSessionStore.thread_owner, thread_id)) is not None:
            yield from local(SaverContext.held, thread_id, read_at)
            continue
        unheld.append(thread_id)
        yield from _unheld_plan(thread_id, user)
    return unheld


class AgentGitSaver(BaseCheckpointSaver[Any]):
    """A checkpointer that wraps another one and adds sessions and branches.

    Every `BaseCheckpointSaver` method is delegated to `saver` unchanged; each
    successful `put` into a thread of a session is also counted in `store`.
    `rollback` opens a new thread at any checkpoint, leaving the old one as it
    was. The session, history and maintenance methods are those of the services
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
        held_recheck_seconds: float = HELD_RECHECK_SECONDS,
    ) -> None:
        """See the class docstring.

        `reversers` maps a tool name to the handler that undoes a call of it
        (`handler(args[, result[, artifact]])`, sync or async), run by
        `rollback(..., reverse_tools=True)`; see `agentgit_langgraph.reversal`.
        More can be added with `register_reverser`. `reverse_timeout` is the
        default bound, in seconds, on each handler of such a rollback (None: no
        bound; a rollback's own `reverse_timeout=` overrides it).

        `held_recheck_seconds`: where the store counts saves in the saver's own
        tables (`from_conn_string`, or a SQLite or PostgreSQL saver with its
        default store), a put reads whether a session still holds its thread
        at most once in that many seconds per thread, so a session another
        process deletes is noticed by a later put, about that much later
        (0: every put reads). See `SaverContext.skips_count` and
        `recheck_held`.
        """
        # BaseCheckpointSaver.__init__ only sets `serde`, which we take from `saver`.
        self._attach(
            SaverContext(
                saver,
                store if store is not None else default_store_for(saver),
                auto_session=auto_session,
                reversers=ToolReversers(reversers),
                reverse_timeout=timeout_of(reverse_timeout),
                held_recheck_seconds=held_recheck_seconds,
            )
        )

    def _attach(self, ctx: SaverContext) -> None:
        """Own `ctx` and the services built on it."""
        self._ctx = ctx
        # Async code on a sync-only saver gets our hint, not LangGraph's "use
        # AsyncSqliteSaver" (which names a class the user never opened).
        self._sync_only = sync_only(ctx.saver)
        self.branching = Branching(ctx)
        """Sessions, branches, rollback, recovery, fsck and tool reversal."""
        self.history = History(ctx)
        """Log, tags and refs, diff, tree and Mermaid."""
        self.maintenance = Maintenance(ctx)
        """Deleting sessions and threads, pruning, copying threads."""

    # -- what it wraps ---------------------------------------------------------
    saver = Forwarded[BaseCheckpointSaver[Any]](
        "_ctx.saver",
        "The wrapped LangGraph checkpointer (its own attributes, e.g. `conn`, are there).",
    )
    store = Forwarded[BaseSessionStore]("_ctx.store", "The session store.")
    reversers = Forwarded[ToolReversers](
        "_ctx.reversers", "The tool-reversal handlers (`register_reverser` adds one)."
    )
    auto_session = Settable[bool](
        "_ctx.auto_session",
        "Whether a put into a thread no session holds creates a session for it.",
    )
    held_recheck_seconds = Settable[float](
        "_ctx.held_recheck_seconds",
        "How long a thread seen held by a session is trusted to stay held before a put "
        "reads it again, where the store counts saves in the saver's tables (0: every put).",
    )
    reverse_timeout = Settable[float | None](
        "_ctx.reverse_timeout",
        "The default bound, in seconds, on each reversal handler (None: no bound).",
    )

    @property
    def plan_targets(self) -> dict[type, Any]:
        """The plan targets (`_plan.py`), for running a plan directly."""
        return self._ctx.targets

    _targets = plan_targets

    def _run(self, plan: Plan[T]) -> T:
        return run_sync(plan, self.plan_targets)

    async def _arun(self, plan: Plan[T]) -> T:
        self._check_async()
        return await run_async(plan, self.plan_targets)

    def _check_async(self) -> None:
        if self._sync_only is not None:
            raise AsyncUnsupportedError(self._sync_only)

    # -- construction --------------------------------------------------------
    @classmethod
    @contextmanager
    def from_conn_string(
        cls, conn_string: str, **options: Unpack[_Options]
    ) -> Iterator[AgentGitSaver]:
        """Open the LangGraph saver and the session store on one database.

        A SQLite path (or `":memory:"`) opens `SqliteSaver`; a `postgresql://`
        URI opens `PostgresSaver` (needs the `postgres` extra). Closing runs
        `recheck_held` (see `held_recheck_seconds`). `options`:
        `auto_session`, `reversers`, `reverse_timeout`, `held_recheck_seconds`,
        as for the constructor.

        Example:
            ```python
            with AgentGitSaver.from_conn_string("agent.db") as saver:
                graph = builder.compile(checkpointer=saver)
            ```
        """
        from agentgit_langgraph.backends import open_sync

        with open_sync(conn_string) as (saver, store):
            wrapped = cls(saver, store, **options)
            wrapped.recover_branches()  # cheap: finishes what dead operations left
            try:
                yield wrapped
            except BaseException:
                with suppress(Exception):  # the error in flight says more
                    wrapped.recheck_held()
                raise
            wrapped.recheck_held()

    @classmethod
    @asynccontextmanager
    async def afrom_conn_string(
        cls, conn_string: str, **options: Unpack[_Options]
    ) -> AsyncIterator[AgentGitSaver]:
        """Async twin of `from_conn_string` (`AsyncSqliteSaver`, `AsyncPostgresSaver`)."""
        from agentgit_langgraph.backends import open_async

        async with open_async(conn_string) as (saver, store):
            wrapped = cls(saver, store, **options)
            await wrapped.arecover_branches()
            try:
                yield wrapped
            except BaseException:
                with suppress(Exception):
                    await wrapped.arecheck_held()
                raise
            await wrapped.arecheck_held()

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
    serde = Settable[SerializerProtocol]("_ctx.saver.serde", "The wrapped saver's serializer.")

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
        return self._ctx.saver.get_next_version(current, channel)

    # -- user isolation ------------------------------------------------------
    # Each checkpointer call: the owner check, then the wrapped saver's own call.
    def _checked(self, config: Any) -> BaseCheckpointSaver[Any]:
        """The wrapped saver, once a `user_id` in `config` is found to own the thread."""
        if (target := _access_target(config)) is not None:
            self._run(access_plan(*target))
        return self._ctx.saver

    async def _achecked(self, config: Any) -> BaseCheckpointSaver[Any]:
        self._check_async()
        if (target := _access_target(config)) is not None:
            await self._arun(access_plan(*target))
        return self._ctx.saver

    def get(self, config: RunnableConfig) -> Checkpoint | None:
        return self._checked(config).get(config)

    async def aget(self, config: RunnableConfig) -> Checkpoint | None:
        return await (await self._achecked(config)).aget(config)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._checked(config).get_tuple(config)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await (await self._achecked(config)).aget_tuple(config)

    def list(
        self, config: RunnableConfig | None, **options: Unpack[_ListOptions]
    ) -> Iterator[CheckpointTuple]:
        return self._checked(config).list(config, **options)

    def alist(
        self, config: RunnableConfig | None, **options: Unpack[_ListOptions]
    ) -> AsyncIterator[CheckpointTuple]:
        self._check_async()
        if owner_of(config) is None:
            return self.saver.alist(config, **options)
        return self._alist_checked(config, options)

    async def _alist_checked(
        self, config: RunnableConfig | None, options: _ListOptions
    ) -> AsyncIterator[CheckpointTuple]:
        inner = (await self._achecked(config)).alist(config, **options)
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
        """Save through the wrapped saver, then count the save into its session.

        The steady state (no `user_id`, a thread already seen held) calls the
        saver and the store directly, and skips the count where it would only
        read what this process saw lately (`SaverContext.skips_count`); the
        checks before the save and what follows a count that found no session
        are plans, shared with `aput`, which differs only in awaiting the same
        calls.
        """
        ctx = self._ctx
        thread_id, user = _put_target(config)
        if not ctx.steady(thread_id, user):
            self._run(_before_save_plan(thread_id, user))
        counted = ctx.skips_count(thread_id)
        reached("put.before_save")
        saved = ctx.saver.put(config, checkpoint, metadata, new_versions)
        reached("put.saved")
        # Unless forgotten while it saved (by a recheck finding it unheld, or a
        # delete, in another thread or task of this process): then read it now.
        if counted and thread_id in ctx.registered:
            ctx.note_unread(thread_id, user)
        else:
            read_at = ctx.clock()
            if ctx.store.record_checkpoints(thread_id):
                ctx.held(thread_id, read_at)
            else:
                self._run(_unheld_plan(thread_id, user))
        idle = ctx.unread_threads(idle_only=True)
        if idle:
            self._run(_recheck_plan(idle))
        return saved

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        self._check_async()
        ctx = self._ctx
        thread_id, user = _put_target(config)
        if not ctx.steady(thread_id, user):
            await self._arun(_before_save_plan(thread_id, user))
        counted = ctx.skips_count(thread_id)
        reached("put.before_save")
        saved = await ctx.saver.aput(config, checkpoint, metadata, new_versions)
        reached("put.saved")
        # Unless forgotten while it saved (by a recheck finding it unheld, or a
        # delete, in another thread or task of this process): then read it now.
        if counted and thread_id in ctx.registered:
            ctx.note_unread(thread_id, user)
        else:
            read_at = ctx.clock()
            if await ctx.store.arecord_checkpoints(thread_id):
                ctx.held(thread_id, read_at)
            else:
                await self._arun(_unheld_plan(thread_id, user))
        idle = ctx.unread_threads(idle_only=True)
        if idle:
            await self._arun(_recheck_plan(idle))
        return saved

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._checked(config).put_writes(config, writes, task_id, task_path)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await (await self._achecked(config)).aput_writes(config, writes, task_id, task_path)

    # LangGraph's optional capabilities: delegated when the wrapped saver has
    # them, else done over its primitives; counts kept exact (`maintenance.py`).
    def delete_thread(self, thread_id: str) -> None:
        self._run(delete_thread_plan(thread_id))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._arun(delete_thread_plan(thread_id))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._run(copy_thread_plan(source_thread_id, target_thread_id))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._arun(copy_thread_plan(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._run(prune_plan(thread_ids, strategy=strategy))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._arun(prune_plan(thread_ids, strategy=strategy))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._run(delete_for_runs_plan(run_ids))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._arun(delete_for_runs_plan(run_ids))

    delete_thread.__doc__ = delete_thread_plan.__doc__
    copy_thread.__doc__ = copy_thread_plan.__doc__
    prune.__doc__ = prune_plan.__doc__
    delete_for_runs.__doc__ = delete_for_runs_plan.__doc__

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        inner = self._checked(config)
        return inner.get_delta_channel_history(config=config, channels=channels)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        inner = await self._achecked(config)
        return await inner.aget_delta_channel_history(config=config, channels=channels)

    # -- the flat public API: the services' sync/async pairs, re-exported. Each
    # runs the plan function that carries its signature and docs (`_plan.twins`).
    # sessions and branches (`branching.py`)
    create_session, acreate_session = Branching.create_session, Branching.acreate_session
    get_session, aget_session = Branching.get_session, Branching.aget_session
    list_sessions, alist_sessions = Branching.list_sessions, Branching.alist_sessions
    session_for_thread = Branching.session_for_thread
    asession_for_thread = Branching.asession_for_thread
    config_for, aconfig_for = Branching.config_for, Branching.aconfig_for
    branches, abranches = Branching.branches, Branching.abranches
    switch, aswitch = Branching.switch, Branching.aswitch
    rollback, arollback = Branching.rollback, Branching.arollback
    adopt, aadopt = Branching.adopt, Branching.aadopt
    threads, athreads = Branching.threads, Branching.athreads
    set_status, aset_status = Branching.set_status, Branching.aset_status

    # clean-up (`maintenance.py`; `recovery.py`, `fsck.py` through `Branching`)
    delete_session, adelete_session = Maintenance.delete_session, Maintenance.adelete_session
    prune_branches, aprune_branches = Maintenance.prune_branches, Maintenance.aprune_branches
    recover_branches, arecover_branches = Branching.recover_branches, Branching.arecover_branches
    fsck, afsck = Branching.fsck, Branching.afsck
    recheck_held, arecheck_held = twins(recheck_held_plan)

    # history (`history/`)
    log, alog = History.log, History.alog
    tag, atag = History.tag, History.atag
    tags, atags = History.tags, History.atags
    untag, auntag = History.untag, History.auntag
    resolve, aresolve = History.resolve, History.aresolve
    diff, adiff = History.diff, History.adiff
    tree_data, atree_data = History.tree_data, History.atree_data
    tree, atree = History.tree, History.atree
    mermaid, amermaid = History.mermaid, History.amermaid
    stats, astats = History.stats, History.astats
    show, ashow = History.show, History.ashow

    # tool undo (`reversal/`)
    reversals, areversals = Branching.reversals, Branching.areversals
    undone_calls, aundone_calls = Branching.undone_calls, Branching.aundone_calls
    undo_tools, aundo_tools = Branching.undo_tools, Branching.aundo_tools

    def register_reverser(self, name: str, fn: Reverser) -> None:
        """Undo calls of the tool `name` with `fn` when a rollback reverses tools.

        `fn(args)`, `fn(args, result)` or `fn(args, result, artifact)`: the
        call's arguments, the `ToolMessage`'s content and artifact. Sync or
        async. Replaces an earlier handler of that tool.
        """
        self.branching.register_reverser(name, fn)
