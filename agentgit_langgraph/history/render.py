"""Short text for values and checkpoints, and the one conversion to JSON values.

Everything that prints a value (log previews, `Diff.render`) or writes it as
JSON (`Diff.to_dict`, the CLI's `--json`) goes through here, so a message or a
`DeltaChannel` snapshot reads the same everywhere.

Example:
    ```python
    _value_preview({"messages": [("user", "hi")]})   # 'user: hi'
    json.dumps(to_json(saver.log(session_id)))       # records, messages, datetimes
    ```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple

from agentgit_langgraph.sessions import ExternalSession, as_utc

try:  # the blob LangGraph stores for a DeltaChannel snapshot (beta API)
    from langgraph.checkpoint.serde.types import _DeltaSnapshot
except ImportError:  # pragma: no cover - depends on the LangGraph version
    _DeltaSnapshot = None  # type: ignore[assignment,misc]

__all__ = ["render_log", "session_json", "to_json"]

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agentgit_langgraph.history.records import LogEntry

_PREVIEW_WIDTH = 60
_ELLIPSIS = "…"
_ROLES = {"user", "human", "ai", "assistant", "system", "tool", "developer", "function"}


def _is_internal(channel: str) -> bool:
    """LangGraph's own channels: `__start__`, `__pregel_*`, `branch:to:*`, ..."""
    return channel.startswith(("__", "branch:to:"))


def _unwrap(value: Any) -> Any:
    if _DeltaSnapshot is not None and isinstance(value, _DeltaSnapshot):
        return value.value
    return value


def _is_messages(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(m, BaseMessage) for m in value)


def _clip(text: str, width: int | None = _PREVIEW_WIDTH) -> str:
    """`text` on one line, cut to `width` with `…`; None: the whole text, as it is."""
    if width is None:
        return text
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


def _message_text(message: BaseMessage, width: int | None = _PREVIEW_WIDTH) -> str:
    text = _content_text(message.content)
    calls = getattr(message, "tool_calls", None) or []
    if calls and not text.strip():
        text = "calls " + ", ".join(str(c.get("name", "?")) for c in calls)
    return _clip(f"{message.type}: {text}", width)


def _short_repr(value: Any, width: int | None = _PREVIEW_WIDTH) -> str:
    if isinstance(value, BaseMessage):
        return _message_text(value, width)
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails is still worth a line
        text = f"<{type(value).__name__}>"
    return _clip(text, width)


def _message_like_text(value: Any, width: int | None = _PREVIEW_WIDTH) -> str | None:
    """A message as graph inputs spell it: a message, `("user", "hi")`, `{"role", "content"}`."""
    if isinstance(value, BaseMessage):
        return _message_text(value, width)
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and value[0] in _ROLES
        and isinstance(value[1], str | list)
    ):
        return _clip(f"{value[0]}: {_content_text(value[1])}", width)
    if isinstance(value, Mapping) and "content" in value and ("role" in value or "type" in value):
        role = value.get("role") or value.get("type") or "message"
        return _clip(f"{role}: {_content_text(value['content'])}", width)
    return None


def _value_preview(value: Any, width: int | None = _PREVIEW_WIDTH) -> str:
    """The last message of a message list (or of one inside a dict), else a short repr."""
    value = _unwrap(value)
    candidates = [value]
    if isinstance(value, Mapping):
        candidates += list(value.values())
    for candidate in candidates:
        text = _message_like_text(candidate, width)
        if text is None and isinstance(candidate, list | tuple) and candidate:
            text = _message_like_text(candidate[-1], width)
        if text is not None:
            return text
    return _short_repr(value, width)


