"""History: log, tags and refs, diff, tree and Mermaid, sync and async, on every backend.

Each check is written once as a coroutine over an `Api` that calls either the
sync method (`saver.log`, `graph.invoke`, ...) or its async twin
(`saver.alog`, `graph.ainvoke`, ...). The sync tests run it on `backend` under
`asyncio.run` (only the check is a coroutine: every call it makes is sync), the
async tests on `abackend`.

The session every check starts from (`build`), with the chat graph of
tests/graphs.py (three checkpoints per turn: input, human message, AI reply):

    main   hi, book a flight, to Lisbon                 steps -1..7 (9 checkpoints)
    retry  rolled back to main@step 1 (tag before-booking), then "book a train"
    deep   rolled back to retry's head (step 4), then "and a hotel"   <- current
    alt    rolled back to main@step 4, nothing run on it
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph import (
    AgentGitSaver,
    CheckpointNotFoundError,
    InvalidConfigError,
    NameConflictError,
    SessionAccessError,
    SessionNotFoundError,
    Tag,
    ThreadNotFoundError,
)
from agentgit_langgraph.history import Diff, LogEntry, RefNotFoundError, _value_preview
from tests.conftest import AsyncBackend, Backend
from tests.fidelity_graphs import delta_input, delta_probe
from tests.graphs import chat_graph_builder, contents, human

# -- the API under test, sync or async -----------------------------------------


class Api:
    """`await api("log", ...)` calls `saver.log` or `saver.alog`; same for the graph."""

    def __init__(self, saver: AgentGitSaver, graph: Any, is_async: bool) -> None:
        self.saver = saver
        self.graph = graph
        self.is_async = is_async

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return await getattr(self.saver, "a" + method)(*args, **kwargs)
        return getattr(self.saver, method)(*args, **kwargs)

    async def invoke(self, text: str, n: int, config: Any, graph: Any = None) -> Any:
        graph = graph or self.graph
        if self.is_async:
            return await graph.ainvoke(human(text, n), config)
        return graph.invoke(human(text, n), config)

    async def run(self, graph: Any, inputs: Any, config: Any) -> Any:
        if self.is_async:
            return await graph.ainvoke(inputs, config)
        return graph.invoke(inputs, config)

    async def history(self, config: Any, graph: Any = None) -> list[Any]:
        graph = graph or self.graph
        if self.is_async:
            return [s async for s in graph.aget_state_history(config)]
        return list(graph.get_state_history(config))

    async def state(self, config: Any) -> Any:
        if self.is_async:
            return await self.graph.aget_state(config)
        return self.graph.get_state(config)

    async def tuples(self, thread_id: str) -> list[CheckpointTuple]:
        config = {"configurable": {"thread_id": thread_id}}
        if self.is_async:
            return [t async for t in self.saver.alist(config)]
        return list(self.saver.list(config))


Check = Callable[[Api], Coroutine[Any, Any, None]]


def run_sync(backend: Backend, check: Check) -> None:
    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        asyncio.run(check(Api(saver, graph, is_async=False)))


async def run_async(abackend: AsyncBackend, check: Check) -> None:
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        await check(Api(saver, graph, is_async=True))


def both(
    check: Check,
) -> tuple[Callable[[Backend], None], Callable[[AsyncBackend], Coroutine[Any, Any, None]]]:
    """A sync test on `backend` and an async test on `abackend` running `check`."""

    def sync_test(backend: Backend) -> None:
        run_sync(backend, check)

    async def async_test(abackend: AsyncBackend) -> None:
        await run_async(abackend, check)

    return sync_test, async_test


# -- the session every check starts from ----------------------------------------


def unique_user() -> int:
    return 1_000_000 + uuid.uuid4().int % 1_000_000_000


def tid(config: Any) -> str:
    return str(config["configurable"]["thread_id"])


def cid(config: Any) -> str:
    return str(config["configurable"]["checkpoint_id"])


def cp(thread_id: str, checkpoint_id: str) -> dict[str, Any]:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": checkpoint_id,
        }
    }


@dataclass
class World:
    api: Api
    sid: int
    user: int
    main: str
    retry: str
    deep: str
    alt: str
    ids: dict[str, str] = field(default_factory=dict)
    """Checkpoint ids: `main@1` (step 1 of main), `retry@4`, `deep@7`, ..."""

    def at(self, key: str) -> dict[str, Any]:
        """The config of checkpoint `thread@step` in its own thread."""
        thread = key.split("@")[0]
        return cp(getattr(self, thread), self.ids[key])


async def build(api: Api) -> World:
    user = unique_user()
    session = await api("create_session", user_id=user, session_name="trip")
    main = tid(await api("config_for", session.id))
    for n, text in enumerate(["hi", "book a flight", "to Lisbon"], start=1):
        await api.invoke(text, n, {"configurable": {"thread_id": main}})
    ids: dict[str, str] = {}
    for snap in await api.history({"configurable": {"thread_id": main}}):
        ids[f"main@{snap.metadata['step']}"] = cid(snap.config)

    await api("tag", cp(main, ids["main@1"]), "before-booking")
    retry = tid(
        await api("rollback", await api("resolve", session.id, "before-booking"), name="retry")
    )
    await api.invoke("book a train", 4, {"configurable": {"thread_id": retry}})
    for snap in await api.history({"configurable": {"thread_id": retry}}):
        ids[f"retry@{snap.metadata['step']}"] = cid(snap.config)

    deep = tid(await api("rollback", cp(retry, ids["retry@4"])))
    await api.invoke("and a hotel", 5, {"configurable": {"thread_id": deep}})
    for snap in await api.history({"configurable": {"thread_id": deep}}):
        ids[f"deep@{snap.metadata['step']}"] = cid(snap.config)

    alt = tid(await api("rollback", cp(main, ids["main@4"]), name="alt"))
    ids["alt@4"] = ids["main@4"]
    await api("switch", session.id, deep)
    return World(api, session.id, user, main, retry, deep, alt, ids)


async def store_snapshot(w: World) -> tuple[Any, ...]:
    """Everything a failed call must leave as it was."""
    api = w.api
    sessions = await api("list_sessions")
    branches = await api("branches", w.sid)
    tags = await api("tags", w.sid)
    saved = [
        [(t.config, t.checkpoint["id"], t.parent_config) for t in await api.tuples(th.thread_id)]
        for th in branches
    ]
    return (
        [s.to_dict() for s in sessions],
        branches,
        [(t.name, t.thread_id, t.checkpoint_id) for t in tags],
        saved,
    )


# -- log --------------------------------------------------------------------------

FULL_LOG = [
    ("deep", 7, "loop", "ai: echo: and a hotel (#3)"),
    ("deep", 6, "loop", "human: and a hotel"),
    ("deep", 5, "input", "input: human: and a hotel"),
    ("deep", 4, "loop", "ai: echo: book a train (#2)"),
    ("retry", 3, "loop", "human: book a train"),
    ("retry", 2, "input", "input: human: book a train"),
    ("retry", 1, "loop", "ai: echo: hi (#1)"),
    ("main", 0, "loop", "human: hi"),
    ("main", -1, "input", "input: human: hi"),
]


def rows(w: World, entries: list[LogEntry]) -> list[tuple[str, int | None, str | None, str]]:
    names = {w.main: "main", w.retry: "retry", w.deep: "deep", w.alt: "alt"}
    return [(names[e.thread_id], e.step, e.source, e.preview) for e in entries]


class ReadCounter:
    """Stands in for the wrapped saver and counts the checkpoints it hands out."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.read = 0

    def list(self, config: Any, **kwargs: Any) -> Any:
        items = list(self.inner.list(config, **kwargs))
        self.read += len(items)
        return iter(items)

    async def alist(self, config: Any, **kwargs: Any) -> Any:
        async for item in self.inner.alist(config, **kwargs):
            self.read += 1
            yield item

    def get_tuple(self, config: Any) -> Any:
        found = self.inner.get_tuple(config)
        self.read += found is not None
        return found

    async def aget_tuple(self, config: Any) -> Any:
        found = await self.inner.aget_tuple(config)
        self.read += found is not None
        return found


