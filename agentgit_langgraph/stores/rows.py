"""Row decoding every SQL store shares: the columns each read selects, and
how a row of them becomes a record (`StoreError` naming a corrupt row)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agentgit_langgraph.errors import StoreError
from agentgit_langgraph.sessions import (
    Claimant,
    ExternalSession,
    InternalSession,
    Reversal,
    Tag,
    as_utc,
)
from agentgit_langgraph.stores.base import PendingBranch

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
    "created_at, checkpoint_count, is_branch, updated_at, status, status_reason, intent"
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
            status=_as_text(row[9]),
            status_reason=_as_optional_text(row[10]),
            intent=_as_optional_text(row[11]),
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
