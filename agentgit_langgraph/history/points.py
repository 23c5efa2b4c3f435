"""Checkpoint configs and lookups shared by the log, ref and diff plans.

A "point" is a thread, a namespace and optionally one checkpoint id: what a
config given to `log`, `tag` or `diff` names, checked once here.

Example:
    ```python
    point = _point({"configurable": {"thread_id": "t1"}}, root_only=True)
    tup = yield from _tuple_plan(point)     # inside a plan: the thread's head
    ```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph import _validate as check
from agentgit_langgraph._plan import Plan, call
from agentgit_langgraph.configs import checkpoint_config, checkpoint_ns_of, owner_of, thread_id_of
from agentgit_langgraph.errors import CheckpointNotFoundError, InvalidConfigError, StoreError
from agentgit_langgraph.sessions import InternalSession

__all__: list[str] = []


def _checkpoint_config(thread_id: str, checkpoint_id: str, ns: str = "") -> RunnableConfig:
    return checkpoint_config(thread_id, ns, checkpoint_id)


def _root_config(thread_id: str) -> RunnableConfig:
    return checkpoint_config(thread_id)


def _cid(tup: CheckpointTuple) -> str:
    return str(tup.checkpoint["id"])


def _copied_from(thread: InternalSession | None, checkpoint_id: str) -> str | None:
    """The thread a branch copied `checkpoint_id` from, when it is a copy in `thread`.

    A rollback keeps checkpoint ids, and copies the branch point and (for
    delta channels) its ancestors, all older than anything the branch saves
    afterwards (uuid6 ids grow with time): a checkpoint of a branch is a copy
    exactly when its id is not newer than the branch point's. The branch's
    row says where it came from, so no copy needs lineage in its metadata.
    """
    if thread is None or thread.parent_thread_id is None or thread.branch_checkpoint_id is None:
        return None
    return thread.parent_thread_id if checkpoint_id <= thread.branch_checkpoint_id else None


def _cycle(thread_id: str) -> StoreError:
    return StoreError(
        f"corrupt row in agentgit_threads (thread_id={thread_id!r}): "
        "its parent threads form a cycle"
    )


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
