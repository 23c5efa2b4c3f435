"""Concurrency: counting, rollback, switch and auto sessions under real contention.

Every test runs on one SQLite file and on PostgreSQL (skipped until
`agentgit_langgraph.stores.postgres` exists or when no server answers), through
`AgentGitSaver.from_conn_string` / `afrom_conn_string`, and asserts exact
numbers: a lost update, a duplicated branch or a second session fails it.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import CheckpointTuple

from agentgit_langgraph import AgentGitError, AgentGitSaver, ExternalSession, InternalSession
from tests import chaos
from tests.concurrency_worker import fresh_checkpoint, put_many
from tests.conftest import postgres_backends_enabled
from tests.graphs import chat_graph_builder, human

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
SAVES = 500  # per worker
ROLLBACKS = 20
TIMEOUT = 120  # seconds any one wait may take before the test fails instead of hanging


@pytest.fixture(params=["sqlite", "postgres"])
def conn_string(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One SQLite file per test, or this run's PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "agent.db")
    if not postgres_backends_enabled():
        pytest.skip("agentgit_langgraph.stores.postgres does not exist yet")
    uri: str = request.getfixturevalue("postgres_schema_uri")
    return uri


def _unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


def _ids(session: ExternalSession) -> tuple[int, str]:
    """The session's id and its current thread."""
    assert session.id is not None
    assert session.current_internal_session_id is not None
    return session.id, session.current_internal_session_id


def _config(thread_id: str, checkpoint_id: str | None = None) -> Any:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


# -- reading a session and what the wrapped saver holds for it -----------------


@dataclass
class Snapshot:
    session: ExternalSession
    threads: list[InternalSession]
    held: dict[str, list[CheckpointTuple]]  # thread id -> the saver's checkpoints, newest first

    def thread(self, thread_id: str) -> InternalSession:
        return next(t for t in self.threads if t.thread_id == thread_id)

    def held_ids(self, thread_id: str) -> list[str]:
        return [t.checkpoint["id"] for t in self.held[thread_id]]


def snapshot(saver: AgentGitSaver, session_id: int) -> Snapshot:
    session = saver.get_session(session_id)
    threads = saver.branches(session_id)
    held = {
        t.thread_id: list(saver.list({"configurable": {"thread_id": t.thread_id}})) for t in threads
    }
    return Snapshot(session, threads, held)


async def asnapshot(saver: AgentGitSaver, session_id: int) -> Snapshot:
    session = await saver.aget_session(session_id)
    threads = await saver.abranches(session_id)
    held = {
        t.thread_id: [c async for c in saver.alist({"configurable": {"thread_id": t.thread_id}})]
        for t in threads
    }
    return Snapshot(session, threads, held)


def assert_consistent(snap: Snapshot) -> None:
    """The session agrees with its threads, and every count with the saver."""
    s = snap.session
    ids = s.internal_session_ids
    assert len(ids) == len(set(ids)), f"duplicate thread ids in session {s.id}: {ids}"
    assert [t.thread_id for t in snap.threads] == ids
    assert s.current_internal_session_id in ids
    assert s.branch_count == sum(t.is_branch for t in snap.threads) == len(ids) - 1
    for t in snap.threads:
        assert t.checkpoint_count == len(snap.held[t.thread_id]), (
            f"thread {t.thread_id}: counted {t.checkpoint_count}, "
            f"the saver holds {len(snap.held[t.thread_id])}"
        )
    assert s.total_checkpoints == sum(len(h) for h in snap.held.values())


def assert_session_invariants(session: ExternalSession, base_checkpoints: int) -> None:
    """What must hold in any single read while branches are being added: each
    branch copied exactly one checkpoint, the first thread is not a branch."""
    ids = session.internal_session_ids
    assert len(ids) == len(set(ids)), f"duplicate thread ids: {ids}"
    assert session.current_internal_session_id in ids, (
        f"current thread {session.current_internal_session_id!r} is not one of {ids}"
    )
    assert session.branch_count == len(ids) - 1, (
        f"branch_count {session.branch_count} but {len(ids) - 1} branches in {ids}"
    )
    assert session.total_checkpoints == base_checkpoints + session.branch_count


# -- 1. counting saves -----------------------------------------------------------


