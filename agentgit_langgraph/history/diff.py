"""Comparing the channel values of two checkpoints, on any threads.

Written once as a plan for `diff` and `adiff`: each side is read from the
checkpoint itself, or from `graph.get_state` when a graph is given (the only
way to rebuild a `DeltaChannel` value the checkpoint does not store).

Example:
    ```python
    d = run_sync(diff_plan(config_a, config_b), saver.plan_targets)
    d.changed["messages"].messages.common_prefix
    ```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.pregel import Pregel

from agentgit_langgraph._access import thread_plan
from agentgit_langgraph._plan import Plan, call_on
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.history.points import (
    _checkpoint_config,
    _cid,
    _point,
    _tuple_plan,
    _user,
)
from agentgit_langgraph.history.records import ChannelChange, Diff, MessagesDiff
from agentgit_langgraph.history.render import _is_internal, _is_messages, _unwrap

__all__ = ["diff_plan"]


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. arrays whose == is elementwise
        return repr(a) == repr(b)


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
    snapshot = yield from call_on(graph, Pregel.get_state, resolved)
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


def diff_plan(
    config_a: RunnableConfig,
    config_b: RunnableConfig,
    *,
    graph: Any = None,
    user_id: UserId | None = None,
) -> Plan[Diff]:
    """Compare the state at two checkpoints, on any threads: a -> b.

    Without `graph`, values come from the checkpoints themselves
    (`checkpoint["channel_values"]`, LangGraph's internal channels left
    out). A `DeltaChannel` stores its value only every few steps; at other
    checkpoints it cannot be rebuilt without its reducer, so it is listed
    in `Diff.unresolved`. Pass the compiled graph (`graph=`) to compare
    `graph.get_state(config).values` instead (`graph.aget_state` from
    `adiff`), which is always complete.

    A config without `checkpoint_id` stands for its thread's head.

    Example:
        ```python
        d = saver.diff(saver.resolve(sid, "main"), saver.resolve(sid, "retry"))
        print(d.render())
        d.changed["messages"].messages.common_prefix
        ```
    """
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
