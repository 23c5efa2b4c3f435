"""Exactly-once tool undo across threads, tasks and processes; handler timeouts.

A session's thread ran three `book` calls (items a, b, c, in one step) after
the checkpoint the rollbacks go back to. Undo handlers append `"<item> <pid>"`
to a shared log (O_APPEND) before doing their (slow) work, so the log counts
every run of every handler, including runs that were killed half way.

* Racing rollbacks (4 spawned processes on a SQLite file and on PostgreSQL;
  4 threads or 4 asyncio tasks on every backend) run each handler exactly once
  and all create their branches.
* A claimant SIGKILLed mid-handler is taken over by the next rollback, which
  runs that handler again (at-least-once across a crash of the undoer).
* A live claimant is never taken over: a rollback waits for it, and gives up
  (strict: `ToolReversalError`) after its own `reverse_timeout` and a grace.
* `reverse_timeout` abandons a hanging sync handler and cancels an async one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import queue
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from agentgit_langgraph import AgentGitSaver, ReversalTimeoutError, ToolReversalError
from agentgit_langgraph._claims import ReversalAttempt, claimant_alive, current_claimant, utc_now
from agentgit_langgraph._plan import Plan, call, run_async, run_sync
from agentgit_langgraph.errors import InvalidConfigError
from agentgit_langgraph.sessions import FAILED, PENDING, REVERSED, Claimant, Reversal
from agentgit_langgraph.testing import ScriptedToolModel
from tests.conftest import AsyncBackend, Run, postgres_backends_enabled
from tests.plans import history, invoke, on
from tests.reversal_worker import make_undo, read_log, rollback_worker

# Exhaustive, process or notebook runs: the full suite, not the quick subset.
pytestmark = pytest.mark.slow

ITEMS = ("a", "b", "c")
PROCS = 4
DELAY = 0.2
TIMEOUT = 60.0


@tool
def book(item: str) -> str:
    """Book an item."""
    return f"booked {item}"


def _graph(saver: AgentGitSaver) -> Any:
    model = ScriptedToolModel(script={"book": [("book", {"item": i}) for i in ITEMS]})

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder: StateGraph[Any] = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([book]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=saver)


@dataclass
class Source:
    session_id: int
    thread_id: str
    target: dict[str, Any]  # the config rollbacks go back to: before the three calls


def _target(history: list[Any]) -> dict[str, Any]:
    at = next(
        s
        for s in history
        if not s.next and sum(isinstance(m, HumanMessage) for m in s.values["messages"]) == 1
    )
    return dict(at.config)


def make_source(saver: AgentGitSaver) -> Source:
    return run_sync(source(saver), on(saver))


async def amake_source(saver: AgentGitSaver) -> Source:
    return await run_async(source(saver), on(saver))


def source(saver: AgentGitSaver) -> Plan[Source]:
    """A session whose thread booked three items (their calls): the rollback target."""
    session = yield from call(AgentGitSaver.create_session, session_name="claims")
    thread = session.current_internal_session_id
    assert session.id is not None and thread is not None
    graph = _graph(saver)
    config: Any = {"configurable": {"thread_id": thread}}
    yield from invoke(graph, {"messages": [HumanMessage("hello")]}, config)
    yield from invoke(graph, {"messages": [HumanMessage("book")]}, config)
    return Source(session.id, thread, _target((yield from history(graph, config))))


def runs(log: Path) -> Counter[str]:
    """How many times each item's handler started."""
    return Counter(item for item, _ in read_log(log))


def by_item(records: list[Reversal]) -> dict[str, Reversal]:
    return {str(r.args["item"]): r for r in records}


def assert_each_reversed_once(records: list[Reversal], log: Path) -> None:
    assert runs(log) == Counter({i: 1 for i in ITEMS}), read_log(log)
    assert sorted(r.status for r in records) == [REVERSED] * 3
    pids = {item: pid for item, pid in read_log(log)}
    for item, rec in by_item(records).items():
        assert rec.claimant is not None and rec.claimant.pid == pids[item]
        assert rec.claimant.claimed_at is not None and rec.claimant.claimed_at.tzinfo is not None


@pytest.fixture(params=["sqlite", "postgres"])
def conn_string(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "agent.db")
    if not postgres_backends_enabled():
        pytest.skip("no PostgreSQL store")
    uri: str = request.getfixturevalue("postgres_schema_uri")
    return uri


# -- 1. processes -------------------------------------------------------------------


def _start(ctx: Any, args: tuple[Any, ...]) -> Any:
    proc = ctx.Process(target=rollback_worker, args=args, daemon=True)
    proc.start()
    return proc


