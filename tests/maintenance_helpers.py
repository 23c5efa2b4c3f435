"""Shared by the maintenance, isolation and optional-conformance tests.

Scenarios are written once as generators of `Op`s and driven with the sync API
(`drive`) or the async one (`adrive`), which return the generator's result.
`snapshot` reads everything a session store and the wrapped saver hold, as
bytes where the saver serializes, to show that an operation changed nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langgraph.checkpoint.base import CheckpointTuple

from agentgit_langgraph.stores.sql import SqlSessionStore, Statement

T = TypeVar("T")


@dataclass(frozen=True)
class Op:
    """Call `obj.method` (sync driver) or await `obj.a<method>` (async driver)."""

    obj: Any
    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    collect: bool = False


Flow = Generator[Op, Any, T]


def drive(flow: Flow[T]) -> T:
    try:
        op = next(flow)
        while True:
            try:
                result = getattr(op.obj, op.method)(*op.args, **op.kwargs)
                if op.collect:
                    result = list(result)
            except GeneratorExit:
                raise
            except BaseException as exc:  # `Crash` in the fault tests too
                op = flow.throw(exc)
            else:
                op = flow.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def adrive(flow: Flow[T]) -> T:
    try:
        op = next(flow)
        while True:
            try:
                method = getattr(op.obj, "a" + op.method)
                if op.collect:
                    result = [item async for item in method(*op.args, **op.kwargs)]
                else:
                    result = await method(*op.args, **op.kwargs)
            except GeneratorExit:
                raise
            except BaseException as exc:  # `Crash` in the fault tests too
                op = flow.throw(exc)
            else:
                op = flow.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def cfg(thread_id: str, **configurable: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **configurable}}


def rows(saver: Any, thread_id: str) -> Op:
    """Every checkpoint tuple the wrapped saver holds for the thread, all namespaces."""
    return Op(saver.saver, "list", (cfg(thread_id),), collect=True)


def stored_bytes(saver: Any, tuples: list[CheckpointTuple]) -> list[tuple[Any, ...]]:
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


def thread_bytes(saver: Any, thread_id: str) -> Flow[list[tuple[Any, ...]]]:
    return stored_bytes(saver, (yield rows(saver, thread_id)))


def threads_bytes(saver: Any, thread_ids: list[str]) -> Flow[dict[str, Any]]:
    out = {}
    for thread_id in thread_ids:
        out[thread_id] = yield from thread_bytes(saver, thread_id)
    return out


def snapshot(saver: Any) -> Flow[dict[Any, Any]]:
    """Every session, thread record, tag and stored checkpoint, comparable with ==."""
    out: dict[Any, Any] = {}
    sessions = yield Op(saver.store, "list_sessions")
    for s in sessions:
        threads = yield Op(saver.store, "list_threads", (s.id,))
        tags = yield Op(saver.store, "list_tags", (s.id,))
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


def held(saver: Any, thread_ids: list[str]) -> Flow[int]:
    """How many checkpoints the wrapped saver holds for these threads."""
    total = 0
    for thread_id in thread_ids:
        total += len((yield rows(saver, thread_id)))
    return total


def counts_exact(saver: Any, session_id: int) -> Flow[None]:
    """Each thread's count, and the session's total, equal what the saver holds."""
    session = yield Op(saver, "get_session", (session_id,))
    threads = yield Op(saver.store, "list_threads", (session_id,))
    for t in threads:
        n = len((yield rows(saver, t.thread_id)))
        assert t.checkpoint_count == n, (t.thread_id, t.checkpoint_count, n)
    assert session.total_checkpoints == (yield from held(saver, [t.thread_id for t in threads]))


class Tamper:
    """Writes a corrupt row behind the store's back (a SQL store's own driver)."""

    def __init__(self, store: SqlSessionStore) -> None:
        self.store = store

    def _op(self, sql: str, params: tuple[Any, ...]) -> Any:
        def tamper() -> Any:
            yield Statement(self.store.dialect.sql(sql), params)

        return tamper()

    def sql(self, sql: str, params: tuple[Any, ...]) -> None:
        self.store._run(self._op(sql, params), immediate=True)

    async def asql(self, sql: str, params: tuple[Any, ...]) -> None:
        await self.store._arun(self._op(sql, params), immediate=True)
