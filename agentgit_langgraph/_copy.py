"""Copying a checkpoint into a new thread: the storage half of a rollback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, PendingWrite, copy_checkpoint

from agentgit_langgraph._plan import Call, Plan

__all__ = ["LINEAGE_CHECKPOINT_KEY", "LINEAGE_THREAD_KEY", "copy_into_thread"]

LINEAGE_THREAD_KEY = "agentgit_parent_thread_id"
LINEAGE_CHECKPOINT_KEY = "agentgit_parent_checkpoint_id"


def _writes_by_task(writes: Sequence[PendingWrite]) -> dict[str, list[tuple[str, Any]]]:
    # One put_writes per task, in stored order: a saver numbers a task's writes
    # by position, so splitting them would collide on (task_id, idx).
    by_task: dict[str, list[tuple[str, Any]]] = {}
    for task_id, channel, value in writes:
        by_task.setdefault(task_id, []).append((channel, value))
    return by_task


def copy_into_thread(source: CheckpointTuple, target_thread_id: str) -> Plan[RunnableConfig]:
    """Put `source` (same checkpoint id, no parent) and its pending writes into a thread.

    The copy's metadata keeps LangGraph's keys (`source`, `step`, ...) so the
    branch resumes exactly as the original would, and adds the lineage.
    """
    configurable = source.config["configurable"]
    metadata: dict[str, Any] = {
        **source.metadata,
        LINEAGE_THREAD_KEY: str(configurable["thread_id"]),
        LINEAGE_CHECKPOINT_KEY: source.checkpoint["id"],
    }
    target: RunnableConfig = {
        "configurable": {
            "thread_id": target_thread_id,
            "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        }
    }
    checkpoint = copy_checkpoint(source.checkpoint)
    # Every channel counts as new: savers that store values per version
    # (InMemorySaver, PostgresSaver) then write them all into the new thread.
    versions = dict(checkpoint["channel_versions"])
    saved: RunnableConfig = yield Call("saver", "put", (target, checkpoint, metadata, versions))
    for task_id, writes in _writes_by_task(source.pending_writes or []).items():
        yield Call("saver", "put_writes", (saved, writes, task_id))
    return saved