def _results(results: Any, count: int, procs: list[Any]) -> list[tuple[str, str]]:
    got: list[tuple[str, str]] = []
    deadline = time.monotonic() + TIMEOUT
    while len(got) < count:
        try:
            got.append(results.get(timeout=max(deadline - time.monotonic(), 0.1)))
        except queue.Empty:
            for p in procs:
                p.kill()
            pytest.fail(f"only {len(got)} of {count} workers reported within {TIMEOUT}s: {got}")
    return got


@pytest.mark.slow
@pytest.mark.parametrize("api", ["sync", "async"])
def test_processes_undo_each_call_exactly_once(conn_string: str, tmp_path: Path, api: str) -> None:
    """4 spawned processes roll back past the same 3 calls at once: each handler
    runs once, all 4 rollbacks succeed with their own branch."""
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        saver.setup()
        src = make_source(saver)
    log = tmp_path / "undo.log"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCS)
    results = ctx.Queue()
    args = (conn_string, src.target, str(log), DELAY, barrier, results, api == "async")
    procs = [_start(ctx, args) for _ in range(PROCS)]
    try:
        got = _results(results, PROCS, procs)
    finally:
        for p in procs:
            p.join(TIMEOUT)
    assert [kind for kind, _ in got] == ["ok"] * PROCS, got
    branches = {thread for _, thread in got}
    assert len(branches) == PROCS
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        assert_each_reversed_once(saver.reversals(session_id=src.session_id), log)
        session = saver.get_session(src.session_id)
        assert session.branch_count == PROCS
        assert branches <= set(session.internal_session_ids)


@pytest.mark.slow
@pytest.mark.parametrize("api", ["sync", "async"])
async def test_a_killed_claimant_is_taken_over(conn_string: str, tmp_path: Path, api: str) -> None:
    """The undoer is SIGKILLed inside b's handler: b stays `pending` under its claim;
    the next rollback sees the claimant dead, takes the claim over and runs b again."""
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        saver.setup()
        src = make_source(saver)
    log, started = tmp_path / "undo.log", tmp_path / "started"
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    args = (
        conn_string,
        src.target,
        str(log),
        0.0,
        None,
        results,
        api == "async",
        "b",
        str(started),
    )
    proc = _start(ctx, args)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not started.exists():
            assert time.monotonic() < deadline, "the worker never reached b's handler"
            assert proc.is_alive(), results.get(timeout=1)
            await asyncio.sleep(0.05)
        with AgentGitSaver.from_conn_string(conn_string) as saver:
            held = by_item(saver.reversals(session_id=src.session_id))
        assert held["c"].status == REVERSED and held["b"].status == PENDING
        assert held["b"].claimant is not None and held["b"].claimant.pid == proc.pid
        assert "a" not in held
        os.kill(proc.pid, 9)  # SIGKILL, mid-handler; not reaped yet: a zombie
        deadline = time.monotonic() + TIMEOUT
        while claimant_alive(held["b"].claimant):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)

        undo = make_undo(str(log), 0.0, use_async=api == "async")
        if api == "sync":
            with AgentGitSaver.from_conn_string(conn_string, reversers={"book": undo}) as saver:
                saver.rollback(src.target, reverse_tools=True, strict=True)
                records = saver.reversals(session_id=src.session_id)
                assert saver.get_session(src.session_id).branch_count == 1
        else:
            async with AgentGitSaver.afrom_conn_string(
                conn_string, reversers={"book": undo}
            ) as saver:
                await saver.arollback(src.target, reverse_tools=True, strict=True)
                records = await saver.areversals(session_id=src.session_id)
                assert (await saver.aget_session(src.session_id)).branch_count == 1
    finally:
        proc.kill()
        proc.join(TIMEOUT)
    assert runs(log) == Counter({"c": 1, "b": 2, "a": 1})  # b: killed once, then done
    final = by_item(records)
    assert {i: r.status for i, r in final.items()} == {i: REVERSED for i in ITEMS}
    assert final["b"].claimant is not None and final["b"].claimant.pid == os.getpid()
    assert final["c"].claimant is not None and final["c"].claimant.pid == proc.pid


# -- 2. threads and tasks, every backend ----------------------------------------------


