"""Removing what should not be kept: sessions, stale branches, old checkpoints.

Session level (each checks ownership when given a `user_id`):

* `delete_session` erases a session: every thread of it in the wrapped saver
  (all namespaces, checkpoints, writes, blobs), then its rows in the store.
* `prune_branches` removes the branches that are neither current nor an
  ancestor of the current thread, optionally only those older than a given age.

LangGraph level: `copy_thread`, `prune` and `delete_for_runs` are delegated to
the wrapped saver when its type implements them (the same override check the
LangGraph conformance suite uses to detect a capability) and otherwise done
here over the primitives every saver has: `list`, `get_tuple`, `put`,
`put_writes` and `delete_thread`. After any of them, a thread that belongs to a
session has `checkpoint_count` equal to what the saver holds for it.

Rewriting a thread (the fallback `prune` and `delete_for_runs`)
----------------------------------------------------------------
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
order, which order-sensitive `DeltaChannel` reducers rely on.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    CheckpointMetadata,
    CheckpointTuple,
    empty_checkpoint,
)

from agentgit_langgraph import _validate as check
from agentgit_langgraph._access import session_plan
from agentgit_langgraph._context import SaverContext
from agentgit_langgraph._copy import (
    delta_channels_missing,
    exact_copy,
    parent_checkpoint_id,
    writes_in_order,
)
from agentgit_langgraph._faults import reached
from agentgit_langgraph._langgraph import TASKS_CHANNEL
from agentgit_langgraph._plan import Plan, call, gather, run_async, run_sync
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.configs import checkpoint_config
from agentgit_langgraph.errors import InvalidConfigError, SessionNotFoundError, ThreadBusyError
from agentgit_langgraph.sessions import ExternalSession, InternalSession
from agentgit_langgraph.stores.base import BaseSessionStore, now

__all__ = [
    "PRUNE_STRATEGIES",
    "Maintenance",
    "backup_thread_id",
    "erase_forgotten",
    "finish_pending_deletes",
    "is_overridden",
]

PRUNE_STRATEGIES = ("keep_latest", "delete")

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


def is_overridden(saver: BaseCheckpointSaver[Any], method: str) -> bool:
    """Whether `saver`'s type implements `method` itself.

    The check `langgraph.checkpoint.conformance.capabilities` makes to detect a
    capability: the method differs from `BaseCheckpointSaver`'s default.
    """
    base = getattr(BaseCheckpointSaver, method, None)
    impl = getattr(type(saver), method, None)
    if base is None or impl is None:
        return impl is not None
    return impl is not base


# -- reading and writing whole threads ---------------------------------------


def _thread_cfg(thread_id: str, ns: str | None = None) -> RunnableConfig:
    return checkpoint_config(thread_id, ns)


def _ns(tup: CheckpointTuple) -> str:
    return str(tup.config["configurable"].get("checkpoint_ns") or "")


def _id(tup: CheckpointTuple) -> str:
    return str(tup.checkpoint["id"])


def _read_thread(thread_id: str) -> Plan[list[CheckpointTuple]]:
    """Every checkpoint of the thread, all namespaces, with its writes."""
    tuples: list[CheckpointTuple] = yield from gather(
        BaseCheckpointSaver.list, _thread_cfg(thread_id)
    )
    return tuples


def _put_tuples(
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
        for task_id, path, task_writes in writes_in_order(tup.pending_writes or []):
            yield from call(
                BaseCheckpointSaver.put_writes, at_checkpoint, task_writes, task_id, path
            )
        parent = parent_checkpoint_id(tup)
        if parent is not None and not (drop_dangling_parents and (ns, parent) not in present):
            target["configurable"]["checkpoint_id"] = parent
        checkpoint = exact_copy(tup.checkpoint)
        # Every channel counts as new: savers that keep values per version
        # (InMemorySaver, PostgresSaver) then store them all again.
        versions = dict(checkpoint["channel_versions"])
        metadata = copy.copy(tup.metadata)
        yield from call(BaseCheckpointSaver.put, target, checkpoint, metadata, versions)


def _delete_thread_rows(thread_id: str) -> Plan[None]:
    """Delete the thread and any backup a crashed rewrite left of it."""
    yield from call(BaseCheckpointSaver.delete_thread, thread_id)
    yield from call(BaseCheckpointSaver.delete_thread, backup_thread_id(thread_id))


def _recover(thread_id: str) -> Plan[bool]:
    """Finish what a rewrite of `thread_id` that died part way left (module doc).

    True when checkpoints were put back from a complete backup.
    """
    backup = backup_thread_id(thread_id)
    probe: builtins.list[CheckpointTuple] = yield from gather(
        BaseCheckpointSaver.list, _thread_cfg(backup), limit=1
    )
    if not probe:
        return False
    marker: CheckpointTuple | None = yield from call(
        BaseCheckpointSaver.get_tuple, _thread_cfg(backup, _MARK_NS)
    )
    if marker is not None:  # complete: the thread may have lost some of it
        saved = yield from _read_thread(backup)
        kept = [t for t in saved if _ns(t) != _MARK_NS]
        yield from _put_tuples(thread_id, kept, drop_dangling_parents=False)
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
        yield from _put_tuples(backup, kept, drop_dangling_parents=drop)
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
            _thread_cfg(backup, _MARK_NS),
            empty_checkpoint(),
            marker_metadata,
            no_versions,
        )
        head: CheckpointTuple | None = yield from call(
            BaseCheckpointSaver.get_tuple, _thread_cfg(thread_id, "")
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
        yield from _put_tuples(thread_id, kept, drop_dangling_parents=drop)
    except GeneratorExit:
        raise
    except BaseException:
        # Put everything back once more (puts are upserts). If that fails too,
        # the complete backup stays for the next rewrite to recover from.
        restored = False
        with contextlib.suppress(Exception):
            yield from _put_tuples(thread_id, kept, drop_dangling_parents=drop)
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
        tuples = yield from _read_thread(thread_id)
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


def _keep_latest(tuples: builtins.list[CheckpointTuple]) -> builtins.list[CheckpointTuple]:
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


def _resync_count(thread_id: str, held: int | None) -> Plan[None]:
    """Make the thread's `checkpoint_count` what the saver holds (`held`, or counted)."""
    record: InternalSession | None = yield from call(BaseSessionStore.get_thread, thread_id)
    if record is None:
        return
    if held is None:
        held = len((yield from _read_thread(thread_id)))
    delta = held - record.checkpoint_count
    if delta:
        yield from call(BaseSessionStore.record_checkpoints, thread_id, delta)


