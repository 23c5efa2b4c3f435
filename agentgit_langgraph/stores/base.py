"""The session-store contract and the row decoding every SQL store shares.

A store keeps `ExternalSession` and `InternalSession` records. Counters change
only through single SQL statements (`checkpoint_count = checkpoint_count + n`),
so concurrent writers in any number of threads or processes never lose an
update. `ExternalSession.total_checkpoints` is not stored: it is the sum of the
session's thread counts, read in the same query, so it can never drift from them.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agentgit_langgraph._validate import UserId
from agentgit_langgraph.errors import StoreError
from agentgit_langgraph.sessions import (
    Claimant,
    ExternalSession,
    InternalSession,
    Reversal,
    Tag,
    as_utc,
    utc_now,
)

__all__ = ["BaseSessionStore", "PendingBranch", "as_metadata", "now"]


def now() -> datetime:
    """The current time, aware, in UTC: every timestamp a store writes."""
    return utc_now()


@dataclass(frozen=True)
class PendingBranch:
    """A rollback's note of the thread it is making (see `begin_branch`)."""

    thread_id: str
    session_id: int
    owner: str
    """Who makes it: `_liveness.owner_token()` of that rollback."""
    created_at: datetime | None
    registered: bool
    """The branch was registered after all: only the note is stale."""


