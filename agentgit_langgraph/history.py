"""Reading a session's history: log, tags and refs, diff, tree and Mermaid.

Every method here is a read (except `tag`/`untag`, which only touch the store)
and has an `a…` async twin sharing one plan (see `_plan.py`).

* `log` walks a branch newest first and continues through the threads it was
  rolled back from, so a branch's log reads like `git log`: its own
  checkpoints, then the history it inherited. It reads only the checkpoints
  it returns (plus one lookup per thread it crosses).
* `tag`/`tags`/`untag` name checkpoints; `resolve` turns a tag, branch name,
  thread id or checkpoint id into a config for `rollback`, `log` or `diff`.
* `diff` compares the channel values of two checkpoints, on any branches.
* `tree`/`tree_data`/`mermaid` draw the branches of a session from the
  session store alone: no checkpoint is read.

Example:
    ```python
    saver.tag(history[3].config, "before-booking")
    for entry in saver.log(session_id, limit=5):
        print(entry.step, entry.preview)
    branch = saver.rollback(saver.resolve(session_id, "before-booking"), name="retry")
    print(saver.tree(session_id))
    print(saver.diff(saver.resolve(session_id, "main"), branch).render())
    ```
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.pregel import Pregel

from agentgit_langgraph import _validate as check
from agentgit_langgraph._access import session_plan, thread_plan
from agentgit_langgraph._copy import (
    LINEAGE_CHECKPOINT_KEY,
    LINEAGE_THREAD_KEY,
    parent_checkpoint_id,
)
from agentgit_langgraph._plan import Plan, call, gather, run_async, run_sync
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.configs import checkpoint_ns_of, owner_of, thread_config, thread_id_of
from agentgit_langgraph.errors import CheckpointNotFoundError, InvalidConfigError, StoreError
from agentgit_langgraph.sessions import ExternalSession, InternalSession, Tag
from agentgit_langgraph.stores.base import BaseSessionStore, now

try:  # the blob LangGraph stores for a DeltaChannel snapshot (beta API)
    from langgraph.checkpoint.serde.types import _DeltaSnapshot
except ImportError:  # pragma: no cover - depends on the LangGraph version
    _DeltaSnapshot = None  # type: ignore[assignment,misc]

__all__ = [
    "ChannelChange",
    "Diff",
    "HistoryMixin",
    "LogEntry",
    "MessagesDiff",
    "RefNotFoundError",
    "render_mermaid",
    "render_tree",
]


class RefNotFoundError(CheckpointNotFoundError):
    """No tag, branch, thread or checkpoint of the session answers to this ref."""


# -- records -----------------------------------------------------------------


@dataclass(frozen=True)
class LogEntry:
    """One checkpoint in a `log`, newest first.

    `thread_id` is the thread it was listed on: a branch lists the checkpoint
    it starts from (a copy with the same id as in its parent thread) itself.
    `config` names exactly this checkpoint, ready for `rollback`, `tag`, `diff`
    or `graph.get_state`.
    """

    thread_id: str
    checkpoint_id: str
    step: int | None
    source: str | None
    created_at: datetime | None
    """The checkpoint's own timestamp (`checkpoint["ts"]`)."""
    preview: str
    """What changed: the last message (`"ai: echo: hi (#1)"`), the input, or channel names."""
    config: RunnableConfig = field(compare=False, repr=False)
    tags: tuple[str, ...] = ()
    """Names of the session's tags on this checkpoint (on any thread holding it)."""


@dataclass(frozen=True)
class MessagesDiff:
    """Two message lists: how many leading messages they share, and the rest of each."""

    common_prefix: int
    a_only: tuple[BaseMessage, ...]
    b_only: tuple[BaseMessage, ...]


@dataclass(frozen=True)
class ChannelChange:
    """One channel that differs. `a`/`b` are None on the side that lacks it."""

    channel: str
    status: Literal["added", "removed", "changed"]
    a: Any = None
    b: Any = None
    messages: MessagesDiff | None = None
    """Set when both sides are lists of LangChain messages."""