async def counted_log(api: Api, *args: Any, **kwargs: Any) -> tuple[list[LogEntry], int]:
    targets = api.saver._targets
    real = targets[BaseCheckpointSaver]
    counter = ReadCounter(real)
    targets[BaseCheckpointSaver] = counter
    try:
        entries = await api("log", *args, **kwargs)
    finally:
        targets[BaseCheckpointSaver] = real
    return entries, counter.read


async def check_log_stitches_branches(api: Api) -> None:
    w = await build(api)
    entries = await api("log", w.sid)
    assert rows(w, entries) == FULL_LOG
    # every entry names its checkpoint: the one a rollback would start from
    for entry in entries:
        assert entry.config == cp(entry.thread_id, entry.checkpoint_id)
        assert entry.created_at is not None and entry.created_at.tzinfo is not None
    assert [e.checkpoint_id for e in entries] == [
        w.ids[k] for k in ("deep@7", "deep@6", "deep@5", "deep@4", "retry@3")
    ] + [w.ids["retry@2"], w.ids["main@1"], w.ids["main@0"], w.ids["main@-1"]]
    assert [e.tags for e in entries][6] == ("before-booking",)
    assert [e.created_at for e in entries] == sorted((e.created_at for e in entries), reverse=True)
    head_state = await api.state(entries[0].config)
    assert contents(head_state.values) == [
        "hi",
        "echo: hi (#1)",
        "book a train",
        "echo: book a train (#2)",
        "and a hotel",
        "echo: and a hotel (#3)",
    ]

    # the same from the session record, from the thread, from a checkpoint on it
    session = await api("get_session", w.sid)
    assert await api("log", session) == entries
    assert await api("log", {"configurable": {"thread_id": w.deep}}) == entries
    assert await api("log", w.at("deep@6")) == entries[1:]
    assert await api("log", w.at("retry@3")) == entries[4:]
    # a checkpoint a branch also holds as a copy: listed on the thread asked for
    from_retry = await api("log", w.at("retry@4"))
    assert rows(w, from_retry)[0] == ("retry", 4, "loop", "ai: echo: book a train (#2)")
    assert [e.checkpoint_id for e in from_retry[1:]] == [e.checkpoint_id for e in entries[4:]]

    main_log = await api("log", {"configurable": {"thread_id": w.main}})
    assert [(e.thread_id, e.step) for e in main_log] == [(w.main, s) for s in range(7, -2, -1)]
    alt_log = await api("log", {"configurable": {"thread_id": w.alt}})
    assert [(e.thread_id, e.step) for e in alt_log] == [(w.alt, 4)] + [
        (w.main, s) for s in range(3, -2, -1)
    ]
    assert alt_log[0].checkpoint_id == w.ids["main@4"]


