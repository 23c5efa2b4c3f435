"""In-process session store: the default when `AgentGitSaver` gets no store.

It keeps rows in the same shape the SQL stores select, so records are decoded
by the one shared decoder. Async methods do no I/O and simply run the sync ones,
as LangGraph's `InMemorySaver` does.

Example:
    >>> store = InMemorySessionStore()
    >>> s = store.create_session(user_id=1, session_name="demo", metadata=None, thread_id="t1")
    >>> store.record_checkpoints("t1")
    True
    >>> store.get_session(s.id).total_checkpoints
    1
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from agentgit_langgraph._claims import stamp, utc_now
from agentgit_langgraph.errors import NameConflictError, SessionNotFoundError, StoreError
from agentgit_langgraph.sessions import (
    FAILED,
    PENDING,
    REVERSED,
    Claimant,
    ExternalSession,
    InternalSession,
    Reversal,
    Tag,
)
from agentgit_langgraph.stores.base import (
    BaseSessionStore,
    as_metadata,
    now,
    session_from_rows,
    thread_from_row,
)

__all__ = ["InMemorySessionStore"]


class InMemorySessionStore(BaseSessionStore):
    """Sessions in a dict, guarded by a lock. Lost when the process ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_id = 1
        # Rows in the column order of base.SESSION_COLUMNS / THREAD_COLUMNS.
        self._sessions: dict[int, list[Any]] = {}
        self._threads: dict[str, list[Any]] = {}
        self._tags: dict[tuple[int, str], Tag] = {}
        self._reversals: dict[tuple[int, str], Reversal] = {}
        self._claims: dict[tuple[int, str], Claimant] = {}
        self._pending: dict[str, tuple[int, datetime]] = {}

    def _session(self, session_id: int) -> ExternalSession | None:
        row = self._sessions.get(session_id)
        if row is None:
            return None
        threads = [t for t in self._threads.values() if t[1] == session_id]
        return copy.deepcopy(session_from_rows(row, threads))

    def _insert_thread(self, branch: InternalSession) -> None:
        stamp = branch.created_at or now()
        self._threads[branch.thread_id] = [
            branch.thread_id,
            branch.session_id,
            branch.parent_thread_id,
            branch.branch_checkpoint_id,
            branch.name,
            stamp,
            branch.checkpoint_count,
            branch.is_branch,
            stamp,
        ]

    def _insert_session(
        self, user_id: int, session_name: str, metadata: Mapping[str, Any] | None, thread_id: str
    ) -> int:
        session_id = self._next_id
        self._next_id += 1
        stamp = now()
        self._sessions[session_id] = [
            session_id,
            user_id,
            session_name,
            stamp,
            stamp,
            True,
            thread_id,
            json.dumps(dict(metadata or {})),
            0,
        ]
        self._insert_thread(InternalSession(thread_id, session_id, created_at=stamp))
        return session_id

    def create_session(
        self,
        *,
        user_id: int,
        session_name: str,
        metadata: Mapping[str, Any] | None,
        thread_id: str,
    ) -> ExternalSession:
        with self._lock:
            if thread_id in self._threads:
                raise StoreError(f"thread {thread_id!r} already belongs to a session")
            session = self._session(
                self._insert_session(user_id, session_name, metadata, thread_id)
            )
        assert session is not None
        return session

    async def acreate_session(
        self,
        *,
        user_id: int,
        session_name: str,
        metadata: Mapping[str, Any] | None,
        thread_id: str,
    ) -> ExternalSession:
        return self.create_session(
            user_id=user_id, session_name=session_name, metadata=metadata, thread_id=thread_id
        )

    def ensure_session_for_thread(self, thread_id: str, *, user_id: int) -> None:
        with self._lock:
            if thread_id not in self._threads:
                self._insert_session(user_id, thread_id, None, thread_id)

    async def aensure_session_for_thread(self, thread_id: str, *, user_id: int) -> None:
        self.ensure_session_for_thread(thread_id, user_id=user_id)

    def get_session(self, session_id: int) -> ExternalSession | None:
        with self._lock:
            return self._session(session_id)

    async def aget_session(self, session_id: int) -> ExternalSession | None:
        return self.get_session(session_id)

    def list_sessions(self, user_id: int | None = None) -> list[ExternalSession]:
        with self._lock:
            sessions = [self._session(sid) for sid in self._sessions]
        return [s for s in sessions if s is not None and (user_id is None or s.user_id == user_id)]

    async def alist_sessions(self, user_id: int | None = None) -> list[ExternalSession]:
        return self.list_sessions(user_id)

    def update_metadata(self, session_id: int, metadata: Mapping[str, Any]) -> bool:
        with self._lock:
            row = self._sessions.get(session_id)
            if row is None:
                return False
            merged = as_metadata(row[7], session_id)
            merged.update(metadata)
            row[7] = json.dumps(merged)
            row[4] = now()
            return True

    async def aupdate_metadata(self, session_id: int, metadata: Mapping[str, Any]) -> bool:
        return self.update_metadata(session_id, metadata)

    def get_thread(self, thread_id: str) -> InternalSession | None:
        with self._lock:
            row = self._threads.get(thread_id)
            return thread_from_row(row) if row is not None else None

    async def aget_thread(self, thread_id: str) -> InternalSession | None:
        return self.get_thread(thread_id)

    def list_threads(self, session_id: int) -> list[InternalSession]:
        with self._lock:
            return [thread_from_row(t) for t in self._threads.values() if t[1] == session_id]

    async def alist_threads(self, session_id: int) -> list[InternalSession]:
        return self.list_threads(session_id)

    def record_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        with self._lock:
            row = self._threads.get(thread_id)
            if row is None:
                return False
            row[6] += count
            row[8] = now()
            return True

    async def arecord_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        return self.record_checkpoints(thread_id, count)

    def add_branch(self, branch: InternalSession) -> None:
        with self._lock:
            session = self._sessions.get(branch.session_id)
            if session is None:
                raise SessionNotFoundError(f"session {branch.session_id} not found")
            if branch.thread_id in self._threads:
                raise StoreError(f"thread {branch.thread_id!r} already belongs to a session")
            if branch.name is not None and any(
                t[1] == branch.session_id and t[4] == branch.name for t in self._threads.values()
            ):
                raise NameConflictError(
                    f"session {branch.session_id} already has a branch named {branch.name!r}"
                )
            self._insert_thread(branch)
            self._pending.pop(branch.thread_id, None)
            session[8] += 1
            session[6] = branch.thread_id
            session[4] = now()

    async def aadd_branch(self, branch: InternalSession) -> None:
        self.add_branch(branch)

    def set_current(self, session_id: int, thread_id: str) -> bool:
        with self._lock:
            session = self._sessions.get(session_id)
            thread = self._threads.get(thread_id)
            if session is None or thread is None or thread[1] != session_id:
                return False
            session[6] = thread_id
            session[4] = now()
            return True

    async def aset_current(self, session_id: int, thread_id: str) -> bool:
        return self.set_current(session_id, thread_id)

    def add_tag(self, tag: Tag) -> None:
        with self._lock:
            key = (tag.session_id, tag.name)
            if key in self._tags:
                raise NameConflictError(
                    f"session {tag.session_id} already has a tag named {tag.name!r}"
                )
            self._tags[key] = dataclasses.replace(tag, created_at=tag.created_at or now())

    async def aadd_tag(self, tag: Tag) -> None:
        self.add_tag(tag)

    def list_tags(self, session_id: int) -> list[Tag]:
        with self._lock:
            return [t for (sid, _), t in self._tags.items() if sid == session_id]

    async def alist_tags(self, session_id: int) -> list[Tag]:
        return self.list_tags(session_id)

    def delete_tag(self, session_id: int, name: str) -> bool:
        with self._lock:
            return self._tags.pop((session_id, name), None) is not None

    async def adelete_tag(self, session_id: int, name: str) -> bool:
        return self.delete_tag(session_id, name)

    def delete_session(self, session_id: int) -> bool:
        with self._lock:
            self._tags = {k: t for k, t in self._tags.items() if k[0] != session_id}
            self._reversals = {k: r for k, r in self._reversals.items() if k[0] != session_id}
            self._claims = {k: c for k, c in self._claims.items() if k[0] != session_id}
            self._threads = {k: t for k, t in self._threads.items() if t[1] != session_id}
            return self._sessions.pop(session_id, None) is not None

    async def adelete_session(self, session_id: int) -> bool:
        return self.delete_session(session_id)

    def delete_threads(self, session_id: int, thread_ids: Sequence[str]) -> int:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session[6] in thread_ids:
                raise StoreError(f"thread {session[6]!r} is current in session {session_id}")
            doomed = [k for k, t in self._threads.items() if t[1] == session_id and k in thread_ids]
            for k in doomed:
                del self._threads[k]
            self._tags = {
                k: t
                for k, t in self._tags.items()
                if not (k[0] == session_id and t.thread_id in thread_ids)
            }
            self._reversals = {
                k: r
                for k, r in self._reversals.items()
                if not (k[0] == session_id and r.thread_id in thread_ids)
            }
            self._claims = {k: c for k, c in self._claims.items() if k in self._reversals}
            return len(doomed)

    async def adelete_threads(self, session_id: int, thread_ids: Sequence[str]) -> int:
        return self.delete_threads(session_id, thread_ids)

    def claim_reversal(
        self, rec: Reversal, claimant: Claimant, *, retry_failed: bool = True
    ) -> Reversal | None:
        # As `stores.sql.claim_reversal`, under the lock.
        with self._lock:
            key = (rec.session_id, rec.tool_call_id)
            found = self._reversals.get(key)
            if found is not None:
                found = dataclasses.replace(found, claimant=self._claims.get(key))
                if found.status in (REVERSED, PENDING) or (
                    found.status == FAILED and not retry_failed
                ):
                    return found
            stamp_ = now()
            created = found.created_at if found is not None else stamp_
            self._reversals[key] = dataclasses.replace(
                rec, status=PENDING, error=None, created_at=created, updated_at=stamp_
            )
            self._claims[key] = stamp(claimant, utc_now())
            return None

    async def aclaim_reversal(
        self, rec: Reversal, claimant: Claimant, *, retry_failed: bool = True
    ) -> Reversal | None:
        return self.claim_reversal(rec, claimant, retry_failed=retry_failed)

    def take_over_reversal(
        self, rec: Reversal, stale_token: str | None, claimant: Claimant
    ) -> bool:
        with self._lock:
            key = (rec.session_id, rec.tool_call_id)
            found = self._reversals.get(key)
            holder = self._claims.get(key)
            if found is None or found.status != PENDING:
                return False
            if (holder.token if holder is not None else None) != stale_token:
                return False
            self._claims[key] = stamp(claimant, utc_now())
            self._reversals[key] = dataclasses.replace(
                found, thread_id=rec.thread_id, checkpoint_id=rec.checkpoint_id, updated_at=now()
            )
            return True

    async def atake_over_reversal(
        self, rec: Reversal, stale_token: str | None, claimant: Claimant
    ) -> bool:
        return self.take_over_reversal(rec, stale_token, claimant)

    def finish_reversal(
        self,
        session_id: int,
        tool_call_id: str,
        status: str,
        error: str | None = None,
        *,
        claim_token: str | None = None,
    ) -> bool:
        with self._lock:
            key = (session_id, tool_call_id)
            found = self._reversals.get(key)
            if found is None:
                return False
            if claim_token is not None:
                holder = self._claims.get(key)
                if found.status != PENDING or holder is None or holder.token != claim_token:
                    return False
            self._reversals[key] = dataclasses.replace(
                found, status=status, error=error, updated_at=now()
            )
            return True

    async def afinish_reversal(
        self,
        session_id: int,
        tool_call_id: str,
        status: str,
        error: str | None = None,
        *,
        claim_token: str | None = None,
    ) -> bool:
        return self.finish_reversal(
            session_id, tool_call_id, status, error, claim_token=claim_token
        )

    def list_reversals(
        self, *, session_id: int | None = None, thread_id: str | None = None
    ) -> list[Reversal]:
        with self._lock:
            found = [
                dataclasses.replace(r, claimant=self._claims.get((r.session_id, r.tool_call_id)))
                for r in self._reversals.values()
                if (
                    r.thread_id == thread_id
                    if thread_id is not None
                    else r.session_id == session_id
                )
            ]
        return sorted(found, key=lambda r: (r.created_at or now(), r.tool_call_id))

    async def alist_reversals(
        self, *, session_id: int | None = None, thread_id: str | None = None
    ) -> list[Reversal]:
        return self.list_reversals(session_id=session_id, thread_id=thread_id)

    def begin_branch(self, thread_id: str, session_id: int) -> None:
        with self._lock:
            if thread_id in self._pending:
                raise StoreError(f"branch thread {thread_id!r} is already pending")
            self._pending[thread_id] = (session_id, now())

    async def abegin_branch(self, thread_id: str, session_id: int) -> None:
        self.begin_branch(thread_id, session_id)

    def forget_pending_branch(self, thread_id: str) -> bool:
        with self._lock:
            return self._pending.pop(thread_id, None) is not None

    async def aforget_pending_branch(self, thread_id: str) -> bool:
        return self.forget_pending_branch(thread_id)

    def list_pending_branches(self, older_than: datetime) -> list[str]:
        with self._lock:
            return [t for t, (_, at) in self._pending.items() if at < older_than]

    async def alist_pending_branches(self, older_than: datetime) -> list[str]:
        return self.list_pending_branches(older_than)