@dataclass(frozen=True)
class Diff:
    """The difference between the channel values of two checkpoints (a -> b).

    `added` are channels only b has, `removed` only a has, `changed` both have
    with different values. `unresolved` lists `DeltaChannel` channels whose
    value neither checkpoint stores (pass `graph=` to `diff` to compare them).
    """

    a: RunnableConfig
    b: RunnableConfig
    changes: tuple[ChannelChange, ...]
    unchanged: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()

    @property
    def added(self) -> dict[str, ChannelChange]:
        return {c.channel: c for c in self.changes if c.status == "added"}

    @property
    def removed(self) -> dict[str, ChannelChange]:
        return {c.channel: c for c in self.changes if c.status == "removed"}

    @property
    def changed(self) -> dict[str, ChannelChange]:
        return {c.channel: c for c in self.changes if c.status == "changed"}

    @property
    def empty(self) -> bool:
        """No change and nothing left uncompared."""
        return not self.changes and not self.unresolved

    def render(self) -> str:
        """A readable summary, like a unified diff's: `-` is a's side, `+` is b's."""
        lines = [f"--- a {_point_label(self.a)}", f"+++ b {_point_label(self.b)}"]
        for change in self.changes:
            name = change.channel
            if change.status == "added":
                lines.append(f"+ {name} = {_short_repr(change.b)}")
            elif change.status == "removed":
                lines.append(f"- {name} = {_short_repr(change.a)}")
            elif change.messages is not None:
                m = change.messages
                lines.append(
                    f"~ {name}: {m.common_prefix} in common, "
                    f"-{len(m.a_only)} +{len(m.b_only)} messages"
                )
                lines += [f"    - {_message_text(msg)}" for msg in m.a_only]
                lines += [f"    + {_message_text(msg)}" for msg in m.b_only]
            else:
                lines.append(f"~ {name}: {_short_repr(change.a)} -> {_short_repr(change.b)}")
        for name in self.unresolved:
            lines.append(
                f"? {name}: a DeltaChannel not stored in the checkpoint; pass graph= to compare it"
            )
        if self.empty:
            lines.append("(no differences)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (messages become `{"type", "content", "id", ...}`)."""
        changed: dict[str, Any] = {}
        for c in self.changes:
            if c.status != "changed":
                continue
            if c.messages is not None:
                changed[c.channel] = {
                    "messages": {
                        "common_prefix": c.messages.common_prefix,
                        "a_only": _jsonable(list(c.messages.a_only)),
                        "b_only": _jsonable(list(c.messages.b_only)),
                    }
                }
            else:
                changed[c.channel] = {"a": _jsonable(c.a), "b": _jsonable(c.b)}
        return {
            "a": _point_dict(self.a),
            "b": _point_dict(self.b),
            "added": {c.channel: _jsonable(c.b) for c in self.changes if c.status == "added"},
            "removed": {c.channel: _jsonable(c.a) for c in self.changes if c.status == "removed"},
            "changed": changed,
            "unchanged": list(self.unchanged),
            "unresolved": list(self.unresolved),
        }


# -- small helpers -----------------------------------------------------------

_PREVIEW_WIDTH = 60
_MIN_ABBREV = 8
# LangGraph's checkpoint ids are uuid6: their first 18 characters are the full
# timestamp, which one process never repeats, so that prefix is unique in practice.
_MIN_CHECKPOINT_ABBREV = 18
_MIN_PREFIX = 4
_ELLIPSIS = "…"
_MAX_HOPS = 100_000


def _is_internal(channel: str) -> bool:
    """LangGraph's own channels: `__start__`, `__pregel_*`, `branch:to:*`, ..."""
    return channel.startswith(("__", "branch:to:"))


def _unwrap(value: Any) -> Any:
    if _DeltaSnapshot is not None and isinstance(value, _DeltaSnapshot):
        return value.value
    return value


def _is_messages(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(m, BaseMessage) for m in value)


def _clip(text: str, width: int = _PREVIEW_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + _ELLIPSIS


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif isinstance(block, Mapping) and "type" in block:
                parts.append(f"[{block['type']}]")
        return " ".join(parts)
    return str(content)


def _message_text(message: BaseMessage, width: int = _PREVIEW_WIDTH) -> str:
    text = _content_text(message.content)
    calls = getattr(message, "tool_calls", None) or []
    if calls and not text.strip():
        text = "calls " + ", ".join(str(c.get("name", "?")) for c in calls)
    return _clip(f"{message.type}: {text}", width)


def _short_repr(value: Any, width: int = _PREVIEW_WIDTH) -> str:
    if isinstance(value, BaseMessage):
        return _message_text(value, width)
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails is still worth a line
        text = f"<{type(value).__name__}>"
    return _clip(text, width)


_ROLES = {"user", "human", "ai", "assistant", "system", "tool", "developer", "function"}


def _message_like_text(value: Any) -> str | None:
    """A message as graph inputs spell it: a message, `("user", "hi")`, `{"role", "content"}`."""
    if isinstance(value, BaseMessage):
        return _message_text(value)
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and value[0] in _ROLES
        and isinstance(value[1], str | list)
    ):
        return _clip(f"{value[0]}: {_content_text(value[1])}")
    if isinstance(value, Mapping) and "content" in value and ("role" in value or "type" in value):
        role = value.get("role") or value.get("type") or "message"
        return _clip(f"{role}: {_content_text(value['content'])}")
    return None


def _value_preview(value: Any) -> str:
    """The last message of a message list (or of one inside a dict), else a short repr."""
    value = _unwrap(value)
    candidates = [value]
    if isinstance(value, Mapping):
        candidates += list(value.values())
    for candidate in candidates:
        text = _message_like_text(candidate)
        if text is None and isinstance(candidate, list | tuple) and candidate:
            text = _message_like_text(candidate[-1])
        if text is not None:
            return text
    return _short_repr(value)


def _preview(tup: CheckpointTuple) -> str:
    """What changed at this checkpoint, from the checkpoint alone."""
    checkpoint = tup.checkpoint
    values = checkpoint["channel_values"]
    updated = checkpoint.get("updated_channels")
    if updated is None:  # older checkpoints: every channel with a value
        updated = list(values)
    user = [ch for ch in updated if not _is_internal(ch)]
    for ch in user:
        value = _unwrap(values.get(ch))
        if _is_messages(value) and value:
            return _message_text(value[-1])
    if "__start__" in updated and "__start__" in values:
        return _clip("input: " + _value_preview(values["__start__"]))
    if user:
        return _clip("updated " + ", ".join(sorted(user)))
    return ""


def _parse_ts(ts: Any) -> datetime | None:
    if not isinstance(ts, str):
        return None
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        return None


def _checkpoint_config(thread_id: str, checkpoint_id: str, ns: str = "") -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def _root_config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}


