"""Finding the tool calls a rollback goes back past (`executed_tool_calls`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage, convert_to_messages
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple, PendingWrite

from agentgit_langgraph._langgraph import NULL_TASK_ID
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph.configs import checkpoint_config
from agentgit_langgraph.reversal.handlers import ExecutedToolCall

__all__ = ["checkpoint_messages", "executed_tool_calls", "fork_tool_calls", "state_messages"]

_MAX_DEPTH = 4


def _messages_in(value: Any, depth: int = 0) -> Iterator[BaseMessage]:
    """Langchain messages held by a channel value or a write, in order."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, BaseMessage):
        yield value
    elif isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], str):
            return  # a ("role", "text") message: never a tool call or result
        for item in value:
            yield from _messages_in(item, depth + 1)
    elif isinstance(value, dict):
        if ("role" in value or "type" in value) and "content" in value:
            try:
                converted = convert_to_messages([value])
            except Exception:  # not a message after all
                return
            yield from converted
    elif type(value).__name__ in ("Overwrite", "_DeltaSnapshot") and hasattr(value, "value"):
        yield from _messages_in(value.value, depth + 1)


def _write_messages(writes: Iterable[PendingWrite], *, tasks_only: bool) -> list[BaseMessage]:
    found: list[BaseMessage] = []
    for task_id, _channel, value in writes:
        if tasks_only and task_id == NULL_TASK_ID:
            continue
        found.extend(_messages_in(value))
    return found


def state_messages(tup: CheckpointTuple) -> Plan[list[BaseMessage]]:
    """Messages in the state at `tup` (and, for a `DeltaChannel`, its history too)."""
    checkpoint = tup.checkpoint
    found: list[BaseMessage] = []
    for value in checkpoint["channel_values"].values():
        found.extend(_messages_in(value))
    counters = tup.metadata.get("counters_since_delta_snapshot") or {}
    missing = sorted(
        ch
        for ch in counters
        if ch in checkpoint["channel_versions"] and ch not in checkpoint["channel_values"]
    )
    if missing:
        history: Mapping[str, Any] = yield from call(
            BaseCheckpointSaver.get_delta_channel_history, config=tup.config, channels=missing
        )
        for entry in history.values():
            found.extend(_messages_in(entry.get("seed")))
            found.extend(_messages_in([w[2] for w in entry.get("writes") or ()]))
    # Updates waiting at the checkpoint (`update_state`, `Command(update=...)`)
    # are part of its state: `get_state` shows them.
    found.extend(
        m for w in tup.pending_writes or () if w[0] == NULL_TASK_ID for m in _messages_in(w[2])
    )
    return found


def checkpoint_messages(tup: CheckpointTuple, *, writes: bool = True) -> list[BaseMessage]:
    """Messages in the checkpoint's stored values and (`writes`) its tasks' waiting writes.

    A task's writes made it into the next checkpoint, or were a run that
    stopped there (an error, an interrupt): what they hold happened either way.
    """
    found: list[BaseMessage] = []
    for value in tup.checkpoint["channel_values"].values():
        found.extend(_messages_in(value))
    if writes:
        found.extend(_write_messages(tup.pending_writes or (), tasks_only=True))
    return found


def _tool_calls_by_id(
    messages: Iterable[BaseMessage],
) -> dict[str, tuple[str, dict[str, Any], int]]:
    """tool_call_id -> (tool name, args, position in its AIMessage's tool_calls)."""
    calls: dict[str, tuple[str, dict[str, Any], int]] = {}
    for m in messages:
        if isinstance(m, AIMessage):
            for i, tc in enumerate(m.tool_calls):
                if tc.get("id"):
                    calls.setdefault(str(tc["id"]), (tc["name"], dict(tc.get("args") or {}), i))
    return calls