class BaseSessionStore(ABC):
    """Sync and async operations every session store provides.

    Implementations: `InMemorySessionStore`, `SqliteSessionStore`,
    `AsyncSqliteSessionStore`, `PostgresSessionStore`, `AsyncPostgresSessionStore`.
    A sync-only store raises `NotImplementedError` from the async twins, and the
    other way round, as LangGraph's own savers do.
    """

    # -- setup ---------------------------------------------------------------
    def setup(self) -> None:  # noqa: B027 - a store without tables needs no setup
        """Create or migrate the store's tables. Safe to call more than once."""

    async def asetup(self) -> None:  # noqa: B027
        """Async twin of `setup`."""

    # -- sessions ------------------------------------------------------------
    @abstractmethod
    def create_session(
        self,
        *,
        user_id: UserId,
        session_name: str,
        metadata: Mapping[str, Any] | None,
        thread_id: str,
    ) -> ExternalSession:
        """Create a session whose first (current) thread is `thread_id`.

        `user_id` is an int or a str owner (see `_validate.owner_key`); every
        argument is checked (`InvalidConfigError`) before anything is written.
        """

    @abstractmethod
    async def acreate_session(
        self,
        *,
        user_id: UserId,
        session_name: str,
        metadata: Mapping[str, Any] | None,
        thread_id: str,
    ) -> ExternalSession: ...

    @abstractmethod
    def ensure_session_for_thread(self, thread_id: str, *, user_id: UserId) -> None:
        """Create a session for `thread_id` unless one already holds it (race-free)."""

    @abstractmethod
    async def aensure_session_for_thread(self, thread_id: str, *, user_id: UserId) -> None: ...

    @abstractmethod
    def get_session(self, session_id: int) -> ExternalSession | None:
        """The session with this id, or None."""

    @abstractmethod
    async def aget_session(self, session_id: int) -> ExternalSession | None: ...

    @abstractmethod
    def list_sessions(self, user_id: UserId | None = None) -> list[ExternalSession]:
        """All sessions (of the owner `user_id`, an int or a str, when given), oldest first."""

    @abstractmethod
    async def alist_sessions(self, user_id: UserId | None = None) -> list[ExternalSession]: ...

    @abstractmethod
    def update_metadata(self, session_id: int, metadata: Mapping[str, Any]) -> bool:
        """Merge `metadata` into the session's; False when the session is unknown."""

    @abstractmethod
    async def aupdate_metadata(self, session_id: int, metadata: Mapping[str, Any]) -> bool: ...

    # -- threads -------------------------------------------------------------
    @abstractmethod
    def get_thread(self, thread_id: str) -> InternalSession | None:
        """The thread record, or None when no session holds it."""

    @abstractmethod
    async def aget_thread(self, thread_id: str) -> InternalSession | None: ...

    @abstractmethod
    def thread_owner(self, thread_id: str) -> tuple[int, str] | None:
        """`(session_id, owner key)` of the session holding `thread_id`, or None.

        Read from the store on every call (one indexed query in the SQL
        stores): the ownership check of each checkpointer call with a `user_id`.
        """

    @abstractmethod
    async def athread_owner(self, thread_id: str) -> tuple[int, str] | None: ...

    @abstractmethod
    def list_threads(self, session_id: int) -> list[InternalSession]:
        """The session's threads in the order they were added."""

    @abstractmethod
    async def alist_threads(self, session_id: int) -> list[InternalSession]: ...

    @abstractmethod
    def record_checkpoints(self, thread_id: str, count: int = 1) -> bool:
        """Atomically add `count` to the thread's checkpoint count.

        Returns False, changing nothing, when no session holds the thread.
        """

    @abstractmethod
    async def arecord_checkpoints(self, thread_id: str, count: int = 1) -> bool: ...

    @abstractmethod
    def add_branch(self, branch: InternalSession) -> None:
        """In one transaction: add the thread, `branch_count += 1`, make it current.

        Raises `SessionNotFoundError` if the session is gone, `StoreError` if the
        thread id is taken; either way nothing is written.
        """

    @abstractmethod
    async def aadd_branch(self, branch: InternalSession) -> None: ...

    @abstractmethod
    def set_current(self, session_id: int, thread_id: str) -> bool:
        """Make a thread of the session current; False (no change) if it is not one."""

    @abstractmethod
    async def aset_current(self, session_id: int, thread_id: str) -> bool: ...

    # -- tags and deletion ---------------------------------------------------
    @abstractmethod
    def add_tag(self, tag: Tag) -> None:
        """Name a checkpoint; `NameConflictError` if the session has that tag."""

    @abstractmethod
    async def aadd_tag(self, tag: Tag) -> None: ...

    @abstractmethod
    def list_tags(self, session_id: int) -> list[Tag]:
        """The session's tags, oldest first."""

    @abstractmethod
    async def alist_tags(self, session_id: int) -> list[Tag]: ...

    @abstractmethod
    def delete_tag(self, session_id: int, name: str) -> bool:
        """Remove a tag; False if there was none."""

    @abstractmethod
    async def adelete_tag(self, session_id: int, name: str) -> bool: ...

    @abstractmethod
    def delete_session(self, session_id: int) -> list[str] | None:
        """Forget the session, its threads and tags, noting the threads for deletion.

        Returns the session's thread ids, or None if there was no such session.
        """

    @abstractmethod
    async def adelete_session(self, session_id: int) -> list[str] | None: ...

    @abstractmethod
    def delete_threads(self, session_id: int, thread_ids: Sequence[str]) -> int:
        """Forget threads of the session and their tags, noting them for deletion.

        Refuses (`ThreadBusyError`, nothing changed) if one of them is current.
        """

    @abstractmethod
    async def adelete_threads(self, session_id: int, thread_ids: Sequence[str]) -> int: ...

    @abstractmethod
    def forget_thread(self, thread_id: str) -> bool:
        """Take one thread out of its session (noting it for deletion); False if none held it.

        A current thread hands over to the session's newest remaining one; a
        session left without threads is forgotten too.
        """

    @abstractmethod
    async def aforget_thread(self, thread_id: str) -> bool: ...

    @abstractmethod
    def list_pending_deletes(self) -> list[str]:
        """Threads forgotten by the store whose checkpoints may still be in the saver."""

    @abstractmethod
    async def alist_pending_deletes(self) -> list[str]: ...

    @abstractmethod
    def forget_pending_delete(self, thread_id: str) -> bool:
        """Drop the note once the thread's checkpoints are deleted."""

    @abstractmethod
    async def aforget_pending_delete(self, thread_id: str) -> bool: ...

    # -- branches being made -------------------------------------------------
    @abstractmethod
    def begin_branch(self, thread_id: str, session_id: int, owner: str) -> None:
        """Note a branch thread (and who makes it) before it is copied into.

        `add_branch` clears the note.
        """

    @abstractmethod
    async def abegin_branch(self, thread_id: str, session_id: int, owner: str) -> None: ...

    @abstractmethod
    def forget_pending_branch(self, thread_id: str) -> bool:
        """Drop the note of a branch whose thread is gone; False if there was none."""

    @abstractmethod
    async def aforget_pending_branch(self, thread_id: str) -> bool: ...

    @abstractmethod
    def list_pending_branches(self) -> list[PendingBranch]:
        """Every noted branch, oldest first (registered ones have a stale note)."""

    @abstractmethod
    async def alist_pending_branches(self) -> list[PendingBranch]: ...

    # -- tool-call reversals -------------------------------------------------
    @abstractmethod
    def claim_reversal(
        self, rec: Reversal, claimant: Claimant, *, retry_failed: bool = True
    ) -> Reversal | None:
        """Claim a call for `claimant` (as `pending`) before undoing it, atomically.

        Returns None when `claimant` now holds it: a new call, or one recorded
        `no_handler`, or `failed` when `retry_failed`. Otherwise the existing
        record, untouched: `reversed` (must not be undone again), `failed`
        (with `retry_failed=False`), or `pending` with its `claimant` (another
        rollback holds it; see `take_over_reversal`).
        """

    @abstractmethod
    async def aclaim_reversal(
        self, rec: Reversal, claimant: Claimant, *, retry_failed: bool = True
    ) -> Reversal | None: ...

    @abstractmethod
    def take_over_reversal(
        self, rec: Reversal, stale_token: str | None, claimant: Claimant
    ) -> bool:
        """Give a `pending` claim held by the dead claimant `stale_token` to `claimant`.

        A compare-and-set on the token (None: a pending record without a
        claim): True for exactly one of any number of concurrent takers, False
        if the claim changed hands or finished meanwhile.
        """

    @abstractmethod
    async def atake_over_reversal(
        self, rec: Reversal, stale_token: str | None, claimant: Claimant
    ) -> bool: ...

    @abstractmethod
    def finish_reversal(
        self,
        session_id: int,
        tool_call_id: str,
        status: str,
        error: str | None = None,
        *,
        claim_token: str | None = None,
    ) -> bool:
        """Record how a claimed reversal ended.

        With `claim_token`, only while that claim still holds the pending call
        (False, nothing written, if it was taken over).
        """

    @abstractmethod
    async def afinish_reversal(
        self,
        session_id: int,
        tool_call_id: str,
        status: str,
        error: str | None = None,
        *,
        claim_token: str | None = None,
    ) -> bool: ...

    @abstractmethod
    def list_reversals(
        self, *, session_id: int | None = None, thread_id: str | None = None
    ) -> list[Reversal]:
        """Reversal records of a session, or of rollbacks from one thread."""

    @abstractmethod
    async def alist_reversals(
        self, *, session_id: int | None = None, thread_id: str | None = None
    ) -> list[Reversal]: ...