def _session_with_threads(saver: AgentGitSaver, own: int) -> tuple[int, str, list[str]]:
    """A session whose first thread is shared, plus `own` more threads, all at 0 saves."""
    saver.setup()
    session_id, shared = _ids(saver.create_session(session_name=_unique("counting")))
    threads = [f"{shared}-own-{k}" for k in range(own)]
    for thread_id in threads:
        saver.store.add_branch(
            InternalSession(
                thread_id=thread_id, session_id=session_id, parent_thread_id=shared, is_branch=True
            )
        )
    saver.switch(session_id, shared)
    return session_id, shared, threads


def _assert_counted(
    saver: AgentGitSaver, session_id: int, saved: Sequence[dict[str, list[str]]]
) -> None:
    """Every save of every writer is in the saver and counted exactly once."""
    expected: dict[str, list[str]] = {}
    for per_writer in saved:
        for thread_id, ids in per_writer.items():
            expected.setdefault(thread_id, []).extend(ids)
    snap = snapshot(saver, session_id)
    assert_consistent(snap)
    assert snap.session.total_checkpoints == WORKERS * SAVES
    assert set(snap.session.internal_session_ids) == set(expected)
    for thread_id, ids in expected.items():
        assert len(ids) == len(set(ids))
        assert snap.thread(thread_id).checkpoint_count == len(ids)
        assert sorted(snap.held_ids(thread_id)) == sorted(ids)


def _readline(proc: subprocess.Popen[str], timeout: float, kill: list[Any]) -> str:
    """A line of the worker's stdout; kills the workers if none comes in time."""
    stdout = proc.stdout
    assert stdout is not None
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box:
        for p in kill:
            p.kill()
        reader.join()
        pytest.fail(f"no line from worker within {timeout}s")
    return box[0]


