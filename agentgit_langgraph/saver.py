"""`AgentGitSaver`: git-style sessions around any LangGraph checkpointer.

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
import contextlib
import copy
import dataclasses
import math
import uuid
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any, cast

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
from agentgit_langgraph._access import (
    ThreadSet,
    access_plan,
    session_plan,
    thread_plan,
)
from agentgit_langgraph._claims import ReversalAttempt
from agentgit_langgraph._copy import copy_into_thread
from agentgit_langgraph._faults import reached
from agentgit_langgraph._liveness import is_gone, owner_token, running
from agentgit_langgraph._plan import Plan, Targets, call, run_async, run_sync
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.backends import default_store_for
from agentgit_langgraph.configs import checkpoint_ref, owner_of, thread_config
from agentgit_langgraph.errors import (
    CheckpointNotFoundError,
    InvalidConfigError,
    ThreadNotFoundError,
)
from agentgit_langgraph.fsck import FsckReport, fsck_plan
from agentgit_langgraph.history import HistoryMixin
from agentgit_langgraph.maintenance import MaintenanceMixin, finish_pending_deletes
from agentgit_langgraph.reversal import Reverser, ToolReversers, reverse_tool_calls
from agentgit_langgraph.sessions import Claimant, ExternalSession, InternalSession, Reversal
from agentgit_langgraph.stores.base import BaseSessionStore, PendingBranch

__all__ = ["AgentGitSaver"]


def _new_thread_id() -> str:
    return str(uuid.uuid4())


# -- plans: the logic of each public method, shared by its sync and async twin --


def _create_session_plan(
    user_id: object, session_name: object, metadata: object
) -> Plan[ExternalSession]:
    owner = check.owner_key(user_id)
    name = check.session_name(session_name)
    check.metadata_json(metadata)  # before any write, on every backend alike
    session: ExternalSession = yield from call(
        BaseSessionStore.create_session,
        user_id=owner,
        session_name=name,
        metadata=cast("Mapping[str, Any] | None", metadata),  # checked just above
        thread_id=_new_thread_id(),
    )
    return session


def _session_for_thread_plan(thread_id: object, user_id: object) -> Plan[ExternalSession]:
    thread = yield from thread_plan(thread_id, None)
    return (yield from session_plan(thread.session_id, user_id))


def _config_for_plan(session_or_id: Any, user_id: object) -> Plan[RunnableConfig]:
    session = yield from session_plan(session_or_id, user_id)
    assert session.current_internal_session_id is not None
    return thread_config(session.current_internal_session_id)


def _branches_plan(session_id: Any, user_id: object) -> Plan[list[InternalSession]]:
    session = yield from session_plan(session_id, user_id)
    assert session.id is not None
    threads: list[InternalSession] = yield from call(BaseSessionStore.list_threads, session.id)
    current = session.current_internal_session_id
    return [dataclasses.replace(t, is_current=t.thread_id == current) for t in threads]


def _switch_plan(session_id: Any, thread_id: object, user_id: object) -> Plan[RunnableConfig]:
    target = check.thread_id(thread_id)
    session = yield from session_plan(session_id, user_id)
    assert session.id is not None
    switched = yield from call(BaseSessionStore.set_current, session.id, target)
    if not switched:
        raise ThreadNotFoundError(f"thread {target!r} is not a branch of session {session.id}")
    return thread_config(target)


def _rollback_plan(
    config: Any,
    user_id: object,
    name: object,
    *,
    reverse_tools: bool = False,
    strict: bool = False,
    claimant: Claimant | None = None,
    reverse_timeout: float | None = None,
) -> Plan[RunnableConfig]:
    ref = checkpoint_ref(config)
    name = check.optional_name(name, "branch name")
    owner = check.optional_owner(user_id)
    if ref.checkpoint_ns:
        raise InvalidConfigError(
            f"rollback takes a checkpoint of the root graph; {ref.checkpoint_id!r} is in "
            f"subgraph namespace {ref.checkpoint_ns!r} (roll back to the parent's checkpoint)"
        )
    if owner is None:
        owner = owner_of(config)  # a run's user may only branch its own threads
    parent = yield from thread_plan(ref.thread_id, owner)
    source: CheckpointTuple | None = yield from call(BaseCheckpointSaver.get_tuple, ref.config())
    if source is None or source.checkpoint["id"] != ref.checkpoint_id:
        raise CheckpointNotFoundError(
            f"thread {ref.thread_id!r} has no checkpoint {ref.checkpoint_id!r}"
        )
    if reverse_tools:
        # Undo what the tools did after the checkpoint, newest first, before the
        # branch exists: with `strict`, a failure leaves no branch behind.
        assert claimant is not None, "reverse_tools needs the rollback attempt's claimant"
        yield from reverse_tool_calls(
            source, parent.session_id, claimant, strict=strict, timeout=reverse_timeout
        )
    new_thread_id = _new_thread_id()
    owner = owner_token()
    with running(owner):
        # Noted first, so that if the process dies before the branch is
        # registered, `recover_branches` finds the thread to delete.
        yield from call(BaseSessionStore.begin_branch, new_thread_id, parent.session_id, owner)
        reached("rollback.noted")
        try:
            copied = yield from copy_into_thread(source, new_thread_id)
            reached("rollback.copied")
            branch = InternalSession(
                thread_id=new_thread_id,
                session_id=parent.session_id,
                parent_thread_id=ref.thread_id,
                branch_checkpoint_id=ref.checkpoint_id,
                name=name,
                checkpoint_count=copied,
                is_branch=True,
            )
            yield from call(BaseSessionStore.add_branch, branch)
        except GeneratorExit:  # the plan itself is being discarded: nothing may be yielded
            raise
        except BaseException:
            # All or nothing: the branch was not registered, so its thread must go.
            # The note stays if the delete fails, for `recover_branches` to retry.
            with contextlib.suppress(Exception):  # the original error is the one to report
                yield from call(BaseCheckpointSaver.delete_thread, new_thread_id)
                yield from call(BaseSessionStore.forget_pending_branch, new_thread_id)
            raise
        reached("rollback.registered")
    return thread_config(new_thread_id, config)


def _recover_branches_plan(grace: timedelta) -> Plan[list[str]]:
    """Finish what dead operations left: pending deletes, then unregistered branches."""
    if not isinstance(grace, timedelta) or grace < timedelta(0):
        raise InvalidConfigError(f"older_than must be a non-negative timedelta: {grace!r}")
    yield from finish_pending_deletes()
    notes: list[PendingBranch] = yield from call(BaseSessionStore.list_pending_branches)
    deleted: list[str] = []
    for note in notes:
        if note.registered:  # registered after all: only the note is stale
            yield from call(BaseSessionStore.forget_pending_branch, note.thread_id)
        elif is_gone(note.owner, note.created_at, grace=grace):
            yield from call(BaseCheckpointSaver.delete_thread, note.thread_id)
            yield from call(BaseSessionStore.forget_pending_branch, note.thread_id)
            deleted.append(note.thread_id)
    return deleted


def _reversals_plan(thread_id: object, session_id: object, user_id: object) -> Plan[list[Reversal]]:
    if (thread_id is None) == (session_id is None):
        raise InvalidConfigError("reversals() takes a thread_id or a session_id")
    if thread_id is not None:
        record = yield from thread_plan(thread_id, user_id)
        found: list[Reversal] = yield from call(
            BaseSessionStore.list_reversals, thread_id=record.thread_id
        )
        return found
    session = yield from session_plan(session_id, user_id)
    found = yield from call(BaseSessionStore.list_reversals, session_id=session.id)
    return found


def _timeout_of(value: Any) -> float | None:
    """A handler timeout in seconds: a positive number; None or `math.inf` for no bound."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidConfigError(f"reverse_timeout must be a positive number of seconds: {value!r}")
    return None if math.isinf(value) else float(value)


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


