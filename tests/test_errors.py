"""Bad inputs on `AgentGitSaver`: a typed error naming the offending id, and no change.

Every case runs over every backend, sync and async (a plan, tests/plans.py, that
the `run` fixture drives with each API). Before and after each call
the test snapshots the sessions (`list_sessions()`), every session's branches
and every checkpoint (with its pending writes) the wrapped saver holds; the
two snapshots must be equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver

from agentgit_langgraph import (
    AgentGitError,
    AgentGitSaver,
    CheckpointNotFoundError,
    InvalidConfigError,
    SessionAccessError,
    SessionNotFoundError,
    ThreadNotFoundError,
)
from agentgit_langgraph._plan import Plan, call, gather
from tests.conftest import AsyncBackend, Run
from tests.graphs import chat_graph_builder, contents, human
from tests.plans import get_state, history, invoke, on

ALICE = 101
BOB = 202
MISSING = 987654
A_THREAD = "alice-main"
B_THREAD = "bob-main"
BOGUS_CHECKPOINT = "1f0ffff-not-a-checkpoint"


@dataclass
class World:
    alice: int  # session ids
    bob: int
    alice_branch: str  # the thread a rollback opened in Alice's session
    alice_cp: str  # a checkpoint id of A_THREAD
    bob_cp: str  # a checkpoint id of B_THREAD

    def cp_config(self, **configurable: Any) -> dict[str, Any]:
        return {
            "configurable": {
                "thread_id": A_THREAD,
                "checkpoint_id": self.alice_cp,
                "checkpoint_ns": "",
                **configurable,
            }
        }


def _cfg(thread_id: str, user_id: int) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "user_id": user_id}}


def seed(saver: AgentGitSaver) -> Plan[World]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    for n in range(2):
        yield from invoke(graph, human(f"alice {n}", n), _cfg(A_THREAD, ALICE))
    yield from invoke(graph, human("bob 0", 0), _cfg(B_THREAD, BOB))
    snapshots = yield from history(graph, _cfg(A_THREAD, ALICE))
    branch = yield from call(AgentGitSaver.rollback, snapshots[2].config, user_id=ALICE)
    bob_tuple = yield from call(AgentGitSaver.get_tuple, _cfg(B_THREAD, BOB))
    alice = yield from call(AgentGitSaver.session_for_thread, A_THREAD)
    bob = yield from call(AgentGitSaver.session_for_thread, B_THREAD)
    return World(
        alice=alice.id,
        bob=bob.id,
        alice_branch=branch["configurable"]["thread_id"],
        alice_cp=snapshots[1].config["configurable"]["checkpoint_id"],
        bob_cp=bob_tuple.config["configurable"]["checkpoint_id"],
    )


def _checkpoint_key(t: Any) -> tuple[Any, ...]:
    c = t.config["configurable"]
    writes = sorted((w[0], w[1], repr(w[2])) for w in (t.pending_writes or []))
    return (c["thread_id"], c.get("checkpoint_ns", ""), c["checkpoint_id"], tuple(writes))


def snapshot() -> Plan[dict[str, Any]]:
    sessions = yield from call(AgentGitSaver.list_sessions)
    branches = {}
    for s in sessions:
        branches[s.id] = yield from call(AgentGitSaver.branches, s.id)
    checkpoints = yield from gather(BaseCheckpointSaver.list, None)
    return {
        "sessions": [s.to_dict() for s in sessions],
        "branches": branches,
        "checkpoints": sorted(_checkpoint_key(t) for t in checkpoints),
    }


# -- the cases --------------------------------------------------------------------------


@dataclass
class Case:
    """`method(*args(w), **kwargs(w))` must raise `error` naming every `names(w)`."""

    method: Callable[..., Any]
    args: Callable[[World], tuple[Any, ...]]
    error: type[AgentGitError]
    names: Callable[[World], list[str]]
    kwargs: Callable[[World], dict[str, Any]] = lambda w: {}


CASES = {
    # unknown session id
    "get_session-unknown": Case(
        AgentGitSaver.get_session,
        lambda w: (MISSING,),
        SessionNotFoundError,
        lambda w: [str(MISSING)],
    ),
    "config_for-unknown": Case(
        AgentGitSaver.config_for,
        lambda w: (MISSING,),
        SessionNotFoundError,
        lambda w: [str(MISSING)],
    ),
    "branches-unknown": Case(
        AgentGitSaver.branches, lambda w: (MISSING,), SessionNotFoundError, lambda w: [str(MISSING)]
    ),
    "switch-unknown-session": Case(
        AgentGitSaver.switch,
        lambda w: (MISSING, A_THREAD),
        SessionNotFoundError,
        lambda w: [str(MISSING)],
    ),
    "get_session-str-id": Case(
        AgentGitSaver.get_session,
        lambda w: (str(w.alice),),
        SessionNotFoundError,
        lambda w: [repr(str(w.alice))],
    ),
    # unknown thread
    "rollback-unknown-thread": Case(
        AgentGitSaver.rollback,
        lambda w: ({"configurable": {"thread_id": "ghost-thread", "checkpoint_id": w.alice_cp}},),
        ThreadNotFoundError,
        lambda w: ["ghost-thread"],
    ),
    "session_for_thread-unknown": Case(
        AgentGitSaver.session_for_thread,
        lambda w: ("ghost-thread",),
        ThreadNotFoundError,
        lambda w: ["ghost-thread"],
    ),
    # unknown checkpoint
    "rollback-unknown-checkpoint": Case(
        AgentGitSaver.rollback,
        lambda w: (w.cp_config(checkpoint_id=BOGUS_CHECKPOINT),),
        CheckpointNotFoundError,
        lambda w: [BOGUS_CHECKPOINT, A_THREAD],
    ),
    "rollback-checkpoint-of-another-thread": Case(
        AgentGitSaver.rollback,
        lambda w: (w.cp_config(checkpoint_id=w.bob_cp),),
        CheckpointNotFoundError,
        lambda w: [w.bob_cp, A_THREAD],
    ),
    # malformed configs
    "rollback-no-thread_id": Case(
        AgentGitSaver.rollback,
        lambda w: ({"configurable": {"checkpoint_id": w.alice_cp}},),
        InvalidConfigError,
        lambda w: ["thread_id"],
    ),
    "rollback-empty-thread_id": Case(
        AgentGitSaver.rollback,
        lambda w: ({"configurable": {"thread_id": "", "checkpoint_id": w.alice_cp}},),
        InvalidConfigError,
        lambda w: ["thread_id"],
    ),
    "rollback-no-checkpoint_id": Case(
        AgentGitSaver.rollback,
        lambda w: ({"configurable": {"thread_id": A_THREAD}},),
        InvalidConfigError,
        lambda w: ["checkpoint_id", A_THREAD],
    ),
    "rollback-no-configurable": Case(
        AgentGitSaver.rollback, lambda w: ({},), InvalidConfigError, lambda w: ["configurable"]
    ),
    "rollback-configurable-not-a-mapping": Case(
        AgentGitSaver.rollback,
        lambda w: ({"configurable": A_THREAD},),
        InvalidConfigError,
        lambda w: ["configurable"],
    ),
    "rollback-config-is-a-string": Case(
        AgentGitSaver.rollback, lambda w: (A_THREAD,), InvalidConfigError, lambda w: ["str"]
    ),
    "rollback-config-is-None": Case(
        AgentGitSaver.rollback, lambda w: (None,), InvalidConfigError, lambda w: ["NoneType"]
    ),
    "rollback-config-is-a-list": Case(
        AgentGitSaver.rollback,
        lambda w: ([("thread_id", A_THREAD), ("checkpoint_id", w.alice_cp)],),
        InvalidConfigError,
        lambda w: ["list"],
    ),
    "rollback-subgraph-namespace": Case(
        AgentGitSaver.rollback,
        lambda w: (w.cp_config(checkpoint_ns="child:1"),),
        InvalidConfigError,
        lambda w: ["child:1", w.alice_cp],
    ),
    # a str user id is an owner (see test_bad_input.py); a float or bool never is
    "create_session-user_id-float": Case(
        AgentGitSaver.create_session, lambda w: (1.5,), InvalidConfigError, lambda w: ["1.5"]
    ),
    "create_session-user_id-bool": Case(
        AgentGitSaver.create_session, lambda w: (True,), InvalidConfigError, lambda w: ["True"]
    ),
    # a user_id that does not own the session
    "rollback-not-owner": Case(
        AgentGitSaver.rollback,
        lambda w: (w.cp_config(),),
        SessionAccessError,
        lambda w: [str(BOB), f"session {w.alice}"],
        kwargs=lambda w: {"user_id": BOB},
    ),
    "get_session-not-owner": Case(
        AgentGitSaver.get_session,
        lambda w: (w.alice,),
        SessionAccessError,
        lambda w: [str(BOB), f"session {w.alice}"],
        kwargs=lambda w: {"user_id": BOB},
    ),
    "switch-not-owner": Case(
        AgentGitSaver.switch,
        lambda w: (w.alice, A_THREAD),
        SessionAccessError,
        lambda w: [str(BOB), f"session {w.alice}"],
        kwargs=lambda w: {"user_id": BOB},
    ),
    "branches-not-owner": Case(
        AgentGitSaver.branches,
        lambda w: (w.alice,),
        SessionAccessError,
        lambda w: [str(BOB), f"session {w.alice}"],
        kwargs=lambda w: {"user_id": BOB},
    ),
    "config_for-not-owner": Case(
        AgentGitSaver.config_for,
        lambda w: (w.alice,),
        SessionAccessError,
        lambda w: [str(BOB), f"session {w.alice}"],
        kwargs=lambda w: {"user_id": BOB},
    ),
    "session_for_thread-not-owner": Case(
        AgentGitSaver.session_for_thread,
        lambda w: (A_THREAD,),
        SessionAccessError,
        lambda w: [str(BOB), f"session {w.alice}"],
        kwargs=lambda w: {"user_id": BOB},
    ),
    # switch to a thread that is not the session's
    "switch-thread-of-another-session": Case(
        AgentGitSaver.switch,
        lambda w: (w.alice, B_THREAD),
        ThreadNotFoundError,
        lambda w: [B_THREAD, str(w.alice)],
    ),
    "switch-unknown-thread": Case(
        AgentGitSaver.switch,
        lambda w: (w.alice, "ghost-thread"),
        ThreadNotFoundError,
        lambda w: ["ghost-thread", str(w.alice)],
    ),
}


# Cases run in groups, each group on one seeded world (a PostgreSQL backend
# costs a schema per test); every case still snapshots before and after itself
# and every failing case is reported by its id.
GROUPS = {
    "unknown-session": [
        "get_session-unknown",
        "config_for-unknown",
        "branches-unknown",
        "switch-unknown-session",
        "get_session-str-id",
    ],
    "unknown-thread": ["rollback-unknown-thread", "session_for_thread-unknown"],
    "unknown-checkpoint": [
        "rollback-unknown-checkpoint",
        "rollback-checkpoint-of-another-thread",
    ],
    "malformed-config": [
        "rollback-no-thread_id",
        "rollback-empty-thread_id",
        "rollback-no-checkpoint_id",
        "rollback-no-configurable",
        "rollback-configurable-not-a-mapping",
        "rollback-config-is-a-string",
        "rollback-config-is-None",
        "rollback-config-is-a-list",
        "rollback-subgraph-namespace",
        "create_session-user_id-float",
        "create_session-user_id-bool",
    ],
    "not-owner": [
        "rollback-not-owner",
        "get_session-not-owner",
        "switch-not-owner",
        "branches-not-owner",
        "config_for-not-owner",
        "session_for_thread-not-owner",
    ],
    "switch-foreign-thread": ["switch-thread-of-another-session", "switch-unknown-thread"],
}
assert sorted(c for cases in GROUPS.values() for c in cases) == sorted(CASES)


def _error_problem(exc: BaseException | None, case: Case, w: World) -> str | None:
    """What is wrong with the error `case` raised (None: it is the right one)."""
    if exc is None:
        return "raised nothing"
    if type(exc) is not case.error or not isinstance(exc, AgentGitError):
        return f"raised {type(exc).__name__}({exc}), expected {case.error.__name__}"
    missing = [name for name in case.names(w) if name not in str(exc)]
    if missing:
        return f"message {str(exc)!r} does not name {missing}"
    return None


def _state_problem(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    changed = [key for key in before if before[key] != after[key]]
    return f"changed {changed}: {before} -> {after}" if changed else None


def group_flow(saver: AgentGitSaver, group: str) -> Plan[list[str]]:
    """Every case of `group` on one seeded world: what went wrong, by case id."""
    failures: list[str] = []
    w = yield from seed(saver)
    for case_id in GROUPS[group]:
        case = CASES[case_id]
        before = yield from snapshot()
        raised: BaseException | None = None
        try:
            yield from call(case.method, *case.args(w), **case.kwargs(w))
        except Exception as exc:
            raised = exc
        after = yield from snapshot()
        for problem in (_error_problem(raised, case, w), _state_problem(before, after)):
            if problem:
                failures.append(f"{case_id}: {problem}")
    return failures


@pytest.mark.parametrize("group", list(GROUPS))
async def test_bad_input_raises_typed_error_and_changes_nothing(
    run: Run, run_backend: AsyncBackend, group: str
) -> None:
    async with run_backend.open() as saver:
        failures = await run(group_flow(saver, group), on(saver))
    assert not failures, "\n".join(failures)


def test_errors_are_standard_exception_kinds_too():
    # Callers catching the built-in kinds keep working.
    assert issubclass(SessionNotFoundError, LookupError)
    assert issubclass(ThreadNotFoundError, SessionNotFoundError)
    assert issubclass(CheckpointNotFoundError, LookupError)
    assert issubclass(SessionAccessError, PermissionError)
    assert issubclass(InvalidConfigError, ValueError)


def refused_rollbacks(saver: AgentGitSaver) -> Plan[dict[str, Any]]:
    w = yield from seed(saver)
    before = yield from snapshot()
    with pytest.raises(SessionAccessError):
        yield from call(AgentGitSaver.rollback, w.cp_config(), user_id=BOB)
    with pytest.raises(CheckpointNotFoundError):
        yield from call(AgentGitSaver.rollback, w.cp_config(checkpoint_id=BOGUS_CHECKPOINT))
    return before


async def test_nothing_is_changed_survives_reopen(run: Run, run_backend: AsyncBackend) -> None:
    """A refused rollback leaves nothing behind that shows up on the next open."""
    async with run_backend.open() as saver:
        before = await run(refused_rollbacks(saver), on(saver))
    async with run_backend.open() as saver:
        assert await run(snapshot(), on(saver)) == before


# -- the owner may do all of it (the checks above are not vacuous) -------------------


def owner_calls_flow(saver: AgentGitSaver) -> Plan[None]:
    w = yield from seed(saver)
    assert (yield from call(AgentGitSaver.get_session, w.alice, user_id=ALICE)).id == w.alice
    session = yield from call(AgentGitSaver.session_for_thread, A_THREAD, user_id=ALICE)
    assert session.id == w.alice
    branches = yield from call(AgentGitSaver.branches, w.alice, user_id=ALICE)
    assert [b.thread_id for b in branches] == [A_THREAD, w.alice_branch]
    cfg = yield from call(AgentGitSaver.config_for, w.alice, user_id=ALICE)
    assert cfg["configurable"]["thread_id"] == w.alice_branch
    cfg = yield from call(AgentGitSaver.switch, w.alice, A_THREAD, user_id=ALICE)
    assert cfg["configurable"]["thread_id"] == A_THREAD
    session = yield from call(AgentGitSaver.get_session, w.alice)
    assert session.current_internal_session_id == A_THREAD

    branch = yield from call(AgentGitSaver.rollback, w.cp_config(), user_id=ALICE)
    graph = chat_graph_builder().compile(checkpointer=saver)
    state = yield from get_state(graph, branch)
    assert contents(state.values) == ["alice 0", "echo: alice 0 (#1)", "alice 1"]
    session = yield from call(AgentGitSaver.get_session, w.alice)
    assert session.branch_count == 2
    assert session.current_internal_session_id == branch["configurable"]["thread_id"]
    # Bob's session is untouched by all of Alice's work.
    assert (yield from call(AgentGitSaver.get_session, w.bob, user_id=BOB)).branch_count == 0


async def test_owner_calls_succeed(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(owner_calls_flow(saver), on(saver))
