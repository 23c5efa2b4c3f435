"""Operations on tool-call reversals and the claims that make each one run once."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from agentgit_langgraph import _validate as check
from agentgit_langgraph._claims import stamp, utc_now
from agentgit_langgraph.errors import (
    StoreError,
)
from agentgit_langgraph.sessions import (
    FAILED,
    PENDING,
    REVERSED,
    Claimant,
    Reversal,
)
from agentgit_langgraph.stores.base import now
from agentgit_langgraph.stores.dialect import Dialect
from agentgit_langgraph.stores.rows import (
    CLAIM_COLUMNS,
    REVERSAL_COLUMNS,
    claimant_from_row,
    reversal_from_row,
)
from agentgit_langgraph.stores.statements import Op, Statement

DELETE_ORPHAN_CLAIMS = (
    "DELETE FROM agentgit_reversal_claims WHERE session_id = ? AND NOT EXISTS "
    "(SELECT 1 FROM agentgit_reversals r WHERE r.session_id = agentgit_reversal_claims.session_id "
    "AND r.tool_call_id = agentgit_reversal_claims.tool_call_id)"
)

_CLAIM_PARAMS = "token, host, node, pid, pid_start, claimed_at, expires_at"


def _claim_values(d: Dialect, claimant: Claimant) -> tuple[Any, ...]:
    """`claimant` stamped now (aware UTC), in `_CLAIM_PARAMS` order."""
    c = stamp(claimant, utc_now())
    assert c.claimed_at is not None and c.expires_at is not None
    return (
        c.token,
        c.host,
        c.node,
        c.pid,
        c.pid_start,
        d.ts(c.claimed_at),
        d.ts(c.expires_at),
    )


def _put_claim(d: Dialect, rec: Reversal, claimant: Claimant) -> Op[None]:
    """Record `claimant` as the holder of `rec`'s claim (replacing the previous one)."""
    yield Statement(
        d.sql(
            "INSERT INTO agentgit_reversal_claims (session_id, tool_call_id, "
            f"{_CLAIM_PARAMS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (session_id, tool_call_id) DO UPDATE SET token = excluded.token, "
            "host = excluded.host, node = excluded.node, pid = excluded.pid, "
            "pid_start = excluded.pid_start, claimed_at = excluded.claimed_at, "
            "expires_at = excluded.expires_at"
        ),
        (rec.session_id, rec.tool_call_id, *_claim_values(d, claimant)),
    )


def _get_claim(d: Dialect, session_id: int, tool_call_id: str) -> Op[Claimant | None]:
    res = yield Statement(
        d.sql(
            f"SELECT {CLAIM_COLUMNS} FROM agentgit_reversal_claims "
            "WHERE session_id = ? AND tool_call_id = ?"
        ),
        (session_id, tool_call_id),
    )
    return claimant_from_row(res.rows[0]) if res.rows else None


def _lock_reversal(d: Dialect, session_id: int, tool_call_id: str) -> Op[Reversal | None]:
    res = yield Statement(
        d.sql(
            f"SELECT {REVERSAL_COLUMNS} FROM agentgit_reversals "
            "WHERE session_id = ? AND tool_call_id = ?" + d.for_update
        ),
        (session_id, tool_call_id),
    )
    return reversal_from_row(res.rows[0]) if res.rows else None


def claim_reversal(
    d: Dialect, rec: Reversal, claimant: Claimant, retry_failed: bool = True
) -> Op[Reversal | None]:
    """Claim a call for `claimant` before its handler runs: one transaction.

    Returns None when claimed (a new call; or one `no_handler`, or `failed`
    with `retry_failed`: taken over); else the existing record, unchanged,
    whose status decides: `reversed` is never reversed again, and `pending`
    comes with its `claimant`, for the caller to wait for or, if it is dead,
    to `take_over_reversal`. The row is locked (PostgreSQL `FOR UPDATE`;
    SQLite runs writers one at a time), so two claimants never both win.
    """
    check.reversal(rec)
    stamp_ = d.ts(now())
    res = yield Statement(
        d.sql(
            "INSERT INTO agentgit_reversals (session_id, tool_call_id, tool_name, args, "
            "thread_id, checkpoint_id, status, error, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?) "
            "ON CONFLICT (session_id, tool_call_id) DO NOTHING"
        ),
        (
            rec.session_id,
            rec.tool_call_id,
            rec.tool_name,
            json.dumps(rec.args, default=str),
            rec.thread_id,
            rec.checkpoint_id,
            PENDING,
            stamp_,
            stamp_,
        ),
    )
    if res.rowcount > 0:
        yield from _put_claim(d, rec, claimant)
        return None
    found = yield from _lock_reversal(d, rec.session_id, rec.tool_call_id)
    if found is None:  # deleted between the two statements (SQLite cannot; PG READ COMMITTED)
        raise StoreError(f"reversal of {rec.tool_call_id!r} vanished while being claimed")
    holder = yield from _get_claim(d, rec.session_id, rec.tool_call_id)
    found = dataclasses.replace(found, claimant=holder)
    if found.status in (REVERSED, PENDING) or (found.status == FAILED and not retry_failed):
        return found
    # `failed` or `no_handler`: a retry, ours now.
    yield Statement(
        d.sql(
            "UPDATE agentgit_reversals SET status = ?, error = NULL, thread_id = ?, "
            "checkpoint_id = ?, updated_at = ? WHERE session_id = ? AND tool_call_id = ?"
        ),
        (PENDING, rec.thread_id, rec.checkpoint_id, stamp_, rec.session_id, rec.tool_call_id),
    )
    yield from _put_claim(d, rec, claimant)
    return None


