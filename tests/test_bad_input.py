"""Bad input, table-driven: every case on every backend, sync and async.

Each case is one call (on the saver, its store, or a compiled graph) with one
bad value: a `bool`/`float`/empty user id, a session id past signed 64-bit, a
NUL in a thread id / checkpoint id / name / ref, a non-string branch or tag
name, a `limit` out of range, metadata that is not JSON. Each must raise its
typed error (`InvalidConfigError`, or the NotFound error of an unknown id)
naming the value, and change nothing: sessions (with their owners), thread
records, tags and every stored checkpoint are snapshotted before and after.

The cases are written once as plans (`call(AgentGitSaver.get_session, ...)`, see
tests/plans.py): the `run` fixture calls `method`, then awaits `a<method>`.

Also here: string owners end to end through a compiled graph, corrupt rows and
parent-thread cycles (`StoreError` naming the row), a path that is not a
SQLite database (`StoreError` naming the path), and the owner migration.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint

from agentgit_langgraph import (
    AgentGitError,
    AgentGitSaver,
    AsyncSqliteSessionStore,
    InternalSession,
    InvalidConfigError,
    SessionAccessError,
    SessionNotFoundError,
    SqliteSessionStore,
    StoreError,
    Tag,
)
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph.stores.base import BaseSessionStore
from tests.conftest import AsyncBackend, Run
from tests.graphs import chat_graph_builder, contents, human
from tests.plans import Graph, Tamper, cfg, on, snapshot

ALICE = "alice@example.com"  # string owners, as LangGraph's docs write user ids
BOB = "bob"
ONE = 1  # an int owner: True and 1.0 must never pass for it
A_THREAD = "alice-main"
B_THREAD = "bob-main"
ONE_THREAD = "one-main"
BIG = 2**63  # one past signed 64-bit
HUGE = 2**70


@dataclass
class World:
    saver: AgentGitSaver
    graph: Any
    alice: int  # session ids
    bob: int
    one: int
    a_cp: dict[str, Any]  # a checkpoint config of A_THREAD (Alice's, no user_id)
    a_branch: str

    def cp(self, **configurable: Any) -> dict[str, Any]:
        return {"configurable": {**self.a_cp["configurable"], **configurable}}


def seed(saver: AgentGitSaver) -> Plan[World]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    for n in range(2):
        yield from call(Graph.invoke, graph, human(f"alice {n}", n), cfg(A_THREAD, user_id=ALICE))
    yield from call(Graph.invoke, graph, human("bob 0", 0), cfg(B_THREAD, user_id=BOB))
    yield from call(Graph.invoke, graph, human("one 0", 0), cfg(ONE_THREAD, user_id=ONE))
    history = yield from gather(Graph.get_state_history, graph, cfg(A_THREAD))
    branch = yield from call(AgentGitSaver.rollback, history[2].config, user_id=ALICE, name="retry")
    yield from call(AgentGitSaver.tag, history[1].config, "v1", user_id=ALICE)
    alice = yield from call(AgentGitSaver.session_for_thread, A_THREAD, user_id=ALICE)
    bob = yield from call(AgentGitSaver.session_for_thread, B_THREAD, user_id=BOB)
    one = yield from call(AgentGitSaver.session_for_thread, ONE_THREAD, user_id=ONE)
    return World(
        saver=saver,
        graph=graph,
        alice=alice.id,
        bob=bob.id,
        one=one.id,
        a_cp=history[1].config,
        a_branch=branch["configurable"]["thread_id"],
    )


def state(saver: AgentGitSaver) -> Plan[dict[str, Any]]:
    """Sessions, threads, tags and stored checkpoints, owners, and every checkpoint."""
    store = yield from snapshot(saver)
    sessions = yield from call(BaseSessionStore.list_sessions)
    every = yield from gather(BaseCheckpointSaver.list, None)
    return {
        "store": store,
        "owners": [(s.id, s.owner, s.user_id) for s in sessions],
        "checkpoints": sorted(
            (t.config["configurable"]["thread_id"], t.config["configurable"]["checkpoint_id"])
            for t in every
        ),
    }


# -- the table ---------------------------------------------------------------------


@dataclass
class Case:
    """`op(w)` must raise exactly `error`, whose message contains every `names(w)`."""

    op: Callable[[World], Plan[Any]]
    error: type[AgentGitError]
    names: Callable[[World], list[str]]


def op(
    method: Callable[..., Any], *args: Callable[[World], Any], **kwargs: Any
) -> Callable[[World], Plan[Any]]:
    """A call of `method` (the saver's or its store's) on arguments taken from the world."""
    return lambda w: call(method, *(a(w) for a in args), **kwargs)


def graph_op(
    method: Callable[..., Any], *args: Callable[[World], Any]
) -> Callable[[World], Plan[Any]]:
    return lambda w: call(method, w.graph, *(a(w) for a in args))


def _alice(w: World) -> int:
    return w.alice


def _one(w: World) -> int:
    return w.one


def _cp(w: World) -> dict[str, Any]:
    return w.cp()


def const(value: Any) -> Callable[[World], Any]:
    return lambda w: value


def named(*names: str) -> Callable[[World], list[str]]:
    return lambda w: list(names)


INVALID = InvalidConfigError
NUL = "a\x00b"

CASES: dict[str, Case] = {
    # bool / float / empty user ids: never an owner, not even user 1's
    "get_session-user-True": Case(
        op(AgentGitSaver.get_session, _one, user_id=True), INVALID, named("True")
    ),
    "get_session-user-1.0": Case(
        op(AgentGitSaver.get_session, _one, user_id=1.0), INVALID, named("1.0")
    ),
    "get_session-user-empty": Case(
        op(AgentGitSaver.get_session, _alice, user_id=""), INVALID, named("''")
    ),
    "get_session-user-NUL": Case(
        op(AgentGitSaver.get_session, _alice, user_id=NUL), INVALID, named(repr(NUL))
    ),
    "get_session-user-too-big": Case(
        op(AgentGitSaver.get_session, _one, user_id=BIG), INVALID, named(str(BIG))
    ),
    "list_sessions-user-True": Case(
        op(AgentGitSaver.list_sessions, const(True)), INVALID, named("True")
    ),
    "list_sessions-user-1.0": Case(
        op(AgentGitSaver.list_sessions, const(1.0)), INVALID, named("1.0")
    ),
    "store-list_sessions-user-True": Case(
        op(BaseSessionStore.list_sessions, const(True)), INVALID, named("True")
    ),
    "branches-user-True": Case(
        op(AgentGitSaver.branches, _one, user_id=True), INVALID, named("True")
    ),
    "log-user-1.0": Case(op(AgentGitSaver.log, _one, user_id=1.0), INVALID, named("1.0")),
    "tree-user-True": Case(op(AgentGitSaver.tree, _one, user_id=True), INVALID, named("True")),
    "delete_session-user-True": Case(
        op(AgentGitSaver.delete_session, _one, user_id=True), INVALID, named("True")
    ),
    "rollback-user-True": Case(
        op(AgentGitSaver.rollback, _cp, user_id=True), INVALID, named("True")
    ),
    "rollback-config-user-1.0": Case(
        lambda w: call(AgentGitSaver.rollback, w.cp(user_id=1.0)), INVALID, named("1.0")
    ),
    "create_session-user-1.0": Case(
        op(AgentGitSaver.create_session, const(1.0)), INVALID, named("1.0")
    ),
    "create_session-user-True": Case(
        op(AgentGitSaver.create_session, const(True)), INVALID, named("True")
    ),
    "store-create_session-user-1.0": Case(
        op(
            BaseSessionStore.create_session,
            user_id=1.0,
            session_name="x",
            metadata=None,
            thread_id="new-thread",
        ),
        INVALID,
        named("1.0"),
    ),
    "get_tuple-config-user-True": Case(
        lambda w: call(AgentGitSaver.get_tuple, cfg(ONE_THREAD, user_id=True)),
        INVALID,
        named("True"),
    ),
    "put-config-user-1.0": Case(
        lambda w: call(
            AgentGitSaver.put,
            cfg(ONE_THREAD, user_id=1.0, checkpoint_ns=""),
            empty_checkpoint(),
            {},
            {},
        ),
        INVALID,
        named("1.0"),
    ),
    "graph-invoke-user-True": Case(
        graph_op(Graph.invoke, const(human("x", 9)), const(cfg(ONE_THREAD, user_id=True))),
        INVALID,
        named("True"),
    ),
    # session ids past signed 64-bit: unknown through the saver, invalid for a store
    "get_session-2**63": Case(
        op(AgentGitSaver.get_session, const(BIG)), SessionNotFoundError, named(str(BIG))
    ),
    "get_session--2**63-1": Case(
        op(AgentGitSaver.get_session, const(-BIG - 1)), SessionNotFoundError, named(str(-BIG - 1))
    ),
    "branches-2**70": Case(
        op(AgentGitSaver.branches, const(HUGE)), SessionNotFoundError, named(str(HUGE))
    ),
    "tags-2**63": Case(op(AgentGitSaver.tags, const(BIG)), SessionNotFoundError, named(str(BIG))),
    "delete_session-2**63": Case(
        op(AgentGitSaver.delete_session, const(BIG)), SessionNotFoundError, named(str(BIG))
    ),
    "log-2**63": Case(op(AgentGitSaver.log, const(BIG)), SessionNotFoundError, named(str(BIG))),
    "switch-2**63": Case(
        op(AgentGitSaver.switch, const(BIG), const(A_THREAD)), SessionNotFoundError, named(str(BIG))
    ),
    "store-get_session-2**63": Case(
        op(BaseSessionStore.get_session, const(BIG)), INVALID, named(str(BIG))
    ),
    "store-list_threads-2**70": Case(
        op(BaseSessionStore.list_threads, const(HUGE)), INVALID, named(str(HUGE))
    ),
    "store-update_metadata-2**63": Case(
        op(BaseSessionStore.update_metadata, const(BIG), const({"a": 1})), INVALID, named(str(BIG))
    ),
    "store-delete_session-bool": Case(
        op(BaseSessionStore.delete_session, const(True)), INVALID, named("True")
    ),
    "store-list_reversals-2**63": Case(
        op(BaseSessionStore.list_reversals, session_id=BIG), INVALID, named(str(BIG))
    ),
    "store-finish_reversal-NUL": Case(
        op(BaseSessionStore.finish_reversal, _alice, const(NUL), const("reversed")),
        INVALID,
        named(repr(NUL)),
    ),
    "reversals-2**63": Case(
        op(AgentGitSaver.reversals, session_id=BIG), SessionNotFoundError, named(str(BIG))
    ),
    # NUL (and other unusable text) in thread ids, checkpoint ids, refs
    "session_for_thread-NUL": Case(
        op(AgentGitSaver.session_for_thread, const(NUL)), INVALID, named("thread_id", repr(NUL))
    ),
    "rollback-thread-NUL": Case(
        lambda w: call(AgentGitSaver.rollback, w.cp(thread_id=NUL)), INVALID, named("thread_id")
    ),
    "rollback-checkpoint-NUL": Case(
        lambda w: call(AgentGitSaver.rollback, w.cp(checkpoint_id=NUL)),
        INVALID,
        named("checkpoint_id", repr(NUL)),
    ),
    "log-checkpoint-NUL": Case(
        lambda w: call(AgentGitSaver.log, w.cp(checkpoint_id=NUL)), INVALID, named(repr(NUL))
    ),
    "tag-checkpoint-NUL": Case(
        lambda w: call(AgentGitSaver.tag, w.cp(checkpoint_id=NUL), "t"), INVALID, named(repr(NUL))
    ),
    "switch-thread-NUL": Case(
        op(AgentGitSaver.switch, _alice, const(NUL)), INVALID, named("thread_id", repr(NUL))
    ),
    "resolve-ref-NUL": Case(
        op(AgentGitSaver.resolve, _alice, const(NUL)), INVALID, named(repr(NUL))
    ),
    "put-thread-NUL": Case(
        lambda w: call(AgentGitSaver.put, cfg(NUL, checkpoint_ns=""), empty_checkpoint(), {}, {}),
        INVALID,
        named("thread_id", repr(NUL)),
    ),
    "store-get_thread-NUL": Case(
        op(BaseSessionStore.get_thread, const(NUL)), INVALID, named(repr(NUL))
    ),
    "store-record_checkpoints-NUL": Case(
        op(BaseSessionStore.record_checkpoints, const(NUL)), INVALID, named(repr(NUL))
    ),
    "store-set_current-NUL": Case(
        op(BaseSessionStore.set_current, _alice, const(NUL)), INVALID, named(repr(NUL))
    ),
    # branch and tag names: one rule on every backend
    "rollback-name-int": Case(op(AgentGitSaver.rollback, _cp, name=123), INVALID, named("123")),
    "rollback-name-list": Case(
        op(AgentGitSaver.rollback, _cp, name=["x"]), INVALID, named("['x']")
    ),
    "rollback-name-NUL": Case(op(AgentGitSaver.rollback, _cp, name=NUL), INVALID, named(repr(NUL))),
    "rollback-name-empty": Case(op(AgentGitSaver.rollback, _cp, name=""), INVALID, named("''")),
    "rollback-name-spaces": Case(
        op(AgentGitSaver.rollback, _cp, name=" x "), INVALID, named("' x '")
    ),
    "rollback-name-too-long": Case(
        op(AgentGitSaver.rollback, _cp, name="x" * 300), INVALID, named("longer than 256")
    ),
    "tag-name-int": Case(op(AgentGitSaver.tag, _cp, const(123)), INVALID, named("123")),
    "tag-name-list": Case(op(AgentGitSaver.tag, _cp, const(["x"])), INVALID, named("['x']")),
    "tag-name-NUL": Case(op(AgentGitSaver.tag, _cp, const(NUL)), INVALID, named(repr(NUL))),
    "untag-name-NUL": Case(op(AgentGitSaver.untag, _alice, const(NUL)), INVALID, named(repr(NUL))),
    "untag-name-int": Case(op(AgentGitSaver.untag, _alice, const(123)), INVALID, named("123")),
    "store-add_tag-name-int": Case(
        lambda w: call(BaseSessionStore.add_tag, Tag(w.alice, 123, A_THREAD, "cp")),  # type: ignore[arg-type]
        INVALID,
        named("123"),
    ),
    "store-add_branch-name-NUL": Case(
        lambda w: call(BaseSessionStore.add_branch, InternalSession("t-new", w.alice, name=NUL)),
        INVALID,
        named(repr(NUL)),
    ),
    "store-delete_tag-name-list": Case(
        op(BaseSessionStore.delete_tag, _alice, const(["v1"])), INVALID, named("['v1']")
    ),
    # limits
    "log-limit-2**70": Case(op(AgentGitSaver.log, _alice, limit=HUGE), INVALID, named(str(HUGE))),
    "log-limit-2**63": Case(op(AgentGitSaver.log, _alice, limit=BIG), INVALID, named(str(BIG))),
    "log-limit-negative": Case(op(AgentGitSaver.log, _alice, limit=-1), INVALID, named("-1")),
    "log-limit-True": Case(op(AgentGitSaver.log, _alice, limit=True), INVALID, named("True")),
    "log-limit-float": Case(op(AgentGitSaver.log, _alice, limit=1.5), INVALID, named("1.5")),
    # metadata: a JSON object with str keys, checked before any write
    "create_session-metadata-object": Case(
        op(AgentGitSaver.create_session, const(ALICE), const("s"), const({"a": object()})),
        INVALID,
        named("metadata['a']", "object"),
    ),
    "create_session-metadata-set": Case(
        op(AgentGitSaver.create_session, const(ALICE), const("s"), const({"a": {1, 2}})),
        INVALID,
        named("metadata['a']", "set"),
    ),
    "create_session-metadata-int-key": Case(
        op(AgentGitSaver.create_session, const(ALICE), const("s"), const({1: "x"})),
        INVALID,
        named("non-string key 1"),
    ),
    "create_session-metadata-nan": Case(
        op(AgentGitSaver.create_session, const(ALICE), const("s"), const({"a": float("nan")})),
        INVALID,
        named("nan"),
    ),
    "create_session-metadata-not-mapping": Case(
        op(AgentGitSaver.create_session, const(ALICE), const("s"), const(["a"])),
        INVALID,
        named("['a']"),
    ),
    "create_session-name-int": Case(
        op(AgentGitSaver.create_session, const(ALICE), const(5)),
        INVALID,
        named("session_name", "5"),
    ),
    "store-update_metadata-bytes": Case(
        op(BaseSessionStore.update_metadata, _alice, const({"a": b"x"})), INVALID, named("bytes")
    ),
}


def cases_flow(saver: AgentGitSaver) -> Plan[list[str]]:
    w = yield from seed(saver)
    failures: list[str] = []
    for case_id, case in CASES.items():
        before = yield from state(saver)
        raised: BaseException | None = None
        try:
            yield from case.op(w)
        except Exception as exc:
            raised = exc
        after = yield from state(saver)
        if raised is None:
            failures.append(f"{case_id}: raised nothing")
        elif type(raised) is not case.error:
            failures.append(
                f"{case_id}: raised {type(raised).__name__}({raised}), "
                f"expected {case.error.__name__}"
            )
        else:
            missing = [n for n in case.names(w) if n not in str(raised)]
            if missing:
                failures.append(f"{case_id}: message {str(raised)!r} does not name {missing}")
        if before != after:
            failures.append(f"{case_id}: changed the stored state")
    return failures


async def test_bad_input_is_a_typed_error_naming_it_and_changes_nothing(
    run: Run, run_backend: AsyncBackend
) -> None:
    async with run_backend.open() as saver:
        failures = await run(cases_flow(saver), on(saver))
    assert not failures, "\n".join(failures)


# -- string owners, end to end through a compiled graph ------------------------------


def owners_flow(saver: AgentGitSaver) -> Plan[None]:
    w = yield from seed(saver)
    alice = yield from call(AgentGitSaver.get_session, w.alice, user_id=ALICE)
    assert (alice.owner, alice.user_id, alice.session_name) == (ALICE, 0, A_THREAD)
    assert "owner" not in alice.to_dict()  # agentgit's keys only
    one = yield from call(AgentGitSaver.get_session, w.one, user_id="1")  # "1" is int user 1
    assert (one.owner, one.user_id) == ("1", 1)

    # Bob (and anyone who is not exactly Alice) is refused on Alice's threads.
    refused = [
        call(Graph.invoke, w.graph, human("bob here", 5), cfg(A_THREAD, user_id=BOB)),
        call(Graph.invoke, w.graph, human("bob here", 5), cfg(w.a_branch, user_id=BOB)),
        call(Graph.get_state, w.graph, cfg(A_THREAD, user_id=BOB)),
        call(AgentGitSaver.get_tuple, cfg(A_THREAD, user_id="alice")),
        call(AgentGitSaver.get_tuple, cfg(A_THREAD, user_id=0)),
        call(AgentGitSaver.get_session, w.alice, user_id=BOB),
        call(AgentGitSaver.get_session, w.alice, user_id=0),
        call(AgentGitSaver.session_for_thread, A_THREAD, user_id=BOB),
        call(AgentGitSaver.branches, w.alice, user_id=BOB),
        call(AgentGitSaver.rollback, w.cp(), user_id=BOB),
        call(AgentGitSaver.rollback, w.cp(user_id=BOB)),
        call(AgentGitSaver.log, w.alice, user_id=BOB),
        call(AgentGitSaver.tag, w.cp(), "bobs", user_id=BOB),
        call(AgentGitSaver.delete_session, w.alice, user_id=BOB),
        call(AgentGitSaver.get_session, w.one, user_id="01"),  # not user 1
    ]
    before = yield from state(saver)
    for op in refused:
        with pytest.raises(SessionAccessError) as err:
            yield from op
        assert f"session {w.alice}" in str(err.value) or f"session {w.one}" in str(err.value)
    assert (yield from state(saver)) == before

    # list_sessions filters by owner: str, int, and the int written as a str.
    assert [s.id for s in (yield from call(AgentGitSaver.list_sessions, ALICE))] == [w.alice]
    assert [s.id for s in (yield from call(AgentGitSaver.list_sessions, BOB))] == [w.bob]
    assert [s.id for s in (yield from call(AgentGitSaver.list_sessions, ONE))] == [w.one]
    assert [s.id for s in (yield from call(AgentGitSaver.list_sessions, "1"))] == [w.one]
    assert (yield from call(AgentGitSaver.list_sessions, 0)) == []  # user 0 owns none of them

    # Alice works as before: her own thread, her rollback (owner from the config).
    result = yield from call(
        Graph.invoke, w.graph, human("alice again", 7), cfg(A_THREAD, user_id=ALICE)
    )
    assert contents(result)[-1].startswith("echo: alice again")
    branch = yield from call(AgentGitSaver.rollback, w.cp(user_id=ALICE))
    assert branch["configurable"]["user_id"] == ALICE
    at = yield from call(Graph.get_state, w.graph, w.cp())
    now_ = yield from call(Graph.get_state, w.graph, branch)
    assert contents(now_.values) == contents(at.values)
    entries = yield from call(AgentGitSaver.log, branch)
    assert entries
    created = yield from call(AgentGitSaver.create_session, BOB, "bob's second")
    assert (created.owner, created.user_id) == (BOB, 0)
    # A copy of Alice's thread belongs to Alice.
    yield from call(AgentGitSaver.copy_thread, A_THREAD, "alice-copy")
    copy = yield from call(AgentGitSaver.session_for_thread, "alice-copy", user_id=ALICE)
    assert copy.owner == ALICE


async def test_string_owners(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(owners_flow(saver), on(saver))


def reopened_flow(alice: int) -> Plan[None]:
    found = yield from call(AgentGitSaver.list_sessions, ALICE)
    assert [(s.id, s.owner, s.user_id) for s in found] == [(alice, ALICE, 0)]
    with pytest.raises(SessionAccessError):
        yield from call(AgentGitSaver.get_tuple, cfg(A_THREAD, user_id=BOB))


async def test_string_owners_survive_reopen(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        w = await run(seed(saver), on(saver))
    async with run_backend.open() as saver:
        await run(reopened_flow(w.alice), on(saver))


# -- corrupt rows and parent-thread cycles -------------------------------------------


def set_parent(saver: AgentGitSaver, thread_id: str, parent: str, at: str) -> Plan[None]:
    yield from call(
        Tamper.sql,
        saver.store,  # type: ignore[arg-type]
        "UPDATE agentgit_threads SET parent_thread_id = ?, branch_checkpoint_id = ? "
        "WHERE thread_id = ?",
        (parent, at, thread_id),
    )


def cycle_flow(saver: AgentGitSaver) -> Plan[None]:
    w = yield from seed(saver)
    history = yield from gather(Graph.get_state_history, w.graph, cfg(A_THREAD))
    root = history[-1].config["configurable"]["checkpoint_id"]
    # Alice's first thread now claims to be a branch of her branch: a cycle.
    yield from set_parent(saver, A_THREAD, w.a_branch, root)
    for op in (
        call(AgentGitSaver.tree, w.alice),
        call(AgentGitSaver.tree_data, w.alice),
        call(AgentGitSaver.mermaid, w.alice),
        call(AgentGitSaver.log, cfg(w.a_branch)),
    ):
        with pytest.raises(StoreError, match="agentgit_threads") as err:
            yield from op
        assert "cycle" in str(err.value)
        assert A_THREAD in str(err.value) or w.a_branch in str(err.value)
    # Other sessions read as before.
    assert "main" in (yield from call(AgentGitSaver.tree, w.bob))


async def test_parent_thread_cycle_is_a_store_error(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(cycle_flow(saver), on(saver))


def text_ids_flow(saver: AgentGitSaver) -> Plan[None]:
    """A text session id in a thread row, a text user id in a session row (SQLite
    and memory: PostgreSQL's BIGINT columns cannot hold them)."""
    w = yield from seed(saver)
    store = saver.store
    sql = "UPDATE agentgit_threads SET session_id = 'abc' WHERE thread_id = ?"
    yield from call(Tamper.sql, store, sql, (B_THREAD,))
    yield from call(
        Tamper.sql, store, "UPDATE agentgit_sessions SET user_id = 'x' WHERE id = ?", (w.one,)
    )
    with pytest.raises(StoreError, match=rf"agentgit_threads \(thread_id='{B_THREAD}'\)"):
        yield from call(AgentGitSaver.session_for_thread, B_THREAD)
    with pytest.raises(StoreError, match="corrupt row in agentgit_"):
        yield from call(AgentGitSaver.list_sessions)
    with pytest.raises(StoreError, match=rf"agentgit_sessions \(id={w.one}\)"):
        yield from call(AgentGitSaver.get_session, w.one)
    # Rows that are not corrupt still read.
    alice = yield from call(AgentGitSaver.get_session, w.alice, user_id=ALICE)
    assert alice.owner == ALICE


async def test_corrupt_rows_are_store_errors_naming_the_row(
    run: Run, run_sqlite_backend: AsyncBackend
) -> None:
    # PostgreSQL's BIGINT columns refuse text (its corrupt metadata: test_postgres_store.py).
    async with run_sqlite_backend.open() as saver:
        await run(text_ids_flow(saver), on(saver))


# -- a path that is not a SQLite database --------------------------------------------


def _not_a_database(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    return path, path.read_bytes()


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path, content = _not_a_database(tmp_path)
    for opener in (AgentGitSaver.from_conn_string, SqliteSessionStore.from_conn_string):
        for target in (path, tmp_path):  # a file that is not a database; a directory
            with pytest.raises(StoreError) as err, opener(str(target)):  # type: ignore[operator]
                pass
            assert repr(str(target)) in str(err.value)
    assert path.read_bytes() == content


async def test_a_file_that_is_not_a_database_is_a_store_error_async(tmp_path: Path) -> None:
    path, content = _not_a_database(tmp_path)
    for opener in (AgentGitSaver.afrom_conn_string, AsyncSqliteSessionStore.from_conn_string):
        for target in (path, tmp_path):
            with pytest.raises(StoreError) as err:
                async with opener(str(target)):  # type: ignore[operator]
                    pass
            assert repr(str(target)) in str(err.value)
    assert path.read_bytes() == content


def test_a_failed_async_open_leaves_no_thread_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiosqlite stops the worker of a connection that failed to open with a request
    nobody awaits: a loop that closes right after made that thread raise "Event loop
    is closed" (18 runs in 50 before the fix). The open now waits for the thread."""
    raised: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))

    async def open_a_directory() -> None:
        with pytest.raises(StoreError):
            async with AsyncSqliteSessionStore.from_conn_string(str(tmp_path)):
                pass  # pragma: no cover

    before = set(threading.enumerate())
    for _ in range(30):
        asyncio.run(open_a_directory())
    assert set(threading.enumerate()) - before == set()
    assert raised == []