def _cid(tup: CheckpointTuple) -> str:
    return str(tup.checkpoint["id"])


def _copied_from(tup: CheckpointTuple) -> str | None:
    """The thread a branch copied `tup` from, when `tup` is such a copy."""
    metadata = tup.metadata or {}
    thread = metadata.get(LINEAGE_THREAD_KEY)
    if isinstance(thread, str) and metadata.get(LINEAGE_CHECKPOINT_KEY) == _cid(tup):
        return thread
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
        config=_checkpoint_config(thread_id, _cid(tup)),
        tags=tags.get(_cid(tup), ()),
    )


def _point_label(config: RunnableConfig) -> str:
    c = config.get("configurable", {})
    ns = c.get("checkpoint_ns") or ""
    return f"{c.get('thread_id')}@{c.get('checkpoint_id')}" + (f" [{ns}]" if ns else "")


def _point_dict(config: RunnableConfig) -> dict[str, Any]:
    c = config.get("configurable", {})
    return {
        "thread_id": c.get("thread_id"),
        "checkpoint_ns": c.get("checkpoint_ns") or "",
        "checkpoint_id": c.get("checkpoint_id"),
    }


def _jsonable(value: Any) -> Any:
    value = _unwrap(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, BaseMessage):
        out: dict[str, Any] = {
            "type": value.type,
            "content": _jsonable(value.content),
            "id": value.id,
        }
        calls = getattr(value, "tool_calls", None)
        if calls:
            out["tool_calls"] = _jsonable(calls)
        return out
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        try:
            return _jsonable(model_dump(mode="json"))
        except Exception:  # not a pydantic v2 model after all
            pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    return repr(value)


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. arrays whose == is elementwise
        return repr(a) == repr(b)


def _step_of(checkpoint_id: str | None) -> int | None:
    """The superstep LangGraph encoded in a checkpoint id, if it is one of its uuid6 ids.

    LangGraph creates checkpoint ids as `uuid6(clock_seq=step)`: the 14-bit
    clock sequence holds the step (-1 for an input checkpoint). This lets the
    tree show a branch point's step without reading the checkpoint; steps past
    8191 wrap, so a larger one is not shown.
    """
    if not checkpoint_id:
        return None
    try:
        parsed = uuid.UUID(checkpoint_id)
    except ValueError:
        return None
    if parsed.version != 6:
        return None
    seq = (parsed.int >> 48) & 0x3FFF
    step = seq - 0x4000 if seq >= 0x2000 else seq
    return step if step >= -2 else None


def _looks_like_uuid(ref: str) -> bool:
    try:
        uuid.UUID(ref)
    except ValueError:
        return False
    return True


def _abbreviations(ids: Sequence[str], minimum: int = _MIN_ABBREV) -> dict[str, str]:
    """Git-style short forms: the shortest prefix (at least `minimum`) unique among `ids`."""
    unique = sorted(set(ids))
    length = minimum
    for a, b in itertools.pairwise(unique):
        common = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            common += 1
        length = max(length, common + 1)
    return {i: i if len(i) <= length else i[:length] + _ELLIPSIS for i in unique}


# -- argument checks ---------------------------------------------------------


@dataclass(frozen=True)
class _Point:
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str | None

    def config(self) -> RunnableConfig:
        configurable: dict[str, Any] = {
            "thread_id": self.thread_id,
            "checkpoint_ns": self.checkpoint_ns,
        }
        if self.checkpoint_id is not None:
            configurable["checkpoint_id"] = self.checkpoint_id
        return {"configurable": configurable}


def _point(config: Any, *, root_only: bool) -> _Point:
    """A config naming a thread and, optionally, one of its checkpoints."""
    thread_id = thread_id_of(config)
    configurable = config["configurable"]
    checkpoint_id = configurable.get("checkpoint_id")
    if checkpoint_id is not None and not isinstance(checkpoint_id, str):
        raise InvalidConfigError(f"config has a non-string 'checkpoint_id': {checkpoint_id!r}")
    if checkpoint_id:
        check.checkpoint_id(checkpoint_id)
    ns = checkpoint_ns_of(configurable)
    if root_only and ns:
        raise InvalidConfigError(
            f"history is kept for the root graph; config for thread {thread_id!r} names "
            f"subgraph namespace {ns!r}"
        )
    return _Point(thread_id, ns, checkpoint_id or None)


def _user(user_id: object, config: Any) -> str | None:
    """The owner key of `user_id`, else of the config's `configurable.user_id` (as `rollback`)."""
    owner = check.optional_owner(user_id)
    return owner if owner is not None else owner_of(config)


# -- plans -------------------------------------------------------------------