def take_over_reversal(
    d: Dialect, rec: Reversal, stale_token: str | None, claimant: Claimant
) -> Op[bool]:
    """Compare-and-set a dead claimant's `pending` claim to `claimant`."""
    found = yield from _lock_reversal(d, rec.session_id, rec.tool_call_id)
    if found is None or found.status != PENDING:
        return False
    if stale_token is None:
        res = yield Statement(
            d.sql(
                "INSERT INTO agentgit_reversal_claims (session_id, tool_call_id, "
                f"{_CLAIM_PARAMS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (session_id, tool_call_id) DO NOTHING"
            ),
            (rec.session_id, rec.tool_call_id, *_claim_values(d, claimant)),
        )
    else:
        res = yield Statement(
            d.sql(
                "UPDATE agentgit_reversal_claims SET token = ?, host = ?, node = ?, pid = ?, "
                "pid_start = ?, claimed_at = ?, expires_at = ? "
                "WHERE session_id = ? AND tool_call_id = ? AND token = ?"
            ),
            (*_claim_values(d, claimant), rec.session_id, rec.tool_call_id, stale_token),
        )
    if res.rowcount == 0:
        return False
    yield Statement(
        d.sql(
            "UPDATE agentgit_reversals SET thread_id = ?, checkpoint_id = ?, updated_at = ? "
            "WHERE session_id = ? AND tool_call_id = ?"
        ),
        (rec.thread_id, rec.checkpoint_id, d.ts(now()), rec.session_id, rec.tool_call_id),
    )
    return True


def finish_reversal(
    d: Dialect,
    session_id: int,
    tool_call_id: str,
    status: str,
    error: str | None,
    claim_token: str | None = None,
) -> Op[bool]:
    session_id, tool_call_id = check.reversal_key(session_id, tool_call_id)
    sql = (
        "UPDATE agentgit_reversals SET status = ?, error = ?, updated_at = ? "
        "WHERE session_id = ? AND tool_call_id = ?"
    )
    params: tuple[Any, ...] = (status, error, d.ts(now()), session_id, tool_call_id)
    if claim_token is not None:
        sql += (
            " AND status = ? AND EXISTS (SELECT 1 FROM agentgit_reversal_claims c "
            "WHERE c.session_id = agentgit_reversals.session_id "
            "AND c.tool_call_id = agentgit_reversals.tool_call_id AND c.token = ?)"
        )
        params += (PENDING, claim_token)
    res = yield Statement(d.sql(sql), params)
    return res.rowcount > 0


def list_reversals(
    d: Dialect, *, session_id: int | None, thread_id: str | None
) -> Op[list[Reversal]]:
    session_id, thread_id = check.reversal_filter(session_id, thread_id)
    where, params = (
        ("session_id = ?", (session_id,)) if thread_id is None else ("thread_id = ?", (thread_id,))
    )
    res = yield Statement(
        d.sql(
            f"SELECT {REVERSAL_COLUMNS} FROM agentgit_reversals WHERE {where} "
            "ORDER BY created_at, tool_call_id"
        ),
        params,
    )
    claims = yield Statement(
        d.sql(
            f"SELECT c.session_id, c.tool_call_id, {_qualified('c', CLAIM_COLUMNS)} "
            "FROM agentgit_reversal_claims c JOIN agentgit_reversals r "
            "ON r.session_id = c.session_id AND r.tool_call_id = c.tool_call_id "
            f"WHERE r.{where}"
        ),
        params,
    )
    holders = {(int(row[0]), str(row[1])): claimant_from_row(row[2:]) for row in claims.rows}
    return [
        dataclasses.replace(rec, claimant=holders.get((rec.session_id, rec.tool_call_id)))
        for rec in map(reversal_from_row, res.rows)
    ]


def _qualified(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))
