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

How a thread is rewritten without losing it to a crash: `_rewrite.py`.
Finishing deletes that died part way: `recovery.py`.

Example:
    ```python
    removed = saver.prune_branches(session.id, older_than=timedelta(days=7))
    saver.prune([thread_id], strategy="keep_latest")
    ```
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph import _validate as check
from agentgit_langgraph._access import session_plan, thread_plan
from agentgit_langgraph._context import SaverContext, Service, is_overridden
from agentgit_langgraph._faults import reached
from agentgit_langgraph._plan import Plan, call, gather, local, twins
from agentgit_langgraph._rewrite import (
    BACKUP_PREFIX,
    backup_thread_id,
    keep_latest,
    put_tuples,
    read_thread,
    recover_rewrites,
    resync_count,
    rewrite_and_count,
)
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.adoption import adopt_thread
from agentgit_langgraph.configs import checkpoint_config
from agentgit_langgraph.errors import InvalidConfigError, SessionNotFoundError
from agentgit_langgraph.recovery import erase_forgotten, finish_pending_deletes
from agentgit_langgraph.sessions import InternalSession
from agentgit_langgraph.stores.base import BaseSessionStore, now

__all__ = [
    "BACKUP_PREFIX",
    "PRUNE_STRATEGIES",
    "Maintenance",
    "backup_thread_id",
    "copy_thread_plan",
    "delete_for_runs_plan",
    "delete_session_plan",
    "delete_thread_plan",
    "erase_forgotten",
    "finish_pending_deletes",
    "is_overridden",
    "prune_branches_plan",
    "prune_plan",
]

PRUNE_STRATEGIES = ("keep_latest", "delete")


def _check_thread_ids(thread_ids: Sequence[str]) -> list[str]:
    if isinstance(thread_ids, str | bytes):
        raise InvalidConfigError(f"thread_ids must be a sequence of thread ids, not {thread_ids!r}")
    return list(dict.fromkeys(check.thread_id(t) for t in thread_ids))


# -- sessions --------------------------------------------------------------------


def delete_session_plan(session_id: int, *, user_id: UserId | None = None) -> Plan[list[str]]:
    """Erase a session: its threads in the wrapped saver, then its records.

    Every namespace, checkpoint and write of every thread of the session
    goes (`delete_thread`), then the session, its threads and tags in the
    store. A failure part way leaves the session in place with some
    threads already empty; calling again finishes. Stop runs on the
    session first: a run that saves into one of its threads afterwards
    starts a new (auto) session for that thread.

    Args:
        session_id: The session to erase.
        user_id: When given, must own the session (`SessionAccessError`).

    Returns:
        The deleted thread ids.

    Raises:
        SessionNotFoundError, SessionAccessError: nothing is changed.

    Example:
        ```python
        saver.delete_session(session.id, user_id=42)
        ```
    """
    session = yield from session_plan(session_id, user_id)
    assert session.id is not None
    # The store first: one transaction forgets the session and notes its
    # threads; their checkpoints go after. A crash in between leaves notes
    # that recovery (`recover_branches`, run when a saver opens) finishes.
    thread_ids: list[str] | None = yield from call(BaseSessionStore.delete_session, session.id)
    if thread_ids is None:
        raise SessionNotFoundError(f"session {session.id} not found (deleted meanwhile)")
    yield from erase_forgotten(thread_ids)
    return thread_ids


def prune_branches_plan(
    session_id: int,
    *,
    older_than: timedelta | None = None,
    status: str | None = None,
    user_id: UserId | None = None,
) -> Plan[list[str]]:
    """Remove the branches that are neither current nor an ancestor of it.

    The current thread and its chain of parents (`parent_thread_id`) are
    kept; any other thread of the session, the first one included, is
    deleted in the wrapped saver and forgotten by the store (with its tags).
    The first thread is kept whenever it is an ancestor of the current one,
    which it is unless an earlier prune removed a thread in between.
    Kept branches keep working: a branch is a self-contained copy and never
    reads its parent's checkpoints. A kept branch may then name a removed
    parent in `parent_thread_id`.

    Args:
        session_id: The session.
        older_than: Only remove branches created longer ago than this.
        status: Only remove branches with this status (`set_status`), e.g.
            `"abandoned"`; None: whatever their status.
        user_id: When given, must own the session (`SessionAccessError`).

    Returns:
        The removed thread ids, in the order they were added to the session.

    Example:
        ```python
        removed = saver.prune_branches(session.id, older_than=timedelta(days=7))
        saver.prune_branches(session.id, status="abandoned")
        ```
    """
    if status is not None:
        status = check.branch_status(status)
    if older_than is not None and not isinstance(older_than, timedelta):
        raise InvalidConfigError(f"older_than must be a datetime.timedelta, got {older_than!r}")
    if older_than is not None and older_than < timedelta(0):
        raise InvalidConfigError(f"older_than must not be negative, got {older_than!r}")
    session = yield from session_plan(session_id, user_id)
    assert session.id is not None
    threads: list[InternalSession] = yield from call(BaseSessionStore.list_threads, session.id)
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
        and (status is None or t.status == status)
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


# -- LangGraph's optional capabilities (the saver's `delete_thread`, ...) --------


def delete_thread_plan(thread_id: str) -> Plan[None]:
    """Delete the thread in the wrapped saver and take it out of its session.

    Also drops a leftover rewrite backup of it. If it was its session's
    current thread, the session's newest remaining thread becomes current;
    a session left without threads is deleted.
    """
    # The store first (checked and noted in one transaction), the saver after:
    # a crash in between leaves a note that recovery finishes.
    thread_id = str(thread_id)
    yield from call(BaseSessionStore.forget_thread, thread_id)
    yield from erase_forgotten([thread_id])


