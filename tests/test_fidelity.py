"""Fidelity matrix: a branch behaves as LangGraph's own replay of its checkpoint.

The oracle is LangGraph. For a checkpoint C of an original thread,

    branch = saver.rollback(C.config); graph.invoke(x, branch)

must give the same `values`, `next`, tasks (names, results, errors, interrupt
values) and result as time travel on the original,

    graph.invoke(x, C.config)          # config holding C's checkpoint_id

and the original thread's stored history (every checkpoint tuple in every
namespace, with its pending writes) must be the same before and after the
rollback and the runs on the branch.

Nodes are deterministic (`tests/fidelity_graphs.py`), so each scenario is run
identically on two or more thread ids: one for the branch path ("orig") and
one per oracle replay, which then never touches the thread the branch was
taken from. Checkpoints are matched across those threads by their position in
`get_state_history`.

Each scenario is written once as a plan (tests/plans.py) and the `run` fixture
drives it with the sync API, then the async one.

Where LangGraph's own behaviour is surprising the tests assert what LangGraph
does; `tests/fidelity_langgraph_limits.md` has standalone reproductions.
"""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.types import Command, Interrupt, Send, StateSnapshot

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph._plan import Plan, call, gather
from tests.conftest import AsyncBackend, Run
from tests.fidelity_graphs import (
    Probe,
    delta_input,
    delta_probe,
    fanout_probe,
    hitl_probe,
    messages_input,
    messages_probe,
    parallel_probe,
    plain_input,
    plain_probe,
    previous_final_probe,
    sequential_probe,
    stateful_probe,
    subgraph_probe,
)
from tests.plans import Graph, get_state, history, invoke, on

# Exhaustive, process or notebook runs: the full suite, not the quick subset.
pytestmark = pytest.mark.slow

# -- the calls the scenarios make (tests/plans.py has invoke, get_state, history) ----------


def update_state(graph: Any, config: Any, values: Any, as_node: str | None = None) -> Plan[Any]:
    return call(Graph.update_state, graph, config, values, as_node=as_node)


def rollback(config: Any) -> Plan[Any]:
    return call(AgentGitSaver.rollback, config)


# Thread names in the flows are short ("a-orig"); each test run prefixes them
# with its own id, as the PostgreSQL backend keeps one database for the session.
_RUN: ContextVar[str] = ContextVar("fidelity_run", default="")


def tid(name: str) -> str:
    return f"{_RUN.get()}{name}"


