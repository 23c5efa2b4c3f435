"""Sessions and branches: create, look up, switch, roll back; tool-reversal records.

Each public operation is a plan function carrying the public signature and
docstring (`rollback_plan`, ...); `Branching`, the service `AgentGitSaver`
owns as `saver.branching`, and the saver's flat methods run them through
`twins` (`_plan.py`): `saver.rollback(...)` is `run_sync(rollback_plan(...),
saver.plan_targets)`, `await saver.arollback(...)` the async driver.

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
import uuid
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph import _validate as check
from agentgit_langgraph._access import session_plan, stored_id, thread_plan
from agentgit_langgraph._claims import ReversalAttempt
from agentgit_langgraph._context import SaverContext, Service, timeout_of
from agentgit_langgraph._copy import copy_into_thread
from agentgit_langgraph._faults import reached
from agentgit_langgraph._liveness import owner_token, running
from agentgit_langgraph._plan import Plan, call, local, twins
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.adoption import adopt_plan, branch_session, threads_plan
from agentgit_langgraph.configs import (
    branch_config,
    checkpoint_config,
    checkpoint_ref,
    owner_of,
    thread_config,
)
from agentgit_langgraph.errors import (
    CheckpointNotFoundError,
    InvalidConfigError,
    ReversedToolCallsWarning,
    ThreadNotFoundError,
)
from agentgit_langgraph.fsck import fsck_plan
from agentgit_langgraph.history.refs import find_thread
from agentgit_langgraph.recovery import recover_branches_plan
from agentgit_langgraph.reversal import Reverser, reverse_tool_calls, warn_unreversed
from agentgit_langgraph.reversal.calls import state_messages
from agentgit_langgraph.sessions import REVERSED, ExternalSession, InternalSession, Reversal, Tag
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = [
    "Branching",
    "adopt_plan",
    "branches_plan",
    "config_for_plan",
    "create_session_plan",
    "get_session_plan",
    "list_sessions_plan",
    "reversals_plan",
    "rollback_plan",
    "session_for_thread_plan",
    "set_status_plan",
    "switch_plan",
    "switched_plan",
    "timeout_of",
    "undo_tools_plan",
    "undone_calls_plan",
    "undone_message",
]


def _new_thread_id() -> str:
    return str(uuid.uuid4())


# -- sessions --------------------------------------------------------------------


def create_session_plan(
    user_id: UserId = 0, session_name: str = "", metadata: Mapping[str, Any] | None = None
) -> Plan[ExternalSession]:
    """Create a session with a fresh first thread; `config_for` gives its config.

    Example:
        ```python
        session = saver.create_session(42, "trip", {"topic": "travel"})
        graph.invoke(inputs, saver.config_for(session))
        ```
    """
    owner = check.owner_key(user_id)
    name = check.session_name(session_name)
    check.metadata_json(metadata)  # before any write, on every backend alike
    session: ExternalSession = yield from call(
        BaseSessionStore.create_session,
        user_id=owner,
        session_name=name,
        metadata=metadata,
        thread_id=_new_thread_id(),
    )
    return session


def get_session_plan(session_id: int, *, user_id: UserId | None = None) -> Plan[ExternalSession]:
    """The session, checked against `user_id` when given."""
    return (yield from session_plan(session_id, user_id))


def list_sessions_plan(user_id: UserId | None = None) -> Plan[list[ExternalSession]]:
    """Every session, or only those of `user_id` (an int or a str owner)."""
    found: list[ExternalSession] = yield from call(
        BaseSessionStore.list_sessions, check.optional_owner(user_id)
    )
    return found


def session_for_thread_plan(
    thread_id: str, *, user_id: UserId | None = None
) -> Plan[ExternalSession]:
    """The session holding `thread_id` (`ThreadNotFoundError` if none)."""
    thread = yield from thread_plan(thread_id, None)
    return (yield from session_plan(thread.session_id, user_id))


def config_for_plan(
    session_or_id: ExternalSession | int, *, user_id: UserId | None = None
) -> Plan[RunnableConfig]:
    """The config of the session's current thread, ready for `graph.invoke`."""
    session = yield from session_plan(session_or_id, user_id)
    assert session.current_internal_session_id is not None
    return thread_config(session.current_internal_session_id)


# -- branches --------------------------------------------------------------------


def branches_plan(session_id: int, *, user_id: UserId | None = None) -> Plan[list[InternalSession]]:
    """The session's threads (its `InternalSession`s), first thread first."""
    session = yield from session_plan(session_id, user_id)
    assert session.id is not None
    threads: list[InternalSession] = yield from call(BaseSessionStore.list_threads, session.id)
    current = session.current_internal_session_id
    return [dataclasses.replace(t, is_current=t.thread_id == current) for t in threads]


