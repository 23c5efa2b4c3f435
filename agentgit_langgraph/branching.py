"""Sessions and branches: create, look up, switch, roll back, recover, check.

`Branching` is the service `AgentGitSaver` owns as `saver.branching`; the flat
methods of the saver (`create_session`, `rollback`, `fsck`, ...) forward to
it. Each method runs one plan (`_plan.py`) written once for its sync and async
twin.

Example:
    ```python
    saver = AgentGitSaver(InMemorySaver())
    session = saver.branching.create_session(42, "demo")
    branch = saver.branching.rollback(earlier.config)   # as saver.rollback(...)
    ```
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph import _validate as check
from agentgit_langgraph._access import session_plan, thread_plan
from agentgit_langgraph._claims import ReversalAttempt
from agentgit_langgraph._context import SaverContext
from agentgit_langgraph._copy import copy_into_thread
from agentgit_langgraph._faults import reached
from agentgit_langgraph._liveness import is_gone, owner_token, running
from agentgit_langgraph._plan import Plan, Targets, call, run_async, run_sync
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.configs import checkpoint_ref, owner_of, thread_config
from agentgit_langgraph.errors import (
    CheckpointNotFoundError,
    InvalidConfigError,
    ThreadNotFoundError,
)
from agentgit_langgraph.fsck import FsckReport, fsck_plan
from agentgit_langgraph.maintenance import finish_pending_deletes
from agentgit_langgraph.reversal import Reverser, reverse_tool_calls
from agentgit_langgraph.sessions import Claimant, ExternalSession, InternalSession, Reversal
from agentgit_langgraph.stores.base import BaseSessionStore, PendingBranch

__all__ = ["Branching", "timeout_of"]


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


def timeout_of(value: Any) -> float | None:
    """A handler timeout in seconds: a positive number; None or `math.inf` for no bound."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidConfigError(f"reverse_timeout must be a positive number of seconds: {value!r}")
    return None if math.isinf(value) else float(value)


class Branching:
    """Sessions and branches of one `AgentGitSaver` (its `branching`); see its methods."""

    def __init__(self, ctx: SaverContext) -> None:
        self._ctx = ctx

    # -- sessions ----------------------------------------------------------------
    def create_session(
        self, user_id: UserId = 0, session_name: str = "", metadata: Mapping[str, Any] | None = None
    ) -> ExternalSession:
        return run_sync(_create_session_plan(user_id, session_name, metadata), self._ctx.targets)

    async def acreate_session(
        self, user_id: UserId = 0, session_name: str = "", metadata: Mapping[str, Any] | None = None
    ) -> ExternalSession:
        plan = _create_session_plan(user_id, session_name, metadata)
        return await run_async(plan, self._ctx.targets)

    def get_session(self, session_id: int, *, user_id: UserId | None = None) -> ExternalSession:
        return run_sync(session_plan(session_id, user_id), self._ctx.targets)

    async def aget_session(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> ExternalSession:
        return await run_async(session_plan(session_id, user_id), self._ctx.targets)

    def list_sessions(self, user_id: UserId | None = None) -> list[ExternalSession]:
        return self._ctx.store.list_sessions(check.optional_owner(user_id))

    async def alist_sessions(self, user_id: UserId | None = None) -> list[ExternalSession]:
        return await self._ctx.store.alist_sessions(check.optional_owner(user_id))

    def session_for_thread(
        self, thread_id: str, *, user_id: UserId | None = None
    ) -> ExternalSession:
        return run_sync(_session_for_thread_plan(thread_id, user_id), self._ctx.targets)

    async def asession_for_thread(
        self, thread_id: str, *, user_id: UserId | None = None
    ) -> ExternalSession:
        return await run_async(_session_for_thread_plan(thread_id, user_id), self._ctx.targets)

    def config_for(
        self, session_or_id: ExternalSession | int, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        return run_sync(_config_for_plan(session_or_id, user_id), self._ctx.targets)

    async def aconfig_for(
        self, session_or_id: ExternalSession | int, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        return await run_async(_config_for_plan(session_or_id, user_id), self._ctx.targets)

    # -- branches ----------------------------------------------------------------
    def branches(self, session_id: int, *, user_id: UserId | None = None) -> list[InternalSession]:
        return run_sync(_branches_plan(session_id, user_id), self._ctx.targets)

    async def abranches(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> list[InternalSession]:
        return await run_async(_branches_plan(session_id, user_id), self._ctx.targets)

    def switch(
        self, session_id: int, thread_id: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        return run_sync(_switch_plan(session_id, thread_id, user_id), self._ctx.targets)

    async def aswitch(
        self, session_id: int, thread_id: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        return await run_async(_switch_plan(session_id, thread_id, user_id), self._ctx.targets)

    # -- rollback ------------------------------------------------------------------
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
            return plan, self._ctx.targets, contextlib.nullcontext()
        timeout = (
            self._ctx.reverse_timeout if reverse_timeout is None else timeout_of(reverse_timeout)
        )
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
        return plan, {**self._ctx.targets, ReversalAttempt: attempt}, attempt

    # -- recovery and checks -------------------------------------------------------
    def recover_branches(self, *, older_than: timedelta = timedelta(minutes=10)) -> list[str]:
        deleted = run_sync(_recover_branches_plan(older_than), self._ctx.targets)
        self._ctx.forget(deleted)
        return deleted

    async def arecover_branches(
        self, *, older_than: timedelta = timedelta(minutes=10)
    ) -> list[str]:
        deleted = await run_async(_recover_branches_plan(older_than), self._ctx.targets)
        self._ctx.forget(deleted)
        return deleted

    def fsck(
        self, *, repair: bool = False, older_than: timedelta = timedelta(minutes=10)
    ) -> FsckReport:
        report = run_sync(fsck_plan(repair=repair, grace=older_than), self._ctx.targets)
        self._ctx.forget([v.subject for v in report.violations])
        return report

    async def afsck(
        self, *, repair: bool = False, older_than: timedelta = timedelta(minutes=10)
    ) -> FsckReport:
        report = await run_async(fsck_plan(repair=repair, grace=older_than), self._ctx.targets)
        self._ctx.forget([v.subject for v in report.violations])
        return report

    # -- tool reversal -------------------------------------------------------------
    def register_reverser(self, name: str, fn: Reverser) -> None:
        self._ctx.reversers.register(name, fn)

    def reversals(
        self,
        thread_id: str | None = None,
        *,
        session_id: int | None = None,
        user_id: UserId | None = None,
    ) -> list[Reversal]:
        return run_sync(_reversals_plan(thread_id, session_id, user_id), self._ctx.targets)

    async def areversals(
        self,
        thread_id: str | None = None,
        *,
        session_id: int | None = None,
        user_id: UserId | None = None,
    ) -> list[Reversal]:
        plan = _reversals_plan(thread_id, session_id, user_id)
        return await run_async(plan, self._ctx.targets)