def test_processes_count_every_save(conn_string: str) -> None:
    """4 processes x 500 puts into threads of one session: exactly 2000 counted."""
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        session_id, shared, own = _session_with_threads(saver, WORKERS)

    procs = []
    try:
        for k in range(WORKERS):
            args = {
                "conn": conn_string,
                "threads": [own[k], shared],
                "saves": SAVES,
                "writer": f"p{k}",
            }
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.concurrency_worker", json.dumps(args)],
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for p in procs:  # all open and set up before any saves
            line = _readline(p, TIMEOUT, kill=procs)
            if line.strip() != "ready":
                pytest.fail(f"worker did not start: {line!r} {p.communicate(timeout=TIMEOUT)[1]}")
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        saved = []
        for p in procs:
            out, err = p.communicate(timeout=TIMEOUT)
            assert p.returncode == 0, err
            saved.append(json.loads(out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    assert [len(ids) for s in saved for ids in s.values()] == [SAVES // 2] * (2 * WORKERS)
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        _assert_counted(saver, session_id, saved)
        assert saver.get_session(session_id).total_checkpoints == 2000


def test_threads_count_every_save(conn_string: str) -> None:
    """4 threads sharing one saver x 500 puts: exactly 2000 counted."""
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        session_id, shared, own = _session_with_threads(saver, WORKERS)
        start = threading.Barrier(WORKERS)

        def work(k: int) -> dict[str, list[str]]:
            start.wait(timeout=TIMEOUT)
            return put_many(saver, [own[k], shared], SAVES, f"t{k}")

        with ThreadPoolExecutor(WORKERS) as pool:
            saved = list(pool.map(work, range(WORKERS), timeout=TIMEOUT))
        _assert_counted(saver, session_id, saved)
        assert saver.get_session(session_id).total_checkpoints == 2000


# -- 2. concurrent rollbacks from one checkpoint ---------------------------------


def _source_thread(saver: AgentGitSaver) -> tuple[int, str, list[str]]:
    """A session whose thread holds 3 checkpoints, the head with pending writes."""
    session_id, thread_id = _ids(saver.create_session(session_name=_unique("rollbacks")))
    ids = put_many(saver, [thread_id], 3, "source")[thread_id]
    saver.put_writes(_config(thread_id, ids[-1]), [("n", "pending"), ("m", 1)], "task-1")
    return session_id, thread_id, ids


async def _asource_thread(saver: AgentGitSaver) -> tuple[int, str, list[str]]:
    session_id, thread_id = _ids(await saver.acreate_session(session_name=_unique("rollbacks")))
    ids: list[str] = []
    prev = None
    for i in range(3):
        checkpoint, versions = fresh_checkpoint(saver, f"source:{i}", prev)
        config = _config(thread_id, prev["id"] if prev else None)
        metadata: Any = {"source": "loop", "step": i}
        await saver.aput(config, checkpoint, metadata, versions)
        ids.append(checkpoint["id"])
        prev = checkpoint
    await saver.aput_writes(_config(thread_id, ids[-1]), [("n", "pending"), ("m", 1)], "task-1")
    return session_id, thread_id, ids


def _assert_rollbacks(
    snap: Snapshot, source_thread: str, source_ids: list[str], returned: list[Any]
) -> None:
    new = [c["configurable"]["thread_id"] for c in returned]
    assert len(new) == ROLLBACKS
    assert len(set(new)) == ROLLBACKS, f"rollbacks returned duplicate threads: {new}"
    assert source_thread not in new
    assert_consistent(snap)
    s = snap.session
    assert s.branch_count == ROLLBACKS
    assert s.internal_session_ids[0] == source_thread
    assert sorted(s.internal_session_ids[1:]) == sorted(new)
    assert s.current_internal_session_id in new
    assert s.total_checkpoints == len(source_ids) + ROLLBACKS
    assert snap.held_ids(source_thread) == source_ids[::-1]  # the original is untouched
    source = snap.held[source_thread][0]
    for thread_id in new:
        branch = snap.thread(thread_id)
        assert branch.is_branch
        assert branch.parent_thread_id == source_thread
        assert branch.branch_checkpoint_id == source_ids[-1]
        assert branch.checkpoint_count == 1
        [copy] = snap.held[thread_id]
        assert copy.checkpoint["id"] == source_ids[-1]
        assert copy.checkpoint["channel_values"] == source.checkpoint["channel_values"]
        assert sorted(map(repr, copy.pending_writes or [])) == sorted(
            map(repr, source.pending_writes or [])
        )
        assert len(copy.pending_writes or []) == 2


def test_concurrent_rollbacks_threads(conn_string: str) -> None:
    """20 threads roll back to the same checkpoint at once: 20 distinct branches."""
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        session_id, thread_id, ids = _source_thread(saver)
        start = threading.Barrier(ROLLBACKS)

        def rollback(k: int) -> Any:
            start.wait(timeout=TIMEOUT)
            return saver.rollback(_config(thread_id, ids[-1]), name=f"b{k}")

        with ThreadPoolExecutor(ROLLBACKS) as pool:
            returned = list(pool.map(rollback, range(ROLLBACKS), timeout=TIMEOUT))
        _assert_rollbacks(snapshot(saver, session_id), thread_id, ids, returned)


async def test_concurrent_rollbacks_tasks(conn_string: str) -> None:
    """20 asyncio tasks `arollback` to the same checkpoint at once: 20 distinct branches."""
    async with AgentGitSaver.afrom_conn_string(conn_string) as saver:
        await saver.asetup()
        session_id, thread_id, ids = await _asource_thread(saver)
        returned = await asyncio.wait_for(
            asyncio.gather(
                *(
                    saver.arollback(_config(thread_id, ids[-1]), name=f"b{k}")
                    for k in range(ROLLBACKS)
                )
            ),
            TIMEOUT,
        )
        _assert_rollbacks(await asnapshot(saver, session_id), thread_id, ids, list(returned))


# -- 3. switch and rollback interleaved ------------------------------------------


async def test_switch_and_rollback_interleaved(conn_string: str) -> None:
    """10 rollbacks and 50 switches, half from threads (sync saver), half from
    asyncio tasks (async saver), all at once on the same session: after every
    operation the current thread is one of the session's and every count is exact."""
    rng = random.Random(1234)
    with AgentGitSaver.from_conn_string(conn_string) as sync_saver:
        sync_saver.setup()
        async with AgentGitSaver.afrom_conn_string(conn_string) as async_saver:
            await async_saver.asetup()
            session_id, first = _ids(sync_saver.create_session(session_name=_unique("switching")))
            base = 2
            head = {first: put_many(sync_saver, [first], base, "first")[first][-1]}
            known = [first]  # threads whose creation has returned
            lock = threading.Lock()
            seen_currents: set[str] = set()

            def pick() -> tuple[str, str]:
                with lock:
                    thread_id = rng.choice(known)
                    return thread_id, head[thread_id]

            def created(config: Any, checkpoint_id: str) -> None:
                new = config["configurable"]["thread_id"]
                with lock:
                    assert new not in head
                    known.append(new)
                    head[new] = checkpoint_id

            def check(s: ExternalSession) -> None:
                assert_session_invariants(s, base)
                with lock:
                    seen_currents.add(str(s.current_internal_session_id))

            def sync_op(kind: str) -> None:
                thread_id, checkpoint_id = pick()
                if kind == "rollback":
                    created(sync_saver.rollback(_config(thread_id, checkpoint_id)), checkpoint_id)
                else:
                    config = sync_saver.switch(session_id, thread_id)
                    assert config["configurable"]["thread_id"] == thread_id
                check(sync_saver.get_session(session_id))

            async def async_op(kind: str) -> None:
                await asyncio.sleep(rng.random() * 0.01)
                thread_id, checkpoint_id = pick()
                if kind == "rollback":
                    created(
                        await async_saver.arollback(_config(thread_id, checkpoint_id)),
                        checkpoint_id,
                    )
                else:
                    config = await async_saver.aswitch(session_id, thread_id)
                    assert config["configurable"]["thread_id"] == thread_id
                check(await async_saver.aget_session(session_id))

            sync_kinds = ["rollback"] * 5 + ["switch"] * 25
            async_kinds = ["rollback"] * 5 + ["switch"] * 25
            rng.shuffle(sync_kinds)
            rng.shuffle(async_kinds)
            loop = asyncio.get_running_loop()
            with ThreadPoolExecutor(4) as pool:
                jobs: list[Any] = []
                for sync_kind, async_kind in zip(sync_kinds, async_kinds, strict=True):
                    jobs.append(loop.run_in_executor(pool, sync_op, sync_kind))
                    jobs.append(async_op(async_kind))
                await asyncio.wait_for(asyncio.gather(*jobs), TIMEOUT)

            snap = snapshot(sync_saver, session_id)
            assert_consistent(snap)
            assert_session_invariants(snap.session, base)
            assert snap.session.branch_count == 10
            assert len(snap.session.internal_session_ids) == 11
            assert sorted(snap.session.internal_session_ids) == sorted(known)
            assert snap.session.total_checkpoints == base + 10
            assert seen_currents <= set(known)
            for thread_id in known[1:]:
                assert snap.held_ids(thread_id) == [head[thread_id]]
            assert (
                await asnapshot(async_saver, session_id)
            ).session.to_dict() == snap.session.to_dict()

            # Quiet again: each operation's effect is exactly what it says.
            for thread_id in [first, *known[1:]]:
                sync_saver.switch(session_id, thread_id)
                assert sync_saver.get_session(session_id).current_internal_session_id == thread_id
            last = await async_saver.arollback(_config(first, head[first]))
            after = await async_saver.aget_session(session_id)
            assert after.current_internal_session_id == last["configurable"]["thread_id"]
            assert after.branch_count == 11
            assert after.total_checkpoints == base + 11


READ_ROLLBACKS = 120


@pytest.mark.parametrize("reader_api", ["sync", "async"])
async def test_reads_are_consistent_during_rollbacks(conn_string: str, reader_api: str) -> None:
    """While 2 threads add branches, a reader on other connections (sync or async
    store) never sees a session whose `branch_count`, threads and
    `total_checkpoints` disagree: `get_session` and `list_sessions` each read
    one snapshot."""
    user_id = random.randrange(10**6, 10**9)
    with (
        AgentGitSaver.from_conn_string(conn_string) as writer,
        AgentGitSaver.from_conn_string(conn_string) as reader,
    ):
        writer.setup()
        reader.setup()
        session_id, first = _ids(
            writer.create_session(user_id=user_id, session_name=_unique("reads"))
        )
        source = put_many(writer, [first], 1, "first")[first][-1]
        done = threading.Event()
        violations: list[str] = []
        reads = 0

        def check(sessions: list[ExternalSession]) -> None:
            nonlocal reads
            reads += 1
            for s in sessions:
                try:
                    assert_session_invariants(s, 1)
                except AssertionError as exc:
                    violations.append(str(exc).splitlines()[0])

        def read() -> None:
            while not done.is_set():
                check([reader.get_session(session_id), *reader.list_sessions(user_id)])

        def rollbacks() -> None:
            for _ in range(READ_ROLLBACKS // 2):
                writer.rollback(_config(first, source))

        loop = asyncio.get_running_loop()
        async with AgentGitSaver.afrom_conn_string(conn_string) as areader:
            await areader.asetup()
            with ThreadPoolExecutor(3) as pool:
                writing = asyncio.gather(*(loop.run_in_executor(pool, rollbacks) for _ in range(2)))
                writing.add_done_callback(lambda _: done.set())
                if reader_api == "sync":
                    await loop.run_in_executor(pool, read)
                else:
                    while not done.is_set():
                        got = await areader.aget_session(session_id)
                        check([got, *(await areader.alist_sessions(user_id))])
                await asyncio.wait_for(writing, TIMEOUT)
        assert reads > 0
        assert not violations, f"{len(violations)} of {reads} reads inconsistent: {violations[:3]}"
        snap = snapshot(writer, session_id)
        assert_consistent(snap)
        assert snap.session.branch_count == READ_ROLLBACKS
        assert snap.session.total_checkpoints == 1 + READ_ROLLBACKS


# -- 4. auto sessions ------------------------------------------------------------

RACERS = 8


def _assert_one_session(saver: AgentGitSaver, thread_id: str, user_id: int) -> None:
    sessions = saver.list_sessions(user_id)
    assert len(sessions) == 1, f"{len(sessions)} sessions for thread {thread_id!r}: {sessions}"
    [s] = sessions
    assert saver.session_for_thread(thread_id).id == s.id is not None
    assert s.session_name == thread_id
    assert s.internal_session_ids == [thread_id]
    assert s.current_internal_session_id == thread_id
    assert s.branch_count == 0
    assert s.total_checkpoints == RACERS
    assert_consistent(snapshot(saver, _ids(s)[0]))


def _racing_put(saver: AgentGitSaver, thread_id: str, user_id: int, k: int) -> None:
    checkpoint, versions = fresh_checkpoint(saver, f"racer:{k}")
    config: Any = {
        "configurable": {"thread_id": thread_id, "checkpoint_ns": "", "user_id": user_id}
    }
    metadata: Any = {"source": "input", "step": -1}
    saver.put(config, checkpoint, metadata, versions)


@pytest.mark.parametrize("savers", ["shared", "one-per-thread"])
def test_auto_session_race_threads(conn_string: str, savers: str) -> None:
    """8 threads make the first put into the same unknown thread at once: one session."""
    thread_id = _unique("auto")
    user_id = random.randrange(10**6, 10**9)
    count = 1 if savers == "shared" else RACERS
    opened: list[Any] = [AgentGitSaver.from_conn_string(conn_string) for _ in range(count)]
    try:
        instances = [cm.__enter__() for cm in opened]
        for s in instances:
            s.setup()
        start = threading.Barrier(RACERS)

        def race(k: int) -> None:
            saver = instances[k % count]
            start.wait(timeout=TIMEOUT)
            _racing_put(saver, thread_id, user_id, k)

        with ThreadPoolExecutor(RACERS) as pool:
            list(pool.map(race, range(RACERS), timeout=TIMEOUT))
        _assert_one_session(instances[0], thread_id, user_id)
    finally:
        for cm in reversed(opened):
            cm.__exit__(None, None, None)


async def test_auto_session_race_tasks(conn_string: str) -> None:
    """8 asyncio tasks make the first `aput` into the same unknown thread: one session."""
    thread_id = _unique("auto")
    user_id = random.randrange(10**6, 10**9)
    async with AgentGitSaver.afrom_conn_string(conn_string) as saver:
        await saver.asetup()

        async def race(k: int) -> None:
            checkpoint, versions = fresh_checkpoint(saver, f"racer:{k}")
            config: Any = {
                "configurable": {"thread_id": thread_id, "checkpoint_ns": "", "user_id": user_id}
            }
            metadata: Any = {"source": "input", "step": -1}
            await saver.aput(config, checkpoint, metadata, versions)

        await asyncio.wait_for(asyncio.gather(*(race(k) for k in range(RACERS))), TIMEOUT)
        sessions = await saver.alist_sessions(user_id)
        assert len(sessions) == 1, f"{len(sessions)} sessions for thread {thread_id!r}"
        [s] = sessions
        assert s.internal_session_ids == [thread_id]
        assert s.total_checkpoints == RACERS
        assert_consistent(await asnapshot(saver, _ids(s)[0]))


# -- 6. sessions deleted by another saver while threads write inside the window ----


def test_threads_writing_while_another_saver_deletes_their_sessions(conn_string: str) -> None:
    """4 threads run graph turns with a short window (`held_recheck_seconds`) while
    another saver deletes their sessions at random: no error but documented typed
    ones, and once the writers' saver closed, every invariant holds (every
    checkpoint in a session, every count exact)."""
    threads = [[_unique(f"w{k}-t{j}") for j in range(3)] for k in range(WORKERS)]
    stop = threading.Event()
    deleted: list[int] = []
    with AgentGitSaver.from_conn_string(conn_string, held_recheck_seconds=0.05) as ours:
        graph = chat_graph_builder().compile(checkpointer=ours)
        start = threading.Barrier(WORKERS + 1)

        def write(k: int) -> None:
            start.wait(timeout=TIMEOUT)
            for turn in range(8):
                for thread_id in threads[k]:
                    graph.invoke(
                        human(f"turn {turn}", turn), {"configurable": {"thread_id": thread_id}}
                    )

        def delete() -> None:
            rng = random.Random(7)
            with AgentGitSaver.from_conn_string(conn_string) as other:
                start.wait(timeout=TIMEOUT)
                while not stop.wait(0.02):
                    sessions = other.list_sessions()
                    if not sessions:
                        continue
                    victim = rng.choice(sessions)
                    assert victim.id is not None
                    try:
                        other.delete_session(victim.id)
                        deleted.append(victim.id)
                    except AgentGitError:
                        pass  # documented and typed: gone already, or a branch busy

        deleter = threading.Thread(target=delete)
        deleter.start()
        try:
            with ThreadPoolExecutor(WORKERS) as pool:
                list(pool.map(write, range(WORKERS), timeout=TIMEOUT))
        finally:
            stop.set()
            deleter.join(TIMEOUT)
    assert deleted, "the other saver deleted nothing: the race did not happen"
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        broken = chaos.check(saver)
        assert broken == [], chaos.tally(broken)
        assert saver.fsck().violations == []


async def test_tasks_writing_while_another_saver_deletes_their_sessions(conn_string: str) -> None:
    """The async twin: 4 asyncio tasks run `ainvoke` turns while a task of another
    saver deletes their sessions; every invariant holds once the writers' saver closed."""
    threads = [[_unique(f"a{k}-t{j}") for j in range(3)] for k in range(WORKERS)]
    stop = asyncio.Event()
    deleted: list[int] = []
    async with (
        AgentGitSaver.afrom_conn_string(conn_string, held_recheck_seconds=0.05) as ours,
        AgentGitSaver.afrom_conn_string(conn_string) as other,
    ):
        graph = chat_graph_builder().compile(checkpointer=ours)

        async def write(k: int) -> None:
            for turn in range(8):
                for thread_id in threads[k]:
                    config: Any = {"configurable": {"thread_id": thread_id}}
                    await graph.ainvoke(human(f"turn {turn}", turn), config)

        async def delete() -> None:
            rng = random.Random(7)
            while not stop.is_set():
                await asyncio.sleep(0.02)
                sessions = await other.alist_sessions()
                if sessions:
                    victim = rng.choice(sessions)
                    assert victim.id is not None
                    try:
                        await other.adelete_session(victim.id)
                        deleted.append(victim.id)
                    except AgentGitError:
                        pass  # documented and typed: gone already, or a branch busy

        deleter = asyncio.create_task(delete())
        try:
            await asyncio.wait_for(asyncio.gather(*(write(k) for k in range(WORKERS))), TIMEOUT)
        finally:
            stop.set()
            await asyncio.wait_for(deleter, TIMEOUT)
        await ours.arecheck_held()  # what closing `ours` would do, before `other` reads
    assert deleted, "the other saver deleted nothing: the race did not happen"
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        broken = chaos.check(saver)
        assert broken == [], chaos.tally(broken)
        assert saver.fsck().violations == []
