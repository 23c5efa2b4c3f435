"""Finishing what operations that died part way left.

Every multi-step operation leaves a note in the session store before its
first irreversible step (a delete notes the threads the store forgot; a
rollback notes the thread it is about to copy into) and clears it at the end.
`recover_branches` acts on the notes whose operation is gone; `fsck` (see
`fsck.py`) checks everything else.

Example:
    ```python
    deleted = saver.recover_branches()          # run_sync(recover_branches_plan(), targets)
    ```
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from langgraph.checkpoint.base import BaseCheckpointSaver

from agentgit_langgraph._context import SaverContext
from agentgit_langgraph._faults import reached
from agentgit_langgraph._liveness import is_gone
from agentgit_langgraph._plan import Plan, call, local
from agentgit_langgraph._rewrite import delete_thread_rows
from agentgit_langgraph.errors import InvalidConfigError
from agentgit_langgraph.stores.base import BaseSessionStore, PendingBranch

__all__ = ["erase_forgotten", "finish_pending_deletes", "recover_branches_plan"]


def erase_forgotten(thread_ids: Sequence[str]) -> Plan[None]:
    """Delete the checkpoints of threads the store has just forgotten, then the notes."""
    reached("delete.forgotten")
    for thread_id in thread_ids:
        yield from delete_thread_rows(thread_id)
        yield from call(BaseSessionStore.forget_pending_delete, thread_id)
    reached("delete.erased")
    yield from local(SaverContext.forget, thread_ids)


def finish_pending_deletes() -> Plan[list[str]]:
    """Erase what deletes that died after the store forgot their threads left."""
    pending: list[str] = yield from call(BaseSessionStore.list_pending_deletes)
    yield from erase_forgotten(pending)
    return pending


def recover_branches_plan(*, older_than: timedelta = timedelta(minutes=10)) -> Plan[list[str]]:
    """Finish what operations that died part way left; return the branch threads deleted.

    * Threads the store already forgot (`delete_session`, `prune_branches`,
      `delete_thread`) whose checkpoints were not all deleted yet: deleted.
    * Rollbacks that died before registering their branch: a rollback
      notes its new thread before copying into it, signed by its process
      (`_liveness.py`), and clears the note when it registers the branch.
      The thread is deleted once that process is gone: at once on this
      host; after `older_than` (counted in UTC) for a note from another
      host, which cannot be checked. A note of a branch that was
      registered after all is only dropped.

    Runs by itself when a saver is opened with `from_conn_string`, and as
    part of `fsck(repair=True)`. Safe while other processes work.

    Example:
        ```python
        deleted = saver.recover_branches(older_than=timedelta(minutes=30))
        ```
    """
    if not isinstance(older_than, timedelta) or older_than < timedelta(0):
        raise InvalidConfigError(f"older_than must be a non-negative timedelta: {older_than!r}")
    yield from finish_pending_deletes()
    notes: list[PendingBranch] = yield from call(BaseSessionStore.list_pending_branches)
    deleted: list[str] = []
    for note in notes:
        if note.registered:  # registered after all: only the note is stale
            yield from call(BaseSessionStore.forget_pending_branch, note.thread_id)
        elif is_gone(note.owner, note.created_at, grace=older_than):
            yield from call(BaseCheckpointSaver.delete_thread, note.thread_id)
            yield from call(BaseSessionStore.forget_pending_branch, note.thread_id)
            deleted.append(note.thread_id)
    yield from local(SaverContext.forget, deleted)
    return deleted