def _tuple_plan(point: _Point) -> Plan[CheckpointTuple]:
    """The checkpoint a point names (its thread's latest when it names none)."""
    tup: CheckpointTuple | None = yield from call(BaseCheckpointSaver.get_tuple, point.config())
    if tup is None:
        if point.checkpoint_id is None:
            raise CheckpointNotFoundError(f"thread {point.thread_id!r} has no checkpoint yet")
        raise CheckpointNotFoundError(
            f"thread {point.thread_id!r} has no checkpoint {point.checkpoint_id!r}"
        )
    if point.checkpoint_id is not None and _cid(tup) != point.checkpoint_id:
        raise CheckpointNotFoundError(
            f"thread {point.thread_id!r} has no checkpoint {point.checkpoint_id!r}"
        )
    return tup


# log ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Cursor:
    """Where the walk goes on: in `thread`, the checkpoint `expected` (None: the
    head), among those listed before `before` (None: from the newest)."""

    thread: InternalSession
    expected: str | None
    before: str | None


def _cycle(thread_id: str) -> StoreError:
    return StoreError(
        f"corrupt row in agentgit_threads (thread_id={thread_id!r}): "
        "its parent threads form a cycle"
    )


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
    origin = _copied_from(tup)
    if origin is not None and origin != thread.thread_id:
        return (yield from _hop_plan(origin, checkpoint_id, None, visited))
    return None


def _log_plan(target: Any, limit: Any, user_id: object) -> Plan[list[LogEntry]]:
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
        before: RunnableConfig | None = (
            None if cursor.before is None else {"configurable": {"checkpoint_id": cursor.before}}
        )
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


# tags and refs -----------------------------------------------------------


def _tag_plan(config: Any, name: Any, user_id: object) -> Plan[Tag]:
    name = check.name(name, "tag name")
    point = _point(config, root_only=False)
    thread = yield from thread_plan(point.thread_id, _user(user_id, config))
    tup = yield from _tuple_plan(point)
    tag = Tag(
        session_id=thread.session_id,
        name=name,
        thread_id=point.thread_id,
        checkpoint_id=_cid(tup),
        checkpoint_ns=point.checkpoint_ns,
        created_at=now(),
    )
    yield from call(BaseSessionStore.add_tag, tag)
    return tag


def _tags_plan(session_id: Any, user_id: object) -> Plan[list[Tag]]:
    session = yield from session_plan(session_id, user_id)
    assert session.id is not None
    tags: list[Tag] = yield from call(BaseSessionStore.list_tags, session.id)
    return tags


def _untag_plan(session_id: Any, name: Any, user_id: object) -> Plan[bool]:
    name = check.name(name, "tag name")
    session = yield from session_plan(session_id, user_id)
    assert session.id is not None
    deleted: bool = yield from call(BaseSessionStore.delete_tag, session.id, name)
    return deleted


def _head_plan(thread_id: str) -> Plan[RunnableConfig]:
    """The config of the thread's latest root checkpoint (the bare thread if it has none)."""
    head: CheckpointTuple | None = yield from call(
        BaseCheckpointSaver.get_tuple, _root_config(thread_id)
    )
    if head is None:
        return thread_config(thread_id)
    return _checkpoint_config(thread_id, _cid(head))


def _original_plan(thread_id: str, checkpoint_id: str) -> Plan[RunnableConfig | None]:
    """`checkpoint_id` in `thread_id`, or in the thread it was first copied from."""
    found: CheckpointTuple | None = yield from call(
        BaseCheckpointSaver.get_tuple, _checkpoint_config(thread_id, checkpoint_id)
    )
    if found is None or _cid(found) != checkpoint_id:
        return None
    seen = {thread_id}
    origin = _copied_from(found)
    while origin is not None and origin not in seen:
        seen.add(origin)
        earlier: CheckpointTuple | None = yield from call(
            BaseCheckpointSaver.get_tuple, _checkpoint_config(origin, checkpoint_id)
        )
        if earlier is None or _cid(earlier) != checkpoint_id:
            break  # the original thread is gone: the copy is the oldest holder
        found, origin = earlier, _copied_from(earlier)
    return _checkpoint_config(str(found.config["configurable"]["thread_id"]), checkpoint_id)


def _checkpoint_ref_plan(
    threads: Sequence[InternalSession], tags: Sequence[Tag], checkpoint_id: str
) -> Plan[RunnableConfig | None]:
    """Find a checkpoint id among the session's threads, preferring its original thread."""
    hints = [t.parent_thread_id for t in threads if t.branch_checkpoint_id == checkpoint_id]
    hints += [t.thread_id for t in tags if t.checkpoint_id == checkpoint_id]
    tried: set[str] = set()
    for hint in hints:
        if hint is None or hint in tried:
            continue
        tried.add(hint)
        found = yield from _original_plan(hint, checkpoint_id)
        if found is not None:
            return found
    if not _looks_like_uuid(checkpoint_id):
        return None
    for thread in threads:  # oldest first: a copy's thread is always younger
        if thread.thread_id in tried:
            continue
        found = yield from _original_plan(thread.thread_id, checkpoint_id)
        if found is not None:
            return found
    return None


