"""The log walk: a branch's checkpoints newest first, back through its parents.

`log_plan` lists the branch's thread down to the checkpoint it was rolled
back to, then goes on in the thread that checkpoint was copied from, and so on,
reading only the checkpoints it returns (plus one lookup per thread it
crosses). Written once as a plan for `log` and `alog`.

Example:
    ```python
    entries = run_sync(log_plan(session_id, limit=5), saver.plan_targets)
    ```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph import _validate as check
from agentgit_langgraph._access import session_plan, thread_plan
from agentgit_langgraph._copy import parent_checkpoint_id
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.configs import before_config
from agentgit_langgraph.errors import InvalidConfigError, RefNotFoundError
from agentgit_langgraph.history.forks import thread_lines
from agentgit_langgraph.history.points import (
    _checkpoint_config,
    _cid,
    _copied_from,
    _cycle,
    _Point,
    _point,
    _root_config,
    _tuple_plan,
    _user,
)
from agentgit_langgraph.history.records import LogEntry
from agentgit_langgraph.history.render import _preview
from agentgit_langgraph.history.stats import scan_thread_plan
from agentgit_langgraph.sessions import ExternalSession, InternalSession, Tag
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = ["log_plan"]

_MAX_HOPS = 100_000


def _parse_ts(ts: Any) -> datetime | None:
    if not isinstance(ts, str):
        return None
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        return None


def _entry(tup: CheckpointTuple, tags: Mapping[str, tuple[str, ...]]) -> LogEntry:
    configurable = tup.config["configurable"]
    metadata: Mapping[str, Any] = tup.metadata or {}
    step = metadata.get("step")
    source = metadata.get("source")
    thread_id = str(configurable["thread_id"])
    return LogEntry(
        thread_id=thread_id,
        checkpoint_id=_cid(tup),
        step=step if isinstance(step, int) and not isinstance(step, bool) else None,
        source=source if isinstance(source, str) else None,
        created_at=_parse_ts(tup.checkpoint.get("ts")),
        preview=_preview(tup),
        text=_preview(tup, None),
        config=_checkpoint_config(thread_id, _cid(tup)),
        tags=tags.get(_cid(tup), ()),
    )


@dataclass(frozen=True)
class _Cursor:
    """Where the walk goes on: in `thread`, the checkpoint `expected` (None: the
    head), among those listed before `before` (None: from the newest)."""

    thread: InternalSession
    expected: str | None
    before: str | None


def _hop_plan(
    thread_id: str, checkpoint_id: str, parent_id: str | None, visited: set[str]
) -> Plan[_Cursor | None]:
    """Continue in `thread_id` (a thread `checkpoint_id` was copied from) after it.

    Threads that were themselves branched at that same checkpoint are skipped:
    they hold it only as a copy. The parent of the checkpoint is known when the
    copy kept one (delta ancestors carry their ids), else read once.
    """
    if len(visited) > _MAX_HOPS:  # pragma: no cover - a cycle is caught below
        raise _cycle(thread_id)
    thread: InternalSession | None = yield from call(BaseSessionStore.get_thread, thread_id)
    seen: set[str] = set()
    while (
        thread is not None
        and thread.branch_checkpoint_id == checkpoint_id
        and thread.parent_thread_id is not None
    ):
        if thread.thread_id in seen:
            raise _cycle(thread.thread_id)
        seen.add(thread.thread_id)
        thread = yield from call(BaseSessionStore.get_thread, thread.parent_thread_id)
    if thread is None:  # the thread it came from is gone: the history ends here
        return None
    # History only goes back in time: coming back to a thread walked already
    # means the threads' parents form a cycle (corrupt rows).
    if thread.thread_id in visited:
        raise _cycle(thread.thread_id)
    visited.add(thread.thread_id)
    if parent_id is not None:
        return _Cursor(thread, parent_id, checkpoint_id)
    found: CheckpointTuple | None = yield from call(
        BaseCheckpointSaver.get_tuple, _checkpoint_config(thread.thread_id, checkpoint_id)
    )
    if found is None or _cid(found) != checkpoint_id:
        return None
    return (yield from _after_plan(thread, found, visited))


def _after_plan(
    thread: InternalSession, tup: CheckpointTuple, visited: set[str]
) -> Plan[_Cursor | None]:
    """Where the history goes on after `tup` (listed in `thread`), or None at its root."""
    checkpoint_id = _cid(tup)
    parent_id = parent_checkpoint_id(tup)
    if thread.branch_checkpoint_id == checkpoint_id and thread.parent_thread_id is not None:
        return (yield from _hop_plan(thread.parent_thread_id, checkpoint_id, parent_id, visited))
    if parent_id is not None:
        return _Cursor(thread, parent_id, checkpoint_id)
    origin = _copied_from(thread, checkpoint_id)
    if origin is not None and origin != thread.thread_id:
        return (yield from _hop_plan(origin, checkpoint_id, None, visited))
    return None


def _fork_head_plan(thread: InternalSession, fork: object) -> Plan[str]:
    """The newest checkpoint of the thread's line whose SDK branch id is `fork`."""
    if not isinstance(fork, str):
        raise InvalidConfigError(f"a fork is a branch id string, got {fork!r}")
    scan = yield from scan_thread_plan(thread)
    for line in thread_lines(scan.tuples):
        if line.fork_id == fork:
            return line.head_checkpoint_id
    raise RefNotFoundError(f"thread {thread.thread_id!r} has no fork {fork!r}")