@pytest.mark.slow
def test_threads_undo_each_call_exactly_once(backend: Any, tmp_path: Path) -> None:
    log = tmp_path / "undo.log"
    with backend.open() as saver:
        src = make_source(saver)
        saver.register_reverser("book", make_undo(str(log), DELAY, use_async=False))
        start = threading.Barrier(PROCS)

        def rollback(k: int) -> str:
            start.wait(TIMEOUT)
            branch = saver.rollback(src.target, reverse_tools=True, strict=True, name=f"b{k}")
            return str(branch["configurable"]["thread_id"])

        with ThreadPoolExecutor(PROCS) as pool:
            branches = list(pool.map(rollback, range(PROCS), timeout=TIMEOUT))
        assert len(set(branches)) == PROCS
        assert_each_reversed_once(saver.reversals(session_id=src.session_id), log)
        assert saver.get_session(src.session_id).branch_count == PROCS


@pytest.mark.slow
async def test_tasks_undo_each_call_exactly_once(abackend: Any, tmp_path: Path) -> None:
    log = tmp_path / "undo.log"
    async with abackend.open() as saver:
        src = await amake_source(saver)
        saver.register_reverser("book", make_undo(str(log), DELAY, use_async=True))
        branches = await asyncio.wait_for(
            asyncio.gather(
                *(
                    saver.arollback(src.target, reverse_tools=True, strict=True, name=f"b{k}")
                    for k in range(PROCS)
                )
            ),
            TIMEOUT,
        )
        assert len({b["configurable"]["thread_id"] for b in branches}) == PROCS
        assert_each_reversed_once(await saver.areversals(session_id=src.session_id), log)
        assert (await saver.aget_session(src.session_id)).branch_count == PROCS


# -- 3. a live claim is waited for, never taken ------------------------------------------


def test_a_live_claim_is_waited_for_then_given_up(backend: Any, tmp_path: Path) -> None:
    """A holds c and its handler is stuck; B (reverse_timeout=0.3) waits 0.3 s + grace,
    then strict B raises and lax B branches; c is undone once, by A, when it is let go."""
    log = tmp_path / "undo.log"
    release, holding = threading.Event(), threading.Event()

    def undo(args: dict[str, Any], result: str) -> None:
        if threading.current_thread().name == "A":
            holding.set()
            release.wait(TIMEOUT)
        make_undo(str(log), 0.0, use_async=False)(args, result)

    with backend.open() as saver:
        src = make_source(saver)
        saver.register_reverser("book", undo)
        outcome: list[Any] = []
        a = threading.Thread(
            target=lambda: outcome.append(saver.rollback(src.target, reverse_tools=True)),
            name="A",
        )
        a.start()
        try:
            assert holding.wait(TIMEOUT)
            began = time.monotonic()
            with pytest.raises(ToolReversalError, match="did not finish") as raised:
                saver.rollback(src.target, reverse_tools=True, strict=True, reverse_timeout=0.3)
            assert 0.3 + 2.0 <= time.monotonic() - began < 0.3 + 2.0 + 3.0
            assert (
                raised.value.tool_call_id
                == by_item(saver.reversals(src.thread_id))["c"].tool_call_id
            )
            assert "still being undone by" in str(raised.value)
            assert saver.get_session(src.session_id).branch_count == 0
            held = by_item(saver.reversals(src.thread_id))["c"]
            assert held.status == PENDING and held.claimant is not None
            assert held.claimant.pid == os.getpid()
            saver.rollback(src.target, reverse_tools=True, reverse_timeout=0.3)  # lax: goes on
        finally:
            release.set()
            a.join(TIMEOUT)
        assert outcome, "A's rollback failed"
        assert runs(log) == Counter({i: 1 for i in ITEMS})
        assert {r.status for r in saver.reversals(session_id=src.session_id)} == {REVERSED}
        assert saver.get_session(src.session_id).branch_count == 2


async def test_alive_claim_is_waited_for_then_given_up(abackend: Any, tmp_path: Path) -> None:
    log = tmp_path / "undo.log"
    release, holding = asyncio.Event(), asyncio.Event()
    first = True

    async def undo(args: dict[str, Any], result: str) -> None:
        nonlocal first
        if first:
            first = False
            holding.set()
            await release.wait()
        make_undo(str(log), 0.0, use_async=False)(args, result)

    async with abackend.open() as saver:
        src = await amake_source(saver)
        saver.register_reverser("book", undo)
        a = asyncio.create_task(saver.arollback(src.target, reverse_tools=True))
        try:
            await asyncio.wait_for(holding.wait(), TIMEOUT)
            began = time.monotonic()
            with pytest.raises(ToolReversalError, match="did not finish"):
                await saver.arollback(
                    src.target, reverse_tools=True, strict=True, reverse_timeout=0.3
                )
            assert 0.3 + 2.0 <= time.monotonic() - began < 0.3 + 2.0 + 3.0
            assert (await saver.aget_session(src.session_id)).branch_count == 0
        finally:
            release.set()
            await asyncio.wait_for(a, TIMEOUT)
        assert runs(log) == Counter({i: 1 for i in ITEMS})
        records = await saver.areversals(session_id=src.session_id)
        assert {r.status for r in records} == {REVERSED}