def _rewrite_and_count(thread_id: str, select: Select, *, drop: bool) -> Plan[None]:
    """`_rewrite_thread`, then the count; after a failure too (it may have removed some)."""
    try:
        held = yield from _rewrite_thread(thread_id, select, drop=drop)
    except GeneratorExit:
        raise
    except BaseException:
        with contextlib.suppress(Exception):  # the original error is the one to report
            yield from _resync_count(thread_id, None)
        raise
    yield from _resync_count(thread_id, held)


def _check_thread_ids(thread_ids: Sequence[str]) -> builtins.list[str]:
    if isinstance(thread_ids, str | bytes):
        raise InvalidConfigError(f"thread_ids must be a sequence of thread ids, not {thread_ids!r}")
    return list(dict.fromkeys(check.thread_id(t) for t in thread_ids))


# -- plans -----------------------------------------------------------------------


def erase_forgotten(thread_ids: Sequence[str]) -> Plan[None]:
    """Delete the checkpoints of threads the store has just forgotten, then the notes."""
    reached("delete.forgotten")
    for thread_id in thread_ids:
        yield from _delete_thread_rows(thread_id)
        yield from call(BaseSessionStore.forget_pending_delete, thread_id)
    reached("delete.erased")


def finish_pending_deletes() -> Plan[builtins.list[str]]:
    """Erase what deletes that died after the store forgot their threads left."""
    pending: builtins.list[str] = yield from call(BaseSessionStore.list_pending_deletes)
    yield from erase_forgotten(pending)
    return pending


def _delete_thread_plan(thread_id: str) -> Plan[None]:
    # The store first (checked and noted in one transaction), the saver after:
    # a crash in between leaves a note that recovery finishes.
    yield from call(BaseSessionStore.forget_thread, thread_id)
    yield from erase_forgotten([thread_id])