async def check_log_limit_reads_only_what_it_returns(api: Api) -> None:
    w = await build(api)
    full, full_reads = await counted_log(api, w.sid)
    assert len(full) == 9
    # one extra read per thread it crosses into, to find where it goes on there
    assert full_reads <= len(full) + 2
    for limit in (1, 3, 4, 5, 7, 9, 50):
        entries, reads = await counted_log(api, w.sid, limit=limit)
        assert entries == full[:limit]
        assert reads <= len(entries) + 2, (limit, reads)
    assert await api("log", w.sid, limit=0) == []


async def check_log_skips_forks_inside_a_thread(api: Api) -> None:
    """LangGraph's own time travel forks a thread in place: log follows the parents."""
    w = await build(api)
    main_cfg = {"configurable": {"thread_id": w.main}}
    await api.invoke("fork in place", 9, w.at("main@4"))  # a fork on main itself
    entries = await api("log", main_cfg)
    steps = [e.step for e in entries]
    assert steps == [7, 6, 5, 4, 3, 2, 1, 0, -1]  # the fork's 5..7, then main@4 and before
    assert entries[3].checkpoint_id == w.ids["main@4"]
    assert w.ids["main@5"] not in {e.checkpoint_id for e in entries}
    assert entries[2].preview == "input: human: fork in place"
    for limit in range(1, 10):
        assert await api("log", main_cfg, limit=limit) == entries[:limit]


