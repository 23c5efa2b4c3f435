"""Rewriting a thread (the fallback `prune` and `delete_for_runs` of `maintenance.py`).

`delete_thread` is the only delete primitive, so keeping some of a thread's
checkpoints means: read the ones to keep, delete the thread, put them back
(same ids, metadata, writes). To be as safe as that allows:

1. everything to keep is read before anything is deleted;
2. it is first written to a backup thread (`backup_thread_id(thread_id)`),
   followed by a marker saying the backup is complete;
3. just before deleting, the thread's latest checkpoint is read again: if a run
   saved a new one meanwhile, the backup is dropped and the thread is read
   again (at most three times, then `ThreadBusyError`, nothing removed);
4. the thread is deleted and the kept checkpoints are put back, each one's
   writes before it and subgraph namespaces before the root one, so a reader
   never sees a checkpoint without its writes;
5. the backup is deleted.

The non-atomic window is step 4. An error there (or a cancellation) is met by
putting everything back once more, then re-raised. If the process dies there,
the thread is left partial, but the complete backup remains: the next `prune`
of the thread, or any fallback `delete_for_runs` (which finds complete backups
by their marker's metadata), first puts the backup's checkpoints back (puts
are upserts, so this never removes anything) and deletes it. A run that
writes to the thread between step 3 and the end of step 4 can lose that
write: do not prune a thread while a run is writing to it. `delete_thread`
deletes a thread's backup with it. The backup thread belongs to no session,
so the owner check does not guard it while it exists. When a rewrite fails,
the thread's count is still made what the saver then holds.

What `prune(strategy="keep_latest")` keeps, per namespace: the latest
checkpoint with its writes, plus the ancestors its `DeltaChannel`s are rebuilt
from (back to the nearest one storing a snapshot of each, see `_copy.py`),
with their writes, and the parent a pre-v4 checkpoint reads its pending sends
from. The oldest kept checkpoint of a namespace loses its parent link (its
parent is gone), as `PostgresSaver.prune` does. Subgraph namespaces all keep
their latest checkpoint (nothing is dropped by guessing which ones are stale).
The fallback `delete_for_runs` keeps every other checkpoint exactly, parent
links included (they may then name a deleted checkpoint, as a row delete
would leave them).

Writes carry no `task_path` when read back (`PendingWrite` has none), so a
copy numbers each task's writes in their stored order (`~0000000000`, ...;
writes of the null task keep `""`): `get_tuple` then returns them in the same
"""

from __future__ import annotations

import builtins
import contextlib
import copy
from collections.abc import Callable, Sequence
from typing import cast

from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    CheckpointMetadata,
    CheckpointTuple,
    empty_checkpoint,
)

from agentgit_langgraph._copy import (
    delta_channels_missing,
    parent_checkpoint_id,
    put_exact,
    put_writes_at,
)
from agentgit_langgraph._langgraph import TASKS_CHANNEL
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph.configs import checkpoint_config
from agentgit_langgraph.errors import ThreadBusyError
from agentgit_langgraph.sessions import InternalSession
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = [
    "BACKUP_PREFIX",
    "Select",
    "backup_thread_id",
    "delete_thread_rows",
    "keep_latest",
    "put_tuples",
    "read_thread",
    "recover_rewrites",
    "resync_count",
    "rewrite_and_count",
]

BACKUP_PREFIX = "agentgit-rewrite-backup:"
_MARK_NS = "__agentgit_backup_complete__"
_BACKUP_KEY = "agentgit_backup"  # marker metadata: {_BACKUP_KEY: "complete", _BACKUP_OF_KEY: id}
_BACKUP_COMPLETE = "complete"
_BACKUP_OF_KEY = "agentgit_backup_of"
_REWRITE_ATTEMPTS = 3

_SENDS_VERSION = 4  # checkpoints before v4 read pending sends from their parent's writes


def backup_thread_id(thread_id: str) -> str:
    """Where a thread's kept checkpoints wait while it is rewritten."""
    return f"{BACKUP_PREFIX}{thread_id}"


# -- reading and writing whole threads ---------------------------------------


def _ns(tup: CheckpointTuple) -> str:
    return str(tup.config["configurable"].get("checkpoint_ns") or "")


def _id(tup: CheckpointTuple) -> str:
    return str(tup.checkpoint["id"])