def _resolve_plan(session_id: Any, ref: Any, user_id: object) -> Plan[RunnableConfig]:
    if not isinstance(ref, str) or not ref:
        raise InvalidConfigError(f"a ref must be a non-empty string, got {ref!r}")
    check.thread_id(ref, "ref")  # no NUL, bounded: it may be looked up as an id
    session = yield from session_plan(session_id, user_id)
    sid = session.id
    assert sid is not None
    tags: list[Tag] = yield from call(BaseSessionStore.list_tags, sid)
    for tag in tags:
        if tag.name == ref:
            return _checkpoint_config(tag.thread_id, tag.checkpoint_id, tag.checkpoint_ns)
    threads: list[InternalSession] = yield from call(BaseSessionStore.list_threads, sid)
    for thread in threads:
        if thread.name == ref:
            return (yield from _head_plan(thread.thread_id))
    for thread in threads:
        if thread.thread_id == ref:
            return (yield from _head_plan(thread.thread_id))
    if ref == "HEAD" and session.current_internal_session_id is not None:
        return (yield from _head_plan(session.current_internal_session_id))
    if ref == "main" and threads:
        root = next((t for t in threads if t.parent_thread_id is None), threads[0])
        return (yield from _head_plan(root.thread_id))
    found = yield from _checkpoint_ref_plan(threads, tags, ref)
    if found is not None:
        return found
    # A unique prefix of an id the session knows (as `tree` prints them).
    prefix = ref[:-1] if ref.endswith(_ELLIPSIS) else ref
    if len(prefix) >= _MIN_PREFIX:
        thread_ids = {t.thread_id for t in threads}
        checkpoint_ids = {t.branch_checkpoint_id for t in threads if t.branch_checkpoint_id}
        checkpoint_ids |= {t.checkpoint_id for t in tags}
        matches = sorted(i for i in thread_ids | checkpoint_ids if i.startswith(prefix))
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
            raise RefNotFoundError(
                f"ref {ref!r} is ambiguous in session {sid}: it starts {len(matches)} ids ({shown})"
            )
        if matches:
            (match,) = matches
            if match in thread_ids:
                return (yield from _head_plan(match))
            found = yield from _checkpoint_ref_plan(threads, tags, match)
            if found is not None:
                return found
    raise RefNotFoundError(f"session {sid} has no tag, branch, thread or checkpoint named {ref!r}")


# diff --------------------------------------------------------------------


def _stored_values(tup: CheckpointTuple) -> tuple[dict[str, Any], set[str]]:
    """User channel values stored in the checkpoint, and delta channels it does not store."""
    checkpoint = tup.checkpoint
    stored = checkpoint["channel_values"]
    values = {ch: _unwrap(v) for ch, v in stored.items() if not _is_internal(ch)}
    counters = (tup.metadata or {}).get("counters_since_delta_snapshot") or {}
    missing = {
        ch
        for ch in counters
        if ch in checkpoint["channel_versions"] and ch not in stored and not _is_internal(ch)
    }
    return values, missing


def _side_plan(
    config: Any, graph: Any, user_id: object
) -> Plan[tuple[RunnableConfig, dict[str, Any], set[str]]]:
    point = _point(config, root_only=False)
    user_id = _user(user_id, config)
    if user_id is not None:
        yield from thread_plan(point.thread_id, user_id)
    tup = yield from _tuple_plan(point)
    resolved = _checkpoint_config(point.thread_id, _cid(tup), point.checkpoint_ns)
    if graph is None:
        values, missing = _stored_values(tup)
        return resolved, values, missing
    snapshot = yield from call(Pregel.get_state, resolved)
    state = snapshot.values
    if not isinstance(state, Mapping):
        state = {"value": state}
    return resolved, {k: v for k, v in state.items() if not _is_internal(str(k))}, set()


def _compare(name: str, a: Any, b: Any) -> ChannelChange | None:
    if _equal(a, b):
        return None
    if _is_messages(a) and _is_messages(b):
        common = 0
        for x, y in zip(a, b, strict=False):
            if not _equal(x, y):
                break
            common += 1
        messages = MessagesDiff(common, tuple(a[common:]), tuple(b[common:]))
        return ChannelChange(name, "changed", a, b, messages)
    return ChannelChange(name, "changed", a, b)


def _diff_plan(config_a: Any, config_b: Any, graph: Any, user_id: object) -> Plan[Diff]:
    a_config, a_values, a_missing = yield from _side_plan(config_a, graph, user_id)
    b_config, b_values, b_missing = yield from _side_plan(config_b, graph, user_id)
    unresolved = a_missing | b_missing
    changes: list[ChannelChange] = []
    unchanged: list[str] = []
    for name in sorted((set(a_values) | set(b_values)) - unresolved):
        if name not in a_values:
            changes.append(ChannelChange(name, "added", None, b_values[name]))
        elif name not in b_values:
            changes.append(ChannelChange(name, "removed", a_values[name], None))
        else:
            change = _compare(name, a_values[name], b_values[name])
            if change is None:
                unchanged.append(name)
            else:
                changes.append(change)
    return Diff(a_config, b_config, tuple(changes), tuple(unchanged), tuple(sorted(unresolved)))


# tree and Mermaid --------------------------------------------------------


def _tree_data_plan(session_id: Any, user_id: object) -> Plan[dict[str, Any]]:
    session = yield from session_plan(session_id, user_id)
    assert session.id is not None
    threads: list[InternalSession] = yield from call(BaseSessionStore.list_threads, session.id)
    tags: list[Tag] = yield from call(BaseSessionStore.list_tags, session.id)
    return _build_tree(session, threads, tags)