async def check_log_errors_change_nothing(api: Api) -> None:
    w = await build(api)
    before = await store_snapshot(w)
    bad: list[tuple[type[Exception], Callable[[], Awaitable[Any]], str]] = [
        (SessionAccessError, lambda: api("log", w.sid, user_id=w.user + 1), str(w.sid)),
        (SessionAccessError, lambda: api("log", w.at("deep@6"), user_id=w.user + 1), str(w.sid)),
        (
            SessionAccessError,
            lambda: api("log", {"configurable": {"thread_id": w.deep, "user_id": w.user + 1}}),
            str(w.sid),
        ),
        (SessionNotFoundError, lambda: api("log", 987654321), "987654321"),
        (
            ThreadNotFoundError,
            lambda: api("log", {"configurable": {"thread_id": "nope-x"}}),
            "nope-x",
        ),
        (InvalidConfigError, lambda: api("log", {"thread_id": w.deep}), "configurable"),
        (InvalidConfigError, lambda: api("log", "not-a-config"), "str"),
        (InvalidConfigError, lambda: api("log", w.sid, limit=-1), "-1"),
        (
            InvalidConfigError,
            lambda: api("log", {"configurable": {"thread_id": w.deep, "checkpoint_ns": "sub:1"}}),
            "sub:1",
        ),
        (
            CheckpointNotFoundError,
            lambda: api("log", cp(w.deep, w.ids["main@6"])),
            w.ids["main@6"],
        ),
    ]
    for error, call, named in bad:
        with pytest.raises(error) as info:
            await call()
        assert named in str(info.value), (error, str(info.value))
    assert await api("log", w.sid, user_id=w.user) == await api("log", w.sid)
    assert await store_snapshot(w) == before


# -- tags and refs ---------------------------------------------------------------


async def check_tags_and_every_kind_of_ref(api: Api) -> None:
    w = await build(api)
    (tag,) = await api("tags", w.sid)
    assert (tag.session_id, tag.name, tag.thread_id, tag.checkpoint_id, tag.checkpoint_ns) == (
        w.sid,
        "before-booking",
        w.main,
        w.ids["main@1"],
        "",
    )
    assert tag.created_at is not None

    # tag a branch's head (config without checkpoint_id), then a copy on a branch
    head = await api("tag", {"configurable": {"thread_id": w.deep}}, "hotel", user_id=w.user)
    assert isinstance(head, Tag) and head.checkpoint_id == w.ids["deep@7"]
    copy = await api("tag", cp(w.deep, w.ids["deep@4"]), "deep-start")
    assert copy.thread_id == w.deep
    assert [t.name for t in await api("tags", w.sid)] == ["before-booking", "hotel", "deep-start"]

    resolve = lambda ref: api("resolve", w.sid, ref)  # noqa: E731
    assert await resolve("before-booking") == w.at("main@1")
    assert await resolve("hotel") == w.at("deep@7")
    assert await resolve("deep-start") == cp(w.deep, w.ids["deep@4"])  # a tag: as tagged
    assert await resolve("retry") == w.at("retry@4")  # a branch name: its head
    assert await resolve("alt") == w.at("alt@4")
    assert await resolve(w.deep) == w.at("deep@7")  # a thread id: its head
    assert await resolve(w.main) == w.at("main@7")
    assert await resolve("HEAD") == w.at("deep@7")
    assert await resolve("main") == w.at("main@7")
    # a checkpoint id: found where it is original, not in a branch's copy
    assert await resolve(w.ids["main@1"]) == w.at("main@1")  # copied into retry
    assert await resolve(w.ids["retry@4"]) == w.at("retry@4")  # copied into deep
    assert await resolve(w.ids["main@4"]) == w.at("main@4")  # copied into alt
    assert await resolve(w.ids["deep@5"]) == w.at("deep@5")  # known to no record
    assert await resolve(w.ids["main@6"]) == w.at("main@6")
    # prefixes of ids the session records (as the tree prints them)
    assert await resolve(w.deep[:8]) == w.at("deep@7")
    assert await resolve(w.deep[:8] + "…") == w.at("deep@7")
    assert await resolve(w.ids["retry@4"][:23] + "…") == w.at("retry@4")

    # rollback through a ref
    branch = await api("rollback", await resolve("before-booking"), name="again", user_id=w.user)
    state = await api.state(branch)
    assert contents(state.values) == ["hi", "echo: hi (#1)"]
    assert await resolve("again") == cp(tid(branch), w.ids["main@1"])
    assert await resolve(w.ids["main@1"]) == w.at("main@1")  # still the original

    # untag
    assert await api("untag", w.sid, "hotel") is True
    assert await api("untag", w.sid, "hotel") is False
    assert [t.name for t in await api("tags", w.sid)] == ["before-booking", "deep-start"]
    with pytest.raises(RefNotFoundError, match="hotel"):
        await resolve("hotel")