def _copy_thread_plan(source: str, target: str, *, native: bool, auto_session: bool) -> Plan[None]:
    if native:
        yield from call(BaseCheckpointSaver.copy_thread, source, target)
    else:
        tuples = yield from _read_thread(source)
        yield from _put_tuples(target, tuples, drop_dangling_parents=False)
    record: InternalSession | None = yield from call(BaseSessionStore.get_thread, target)
    held: int | None = None
    if record is None:
        if not auto_session:
            return
        held = len((yield from _read_thread(target)))
        if held == 0:
            return
        # The copy belongs to whoever owns the source, as its checkpoints do.
        owner = "0"
        source_record: InternalSession | None = yield from call(BaseSessionStore.get_thread, source)
        if source_record is not None:
            session: ExternalSession | None = yield from call(
                BaseSessionStore.get_session, source_record.session_id
            )
            owner = session.owner if session is not None else "0"
        yield from call(BaseSessionStore.ensure_session_for_thread, target, user_id=owner)
    yield from _resync_count(target, held)


def _prune_plan(thread_ids: Sequence[str], strategy: str, *, native: bool) -> Plan[None]:
    ids = _check_thread_ids(thread_ids)
    if strategy not in PRUNE_STRATEGIES:
        raise InvalidConfigError(
            f"unknown prune strategy {strategy!r} (use one of {PRUNE_STRATEGIES})"
        )
    if not ids:
        return
    if strategy == "delete":  # as `delete_thread`: the threads leave their sessions too
        for thread_id in ids:
            yield from call(BaseSessionStore.forget_thread, thread_id)
        if not native:
            yield from erase_forgotten(ids)
            return
        yield from call(BaseCheckpointSaver.prune, ids, strategy=strategy)
        for thread_id in ids:
            yield from call(BaseSessionStore.forget_pending_delete, thread_id)
        return
    if native:
        yield from call(BaseCheckpointSaver.prune, ids, strategy=strategy)
        for thread_id in ids:
            yield from _resync_count(thread_id, None)
        return
    for thread_id in ids:
        yield from _rewrite_and_count(thread_id, _keep_latest, drop=True)


def _delete_for_runs_plan(run_ids: Sequence[str], *, native: bool) -> Plan[None]:
    if isinstance(run_ids, str | bytes):
        raise InvalidConfigError(f"run_ids must be a sequence of run ids, not {run_ids!r}")
    runs = list(dict.fromkeys(str(r) for r in run_ids))
    if not native and runs:
        # Finish rewrites that died part way first (found by their markers):
        # the threads they left may hold none of these runs any more.
        markers: builtins.list[CheckpointTuple] = yield from gather(
            BaseCheckpointSaver.list, None, filter={_BACKUP_KEY: _BACKUP_COMPLETE}
        )
        for marker in markers:
            of = marker.metadata.get(_BACKUP_OF_KEY)
            if isinstance(of, str) and (yield from _recover(of)):
                yield from _resync_count(of, None)
    # The threads holding checkpoints of those runs (to rewrite, or to recount).
    threads: dict[str, None] = {}
    for run_id in runs:
        found: builtins.list[CheckpointTuple] = yield from gather(
            BaseCheckpointSaver.list, None, filter={"run_id": run_id}
        )
        for tup in found:
            thread_id = str(tup.config["configurable"]["thread_id"])
            if not thread_id.startswith(BACKUP_PREFIX):
                threads[thread_id] = None
    if native:
        yield from call(BaseCheckpointSaver.delete_for_runs, runs)
        for thread_id in threads:
            yield from _resync_count(thread_id, None)
        return
    doomed = set(runs)

    def select(tuples: builtins.list[CheckpointTuple]) -> builtins.list[CheckpointTuple]:
        return [t for t in tuples if str(t.metadata.get("run_id")) not in doomed]

    for thread_id in threads:
        yield from _rewrite_and_count(thread_id, select, drop=False)


def _delete_session_plan(session_id: Any, user_id: object) -> Plan[builtins.list[str]]:
    session = yield from session_plan(session_id, user_id)
    assert session.id is not None
    # The store first: one transaction forgets the session and notes its
    # threads; their checkpoints go after. A crash in between leaves notes
    # that recovery (`recover_branches`, run when a saver opens) finishes.
    thread_ids: builtins.list[str] | None = yield from call(
        BaseSessionStore.delete_session, session.id
    )
    if thread_ids is None:
        raise SessionNotFoundError(f"session {session.id} not found (deleted meanwhile)")
    yield from erase_forgotten(thread_ids)
    return thread_ids


