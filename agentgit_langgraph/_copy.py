"""Copying the state at one checkpoint into a new thread: the storage half of a rollback.

What is copied, and why (the cost depends on the graph's shape, never on the
length of the history):

* the checkpoint itself, same id. If it is its thread's latest checkpoint, all
  its pending writes too: resuming the branch then hands finished tasks'
  writes back and keeps interrupts, as resuming the original would. If the
  thread has moved past it, only the writes that stand for the state *at*
  it (`update_state`/`Command` updates, and the interrupts a re-run asks
  first, see `_open_questions`): the branch re-runs its tasks, as LangGraph's
  own replay from that checkpoint does;
* for each `DeltaChannel` whose value is not stored in that checkpoint, its
  ancestors back to the nearest one that stores a snapshot of it, with their
  writes: the channel is rebuilt from exactly those, so the copy does not
  depend on the original thread (at most `snapshot_frequency` updates back);
* if it is the thread's latest checkpoint, for each subgraph task of it that
  has started, the subgraph's latest checkpoint in its namespace (recursively,
  with the same rules): an interrupted subgraph resumes where it stopped.
  Under a checkpoint the thread has moved past, those subgraphs start over, as
  in LangGraph's replay;
* for each stateful subgraph (`compile(checkpointer=True)`, kept under a
  stable namespace such as `"agent"`, one per node name) the checkpoint that
  was current when the copied checkpoint was written: at the thread's latest
  checkpoint, the subgraph's latest; under a checkpoint the thread has moved
  past, its newest checkpoint older than that one (checkpoint ids are
  time-ordered), which is also the one LangGraph's replay loads
  (`ReplayState`). The branch sees the world as it was at the branch point.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
)

from agentgit_langgraph._langgraph import (
    BRANCH_PREFIX,
    INTERRUPT,
    NS_END,
    NS_SEP,
    NULL_TASK_ID,
    RESUME,
    RETURN,
    SOURCES_FORKED,
    TASKS_CHANNEL,
    stable_namespace,
)
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph.configs import before_config, checkpoint_config

__all__ = [
    "copy_into_thread",
    "exact_copy",
    "parent_checkpoint_id",
    "put_exact",
    "put_writes_at",
    "writes_in_order",
]


def _interrupt_ids(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    return [str(i.id) for i in values if getattr(i, "id", None) is not None]


def _open_questions(writes: Sequence[PendingWrite]) -> set[str]:
    """Tasks whose stored interrupt is the question their re-run asks first.

    At a checkpoint the thread has moved past, every task re-runs and asks
    again, and the answers (`__resume__`) are not copied. A stored interrupt
    is kept, so the branch shows the question open, only when it is the first
    one its task asks: the task holds at most one answer, it is no Functional
    API `@task` (their questions come in the order the entrypoint calls them,
    which the writes do not record), and it is not an interrupt raised again
    by the task that called the one that asked it (the entrypoint above its
    `@task`s). Any other kept interrupt would be a later question shown as
    pending, one the re-run does not ask first.
    """
    answers: dict[str, int] = {}
    functional: set[str] = set()
    asked: dict[str, list[str]] = {}
    for task_id, channel, value in writes:
        if channel == RESUME:
            answers[task_id] = len(value) if isinstance(value, list) else 1
        elif channel == RETURN:
            functional.add(task_id)
        elif channel == INTERRUPT:
            asked[task_id] = _interrupt_ids(value)
    if functional:
        return set()
    seen: dict[str, int] = {}
    for ids in asked.values():
        for i in set(ids):
            seen[i] = seen.get(i, 0) + 1
    return {
        task_id
        for task_id, ids in asked.items()
        if answers.get(task_id, 0) <= 1 and all(seen[i] == 1 for i in ids)
    }


def _writes_at(tup: CheckpointTuple, *, is_head: bool) -> list[PendingWrite]:
    """The pending writes that belong to the state at `tup` (see module doc)."""
    writes = tup.pending_writes or []
    if is_head:
        return list(writes)
    questions = _open_questions(writes)
    return [
        w
        for w in writes
        if (w[1] == INTERRUPT and w[0] in questions) or (w[0] == NULL_TASK_ID and w[1] != RESUME)
    ]


def writes_in_order(
    writes: Sequence[PendingWrite],
) -> list[tuple[str, str, list[tuple[str, Any]]]]:
    """`(task_id, task_path, writes)` per task, to `put_writes` in stored order.

    One call per task: a saver numbers a task's writes by position, so
    splitting them would collide on `(task_id, idx)`. A read-back write has no
    `task_path`, and savers sort writes by `(task_path, task_id, idx)`, so
    each task gets a path that keeps the order they were read in (the order
    LangGraph applies them); null-task writes (graph input, `update_state`)
    keep `""` and sort first, as LangGraph stores them.
    """
    by_task: dict[str, list[tuple[str, Any]]] = {}
    for task_id, channel, value in writes:
        by_task.setdefault(task_id, []).append((channel, value))
    ordered = []
    rank = 0
    for task_id, task_writes in by_task.items():
        if task_id == NULL_TASK_ID:
            path = ""
        else:
            path = f"~{rank:010d}"
            rank += 1
        ordered.append((task_id, path, task_writes))
    return ordered


def exact_copy(checkpoint: Checkpoint) -> Checkpoint:
    """A copy with exactly the same keys (`copy_checkpoint` adds `pending_sends`)."""
    copied = dict(checkpoint)
    copied["channel_values"] = dict(checkpoint["channel_values"])
    copied["channel_versions"] = dict(checkpoint["channel_versions"])
    copied["versions_seen"] = {k: dict(v) for k, v in checkpoint["versions_seen"].items()}
    return cast(Checkpoint, copied)


def parent_checkpoint_id(tup: CheckpointTuple) -> str | None:
    """The id of the checkpoint `tup` follows in its thread, if any."""
    if tup.parent_config is None:
        return None
    parent = tup.parent_config["configurable"].get("checkpoint_id")
    return str(parent) if parent else None


def delta_channels_missing(tup: CheckpointTuple) -> set[str]:
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
        ch[len(BRANCH_PREFIX) :]
        for ch in checkpoint["channel_versions"]
        if ch.startswith(BRANCH_PREFIX)
    )
    sends = checkpoint["channel_values"].get(TASKS_CHANNEL)
    if isinstance(sends, Iterable) and not isinstance(sends, str | bytes):
        names.update(str(s.node) for s in sends if hasattr(s, "node"))
    return names


def _child_namespaces(tup: CheckpointTuple, writes: Sequence[PendingWrite]) -> list[str]:
    """Namespaces where the tasks of `tup` with `writes` keep subgraph state."""
    ns = tup.config["configurable"].get("checkpoint_ns", "")
    task_ids = {w[0] for w in writes if w[0] != NULL_TASK_ID}
    if not task_ids:
        return []
    prefix = f"{ns}{NS_SEP}" if ns else ""
    return sorted(
        f"{prefix}{node}{NS_END}{task_id}" for node in _node_names(tup) for task_id in task_ids
    )


def _chain(source: CheckpointTuple) -> Plan[list[CheckpointTuple]]:
    """`source` and the ancestors its delta channels need, newest first."""
    chain = [source]
    missing = delta_channels_missing(source)
    cursor = source
    while missing and cursor.parent_config is not None:
        parent: CheckpointTuple | None = yield from call(
            BaseCheckpointSaver.get_tuple, cursor.parent_config
        )
        if parent is None:
            break
        chain.append(parent)
        missing -= set(parent.checkpoint["channel_values"])
        cursor = parent
    return chain


def put_exact(
    target: RunnableConfig, tup: CheckpointTuple, metadata: CheckpointMetadata
) -> Plan[RunnableConfig]:
    """Put a copy of `tup`'s checkpoint (same id) at `target`; the saved config."""
    checkpoint = exact_copy(tup.checkpoint)
    # Every channel counts as new: savers that store values per version
    # (InMemorySaver, PostgresSaver) then write them all into the target thread.
    versions = dict(checkpoint["channel_versions"])
    saved: RunnableConfig = yield from call(
        BaseCheckpointSaver.put, target, checkpoint, metadata, versions
    )
    return saved


