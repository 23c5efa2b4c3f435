"""Session records: pure data, no I/O.

`ExternalSession` is the conversation a user sees; it stays API-compatible with
agentgit's class of the same name. `InternalSession` is one LangGraph thread of
that conversation: the first thread, or a branch opened by a rollback.

Example:
    >>> s = ExternalSession(user_id=1, session_name="trip")
    >>> s.add_internal_session("thread-a")
    >>> s.add_internal_session("thread-b", is_branch=True)
    >>> s.get_branch_info()["total_branches"]
    1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "FAILED",
    "NO_HANDLER",
    "PENDING",
    "REVERSED",
    "Claimant",
    "ExternalSession",
    "InternalSession",
    "Reversal",
    "Tag",
    "as_utc",
    "utc_now",
]


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC: every time the package records."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """`value` as an aware datetime in UTC.

    An aware value is converted. A naive one is taken as the *local* time of
    this process (what agentgit, and this package before it kept UTC, wrote:
    `datetime.now()`), then converted; so an agentgit-era `created_at` keeps
    meaning the instant it was written, as long as it is read in the writer's
    time zone.
    """
    return value.astimezone(UTC)


@dataclass
class ExternalSession:
    """A user-visible conversation holding one or more LangGraph threads.

    Fields, defaults, methods and `to_dict` keys match agentgit's
    `agentgit.sessions.external_session.ExternalSession`, so code written
    against it keeps working. Per-branch detail lives in `InternalSession`.
    """

    id: int | None = None
    user_id: int = 0
    session_name: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    is_active: bool = True
    internal_session_ids: list[str] = field(default_factory=list)
    current_internal_session_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    branch_count: int = 0
    total_checkpoints: int = 0

    @property
    def owner(self) -> str:
        """Who owns the session: the owner key every ownership check compares.

        `str(user_id)` for an int owner (agentgit's case); for a string owner
        (`user_id="alice@example.com"` in a config) that string, while
        `user_id` shows 0. Not a dataclass field, so `to_dict()`/`from_dict()`
        keep agentgit's keys (a round trip keeps `user_id`, not a string owner).
        """
        owner = self.__dict__.get("_owner")
        return owner if isinstance(owner, str) else str(self.user_id)

    @owner.setter
    def owner(self, value: str) -> None:
        self.__dict__["_owner"] = value

    def add_internal_session(self, session_id: str, is_branch: bool = False) -> None:
        """Add a new thread to the session and make it current.

        A branch (`is_branch=True`) also increments `branch_count`. An id that is
        already listed changes nothing, as in agentgit.
        """
        if session_id not in self.internal_session_ids:
            self.internal_session_ids.append(session_id)
            self.current_internal_session_id = session_id
            if is_branch:
                self.branch_count += 1
            self.updated_at = utc_now()

    def set_current_internal_session(self, session_id: str) -> bool:
        """Make a listed thread current; return False (and change nothing) otherwise."""
        if session_id in self.internal_session_ids:
            self.current_internal_session_id = session_id
            self.updated_at = utc_now()
            return True
        return False

    def get_branch_info(self) -> dict[str, Any]:
        """Branch statistics, with agentgit's keys."""
        return {
            "total_branches": self.branch_count,
            "total_sessions": len(self.internal_session_ids),
            "current_session": self.current_internal_session_id,
            "is_branched": self.branch_count > 0,
        }

    def update_metadata(self, metadata: dict[str, Any]) -> None:
        """Merge `metadata` into the session's metadata."""
        self.metadata.update(metadata)
        self.updated_at = utc_now()

    def increment_checkpoint_count(self) -> None:
        """Add one to `total_checkpoints` (in memory; stores count in SQL)."""
        self.total_checkpoints += 1
        self.updated_at = utc_now()

    def get_session_age(self) -> float | None:
        """Age in hours, or None when `created_at` is unset.

        Computed between aware UTC instants, so it is the same in every time
        zone. A naive `created_at` (set by agentgit-era code as
        `datetime.now()`, or loaded from such a dict) is taken as local time of
        this process, as agentgit meant it (see `as_utc`).
        """
        if self.created_at:
            return (utc_now() - as_utc(self.created_at)).total_seconds() / 3600
        return None

    def to_dict(self) -> dict[str, Any]:
        """The agentgit dictionary form, with ISO-8601 datetimes.

        Aware datetimes (all the package produces) carry their offset, e.g.
        `2025-01-15T10:30:00.500000+00:00`; a naive one set by the caller is
        written as it is, as agentgit does.
        """
        return {
            "id": self.id,
            "user_id": self.user_id,
            "session_name": self.session_name,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "is_active": self.is_active,
            "internal_session_ids": self.internal_session_ids,
            "current_internal_session_id": self.current_internal_session_id,
            "metadata": self.metadata,
            "branch_count": self.branch_count,
            "total_checkpoints": self.total_checkpoints,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExternalSession:
        """Build a session from `to_dict` output; missing keys take the defaults.

        Accepts ISO-8601 datetimes with an offset (converted to UTC) and the
        naive ones agentgit wrote, taken as local time of this process and
        converted to UTC (see `as_utc`): the session always holds aware UTC
        datetimes.
        """
        session = cls()
        session.id = data.get("id")
        session.user_id = data.get("user_id", 0)
        session.session_name = data.get("session_name", "")
        session.is_active = data.get("is_active", True)
        session.internal_session_ids = data.get("internal_session_ids", [])
        session.current_internal_session_id = data.get("current_internal_session_id")
        session.metadata = data.get("metadata", {})
        session.branch_count = data.get("branch_count", 0)
        session.total_checkpoints = data.get("total_checkpoints", 0)
        if data.get("created_at"):
            session.created_at = _parse_time(data["created_at"])
        if data.get("updated_at"):
            session.updated_at = _parse_time(data["updated_at"])
        return session


def _parse_time(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return as_utc(parsed)


@dataclass
class InternalSession:
    """One LangGraph thread of an external session.

    `parent_thread_id` and `branch_checkpoint_id` say where a branch split off;
    both are None for the session's first thread.
    """

    thread_id: str
    session_id: int
    parent_thread_id: str | None = None
    branch_checkpoint_id: str | None = None
    name: str | None = None
    created_at: datetime | None = None
    checkpoint_count: int = 0
    is_branch: bool = False
    is_current: bool = False
    """Whether it is its session's current thread (filled in by `branches()`)."""
    status: str = "active"
    """What became of it: `active` (being tried), `kept` or `abandoned` (`set_status`)."""
    status_reason: str | None = None
    """Why it has its status, when `set_status` was told."""
    intent: str | None = None
    """Why it was opened (`rollback(..., intent="try the train")`)."""


@dataclass(frozen=True)
class Tag:
    """A name for one checkpoint, unique within its session."""

    session_id: int
    name: str
    thread_id: str
    checkpoint_id: str
    checkpoint_ns: str = ""
    created_at: datetime | None = None


# Statuses of a tool-call reversal.
PENDING = "pending"
"""Claimed; its handler is running (or the process died while it ran)."""
REVERSED = "reversed"
"""The handler ran and returned: final, never reversed again."""
NO_HANDLER = "no_handler"
"""No handler is registered for the tool."""
FAILED = "failed"
"""The handler raised; `error` says what."""


@dataclass(frozen=True)
class Claimant:
    """Who holds (or last held) the claim on a tool call's reversal.

    One per rollback attempt: `token` is unique to the attempt; `host`, `pid`
    and `pid_start` (the process's start time, in clock ticks after boot, on
    Linux) name the process; `node` says where a pid means the same process
    (boot id and pid namespace on Linux): a claim from the same node can be
    checked against the process table, one from elsewhere only against its
    lease. `claimed_at` and `expires_at` (timezone-aware UTC) are set when the
    claim is taken; `lease_seconds` is how long after that a claim from another
    node counts as abandoned.
    """

    token: str
    host: str
    pid: int
    node: str = ""
    pid_start: str | None = None
    lease_seconds: float = 900.0
    claimed_at: datetime | None = None
    expires_at: datetime | None = None

    def describe(self) -> str:
        """`host pid N`, for messages."""
        return f"{self.host} pid {self.pid}"


@dataclass(frozen=True)
class Reversal:
    """What was done to undo one tool call when a rollback went past it."""

    session_id: int
    tool_call_id: str
    tool_name: str
    args: dict[str, Any]
    thread_id: str
    checkpoint_id: str | None = None
    status: str = PENDING
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    claimant: Claimant | None = None
    """The rollback that claimed the call last (None before claims were recorded)."""