def _prune_branches_plan(
    session_id: Any, older_than: timedelta | None, user_id: object
) -> Plan[builtins.list[str]]:
    if older_than is not None and not isinstance(older_than, timedelta):
        raise InvalidConfigError(f"older_than must be a datetime.timedelta, got {older_than!r}")
    if older_than is not None and older_than < timedelta(0):
        raise InvalidConfigError(f"older_than must not be negative, got {older_than!r}")
    session = yield from session_plan(session_id, user_id)
    assert session.id is not None
    threads: builtins.list[InternalSession] = yield from call(
        BaseSessionStore.list_threads, session.id
    )
    by_id = {t.thread_id: t for t in threads}
    keep: set[str] = set()
    cursor = session.current_internal_session_id
    while cursor is not None and cursor not in keep:
        keep.add(cursor)
        record = by_id.get(cursor)
        cursor = record.parent_thread_id if record is not None else None
    cutoff = now() - older_than if older_than is not None else None
    doomed = [
        t.thread_id
        for t in threads
        if t.thread_id not in keep
        and (cutoff is None or (t.created_at is not None and t.created_at < cutoff))
    ]
    if not doomed:
        return []
    reached("prune.planned")
    # Checked before anything is destroyed: the store refuses, in the
    # transaction that forgets them, if one became current meanwhile
    # (`ThreadBusyError`, nothing changed); checkpoints go only after.
    yield from call(BaseSessionStore.delete_threads, session.id, doomed)
    yield from erase_forgotten(doomed)
    return doomed


class Maintenance:
    """Erasure and pruning for one `AgentGitSaver` (its `maintenance`); see its methods."""

    def __init__(self, ctx: SaverContext) -> None:
        self._ctx = ctx

    # -- sessions ----------------------------------------------------------------
    def delete_session(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> builtins.list[str]:
        deleted = run_sync(_delete_session_plan(session_id, user_id), self._ctx.targets)
        self._ctx.forget(deleted)
        return deleted

    async def adelete_session(
        self, session_id: int, *, user_id: UserId | None = None
    ) -> builtins.list[str]:
        deleted = await run_async(_delete_session_plan(session_id, user_id), self._ctx.targets)
        self._ctx.forget(deleted)
        return deleted

    def prune_branches(
        self,
        session_id: int,
        *,
        older_than: timedelta | None = None,
        user_id: UserId | None = None,
    ) -> builtins.list[str]:
        plan = _prune_branches_plan(session_id, older_than, user_id)
        removed = run_sync(plan, self._ctx.targets)
        self._ctx.forget(removed)
        return removed

    async def aprune_branches(
        self,
        session_id: int,
        *,
        older_than: timedelta | None = None,
        user_id: UserId | None = None,
    ) -> builtins.list[str]:
        plan = _prune_branches_plan(session_id, older_than, user_id)
        removed = await run_async(plan, self._ctx.targets)
        self._ctx.forget(removed)
        return removed

    # -- LangGraph's optional capabilities ---------------------------------------
    def delete_thread(self, thread_id: str) -> None:
        run_sync(_delete_thread_plan(str(thread_id)), self._ctx.targets)
        self._ctx.forget([str(thread_id)])

    async def adelete_thread(self, thread_id: str) -> None:
        await run_async(_delete_thread_plan(str(thread_id)), self._ctx.targets)
        self._ctx.forget([str(thread_id)])

    def _copy_plan(self, source: str, target: str, method: str) -> Plan[None]:
        return _copy_thread_plan(
            str(source),
            str(target),
            native=is_overridden(self._ctx.saver, method),
            auto_session=self._ctx.auto_session,
        )

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        plan = self._copy_plan(source_thread_id, target_thread_id, "copy_thread")
        run_sync(plan, self._ctx.targets)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        plan = self._copy_plan(source_thread_id, target_thread_id, "acopy_thread")
        await run_async(plan, self._ctx.targets)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        native = is_overridden(self._ctx.saver, "prune")
        run_sync(_prune_plan(thread_ids, strategy, native=native), self._ctx.targets)
        if strategy == "delete":
            self._ctx.forget(list(thread_ids))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        native = is_overridden(self._ctx.saver, "aprune")
        await run_async(_prune_plan(thread_ids, strategy, native=native), self._ctx.targets)
        if strategy == "delete":
            self._ctx.forget(list(thread_ids))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        native = is_overridden(self._ctx.saver, "delete_for_runs")
        run_sync(_delete_for_runs_plan(run_ids, native=native), self._ctx.targets)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        native = is_overridden(self._ctx.saver, "adelete_for_runs")
        await run_async(_delete_for_runs_plan(run_ids, native=native), self._ctx.targets)
