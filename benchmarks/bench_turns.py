"""What a user feels: whole graph turns through `invoke`, wrapped / bare.

Each figure compares a graph compiled with `AgentGitSaver.from_conn_string(x)`
against the same graph compiled with the saver the user would otherwise pick,
opened the way its docs show (`SqliteSaver.from_conn_string(path)`,
`AsyncSqliteSaver.from_conn_string(path)`, `PostgresSaver.from_conn_string(uri)`,
`AsyncPostgresSaver.from_conn_string(uri)`), each on a database of its own:

* `messages`: a two-node messages graph (a model node, then a node that counts
  the turn) with a zero-latency model, the worst case for a wrapper: nothing
  but checkpointing takes time;
* `react`: LangGraph's prebuilt ReAct agent (`create_react_agent`) with a
  scripted model that calls a tool every turn (model, tool, model).

A round runs `turns` turns on a fresh thread with each saver, one turn of each
side after the other (the order rotating every turn, so that each side's n-th
turn runs within milliseconds of the others'), with the garbage collector
off; the figure is the median of the rounds' wrapped/bare ratios of time per
turn. Run from the
repository root:

    .venv/bin/python -m benchmarks.bench_turns            # ~7 minutes on 2 cores
    .venv/bin/python -m benchmarks.bench_turns --quick    # a few seconds a row
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    ExitStack,
    contextmanager,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, MessagesState, StateGraph

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.testing import EchoChatModel, ScriptedToolModel
from benchmarks.bench_core import FLOOR_SQL, floor_read

TARGET = 1.05
GRAPHS = ("messages", "react")
ROUNDS = 31
"""Rounds a figure is the median of. On a shared 2-core host one round's
wrapped/bare ratio spreads by about 6% between its quartiles, so the median of
15 rounds has a standard error of about 1.4%, as much as the wrapper costs; 31
rounds bring it to about 1.0%, for about 7 minutes of turns."""


# -- the graphs ----------------------------------------------------------------


class TurnState(MessagesState):
    turns: int


def messages_graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    """START -> respond -> count -> END: a chat turn with nothing slow in it."""
    model = EchoChatModel()

    def respond(state: TurnState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    async def arespond(state: TurnState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def count(state: TurnState) -> dict[str, Any]:
        return {"turns": state.get("turns", 0) + 1}

    from langchain_core.runnables import RunnableLambda

    builder = StateGraph(TurnState)
    builder.add_node("respond", RunnableLambda(respond, afunc=arespond))
    builder.add_node("count", count)
    builder.add_edge(START, "respond")
    builder.add_edge("respond", "count")
    builder.add_edge("count", END)
    return builder.compile(checkpointer=checkpointer)


@tool
def lookup(city: str) -> str:
    """Today's weather in a city."""
    return f"{city}: sunny, 24C"


QUESTION = "weather?"


def react_graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    """LangGraph's prebuilt ReAct agent: every turn calls `lookup` once."""
    with warnings.catch_warnings():  # moved to langchain.agents in LangGraph 1.x; still shipped
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

        model = ScriptedToolModel(script={QUESTION: [("lookup", {"city": "Lisbon"})]})
        return create_react_agent(model, [lookup], checkpointer=checkpointer)


BUILDERS: dict[str, Callable[[BaseCheckpointSaver[Any]], Any]] = {
    "messages": messages_graph,
    "react": react_graph,
}


def turn_input(n: int) -> dict[str, Any]:
    return {"messages": [HumanMessage(QUESTION, id=f"human-{n}")]}


def check_turn(graph_name: str, values: dict[str, Any]) -> None:
    """Both sides must have done the same work: a wrapped turn that did less is no win."""
    last = values["messages"][-1]
    assert isinstance(last, AIMessage), last
    if graph_name == "react":
        assert "Lisbon" in str(last.content), last


# -- the savers ----------------------------------------------------------------


Opener = Callable[[], AbstractContextManager[BaseCheckpointSaver[Any]]]
AsyncOpener = Callable[[], AbstractAsyncContextManager[BaseCheckpointSaver[Any]]]