def _thread_plan(session: ExternalSession, ref: str) -> Plan[InternalSession]:
    """The thread of `session` that `ref` names (`find_thread`); tags read only if needed."""
    sid = stored_id(session)
    threads: list[InternalSession] = yield from call(BaseSessionStore.list_threads, sid)
    current = session.current_internal_session_id
    try:
        return find_thread(threads, ref, sid, current=current)
    except ThreadNotFoundError:
        tags: list[Tag] = yield from call(BaseSessionStore.list_tags, sid)
        return find_thread(threads, ref, sid, tags=tags, current=current)


def switch_plan(
    session_id: int, ref: str, *, user_id: UserId | None = None
) -> Plan[RunnableConfig]:
    """Make one of the session's threads current and return its config.

    `ref` names the thread as every ref-taking method reads it
    (`history.refs.find_thread`): a thread id, a unique prefix of one (4+
    characters, as `tree` prints them), a branch name, a tag (its thread),
    `main` or `HEAD`.

    Switching changes which thread is current, nothing else: tool side
    effects a `rollback(..., reverse_tools=True)` undid stay undone. When the
    thread's history holds such calls, a `ReversedToolCallsWarning` lists
    them (`warning.reversals`; `undone_calls` gives them without switching).

    Raises:
        ThreadNotFoundError: No thread of the session answers to `ref`.
        AmbiguousRefError: `ref` is a prefix of several thread ids.

    Example:
        ```python
        saver.switch(session_id, "retry")      # a branch name
        saver.switch(session_id, "7f3a9c21")   # a short thread id
        ```
    """
    config, undone = yield from switched_plan(session_id, ref, user_id=user_id)
    if undone:
        warnings.warn(
            ReversedToolCallsWarning(undone_message(config, undone), tuple(undone)), stacklevel=2
        )
    return config


def switched_plan(
    session_id: int, ref: str, *, user_id: UserId | None = None
) -> Plan[tuple[RunnableConfig, list[Reversal]]]:
    """`switch` without the warning: the new current thread's config and the undone
    tool calls its history holds, for callers that answer with them (the HTTP API,
    where a caught warning would be process-wide)."""
    ref = check.thread_id(ref, "thread_id or ref")
    session = yield from session_plan(session_id, user_id)
    sid = stored_id(session)
    target = yield from _thread_plan(session, ref)
    switched = yield from call(BaseSessionStore.set_current, sid, target.thread_id)
    if not switched:
        raise ThreadNotFoundError(f"thread {target.thread_id!r} is not a branch of session {sid}")
    undone = yield from _undone_in_plan(sid, target.thread_id)
    return thread_config(target.thread_id), undone


def undone_message(config: RunnableConfig, undone: Sequence[Reversal]) -> str:
    """What `switch` says when the thread it made current holds undone tool calls."""
    calls = ", ".join(f"{r.tool_name} ({r.tool_call_id})" for r in undone)
    return (
        f"now on thread {config['configurable']['thread_id']!r}, whose history holds "
        f"{len(undone)} tool call(s) a rollback undid: {calls}. Switching does not "
        "redo them: the world matches the branch they were undone for."
    )


def undone_calls_plan(
    session_id: int, ref: str = "HEAD", *, user_id: UserId | None = None
) -> Plan[list[Reversal]]:
    """Tool calls a `rollback(..., reverse_tools=True)` undid whose results the
    thread `ref` names (by default the current one) still shows in its history.

    Its state says those calls happened; the world no longer does (see
    `switch`). `[]` for a thread whose history holds none.

    Example:
        ```python
        saver.switch(session_id, "main")
        [r.tool_name for r in saver.undone_calls(session_id)]   # ['book_flight']
        ```
    """
    ref = check.thread_id(ref, "thread_id or ref")
    session = yield from session_plan(session_id, user_id)
    target = yield from _thread_plan(session, ref)
    return (yield from _undone_in_plan(stored_id(session), target.thread_id))


def _undone_in_plan(session_id: int, thread_id: str) -> Plan[list[Reversal]]:
    """The reversed tool calls (`Reversal`s) whose results the thread's state holds."""
    records: list[Reversal] = yield from call(
        BaseSessionStore.list_reversals, session_id=session_id
    )
    reversed_ = [r for r in records if r.status == REVERSED]
    if not reversed_:
        return []  # the usual case: one store read, no checkpoint read
    head: CheckpointTuple | None = yield from call(
        BaseCheckpointSaver.get_tuple, checkpoint_config(thread_id)
    )
    if head is None:
        return []
    messages = yield from state_messages(head)
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    return [r for r in reversed_ if r.tool_call_id in answered]