class AgentGitSaver(HistoryMixin, MaintenanceMixin, BaseCheckpointSaver[Any]):
    """A checkpointer that wraps another one and adds sessions and branches.

    Every `BaseCheckpointSaver` method is delegated to `saver` unchanged; each
    successful `put` into a thread of a session is also counted in `store`.
    `rollback` opens a new thread at any checkpoint, leaving the old one as it
    was.

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

    saver: BaseCheckpointSaver[Any]
    store: BaseSessionStore
    auto_session: bool

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
        self.saver = saver
        self.store = store if store is not None else default_store_for(saver)
        self.auto_session = auto_session
        self.reversers = ToolReversers(reversers)
        self.reverse_timeout = _timeout_of(reverse_timeout)
        self._targets: dict[type, Any] = {
            BaseCheckpointSaver: saver,
            BaseSessionStore: self.store,
            ToolReversers: self.reversers,
        }
        # Threads this process saw held by a session: their puts skip the
        # session check before saving (the count after the save still checks).
        self._registered = ThreadSet()

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
        clone.saver = inner
        clone._targets = {**self._targets, BaseCheckpointSaver: inner}
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
        if self.auto_session and thread_id not in self._registered:
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
        self._registered.add(thread_id)
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
        if self.auto_session and thread_id not in self._registered:
            await self.store.aensure_session_for_thread(thread_id, user_id=owner)
        reached("put.before_save")
        saved = await self.saver.aput(config, checkpoint, metadata, new_versions)
        reached("put.saved")
        if not await self.store.arecord_checkpoints(thread_id):
            if not self.auto_session:
                return saved
            await self.store.aensure_session_for_thread(thread_id, user_id=owner)
            await self.store.arecord_checkpoints(thread_id)
        self._registered.add(thread_id)
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

    # delete_thread, delete_for_runs, copy_thread, prune: MaintenanceMixin.

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

    def __getattr__(self, name: str) -> Any:
        # Anything else (e.g. `conn`, `lock`) is the wrapped saver's.
        if name.startswith("__") or name in (
            "saver",
            "store",
            "_targets",
            "_registered",
        ):
            raise AttributeError(name)
        return getattr(self.saver, name)

    # -- rollback ------------------------------------------------------------
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
        plan, targets, attempt = self._rollback_run(
            config, user_id, name, reverse_tools, strict, reverse_timeout
        )
        with attempt:
            return run_sync(plan, targets)

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
        plan, targets, attempt = self._rollback_run(
            config, user_id, name, reverse_tools, strict, reverse_timeout
        )
        with attempt:
            return await run_async(plan, targets)

    def _rollback_run(
        self,
        config: RunnableConfig,
        user_id: UserId | None,
        name: str | None,
        reverse_tools: bool,
        strict: bool,
        reverse_timeout: float | None,
    ) -> tuple[Plan[RunnableConfig], Targets, contextlib.AbstractContextManager[Any]]:
        """The rollback plan, its targets, and the attempt to hold open while it runs."""
        if not reverse_tools:
            plan = _rollback_plan(config, user_id, name)
            return plan, self._targets, contextlib.nullcontext()
        timeout = self.reverse_timeout if reverse_timeout is None else _timeout_of(reverse_timeout)
        attempt = ReversalAttempt(timeout)
        plan = _rollback_plan(
            config,
            user_id,
            name,
            reverse_tools=True,
            strict=strict,
            claimant=attempt.claimant,
            reverse_timeout=timeout,
        )
        return plan, {**self._targets, ReversalAttempt: attempt}, attempt

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
        deleted = run_sync(_recover_branches_plan(older_than), self._targets)
        self._registered.discard(deleted)
        return deleted

    async def arecover_branches(
        self, *, older_than: timedelta = timedelta(minutes=10)
    ) -> builtins.list[str]:
        """Async twin of `recover_branches`."""
        deleted = await run_async(_recover_branches_plan(older_than), self._targets)
        self._registered.discard(deleted)
        return deleted

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
        report = run_sync(fsck_plan(repair=repair, grace=older_than), self._targets)
        self._forget_locally([v.subject for v in report.violations])
        return report

    async def afsck(
        self, *, repair: bool = False, older_than: timedelta = timedelta(minutes=10)
    ) -> FsckReport:
        """Async twin of `fsck`."""
        report = await run_async(fsck_plan(repair=repair, grace=older_than), self._targets)
        self._forget_locally([v.subject for v in report.violations])
        return report

    def register_reverser(self, name: str, fn: Reverser) -> None:
        """Undo calls of the tool `name` with `fn` when a rollback reverses tools.

        `fn(args)`, `fn(args, result)` or `fn(args, result, artifact)`: the
        call's arguments, the `ToolMessage`'s content and artifact. Sync or
        async. Replaces an earlier handler of that tool.
        """
        self.reversers.register(name, fn)

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
        return run_sync(_reversals_plan(thread_id, session_id, user_id), self._targets)

    async def areversals(
        self,
        thread_id: str | None = None,
        *,
        session_id: int | None = None,
        user_id: UserId | None = None,
    ) -> builtins.list[Reversal]:
        """Async twin of `reversals`."""
        return await run_async(_reversals_plan(thread_id, session_id, user_id), self._targets)

    # -- sessions ------------------------------------------------------------
    def create_session(
        self, user_id: UserId = 0, session_name: str = "", metadata: Mapping[str, Any] | None = None
    ) -> ExternalSession:
        """Create a session with a fresh first thread; `config_for` gives its config."""
        return run_sync(_create_session_plan(user_id, session_name, metadata), self._targets)

    async def acreate_session(
        self, user_id: UserId = 0, session_name: str = "", metadata: Mapping[str, Any] | None = None
    ) -> ExternalSession:
        return await run_async(_create_session_plan(user_id, session_name, metadata), self._targets)

    def get_session(self, session_id: int, *, user_id: UserId | None = None) -> ExternalSession:
        """The session, checked against `user_id` when given."""
        return run_sync(session_plan(session_id, user_id), self._targets)

    async def aget_session(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> ExternalSession:
        return await run_async(session_plan(session_id, user_id), self._targets)

    def list_sessions(self, user_id: UserId | None = None) -> builtins.list[ExternalSession]:
        """Every session, or only those of `user_id` (an int or a str owner)."""
        return self.store.list_sessions(check.optional_owner(user_id))

    async def alist_sessions(self, user_id: UserId | None = None) -> builtins.list[ExternalSession]:
        return await self.store.alist_sessions(check.optional_owner(user_id))

    def session_for_thread(
        self, thread_id: str, *, user_id: UserId | None = None
    ) -> ExternalSession:
        """The session holding `thread_id` (`ThreadNotFoundError` if none)."""
        return run_sync(_session_for_thread_plan(thread_id, user_id), self._targets)

    async def asession_for_thread(
        self, thread_id: str, *, user_id: UserId | None = None
    ) -> ExternalSession:
        return await run_async(_session_for_thread_plan(thread_id, user_id), self._targets)

    def config_for(
        self, session_or_id: ExternalSession | int, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        """The config of the session's current thread, ready for `graph.invoke`."""
        return run_sync(_config_for_plan(session_or_id, user_id), self._targets)

    async def aconfig_for(
        self, session_or_id: ExternalSession | int, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        return await run_async(_config_for_plan(session_or_id, user_id), self._targets)

    def branches(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> builtins.list[InternalSession]:
        """The session's threads (its `InternalSession`s), first thread first."""
        return run_sync(_branches_plan(session_id, user_id), self._targets)

    async def abranches(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> builtins.list[InternalSession]:
        return await run_async(_branches_plan(session_id, user_id), self._targets)

    def switch(
        self, session_id: int, thread_id: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        """Make one of the session's threads current and return its config."""
        return run_sync(_switch_plan(session_id, thread_id, user_id), self._targets)

    async def aswitch(
        self, session_id: int, thread_id: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        return await run_async(_switch_plan(session_id, thread_id, user_id), self._targets)