def _build_tree(
    session: ExternalSession, threads: Sequence[InternalSession], tags: Sequence[Tag]
) -> dict[str, Any]:
    """The session's threads as nested nodes (JSON-able), from store records only."""
    thread_short = _abbreviations([t.thread_id for t in threads])
    checkpoint_short = _abbreviations(
        [t.branch_checkpoint_id for t in threads if t.branch_checkpoint_id]
        + [t.checkpoint_id for t in tags],
        _MIN_CHECKPOINT_ABBREV,
    )
    current = session.current_internal_session_id
    tags_of: dict[str, list[dict[str, Any]]] = {}
    for tag in tags:
        tags_of.setdefault(tag.thread_id, []).append(
            {
                "name": tag.name,
                "checkpoint_id": tag.checkpoint_id,
                "short_checkpoint_id": checkpoint_short[tag.checkpoint_id],
                "checkpoint_ns": tag.checkpoint_ns,
            }
        )
    parents = {t.thread_id: t.parent_thread_id for t in threads}
    for t in threads:  # every thread must lead up to a root: a cycle is corrupt data
        seen: set[str] = set()
        cursor: str | None = t.thread_id
        while cursor is not None and cursor in parents:
            if cursor in seen:
                raise _cycle(cursor)
            seen.add(cursor)
            cursor = parents[cursor]
    known = set(parents)
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for t in threads:
        nodes[t.thread_id] = {
            "thread_id": t.thread_id,
            "short_id": thread_short[t.thread_id],
            "name": t.name,
            "label": t.name or ("main" if t.parent_thread_id is None else None),
            "parent_thread_id": t.parent_thread_id,
            "short_parent_id": (
                thread_short.get(t.parent_thread_id, t.parent_thread_id)
                if t.parent_thread_id
                else None
            ),
            "branch_checkpoint_id": t.branch_checkpoint_id,
            "short_branch_checkpoint_id": (
                checkpoint_short[t.branch_checkpoint_id] if t.branch_checkpoint_id else None
            ),
            "branch_step": _step_of(t.branch_checkpoint_id),
            "checkpoint_count": t.checkpoint_count,
            "is_branch": t.is_branch,
            "is_current": t.thread_id == current,
            "created_at": t.created_at.isoformat() if t.created_at else None,
            "tags": tags_of.get(t.thread_id, []),
            "children": [],
        }
    for t in threads:  # linked once every node exists: rows may come in any order
        if t.parent_thread_id is None or t.parent_thread_id not in known:
            roots.append(nodes[t.thread_id])
        else:
            nodes[t.parent_thread_id]["children"].append(nodes[t.thread_id])
    return {
        "session_id": session.id,
        "session_name": session.session_name,
        "user_id": session.user_id,
        "current_thread_id": current,
        "branch_count": session.branch_count,
        "total_checkpoints": session.total_checkpoints,
        "roots": roots,
    }


