"""Workers that do what production does to a database, and the invariants they must keep.

`worker` runs in a child process (started by a `forkserver` that has imported
this module, so a child is ready in milliseconds): it opens the saver on a
shared database and performs random operations (graph turns, rollbacks,
switches, tags, `prune_branches`, `delete_session`), forever or for a fixed
number. The crash harness SIGKILLs it at random moments, or it kills itself
at a named fault point (`agentgit_langgraph._faults`). `check` then verifies,
independently of `fsck`, every invariant README's "What holds after a crash"
promises.

Each worker owns the sessions whose threads it names `w<slot>-t<k>` and runs
graph turns, switches, prunes and deletes only on those: one writer per
conversation, as an agent server runs them. A worker restarted in the same
slot reuses the ids of the one killed there (ids reused across processes).
Rollbacks and tags go to any session, so they race with the owner's deletes
and prunes. With `cross=True` (the concurrency test, no kills) every
operation may go to any session.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentgit_langgraph import AgentGitError, AgentGitSaver, ExternalSession
from agentgit_langgraph._faults import set_hook
from agentgit_langgraph.maintenance import BACKUP_PREFIX
from tests.graphs import chat_graph_builder, human

__all__ = ["FAULT_POINTS", "Job", "check", "worker"]

FAULT_POINTS = (
    "put.before_save",
    "put.saved",
    "rollback.noted",
    "rollback.copied",
    "rollback.registered",
    "delete.forgotten",
    "delete.erased",
    "prune.planned",
)
THREADS_PER_SLOT = 4


@dataclass(frozen=True)
class Job:
    conn: str
    slot: int
    seed: int
    ops: int | None = None
    """Stop after this many operations (None: until killed)."""
    kill_at: str | None = None
    """A fault point where the worker SIGKILLs itself (with probability `kill_odds`)."""
    kill_odds: float = 0.5
    cross: bool = False
    errors: str = ""
    """A file to append unexpected tracebacks to."""


def _die(_point: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _own(slot: int, session: ExternalSession) -> bool:
    return session.session_name.startswith(f"w{slot}-")


def _step(saver: AgentGitSaver, graph: Any, job: Job, rng: random.Random, n: int) -> None:
    sessions = saver.list_sessions()
    mine = [s for s in sessions if job.cross or _own(job.slot, s)]
    op = rng.choice(["turn", "turn", "turn", "rollback", "rollback", "switch", "tag", "prune"])
    if op == "turn" or not sessions:
        if mine and rng.random() < 0.7:
            config = saver.config_for(rng.choice(mine))
        else:
            thread_id = f"w{job.slot}-t{rng.randrange(THREADS_PER_SLOT)}"
            config = {"configurable": {"thread_id": thread_id}}
        graph.invoke(human(f"turn {n}", n), config)
        return
    if op == "rollback":
        target = rng.choice(sessions)
        thread = rng.choice(target.internal_session_ids)
        root = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        history = list(saver.saver.list(root))
        if history:
            saver.rollback(rng.choice(history).config)
        return
    if op == "tag":
        target = rng.choice(sessions)
        config = saver.config_for(target)
        head = saver.saver.get_tuple(config)
        if head is not None:
            saver.tag(head.config, f"t{job.slot}-{n}-{rng.randrange(10**6)}")
        return
    if not mine:
        return
    target = rng.choice(mine)
    assert target.id is not None
    if op == "switch":
        saver.switch(target.id, rng.choice(target.internal_session_ids))
    elif rng.random() < 0.75:
        saver.prune_branches(target.id)
    else:
        saver.delete_session(target.id)


def worker(job: Job) -> None:
    """Entry point of a child process (see the module doc)."""
    rng = random.Random(job.seed)
    if job.kill_at is not None:
        odds = job.kill_odds
        set_hook(job.kill_at, lambda point: _die(point) if rng.random() < odds else None)
    try:
        with AgentGitSaver.from_conn_string(job.conn) as saver:
            graph = chat_graph_builder().compile(checkpointer=saver)
            n = 0
            while job.ops is None or n < job.ops:
                n += 1
                # Documented, typed: a session or thread another worker removed.
                with contextlib.suppress(AgentGitError):
                    _step(saver, graph, job, rng, n)
    except BaseException:
        if job.errors:
            with open(job.errors, "a") as f:
                f.write(f"slot {job.slot} seed {job.seed}:\n{traceback.format_exc()}\n")
        raise


def check(saver: AgentGitSaver) -> list[str]:
    """Every invariant, read from the wrapped saver and the store; the broken ones."""
    broken: list[str] = []
    held: dict[str, int] = {}
    for tup in saver.saver.list(None):
        thread_id = str(tup.config["configurable"]["thread_id"])
        held[thread_id] = held.get(thread_id, 0) + 1
    registered: set[str] = set()
    for session in saver.store.list_sessions():
        assert session.id is not None
        threads = saver.store.list_threads(session.id)
        ids = [t.thread_id for t in threads]
        registered.update(ids)
        where = f"session {session.id}"
        if session.internal_session_ids != ids:
            broken.append(f"{where}: internal_session_ids {session.internal_session_ids} != {ids}")
        if session.current_internal_session_id not in ids:
            broken.append(f"{where}: current {session.current_internal_session_id!r} not a thread")
        for t in threads:
            if t.checkpoint_count != held.get(t.thread_id, 0):
                broken.append(
                    f"{where}: {t.thread_id} counted {t.checkpoint_count}, "
                    f"holds {held.get(t.thread_id, 0)}"
                )
            if t.is_branch and held.get(t.thread_id, 0) == 0:
                broken.append(f"{where}: branch {t.thread_id} holds no checkpoint")
        if session.total_checkpoints != sum(held.get(t, 0) for t in ids):
            broken.append(f"{where}: total {session.total_checkpoints} != sum of its threads")
        branches = sum(1 for t in threads if t.is_branch)
        info = session.get_branch_info()
        if (session.branch_count, info["total_branches"], info["total_sessions"]) != (
            branches,
            branches,
            len(ids),
        ):
            broken.append(f"{where}: branch_count {session.branch_count}, {info}, {branches}")
        for tag in saver.store.list_tags(session.id):
            if tag.thread_id not in ids:
                broken.append(f"{where}: tag {tag.name} of lost thread {tag.thread_id}")
    for thread_id in sorted(set(held) - registered):
        if not thread_id.startswith(BACKUP_PREFIX):
            broken.append(f"thread {thread_id} holds {held[thread_id]} checkpoints, no session")
    broken += [f"pending branch note {p}" for p in saver.store.list_pending_branches()]
    broken += [f"pending delete note {p}" for p in saver.store.list_pending_deletes()]
    return broken


def tally(broken: Sequence[str]) -> str:
    return "\n".join(broken[:20]) + (f"\n... {len(broken) - 20} more" if len(broken) > 20 else "")


# -- single steps run in a child process, for the race tests -------------------------


def switch_to(conn: str, session_id: int, thread_id: str) -> None:
    """Make `thread_id` current, from another process."""
    with AgentGitSaver.from_conn_string(conn) as saver:
        saver.switch(session_id, thread_id)


def rollback_and_hold(conn: str, checkpoint_config: Any, reached: Any) -> None:
    """Roll back, stopping after the copy (before registering) until killed."""
    import time

    def hold(_point: str) -> None:
        reached.set()
        time.sleep(120)

    set_hook("rollback.copied", hold)
    with AgentGitSaver.from_conn_string(conn) as saver:
        saver.rollback(checkpoint_config)


def recover_in_zone(conn: str, zone: str, out: Any) -> None:
    """`recover_branches()` from a process whose local time zone is `zone`."""
    import time

    os.environ["TZ"] = zone
    time.tzset()
    with AgentGitSaver.from_conn_string(conn) as saver:
        out.put(saver.recover_branches())


def note_in_zone(conn: str, zone: str, thread_id: str, session_id: int, owner: str) -> None:
    """Note a pending branch from a process whose local time zone is `zone`."""
    import time

    os.environ["TZ"] = zone
    time.tzset()
    with AgentGitSaver.from_conn_string(conn) as saver:
        saver.store.begin_branch(thread_id, session_id, owner)


def write_across_a_delete(conn: str, thread_id: str, ran: Any, deleted: Any) -> None:
    """A turn, then (once another process deleted the session: `deleted`) another
    inside the window, then SIGKILL: the second turn's checkpoints are read by no one."""
    with AgentGitSaver.from_conn_string(conn, held_recheck_seconds=600) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        graph.invoke(human("before", 0), {"configurable": {"thread_id": thread_id}})
        ran.set()
        if not deleted.wait(60):
            raise TimeoutError("the session was never deleted")
        graph.invoke(human("after", 1), {"configurable": {"thread_id": thread_id}})
        os.kill(os.getpid(), signal.SIGKILL)