async def check_ref_and_tag_errors_change_nothing(api: Api) -> None:
    w = await build(api)
    before = await store_snapshot(w)
    resolve = lambda ref, **kw: api("resolve", w.sid, ref, **kw)  # noqa: E731
    with pytest.raises(RefNotFoundError, match="no-such-ref") as info:
        await resolve("no-such-ref")
    assert isinstance(info.value, CheckpointNotFoundError)
    unknown = "1f0aaaaa-0000-6000-8000-000000000000"
    with pytest.raises(RefNotFoundError, match=unknown):
        await resolve(unknown)
    first, second = w.ids["main@1"], w.ids["main@4"]
    common = first[: next(i for i, (x, y) in enumerate(zip(first, second, strict=True)) if x != y)]
    assert len(common) >= 4
    with pytest.raises(RefNotFoundError, match="ambiguous"):
        await resolve(common)
    with pytest.raises(RefNotFoundError):
        await resolve(w.deep[:3])  # too short to be a prefix
    with pytest.raises(SessionAccessError, match=str(w.sid)):
        await resolve("retry", user_id=w.user + 1)
    with pytest.raises(SessionNotFoundError, match="987654321"):
        await api("resolve", 987654321, "retry")
    with pytest.raises(InvalidConfigError):
        await resolve("")

    with pytest.raises(NameConflictError, match="before-booking"):
        await api("tag", w.at("main@6"), "before-booking")
    with pytest.raises(CheckpointNotFoundError, match=w.ids["main@6"]):
        await api("tag", cp(w.retry, w.ids["main@6"]), "nowhere")
    with pytest.raises(SessionAccessError, match=str(w.sid)):
        await api("tag", w.at("main@6"), "mine", user_id=w.user + 1)
    with pytest.raises(InvalidConfigError, match="thread_id"):
        await api("tag", {"configurable": {}}, "x")
    with pytest.raises(InvalidConfigError):
        await api("tag", w.at("main@6"), "  padded ")
    with pytest.raises(ThreadNotFoundError, match="nope-x"):
        await api("tag", cp("nope-x", w.ids["main@6"]), "x")
    with pytest.raises(SessionAccessError):
        await api("tags", w.sid, user_id=w.user + 1)
    with pytest.raises(SessionAccessError):
        await api("untag", w.sid, "before-booking", user_id=w.user + 1)
    assert await store_snapshot(w) == before


# -- diff ---------------------------------------------------------------------------


