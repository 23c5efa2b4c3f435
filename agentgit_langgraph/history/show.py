"""One checkpoint as a person wants to read it (`show`), and as the HTTP API serves it.

`show(config_or_ref)` reads the checkpoint, its thread's parent links (one
`list()` of the root namespace, for its children) and the session's tags,
and returns a `CheckpointView`: values (messages rendered), the nodes that
run next, the tasks and interrupts waiting at it, metadata, pending writes,
parent, children and tags. `to_dict()` is the JSON form the HTTP API's
`GET .../checkpoints/{ref}` serves; `render()` the text `agentgit show` prints.

Example:
    ```python
    view = saver.show(saver.resolve(sid, "before-booking"))
    print(view.render()); view.to_dict()["next"]
    ```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph._access import thread_plan
from agentgit_langgraph._copy import parent_checkpoint_id
from agentgit_langgraph._langgraph import INTERRUPT, NULL_TASK_ID
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.errors import InvalidConfigError
from agentgit_langgraph.history.diff import _stored_values
from agentgit_langgraph.history.points import _cid, _point, _root_config, _tuple_plan, _user
from agentgit_langgraph.history.refs import resolve_plan
from agentgit_langgraph.history.render import _is_messages, _message_text, _short_repr, to_json
from agentgit_langgraph.sessions import Tag
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = ["CheckpointView", "next_nodes", "show_plan"]

_SHOW_WIDTH = 200


def next_nodes(checkpoint: Mapping[str, Any]) -> list[str]:
    """The nodes the checkpoint triggers, as LangGraph finds them without the graph.

    A node runs next when its trigger channel (`branch:to:NODE`, or `__start__`
    for the input) holds a value of a version newer than the node last saw.
    """
    seen = checkpoint.get("versions_seen") or {}
    versions = checkpoint.get("channel_versions") or {}
    found = []
    for channel in checkpoint.get("channel_values") or {}:
        if channel == "__start__":
            node = channel
        elif channel.startswith("branch:to:"):
            node = channel.removeprefix("branch:to:")
        else:
            continue
        last = (seen.get(node) or {}).get(channel)
        if channel in versions and (last is None or versions[channel] > last):
            found.append(node)
    return sorted(found)


@dataclass(frozen=True)
class CheckpointView:
    """One checkpoint, readable: what `show` returns.

    `values`: the user channels it stores (`unresolved`: delta channels it
    does not store, see `diff(graph=...)`); `next`: nodes that run from it;
    `tasks`: the tasks whose writes wait at it, `{"id", "channels"}`;
    `interrupts`: the values of interrupts raised at it; `pending_writes`:
    `(task_id, channel, value)`; `children`: checkpoints of the same thread
    that follow it (two or more: LangGraph's time travel forked there);
    `tags`: the session's tags on it.
    """

    config: RunnableConfig
    thread_id: str
    checkpoint_id: str
    created_at: str | None
    values: dict[str, Any]
    unresolved: tuple[str, ...]
    next: tuple[str, ...]
    tasks: tuple[dict[str, Any], ...]
    interrupts: tuple[Any, ...]
    metadata: dict[str, Any]
    pending_writes: tuple[tuple[str, str, Any], ...]
    parent_checkpoint_id: str | None
    parent_config: RunnableConfig | None
    children: tuple[str, ...]
    tags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (`GET /agentgit/sessions/{sid}/checkpoints/{ref}`): messages as
        `{"type", "content", "id"}`, every value through `to_json`."""
        return {
            "config": to_json(self.config),
            "thread_id": self.thread_id,
            "checkpoint_id": self.checkpoint_id,
            "values": to_json(self.values),
            "unresolved": list(self.unresolved),
            "next": list(self.next),
            "tasks": to_json(self.tasks),
            "interrupts": to_json(self.interrupts),
            "metadata": to_json(self.metadata),
            "created_at": self.created_at,
            "pending_writes": to_json(self.pending_writes),
            "parent_checkpoint_id": self.parent_checkpoint_id,
            "parent_config": to_json(self.parent_config),
            "children": list(self.children),
            "tags": list(self.tags),
        }

    def render(self) -> str:
        """The text `agentgit show` prints: a header, then each value, messages one a line.

        Example:
            ```python
            print(saver.show(config).render())
            ```
        """
        step = self.metadata.get("step")
        source = self.metadata.get("source")
        lines = [
            f"checkpoint {self.checkpoint_id}",
            f"thread     {self.thread_id}",
            f"created    {self.created_at or '-'}",
            f"step       {'-' if step is None else step}  ({source or '-'})",
            f"parent     {self.parent_checkpoint_id or '-'}",
            f"children   {', '.join(self.children) or '-'}",
            f"next       {', '.join(self.next) or '-'}",
        ]
        if self.tags:
            lines.append(f"tags       {', '.join(self.tags)}")
        for task in self.tasks:
            lines.append(f"task       {task['id']}: {', '.join(task['channels'])}")
        for interrupt in self.interrupts:
            lines.append(f"interrupt  {_short_repr(interrupt, _SHOW_WIDTH)}")
        if self.unresolved:
            lines.append(f"unresolved {', '.join(self.unresolved)} (not stored here)")
        for channel, value in self.values.items():
            if _is_messages(value):
                lines.append(f"{channel}:")
                lines.extend("  " + _message_text(m, _SHOW_WIDTH) for m in value)
            else:
                lines.append(f"{channel}: {_short_repr(value, _SHOW_WIDTH)}")
        return "\n".join(lines)


def _interrupt_values(value: Any) -> list[Any]:
    items = value if isinstance(value, list | tuple) else [value]
    return [getattr(i, "value", i) for i in items]


def _view(tup: CheckpointTuple, children: list[str], tags: list[str]) -> CheckpointView:
    values, unresolved = _stored_values(tup)
    writes = tuple((str(t), str(ch), v) for t, ch, v in tup.pending_writes or ())
    tasks: dict[str, list[str]] = {}
    interrupts: list[Any] = []
    for task_id, channel, value in writes:
        if channel == INTERRUPT:
            interrupts.extend(_interrupt_values(value))
        elif task_id != NULL_TASK_ID:
            tasks.setdefault(task_id, [])
            if channel not in tasks[task_id]:
                tasks[task_id].append(channel)
    ts = tup.checkpoint.get("ts")
    return CheckpointView(
        config=tup.config,
        thread_id=str(tup.config["configurable"]["thread_id"]),
        checkpoint_id=_cid(tup),
        created_at=ts if isinstance(ts, str) else None,
        values={k: list(v) if _is_messages(v) else v for k, v in values.items()},
        unresolved=tuple(sorted(unresolved)),
        next=tuple(next_nodes(tup.checkpoint)),
        tasks=tuple({"id": t, "channels": chs} for t, chs in tasks.items()),
        interrupts=tuple(interrupts),
        metadata=dict(tup.metadata or {}),
        pending_writes=writes,
        parent_checkpoint_id=parent_checkpoint_id(tup),
        parent_config=tup.parent_config,
        children=tuple(children),
        tags=tuple(tags),
    )


def show_plan(
    config_or_ref: RunnableConfig | str,
    *,
    session_id: int | None = None,
    user_id: UserId | None = None,
) -> Plan[CheckpointView]:
    """One checkpoint, readable: values, next, tasks, interrupts, metadata, writes, links.

    Args:
        config_or_ref: A config (its `checkpoint_id`, else the thread's
            head), or a ref of the session `session_id` names (a tag, a
            branch name, `HEAD`, a short id: see `resolve`).
        session_id: The session a ref is resolved in.
        user_id: When given, must own the session (`SessionAccessError`).

    Example:
        ```python
        print(saver.show("before-booking", session_id=sid).render())
        saver.show(graph.get_state(config).config).children   # forks made there
        ```
    """
    target: Any = config_or_ref
    if isinstance(target, str):
        if session_id is None:
            raise InvalidConfigError(f"show({target!r}) needs session_id= to resolve a ref")
        target = yield from resolve_plan(session_id, target, user_id=user_id)
    elif not isinstance(target, Mapping):
        raise InvalidConfigError(
            f"show takes a config or a ref, got {type(config_or_ref).__name__}"
        )
    point = _point(target, root_only=True)
    thread = yield from thread_plan(point.thread_id, _user(user_id, target))
    tup = yield from _tuple_plan(point)
    cid = _cid(tup)
    listed: list[CheckpointTuple] = yield from gather(
        BaseCheckpointSaver.list, _root_config(thread.thread_id)
    )
    children = sorted(_cid(t) for t in listed if parent_checkpoint_id(t) == cid)
    tag_list: list[Tag] = yield from call(BaseSessionStore.list_tags, thread.session_id)
    tags = [t.name for t in tag_list if t.checkpoint_id == cid and not t.checkpoint_ns]
    return _view(tup, children, tags)
