"""What history reads return: log entries and diffs (frozen dataclasses).

The tree's records (`TreeNode`, `SessionTree`) live with the tree in `tree.py`.

Example:
    ```python
    entry = saver.log(session_id, limit=1)[0]
    print(entry.step, entry.preview, entry.tags)
    d = saver.diff(entry.config, saver.resolve(session_id, "retry"))
    print(d.render()); json.dumps(d.to_dict())
    ```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

from agentgit_langgraph.history.render import (
    _message_text,
    _point_dict,
    _point_label,
    _short_repr,
    render_log,
    to_json,
)

__all__ = ["ChannelChange", "Diff", "LogEntry", "MessagesDiff"]


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
    text: str = ""
    """`preview` in full: the whole last message (`preview` is cut to one short line)."""

    def __str__(self) -> str:
        """The entry as `render_log` prints it (one line)."""
        return render_log([self])


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
                        "a_only": to_json(list(c.messages.a_only)),
                        "b_only": to_json(list(c.messages.b_only)),
                    }
                }
            else:
                changed[c.channel] = {"a": to_json(c.a), "b": to_json(c.b)}
        return {
            "a": _point_dict(self.a),
            "b": _point_dict(self.b),
            "added": {c.channel: to_json(c.b) for c in self.changes if c.status == "added"},
            "removed": {c.channel: to_json(c.a) for c in self.changes if c.status == "removed"},
            "changed": changed,
            "unchanged": list(self.unchanged),
            "unresolved": list(self.unresolved),
        }