# -- 4. reverse_timeout ---------------------------------------------------------------------

HANG = 0.3
MARGIN = 2.5


@pytest.fixture
def released() -> Iterator[threading.Event]:
    """Set at the end of the test: lets abandoned handler threads finish."""
    event = threading.Event()
    yield event
    event.set()


def _hanging(kind: str, released: threading.Event) -> Any:
    """`book`'s undo: c hangs (a blocked thread, or an await that never ends); a, b undo."""

    def undo(args: dict[str, Any], result: str) -> None:
        if args["item"] == "c":
            released.wait(TIMEOUT)

    async def aundo(args: dict[str, Any], result: str) -> None:
        if args["item"] == "c":
            await asyncio.sleep(TIMEOUT)

    return aundo if kind == "async" else undo


def _assert_timed_out(records: list[Reversal]) -> None:
    got = by_item(records)
    assert got["c"].status == FAILED
    assert got["c"].error is not None
    assert got["c"].error.startswith("ReversalTimeoutError: ")
    assert f"reverse_timeout={HANG:g}s" in got["c"].error
    assert got["a"].status == got["b"].status == REVERSED


def hanging_handler_abandoned(saver: AgentGitSaver, handler: Any) -> Plan[None]:
    src = yield from source(saver)
    saver.register_reverser("book", handler)
    began = time.monotonic()
    branch = yield from call(
        AgentGitSaver.rollback, src.target, reverse_tools=True, reverse_timeout=HANG
    )
    assert time.monotonic() - began < HANG + MARGIN
    _assert_timed_out((yield from call(AgentGitSaver.reversals, src.thread_id)))
    session = yield from call(AgentGitSaver.get_session, src.session_id)
    assert session.current_internal_session_id == branch["configurable"]["thread_id"]
    assert session.branch_count == 1


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_hanging_handler_is_abandoned(
    run: Run, run_backend: AsyncBackend, kind: str, released: threading.Event
) -> None:
    """A `kind` handler that hangs, under the sync API and the async one."""
    async with run_backend.open() as saver:
        await run(hanging_handler_abandoned(saver, _hanging(kind, released)), on(saver))


def strict_timeout(saver: AgentGitSaver, handler: Any, timeout: dict[str, float]) -> Plan[None]:
    src = yield from source(saver)
    saver.register_reverser("book", handler)
    began = time.monotonic()
    with pytest.raises(ToolReversalError, match="reverse_timeout") as raised:
        yield from call(
            AgentGitSaver.rollback, src.target, reverse_tools=True, strict=True, **timeout
        )
    assert time.monotonic() - began < HANG + MARGIN
    assert isinstance(raised.value.__cause__, ReversalTimeoutError)
    assert raised.value.tool_name == "book"
    assert (yield from call(AgentGitSaver.get_session, src.session_id)).branch_count == 0
    records = yield from call(AgentGitSaver.reversals, src.thread_id)
    assert by_item(records)["c"].status == FAILED


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_strict_timeout_raises_without_a_branch(
    run: Run, run_backend: AsyncBackend, kind: str, released: threading.Event
) -> None:
    async with run_backend.open() as saver:
        timeout: dict[str, float] = {}
        if run.is_async:  # the call's own timeout
            timeout["reverse_timeout"] = HANG
        else:  # the saver's default, as `AgentGitSaver(reverse_timeout=)`
            saver.reverse_timeout = HANG
        await run(strict_timeout(saver, _hanging(kind, released), timeout), on(saver))


def test_a_handlers_own_timeout_error_is_its_own(backend: Any) -> None:
    def undo(args: dict[str, Any], result: str) -> None:
        raise TimeoutError("airline API timed out")

    with backend.open() as saver:
        src = make_source(saver)
        saver.register_reverser("book", undo)
        saver.rollback(src.target, reverse_tools=True, reverse_timeout=5)
        errors = {r.error for r in saver.reversals(src.thread_id)}
        assert errors == {"TimeoutError: airline API timed out"}


