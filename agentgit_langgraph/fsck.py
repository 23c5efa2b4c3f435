"""Check, and optionally repair, the invariants between the saver and the session store.

The invariants (README, "What holds after a crash"):

* every checkpoint the wrapped saver holds belongs to a thread of a session
  (rewrite backups and the threads of rollbacks still running excepted);
* each thread's `checkpoint_count` is what the saver holds for it, all
  namespaces; `total_checkpoints` is their sum (read in the same query);
* every branch thread holds at least one checkpoint (a session's first thread
  may hold none: a session created and not yet run);
* a session's current thread is one of its threads; `branch_count` is the
  number of its branch threads (both read from the same rows);
* nothing is left half done: no thread the store forgot still holds
  checkpoints, no rollback that died left its thread behind.

`fsck` reads every checkpoint through the saver's `list`, so it costs as much
as reading the whole history once: run it after a crash or on a schedule, not
per request. The cheap part of the repair, finishing what dead operations
left, also runs by itself when a saver is opened (`recover_branches`).

Example:
    ```python
    report = saver.fsck()            # read only
    print(report)
    saver.fsck(repair=True)          # and repair what it found
    ```
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph._context import SaverContext
from agentgit_langgraph._liveness import is_gone
from agentgit_langgraph._plan import Plan, call, gather, local
from agentgit_langgraph._rewrite import BACKUP_PREFIX
from agentgit_langgraph._validate import optional_owner
from agentgit_langgraph.errors import InvalidConfigError
from agentgit_langgraph.recovery import erase_forgotten
from agentgit_langgraph.sessions import ExternalSession, InternalSession, Tag
from agentgit_langgraph.stores.base import BaseSessionStore, PendingBranch

__all__ = ["FsckReport", "Violation", "fsck_plan"]

# Kinds of violation, each with what `repair=True` does about it.
PENDING_DELETE = "pending_delete"  # erase the thread's checkpoints, drop the note
DEAD_ROLLBACK = "dead_rollback"  # delete the thread, drop the note
STALE_NOTE = "stale_note"  # a registered branch's note: drop it
ORPHAN_THREAD = "orphan_thread"  # adopt it in a new session (owner from its metadata)
COUNT_MISMATCH = "count_mismatch"  # set the count to what the saver holds
EMPTY_BRANCH = "empty_branch"  # take the branch out of its session
CURRENT_MISSING = "current_missing"  # make the newest thread current
DANGLING_TAG = "dangling_tag"  # a tag of a thread no longer in the session: delete it


@dataclass(frozen=True)
class Violation:
    """One broken invariant: what kind, about which thread or session, and what was done."""

    kind: str
    subject: str
    detail: str
    repaired: bool = False

    def __str__(self) -> str:
        done = " (repaired)" if self.repaired else ""
        return f"{self.kind}: {self.subject}: {self.detail}{done}"


@dataclass(frozen=True)
class FsckReport:
    """What `fsck` found (and, with `repair=True`, repaired)."""

    violations: builtins.list[Violation] = field(default_factory=list)
    threads_checked: int = 0
    sessions_checked: int = 0

    @property
    def clean(self) -> bool:
        """No violation, or every one repaired."""
        return all(v.repaired for v in self.violations)

    def __str__(self) -> str:
        head = (
            f"{self.sessions_checked} sessions, {self.threads_checked} threads checked: "
            f"{len(self.violations)} violation(s)"
        )
        return "\n".join([head, *(f"  {v}" for v in self.violations)])


def _owner_from(metadata: Mapping[str, Any]) -> str:
    """Whom an orphan belongs to: the `user_id` LangGraph copied from its run's
    config into the checkpoint's metadata, else user 0."""
    try:
        return optional_owner(metadata.get("user_id")) or "0"
    except InvalidConfigError:
        return "0"


def _saver_threads(
    tuples: builtins.list[CheckpointTuple],
) -> tuple[dict[str, int], dict[str, Mapping[str, Any]]]:
    """Checkpoints per thread (all namespaces) and the newest root metadata of each."""
    counts: dict[str, int] = {}
    newest: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for tup in tuples:
        configurable = tup.config["configurable"]
        thread_id = str(configurable["thread_id"])
        counts[thread_id] = counts.get(thread_id, 0) + 1
        if not configurable.get("checkpoint_ns"):
            checkpoint_id = str(tup.checkpoint["id"])
            if thread_id not in newest or checkpoint_id > newest[thread_id][0]:
                newest[thread_id] = (checkpoint_id, tup.metadata or {})
    return counts, {t: m for t, (_, m) in newest.items()}