def rollback_plan(
    config: RunnableConfig,
    *,
    user_id: UserId | None = None,
    name: str | None = None,
    reverse_tools: bool = False,
    strict: bool = False,
    reverse_timeout: float | None = None,
    intent: str | None = None,
) -> Plan[RunnableConfig]:
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
            claims it, the others wait for its outcome). Calls that ran on
            forks LangGraph's time travel made inside the thread are not on
            that line: they are named in an `UnreversedToolCallsWarning`.
        strict: With `reverse_tools`, stop at the first failing handler and
            raise `ToolReversalError` without creating the branch (by
            default the failure is recorded and the rollback goes on).
        reverse_timeout: With `reverse_tools`, the most seconds each
            handler may run: a sync one runs in a worker thread and is
            abandoned after it, an async one is cancelled; the call is
            recorded `failed` (`ReversalTimeoutError: ...`). None: the
            saver's `reverse_timeout` (by default none, no bound);
            `math.inf`: no bound for this rollback.
        intent: Why this branch is tried ("take the train instead"), kept
            on its `InternalSession` and shown by `branches`, `tree` and the
            CLI. Its status starts `active` (`set_status`).

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
    intent = check.optional_text(intent, "intent")
    if not reverse_tools:
        return (yield from _branch_plan(config, user_id, name, intent))
    timeout = yield from local(SaverContext.timeout_for, reverse_timeout)
    # Open while the plan runs: this process's competing rollbacks see its claims alive.
    with ReversalAttempt(timeout) as attempt:
        return (yield from _branch_plan(config, user_id, name, intent, attempt, strict, timeout))