def test_reverse_timeout_must_be_positive() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    for bad in (0, -1, True, "1"):
        with pytest.raises(InvalidConfigError, match="reverse_timeout"):
            AgentGitSaver(InMemorySaver(), reverse_timeout=bad)  # type: ignore[arg-type]
    assert AgentGitSaver(InMemorySaver(), reverse_timeout=float("inf")).reverse_timeout is None
    assert AgentGitSaver(InMemorySaver(), reverse_timeout=2).reverse_timeout == 2.0


# -- 5. who is alive, and taking over -------------------------------------------------------


def test_claimant_liveness_rules() -> None:
    with ReversalAttempt(timeout=1.0) as attempt:
        me = attempt.claimant
        assert claimant_alive(me)  # this process, its attempt still running
        assert me.lease_seconds == 31.0
    assert not claimant_alive(me)  # the attempt ended: its pending claims are abandoned
    assert not claimant_alive(None)  # a claim without a claimant
    # Same node: the pid decides, with its start time.
    parent = current_claimant(None)
    other = Claimant(token="t", host=me.host, pid=os.getppid(), node=me.node)
    assert claimant_alive(other)
    reused = Claimant(token="t", host=me.host, pid=os.getppid(), node=me.node, pid_start="1")
    assert not claimant_alive(reused)  # that pid now names a later process
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert not claimant_alive(Claimant(token="t", host=me.host, pid=gone.pid, node=me.node))
    assert parent.node == me.node
    # Another node: the lease decides.
    now = utc_now()
    remote = Claimant(token="t", host="elsewhere", pid=1, node="other")
    assert claimant_alive(dataclasses.replace(remote, expires_at=now + timedelta(1)))
    assert not claimant_alive(dataclasses.replace(remote, expires_at=now))


def _stale_remote() -> Claimant:
    """A claimant on another node whose lease has run out."""
    return Claimant(token="stale", host="elsewhere", pid=1, node="other", lease_seconds=0.0)


def test_take_over_is_won_by_exactly_one(backend: Any) -> None:
    with backend.open() as saver:
        session = saver.create_session()
        assert session.id is not None and session.current_internal_session_id is not None
        rec = Reversal(
            session.id, "call-x", "book", {"item": "x"}, session.current_internal_session_id
        )
        store = saver.store
        assert store.claim_reversal(rec, _stale_remote()) is None
        held = store.claim_reversal(rec, current_claimant(None))
        assert held is not None and held.status == PENDING
        assert held.claimant is not None and held.claimant.token == "stale"
        assert not claimant_alive(held.claimant)
        takers = [current_claimant(None) for _ in range(8)]
        start = threading.Barrier(len(takers))

        def take(c: Claimant) -> bool:
            start.wait(TIMEOUT)
            return store.take_over_reversal(rec, "stale", c)

        with ThreadPoolExecutor(len(takers)) as pool:
            won = list(pool.map(take, takers, timeout=TIMEOUT))
        assert won.count(True) == 1
        winner = takers[won.index(True)]
        loser = takers[won.index(False)]
        # Only the holder's finish counts.
        assert not store.finish_reversal(session.id, "call-x", REVERSED, claim_token=loser.token)
        assert store.finish_reversal(session.id, "call-x", REVERSED, claim_token=winner.token)
        [done] = store.list_reversals(session_id=session.id)
        assert done.status == REVERSED and done.claimant is not None
        assert done.claimant.token == winner.token
        # Reversed: never claimed again, never taken over.
        assert store.claim_reversal(rec, current_claimant(None)) == done
        assert not store.take_over_reversal(rec, winner.token, current_claimant(None))


async def test_atake_over_is_won_by_exactly_one(abackend: Any) -> None:
    async with abackend.open() as saver:
        session = await saver.acreate_session()
        assert session.id is not None and session.current_internal_session_id is not None
        rec = Reversal(
            session.id, "call-x", "book", {"item": "x"}, session.current_internal_session_id
        )
        store = saver.store
        assert await store.aclaim_reversal(rec, _stale_remote()) is None
        takers = [current_claimant(None) for _ in range(8)]
        won = await asyncio.gather(*(store.atake_over_reversal(rec, "stale", c) for c in takers))
        assert won.count(True) == 1
        winner = takers[won.index(True)]
        assert await store.afinish_reversal(
            session.id, "call-x", FAILED, "x", claim_token=winner.token
        )
        # A failed call is claimed again by a later rollback; not by one that waited on it.
        later = current_claimant(None)
        adopted = await store.aclaim_reversal(rec, later, retry_failed=False)
        assert adopted is not None and adopted.status == FAILED
        assert await store.aclaim_reversal(rec, later) is None