async def check_diff_across_branches(api: Api) -> None:
    w = await build(api)
    d: Diff = await api("diff", w.at("main@7"), {"configurable": {"thread_id": w.deep}})
    assert d.b == w.at("deep@7")  # a thread config stands for its head
    assert list(d.changed) == ["messages"] and not d.added and not d.removed
    m = d.changed["messages"].messages
    assert m is not None and m.common_prefix == 2
    assert [x.content for x in m.a_only] == [
        "book a flight",
        "echo: book a flight (#2)",
        "to Lisbon",
        "echo: to Lisbon (#3)",
    ]
    assert [x.content for x in m.b_only] == [
        "book a train",
        "echo: book a train (#2)",
        "and a hotel",
        "echo: and a hotel (#3)",
    ]
    assert d.render() == "\n".join(
        [
            f"--- a {w.main}@{w.ids['main@7']}",
            f"+++ b {w.deep}@{w.ids['deep@7']}",
            "~ messages: 2 in common, -4 +4 messages",
            "    - human: book a flight",
            "    - ai: echo: book a flight (#2)",
            "    - human: to Lisbon",
            "    - ai: echo: to Lisbon (#3)",
            "    + human: book a train",
            "    + ai: echo: book a train (#2)",
            "    + human: and a hotel",
            "    + ai: echo: and a hotel (#3)",
        ]
    )
    data = json.loads(json.dumps(d.to_dict()))
    assert data["a"] == {"thread_id": w.main, "checkpoint_ns": "", "checkpoint_id": w.ids["main@7"]}
    assert data["changed"]["messages"]["messages"]["common_prefix"] == 2
    assert data["changed"]["messages"]["messages"]["b_only"][0] == {
        "type": "human",
        "content": "book a train",
        "id": "human-4",
    }
    assert data["added"] == {} and data["removed"] == {} and data["unresolved"] == []

    # one side a prefix of the other: nothing removed, the rest added
    d = await api("diff", w.at("retry@4"), w.at("deep@7"))
    m = d.changed["messages"].messages
    assert (m.common_prefix, len(m.a_only), len(m.b_only)) == (4, 0, 2)
    # a channel that only one side has
    d = await api("diff", w.at("main@-1"), w.at("main@0"))
    assert list(d.added) == ["messages"] and not d.changed and not d.removed
    assert [x.content for x in d.added["messages"].b] == ["hi"]
    assert "+ messages = [HumanMessage(" in d.render()
    d = await api("diff", w.at("main@0"), w.at("main@-1"))
    assert list(d.removed) == ["messages"]
    assert json.loads(json.dumps(d.to_dict()))["removed"]["messages"][0]["content"] == "hi"
    # the same checkpoint, on the branch that copied it
    d = await api("diff", w.at("main@4"), w.at("alt@4"))
    assert d.empty and d.unchanged == ("messages",)
    assert d.render().endswith("(no differences)")
    # with the graph: the state LangGraph itself reads
    d_graph = await api("diff", w.at("main@7"), w.at("deep@7"), graph=api.graph)
    assert d_graph.changes == (await api("diff", w.at("main@7"), w.at("deep@7"))).changes

    before = await store_snapshot(w)
    with pytest.raises(CheckpointNotFoundError, match=w.ids["main@6"]):
        await api("diff", w.at("main@7"), cp(w.deep, w.ids["main@6"]))
    with pytest.raises(InvalidConfigError):
        await api("diff", w.at("main@7"), {"configurable": {"checkpoint_id": w.ids["main@6"]}})
    with pytest.raises(SessionAccessError, match=str(w.sid)):
        await api("diff", w.at("main@7"), w.at("deep@7"), user_id=w.user + 1)
    assert await store_snapshot(w) == before


async def check_diff_delta_channels(api: Api) -> None:
    """A DeltaChannel not stored at a checkpoint is `unresolved`, unless the graph is given."""
    graph = delta_probe().compile(api.saver)
    config = {"configurable": {"thread_id": f"delta-{uuid.uuid4().hex[:8]}"}}
    await api.run(graph, delta_input(0), config)
    snaps = await api.history(config, graph)
    tuples = {t.checkpoint["id"]: t for t in await api.tuples(tid(config))}
    unstored = [
        s
        for s in snaps
        if "items" in tuples[cid(s.config)].checkpoint["channel_versions"]
        and "items" not in tuples[cid(s.config)].checkpoint["channel_values"]
    ]
    stored = [s for s in snaps if "items" in tuples[cid(s.config)].checkpoint["channel_values"]]
    assert unstored and stored
    a, b = unstored[0], snaps[-1]
    d = await api("diff", b.config, a.config)
    assert d.unresolved == ("items",) and "items" not in d.added
    assert "? items: a DeltaChannel not stored in the checkpoint; pass graph= to compare it" in (
        d.render()
    )
    assert json.loads(json.dumps(d.to_dict()))["unresolved"] == ["items"]
    d = await api("diff", b.config, a.config, graph=graph)
    assert d.unresolved == ()
    change = {**d.added, **d.changed}["items"]
    assert change.b == a.values["items"] and len(change.b) > 1
    assert not d.unchanged or "items" not in d.unchanged
    # a snapshot blob is unwrapped to the value itself
    s = stored[0]
    d = await api("diff", b.config, s.config)
    assert d.added["items"].b == s.values["items"]
    d = await api("diff", s.config, a.config, graph=graph)
    assert d.changed["items"].a == s.values["items"]
    # log of a graph without messages: the updated channels
    entries = await api("log", config)
    assert [e.checkpoint_id for e in entries] == [cid(x.config) for x in snaps]
    assert entries[0].preview == "updated count, items"
    assert entries[-1].preview == "input: {'items': ['in0']}"


# -- tree and Mermaid -----------------------------------------------------------------

