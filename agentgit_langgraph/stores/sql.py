"""`SqlSessionStore`: every store method, as one operation run in one transaction.

The operations (`stores/ops/`) hold the logic; a backend store only runs them,
blocking or async (`stores/transactions.py`), in the dialect of its database
(`stores/dialect.py`). This module also keeps the names stores and tests have
long imported from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from agentgit_langgraph._validate import UserId
from agentgit_langgraph.errors import StoreError
from agentgit_langgraph.sessions import Claimant, ExternalSession, InternalSession, Reversal, Tag
from agentgit_langgraph.stores.base import BaseSessionStore, CheckpointLinks, PendingBranch
from agentgit_langgraph.stores.dialect import POSTGRES, SQLITE, Dialect, counting_in_saver
from agentgit_langgraph.stores.ops import (
    add_branch,
    add_tag,
    begin_branch,
    checkpoint_links,
    claim_reversal,
    create_session,
    delete_session,
    delete_tag,
    delete_threads,
    ensure_session_for_thread,
    finish_reversal,
    forget_pending_branch,
    forget_pending_delete,
    forget_thread,
    get_session,
    get_thread,
    list_pending_branches,
    list_pending_deletes,
    list_reversals,
    list_sessions,
    list_tags,
    list_threads,
    migrate,
    record_checkpoints,
    set_current,
    set_thread_status,
    take_over_reversal,
    thread_owner,
    update_metadata,
)
from agentgit_langgraph.stores.statements import Op, Result, Statement, block_on
from agentgit_langgraph.stores.utc import local_zone_name, local_zone_sql

__all__ = [
    "POSTGRES",
    "SQLITE",
    "Dialect",
    "Op",
    "Result",
    "SqlSessionStore",
    "Statement",
    "block_on",
    "counting_in_saver",
    "local_zone_name",
    "local_zone_sql",
    "migrate",
    "record_checkpoints",
    "thread_owner",
]

T = TypeVar("T")


class SqlSessionStore(BaseSessionStore):
    """Every store method, over `_run` (blocking) and `_arun` (async) drivers.

    A backend subclass sets `dialect` and implements at least one driver; the
    other one bridges (`asyncio.to_thread` for a blocking connection, the
    owning event loop for an async one).
    """

    dialect: Dialect

    @property
    def counts_in_saver(self) -> bool:
        return not self.dialect.counts_apart

    @property
    def ensures_in_one_statement(self) -> bool:
        return bool(self.dialect.next_session_id)

    def _run(self, op: Op[T], *, immediate: bool, alone: bool = False) -> T:
        raise NotImplementedError

    async def _arun(self, op: Op[T], *, immediate: bool, alone: bool = False) -> T:
        return await asyncio.to_thread(self._run, op, immediate=immediate, alone=alone)

    may_lose_connections = False
    """Whether a call may fail only because its connection was lost (`_lost`)."""

    def _lost(self, exc: StoreError) -> bool:
        """Whether `exc` says only that the connection was lost (no statement ran)."""
        return False

    # Each method below is one operation run in one transaction, in the mode it
    # states: `immediate=True` when it writes (SQLite `BEGIN IMMEDIATE`, a
    # read-write transaction on PostgreSQL), `False` when it only reads (one
    # snapshot; on PostgreSQL `REPEATABLE READ, READ ONLY`, so a read that
    # tried to write would fail instead of writing). `alone=True` marks the
    # one-statement operations of every checkpointer call (the count of a put,
    # the owner check), which a store may send alone as their own transaction.
    def create_session(
        self,
        *,
        user_id: UserId,
        session_name: str,
        metadata: Mapping[str, Any] | None,
        thread_id: str,
    ) -> ExternalSession:
        op = create_session(self.dialect, user_id, session_name, metadata, thread_id)
        return self._run(op, immediate=True)

    async def acreate_session(
        self,
        *,
        user_id: UserId,
        session_name: str,
        metadata: Mapping[str, Any] | None,
        thread_id: str,
    ) -> ExternalSession:
        op = create_session(self.dialect, user_id, session_name, metadata, thread_id)
        return await self._arun(op, immediate=True)

    def ensure_session_for_thread(self, thread_id: str, *, user_id: UserId) -> None:
        op = ensure_session_for_thread(self.dialect, thread_id, user_id)
        self._run(op, immediate=True, alone=self.ensures_in_one_statement)

    async def aensure_session_for_thread(self, thread_id: str, *, user_id: UserId) -> None:
        op = ensure_session_for_thread(self.dialect, thread_id, user_id)
        await self._arun(op, immediate=True, alone=self.ensures_in_one_statement)

    def get_session(self, session_id: int) -> ExternalSession | None:
        return self._run(get_session(self.dialect, session_id), immediate=False)

    async def aget_session(self, session_id: int) -> ExternalSession | None:
        return await self._arun(get_session(self.dialect, session_id), immediate=False)

    def list_sessions(self, user_id: UserId | None = None) -> list[ExternalSession]:
        return self._run(list_sessions(self.dialect, user_id), immediate=False)

    async def alist_sessions(self, user_id: UserId | None = None) -> list[ExternalSession]:
        return await self._arun(list_sessions(self.dialect, user_id), immediate=False)

    def update_metadata(self, session_id: int, metadata: Mapping[str, Any]) -> bool:
        return self._run(update_metadata(self.dialect, session_id, metadata), immediate=True)

    async def aupdate_metadata(self, session_id: int, metadata: Mapping[str, Any]) -> bool:
        return await self._arun(update_metadata(self.dialect, session_id, metadata), immediate=True)

    def get_thread(self, thread_id: str) -> InternalSession | None:
        return self._run(get_thread(self.dialect, thread_id), immediate=False)

    async def aget_thread(self, thread_id: str) -> InternalSession | None:
        return await self._arun(get_thread(self.dialect, thread_id), immediate=False)

    def thread_owner(self, thread_id: str) -> tuple[int, str] | None:
        return self._run(thread_owner(self.dialect, thread_id), immediate=False, alone=True)

    async def athread_owner(self, thread_id: str) -> tuple[int, str] | None:
        op = thread_owner(self.dialect, thread_id)
        return await self._arun(op, immediate=False, alone=True)

    def list_threads(self, session_id: int) -> list[InternalSession]:
        return self._run(list_threads(self.dialect, session_id), immediate=False)

    async def alist_threads(self, session_id: int) -> list[InternalSession]:
        return await self._arun(list_threads(self.dialect, session_id), immediate=False)

    def record_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        op = record_checkpoints(self.dialect, thread_id, count)
        return self._run(op, immediate=self.dialect.counts_apart, alone=True)

    async def arecord_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        op = record_checkpoints(self.dialect, thread_id, count)
        return await self._arun(op, immediate=self.dialect.counts_apart, alone=True)

    def add_branch(self, branch: InternalSession) -> None:
        self._run(add_branch(self.dialect, branch), immediate=True)

    async def aadd_branch(self, branch: InternalSession) -> None:
        await self._arun(add_branch(self.dialect, branch), immediate=True)

    def set_current(self, session_id: int, thread_id: str) -> bool:
        return self._run(set_current(self.dialect, session_id, thread_id), immediate=True)

    async def aset_current(self, session_id: int, thread_id: str) -> bool:
        return await self._arun(set_current(self.dialect, session_id, thread_id), immediate=True)

    def set_thread_status(self, thread_id: str, status: str, reason: str | None = None) -> bool:
        return self._run(set_thread_status(self.dialect, thread_id, status, reason), immediate=True)

    async def aset_thread_status(
        self, thread_id: str, status: str, reason: str | None = None
    ) -> bool:
        return await self._arun(
            set_thread_status(self.dialect, thread_id, status, reason), immediate=True
        )

    def add_tag(self, tag: Tag) -> None:
        self._run(add_tag(self.dialect, tag), immediate=True)

    async def aadd_tag(self, tag: Tag) -> None:
        await self._arun(add_tag(self.dialect, tag), immediate=True)

    def checkpoint_links(self, session_id: int) -> CheckpointLinks | None:
        return self._run(checkpoint_links(self.dialect, session_id), immediate=False)

    async def acheckpoint_links(self, session_id: int) -> CheckpointLinks | None:
        return await self._arun(checkpoint_links(self.dialect, session_id), immediate=False)

    def list_tags(self, session_id: int) -> list[Tag]:
        return self._run(list_tags(self.dialect, session_id), immediate=False)

    async def alist_tags(self, session_id: int) -> list[Tag]:
        return await self._arun(list_tags(self.dialect, session_id), immediate=False)

    def delete_tag(self, session_id: int, name: str) -> bool:
        return self._run(delete_tag(self.dialect, session_id, name), immediate=True)

    async def adelete_tag(self, session_id: int, name: str) -> bool:
        return await self._arun(delete_tag(self.dialect, session_id, name), immediate=True)

    def delete_session(self, session_id: int) -> list[str] | None:
        return self._run(delete_session(self.dialect, session_id), immediate=True)

    async def adelete_session(self, session_id: int) -> list[str] | None:
        return await self._arun(delete_session(self.dialect, session_id), immediate=True)

    def delete_threads(self, session_id: int, thread_ids: Sequence[str]) -> int:
        return self._run(delete_threads(self.dialect, session_id, thread_ids), immediate=True)

    async def adelete_threads(self, session_id: int, thread_ids: Sequence[str]) -> int:
        return await self._arun(
            delete_threads(self.dialect, session_id, thread_ids), immediate=True
        )

    def forget_thread(self, thread_id: str) -> bool:
        return self._run(forget_thread(self.dialect, thread_id), immediate=True)

    async def aforget_thread(self, thread_id: str) -> bool:
        return await self._arun(forget_thread(self.dialect, thread_id), immediate=True)

    def list_pending_deletes(self) -> list[str]:
        return self._run(list_pending_deletes(self.dialect), immediate=False)

    async def alist_pending_deletes(self) -> list[str]:
        return await self._arun(list_pending_deletes(self.dialect), immediate=False)

    def forget_pending_delete(self, thread_id: str) -> bool:
        return self._run(forget_pending_delete(self.dialect, thread_id), immediate=True)

    async def aforget_pending_delete(self, thread_id: str) -> bool:
        return await self._arun(forget_pending_delete(self.dialect, thread_id), immediate=True)

    def claim_reversal(
        self, rec: Reversal, claimant: Claimant, *, retry_failed: bool = True
    ) -> Reversal | None:
        op = claim_reversal(self.dialect, rec, claimant, retry_failed)
        return self._run(op, immediate=True)

    async def aclaim_reversal(
        self, rec: Reversal, claimant: Claimant, *, retry_failed: bool = True
    ) -> Reversal | None:
        op = claim_reversal(self.dialect, rec, claimant, retry_failed)
        return await self._arun(op, immediate=True)

    def take_over_reversal(
        self, rec: Reversal, stale_token: str | None, claimant: Claimant
    ) -> bool:
        op = take_over_reversal(self.dialect, rec, stale_token, claimant)
        return self._run(op, immediate=True)

    async def atake_over_reversal(
        self, rec: Reversal, stale_token: str | None, claimant: Claimant
    ) -> bool:
        op = take_over_reversal(self.dialect, rec, stale_token, claimant)
        return await self._arun(op, immediate=True)

    def finish_reversal(
        self,
        session_id: int,
        tool_call_id: str,
        status: str,
        error: str | None = None,
        *,
        claim_token: str | None = None,
    ) -> bool:
        op = finish_reversal(self.dialect, session_id, tool_call_id, status, error, claim_token)
        return self._run(op, immediate=True)

    async def afinish_reversal(
        self,
        session_id: int,
        tool_call_id: str,
        status: str,
        error: str | None = None,
        *,
        claim_token: str | None = None,
    ) -> bool:
        op = finish_reversal(self.dialect, session_id, tool_call_id, status, error, claim_token)
        return await self._arun(op, immediate=True)

    def list_reversals(
        self, *, session_id: int | None = None, thread_id: str | None = None
    ) -> list[Reversal]:
        op = list_reversals(self.dialect, session_id=session_id, thread_id=thread_id)
        return self._run(op, immediate=False)

    async def alist_reversals(
        self, *, session_id: int | None = None, thread_id: str | None = None
    ) -> list[Reversal]:
        op = list_reversals(self.dialect, session_id=session_id, thread_id=thread_id)
        return await self._arun(op, immediate=False)

    def begin_branch(self, thread_id: str, session_id: int, owner: str) -> None:
        self._run(begin_branch(self.dialect, thread_id, session_id, owner), immediate=True)

    async def abegin_branch(self, thread_id: str, session_id: int, owner: str) -> None:
        await self._arun(begin_branch(self.dialect, thread_id, session_id, owner), immediate=True)

    def forget_pending_branch(self, thread_id: str) -> bool:
        return self._run(forget_pending_branch(self.dialect, thread_id), immediate=True)

    async def aforget_pending_branch(self, thread_id: str) -> bool:
        return await self._arun(forget_pending_branch(self.dialect, thread_id), immediate=True)

    def list_pending_branches(self) -> list[PendingBranch]:
        return self._run(list_pending_branches(self.dialect), immediate=False)

    async def alist_pending_branches(self) -> list[PendingBranch]:
        return await self._arun(list_pending_branches(self.dialect), immediate=False)