def _branch_plan(
    config: Any,
    user_id: object,
    name: object,
    intent: str | None,
    attempt: ReversalAttempt | None = None,
    strict: bool = False,
    reverse_timeout: float | None = None,
) -> Plan[RunnableConfig]:
    """The rollback; with `attempt`, undoing the tool calls first."""
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
    # With `auto_session`, a thread saved without the wrapper is adopted first.
    session_id = yield from branch_session(ref.thread_id, owner)
    # The thread's latest checkpoint first: a rollback to the head (the usual
    # case) then reads the state once, not twice (once to copy it, once more
    # to learn that it is the head).
    source: CheckpointTuple | None = yield from call(
        BaseCheckpointSaver.get_tuple, checkpoint_config(ref.thread_id)
    )
    is_head = source is not None and source.checkpoint["id"] == ref.checkpoint_id
    if not is_head:
        source = yield from call(BaseCheckpointSaver.get_tuple, ref.config())
    if source is None or source.checkpoint["id"] != ref.checkpoint_id:
        raise CheckpointNotFoundError(
            f"thread {ref.thread_id!r} has no checkpoint {ref.checkpoint_id!r}"
        )
    if attempt is not None:
        # Undo what the tools did after the checkpoint, newest first, before the
        # branch exists: with `strict`, a failure leaves no branch behind.
        outcomes = yield from reverse_tool_calls(
            source, session_id, attempt, strict=strict, timeout=reverse_timeout
        )
        yield from warn_unreversed(source, outcomes)
    new_thread_id = _new_thread_id()
    token = owner_token()
    with running(token):
        # Noted first, so that if the process dies before the branch is
        # registered, `recover_branches` finds the thread to delete.
        yield from call(BaseSessionStore.begin_branch, new_thread_id, session_id, token)
        reached("rollback.noted")
        try:
            copied = yield from copy_into_thread(source, new_thread_id, is_head=is_head)
            reached("rollback.copied")
            branch = InternalSession(
                thread_id=new_thread_id,
                session_id=session_id,
                parent_thread_id=ref.thread_id,
                branch_checkpoint_id=ref.checkpoint_id,
                name=name,
                checkpoint_count=copied,
                is_branch=True,
                intent=intent,
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
    return branch_config(new_thread_id, config, owner)


def set_status_plan(
    thread_id: str,
    status: str,
    *,
    reason: str | None = None,
    user_id: UserId | None = None,
) -> Plan[InternalSession]:
    """Say what became of a branch: `active`, `kept` or `abandoned`, and why.

    Shown by `branches`, `tree`, `tree_data`, `mermaid` and the CLI;
    `prune_branches(session_id, status="abandoned")` removes the abandoned
    ones. Returns the thread's record as it now is.

    Example:
        ```python
        saver.set_status(branch["configurable"]["thread_id"], "abandoned", reason="too slow")
        ```
    """
    status = check.branch_status(status)
    reason = check.optional_text(reason, "status reason")
    thread = yield from thread_plan(thread_id, user_id)
    found = yield from call(BaseSessionStore.set_thread_status, thread.thread_id, status, reason)
    if not found:  # deleted in between
        raise ThreadNotFoundError(f"thread {thread.thread_id!r} belongs to no session")
    return dataclasses.replace(thread, status=status, status_reason=reason)


# -- rewinding side effects only ---------------------------------------------------


def undo_tools_plan(
    config: RunnableConfig,
    *,
    user_id: UserId | None = None,
    strict: bool = False,
    reverse_timeout: float | None = None,
) -> Plan[list[Reversal]]:
    """Undo the tool calls the thread executed after a checkpoint; open no branch.

    The side-effects-only rewind: as `rollback(config, reverse_tools=True)`
    without the branch. The calls on the line from the checkpoint to the
    thread's head are undone newest first, each recorded (`reversals()`)
    and claimed exactly as a rollback's are, so a call is undone once
    whichever of `undo_tools` and `rollback(..., reverse_tools=True)` comes
    first. Calls on forks made inside the thread are left and named in an
    `UnreversedToolCallsWarning`. The conversation stays where it is.

    Args:
        config: Names `thread_id` and `checkpoint_id` (root graph).
        user_id: When given, must own the session (`SessionAccessError`).
        strict: Stop at the first failing handler (`ToolReversalError`).
        reverse_timeout: The most seconds each handler may run (see `rollback`).

    Returns:
        The calls' `Reversal` records, newest call first.

    Example:
        ```python
        done = saver.undo_tools(earlier.config)
        [(r.tool_name, r.status) for r in done]   # [('book_flight', 'reversed')]
        ```
    """
    ref = checkpoint_ref(config)
    owner = check.optional_owner(user_id)
    if ref.checkpoint_ns:
        raise InvalidConfigError(
            f"undo_tools takes a checkpoint of the root graph; {ref.checkpoint_id!r} is in "
            f"subgraph namespace {ref.checkpoint_ns!r}"
        )
    if not isinstance(strict, bool):
        raise InvalidConfigError(f"strict must be a bool, got {strict!r}")
    if owner is None:
        owner = owner_of(config)
    session_id = yield from branch_session(ref.thread_id, owner)
    source: CheckpointTuple | None = yield from call(BaseCheckpointSaver.get_tuple, ref.config())
    if source is None or source.checkpoint["id"] != ref.checkpoint_id:
        raise CheckpointNotFoundError(
            f"thread {ref.thread_id!r} has no checkpoint {ref.checkpoint_id!r}"
        )
    timeout = yield from local(SaverContext.timeout_for, reverse_timeout)
    with ReversalAttempt(timeout) as attempt:
        outcomes = yield from reverse_tool_calls(
            source, session_id, attempt, strict=strict, timeout=timeout
        )
    return (yield from warn_unreversed(source, outcomes))


# -- tool reversal records -------------------------------------------------------


def reversals_plan(
    thread_id: str | None = None,
    *,
    session_id: int | None = None,
    user_id: UserId | None = None,
) -> Plan[list[Reversal]]:
    """Reversal records of rollbacks from `thread_id`, or of a whole session.

    One per tool call (`tool_name`, `tool_call_id`, `args`, `status`:
    `reversed` / `no_handler` / `failed` with `error`, or `pending` while a
    handler runs or after a crash), oldest first. With `user_id`, the
    session must be theirs (`SessionAccessError`).
    """
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


class Branching(Service):
    """Sessions and branches of one `AgentGitSaver` (its `branching`); see the plans."""

    create_session, acreate_session = twins(create_session_plan)
    get_session, aget_session = twins(get_session_plan)
    list_sessions, alist_sessions = twins(list_sessions_plan)
    session_for_thread, asession_for_thread = twins(session_for_thread_plan)
    config_for, aconfig_for = twins(config_for_plan)
    branches, abranches = twins(branches_plan)
    switch, aswitch = twins(switch_plan)
    rollback, arollback = twins(rollback_plan)
    adopt, aadopt = twins(adopt_plan)
    threads, athreads = twins(threads_plan)
    recover_branches, arecover_branches = twins(recover_branches_plan)
    fsck, afsck = twins(fsck_plan)
    reversals, areversals = twins(reversals_plan)
    set_status, aset_status = twins(set_status_plan)
    undo_tools, aundo_tools = twins(undo_tools_plan)
    undone_calls, aundone_calls = twins(undone_calls_plan)

    def register_reverser(self, name: str, fn: Reverser) -> None:
        """Undo calls of the tool `name` with `fn` (see `AgentGitSaver.register_reverser`)."""
        self.ctx.reversers.register(name, fn)
