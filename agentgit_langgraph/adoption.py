"""Adoption: a session for a thread whose checkpoints were saved without the wrapper.

An agent that ran on a bare LangGraph saver has threads no session holds.
`adopt_plan` (`saver.adopt`) gives one of them a session, counting every
checkpoint it already has, in every namespace. With `auto_session` the saver
adopts such a thread by itself, with the same exact count, on the first put
into it (`adopt_on_put`) and on a rollback from it (`branch_session`).

Example:
    ```python
    saver = AgentGitSaver(SqliteSaver(conn))   # the agent's existing database
    session = saver.adopt("chat-1", user_id=42)
    session.total_checkpoints                  # what the thread already held
    ```
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph import _validate as check
from agentgit_langgraph._access import (
    Owner,
    owner_plan,
    refuse_other_owner,
    session_plan,
    thread_plan,
    unheld_error,
)
from agentgit_langgraph._context import SaverContext
from agentgit_langgraph._plan import Plan, call, gather, local
from agentgit_langgraph._rewrite import BACKUP_PREFIX, read_thread, resync_count
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.configs import checkpoint_config
from agentgit_langgraph.errors import StoreError, ThreadNotFoundError
from agentgit_langgraph.sessions import ExternalSession, InternalSession
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = [
    "SavedThread",
    "adopt_on_put",
    "adopt_plan",
    "adopt_thread",
    "branch_session",
    "threads_plan",
]


@dataclass(frozen=True)
class SavedThread:
    """A thread of the wrapped saver (`saver.threads()`)."""

    thread_id: str
    checkpoint_count: int
    """Its checkpoints in the wrapped saver, every namespace."""
    session_id: int | None
    """The session holding it; None when none does (`adopt` gives it one)."""


def threads_plan(*, user_id: UserId | None = None) -> Plan[list[SavedThread]]:
    """Every thread the wrapped saver holds, by thread id, with the session holding it.

    Reads every checkpoint's record once (`list`); a rewrite's backup
    threads are left out. With `user_id`, so are the threads of sessions
    another user owns (a thread no session holds is listed for anyone).

    Example:
        ```python
        for t in saver.threads():
            if t.session_id is None:
                saver.adopt(t.thread_id)
        ```
    """
    owner = check.optional_owner(user_id)
    tuples: list[CheckpointTuple] = yield from gather(BaseCheckpointSaver.list, None)
    counts = Counter(str(t.config["configurable"]["thread_id"]) for t in tuples)
    sessions: list[ExternalSession] = yield from call(BaseSessionStore.list_sessions, None)
    holders = {t: s for s in sessions for t in s.internal_session_ids}
    found = []
    for thread_id in sorted(counts):
        session = holders.get(thread_id)
        if thread_id.startswith(BACKUP_PREFIX) or (
            owner is not None and session is not None and session.owner != owner
        ):
            continue
        found.append(SavedThread(thread_id, counts[thread_id], session.id if session else None))
    return found


def adopt_plan(
    thread_id: str, *, user_id: UserId = 0, session_name: str | None = None
) -> Plan[ExternalSession]:
    """Give a session to a thread whose checkpoints were saved without the wrapper.

    The session (named `session_name`, by default the thread id) holds the
    thread as its first and current thread, counting every checkpoint the
    wrapped saver already has for it, in every namespace. A thread a
    session already holds is not adopted again: its session is returned.

    Args:
        thread_id: A thread of the wrapped saver.
        user_id: The owner of the new session (an int or a str).
        session_name: Its name; None names it after the thread.

    Raises:
        ThreadNotFoundError: the wrapped saver holds no checkpoint of the thread.
        SessionAccessError: another user's session holds the thread.

    Example:
        ```python
        session = saver.adopt("chat-1", user_id=42)
        graph.invoke(inputs, saver.config_for(session))
        ```
    """
    thread_id = check.thread_id(thread_id)
    owner = check.owner_key(user_id)
    name = thread_id if session_name is None else check.session_name(session_name)
    return (yield from adopt_thread(thread_id, owner, name))


def adopt_thread(thread_id: str, owner: str, name: str) -> Plan[ExternalSession]:
    """`adopt_plan` with checked arguments: the session holding the thread, owned by `owner`."""
    record: InternalSession | None = yield from call(BaseSessionStore.get_thread, thread_id)
    if record is None:
        held = len((yield from read_thread(thread_id)))
        if held == 0:
            raise ThreadNotFoundError(f"the saver holds no checkpoint of thread {thread_id!r}")
        try:
            yield from call(
                BaseSessionStore.create_session,
                user_id=owner,
                session_name=name,
                metadata=None,
                thread_id=thread_id,
            )
        except StoreError:
            # Another process adopted it first: its session answers below.
            record = yield from call(BaseSessionStore.get_thread, thread_id)
            if record is None:
                raise
        else:
            # A delete of this thread that died part way must not finish on it now.
            yield from call(BaseSessionStore.forget_pending_delete, thread_id)
            yield from resync_count(thread_id, held)
            yield from local(SaverContext.held, thread_id)
        if record is None:
            record = yield from thread_plan(thread_id, None)
    return (yield from session_plan(record.session_id, owner))


def adopt_on_put(thread_id: str, owner: str) -> Plan[None]:
    """Before a put, with `auto_session`: make sure a session holds the thread
    (and note it held, as of now: `SaverContext.held`).

    A new thread gets a session (as `ensure_session_for_thread`); one with
    checkpoints saved without the wrapper is adopted with its exact count,
    which a store counting in the saver's table reads there by itself (a
    store with counters of its own is set to what the saver holds). The
    store is asked first: a held thread (the usual case, e.g. after a
    restart) costs one indexed read, not a load of its latest checkpoint.
    Where making sure is one statement that changes nothing for a held thread
    (`SaverContext.adopts_in_one_statement`: PostgreSQL), that statement is
    all, held or new: one round trip.
    """
    if (yield from local(SaverContext.adopts_in_one_statement)):
        yield from call(BaseSessionStore.ensure_session_for_thread, thread_id, user_id=owner)
    elif (yield from call(BaseSessionStore.thread_owner, thread_id)) is None:
        earlier: list[CheckpointTuple] = []
        if not (yield from local(SaverContext.counts_in_saver)):
            earlier = yield from gather(
                BaseCheckpointSaver.list, checkpoint_config(thread_id, None), limit=1
            )
        yield from call(BaseSessionStore.ensure_session_for_thread, thread_id, user_id=owner)
        if earlier:
            yield from resync_count(thread_id, None)
    yield from local(SaverContext.held, thread_id)


def branch_session(thread_id: str, owner: str | None) -> Plan[int]:
    """The id of the session holding a thread to branch from, checked against
    `owner` when given (with `auto_session`, the thread is adopted if need be).

    One indexed read (`thread_owner`): no count of the thread's checkpoints, so
    a rollback costs the same at the head of a long thread as of a short one.
    """
    held: Owner | None = yield from owner_plan(thread_id)
    if held is None and (yield from local(SaverContext.creates_sessions)):
        yield from adopt_thread(thread_id, owner or "0", thread_id)
        held = yield from owner_plan(thread_id)
    if held is None:
        raise unheld_error(thread_id)
    refuse_other_owner(thread_id, held, owner)
    return held[0]