def copy_thread_plan(source_thread_id: str, target_thread_id: str) -> Plan[None]:
    """Copy every checkpoint and write of a thread, all namespaces, into another.

    Delegated when the wrapped saver implements it; otherwise done over its
    primitives, keeping ids, metadata, parent links and writes. The copy
    becomes a branch of the source's session, as a rollback's would: its
    parent thread is the source, its branch checkpoint the source's latest
    root checkpoint, and it becomes the session's current thread. With
    `auto_session`, a source no session holds is adopted first (`adopt`);
    without, the copy of such a source is left without a session. A target
    that already belongs to a session stays there, counted anew; an empty
    copy is registered nowhere.
    """
    source, target = str(source_thread_id), str(target_thread_id)
    if (yield from call(SaverContext.implements, "copy_thread")):
        yield from call(BaseCheckpointSaver.copy_thread, source, target)
    else:
        tuples = yield from read_thread(source)
        yield from put_tuples(target, tuples, drop_dangling_parents=False)
    record: InternalSession | None = yield from call(BaseSessionStore.get_thread, target)
    if record is not None:
        yield from resync_count(target, None)
        return
    copied = len((yield from read_thread(target)))
    head: CheckpointTuple | None = yield from call(
        BaseCheckpointSaver.get_tuple, checkpoint_config(source)
    )
    if copied == 0 or head is None:  # nothing copied, or nothing at the root to branch from
        return
    parent: InternalSession | None = yield from call(BaseSessionStore.get_thread, source)
    if parent is None:
        if not (yield from local(SaverContext.creates_sessions)):
            return
        yield from adopt_thread(source, "0", source)
        parent = yield from thread_plan(source, None)
    branch = InternalSession(
        thread_id=target,
        session_id=parent.session_id,
        parent_thread_id=source,
        branch_checkpoint_id=str(head.checkpoint["id"]),
        checkpoint_count=copied,
        is_branch=True,
    )
    yield from call(BaseSessionStore.add_branch, branch)


def prune_plan(thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> Plan[None]:
    """Prune threads: `"keep_latest"` per namespace (DeltaChannel-safe) or `"delete"`.

    Delegated when the wrapped saver implements it; otherwise done over its
    primitives (`_rewrite.py`: what is kept, and the non-atomic window).
    Counts of threads in sessions then equal what the saver holds; with
    `"delete"` the threads leave their sessions, as with `delete_thread`.
    """
    ids = _check_thread_ids(thread_ids)
    if strategy not in PRUNE_STRATEGIES:
        raise InvalidConfigError(
            f"unknown prune strategy {strategy!r} (use one of {PRUNE_STRATEGIES})"
        )
    if not ids:
        return
    native = yield from call(SaverContext.implements, "prune")
    if strategy == "delete":  # as `delete_thread`: the threads leave their sessions too
        for thread_id in ids:
            yield from call(BaseSessionStore.forget_thread, thread_id)
        if not native:
            yield from erase_forgotten(ids)
            return
        yield from call(BaseCheckpointSaver.prune, ids, strategy=strategy)
        for thread_id in ids:
            yield from call(BaseSessionStore.forget_pending_delete, thread_id)
        yield from local(SaverContext.forget, ids)
        return
    if native:
        yield from call(BaseCheckpointSaver.prune, ids, strategy=strategy)
        for thread_id in ids:
            yield from resync_count(thread_id, None)
        return
    for thread_id in ids:
        yield from rewrite_and_count(thread_id, keep_latest, drop=True)


def delete_for_runs_plan(run_ids: Sequence[str]) -> Plan[None]:
    """Delete the checkpoints (and their writes) whose metadata `run_id` is listed.

    Delegated when the wrapped saver implements it; otherwise each thread
    holding such checkpoints is rewritten without them (`_rewrite.py`).
    """
    if isinstance(run_ids, str | bytes):
        raise InvalidConfigError(f"run_ids must be a sequence of run ids, not {run_ids!r}")
    runs = list(dict.fromkeys(str(r) for r in run_ids))
    native = yield from call(SaverContext.implements, "delete_for_runs")
    if not native and runs:
        # Finish rewrites that died part way first: the threads they left may
        # hold none of these runs any more.
        yield from recover_rewrites()
    # The threads holding checkpoints of those runs (to rewrite, or to recount).
    threads: dict[str, None] = {}
    for run_id in runs:
        found: list[CheckpointTuple] = yield from gather(
            BaseCheckpointSaver.list, None, filter={"run_id": run_id}
        )
        for tup in found:
            thread_id = str(tup.config["configurable"]["thread_id"])
            if not thread_id.startswith(BACKUP_PREFIX):
                threads[thread_id] = None
    if native:
        yield from call(BaseCheckpointSaver.delete_for_runs, runs)
        for thread_id in threads:
            yield from resync_count(thread_id, None)
        return
    doomed = set(runs)

    def select(tuples: list[CheckpointTuple]) -> list[CheckpointTuple]:
        return [t for t in tuples if str(t.metadata.get("run_id")) not in doomed]

    for thread_id in threads:
        yield from rewrite_and_count(thread_id, select, drop=False)


class Maintenance(Service):
    """Erasure and pruning for one `AgentGitSaver` (its `maintenance`); see the plans."""

    delete_session, adelete_session = twins(delete_session_plan)
    prune_branches, aprune_branches = twins(prune_branches_plan)
    delete_thread, adelete_thread = twins(delete_thread_plan)
    copy_thread, acopy_thread = twins(copy_thread_plan)
    prune, aprune = twins(prune_plan)
    delete_for_runs, adelete_for_runs = twins(delete_for_runs_plan)