def put_writes_at(config: RunnableConfig, writes: Sequence[PendingWrite]) -> Plan[None]:
    """Put `writes` at the checkpoint `config` names, each task's in their stored order."""
    for task_id, task_path, task_writes in writes_in_order(writes):
        yield from call(BaseCheckpointSaver.put_writes, config, task_writes, task_id, task_path)


def _stable_namespaces(tup: CheckpointTuple) -> list[str]:
    """Where the stateful subgraphs of the graph at `tup` may keep their history."""
    prefix = stable_namespace(tup.config["configurable"].get("checkpoint_ns", ""))
    return sorted(f"{prefix}{NS_SEP}{node}" if prefix else node for node in _node_names(tup))


def replay_bound(tup: CheckpointTuple) -> str:
    """The checkpoint id a stateful subgraph's state under `tup` is older than.

    LangGraph's rule (`_loop.py`, `ReplayState`): a checkpoint written outside
    a step (`update_state`, a replay's fork) sees its parent's subgraph state.
    """
    if tup.metadata.get("source") in SOURCES_FORKED:
        parent = parent_checkpoint_id(tup)
        if parent is not None:
            return parent
    return str(tup.checkpoint["id"])


def copy_into_thread(
    source: CheckpointTuple, target_thread_id: str, *, is_head: bool | None = None
) -> Plan[int]:
    """Copy the state at `source` into `target_thread_id`; return checkpoints written.

    Ids are kept, so task ids (derived from the checkpoint id) and therefore
    pending writes and subgraph namespaces line up on the new thread. The
    copy's metadata is the original's (`source`, `step`, ...), so the branch
    resumes as the original would; where it came from is the branch's row in
    the store (`InternalSession.parent_thread_id`, `branch_checkpoint_id`).
    """
    configurable = source.config["configurable"]
    if is_head is None:
        is_head = yield from _is_latest(source)
    bound = None if is_head else replay_bound(source)
    copied: set[str] = {configurable.get("checkpoint_ns", "")}
    return (yield from _copy_level(source, target_thread_id, is_head, bound, copied))