def log_plan(
    config_or_session: RunnableConfig | ExternalSession | int,
    *,
    limit: int | None = None,
    fork: str | None = None,
    user_id: UserId | None = None,
) -> Plan[list[LogEntry]]:
    """The checkpoints of a branch, newest first, back through the threads it came from.

    Walks the branch's thread (root namespace) down to the checkpoint it
    was rolled back to, lists that one (a copy: same id as in the parent),
    then goes on in the parent thread from the checkpoint before it, and
    so on to the session's first checkpoint. Follows each checkpoint's
    parent, so forks made inside one thread are skipped.

    Args:
        config_or_session: A config (its thread's head, or from
            `configurable.checkpoint_id`), a session id or an
            `ExternalSession` (its current thread's head).
        limit: At most this many entries; the walk stops, and reads no
            further, once it has them.
        fork: Follow this line of the thread instead of its head: a fork
            made inside the thread by LangGraph's time travel, by the SDK's
            branch id (`tree_data`'s `fork_id`). Reads the thread once.
        user_id: When given, must own the session (`SessionAccessError`).

    Example:
        ```python
        for e in saver.log(session_id, limit=10):
            print(e.step, e.source, e.preview)
        saver.rollback(saver.log(session_id)[3].config)
        saver.log({"configurable": {"thread_id": "chat-1"}}, fork=node["fork_id"])
        ```
    """
    target: Any = config_or_session
    limit = check.limit(limit)
    start: str | None = None
    if isinstance(target, ExternalSession) or (
        isinstance(target, int) and not isinstance(target, bool)
    ):
        session = yield from session_plan(target, user_id)
        assert session.current_internal_session_id is not None
        thread = yield from thread_plan(session.current_internal_session_id, None)
    elif isinstance(target, Mapping):
        point = _point(target, root_only=True)
        thread = yield from thread_plan(point.thread_id, _user(user_id, target))
        start = point.checkpoint_id
    else:
        raise InvalidConfigError(
            f"log takes a config, a session id or an ExternalSession, got {type(target).__name__}"
        )
    if fork is not None:
        if start is not None:
            raise InvalidConfigError("log takes a checkpoint_id or a fork, not both")
        start = yield from _fork_head_plan(thread, fork)
    entries: list[LogEntry] = []
    if limit == 0:
        return entries
    tag_list: list[Tag] = yield from call(BaseSessionStore.list_tags, thread.session_id)
    tags: dict[str, tuple[str, ...]] = {}
    for tag in tag_list:
        if not tag.checkpoint_ns:
            tags[tag.checkpoint_id] = (*tags.get(tag.checkpoint_id, ()), tag.name)
    visited = {thread.thread_id}
    cursor: _Cursor | None
    if start is not None:
        first = yield from _tuple_plan(_Point(thread.thread_id, "", start))
        entries.append(_entry(first, tags))
        if limit is not None and len(entries) >= limit:
            return entries
        cursor = yield from _after_plan(thread, first, visited)
    else:
        cursor = _Cursor(thread, None, None)

    while cursor is not None:
        remaining = None if limit is None else limit - len(entries)
        before = None if cursor.before is None else before_config(cursor.before)
        page: list[CheckpointTuple] = yield from gather(
            BaseCheckpointSaver.list,
            _root_config(cursor.thread.thread_id),
            before=before,
            limit=remaining,
        )
        current = cursor
        moved = False
        for tup in page:
            if current.expected is not None and _cid(tup) != current.expected:
                continue  # another fork of the same thread
            entries.append(_entry(tup, tags))
            if limit is not None and len(entries) >= limit:
                return entries
            nxt = yield from _after_plan(current.thread, tup, visited)
            if nxt is None:
                return entries
            if nxt.thread.thread_id != current.thread.thread_id:
                cursor, moved = nxt, True
                break
            current = nxt
        if moved:
            continue
        if remaining is None or len(page) < remaining or not page:
            return entries  # the thread has nothing more on this line
        cursor = _Cursor(current.thread, current.expected, _cid(page[-1]))
    return entries
