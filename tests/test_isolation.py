"""User isolation, adversarially: user B tries everything on user A's sessions.

Every public operation of `AgentGitSaver` that acts on a session (sessions API,
rollback, switch, branches, history, erasure, pruning) is called by B with
`user_id=B`, every checkpointer method and graph call (`invoke`, `get_state`,
`get_state_history`, `update_state`) with B's `configurable.user_id`, on A's
threads; each is refused with `SessionAccessError`, and everything the store
and the wrapped saver hold (sessions, thread records, tags, every checkpoint
and write as bytes) is unchanged. Sync and async, every backend. The CLI with
`--user B` is refused too (non-zero exit, a message naming the session).

A meta-test keeps the list honest: every public method of `AgentGitSaver` is
either exercised here or listed as not acting for a user, with the reason.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint

from agentgit_langgraph import AgentGitSaver, SessionAccessError
from agentgit_langgraph._plan import Plan, call, gather, run_sync
from tests.conftest import AsyncBackend, Run
from tests.graphs import chat_graph_builder, contents, human
from tests.plans import Graph, cfg, on, snapshot

A, B = 1, 2


@dataclass
class World:
    saver: AgentGitSaver
    graph: Any
    a_session: int
    a_other_session: int
    a_thread: str
    a_branch: str
    a_checkpoint: dict[str, Any]  # a checkpoint config on A's first thread
    a_head: dict[str, Any]
    b_session: int


def build_world(saver: AgentGitSaver) -> Plan[World]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    a_thread = "a-main"
    for n in range(3):
        yield from call(Graph.invoke, graph, human(f"a {n}", n), cfg(a_thread, user_id=A))
    history = yield from gather(Graph.get_state_history, graph, cfg(a_thread))
    branch = yield from call(AgentGitSaver.rollback, history[3].config, user_id=A, name="retry")
    yield from call(Graph.invoke, graph, human("a on branch", 9), branch)
    session = yield from call(AgentGitSaver.session_for_thread, a_thread, user_id=A)
    yield from call(AgentGitSaver.tag, history[3].config, "v1", user_id=A)
    other = yield from call(AgentGitSaver.create_session, A, "a's second")
    yield from call(Graph.invoke, graph, human("b 0", 0), cfg("b-main", user_id=B))
    b_session = yield from call(AgentGitSaver.session_for_thread, "b-main", user_id=B)
    return World(
        saver=saver,
        graph=graph,
        a_session=session.id,
        a_other_session=other.id,
        a_thread=a_thread,
        a_branch=branch["configurable"]["thread_id"],
        a_checkpoint=history[3].config,
        a_head=history[0].config,
        b_session=b_session.id,
    )


def b_cfg(thread_id: str, **extra: Any) -> dict[str, Any]:
    return cfg(thread_id, user_id=B, **extra)


def with_b(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "configurable": {**config["configurable"], "user_id": B}}


# Each attack: (the AgentGitSaver / graph method it exercises, how B calls it).
Attack = tuple[str, Callable[[World], Plan[Any]]]


def _saver(method: Callable[..., Any], *args: Callable[[World], Any], **kwargs: Any) -> Attack:
    def make(w: World) -> Plan[Any]:
        return call(method, *(a(w) for a in args), user_id=B, **kwargs)

    return method.__name__, make


def _sid(w: World) -> int:
    return w.a_session


SESSION_ATTACKS: list[Attack] = [
    _saver(AgentGitSaver.get_session, _sid),
    _saver(AgentGitSaver.get_session, lambda w: w.a_other_session),
    _saver(AgentGitSaver.session_for_thread, lambda w: w.a_thread),
    _saver(AgentGitSaver.session_for_thread, lambda w: w.a_branch),
    _saver(AgentGitSaver.config_for, _sid),
    _saver(AgentGitSaver.config_for, lambda w: w.a_other_session),
    _saver(AgentGitSaver.branches, _sid),
    _saver(AgentGitSaver.switch, _sid, lambda w: w.a_thread),
    _saver(AgentGitSaver.undone_calls, _sid),
    _saver(AgentGitSaver.undone_calls, _sid, lambda w: w.a_thread),
    _saver(AgentGitSaver.rollback, lambda w: w.a_checkpoint),
    _saver(AgentGitSaver.rollback, lambda w: w.a_head, name="b-branch"),
    ("rollback", lambda w: call(AgentGitSaver.rollback, with_b(w.a_checkpoint))),
    _saver(AgentGitSaver.delete_session, _sid),
    _saver(AgentGitSaver.delete_session, lambda w: w.a_other_session),
    _saver(AgentGitSaver.prune_branches, _sid),
    _saver(AgentGitSaver.log, _sid),
    _saver(AgentGitSaver.log, lambda w: w.a_checkpoint),
    _saver(AgentGitSaver.log, lambda w: cfg(w.a_branch)),
    _saver(AgentGitSaver.diff, lambda w: w.a_checkpoint, lambda w: w.a_head),
    _saver(AgentGitSaver.resolve, _sid, lambda w: "v1"),
    _saver(AgentGitSaver.resolve, _sid, lambda w: "HEAD"),
    _saver(AgentGitSaver.tag, lambda w: w.a_checkpoint, lambda w: "b-tag"),
    _saver(AgentGitSaver.tags, _sid),
    _saver(AgentGitSaver.untag, _sid, lambda w: "v1"),
    _saver(AgentGitSaver.tree, _sid),
    _saver(AgentGitSaver.tree_data, _sid),
    _saver(AgentGitSaver.mermaid, _sid),
    _saver(AgentGitSaver.reversals, lambda w: w.a_thread),
    _saver(AgentGitSaver.adopt, lambda w: w.a_thread),
    _saver(AgentGitSaver.adopt, lambda w: w.a_branch, session_name="b's now"),
    (
        "reversals",
        lambda w: call(AgentGitSaver.reversals, session_id=w.a_session, user_id=B),
    ),
    _saver(AgentGitSaver.set_status, lambda w: w.a_branch, lambda w: "abandoned"),
    _saver(AgentGitSaver.set_status, lambda w: w.a_thread, lambda w: "kept", reason="mine"),
    _saver(AgentGitSaver.prune_branches, _sid, status="abandoned"),
    _saver(AgentGitSaver.rollback, lambda w: w.a_checkpoint, intent="b's idea"),
    _saver(AgentGitSaver.stats, lambda w: w.a_thread),
    ("stats", lambda w: call(AgentGitSaver.stats, session_id=w.a_session, user_id=B)),
    _saver(AgentGitSaver.tree_data, _sid, stats=True),
    _saver(AgentGitSaver.log, lambda w: cfg(w.a_thread), fork=""),
    _saver(AgentGitSaver.show, lambda w: w.a_checkpoint),
    ("show", lambda w: call(AgentGitSaver.show, "v1", session_id=w.a_session, user_id=B)),
    ("show", lambda w: call(AgentGitSaver.show, with_b(w.a_head))),
    _saver(AgentGitSaver.undo_tools, lambda w: w.a_checkpoint),
    ("undo_tools", lambda w: call(AgentGitSaver.undo_tools, with_b(w.a_checkpoint))),
]


def _checkpointer(
    method: Callable[..., Any], make: Callable[[World], tuple[tuple[Any, ...], dict[str, Any]]]
) -> Attack:
    def op(w: World) -> Plan[Any]:
        args, kwargs = make(w)
        return (gather if method is AgentGitSaver.list else call)(method, *args, **kwargs)

    return method.__name__, op


CHECKPOINTER_ATTACKS: list[Attack] = [
    _checkpointer(AgentGitSaver.get_tuple, lambda w: ((b_cfg(w.a_thread),), {})),
    _checkpointer(AgentGitSaver.get_tuple, lambda w: ((with_b(w.a_checkpoint),), {})),
    _checkpointer(AgentGitSaver.get_tuple, lambda w: ((b_cfg(w.a_branch),), {})),
    _checkpointer(AgentGitSaver.get, lambda w: ((b_cfg(w.a_thread),), {})),
    _checkpointer(AgentGitSaver.list, lambda w: ((b_cfg(w.a_thread),), {})),
    _checkpointer(
        AgentGitSaver.list, lambda w: ((b_cfg(w.a_branch, checkpoint_ns=""),), {"limit": 1})
    ),
    _checkpointer(
        AgentGitSaver.put,
        lambda w: ((b_cfg(w.a_thread, checkpoint_ns=""), empty_checkpoint(), {}, {}), {}),
    ),
    _checkpointer(
        AgentGitSaver.put_writes,
        lambda w: ((with_b(w.a_head), [("messages", [HumanMessage("b")])], "task-b"), {}),
    ),
    _checkpointer(
        AgentGitSaver.get_delta_channel_history,
        lambda w: ((), {"config": with_b(w.a_head), "channels": ["messages"]}),
    ),
]


def _graph(method: Callable[..., Any], make: Callable[[World], tuple[Any, ...]]) -> Attack:
    def op(w: World) -> Plan[Any]:
        run = gather if method is Graph.get_state_history else call
        return run(method, w.graph, *make(w))

    return f"graph.{method.__name__}", op


GRAPH_ATTACKS: list[Attack] = [
    _graph(Graph.invoke, lambda w: (human("b", 5), b_cfg(w.a_thread))),
    _graph(Graph.invoke, lambda w: (human("b", 5), b_cfg(w.a_branch))),
    _graph(Graph.invoke, lambda w: (None, with_b(w.a_checkpoint))),  # time travel
    _graph(Graph.get_state, lambda w: (b_cfg(w.a_thread),)),
    _graph(Graph.get_state, lambda w: (with_b(w.a_checkpoint),)),
    _graph(Graph.get_state_history, lambda w: (b_cfg(w.a_thread),)),
    _graph(Graph.update_state, lambda w: (b_cfg(w.a_thread), {"messages": [HumanMessage("b")]})),
    _graph(Graph.update_state, lambda w: (with_b(w.a_checkpoint), {"messages": []})),
]

ATTACKS = SESSION_ATTACKS + CHECKPOINTER_ATTACKS + GRAPH_ATTACKS

# Public methods that act for no user, and why they are not attacked above.
NOT_FOR_A_USER = {
    "create_session": "creates the caller's own session (checked below: A's are untouched)",
    "list_sessions": "filters by user (checked below)",
    "threads": "filters by user (checked below)",
    "setup": "creates tables",
    "from_conn_string": "opens a database",
    "with_allowlist": "serializer configuration",
    "get_next_version": "pure function of a channel version",
    "copy_thread": "LangGraph primitive by thread id, no user (trusted caller)",
    "prune": "LangGraph primitive by thread id, no user (trusted caller)",
    "delete_thread": "LangGraph primitive by thread id, no user (trusted caller)",
    "delete_for_runs": "LangGraph primitive by run id, no user (trusted caller)",
    "register_reverser": "registers a tool handler in this process",
    "recover_branches": "operator clean-up of unregistered threads; touches no session",
    "fsck": "operator check and repair of every user's sessions; takes no user_id",
    "recheck_held": "re-reads threads this process put into; adopts them as a put would",
}


def attack_flow(saver: AgentGitSaver) -> Plan[None]:
    w = yield from build_world(saver)
    before = yield from snapshot(saver)
    assert set(before) == {w.a_session, w.a_other_session, w.b_session}
    for name, make in ATTACKS:
        op = make(w)
        with pytest.raises(SessionAccessError) as refused:
            yield from op
        message = str(refused.value)
        assert f"user {B}" in message, (name, message)
        assert str(w.a_session) in message or str(w.a_other_session) in message, (name, message)
    assert (yield from snapshot(saver)) == before

    # B sees only B's sessions; A still works as before, and so does B.
    assert [s.id for s in (yield from call(AgentGitSaver.list_sessions, B))] == [w.b_session]
    assert [s.id for s in (yield from call(AgentGitSaver.list_sessions, A))] == [
        w.a_session,
        w.a_other_session,
    ]
    b_threads = [t.thread_id for t in (yield from call(AgentGitSaver.threads, user_id=B))]
    assert b_threads == ["b-main"]
    mine = yield from call(AgentGitSaver.create_session, B, "b's second")
    assert mine.user_id == B
    result = yield from call(Graph.invoke, w.graph, human("a again", 7), cfg(w.a_branch, user_id=A))
    assert contents(result)[-1].startswith("echo: a again")
    state = yield from call(Graph.get_state, w.graph, cfg("b-main", user_id=B))
    assert contents(state.values) == ["b 0", "echo: b 0 (#1)"]
    # ... and A is refused on B's thread.
    with pytest.raises(SessionAccessError):
        yield from call(Graph.get_state, w.graph, cfg("b-main", user_id=A))
    # A str user_id is checked too: "2" is user 2 (B), "1" is A.
    with pytest.raises(SessionAccessError):
        yield from call(AgentGitSaver.get_tuple, cfg(w.a_thread, user_id="2"))
    yield from call(AgentGitSaver.get_tuple, cfg(w.a_thread, user_id="1"))
    # A config without user_id is not checked (existing agents keep working).
    yield from call(AgentGitSaver.get_tuple, cfg(w.a_thread))


async def test_user_b_is_refused_everything(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(attack_flow(saver), on(saver))


def test_every_public_method_is_covered() -> None:
    attacked = {name for name, _ in SESSION_ATTACKS + CHECKPOINTER_ATTACKS}
    public = set()
    for name, member in inspect.getmembers(AgentGitSaver):
        if name.startswith("_") or not callable(member):
            continue
        twin = name[1:]
        if name.startswith("a") and (hasattr(AgentGitSaver, twin) or name == "afrom_conn_string"):
            assert twin in attacked or twin in NOT_FOR_A_USER or name == "afrom_conn_string"
            continue
        public.add(name)
    missing = public - attacked - set(NOT_FOR_A_USER)
    assert not missing, f"public methods neither attacked nor listed as user-free: {missing}"
    # Every method with a `user_id` parameter is attacked.
    with_user = {
        name
        for name in public
        if "user_id" in inspect.signature(getattr(AgentGitSaver, name)).parameters
    }
    assert with_user - {"create_session", "list_sessions", "threads"} <= attacked
    # Every checkpointer read/write that takes a config is attacked.
    config_methods = {
        name
        for name in public
        if hasattr(BaseCheckpointSaver, name)
        and "config" in inspect.signature(getattr(BaseCheckpointSaver, name)).parameters
    }
    assert config_methods <= attacked, config_methods - attacked


# -- the owner check: one indexed read per checked call, never a cached answer ----------


class CountingStore:
    """Counts the store reads the owner check may make, by method."""

    NAMES = ("thread_owner", "get_thread", "get_session")

    def __init__(self, monkeypatch: pytest.MonkeyPatch, store: Any) -> None:
        self.reads: dict[str, int] = dict.fromkeys(self.NAMES, 0)
        self.depth = 0
        for base in self.NAMES:
            for name in (base, "a" + base):
                original = getattr(store, name)
                if name.startswith("a"):

                    async def counted(*args: Any, _f: Any = original, _k: str = base) -> Any:
                        self._count(_k)
                        self.depth += 1  # an async twin running its sync one is one read
                        try:
                            return await _f(*args)
                        finally:
                            self.depth -= 1

                else:

                    def counted(*args: Any, _f: Any = original, _k: str = base) -> Any:  # type: ignore[misc]
                        self._count(_k)
                        return _f(*args)

                monkeypatch.setattr(store, name, counted)

    def _count(self, name: str) -> None:
        if self.depth == 0:
            self.reads[name] += 1

    def since(self, before: dict[str, int]) -> dict[str, int]:
        return {k: self.reads[k] - before[k] for k in self.NAMES}


def owner_check_flow(saver: AgentGitSaver, counting: CountingStore) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    yield from call(Graph.invoke, graph, human("first", 0), cfg("cheap", user_id=A))
    for _ in range(3):
        before = dict(counting.reads)
        yield from call(Graph.get_state, graph, cfg("cheap", user_id=A))
        # Read again every time (an owner can change in another process), in one query.
        assert counting.since(before) == {"thread_owner": 1, "get_thread": 0, "get_session": 0}
    before = dict(counting.reads)
    with pytest.raises(SessionAccessError):
        yield from call(Graph.get_state, graph, cfg("cheap", user_id=B))
    assert counting.since(before) == {"thread_owner": 1, "get_thread": 0, "get_session": 0}
    before = dict(counting.reads)
    yield from call(Graph.get_state, graph, cfg("cheap"))  # no user_id: no check, no read
    assert counting.since(before) == {"thread_owner": 0, "get_thread": 0, "get_session": 0}


async def test_owner_check_reads_the_owner_on_every_call(
    run: Run, run_backend: AsyncBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run_backend.open() as saver:
        await run(owner_check_flow(saver, CountingStore(monkeypatch, saver.store)), on(saver))


def test_deleted_session_forgets_its_owners() -> None:
    """A thread id erased with its session can start a new session for another user."""
    from langgraph.checkpoint.memory import InMemorySaver

    saver = AgentGitSaver(InMemorySaver())
    graph = chat_graph_builder().compile(checkpointer=saver)
    graph.invoke(human("a", 0), cfg("reused", user_id=A))
    session = saver.session_for_thread("reused")
    saver.delete_session(session.id, user_id=A)
    graph.invoke(human("b", 0), cfg("reused", user_id=B))
    assert saver.session_for_thread("reused").user_id == B
    with pytest.raises(SessionAccessError):
        graph.get_state(cfg("reused", user_id=A))


# -- the command line with --user B -------------------------------------------------------


def _cli_attacks(w: World) -> list[list[str]]:
    s = str(w.a_session)
    return [
        ["branches", s],
        ["log", s],
        ["log", w.a_branch],
        ["tree", s],
        ["tree", s, "--mermaid"],
        ["diff", s, "main", "HEAD"],
        ["tags", s],
        ["tag", s, "main", "b-tag"],
        ["untag", s, "v1"],
        ["rollback", s, "v1"],
        ["rollback", s, "main", "--name", "b-branch"],
        ["switch", s, w.a_thread],
        ["delete", s, "--yes"],
        ["delete", str(w.a_other_session), "--yes"],
        ["--json", "branches", s],
        ["adopt", w.a_thread],
        ["adopt", w.a_branch, "--name", "b's now"],
        ["fsck", "--repair"],  # every user's sessions: refused to a --user
        ["status", w.a_branch, "abandoned", "--reason", "b says so"],
        ["stats", w.a_thread],
        ["stats", "--session", s],
        ["show", f"{s}:v1"],
        ["show", w.a_thread],
        ["rollback", s, "v1", "--intent", "b's idea"],
        ["tree", s, "--stats"],
        ["log", w.a_thread, "--fork", ""],
    ]


# Commands that act on no session of someone else (checked separately).
CLI_NOT_SESSION = {"sessions", "threads", "ui"}  # `ui`: test_viewer_user_b_is_refused


@pytest.fixture(params=["sqlite", "postgres"])
def conn_string(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "agent.db")
    return str(request.getfixturevalue("postgres_schema_uri"))


def test_cli_user_b_is_refused(conn_string: str) -> None:
    cli = pytest.importorskip("agentgit_langgraph.cli", reason="the CLI is not there yet")
    from typer.testing import CliRunner

    with AgentGitSaver.from_conn_string(conn_string) as saver:
        saver.setup()
        w = run_sync(build_world(saver), on(saver))
        before = run_sync(snapshot(saver), on(saver))
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(
            cli.app, ["--db", conn_string, "--user", str(B), *args], env={"AGENTGIT_DB": None}
        )

    attacks = _cli_attacks(w)
    commands = {info.name for info in cli.app.registered_commands}
    attacked = {next(a for a in args if not a.startswith("--")) for args in attacks}
    assert commands - CLI_NOT_SESSION <= attacked, (
        f"CLI commands not tried by user B: {commands - CLI_NOT_SESSION - attacked}"
    )
    for args in attacks:
        result = run(*args)
        assert result.exit_code == 1, (args, result.exit_code, result.output)
        assert "does not own" in result.stderr and f"user {B}" in result.stderr, (
            args,
            result.stderr,
        )
        assert "Traceback" not in result.output

    listed = run("--json", "sessions")
    assert listed.exit_code == 0, listed.output
    assert [s["session_id"] for s in json.loads(listed.stdout)] == [w.b_session]
    threads = run("--json", "threads")
    assert threads.exit_code == 0, threads.output
    assert [t["thread_id"] for t in json.loads(threads.stdout)] == ["b-main"]
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        assert run_sync(snapshot(saver), on(saver)) == before


async def test_viewer_user_b_is_refused(conn_string: str) -> None:
    """`agentgit ui --user B --write`: every page's request about A's session is refused."""
    import httpx

    from agentgit_langgraph.ui.serve import viewer_app

    with AgentGitSaver.from_conn_string(conn_string) as saver:
        saver.setup()
        w = run_sync(build_world(saver), on(saver))
        before = run_sync(snapshot(saver), on(saver))
    app, token = viewer_app(conn_string, user=str(B), write=True)
    assert token is not None
    sid = w.a_session
    reads: list[tuple[str, dict[str, Any]]] = [
        *(
            (path, {})
            for path in (
                *("", "/branches", "/tree", "/log", "/checkpoints/main", "/tags"),
                *("/stats", "/reversals"),
            )
        ),
        ("/diff", {"a": "main", "b": "retry"}),
    ]
    writes = [
        ("/rollback", {"ref": "main"}),
        ("/switch", {"thread": "retry"}),
        ("/status", {"thread": "retry", "status": "abandoned"}),
        ("/tags", {"ref": "main", "name": "x"}),
    ]
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client,
    ):
        for path, params in reads:  # asking as A changes nothing: the user is fixed
            response = await client.get(
                f"/agentgit/sessions/{sid}{path}", params={**params, "user_id": A}
            )
            assert response.status_code == 403, (path, response.text)
            assert response.json()["error"] == "SessionAccessError"
        for path, body in writes:
            response = await client.post(
                f"/agentgit/sessions/{sid}{path}", json=body, headers={"x-agentgit-token": token}
            )
            assert response.status_code == 403, (path, response.text)
            assert response.json()["error"] == "SessionAccessError"
        rows = (await client.get("/agentgit/sessions", params={"user_id": A})).json()
        assert [r["session_id"] for r in rows] == [w.b_session]
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        assert run_sync(snapshot(saver), on(saver)) == before