def _node_line(node: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if node["label"]:
        parts.append(node["label"])
    parts.append(node["short_id"])
    if node["parent_thread_id"]:
        origin = f"from {node['short_parent_id']}@{node['short_branch_checkpoint_id']}"
        if node["branch_step"] is not None:
            origin += f" (step {node['branch_step']})"
        parts.append(origin)
    count = node["checkpoint_count"]
    parts.append(f"({count} checkpoint{'' if count == 1 else 's'})")
    if node["tags"]:
        parts.append("tags: " + ", ".join(t["name"] for t in node["tags"]))
    if node["is_current"]:
        parts.append("*")
    return "  ".join(parts)


def render_tree(data: Mapping[str, Any]) -> str:
    """The text tree of `tree_data` output (what `tree()` returns)."""
    lines: list[str] = []

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        children = node["children"]
        for i, child in enumerate(children):
            last = i == len(children) - 1
            lines.append(prefix + ("└── " if last else "├── ") + _node_line(child))
            walk(child, prefix + ("    " if last else "│   "))

    for root in data["roots"]:
        lines.append(_node_line(root))
        walk(root, "")
    return "\n".join(lines)


_MERMAID_KEYWORDS = {
    "gitgraph",
    "commit",
    "branch",
    "checkout",
    "switch",
    "merge",
    "cherry-pick",
    "reset",
    "id",
    "tag",
    "type",
    "order",
    "parent",
    "options",
    "end",
    "normal",
    "reverse",
    "highlight",
    "lr",
    "tb",
    "bt",
    "accdescr",
    "acctitle",
    "title",
}


def _mermaid_name(raw: str, taken: set[str]) -> str:
    """A branch name Mermaid's gitGraph parses unquoted and that no other branch has."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-") or "branch"
    if not name[0].isalpha():
        name = "b-" + name
    if name.lower() in _MERMAID_KEYWORDS:
        name += "_"
    candidate, n = name, 2
    while candidate.lower() in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def _mermaid_text(raw: str) -> str:
    return raw.replace('"', "'").replace("\n", " ")


def render_mermaid(data: Mapping[str, Any]) -> str:
    """Mermaid `gitGraph` text of `tree_data` output (what `mermaid()` returns).

    The root thread is Mermaid's `main` branch. Each thread gets one commit per
    checkpoint a branch starts from and one for its head (the current thread's
    head is highlighted and tagged `current`); branches are drawn where they
    start. Branch names are made Mermaid-safe (and unique) from the names.
    """
    taken: set[str] = set()
    lines = ["gitGraph"]
    commit_ids: set[str] = set()

    def commit(label: str, extra: str = "") -> None:
        text, n = _mermaid_text(label), 2
        while text in commit_ids:
            text, n = f"{_mermaid_text(label)} ({n})", n + 1
        commit_ids.add(text)
        lines.append(f'  commit id: "{text}"{extra}')

    def lane_of(node: Mapping[str, Any], is_main: bool) -> str:
        if is_main:
            taken.add("main")
            return "main"
        raw = node["name"] or "b-" + str(node["short_id"]).rstrip(_ELLIPSIS)
        return _mermaid_name(raw, taken)

    def emit(node: Mapping[str, Any], lane: str) -> None:
        start = node["branch_checkpoint_id"] if node["parent_thread_id"] else None
        points: dict[str, list[Mapping[str, Any]]] = {}
        for child in node["children"]:
            points.setdefault(child["branch_checkpoint_id"] or "", []).append(child)
        for point in sorted(points):
            # A point at or before the thread's own start is a copied checkpoint:
            # the lane still sits on the commit it branched from.
            if start is None or point > start:
                short = next(c["short_branch_checkpoint_id"] for c in points[point]) or point
                commit(str(short).rstrip(_ELLIPSIS))
            for child in points[point]:
                child_lane = lane_of(child, False)
                lines.append(f"  branch {child_lane}")
                emit(child, child_lane)
                lines.append(f"  checkout {lane}")
        extra = ' type: HIGHLIGHT tag: "current"' if node["is_current"] else ""
        commit(f"{lane} head", extra)

    for i, root in enumerate(data["roots"]):
        if i == 0:
            emit(root, lane_of(root, True))
        else:  # a thread whose parent is gone: drawn from the end of main
            lane = lane_of(root, False)
            lines.append(f"  branch {lane}")
            emit(root, lane)
            lines.append("  checkout main")
    if len(lines) == 1:  # no thread at all
        lines.append('  commit id: "empty"')
    return "\n".join(lines)


# -- the mixin ---------------------------------------------------------------


class HistoryMixin:
    """History methods of `AgentGitSaver` (each with an `a…` async twin)."""

    _targets: dict[type, Any]

    # log
    def log(
        self,
        config_or_session: RunnableConfig | ExternalSession | int,
        *,
        limit: int | None = None,
        user_id: UserId | None = None,
    ) -> list[LogEntry]:
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
            user_id: When given, must own the session (`SessionAccessError`).

        Example:
            ```python
            for e in saver.log(session_id, limit=10):
                print(e.step, e.source, e.preview)
            saver.rollback(saver.log(session_id)[3].config)
            ```
        """
        return run_sync(_log_plan(config_or_session, limit, user_id), self._targets)

    async def alog(
        self,
        config_or_session: RunnableConfig | ExternalSession | int,
        *,
        limit: int | None = None,
        user_id: UserId | None = None,
    ) -> list[LogEntry]:
        """Async twin of `log`."""
        return await run_async(_log_plan(config_or_session, limit, user_id), self._targets)

    # tags and refs
    def tag(self, config: RunnableConfig, name: str, *, user_id: UserId | None = None) -> Tag:
        """Name the checkpoint `config` names (its thread's head if it names none).

        Tag names are unique within a session (`NameConflictError`); the
        checkpoint must exist (`CheckpointNotFoundError`).

        Example:
            ```python
            saver.tag(graph.get_state(config).config, "before-booking")
            saver.rollback(saver.resolve(session_id, "before-booking"))
            ```
        """
        return run_sync(_tag_plan(config, name, user_id), self._targets)

    async def atag(
        self, config: RunnableConfig, name: str, *, user_id: UserId | None = None
    ) -> Tag:
        """Async twin of `tag`."""
        return await run_async(_tag_plan(config, name, user_id), self._targets)

    def tags(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> list[Tag]:
        """The session's tags, oldest first."""
        return run_sync(_tags_plan(session_id, user_id), self._targets)

    async def atags(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> list[Tag]:
        """Async twin of `tags`."""
        return await run_async(_tags_plan(session_id, user_id), self._targets)

    def untag(
        self, session_id: int | ExternalSession, name: str, *, user_id: UserId | None = None
    ) -> bool:
        """Remove a tag (the checkpoint stays); False if the session had no such tag."""
        return run_sync(_untag_plan(session_id, name, user_id), self._targets)

    async def auntag(
        self, session_id: int | ExternalSession, name: str, *, user_id: UserId | None = None
    ) -> bool:
        """Async twin of `untag`."""
        return await run_async(_untag_plan(session_id, name, user_id), self._targets)

    def resolve(
        self, session_id: int | ExternalSession, ref: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        """Turn a ref into the config of one checkpoint of the session.

        Tried in this order: a tag; a branch name; a thread id; `HEAD` (the
        current thread) and `main` (the first thread) unless a branch or tag
        has that name; a checkpoint id, found in the thread where it is
        original (the oldest thread holding it), not in a branch's copy;
        finally a unique prefix (4+ characters, a trailing `…` ignored) of a
        thread id or of a checkpoint id the session records (branch points and
        tags, as `tree` prints them). A branch or thread resolves to its head
        at the time of the call (the bare thread config if it has no
        checkpoint yet); use `switch`/`config_for` to keep working on a branch.

        Raises:
            RefNotFoundError: Nothing answers to `ref` (or a prefix is ambiguous).

        Example:
            ```python
            branch = saver.rollback(saver.resolve(session_id, "before-booking"))
            ```
        """
        return run_sync(_resolve_plan(session_id, ref, user_id), self._targets)

    async def aresolve(
        self, session_id: int | ExternalSession, ref: str, *, user_id: UserId | None = None
    ) -> RunnableConfig:
        """Async twin of `resolve`."""
        return await run_async(_resolve_plan(session_id, ref, user_id), self._targets)

    # diff
    def diff(
        self,
        config_a: RunnableConfig,
        config_b: RunnableConfig,
        *,
        graph: Any = None,
        user_id: UserId | None = None,
    ) -> Diff:
        """Compare the state at two checkpoints, on any threads: a -> b.

        Without `graph`, values come from the checkpoints themselves
        (`checkpoint["channel_values"]`, LangGraph's internal channels left
        out). A `DeltaChannel` stores its value only every few steps; at other
        checkpoints it cannot be rebuilt without its reducer, so it is listed
        in `Diff.unresolved`. Pass the compiled graph (`graph=`) to compare
        `graph.get_state(config).values` instead, which is always complete.

        A config without `checkpoint_id` stands for its thread's head.

        Example:
            ```python
            d = saver.diff(saver.resolve(sid, "main"), saver.resolve(sid, "retry"))
            print(d.render())
            d.changed["messages"].messages.common_prefix
            ```
        """
        targets = {**self._targets, Pregel: graph}
        return run_sync(_diff_plan(config_a, config_b, graph, user_id), targets)

    async def adiff(
        self,
        config_a: RunnableConfig,
        config_b: RunnableConfig,
        *,
        graph: Any = None,
        user_id: UserId | None = None,
    ) -> Diff:
        """Async twin of `diff` (uses `graph.aget_state`)."""
        targets = {**self._targets, Pregel: graph}
        return await run_async(_diff_plan(config_a, config_b, graph, user_id), targets)

    # tree and Mermaid
    def tree_data(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> dict[str, Any]:
        """The session's branches as JSON-able nested nodes (for `--json` output).

        `{"session_id", "session_name", "user_id", "current_thread_id",
        "branch_count", "total_checkpoints", "roots": [node]}`, each node
        `{"thread_id", "short_id", "name", "label", "parent_thread_id",
        "short_parent_id", "branch_checkpoint_id", "short_branch_checkpoint_id",
        "branch_step", "checkpoint_count", "is_branch", "is_current",
        "created_at", "tags", "children"}`. Read from the session store only.
        `branch_step` is decoded from LangGraph's checkpoint id (None when it
        cannot be).
        """
        return run_sync(_tree_data_plan(session_id, user_id), self._targets)

    async def atree_data(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> dict[str, Any]:
        """Async twin of `tree_data`."""
        return await run_async(_tree_data_plan(session_id, user_id), self._targets)

    def tree(self, session_id: int | ExternalSession, *, user_id: UserId | None = None) -> str:
        """A text tree of the session's branches, e.g.::

            main  7f3a9c21…  (9 checkpoints)
            ├── retry  c1d2e3f4…  from 7f3a9c21…@1f1e8d32-b109…  (step 2)  (4 checkpoints)  *
            └── 0b5e8a17…  from 7f3a9c21…@1f1e8d32-b10f…  (step 5)  (2 checkpoints)

        Each line: name (the first thread is `main` unless named), short thread
        id, where it branched (parent thread @ checkpoint, its step), how many
        checkpoints it holds (all namespaces, the copied ones included), its
        tags, `*` on the current thread. Short ids are unique prefixes that
        `resolve` accepts. Reads only the session store.
        """
        data = run_sync(_tree_data_plan(session_id, user_id), self._targets)
        return render_tree(data)

    async def atree(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> str:
        """Async twin of `tree`."""
        return render_tree(await run_async(_tree_data_plan(session_id, user_id), self._targets))

    def mermaid(self, session_id: int | ExternalSession, *, user_id: UserId | None = None) -> str:
        """Mermaid `gitGraph` text of the session's branches.

        One commit per branch point and per head (one per checkpoint would be
        too many); reads only the session store. It renders on GitHub inside a
        ```` ```mermaid ```` block, and in Jupyter with
        `IPython.display.Markdown(f"```mermaid\\n{text}\\n```")` (JupyterLab 4.1+).
        """
        data = run_sync(_tree_data_plan(session_id, user_id), self._targets)
        return render_mermaid(data)

    async def amermaid(
        self, session_id: int | ExternalSession, *, user_id: UserId | None = None
    ) -> str:
        """Async twin of `mermaid`."""
        return render_mermaid(await run_async(_tree_data_plan(session_id, user_id), self._targets))