# -- the owner migration -------------------------------------------------------------


def test_owner_migration_backfills_int_owners(tmp_path: Path) -> None:
    """A database written before the owner column: upgrading keeps every int owner."""
    from agentgit_langgraph.stores.sql import SQLITE

    path = tmp_path / "old.db"
    with SqliteSessionStore.from_conn_string(str(path)) as st:
        kept = st.create_session(user_id=5, session_name="old", metadata=None, thread_id="t5")
    owner_versions = [
        v
        for v, ddl in enumerate(SQLITE.migrations)
        if isinstance(ddl, str) and "agentgit_sessions" in ddl and "owner" in ddl
    ]
    assert owner_versions == [15, 16, 17]
    with sqlite3.connect(path) as conn:  # back to the schema before them
        conn.execute("DROP INDEX agentgit_sessions_owner_idx")
        conn.execute("ALTER TABLE agentgit_sessions DROP COLUMN owner")
        conn.execute("DELETE FROM agentgit_migrations WHERE v IN (15, 16, 17)")
    with SqliteSessionStore.from_conn_string(str(path)) as st:
        assert [(s.id, s.owner, s.user_id) for s in st.list_sessions(5)] == [(kept.id, "5", 5)]
        assert st.list_sessions("5") == st.list_sessions(5)
        st.create_session(user_id=ALICE, session_name="new", metadata=None, thread_id="ta")
        assert [s.session_name for s in st.list_sessions(ALICE)] == ["new"]