def read_thread(thread_id: str) -> Plan[list[CheckpointTuple]]:
    """Every checkpoint of the thread, all namespaces, with its writes."""
    tuples: list[CheckpointTuple] = yield from gather(
        BaseCheckpointSaver.list, checkpoint_config(thread_id, None)
    )
    return tuples


def put_tuples(
    thread_id: str, tuples: Sequence[CheckpointTuple], *, drop_dangling_parents: bool
) -> Plan[None]:
    """Put `tuples` (same ids, metadata, writes) into `thread_id`.

    Subgraph namespaces first, the root last; oldest first within one; each
    checkpoint's writes before it. With `drop_dangling_parents`, a parent
    link to a checkpoint not in `tuples` is dropped.
    """
    present = {(_ns(t), _id(t)) for t in tuples}
    for tup in sorted(tuples, key=lambda t: (_ns(t) == "", _ns(t), _id(t))):
        ns = _ns(tup)
        target = checkpoint_config(thread_id, ns)
        at_checkpoint = checkpoint_config(thread_id, ns, _id(tup))
        yield from put_writes_at(at_checkpoint, tup.pending_writes or [])
        parent = parent_checkpoint_id(tup)
        if parent is not None and not (drop_dangling_parents and (ns, parent) not in present):
            target["configurable"]["checkpoint_id"] = parent
        yield from put_exact(target, tup, copy.copy(tup.metadata))


def delete_thread_rows(thread_id: str) -> Plan[None]:
    """Delete the thread and any backup a crashed rewrite left of it."""
    yield from call(BaseCheckpointSaver.delete_thread, thread_id)
    yield from call(BaseCheckpointSaver.delete_thread, backup_thread_id(thread_id))


def _recover(thread_id: str) -> Plan[bool]:
    """Finish what a rewrite of `thread_id` that died part way left (module doc).

    True when checkpoints were put back from a complete backup.
    """
    backup = backup_thread_id(thread_id)
    probe: builtins.list[CheckpointTuple] = yield from gather(
        BaseCheckpointSaver.list, checkpoint_config(backup, None), limit=1
    )
    if not probe:
        return False
    marker: CheckpointTuple | None = yield from call(
        BaseCheckpointSaver.get_tuple, checkpoint_config(backup, _MARK_NS)
    )
    if marker is not None:  # complete: the thread may have lost some of it
        saved = yield from read_thread(backup)
        kept = [t for t in saved if _ns(t) != _MARK_NS]
        yield from put_tuples(thread_id, kept, drop_dangling_parents=False)
    yield from call(BaseCheckpointSaver.delete_thread, backup)
    return marker is not None


def _root_head(tuples: Sequence[CheckpointTuple]) -> str | None:
    ids = [_id(t) for t in tuples if _ns(t) == ""]
    return max(ids) if ids else None


def _rewrite(
    thread_id: str, kept: Sequence[CheckpointTuple], expected_head: str | None, *, drop: bool
) -> Plan[bool]:
    """Replace the thread's contents by `kept`; False (nothing changed) if it moved on."""
    backup = backup_thread_id(thread_id)
    try:
        yield from put_tuples(backup, kept, drop_dangling_parents=drop)
        marker_metadata = cast(
            CheckpointMetadata,
            {
                "source": "update",
                "step": -1,
                _BACKUP_KEY: _BACKUP_COMPLETE,
                _BACKUP_OF_KEY: thread_id,
            },
        )
        no_versions: ChannelVersions = {}
        yield from call(
            BaseCheckpointSaver.put,
            checkpoint_config(backup, _MARK_NS),
            empty_checkpoint(),
            marker_metadata,
            no_versions,
        )
        head: CheckpointTuple | None = yield from call(
            BaseCheckpointSaver.get_tuple, checkpoint_config(thread_id, "")
        )
    except GeneratorExit:
        raise
    except BaseException:
        with contextlib.suppress(Exception):  # the thread is untouched; report the error
            yield from call(BaseCheckpointSaver.delete_thread, backup)
        raise
    if (_id(head) if head is not None else None) != expected_head:
        yield from call(BaseCheckpointSaver.delete_thread, backup)
        return False
    try:
        yield from call(BaseCheckpointSaver.delete_thread, thread_id)
        yield from put_tuples(thread_id, kept, drop_dangling_parents=drop)
    except GeneratorExit:
        raise
    except BaseException:
        # Put everything back once more (puts are upserts). If that fails too,
        # the complete backup stays for the next rewrite to recover from.
        restored = False
        with contextlib.suppress(Exception):
            yield from put_tuples(thread_id, kept, drop_dangling_parents=drop)
            restored = True
        if restored:
            with contextlib.suppress(Exception):
                yield from call(BaseCheckpointSaver.delete_thread, backup)
        raise
    yield from call(BaseCheckpointSaver.delete_thread, backup)
    return True