def fsck_plan(
    *, repair: bool = False, older_than: timedelta = timedelta(minutes=10)
) -> Plan[FsckReport]:
    """Check every invariant between the wrapped saver and the store; repair with `repair`.

    Reports each violation found (`FsckReport.violations`) and, with
    `repair=True`, what it did about it: finishes deletes and removes the
    threads of dead rollbacks (as `recover_branches`, with `older_than`
    for notes from other hosts), adopts checkpoints no session holds into
    a session of their run's `user_id`, sets counts to what the saver
    holds, takes empty branches out of their session and gives a session
    whose current thread is gone its newest one. Reads the whole history
    once (see `agentgit_langgraph.fsck`); run it with no writer active for
    an exact picture, though it is safe at any time.

    Example:
        ```python
        report = saver.fsck(repair=True)
        assert report.clean, str(report)
        ```
    """
    report = yield from _check(repair=repair, grace=older_than)
    yield from local(SaverContext.forget, [v.subject for v in report.violations])
    return report


def _check(*, repair: bool, grace: timedelta) -> Plan[FsckReport]:
    found: builtins.list[Violation] = []

    def note(kind: str, subject: str, detail: str) -> None:
        found.append(Violation(kind, subject, detail, repaired=repair))

    # Half-done operations first: repairing them changes what the saver holds.
    noted: set[str] = set()  # threads reported (or running) as half done, not as orphans
    for thread_id in (yield from call(BaseSessionStore.list_pending_deletes)):
        noted.add(thread_id)
        note(PENDING_DELETE, thread_id, "forgotten by the store, checkpoints not yet erased")
        if repair:
            yield from erase_forgotten([thread_id])
    notes: builtins.list[PendingBranch] = yield from call(BaseSessionStore.list_pending_branches)
    for pending in notes:
        noted.add(pending.thread_id)
        if pending.registered:
            note(STALE_NOTE, pending.thread_id, "registered branch still noted as pending")
            if repair:
                yield from call(BaseSessionStore.forget_pending_branch, pending.thread_id)
        elif is_gone(pending.owner, pending.created_at, grace=grace):
            note(DEAD_ROLLBACK, pending.thread_id, f"rollback by {pending.owner!r} died")
            if repair:
                yield from call(BaseCheckpointSaver.delete_thread, pending.thread_id)
                yield from call(BaseSessionStore.forget_pending_branch, pending.thread_id)

    tuples: builtins.list[CheckpointTuple] = yield from gather(BaseCheckpointSaver.list, None)
    held, newest_metadata = _saver_threads(tuples)
    sessions: builtins.list[ExternalSession] = yield from call(BaseSessionStore.list_sessions)
    registered: set[str] = set()
    threads_checked = 0
    for session in sessions:
        assert session.id is not None
        threads: builtins.list[InternalSession] = yield from call(
            BaseSessionStore.list_threads, session.id
        )
        ids = [t.thread_id for t in threads]
        for thread in threads:
            threads_checked += 1
            registered.add(thread.thread_id)
            count = held.get(thread.thread_id, 0)
            if thread.checkpoint_count != count:
                note(
                    COUNT_MISMATCH,
                    thread.thread_id,
                    f"counted {thread.checkpoint_count}, the saver holds {count}",
                )
                if repair:
                    delta = count - thread.checkpoint_count
                    yield from call(BaseSessionStore.record_checkpoints, thread.thread_id, delta)
            if count == 0 and thread.is_branch:
                note(EMPTY_BRANCH, thread.thread_id, f"branch of session {session.id} is empty")
                if repair:
                    yield from call(BaseSessionStore.forget_thread, thread.thread_id)
                    yield from call(BaseSessionStore.forget_pending_delete, thread.thread_id)
                    ids.remove(thread.thread_id)
        tags: builtins.list[Tag] = yield from call(BaseSessionStore.list_tags, session.id)
        for tag in tags:
            if tag.thread_id not in ids:
                note(DANGLING_TAG, f"session {session.id}", f"tag {tag.name!r} names a lost thread")
                if repair:
                    yield from call(BaseSessionStore.delete_tag, session.id, tag.name)
        if ids and session.current_internal_session_id not in ids:
            note(
                CURRENT_MISSING,
                f"session {session.id}",
                f"current thread {session.current_internal_session_id!r} is not one of its threads",
            )
            if repair:
                yield from call(BaseSessionStore.set_current, session.id, ids[-1])
    for thread_id, count in held.items():
        if thread_id in registered or thread_id in noted or thread_id.startswith(BACKUP_PREFIX):
            continue
        owner = _owner_from(newest_metadata.get(thread_id, {}))
        note(ORPHAN_THREAD, thread_id, f"{count} checkpoint(s) in no session (owner {owner})")
        if repair:
            yield from call(BaseSessionStore.ensure_session_for_thread, thread_id, user_id=owner)
            yield from call(
                BaseSessionStore.record_checkpoints, thread_id, count
            )  # where counted apart
    return FsckReport(found, threads_checked=threads_checked, sessions_checked=len(sessions))