def cfg(name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": tid(name)}}


def stored(name: str) -> Plan[list[CheckpointTuple]]:
    """Every checkpoint tuple of the thread, all namespaces."""
    return gather(AgentGitSaver.list, cfg(name))


def stored_by_id(thread_id: str) -> Plan[list[CheckpointTuple]]:
    return gather(AgentGitSaver.list, {"configurable": {"thread_id": thread_id}})


def delete_thread(name: str) -> Plan[None]:
    return call(AgentGitSaver.delete_thread, tid(name))


# -- what is compared -------------------------------------------------------------------


def norm(x: Any, *, strict: bool = False) -> Any:
    """A comparable form. Not strict: interrupt ids (derived from checkpoint ids,
    which differ between two threads after the copied checkpoint) are dropped."""
    if isinstance(x, BaseMessage):
        return ("message", norm(x.model_dump(), strict=strict))
    if isinstance(x, Interrupt):
        return ("interrupt", norm(x.value, strict=strict)) + ((x.id,) if strict else ())
    if isinstance(x, BaseException):
        return ("error", type(x).__name__, str(x))
    if isinstance(x, _DeltaSnapshot):
        return ("delta-snapshot", norm(x.value, strict=strict))
    if isinstance(x, Send):
        return ("send", x.node, norm(x.arg, strict=strict))
    if isinstance(x, Mapping):
        return {k: norm(v, strict=strict) for k, v in x.items()}
    if isinstance(x, list):
        return [norm(v, strict=strict) for v in x]
    if isinstance(x, tuple):
        return tuple(norm(v, strict=strict) for v in x)
    return x


def task_view(task: Any, *, outcomes: bool) -> dict[str, Any]:
    out = {"name": task.name, "interrupts": [norm(i.value) for i in task.interrupts]}
    if outcomes:
        out["error"] = None if task.error is None else repr(task.error)
        out["result"] = norm(task.result)
    if isinstance(task.state, StateSnapshot):
        out["state"] = view(task.state, outcomes=outcomes)
    return out


def view(
    snapshot: StateSnapshot, *, outcomes: bool = True, questions: bool = True
) -> dict[str, Any]:
    """What a branch must reproduce: values, next, tasks, interrupts (recursively
    for subgraph states from `get_state(..., subgraphs=True)`).

    `outcomes=False` leaves out the tasks' `result` and `error`; `questions=False`
    their interrupts. At a checkpoint
    the thread has moved past, LangGraph shows there what its tasks went on to
    do; a branch starting there has not run them yet (it reruns them, as time
    travel does), so only the state *at* the checkpoint is compared.
    """
    out = {
        "values": norm(snapshot.values),
        "next": tuple(snapshot.next),
        "tasks": [task_view(t, outcomes=outcomes) for t in snapshot.tasks],
        "interrupts": [norm(i.value) for i in snapshot.interrupts],
    }
    if not questions:  # what a Functional API run went on to ask (see `scripted_flow`)
        del out["interrupts"]
        for t in out["tasks"]:
            del t["interrupts"]
    return out


def stored_view(tuples: list[CheckpointTuple]) -> list[dict[str, Any]]:
    """Every field of every stored checkpoint tuple, exact (interrupt ids included)."""
    rows = []
    for t in tuples:
        conf = t.config["configurable"]
        parent = (t.parent_config or {}).get("configurable", {})
        rows.append(
            {
                "ns": conf.get("checkpoint_ns", ""),
                "id": conf["checkpoint_id"],
                "checkpoint": norm(t.checkpoint, strict=True),
                "metadata": norm(dict(t.metadata), strict=True),
                "parent": parent.get("checkpoint_id"),
                "writes": norm(list(t.pending_writes or []), strict=True),
            }
        )
    return sorted(rows, key=lambda r: (r["ns"], r["id"]))


def where(snapshot: StateSnapshot) -> str:
    meta = snapshot.metadata or {}
    return f"checkpoint step={meta.get('step')} source={meta.get('source')} next={snapshot.next}"


def assert_same(branch: Any, oracle: Any, what: str) -> None:
    assert branch == oracle, f"{what}\n  branch: {branch!r}\n  oracle: {oracle!r}"


def calls_during(probe: Probe) -> Callable[[], Counter[str]]:
    """Returns a function giving the node calls made since this one was called."""
    start = Counter(probe.calls)

    def since() -> Counter[str]:
        delta = Counter(probe.calls)
        delta.subtract(start)
        return +delta

    return since


# -- 1 and 6: rollback to every checkpoint of a 5-step run ---------------------------------


def every_checkpoint_flow(
    saver: AgentGitSaver,
    make_probe: Callable[[], Probe],
    make_input: Callable[[int], Any],
    *,
    durability: str | None = None,
    delete_original: bool = False,
    tag: str = "run",
) -> Plan[None]:
    """Rollback to every checkpoint; branch == time travel for get_state, finishing
    the run (`invoke(None)`) and a new input.

    One 5-step run saves 7 checkpoints; with durability="exit" LangGraph saves
    only the last one of each run, so there the original gets three runs.
    """
    probe = make_probe()
    graph = probe.compile(saver)
    kw = {"durability": durability} if durability else {}
    runs = 3 if durability == "exit" else 1
    orig, oracle = f"{tag}-orig", f"{tag}-oracle"
    for thread in (orig, oracle):
        for n in range(runs):
            yield from invoke(graph, make_input(n), cfg(thread), **kw)
    h_orig = yield from history(graph, cfg(orig))
    h_oracle = yield from history(graph, cfg(oracle))
    assert len(h_orig) >= 2
    assert [view(s) for s in h_orig] == [view(s) for s in h_oracle], "graph is not deterministic"
    before = stored_view((yield from stored(orig)))

    branches = []
    for snap in h_orig:
        branches.append((yield from rollback(snap.config)))
    assert stored_view((yield from stored(orig))) == before, "rollback changed the original"
    if delete_original:
        yield from delete_thread(orig)
        assert (yield from stored(orig)) == []

    for branch, osnap in zip(branches, h_oracle, strict=True):
        at = where(osnap)
        got = yield from get_state(graph, branch)
        if osnap is h_oracle[0]:  # the head: as get_state shows the original now
            expected = view((yield from get_state(graph, cfg(oracle))))
        else:  # the state at that checkpoint, not what its tasks went on to do
            expected = view(osnap, outcomes=False)
        got_view = view(got, outcomes=osnap is h_oracle[0])
        assert_same(got_view, expected, f"get_state right after rollback to {at}")

        # Both runs end (next == ()), so their results are the whole state.
        r_branch = yield from invoke(graph, None, branch, **kw)
        r_oracle = yield from invoke(graph, None, osnap.config, **kw)
        assert_same(norm(r_branch), norm(r_oracle), f"invoke(None) after rollback to {at}")
        r_branch = yield from invoke(graph, make_input(runs), branch, **kw)
        r_oracle = yield from invoke(graph, make_input(runs), cfg(oracle), **kw)
        assert_same(norm(r_branch), norm(r_oracle), f"new input after rollback to {at}")
    s_branch = yield from get_state(graph, branches[-1])
    s_oracle = yield from get_state(graph, cfg(oracle))
    assert_same(view(s_branch), view(s_oracle), "state at the end")

    if not delete_original:
        after = stored_view((yield from stored(orig)))
        assert after == before, "running on the branches changed the original thread"


# -- 2: human in the loop --------------------------------------------------------------------


def _run_to_interrupt(graph: Any, thread: str, resume: Any = None) -> Plan[None]:
    result = yield from invoke(graph, {"log": ["in"]}, cfg(thread))
    assert "__interrupt__" in result
    if resume is not None:
        yield from invoke(graph, Command(resume=resume), cfg(thread))


def _interrupt_snapshot(snapshots: list[StateSnapshot], node: str) -> tuple[int, StateSnapshot]:
    for i, snap in enumerate(snapshots):
        if snap.next == (node,) and any(t.interrupts for t in snap.tasks):
            return i, snap
    raise AssertionError(f"no checkpoint interrupted in {node!r}: {[s.next for s in snapshots]}")


def hitl_flow(saver: AgentGitSaver) -> Plan[None]:
    probe = hitl_probe()
    graph = probe.compile(saver)

    # (a) The interrupt checkpoint is the original's head: resume on the branch.
    for thread in ("a-orig", "a-oracle"):
        yield from _run_to_interrupt(graph, thread)
    h_orig = yield from history(graph, cfg("a-orig"))
    h_oracle = yield from history(graph, cfg("a-oracle"))
    before = stored_view((yield from stored("a-orig")))
    i, snap = _interrupt_snapshot(h_orig, "ask")
    assert i == 0
    branch = yield from rollback(snap.config)
    got = yield from get_state(graph, branch)
    live = yield from get_state(graph, cfg("a-oracle"))
    assert_same(view(got), view(live), "get_state at the interrupt")

    since = calls_during(probe)
    r_branch = yield from invoke(graph, Command(resume="B"), branch)
    branch_calls = since()
    since = calls_during(probe)
    r_oracle = yield from invoke(graph, Command(resume="B"), h_oracle[0].config)
    oracle_calls = since()
    assert_same(norm(r_branch), norm(r_oracle), "Command(resume='B') at the interrupt")
    assert r_oracle["answer"] == "B"
    assert_same(branch_calls, oracle_calls, "nodes run by the resume")
    s_branch = yield from get_state(graph, branch)
    s_oracle = yield from get_state(graph, cfg("a-oracle"))
    assert_same(view(s_branch), view(s_oracle), "state after the resume")

    # (b) Rollback to each checkpoint before the interrupt and run again.
    for j in range(1, len(h_orig)):
        at = where(h_oracle[j])
        branch = yield from rollback(h_orig[j].config)
        got = yield from get_state(graph, branch)
        assert_same(
            view(got, outcomes=False), view(h_oracle[j], outcomes=False), f"get_state at {at}"
        )
        r_branch = yield from invoke(graph, None, branch)
        r_oracle = yield from invoke(graph, None, h_oracle[j].config)
        assert "__interrupt__" in r_oracle
        assert_same(norm(r_branch), norm(r_oracle), f"run again from {at} (interrupts again)")
        s_branch = yield from get_state(graph, branch)
        s_oracle = yield from get_state(graph, cfg("a-oracle"))
        assert_same(view(s_branch), view(s_oracle), f"state at the new interrupt from {at}")
        r_branch = yield from invoke(graph, Command(resume=f"again{j}"), branch)
        r_oracle = yield from invoke(graph, Command(resume=f"again{j}"), cfg("a-oracle"))
        assert_same(norm(r_branch), norm(r_oracle), f"resume at the new interrupt from {at}")
    assert stored_view((yield from stored("a-orig"))) == before, "original changed"

    # (c) The original was resumed with "A", so the interrupt checkpoint is no
    # longer its head and holds the task's writes (RESUME "A" included).
    for thread in ("c-orig", "c-quirk", "c-oracle"):
        yield from _run_to_interrupt(graph, thread, resume="A")
    h_orig = yield from history(graph, cfg("c-orig"))
    h_quirk = yield from history(graph, cfg("c-quirk"))
    h_oracle = yield from history(graph, cfg("c-oracle"))
    before = stored_view((yield from stored("c-orig")))
    i, snap = _interrupt_snapshot(h_orig, "ask")

    # (c2) Replay it: LangGraph drops the stored answer and asks again.
    branch = yield from rollback(snap.config)
    got = yield from get_state(graph, branch)
    assert_same(
        view(got, outcomes=False),
        view(h_oracle[i], outcomes=False),
        "get_state at the answered interrupt",
    )
    r_branch = yield from invoke(graph, None, branch)
    r_oracle = yield from invoke(graph, None, h_oracle[i].config)
    assert "__interrupt__" in r_oracle
    assert_same(norm(r_branch), norm(r_oracle), "invoke(None) at the answered interrupt")
    s_branch = yield from get_state(graph, branch)
    s_oracle = yield from get_state(graph, cfg("c-oracle"))
    assert_same(view(s_branch), view(s_oracle), "state after replaying the answered interrupt")
    r_branch = yield from invoke(graph, Command(resume="B"), branch)
    r_replayed = yield from invoke(graph, Command(resume="B"), cfg("c-oracle"))
    assert r_replayed["answer"] == "B"
    assert_same(norm(r_branch), norm(r_replayed), "new answer after replaying the interrupt")

    # (c1) Answer differently right away. LangGraph's `Command(resume="B")` with
    # the old checkpoint_id silently keeps the stored answer "A"
    # (fidelity_langgraph_limits.md #1), contradicting (c2) where the same
    # checkpoint asks again. The branch has the question open, so it must take
    # the new answer: the oracle is (c2)'s replay-then-answer.
    r_quirk = yield from invoke(graph, Command(resume="B"), h_quirk[i].config)
    assert r_quirk["answer"] == "A"  # what LangGraph does (limits #1)
    branch = yield from rollback(snap.config)
    r_branch = yield from invoke(graph, Command(resume="B"), branch)
    assert_same(norm(r_branch), norm(r_replayed), "Command(resume='B') at the answered interrupt")
    assert stored_view((yield from stored("c-orig"))) == before, "original changed"


# -- 3: subgraphs --------------------------------------------------------------------------------


def _run_sub_to_interrupt(graph: Any, thread: str, resume: Any = None) -> Plan[None]:
    result = yield from invoke(graph, {"log": ["in"]}, cfg(thread))
    assert "__interrupt__" in result
    if resume is not None:
        yield from invoke(graph, Command(resume=resume), cfg(thread))


def subgraph_flow(saver: AgentGitSaver) -> Plan[None]:
    probe = subgraph_probe()
    graph = probe.compile(saver)

    # (a) Interrupted inside the subgraph; the parent checkpoint is the head.
    for thread in ("s-orig", "s-oracle"):
        yield from _run_sub_to_interrupt(graph, thread)
    h_orig = yield from history(graph, cfg("s-orig"))
    h_oracle = yield from history(graph, cfg("s-oracle"))
    before = stored_view((yield from stored("s-orig")))
    assert len({r["ns"] for r in before}) == 2, "expected a subgraph namespace"
    i, snap = _interrupt_snapshot(h_orig, "sub")
    assert i == 0
    branch = yield from rollback(snap.config)

    got = yield from get_state(graph, branch, subgraphs=True)
    oracle_state = yield from get_state(graph, cfg("s-oracle"), subgraphs=True)
    sub_state = got.tasks[0].state if got.tasks else None
    assert isinstance(sub_state, StateSnapshot), (
        f"get_state(branch, subgraphs=True) shows no subgraph state: task.state={sub_state!r}"
    )
    assert_same(view(got), view(oracle_state), "get_state(subgraphs=True) at the interrupt")

    since = calls_during(probe)
    r_branch = yield from invoke(graph, Command(resume="B"), branch)
    branch_calls = since()
    since = calls_during(probe)
    r_oracle = yield from invoke(graph, Command(resume="B"), h_oracle[0].config)
    oracle_calls = since()
    assert_same(norm(r_branch), norm(r_oracle), "Command(resume='B') inside the subgraph")
    assert_same(branch_calls, oracle_calls, "nodes run by the resume (s1 must not rerun)")
    s_branch = yield from get_state(graph, branch, subgraphs=True)
    s_oracle = yield from get_state(graph, cfg("s-oracle"), subgraphs=True)
    assert_same(view(s_branch), view(s_oracle), "state after the resume")

    # (b) Rollback to each parent checkpoint before the subgraph ran; run again.
    for j in range(1, len(h_orig)):
        at = where(h_oracle[j])
        branch = yield from rollback(h_orig[j].config)
        r_branch = yield from invoke(graph, None, branch)
        r_oracle = yield from invoke(graph, None, h_oracle[j].config)
        assert "__interrupt__" in r_oracle
        assert_same(norm(r_branch), norm(r_oracle), f"run again from {at}")
        s_branch = yield from get_state(graph, branch, subgraphs=True)
        s_oracle = yield from get_state(graph, cfg("s-oracle"), subgraphs=True)
        assert_same(view(s_branch), view(s_oracle), f"state at the new interrupt from {at}")
        r_branch = yield from invoke(graph, Command(resume=f"again{j}"), branch)
        r_oracle = yield from invoke(graph, Command(resume=f"again{j}"), cfg("s-oracle"))
        assert_same(norm(r_branch), norm(r_oracle), f"resume at the new interrupt from {at}")
    assert stored_view((yield from stored("s-orig"))) == before, "original changed"

    # (c) The original finished the subgraph (resumed with "A"); rollback to the
    # parent checkpoint at the interrupt and replay it.
    for thread in ("t-orig", "t-oracle"):
        yield from _run_sub_to_interrupt(graph, thread, resume="A")
    h_orig = yield from history(graph, cfg("t-orig"))
    h_oracle = yield from history(graph, cfg("t-oracle"))
    before = stored_view((yield from stored("t-orig")))
    i, snap = _interrupt_snapshot(h_orig, "sub")
    branch = yield from rollback(snap.config)
    got = yield from get_state(graph, branch)
    assert_same(
        view(got, outcomes=False),
        view(h_oracle[i], outcomes=False),
        "get_state at the answered subgraph interrupt",
    )
    r_branch = yield from invoke(graph, None, branch)
    r_oracle = yield from invoke(graph, None, h_oracle[i].config)
    assert_same(norm(r_branch), norm(r_oracle), "invoke(None) at the answered subgraph interrupt")
    s_branch = yield from get_state(graph, branch, subgraphs=True)
    s_oracle = yield from get_state(graph, cfg("t-oracle"), subgraphs=True)
    assert_same(view(s_branch), view(s_oracle), "state after replaying the subgraph")
    assert stored_view((yield from stored("t-orig"))) == before, "original changed"


# -- 4: DeltaChannel --------------------------------------------------------------------------


def delta_flow(saver: AgentGitSaver) -> Plan[None]:
    """Checkpoints alternate between a snapshot blob and nothing stored, so
    rolling back to every one covers 'before' and 'after' a snapshot point.
    The original is deleted before the branches are used: the copy must be
    self-contained. (With the original kept, the delta state runs in the
    durability rows, 6-*-delta.)"""
    probe = delta_probe()
    graph = probe.compile(saver)
    yield from invoke(graph, delta_input(0), cfg("probe"))
    tuples = yield from stored("probe")
    blobs = [
        isinstance(t.checkpoint["channel_values"].get("items"), _DeltaSnapshot) for t in tuples
    ]
    assert any(blobs) and not all(blobs), "expected checkpoints with and without a snapshot"
    yield from every_checkpoint_flow(saver, delta_probe, delta_input, delete_original=True)


# -- 5: Send fan-out with some tasks finished ---------------------------------------------------


def send_failure_flow(saver: AgentGitSaver) -> Plan[None]:
    probe = fanout_probe()
    graph = probe.compile(saver)
    probe.fail.add("bad")
    threads = ("f-orig", "f-resume", "f-replay")
    for thread in threads:
        try:
            yield from invoke(graph, {"items": ["a", "bad", "c"]}, cfg(thread))
        except ValueError:
            pass
        else:
            raise AssertionError("work on 'bad' should have failed")
    probe.fail.clear()
    h_orig = yield from history(graph, cfg("f-orig"))
    h_resume = yield from history(graph, cfg("f-resume"))
    h_replay = yield from history(graph, cfg("f-replay"))
    before = stored_view((yield from stored("f-orig")))
    head = h_orig[0]
    assert head.next == ("work", "work", "work")
    assert [t.error is not None for t in head.tasks] == [False, True, False]

    branch = yield from rollback(head.config)
    got = yield from get_state(graph, branch)
    live = yield from get_state(graph, cfg("f-resume"))
    assert_same(view(got), view(live), "get_state at the failed step")

    since = calls_during(probe)
    r_branch = yield from invoke(graph, None, branch)
    branch_calls = since()
    # LangGraph's resume of the head (no checkpoint_id) reruns only the failed task ...
    since = calls_during(probe)
    r_resume = yield from invoke(graph, None, cfg("f-resume"))
    resume_calls = since()
    # ... while time travel (checkpoint_id) reruns all of them: same values.
    r_replay = yield from invoke(graph, None, h_replay[0].config)
    assert_same(norm(r_branch), norm(r_resume), "resume after the failure")
    assert_same(norm(r_branch), norm(r_replay), "resume after the failure vs time travel")
    assert resume_calls == Counter({"bad": 1, "after": 1})
    assert_same(branch_calls, Counter({"bad": 1, "after": 1}), "tasks run on the branch")
    assert stored_view((yield from stored("f-orig"))) == before, "original changed"

    # Once the thread has moved past the failed step, LangGraph's replay of it
    # reruns every task there (limits #2); so must a branch taken from it.
    before = stored_view((yield from stored("f-resume")))
    branch = yield from rollback(h_resume[0].config)
    got = yield from get_state(graph, branch)
    assert_same(
        view(got, outcomes=False),
        view(h_replay[0], outcomes=False),
        "get_state at the failed step, moved past",
    )
    since = calls_during(probe)
    r_branch = yield from invoke(graph, None, branch)
    branch_calls = since()
    since = calls_during(probe)
    r_replay = yield from invoke(graph, None, h_replay[0].config)
    replay_calls = since()
    assert_same(norm(r_branch), norm(r_replay), "replay of the failed step, moved past")
    assert replay_calls == Counter({"a": 1, "bad": 1, "c": 1, "after": 1})
    assert_same(branch_calls, replay_calls, "tasks rerun on a branch of the moved-past step")
    assert stored_view((yield from stored("f-resume"))) == before, "original changed"


def send_interrupt_flow(saver: AgentGitSaver) -> Plan[None]:
    probe = fanout_probe()
    graph = probe.compile(saver)
    for thread in ("i-orig", "i-oracle"):
        result = yield from invoke(graph, {"items": ["a", "ask", "c"]}, cfg(thread))
        assert "__interrupt__" in result
    h_orig = yield from history(graph, cfg("i-orig"))
    h_oracle = yield from history(graph, cfg("i-oracle"))
    before = stored_view((yield from stored("i-orig")))
    head = h_orig[0]
    assert [bool(t.interrupts) for t in head.tasks] == [False, True, False]

    branch = yield from rollback(head.config)
    got = yield from get_state(graph, branch)
    live = yield from get_state(graph, cfg("i-oracle"))
    assert_same(view(got), view(live), "get_state at the interrupted fan-out")

    since = calls_during(probe)
    r_branch = yield from invoke(graph, Command(resume="yes"), branch)
    branch_calls = since()
    since = calls_during(probe)
    r_oracle = yield from invoke(graph, Command(resume="yes"), h_oracle[0].config)
    oracle_calls = since()
    assert_same(norm(r_branch), norm(r_oracle), "resume of the interrupted fan-out")
    assert oracle_calls == Counter({"ask": 1, "after": 1})
    assert_same(branch_calls, oracle_calls, "tasks run on the branch")
    s_branch = yield from get_state(graph, branch)
    s_oracle = yield from get_state(graph, cfg("i-oracle"))
    assert_same(view(s_branch), view(s_oracle), "state after the resume")
    assert stored_view((yield from stored("i-orig"))) == before, "original changed"


# -- 7: update_state on a branch, then rollback from the branch ----------------------------------


def update_state_flow(saver: AgentGitSaver) -> Plan[None]:
    probe = plain_probe()
    graph = probe.compile(saver)
    for thread in ("u-orig", "u-oracle"):
        yield from invoke(graph, plain_input(0), cfg(thread))
    h_orig = yield from history(graph, cfg("u-orig"))
    h_oracle = yield from history(graph, cfg("u-oracle"))
    before_orig = stored_view((yield from stored("u-orig")))
    k = 3
    assert h_orig[k].next, "pick a checkpoint in the middle of the run"
    edit = {"log": ["edited"], "count": 100, "last": "edited"}

    branch = yield from rollback(h_orig[k].config)
    branch_thread = branch["configurable"]["thread_id"]
    update_branch = yield from update_state(graph, branch, edit)
    update_oracle = yield from update_state(graph, h_oracle[k].config, edit)
    s_branch = yield from get_state(graph, branch)
    s_oracle = yield from get_state(graph, update_oracle)
    assert_same(view(s_branch), view(s_oracle), "state after update_state")
    h_branch = yield from history(graph, branch)
    before_branch = stored_view((yield from stored_by_id(branch_thread)))

    # Rollback from the branch to its update checkpoint.
    branch2 = yield from rollback(update_branch)
    got = yield from get_state(graph, branch2)
    assert_same(view(got), view(s_oracle), "get_state after rollback to the update")
    r_branch = yield from invoke(graph, None, branch2)
    r_oracle = yield from invoke(graph, None, update_oracle)
    assert_same(norm(r_branch), norm(r_oracle), "invoke(None) from the update checkpoint")
    r_branch = yield from invoke(graph, plain_input(1), branch2)
    r_oracle = yield from invoke(graph, plain_input(1), cfg("u-oracle"))
    assert_same(norm(r_branch), norm(r_oracle), "new input after the update checkpoint")

    # Rollback from the branch to an earlier checkpoint: its copy of the original's.
    first = h_branch[-1]
    assert (
        first.config["configurable"]["checkpoint_id"]
        == h_orig[k].config["configurable"]["checkpoint_id"]
    )
    branch3 = yield from rollback(first.config)
    got = yield from get_state(graph, branch3)
    assert_same(
        view(got, outcomes=False),
        view(h_oracle[k], outcomes=False),
        "get_state after rollback to the branch's start",
    )
    r_branch = yield from invoke(graph, None, branch3)
    r_oracle = yield from invoke(graph, None, h_oracle[k].config)
    assert_same(norm(r_branch), norm(r_oracle), "invoke(None) from the branch's start")
    s_branch = yield from get_state(graph, branch3)
    s_oracle = yield from get_state(graph, cfg("u-oracle"))
    assert_same(view(s_branch), view(s_oracle), "state after invoke(None) from the branch's start")

    assert stored_view((yield from stored_by_id(branch_thread))) == before_branch, "branch changed"
    assert stored_view((yield from stored("u-orig"))) == before_orig, "original changed"


# -- 8 and 9: stateful subgraphs and the Functional API, scripted ----------------------------


def answers(result: Any) -> Command:
    """The answer to every open question of a run's result, by interrupt id."""
    return Command(resume={i.id: f"{norm(i.value)}!" for i in result["__interrupt__"]})


def to_the_end(graph: Any, first: Any, config: Any, then: Any) -> Plan[list[Any]]:
    """Run `first` on `config`, then answer every question on `then` until done."""
    results = [(yield from invoke(graph, first, config))]
    while isinstance(results[-1], Mapping) and "__interrupt__" in results[-1]:
        assert len(results) < 10, "a run that keeps asking"
        results.append((yield from invoke(graph, answers(results[-1]), then)))
    return results


def scripted_flow(
    saver: AgentGitSaver,
    make_probe: Callable[[], Any],
    script: list[Any],
    new_input: Any,
    *,
    functional: bool = False,
) -> Plan[None]:
    """A thread driven by `script` (inputs; `None` stands for answering the open
    questions), compared with LangGraph at every point:

    (a) At each step of the script, a branch of the head finishes the script as
        the original did: same results, and no node is re-run that the
        original's resume did not re-run (finished tasks hand back their writes).
    (b) Once the script is done, a branch of every checkpoint: get_state, then
        run to the end answering every question (LangGraph: replay of that
        checkpoint, then the same answers on the thread), then `new_input`.

    A stateful subgraph's state on a branch of a past checkpoint is the one it
    had when that checkpoint was written, which is the one LangGraph's replay
    loads; LangGraph's `get_state` of a past checkpoint shows the subgraph's
    latest state instead, so child states are compared at the head only.
    At a checkpoint the thread has moved past, a Functional API entrypoint's
    stored interrupt is the last question its run asked; the branch asks again
    from the first (as replay does), so interrupts are compared at the head only
    (`questions`).
    """
    probe = make_probe()
    graph = probe.compile(saver)

    def step(item: Any, last: Any) -> Any:
        return answers(last) if item is None else item

    # The original, recording what each step of the script returned and ran.
    outcomes: list[tuple[Any, Counter[str]]] = []
    last: Any = None
    for item in script:
        since = calls_during(probe)
        last = yield from invoke(graph, step(item, last), cfg("orig"))
        outcomes.append((last, since()))

    # (a) branch the head after each step and finish the script there. The
    # threads stay where the script stopped: the world as it was after step k.
    stopped: dict[Any, str] = {}
    for k in range(1, len(script)):
        thread = f"head{k}"
        last = None
        for item in script[:k]:
            last = yield from invoke(graph, step(item, last), cfg(thread))
        before = stored_view((yield from stored(thread)))
        head = yield from get_state(graph, cfg(thread), subgraphs=True)
        stopped[(head.metadata or {}).get("step")] = thread
        branch = yield from rollback(head.config)
        got = yield from get_state(graph, branch, subgraphs=True)
        assert_same(view(got), view(head), f"get_state of a branch of the head after step {k}")
        for j in range(k, len(script)):
            since = calls_during(probe)
            last = yield from invoke(graph, step(script[j], last), branch)
            expected, expected_calls = outcomes[j]
            assert_same(norm(last), norm(expected), f"step {j} on a branch of the head after {k}")
            assert_same(since(), expected_calls, f"nodes run by step {j} on a branch after {k}")
        assert stored_view((yield from stored(thread))) == before, "original changed"

    # (b) every checkpoint of the finished thread.
    last = None
    for item in script:
        last = yield from invoke(graph, step(item, last), cfg("oracle"))
    h_orig = yield from history(graph, cfg("orig"))
    h_oracle = yield from history(graph, cfg("oracle"))
    assert [view(s) for s in h_orig] == [view(s) for s in h_oracle], "graph is not deterministic"
    before = stored_view((yield from stored("orig")))
    branches = []
    for snap in h_orig:
        branches.append((yield from rollback(snap.config)))
    assert stored_view((yield from stored("orig"))) == before, "rollback changed the original"

    for i, (branch, osnap) in enumerate(zip(branches, h_oracle, strict=True)):
        at = where(osnap)
        if i == 0:
            got = yield from get_state(graph, branch, subgraphs=True)
            expected = view((yield from get_state(graph, cfg("oracle"), subgraphs=True)))
            assert_same(view(got), expected, f"get_state right after rollback to {at}")
        else:
            got = yield from get_state(graph, branch)
            assert_same(
                view(got, outcomes=False, questions=not functional),
                view(osnap, outcomes=False, questions=not functional),
                f"get_state right after rollback to {at}",
            )
        r_branch = yield from to_the_end(graph, None, branch, branch)
        # At the head, LangGraph's resume (no checkpoint_id; limits #2); else its replay.
        start = cfg("oracle") if i == 0 else osnap.config
        r_oracle = yield from to_the_end(graph, None, start, cfg("oracle"))
        assert_same(norm(r_branch), norm(r_oracle), f"run to the end after rollback to {at}")
        # A new input goes on from where the replay ended: the oracle thread's
        # head when the replay ran anything. A past checkpoint where a run had
        # ended is the head of a thread that stopped there in (a) (LangGraph's
        # time travel would hand a stateful subgraph its latest memory, limits #6).
        r_branch = yield from to_the_end(graph, new_input, branch, branch)
        step_at = (osnap.metadata or {}).get("step")
        if i == 0 or len(r_oracle) > 1 or osnap.next:
            oracle = cfg("oracle")
        else:
            assert step_at in stopped, f"no thread stopped at {at}"
            oracle = cfg(stopped.pop(step_at))
        r_oracle = yield from to_the_end(graph, new_input, oracle, oracle)
        assert_same(norm(r_branch), norm(r_oracle), f"new input after rollback to {at}")
    assert stored_view((yield from stored("orig"))) == before, "running the branches changed it"


def stateful_example_flow(saver: AgentGitSaver) -> Plan[None]:
    """The sub-agent remembers each input: a branch sees its memory as it was."""
    graph = stateful_probe().compile(saver)
    after_a = {}
    for thread in ("m", "m-tt"):
        yield from invoke(graph, {"inp": "a"}, cfg(thread))
        after_a[thread] = (yield from get_state(graph, cfg(thread))).config
        yield from invoke(graph, {"inp": "b"}, cfg(thread))
    before = stored_view((yield from stored("m")))
    head = yield from rollback((yield from get_state(graph, cfg("m"))).config)
    past = yield from rollback(after_a["m"])
    assert stored_view((yield from stored("m"))) == before, "rollback changed the original"
    assert (yield from invoke(graph, {"inp": "c"}, head))["out"] == "a|b|c"
    assert (yield from invoke(graph, {"inp": "c"}, past))["out"] == "a|c"
    assert (yield from invoke(graph, {"inp": "d"}, past))["out"] == "a|c|d"
    # LangGraph's own time travel to the same checkpoint reuses the latest memory
    # (fidelity_langgraph_limits.md #6).
    assert (yield from invoke(graph, {"inp": "c"}, after_a["m-tt"]))["out"] == "a|b|c"
    assert stored_view((yield from stored("m"))) == before, "running the branches changed it"


# -- the matrix ------------------------------------------------------------------------------------

STATES = {
    "plain": (plain_probe, plain_input),
    "messages": (messages_probe, messages_input),
}

FLOWS: dict[str, Callable[[Any], Plan[None]]] = {}
for _name, (_probe, _input) in STATES.items():
    FLOWS[f"1-every-checkpoint-{_name}"] = functools.partial(
        every_checkpoint_flow, make_probe=_probe, make_input=_input
    )
FLOWS["2-human-in-the-loop"] = hitl_flow
FLOWS["3-subgraph-interrupt"] = subgraph_flow
FLOWS["4-delta-channel"] = delta_flow
FLOWS["5-send-partial-failure"] = send_failure_flow
FLOWS["5-send-partial-interrupt"] = send_interrupt_flow
# "async" is LangGraph's default durability: the rows of case 1.
for _durability in ("sync", "exit"):
    for _name, (_probe, _input) in {**STATES, "delta": (delta_probe, delta_input)}.items():
        FLOWS[f"6-durability-{_durability}-{_name}"] = functools.partial(
            every_checkpoint_flow, make_probe=_probe, make_input=_input, durability=_durability
        )
FLOWS["7-update-state-on-branch"] = update_state_flow
FLOWS["8-stateful-subgraph"] = functools.partial(
    scripted_flow,
    make_probe=stateful_probe,
    script=[{"inp": "a"}, {"inp": "b"}],
    new_input={"inp": "c"},
)
FLOWS["8-stateful-subgraph-interrupt"] = functools.partial(
    scripted_flow,
    make_probe=functools.partial(stateful_probe, ask=True),
    script=[{"inp": "a"}, None, {"inp": "b"}, None],
    new_input={"inp": "c"},
)
FLOWS["8-stateful-subgraph-example"] = stateful_example_flow
FLOWS["9-functional-sequential-interrupts"] = functools.partial(
    scripted_flow,
    make_probe=sequential_probe,
    script=["x", None, None, "y", None],
    new_input="z",
    functional=True,
)
FLOWS["9-functional-parallel-interrupts"] = functools.partial(
    scripted_flow,
    make_probe=parallel_probe,
    script=[["a", "ask1", "ask2"], None, ["b", "ask3"]],
    new_input=["c", "ask4"],
    functional=True,
)
FLOWS["9-functional-previous-final"] = functools.partial(
    scripted_flow,
    make_probe=previous_final_probe,
    script=[1, 2, 3],
    new_input=4,
    functional=True,
)


@pytest.mark.parametrize("case", list(FLOWS))
async def test_fidelity(run: Run, run_backend: AsyncBackend, case: str) -> None:
    _RUN.set(f"{uuid.uuid4().hex[:8]}-")
    async with run_backend.open() as saver:
        await run(FLOWS[case](saver), on(saver))