EXPECTED_TREE = """\
main  MAIN  (9 checkpoints)  tags: before-booking
├── retry  RETRY  from MAIN@main@1 (step 1)  (4 checkpoints)
│   └── DEEP  from RETRY@retry@4 (step 4)  (4 checkpoints)  *
└── alt  ALT  from MAIN@main@4 (step 4)  (1 checkpoint)"""

EXPECTED_MERMAID = """\
gitGraph
  commit id: "main@1"
  branch retry
  commit id: "retry@4"
  branch b-DEEP
  commit id: "b-DEEP head" type: HIGHLIGHT tag: "current"
  checkout retry
  commit id: "retry head"
  checkout main
  commit id: "main@4"
  branch alt
  commit id: "alt head"
  checkout main
  commit id: "main head\""""


def normalize(w: World, text: str) -> str:
    """Replace each (short) id with a stable name: MAIN, RETRY, ..., main@1, retry@4, ..."""
    names = {w.main: "MAIN", w.retry: "RETRY", w.deep: "DEEP", w.alt: "ALT"}
    for key, full in w.ids.items():  # main first: a copy keeps the id of its original
        names.setdefault(full, key)

    def name_of(match: re.Match[str]) -> str:
        short = match.group(0).rstrip("…")
        found = {n for full, n in names.items() if full.startswith(short)}
        assert len(found) == 1, (short, found)
        return found.pop()

    return re.sub(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){0,3}…?", name_of, text)


MERMAID_LINE = re.compile(
    r'^  (?:commit id: "(?P<id>[^"]+)"(?: type: (?:NORMAL|REVERSE|HIGHLIGHT))?(?: tag: "[^"]+")?'
    r"|branch (?P<branch>[A-Za-z][A-Za-z0-9_-]*)|checkout (?P<checkout>[A-Za-z][A-Za-z0-9_-]*))$"
)
MERMAID_KEYWORDS = {"commit", "branch", "checkout", "merge", "switch", "reset", "main"}


def check_mermaid_syntax(text: str) -> None:
    """Every line is one Mermaid gitGraph statement; branches and commit ids add up."""
    lines = text.split("\n")
    assert lines[0] == "gitGraph"
    branches, current, commit_ids = {"main"}, "main", set()
    for line in lines[1:]:
        match = MERMAID_LINE.match(line)
        assert match, f"not a gitGraph statement: {line!r}"
        if match["id"] is not None:
            assert match["id"] not in commit_ids, f"duplicate commit id {match['id']!r}"
            commit_ids.add(match["id"])
        elif match["branch"] is not None:
            assert match["branch"].lower() not in MERMAID_KEYWORDS
            assert match["branch"] not in branches, f"branch {match['branch']!r} exists"
            branches.add(match["branch"])
            current = match["branch"]
        else:
            assert match["checkout"] in branches and match["checkout"] != current
            current = match["checkout"]
    assert commit_ids


async def check_tree_and_mermaid(api: Api) -> None:
    w = await build(api)
    tree = await api("tree", w.sid)
    assert normalize(w, tree) == EXPECTED_TREE
    assert await api("tree", w.sid, user_id=w.user) == tree
    mermaid = await api("mermaid", w.sid)
    check_mermaid_syntax(mermaid)
    assert normalize(w, mermaid) == EXPECTED_MERMAID

    data = await api("tree_data", w.sid)
    assert json.loads(json.dumps(data)) == data
    assert (data["session_id"], data["current_thread_id"], data["total_checkpoints"]) == (
        w.sid,
        w.deep,
        18,
    )
    (root,) = data["roots"]
    assert (root["thread_id"], root["label"], root["checkpoint_count"]) == (w.main, "main", 9)
    assert [t["name"] for t in root["tags"]] == ["before-booking"]
    retry, alt = root["children"]
    assert (retry["name"], retry["branch_checkpoint_id"], retry["branch_step"]) == (
        "retry",
        w.ids["main@1"],
        1,
    )
    assert (alt["name"], alt["branch_step"], alt["checkpoint_count"]) == ("alt", 4, 1)
    (deep,) = retry["children"]
    assert (deep["thread_id"], deep["is_current"], deep["label"]) == (w.deep, True, None)
    assert deep["parent_thread_id"] == w.retry and deep["children"] == []
    # every short id the tree prints resolves to what it stands for
    for node in (root, retry, deep, alt):
        assert await api("resolve", w.sid, node["short_id"]) == await api(
            "resolve", w.sid, node["thread_id"]
        )
        if node["short_branch_checkpoint_id"]:
            resolved = await api("resolve", w.sid, node["short_branch_checkpoint_id"])
            assert cid(resolved) == node["branch_checkpoint_id"]

    with pytest.raises(SessionAccessError, match=str(w.sid)):
        await api("tree", w.sid, user_id=w.user + 1)
    with pytest.raises(SessionAccessError, match=str(w.sid)):
        await api("mermaid", w.sid, user_id=w.user + 1)
    with pytest.raises(SessionNotFoundError, match="987654321"):
        await api("tree_data", 987654321)