Select = Callable[[builtins.list[CheckpointTuple]], builtins.list[CheckpointTuple]]


def _rewrite_thread(thread_id: str, select: Select, *, drop: bool) -> Plan[int]:
    """Keep only `select(<the thread's checkpoints>)`; return how many the thread holds."""
    yield from _recover(thread_id)
    for _ in range(_REWRITE_ATTEMPTS):
        tuples = yield from read_thread(thread_id)
        kept = select(tuples)
        if len(kept) == len(tuples):
            return len(tuples)
        done = yield from _rewrite(thread_id, kept, _root_head(tuples), drop=drop)
        if done:
            return len(kept)
    raise ThreadBusyError(
        f"thread {thread_id!r} kept changing while it was being rewritten; nothing was "
        "removed (retry when no run is writing to it)"
    )


def keep_latest(tuples: builtins.list[CheckpointTuple]) -> builtins.list[CheckpointTuple]:
    """What `prune(strategy="keep_latest")` keeps (module doc)."""
    by_ns: dict[str, dict[str, CheckpointTuple]] = {}
    for tup in tuples:
        by_ns.setdefault(_ns(tup), {})[_id(tup)] = tup
    kept: builtins.list[CheckpointTuple] = []
    for checkpoints in by_ns.values():
        head = checkpoints[max(checkpoints)]
        chain = [head]
        missing = delta_channels_missing(head)
        cursor = head
        while missing:
            parent_id = parent_checkpoint_id(cursor)
            parent = checkpoints.get(parent_id) if parent_id is not None else None
            if parent is None:
                break
            chain.append(parent)
            missing -= set(parent.checkpoint["channel_values"])
            cursor = parent
        if head.checkpoint.get("v", _SENDS_VERSION) < _SENDS_VERSION:
            parent_id = parent_checkpoint_id(head)
            parent = checkpoints.get(parent_id) if parent_id is not None else None
            if (
                parent is not None
                and all(c is not parent for c in chain)
                and any(w[1] == TASKS_CHANNEL for w in parent.pending_writes or [])
            ):
                chain.append(parent)
        kept.extend(chain)
    return kept


# -- keeping session counts exact ------------------------------------------------


def resync_count(thread_id: str, held: int | None) -> Plan[None]:
    """Make the thread's `checkpoint_count` what the saver holds (`held`, or counted)."""
    record: InternalSession | None = yield from call(BaseSessionStore.get_thread, thread_id)
    if record is None:
        return
    if held is None:
        held = len((yield from read_thread(thread_id)))
    delta = held - record.checkpoint_count
    if delta:
        yield from call(BaseSessionStore.record_checkpoints, thread_id, delta)


def rewrite_and_count(thread_id: str, select: Select, *, drop: bool) -> Plan[None]:
    """`_rewrite_thread`, then the count; after a failure too (it may have removed some)."""
    try:
        held = yield from _rewrite_thread(thread_id, select, drop=drop)
    except GeneratorExit:
        raise
    except BaseException:
        with contextlib.suppress(Exception):  # the original error is the one to report
            yield from resync_count(thread_id, None)
        raise
    yield from resync_count(thread_id, held)


def recover_rewrites() -> Plan[None]:
    """Finish every rewrite that died part way (found by its marker), then recount its thread."""
    markers: builtins.list[CheckpointTuple] = yield from gather(
        BaseCheckpointSaver.list, None, filter={_BACKUP_KEY: _BACKUP_COMPLETE}
    )
    for marker in markers:
        of = marker.metadata.get(_BACKUP_OF_KEY)
        if isinstance(of, str) and (yield from _recover(of)):
            yield from resync_count(of, None)