# -- row decoding shared by the SQL stores -----------------------------------

SESSION_COLUMNS = (
    "id, user_id, session_name, created_at, updated_at, is_active, "
    "current_thread_id, metadata, branch_count, owner"
)
REVERSAL_COLUMNS = (
    "session_id, tool_call_id, tool_name, args, thread_id, checkpoint_id, status, error, "
    "created_at, updated_at"
)
CLAIM_COLUMNS = "token, host, node, pid, pid_start, claimed_at, expires_at"
TAG_COLUMNS = "session_id, name, thread_id, checkpoint_ns, checkpoint_id, created_at"
THREAD_COLUMNS = (
    "thread_id, session_id, parent_thread_id, branch_checkpoint_id, name, "
    "created_at, checkpoint_count, is_branch, updated_at"
)


def _corrupt(table: str, key: str, row: Sequence[Any], exc: BaseException) -> StoreError:
    ident = row[0] if len(row) else None
    return StoreError(f"corrupt row in {table} ({key}={ident!r}): {exc}")


def _as_datetime(value: Any) -> datetime | None:
    """A stored timestamp as an aware UTC datetime.

    SQLite holds ISO-8601 text with `+00:00`, PostgreSQL `timestamptz`. A naive
    value (one an older version of the package wrote after the migration ran)
    is taken as local time of this process, like the migration takes them.
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)  # ValueError: the caller names the row
    if isinstance(value, datetime):
        return as_utc(value)
    raise ValueError(f"corrupt timestamp {value!r}")


def _as_int(value: Any) -> int:
    """An integer column; text or fractional values are corrupt."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"not an integer: {value!r}")


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"not text: {value!r}")


def _as_optional_text(value: Any) -> str | None:
    return None if value is None else _as_text(value)


def as_metadata(value: Any, session_id: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        loaded = json.loads(value) if value is not None else {}
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"corrupt metadata in session {session_id} (row in agentgit_sessions): {exc}"
        ) from exc
    if not isinstance(loaded, dict):
        raise StoreError(
            f"corrupt metadata in session {session_id} (row in agentgit_sessions): not an object"
        )
    return loaded


def thread_from_row(row: Sequence[Any]) -> InternalSession:
    """Decode a row selected with `THREAD_COLUMNS`."""
    try:
        return InternalSession(
            thread_id=_as_text(row[0]),
            session_id=_as_int(row[1]),
            parent_thread_id=_as_optional_text(row[2]),
            branch_checkpoint_id=_as_optional_text(row[3]),
            name=_as_optional_text(row[4]),
            created_at=_as_datetime(row[5]),
            checkpoint_count=_as_int(row[6]),
            is_branch=bool(row[7]),
        )
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise _corrupt("agentgit_threads", "thread_id", row, exc) from exc