def executed_tool_calls(source: CheckpointTuple) -> Plan[list[ExecutedToolCall]]:
    """Tool calls executed on `source`'s thread after it, up to the head; oldest first."""
    configurable = source.config["configurable"]
    source_id = source.checkpoint["id"]
    head_config = checkpoint_config(
        configurable["thread_id"], configurable.get("checkpoint_ns", "")
    )
    head: CheckpointTuple | None = yield from call(BaseCheckpointSaver.get_tuple, head_config)
    if head is None or head.checkpoint["id"] == source_id:
        return []

    # Walk from the head back to `source`, newest first. The writes stored at
    # a checkpoint are those of the tasks that ran from it.
    path: list[CheckpointTuple] = []
    cursor: CheckpointTuple | None = head
    while cursor is not None and cursor.checkpoint["id"] != source_id:
        path.append(cursor)
        parent = cursor.parent_config
        cursor = (
            None if parent is None else (yield from call(BaseCheckpointSaver.get_tuple, parent))
        )
    steps: list[list[BaseMessage]] = []
    if cursor is not None:  # `source` is an ancestor of the head: its tasks ran too
        steps.append(_write_messages(source.pending_writes or (), tasks_only=True))
    for tup in reversed(path):
        steps.append(_write_messages(tup.pending_writes or (), tasks_only=False))

    before = yield from state_messages(source)
    # The head's state too: a run with `durability="exit"` stores no writes
    # between its checkpoints, so only the state says which tools ran.
    at_head = yield from state_messages(head)
    answered = {m.tool_call_id for m in before if isinstance(m, ToolMessage)}
    asked = _tool_calls_by_id([*before, *(m for step in steps for m in step), *at_head])

    executed: list[ExecutedToolCall] = []
    seen: set[str] = set(answered)

    def take(messages: Iterable[BaseMessage]) -> list[tuple[int, ExecutedToolCall]]:
        found: list[tuple[int, ExecutedToolCall]] = []
        for m in messages:
            if not isinstance(m, ToolMessage) or m.tool_call_id in seen:
                continue
            seen.add(m.tool_call_id)
            if m.status == "error":
                continue
            name, args, position = asked.get(m.tool_call_id, (m.name or "", {}, 0))
            call = ExecutedToolCall(
                tool_call_id=m.tool_call_id,
                tool_name=name,
                args=args,
                result=m.content,
                artifact=m.artifact,
            )
            found.append((position, call))
        return found

    for step in steps:
        # Within one step, calls run in parallel: order them as the model asked.
        found = sorted(take(step), key=lambda pair: pair[0])
        executed.extend(call for _, call in found)
    executed.extend(call for _, call in take(at_head))  # in the order of the messages
    return executed


def fork_tool_calls(source: CheckpointTuple, done: Iterable[str]) -> Plan[list[ExecutedToolCall]]:
    """Tool calls executed in `source`'s thread that neither its state holds nor `done` names.

    After `executed_tool_calls(source)` (the line from `source` to the head),
    what is left ran on forks LangGraph's time travel made inside the thread.
    One `list()` of the thread's root namespace; oldest checkpoint first.
    """
    configurable = source.config["configurable"]
    tuples: list[CheckpointTuple] = yield from gather(
        BaseCheckpointSaver.list,
        checkpoint_config(configurable["thread_id"], configurable.get("checkpoint_ns", "")),
    )
    # What waits at `source` itself is copied with it (a branch keeps it), and
    # what ran from it on the head's line is in `done`.
    before = yield from state_messages(source)
    before.extend(_write_messages(source.pending_writes or (), tasks_only=True))
    seen = {m.tool_call_id for m in before if isinstance(m, ToolMessage)} | set(done)
    found: list[ExecutedToolCall] = []
    for tup in reversed(tuples):
        messages = checkpoint_messages(tup)
        asked = _tool_calls_by_id(messages)
        for m in messages:
            if not isinstance(m, ToolMessage) or m.tool_call_id in seen or m.status == "error":
                continue
            seen.add(m.tool_call_id)
            name, args, _ = asked.get(m.tool_call_id, (m.name or "", {}, 0))
            found.append(
                ExecutedToolCall(
                    tool_call_id=m.tool_call_id,
                    tool_name=name,
                    args=args,
                    result=m.content,
                    artifact=m.artifact,
                )
            )
    return found