@dataclass(frozen=True)
class Pair:
    """How to open the bare saver, the wrapper and the floor, sync and async, on one backend.

    The floor is the bare saver plus one indexed read of one row (`FLOOR_SQL`)
    after each `put`, on its own connection and under its own lock: the least any design that
    checks something in the database per save (as ours does: is the thread
    still held by a session?) can cost.

    `pool` (PostgreSQL only) is the bare saver on the connection pool the
    wrapper opens (`open_postgres_*`: a pool that checks a connection before
    lending it, and lends the same one whenever it is free), where the bare
    saver's `from_conn_string` opens one connection: what that choice costs
    by itself.
    """

    backend: str
    bare: Opener
    wrapped: Opener
    floor: Opener
    abare: AsyncOpener
    awrapped: AsyncOpener
    afloor: AsyncOpener
    pool: Opener | None = None
    apool: AsyncOpener | None = None

    def sides(self) -> tuple[str, ...]:
        return SIDES if self.pool is None else (*SIDES, "pool")


def sqlite_pair(workdir: Path) -> Pair:
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    class FloorSqliteSaver(SqliteSaver):
        def put(self, *args: Any, **kwargs: Any) -> RunnableConfig:
            saved = super().put(*args, **kwargs)
            floor_read(self)
            return saved

    class FloorAsyncSqliteSaver(AsyncSqliteSaver):
        async def aput(self, *args: Any, **kwargs: Any) -> RunnableConfig:
            saved = await super().aput(*args, **kwargs)
            async with self.lock:
                await self.conn.execute_fetchall(FLOOR_SQL)
            return saved

    def path(name: str) -> str:
        return str(workdir / f"turns-{name}-{uuid.uuid4().hex[:6]}.db")

    return Pair(
        "sqlite",
        bare=lambda: SqliteSaver.from_conn_string(path("bare")),
        wrapped=lambda: AgentGitSaver.from_conn_string(path("wrapped")),
        floor=lambda: FloorSqliteSaver.from_conn_string(path("floor")),
        abare=lambda: AsyncSqliteSaver.from_conn_string(path("abare")),
        awrapped=lambda: AgentGitSaver.afrom_conn_string(path("awrapped")),
        afloor=lambda: FloorAsyncSqliteSaver.from_conn_string(path("afloor")),
    )


def postgres_pair(bare_uri: str, wrapped_uri: str) -> Pair:
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    from benchmarks.bench_postgres import abare_saver, bare_saver

    class FloorPostgresSaver(PostgresSaver):
        def put(self, *args: Any, **kwargs: Any) -> RunnableConfig:
            saved = super().put(*args, **kwargs)
            with self._cursor() as cur:
                cur.execute(FLOOR_SQL).fetchall()
            return saved

    class FloorAsyncPostgresSaver(AsyncPostgresSaver):
        async def aput(self, *args: Any, **kwargs: Any) -> RunnableConfig:
            saved = await super().aput(*args, **kwargs)
            async with self._cursor() as cur:
                await (await cur.execute(FLOOR_SQL)).fetchall()
            return saved

    return Pair(
        "postgres",
        bare=lambda: PostgresSaver.from_conn_string(bare_uri),
        wrapped=lambda: AgentGitSaver.from_conn_string(wrapped_uri),
        floor=lambda: FloorPostgresSaver.from_conn_string(bare_uri),
        abare=lambda: AsyncPostgresSaver.from_conn_string(bare_uri),
        awrapped=lambda: AgentGitSaver.afrom_conn_string(wrapped_uri),
        afloor=lambda: FloorAsyncPostgresSaver.from_conn_string(bare_uri),
        pool=lambda: bare_saver(bare_uri),
        apool=lambda: abare_saver(bare_uri),
    )


# -- timing --------------------------------------------------------------------


