"""Finding sessions and threads, and checking who owns them.

The plans here are shared by every module that looks a session up on behalf of
a user (`saver.py`, `branching.py`, `maintenance.py`, `history/`): a `user_id`
that does not own the session raises `SessionAccessError` before anything is
read or changed.

A graph run whose config carries `user_id` is checked on every checkpointer
call with one indexed store read (`thread_owner`), never from a cache: a
thread id can change hands at any time (another process deletes the session,
and another user starts a session on the same id), and a remembered owner
would then serve the new owner's messages to the old one and refuse the new
one. `benchmarks/bench_access.py` measures what the read costs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from agentgit_langgraph import _validate as check
from agentgit_langgraph._plan import Plan, call
from agentgit_langgraph.errors import (
    SessionAccessError,
    SessionNotFoundError,
    ThreadNotFoundError,
)
from agentgit_langgraph.sessions import ExternalSession, InternalSession
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = [
    "Owner",
    "ThreadSet",
    "access_plan",
    "owner_plan",
    "refuse_other_owner",
    "session_plan",
    "stored_id",
    "thread_plan",
    "unheld_error",
]

Owner = tuple[int, str]
"""`(session_id, owner key)` of the session that holds a thread."""


def session_plan(session_id: object, user_id: object) -> Plan[ExternalSession]:
    """The session, checked against `user_id` (an int or str owner) when given.

    Every ownership comparison goes through `_validate.owner_key`: a `bool` or
    `float` user id is `InvalidConfigError`, never a match.
    """
    owner = check.optional_owner(user_id)
    if isinstance(session_id, ExternalSession):
        session_id = session_id.id
    session_id = check.session_id(session_id)
    session: ExternalSession | None = yield from call(BaseSessionStore.get_session, session_id)
    if session is None:
        raise SessionNotFoundError(f"session {session_id} not found")
    if owner is not None and session.owner != owner:
        raise SessionAccessError(f"user {owner} does not own session {session_id}")
    return session


def stored_id(session: ExternalSession) -> int:
    """The id of a session read from a store (every store sets it)."""
    if session.id is None:
        raise SessionNotFoundError(
            f"session {session.session_name!r} has no id: it was never stored"
        )
    return session.id


def thread_plan(thread_id: object, user_id: object) -> Plan[InternalSession]:
    """The thread's record (`ThreadNotFoundError` if no session holds it)."""
    check.optional_owner(user_id)
    thread_id = check.thread_id(thread_id)
    thread: InternalSession | None = yield from call(BaseSessionStore.get_thread, thread_id)
    if thread is None:
        raise unheld_error(thread_id)
    if user_id is not None:
        yield from session_plan(thread.session_id, user_id)
    return thread


def owner_plan(thread_id: str) -> Plan[Owner | None]:
    """`(session_id, user_id)` of the session holding `thread_id` now, or None."""
    owner: Owner | None = yield from call(BaseSessionStore.thread_owner, thread_id)
    return owner


class ThreadSet:
    """Thread ids, each with when it was last added (`time.monotonic()`).

    Bounded (cleared when full) and safe across threads: a lookup or an add
    takes no lock (one dict operation each), only clearing and removal do.
    """

    def __init__(self, max_size: int = 65536) -> None:
        self._added: dict[str, float] = {}
        self._max_size = max_size
        self._lock = threading.Lock()

    def __contains__(self, thread_id: object) -> bool:
        return thread_id in self._added

    def add(self, thread_id: str) -> None:
        added = self._added
        if len(added) >= self._max_size and thread_id not in added:
            with self._lock:
                if len(added) >= self._max_size:
                    added.clear()
        added[thread_id] = time.monotonic()

    def added_within(self, thread_id: str, seconds: float) -> bool:
        """Whether `thread_id` was added less than `seconds` ago."""
        added = self._added.get(thread_id)
        return added is not None and time.monotonic() - added < seconds

    def discard(self, thread_ids: Iterable[str]) -> None:
        with self._lock:
            for thread_id in thread_ids:
                self._added.pop(thread_id, None)


def unheld_error(thread_id: str) -> ThreadNotFoundError:
    return ThreadNotFoundError(f"no session holds thread {thread_id!r}")


def refuse_other_owner(thread_id: str, owner: Owner, user_id: str | None) -> None:
    """`SessionAccessError` when `user_id` (an owner key; None: no check) is not
    the owner of the session `owner` (`thread_owner`'s answer) names."""
    if user_id is not None and owner[1] != user_id:
        raise SessionAccessError(
            f"user {user_id} does not own session {owner[0]} (thread {thread_id!r})"
        )


def access_plan(thread_id: str, user_id: str) -> Plan[Owner | None]:
    """Refuse the owner key `user_id` on a thread whose session another user owns;
    the owner read (None: no session holds the thread).

    One store read on every call, so the owner checked is the one committed
    when the call starts, whichever process changed it. A thread no session
    holds yet is open to anyone (it is about to be adopted).
    """
    owner = yield from owner_plan(thread_id)
    if owner is not None:
        refuse_other_owner(thread_id, owner, user_id)
    return owner