async def check_tree_of_awkward_names(api: Api) -> None:
    """Names Mermaid cannot take as they are, and a session without a checkpoint."""
    session = await api("create_session", user_id=7, session_name="fresh")
    assert normalize_ids(await api("tree", session.id)) == "main  T  (0 checkpoints)  *"
    assert await api("mermaid", session.id) == (
        'gitGraph\n  commit id: "main head" type: HIGHLIGHT tag: "current"'
    )
    assert await api("log", session.id) == []
    head = await api("resolve", session.id, "HEAD")
    assert "checkpoint_id" not in head["configurable"]

    main = tid(await api("config_for", session.id))
    await api.invoke("hi", 1, {"configurable": {"thread_id": main}})
    snaps = await api.history({"configurable": {"thread_id": main}})
    for name in ("commit", "main!", "1st try", 'say "hi"', "ünïcode/x", "commit_"):
        await api("rollback", snaps[1].config, name=name)
    text = await api("mermaid", session.id)
    check_mermaid_syntax(text)
    assert [line for line in text.split("\n") if line.startswith("  branch ")] == [
        "  branch commit_",
        "  branch main-2",
        "  branch b-1st-try",
        "  branch say-hi",
        "  branch n-code-x",
        "  branch commit_-2",
    ]
    tree = await api("tree", session.id)
    assert '├── say "hi"  ' in tree and "└── commit_  " in tree


def normalize_ids(text: str) -> str:
    return re.sub(r"[0-9a-f]{8}…", "T", text)


test_log_stitches_branches, test_log_stitches_branches_async = both(check_log_stitches_branches)
test_log_limit_reads_only_what_it_returns, test_log_limit_reads_only_what_it_returns_async = both(
    check_log_limit_reads_only_what_it_returns
)
test_log_skips_forks_inside_a_thread, test_log_skips_forks_inside_a_thread_async = both(
    check_log_skips_forks_inside_a_thread
)
test_log_errors_change_nothing, test_log_errors_change_nothing_async = both(
    check_log_errors_change_nothing
)
test_tags_and_every_kind_of_ref, test_tags_and_every_kind_of_ref_async = both(
    check_tags_and_every_kind_of_ref
)
test_ref_and_tag_errors_change_nothing, test_ref_and_tag_errors_change_nothing_async = both(
    check_ref_and_tag_errors_change_nothing
)
test_diff_across_branches, test_diff_across_branches_async = both(check_diff_across_branches)
test_diff_delta_channels, test_diff_delta_channels_async = both(check_diff_delta_channels)
test_tree_and_mermaid, test_tree_and_mermaid_async = both(check_tree_and_mermaid)
test_tree_of_awkward_names, test_tree_of_awkward_names_async = both(check_tree_of_awkward_names)


def test_previews_of_inputs() -> None:
    """How `log` previews a graph input: messages in any spelling LangGraph accepts."""
    assert _value_preview({"messages": [["user", "hi there"]]}) == "user: hi there"
    assert _value_preview({"messages": [("user", "a"), ("assistant", "b")]}) == "assistant: b"
    assert _value_preview({"messages": [{"role": "user", "content": "yo"}]}) == "user: yo"
    long = _value_preview({"messages": [HumanMessage("x " * 50)]})
    assert long.startswith("human: x x") and long.endswith(" x…") and len(long) <= 60
    assert _value_preview({"messages": "plain"}) == "{'messages': 'plain'}"
    assert _value_preview(["a", "b"]) == "['a', 'b']"
    tool_call = AIMessage("", tool_calls=[{"name": "book", "args": {}, "id": "1"}])
    assert _value_preview([tool_call]) == "ai: calls book"