@dataclass(frozen=True)
class TurnResult:
    backend: str
    graph: str
    mode: str  # "sync" or "async"
    bare_ms: float  # median time per turn
    wrapped_ms: float
    floor_ms: float
    ratio: float  # median of the rounds' wrapped / bare
    floor_ratio: float  # median of the rounds' floor / bare
    pool_ms: float | None = None
    pool_ratio: float | None = None  # median of the rounds' pool / bare (PostgreSQL)

    @property
    def name(self) -> str:
        return f"turn ({self.graph}, {self.mode}): wrapped / bare"

    @property
    def floor_name(self) -> str:
        return f"floor ({self.graph}, {self.mode}): bare + 1 statement per put / bare"

    @property
    def pool_name(self) -> str:
        return pool_name(self.graph, self.mode)


def pool_name(graph: str, mode: str) -> str:
    return f"pool ({graph}, {mode}): bare on the wrapper's pool / bare"


@contextmanager
def _no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _new_thread() -> RunnableConfig:
    return {"configurable": {"thread_id": f"turns-{uuid.uuid4().hex}"}}


def _round(graphs: dict[str, Any], graph_name: str, turns: int, r: int) -> dict[str, float]:
    """Round `r`: a new thread on every side, their turns run one by one in turn.

    Each side's n-th turn runs within milliseconds of the others' (the order
    rotating every turn), so a burst of load on this shared machine falls on
    all sides alike instead of on whichever side's block it hit.
    """
    configs = {side: _new_thread() for side in graphs}
    spent = dict.fromkeys(graphs, 0.0)
    values: dict[str, Any] = {}
    with _no_gc():
        for n in range(turns):
            for side in _order(r + n, tuple(graphs)):
                start = time.perf_counter()
                values[side] = graphs[side].invoke(turn_input(n), configs[side])
                spent[side] += time.perf_counter() - start
    for side_values in values.values():
        check_turn(graph_name, side_values)
    return {side: seconds / turns for side, seconds in spent.items()}


async def _around(graphs: dict[str, Any], graph_name: str, turns: int, r: int) -> dict[str, float]:
    """The async twin of `_round`: `ainvoke`."""
    configs = {side: _new_thread() for side in graphs}
    spent = dict.fromkeys(graphs, 0.0)
    values: dict[str, Any] = {}
    with _no_gc():
        for n in range(turns):
            for side in _order(r + n, tuple(graphs)):
                start = time.perf_counter()
                values[side] = await graphs[side].ainvoke(turn_input(n), configs[side])
                spent[side] += time.perf_counter() - start
    for side_values in values.values():
        check_turn(graph_name, side_values)
    return {side: seconds / turns for side, seconds in spent.items()}


SIDES = ("bare", "wrapped", "floor")


def _summary(
    pair: Pair, graph_name: str, mode: str, rounds: Sequence[dict[str, float]]
) -> TurnResult:
    def median_ms(side: str) -> float:
        return statistics.median(r[side] for r in rounds) * 1e3

    def ratio(side: str) -> float:
        return statistics.median(r[side] / r["bare"] for r in rounds)

    pooled = "pool" in rounds[0]
    return TurnResult(
        pair.backend,
        graph_name,
        mode,
        bare_ms=median_ms("bare"),
        wrapped_ms=median_ms("wrapped"),
        floor_ms=median_ms("floor"),
        ratio=ratio("wrapped"),
        floor_ratio=ratio("floor"),
        pool_ms=median_ms("pool") if pooled else None,
        pool_ratio=ratio("pool") if pooled else None,
    )


def _order(r: int, sides: tuple[str, ...]) -> tuple[str, ...]:
    """Step `r`'s order of the sides: each goes first, second and last in turn."""
    k = r % len(sides)
    return sides[k:] + sides[:k]


def _open_all(pair: Pair, stack: ExitStack) -> dict[str, BaseCheckpointSaver[Any]]:
    openers = {"bare": pair.bare, "wrapped": pair.wrapped, "floor": pair.floor}
    if pair.pool is not None:
        openers["pool"] = pair.pool
    return {side: stack.enter_context(open_()) for side, open_ in openers.items()}


async def _aopen_all(pair: Pair, stack: AsyncExitStack) -> dict[str, BaseCheckpointSaver[Any]]:
    openers = {"bare": pair.abare, "wrapped": pair.awrapped, "floor": pair.afloor}
    if pair.apool is not None:
        openers["pool"] = pair.apool
    return {side: await stack.enter_async_context(open_()) for side, open_ in openers.items()}


