"""The session-store contract: what every store provides, sync and async.

A store keeps `ExternalSession` and `InternalSession` records. Counters change
only through single SQL statements (`checkpoint_count = checkpoint_count + n`),
so concurrent writers in any number of threads or processes never lose an
update. `ExternalSession.total_checkpoints` is not stored: it is the sum of the
session's thread counts, read in the same query, so it can never drift from them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agentgit_langgraph._validate import UserId
from agentgit_langgraph.sessions import (
    Claimant,
    ExternalSession,
    InternalSession,
    Reversal,
    Tag,
    utc_now,
)

__all__ = ["BaseSessionStore", "CheckpointLinks", "PendingBranch", "now"]

CheckpointLinks = dict[str, list[tuple[str, str | None]]]
"""By thread id: `(checkpoint_id, parent_checkpoint_id)` of each root-namespace checkpoint."""


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

    @property
    def counts_in_saver(self) -> bool:
        """Whether a thread's count is read from the saver's own table, so that a
        save is counted by being stored and `record_checkpoints` writes nothing
        (it only reads whether a session holds the thread). False: the store
        keeps counters of its own, and every save must be recorded."""
        return False

    @property
    def ensures_in_one_statement(self) -> bool:
        """Whether `ensure_session_for_thread` is one statement, which changes
        nothing where a session holds the thread already: then a new thread's
        first put calls it without reading the thread's owner first."""
        return False

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

    @abstractmethod
    def set_thread_status(self, thread_id: str, status: str, reason: str | None = None) -> bool:
        """Record a thread's status (`active`/`kept`/`abandoned`) and reason; False if unknown."""

    @abstractmethod
    async def aset_thread_status(
        self, thread_id: str, status: str, reason: str | None = None
    ) -> bool: ...

    # -- tags and deletion ---------------------------------------------------
    @abstractmethod
    def add_tag(self, tag: Tag) -> None:
        """Name a checkpoint; `NameConflictError` if the session has that tag."""

    @abstractmethod
    async def aadd_tag(self, tag: Tag) -> None: ...

    def checkpoint_links(self, session_id: int) -> CheckpointLinks | None:
        """The session's threads' root-namespace checkpoints as `(id, parent id)`, newest
        first, by thread: in-thread forks drawn without loading checkpoints. None (the
        default) where the store cannot read the saver's tables: callers list instead."""
        return None

    async def acheckpoint_links(self, session_id: int) -> CheckpointLinks | None:
        return None

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
