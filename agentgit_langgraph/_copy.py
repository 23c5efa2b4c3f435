"""Copying the state at one checkpoint into a new thread: the storage half of a rollback.

What is copied, and why (the cost depends on the graph's shape, never on the
length of the history):

* the checkpoint itself, same id. If it is its thread's latest checkpoint, all
  its pending writes too: resuming the branch then hands finished tasks'
  writes back and keeps interrupts, as resuming the original would. If the
  thread has moved past it, only the writes that stand for the state *at*
  it (interrupts, and `update_state`/`Command` updates): the branch re-runs
  its tasks, as LangGraph's own replay from that checkpoint does;
* for each `DeltaChannel` whose value is not stored in that checkpoint, its
  ancestors back to the nearest one that stores a snapshot of it, with their
  writes: the channel is rebuilt from exactly those, so the copy does not
  depend on the original thread (at most `snapshot_frequency` updates back);
* if it is the thread's latest checkpoint, for each subgraph task of it that
  has started, the subgraph's latest checkpoint in its namespace (recursively,
  with the same rules): an interrupted subgraph resumes where it stopped.
  Under a checkpoint the thread has moved past, subgraphs start over, as in
  LangGraph's replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, PendingWrite, copy_checkpoint

from agentgit_langgraph._plan import Call, Plan

__all__ = ["LINEAGE_CHECKPOINT_KEY", "LINEAGE_THREAD_KEY", "copy_into_thread"]

LINEAGE_THREAD_KEY = "agentgit_parent_thread_id"
LINEAGE_CHECKPOINT_KEY = "agentgit_parent_checkpoint_id"

# LangGraph's own spellings (langgraph._internal._constants), kept here so a
# private import cannot break us.
_NS_SEP = "|"
_NS_END = ":"
_NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"
_BRANCH_PREFIX = "branch:to:"
_TASKS_CHANNEL = "__pregel_tasks"
_INTERRUPT = "__interrupt__"
_RESUME = "__resume__"


def _writes_at(tup: CheckpointTuple, *, is_head: bool) -> list[PendingWrite]:
    """The pending writes that belong to the state at `tup` (see module doc)."""
    writes = tup.pending_writes or []
    if is_head:
        return list(writes)
    return [w for w in writes if w[1] == _INTERRUPT or (w[0] == _NULL_TASK_ID and w[1] != _RESUME)]


def _writes_by_task(writes: Sequence[PendingWrite]) -> dict[str, list[tuple[str, Any]]]:
    # One put_writes per task, in stored order: a saver numbers a task's writes
    # by position, so splitting them would collide on (task_id, idx).
    by_task: dict[str, list[tuple[str, Any]]] = {}
    for task_id, channel, value in writes:
        by_task.setdefault(task_id, []).append((channel, value))
    return by_task


def _delta_channels_missing(tup: CheckpointTuple) -> set[str]:
    """Delta channels with a value at `tup` that `tup` itself does not store."""
    counters = tup.metadata.get("counters_since_delta_snapshot") or {}
    checkpoint = tup.checkpoint
    return {
        ch
        for ch in counters
        if ch in checkpoint["channel_versions"] and ch not in checkpoint["channel_values"]
    }


def _node_names(tup: CheckpointTuple) -> set[str]:
    """Nodes that may run a task at `tup`: those seen, triggered, or sent to."""
    checkpoint = tup.checkpoint
    names = {n for n in checkpoint["versions_seen"] if not n.startswith("__")}
    names.update(
        ch[len(_BRANCH_PREFIX) :]
        for ch in checkpoint["channel_versions"]
        if ch.startswith(_BRANCH_PREFIX)
    )
    sends = checkpoint["channel_values"].get(_TASKS_CHANNEL)
    if isinstance(sends, Iterable) and not isinstance(sends, str | bytes):
        names.update(str(s.node) for s in sends if hasattr(s, "node"))
    return names


def _child_namespaces(tup: CheckpointTuple, writes: Sequence[PendingWrite]) -> list[str]:
    """Namespaces where the tasks of `tup` with `writes` keep subgraph state."""
    ns = tup.config["configurable"].get("checkpoint_ns", "")
    task_ids = {w[0] for w in writes if w[0] != _NULL_TASK_ID}
    if not task_ids:
        return []
    prefix = f"{ns}{_NS_SEP}" if ns else ""
    return sorted(
        f"{prefix}{node}{_NS_END}{task_id}" for node in _node_names(tup) for task_id in task_ids
    )


def _chain(source: CheckpointTuple) -> Plan[list[CheckpointTuple]]:
    """`source` and the ancestors its delta channels need, newest first."""
    chain = [source]
    missing = _delta_channels_missing(source)
    cursor = source
    while missing and cursor.parent_config is not None:
        parent: CheckpointTuple | None = yield Call("saver", "get_tuple", (cursor.parent_config,))
        if parent is None:
            break
        chain.append(parent)
        missing -= set(parent.checkpoint["channel_values"])
        cursor = parent
    return chain


def _put_copy(
    tup: CheckpointTuple,
    target_thread_id: str,
    parent_id: str | None,
    writes: Sequence[PendingWrite],
) -> Plan[RunnableConfig]:
    configurable = tup.config["configurable"]
    metadata: dict[str, Any] = {
        **tup.metadata,
        LINEAGE_THREAD_KEY: str(configurable["thread_id"]),
        LINEAGE_CHECKPOINT_KEY: tup.checkpoint["id"],
    }
    target: dict[str, Any] = {
        "thread_id": target_thread_id,
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
    }
    if parent_id is not None:
        target["checkpoint_id"] = parent_id
    checkpoint = copy_checkpoint(tup.checkpoint)
    # Every channel counts as new: savers that store values per version
    # (InMemorySaver, PostgresSaver) then write them all into the new thread.
    versions = dict(checkpoint["channel_versions"])
    saved: RunnableConfig = yield Call(
        "saver", "put", ({"configurable": target}, checkpoint, metadata, versions)
    )
    for task_id, task_writes in _writes_by_task(writes).items():
        yield Call("saver", "put_writes", (saved, task_writes, task_id))
    return saved


def copy_into_thread(
    source: CheckpointTuple, target_thread_id: str, *, is_head: bool | None = None
) -> Plan[int]:
    """Copy the state at `source` into `target_thread_id`; return checkpoints written.

    Ids are kept, so task ids (derived from the checkpoint id) and therefore
    pending writes and subgraph namespaces line up on the new thread. The
    copy's metadata keeps LangGraph's keys (`source`, `step`, ...) so the
    branch resumes as the original would, and adds the lineage.
    """
    configurable = source.config["configurable"]
    thread_id = configurable["thread_id"]
    ns = configurable.get("checkpoint_ns", "")
    if is_head is None:
        latest: CheckpointTuple | None = yield Call(
            "saver", "get_tuple", ({"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}},)
        )
        is_head = latest is not None and latest.checkpoint["id"] == source.checkpoint["id"]
    source_writes = _writes_at(source, is_head=is_head)

    chain = yield from _chain(source)
    parent_id: str | None = None
    for tup in reversed(chain):
        # Ancestors keep every write: delta channels are rebuilt from them.
        writes = source_writes if tup is source else (tup.pending_writes or [])
        yield from _put_copy(tup, target_thread_id, parent_id, writes)
        parent_id = tup.checkpoint["id"]
    written = len(chain)

    # A subgraph under a checkpoint the thread has moved past starts over, as in
    # LangGraph's replay (it loads the child's state from *before* the parent
    # checkpoint, and there is none): copying its later state would resume it.
    child_namespaces = _child_namespaces(source, source_writes) if is_head else []
    for child_ns in child_namespaces:
        child: CheckpointTuple | None = yield Call(
            "saver",
            "get_tuple",
            ({"configurable": {"thread_id": thread_id, "checkpoint_ns": child_ns}},),
        )
        parents = (child.metadata.get("parents") or {}) if child is not None else {}
        if child is not None and parents.get(ns) == source.checkpoint["id"]:
            written += yield from copy_into_thread(child, target_thread_id, is_head=True)
    return written