def _is_latest(tup: CheckpointTuple) -> Plan[bool]:
    configurable = tup.config["configurable"]
    latest_config = checkpoint_config(
        configurable["thread_id"], configurable.get("checkpoint_ns", "")
    )
    latest = yield from call(BaseCheckpointSaver.get_tuple, latest_config)
    return latest is not None and latest.checkpoint["id"] == tup.checkpoint["id"]


def _started_from(state: CheckpointTuple, parent_ns: str, parent_id: str) -> Plan[CheckpointTuple]:
    """The input checkpoint of the run a stateful subgraph started from `parent_id`
    on top of `state`, if it did; else `state`.

    A branch resumes its first step, and LangGraph hands a subgraph of a
    resumed step its latest state to resume: given `state`, a finished run,
    it would not take the step's input. Replay instead starts the subgraph
    over on `state` with that input, which is what this checkpoint holds (it
    follows `state`, one step later, and names `parent_id` as its parent).
    """
    configurable = state.config["configurable"]
    where = checkpoint_config(configurable["thread_id"], configurable.get("checkpoint_ns", ""))
    step = state.metadata.get("step")
    if not isinstance(step, int):
        return state
    inputs_of_next_step: dict[str, Any] = {"source": "input", "step": step + 1}
    runs: list[CheckpointTuple] = yield from gather(
        BaseCheckpointSaver.list, where, filter=inputs_of_next_step
    )
    for run in runs:
        parents = run.metadata.get("parents") or {}
        if (
            parents.get(parent_ns) == parent_id
            and parent_checkpoint_id(run) == state.checkpoint["id"]
        ):
            return run
    return state


def _copy_level(
    source: CheckpointTuple,
    target_thread_id: str,
    is_head: bool,
    bound: str | None,
    copied: set[str],
) -> Plan[int]:
    """Copy `source` and the subgraph states under it; `bound` is None at the head."""
    configurable = source.config["configurable"]
    thread_id = configurable["thread_id"]
    ns = configurable.get("checkpoint_ns", "")
    source_writes = _writes_at(source, is_head=is_head)

    chain = yield from _chain(source)
    parent_id: str | None = None
    for tup in reversed(chain):
        # Ancestors keep every write: delta channels are rebuilt from them.
        writes = source_writes if tup is source else (tup.pending_writes or [])
        target = checkpoint_config(target_thread_id, ns, parent_id)
        saved = yield from put_exact(target, tup, tup.metadata)
        yield from put_writes_at(saved, writes)
        parent_id = tup.checkpoint["id"]
    written = len(chain)

    # A subgraph under a checkpoint the thread has moved past starts over, as in
    # LangGraph's replay (it loads the child's state from *before* the parent
    # checkpoint, and there is none): copying its later state would resume it.
    child_namespaces = _child_namespaces(source, source_writes) if is_head else []
    for child_ns in child_namespaces:
        child_config = checkpoint_config(thread_id, child_ns)
        child = yield from call(BaseCheckpointSaver.get_tuple, child_config)
        parents = (child.metadata.get("parents") or {}) if child is not None else {}
        if child is not None and parents.get(ns) == source.checkpoint["id"]:
            copied.add(child_ns)
            written += yield from _copy_level(child, target_thread_id, True, None, copied)

    # A stateful subgraph keeps one history per thread: the branch carries the
    # state it had when `source` was written (its latest one at the head).
    for stable_ns in _stable_namespaces(source):
        if stable_ns in copied:
            continue
        copied.add(stable_ns)
        where = checkpoint_config(thread_id, stable_ns)
        if bound is None:
            found: CheckpointTuple | None = yield from call(BaseCheckpointSaver.get_tuple, where)
            child_is_head = True
        else:
            before = before_config(bound)
            older: list[CheckpointTuple] = yield from gather(
                BaseCheckpointSaver.list, where, before=before, limit=1
            )
            found = older[0] if older else None
            if found is not None:
                found = yield from _started_from(found, ns, str(source.checkpoint["id"]))
            child_is_head = found is not None and (yield from _is_latest(found))
        if found is not None:
            written += yield from _copy_level(found, target_thread_id, child_is_head, bound, copied)
    return written