def measure_sync(pair: Pair, graph_name: str, rounds: int, turns: int) -> TurnResult:
    """`rounds` rounds of `turns` turns on each side, interleaved turn by turn (`_round`)."""
    build = BUILDERS[graph_name]
    with ExitStack() as stack:
        savers = _open_all(pair, stack)
        for saver in savers.values():
            saver.setup()  # type: ignore[attr-defined]
        graphs = {side: build(savers[side]) for side in pair.sides()}
        _round(graphs, graph_name, 2, 0)  # warm-up: tables, prepared statements, caches
        timed = [_round(graphs, graph_name, turns, r) for r in range(rounds)]
    return _summary(pair, graph_name, "sync", timed)


async def measure_async(pair: Pair, graph_name: str, rounds: int, turns: int) -> TurnResult:
    """The async twin of `measure_sync`: `ainvoke` on the async savers."""
    build = BUILDERS[graph_name]
    async with AsyncExitStack() as stack:
        savers = await _aopen_all(pair, stack)
        for side, saver in savers.items():
            await (saver.asetup() if side == "wrapped" else saver.setup())  # type: ignore[attr-defined]
        graphs = {side: build(savers[side]) for side in pair.sides()}
        await _around(graphs, graph_name, 2, 0)
        timed = [await _around(graphs, graph_name, turns, r) for r in range(rounds)]
    return _summary(pair, graph_name, "async", timed)


def measure_all(pair: Pair, rounds: int, turns: int) -> list[TurnResult]:
    """Every graph, sync then async, on one backend."""
    results = [measure_sync(pair, g, rounds, turns) for g in GRAPHS]

    async def both() -> list[TurnResult]:
        return [await measure_async(pair, g, rounds, turns) for g in GRAPHS]

    return results + asyncio.run(both())


def names(backend: str) -> list[str]:
    """One backend's measures' names, in table order (as `TurnResult` writes them)."""
    out = []
    for mode in ("sync", "async"):
        for g in GRAPHS:
            out.append(f"turn ({g}, {mode}): wrapped / bare")
            out.append(f"floor ({g}, {mode}): bare + 1 statement per put / bare")
            if backend == "postgres":
                out.append(pool_name(g, mode))
    return out


# -- command line --------------------------------------------------------------


def print_results(results: Sequence[TurnResult]) -> bool:
    ok = True
    for r in results:
        pool = "" if r.pool_ratio is None else f"; pool {r.pool_ratio:.3f} ({r.pool_ms:.2f} ms)"
        verdict = "PASS" if r.ratio <= TARGET else "MISS"
        ok &= verdict == "PASS"
        print(
            f"{r.backend:8} {r.name:42} {r.ratio:6.3f}  (target <= {TARGET:.2f}: {verdict})"
            f"  {r.wrapped_ms:.2f} ms / {r.bare_ms:.2f} ms per turn;"
            f" floor {r.floor_ratio:.3f} ({r.floor_ms:.2f} ms)"
            f"{pool}"
        )
    return ok


@contextmanager
def postgres_uris(server: str) -> Iterator[tuple[str, str]]:
    from benchmarks.bench_postgres import scratch_schemas

    with scratch_schemas(server, "turns_bare", "turns_wrapped") as (bare, wrapped):
        yield bare, wrapped


def main(argv: Sequence[str] | None = None) -> int:
    import tempfile

    from benchmarks.run_all import DEFAULT_URI, postgres_version

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="5 rounds of 10 turns")
    parser.add_argument("--postgres", default=DEFAULT_URI, help="server URI ('' to skip)")
    args = parser.parse_args(argv)
    rounds, turns = (5, 10) if args.quick else (args.rounds, args.turns)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        ok &= print_results(measure_all(sqlite_pair(Path(tmp)), rounds, turns))
    if args.postgres and postgres_version(args.postgres):
        with postgres_uris(args.postgres) as (bare, wrapped):
            ok &= print_results(measure_all(postgres_pair(bare, wrapped), rounds, turns))
    else:
        print("PostgreSQL skipped: no server answers at", args.postgres)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