def reversal_from_row(row: Sequence[Any]) -> Reversal:
    """Decode a row selected with `REVERSAL_COLUMNS`."""
    try:
        args = json.loads(row[3]) if isinstance(row[3], str) else row[3]
        return Reversal(
            session_id=_as_int(row[0]),
            tool_call_id=str(row[1]),
            tool_name=str(row[2]),
            args=dict(args or {}),
            thread_id=str(row[4]),
            checkpoint_id=row[5],
            status=str(row[6]),
            error=row[7],
            created_at=_as_datetime(row[8]),
            updated_at=_as_datetime(row[9]),
        )
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise StoreError(
            f"corrupt row in agentgit_reversals (session_id={row[0]!r}, "
            f"tool_call_id={row[1]!r}): {exc}"
        ) from exc


def claimant_from_row(row: Sequence[Any]) -> Claimant:
    """Decode a row selected with `CLAIM_COLUMNS`."""
    try:
        claimed_at = _as_datetime(row[5])
        expires_at = _as_datetime(row[6])
        lease = (
            (expires_at - claimed_at).total_seconds()
            if claimed_at is not None and expires_at is not None
            else 0.0
        )
        return Claimant(
            token=str(row[0]),
            host=str(row[1]),
            node=str(row[2]),
            pid=int(row[3]),
            pid_start=None if row[4] is None else str(row[4]),
            lease_seconds=lease,
            claimed_at=claimed_at,
            expires_at=expires_at,
        )
    except (TypeError, ValueError) as exc:
        raise StoreError(f"corrupt reversal claim row {row[0]!r}: {exc}") from exc


def tag_from_row(row: Sequence[Any]) -> Tag:
    """Decode a row selected with `TAG_COLUMNS`."""
    try:
        return Tag(
            session_id=_as_int(row[0]),
            name=_as_text(row[1]),
            thread_id=_as_text(row[2]),
            checkpoint_ns=str(row[3]),
            checkpoint_id=_as_text(row[4]),
            created_at=_as_datetime(row[5]),
        )
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise StoreError(
            f"corrupt row in agentgit_tags (session_id={row[0]!r}, name={row[1]!r}): {exc}"
        ) from exc


def session_from_rows(row: Sequence[Any], thread_rows: Sequence[Sequence[Any]]) -> ExternalSession:
    """Decode a row selected with `SESSION_COLUMNS` and its `THREAD_COLUMNS` rows."""
    try:
        updated = _as_datetime(row[4])
        for t in thread_rows:
            t_updated = _as_datetime(t[8])
            if t_updated is not None and (updated is None or t_updated > updated):
                updated = t_updated
        session = ExternalSession(
            id=_as_int(row[0]),
            user_id=_as_int(row[1]),
            session_name=_as_text(row[2]),
            created_at=_as_datetime(row[3]),
            updated_at=updated,
            is_active=bool(row[5]),
            internal_session_ids=[_as_text(t[0]) for t in thread_rows],
            current_internal_session_id=_as_optional_text(row[6]),
            metadata=as_metadata(row[7], row[0]),
            # Both read from the thread rows, so they always agree with them.
            branch_count=sum(1 for t in thread_rows if bool(t[7])),
            total_checkpoints=sum(_as_int(t[6]) for t in thread_rows),
        )
        owner = row[9] if len(row) > 9 else None
        # NULL: a row written before the `owner` column existed (int owners only).
        session.owner = _as_text(owner) if owner is not None else str(session.user_id)
        return session
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise _corrupt("agentgit_sessions", "id", row, exc) from exc


def session_key(row: Sequence[Any]) -> int:
    """The id of a session row (`StoreError` naming the row if it is not an int)."""
    try:
        return _as_int(row[0])
    except (ValueError, IndexError) as exc:
        raise _corrupt("agentgit_sessions", "id", row, exc) from exc


def pending_branch_from_row(row: Sequence[Any]) -> PendingBranch:
    """Decode a row of `list_pending_branches`."""
    try:
        return PendingBranch(
            thread_id=str(row[0]),
            session_id=int(row[1]),
            owner=str(row[2] or ""),
            created_at=_as_datetime(row[3]),
            registered=bool(row[4]),
        )
    except (TypeError, ValueError) as exc:
        raise StoreError(f"corrupt pending branch row {row[0]!r}: {exc}") from exc


def group_thread_rows(
    thread_rows: Sequence[Sequence[Any]],
) -> dict[int, list[Sequence[Any]]]:
    """Thread rows by session id, keeping their order."""
    grouped: dict[int, list[Sequence[Any]]] = {}
    for t in thread_rows:
        try:
            key = _as_int(t[1])
        except (ValueError, IndexError) as exc:
            raise _corrupt("agentgit_threads", "thread_id", t, exc) from exc
        grouped.setdefault(key, []).append(t)
    return grouped
