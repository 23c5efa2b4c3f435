"""Finding sessions and threads, and checking who owns them.

The plans here are shared by every module that looks a session up on behalf of
a user (`saver.py`, `maintenance.py`, `history.py`): a `user_id` that does not
own the session raises `SessionAccessError` before anything is read or changed.

`OwnerCache` remembers which user owns a thread, so a graph run whose config
carries `user_id` is checked on every checkpointer call without a store read
after the first one: an owner never changes while the thread exists.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from agentgit_langgraph import _validate as check
from agentgit_langgraph._plan import Call, Plan
from agentgit_langgraph.errors import (
    SessionAccessError,
    SessionNotFoundError,
    ThreadNotFoundError,
)
from agentgit_langgraph.sessions import ExternalSession, InternalSession

__all__ = [
    "Owner",
    "OwnerCache",
    "access_plan",
    "owner_plan",
    "session_plan",
    "thread_plan",
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
    session: ExternalSession | None = yield Call("store", "get_session", (session_id,))
    if session is None:
        raise SessionNotFoundError(f"session {session_id} not found")
    if owner is not None and session.owner != owner:
        raise SessionAccessError(f"user {owner} does not own session {session_id}")
    return session


def thread_plan(thread_id: object, user_id: object) -> Plan[InternalSession]:
    """The thread's record (`ThreadNotFoundError` if no session holds it)."""
    check.optional_owner(user_id)
    thread_id = check.thread_id(thread_id)
    thread: InternalSession | None = yield Call("store", "get_thread", (thread_id,))
    if thread is None:
        raise ThreadNotFoundError(f"no session holds thread {thread_id!r}")
    if user_id is not None:
        yield from session_plan(thread.session_id, user_id)
    return thread


def owner_plan(thread_id: str) -> Plan[Owner | None]:
    """`(session_id, owner key)` of the session holding `thread_id`, or None."""
    thread: InternalSession | None = yield Call("store", "get_thread", (thread_id,))
    if thread is None:
        return None
    session: ExternalSession | None = yield Call("store", "get_session", (thread.session_id,))
    if session is None or session.id is None:
        return None
    return (session.id, session.owner)


class OwnerCache:
    """Thread id -> `(session_id, owner key)`, for threads known to be in a session.

    Only positive answers are kept: a thread that no session holds yet may be
    adopted by one at any time (auto sessions, rollbacks), so it is looked up
    again on the next call. Bounded: past `max_size` entries it starts over.
    Entries of threads this process deletes are dropped (`evict`); a thread id
    deleted by another process and then reused for another user's session is
    the one case a stale entry could matter (thread ids are random UUIDs).
    """

    def __init__(self, max_size: int = 65536) -> None:
        self._owners: dict[str, Owner] = {}
        self._max_size = max_size
        self._lock = threading.Lock()

    def get(self, thread_id: str) -> Owner | None:
        return self._owners.get(thread_id)

    def put(self, thread_id: str, owner: Owner) -> None:
        with self._lock:
            if len(self._owners) >= self._max_size:
                self._owners.clear()
            self._owners[thread_id] = owner

    def evict(self, thread_ids: Iterable[str]) -> None:
        with self._lock:
            for thread_id in thread_ids:
                self._owners.pop(thread_id, None)

    def __len__(self) -> int:
        return len(self._owners)


def access_error(thread_id: str, owner: Owner, user_id: str) -> SessionAccessError:
    return SessionAccessError(
        f"user {user_id} does not own session {owner[0]} (thread {thread_id!r})"
    )


def access_plan(thread_id: str, user_id: str, owners: OwnerCache) -> Plan[None]:
    """Refuse the owner key `user_id` on a thread whose session another user owns.

    One store read the first time a thread is seen, none after (`owners`).
    A thread no session holds yet is open to anyone (it is about to be adopted).
    """
    owner = owners.get(thread_id)
    if owner is None:
        owner = yield from owner_plan(thread_id)
        if owner is None:
            return
        owners.put(thread_id, owner)
    if owner[1] != user_id:
        raise access_error(thread_id, owner, user_id)