def _preview(tup: CheckpointTuple, width: int | None = _PREVIEW_WIDTH) -> str:
    """What changed at this checkpoint, from the checkpoint alone (None: not cut)."""
    checkpoint = tup.checkpoint
    values = checkpoint["channel_values"]
    updated = checkpoint.get("updated_channels")
    if updated is None:  # older checkpoints: every channel with a value
        updated = list(values)
    user = [ch for ch in updated if not _is_internal(ch)]
    for ch in user:
        value = _unwrap(values.get(ch))
        if _is_messages(value) and value:
            return _message_text(value[-1], width)
    if "__start__" in updated and "__start__" in values:
        return _clip("input: " + _value_preview(values["__start__"], width), width)
    if user:
        return _clip("updated " + ", ".join(sorted(user)), width)
    return ""


_STEP_WIDTH = 3
_SOURCE_WIDTH = 5
_THREAD_WIDTH = 8


def render_log(entries: Sequence[LogEntry]) -> str:
    """A `log` as text, one checkpoint a line: step, source, thread (8 characters), preview.

    Columns line up across the entries; tags follow the preview in brackets.

    Example:
        ```python
        print(render_log(saver.log(session_id, limit=6)))
        #   7  loop   5efea7d6  ai: echo: A hostel is fine (#3)
        ```
    """
    step_width = max([_STEP_WIDTH, *(len(str(e.step)) for e in entries if e.step is not None)])
    source_width = max([_SOURCE_WIDTH, *(len(e.source or "-") for e in entries)])
    lines = []
    for e in entries:
        step = "-" if e.step is None else str(e.step)
        line = (
            f"{step:>{step_width}}  {e.source or '-':<{source_width}}  "
            f"{e.thread_id[:_THREAD_WIDTH]:<{_THREAD_WIDTH}}  {e.preview}"
        )
        if e.tags:
            line += f"  [{', '.join(e.tags)}]"
        lines.append(line.rstrip())
    return "\n".join(lines)


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


def session_json(session: ExternalSession) -> dict[str, Any]:
    """A session in the words every JSON answer uses: sessions, threads, branches.

    `ExternalSession.to_dict()` keeps agentgit's keys (`id`,
    `internal_session_ids`, `current_internal_session_id`) for code written
    against agentgit; the CLI's `--json` and the HTTP API answer with this.

    Example:
        ```python
        session_json(saver.get_session(1))["current_thread_id"]   # 'chat-1'
        ```
    """
    return {
        "session_id": session.id,
        "session_name": session.session_name,
        "user_id": session.user_id,
        "owner": session.owner,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "is_active": session.is_active,
        "thread_ids": list(session.internal_session_ids),
        "current_thread_id": session.current_internal_session_id,
        "thread_count": len(session.internal_session_ids),
        "branch_count": session.branch_count,
        "total_checkpoints": session.total_checkpoints,
        "metadata": session.metadata,
    }


def to_json(value: Any) -> Any:
    """`value` as JSON values (dicts, lists, strings, numbers, booleans, None).

    Records use their own `to_dict()` when they have one (`Diff`,
    `SessionTree`), an `ExternalSession` `session_json` (the package's words;
    its own `to_dict()` keeps agentgit's), other dataclasses go field by
    field, LangChain messages become `{"type", "content", "id"[,
    "tool_calls"]}`, pydantic models their `model_dump(mode="json")`,
    datetimes ISO 8601 in UTC with the offset (a naive one is local time), a
    `DeltaChannel` snapshot its value; anything else its `repr`, so any
    channel value can be shown.

    Example:
        ```python
        json.dumps(to_json(saver.tags(session_id)))
        to_json(HumanMessage("hi", id="m1"))  # {'type': 'human', 'content': 'hi', 'id': 'm1'}
        ```
    """
    value = _unwrap(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, BaseMessage):
        out: dict[str, Any] = {
            "type": value.type,
            "content": to_json(value.content),
            "id": value.id,
        }
        calls = getattr(value, "tool_calls", None)
        if calls:
            out["tool_calls"] = to_json(calls)
        return out
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, ExternalSession):
        return to_json(session_json(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # A record's `to_dict()` is its documented JSON form (agentgit's keys).
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            return to_json(to_dict())
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        try:
            return to_json(model_dump(mode="json"))
        except Exception:  # not a pydantic v2 model after all
            pass
    return repr(value)
