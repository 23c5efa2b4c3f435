"""Plans the tests share: scenarios written once, driven with the sync or the async API.

A test scenario is a plan of the package's own (`agentgit_langgraph._plan`):
it yields `call(AgentGitSaver.rollback, config)`, `gather(BaseCheckpointSaver.list,
config)` and so on, and the `run` fixture (tests/conftest.py) drives it with
`run_sync` or `run_async`. `on(saver)` names the objects a plan's calls go to.

A plan may run several graphs, and the drivers find an object by the class
that declares the method, so calls on a graph go through `Graph`, the graph
given first: `call(Graph.invoke, graph, input, config)`. `Tamper` writes a row
behind a SQL store's back the same way.

`snapshot` reads everything a session store and the wrapped saver hold, as
bytes where the saver serializes, to show that an operation changed nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph._plan import Plan, Targets, call, gather
from agentgit_langgraph.stores.base import BaseSessionStore
from agentgit_langgraph.stores.sql import SqlSessionStore, Statement

AnyGraph = Pregel[Any, Any, Any, Any]


class Graph:
    """Calls on the graph given first: `graph.invoke(...)`, or `await graph.ainvoke(...)`."""

    def invoke(self, /, graph: AnyGraph, input: Any, config: Any, **kwargs: Any) -> Any:
        return graph.invoke(input, config, **kwargs)

    async def ainvoke(self, /, graph: AnyGraph, input: Any, config: Any, **kwargs: Any) -> Any:
        return await graph.ainvoke(input, config, **kwargs)

    def get_state(
        self, /, graph: AnyGraph, config: Any, *, subgraphs: bool = False
    ) -> StateSnapshot:
        return graph.get_state(config, subgraphs=subgraphs)

    async def aget_state(
        self, /, graph: AnyGraph, config: Any, *, subgraphs: bool = False
    ) -> StateSnapshot:
        return await graph.aget_state(config, subgraphs=subgraphs)

    def get_state_history(self, /, graph: AnyGraph, config: Any) -> Iterator[StateSnapshot]:
        return graph.get_state_history(config)

    def aget_state_history(self, /, graph: AnyGraph, config: Any) -> AsyncIterator[StateSnapshot]:
        return graph.aget_state_history(config)

    def update_state(
        self, /, graph: AnyGraph, config: Any, values: Any, as_node: str | None = None
    ) -> RunnableConfig:
        return graph.update_state(config, values, as_node=as_node)

    async def aupdate_state(
        self, /, graph: AnyGraph, config: Any, values: Any, as_node: str | None = None
    ) -> RunnableConfig:
        return await graph.aupdate_state(config, values, as_node=as_node)


class Tamper:
    """Writes a corrupt row behind the store's back (a SQL store's own driver)."""

    @staticmethod
    def _statement(store: SqlSessionStore, sql: str, params: tuple[Any, ...]) -> Any:
        yield Statement(store.dialect.sql(sql), params)

    def sql(self, /, store: SqlSessionStore, sql: str, params: tuple[Any, ...]) -> None:
        store._run(self._statement(store, sql, params), immediate=True)

    async def asql(self, /, store: SqlSessionStore, sql: str, params: tuple[Any, ...]) -> None:
        await store._arun(self._statement(store, sql, params), immediate=True)


def on(saver: AgentGitSaver) -> Targets:
    """The targets of a plan on `saver`: it, the saver it wraps, its store, graphs, SQL."""
    return {
        AgentGitSaver: saver,
        BaseCheckpointSaver: saver.saver,
        BaseSessionStore: saver.store,
        Graph: Graph(),
        Tamper: Tamper(),
    }


def cfg(thread_id: str, **configurable: Any) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, **configurable}}


def invoke(graph: AnyGraph, value: Any, config: Any, **kwargs: Any) -> Plan[Any]:
    return call(Graph.invoke, graph, value, config, **kwargs)


def get_state(graph: AnyGraph, config: Any, *, subgraphs: bool = False) -> Plan[StateSnapshot]:
    return call(Graph.get_state, graph, config, subgraphs=subgraphs)


def history(graph: AnyGraph, config: Any) -> Plan[list[StateSnapshot]]:
    return gather(Graph.get_state_history, graph, config)


def rows(thread_id: str) -> Plan[list[CheckpointTuple]]:
    """Every checkpoint tuple the wrapped saver holds for the thread, all namespaces."""
    return gather(BaseCheckpointSaver.list, cfg(thread_id))


def stored_bytes(saver: AgentGitSaver, tuples: list[CheckpointTuple]) -> list[tuple[Any, ...]]:
    """Each tuple as bytes (the saver's own serializer), in a stable order."""
    serde = saver.saver.serde
    out = []
    for t in tuples:
        conf = t.config["configurable"]
        parent = (t.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        out.append(
            (
                conf.get("checkpoint_ns", ""),
                conf["checkpoint_id"],
                parent,
                serde.dumps_typed(t.checkpoint),
                serde.dumps_typed(dict(t.metadata)),
                [serde.dumps_typed(list(w)) for w in t.pending_writes or []],
            )
        )
    return sorted(out, key=lambda r: (r[0], r[1]))


def thread_bytes(saver: AgentGitSaver, thread_id: str) -> Plan[list[tuple[Any, ...]]]:
    return stored_bytes(saver, (yield from rows(thread_id)))


def threads_bytes(saver: AgentGitSaver, thread_ids: Sequence[str]) -> Plan[dict[str, Any]]:
    out = {}
    for thread_id in thread_ids:
        out[thread_id] = yield from thread_bytes(saver, thread_id)
    return out


def snapshot(saver: AgentGitSaver) -> Plan[dict[Any, Any]]:
    """Every session, thread record, tag and stored checkpoint, comparable with ==."""
    out: dict[Any, Any] = {}
    sessions = yield from call(BaseSessionStore.list_sessions)
    for s in sessions:
        assert s.id is not None
        threads = yield from call(BaseSessionStore.list_threads, s.id)
        tags = yield from call(BaseSessionStore.list_tags, s.id)
        stored = {}
        for t in threads:
            stored[t.thread_id] = yield from thread_bytes(saver, t.thread_id)
        out[s.id] = {
            "session": s.to_dict(),
            "threads": [dataclasses.asdict(t) for t in threads],
            "tags": tags,
            "stored": stored,
        }
    return out


def held(thread_ids: Sequence[str]) -> Plan[int]:
    """How many checkpoints the wrapped saver holds for these threads."""
    total = 0
    for thread_id in thread_ids:
        total += len((yield from rows(thread_id)))
    return total


def counts_exact(session_id: int) -> Plan[None]:
    """Each thread's count, and the session's total, equal what the saver holds."""
    session = yield from call(AgentGitSaver.get_session, session_id)
    threads = yield from call(BaseSessionStore.list_threads, session_id)
    for t in threads:
        n = len((yield from rows(t.thread_id)))
        assert t.checkpoint_count == n, (t.thread_id, t.checkpoint_count, n)
    assert session.total_checkpoints == (yield from held([t.thread_id for t in threads]))
