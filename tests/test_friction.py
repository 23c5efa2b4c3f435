"""What a new user trips over (issue 14), sync and async, on every backend.

Each check runs on the session `tests/test_history.build` makes (main, retry,
deep, alt; tag `before-booking` on main; deep current) through the `both`
helper: once with the sync API, once with the async twins.
"""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver

from agentgit_langgraph import (
    AgentGitSaver,
    AmbiguousRefError,
    AsyncUnsupportedError,
    NameConflictError,
    RefNotFoundError,
    ReversedToolCallsWarning,
    ThreadNotFoundError,
    reversers_from,
    reversible_tool,
)
from agentgit_langgraph.history import SessionTree, to_json
from agentgit_langgraph.testing import ScriptedToolModel
from tests.graphs import chat_graph_builder, human
from tests.test_history import (
    Api,
    ReadCounter,
    World,
    both,
    build,
    cp,
    store_snapshot,
    tid,
)
from tests.test_reversal import agent_builder


async def _current(w: World) -> str:
    session = await w.api("get_session", w.sid)
    return str(session.current_internal_session_id)


# -- switch takes any ref ------------------------------------------------------------


async def check_switch_takes_any_ref(api: Api) -> None:
    w = await build(api)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no reversed tools here: no warning either
        assert tid(await api("switch", w.sid, "retry")) == w.retry  # a branch name
        assert await _current(w) == w.retry
        assert tid(await api("switch", w.sid, "main")) == w.main
        assert tid(await api("switch", w.sid, w.deep[:8])) == w.deep  # a short id
        assert tid(await api("switch", w.sid, w.alt[:8] + "…")) == w.alt  # as `tree` prints
        assert tid(await api("switch", w.sid, "before-booking")) == w.main  # a tag: its thread
        assert tid(await api("switch", w.sid, "HEAD")) == w.main  # the current thread
        assert tid(await api("switch", w.sid, w.retry)) == w.retry  # a whole thread id
    assert await _current(w) == w.retry


async def check_switch_refusals_name_the_ref(api: Api) -> None:
    w = await build(api)
    before = await store_snapshot(w)
    with pytest.raises(ThreadNotFoundError, match="'nope'"):
        await api("switch", w.sid, "nope")
    short = w.deep[:2]
    with pytest.raises(ThreadNotFoundError, match="at least 4 characters"):
        await api("switch", w.sid, short)
    assert await store_snapshot(w) == before


async def check_ambiguous_prefix(api: Api) -> None:
    w = await build(api)
    a = {"configurable": {"thread_id": f"same-prefix-a-{w.user}"}}
    await api.invoke("one", 1, a)
    await api("copy_thread", tid(a), f"same-prefix-b-{w.user}")  # a branch of a's session
    sid = (await api("session_for_thread", tid(a))).id
    with pytest.raises(AmbiguousRefError) as exc:
        await api("switch", sid, "same-prefix")
    assert isinstance(exc.value, RefNotFoundError)
    assert exc.value.ref == "same-prefix"
    assert exc.value.candidates == (tid(a), f"same-prefix-b-{w.user}")
    assert "ambiguous" in str(exc.value) and tid(a) in str(exc.value)
    # Branch points of one session share their time-ordered prefix.
    one, four = w.ids["main@1"], w.ids["main@4"]
    common = next(i for i, (x, y) in enumerate(zip(one, four, strict=True)) if x != y)
    assert common >= 4
    with pytest.raises(AmbiguousRefError, match="ambiguous"):
        await api("resolve", w.sid, one[:common])
    with pytest.raises(RefNotFoundError, match="at least 4 characters"):
        await api("resolve", w.sid, one[:3])


# -- names are refs: no shadowing ------------------------------------------------------


async def check_names_never_shadow_refs(api: Api) -> None:
    w = await build(api)
    head = w.at("deep@7")
    before = await store_snapshot(w)
    for taken in ("main", "HEAD", "retry", "alt", w.deep):
        with pytest.raises(NameConflictError, match=repr(taken)):
            await api("tag", head, taken)
    for taken in ("before-booking", "HEAD", "main", "retry"):
        with pytest.raises(NameConflictError, match=repr(taken)):
            await api("rollback", head, name=taken)
    assert await store_snapshot(w) == before
    assert await api("resolve", w.sid, "main") == w.at("main@7")


# -- rollback keeps the caller's config ----------------------------------------------


async def check_rollback_keeps_configurable_keys(api: Api) -> None:
    w = await build(api)
    source: dict[str, Any] = {
        "configurable": {**w.at("main@4")["configurable"], "user_id": w.user, "model": "small"}
    }
    branch = await api("rollback", source)
    assert branch["configurable"] == {"thread_id": tid(branch), "user_id": w.user, "model": "small"}
    # A snapshot's config carries only its address: the acting user is added.
    branch = await api("rollback", w.at("main@4"), user_id=w.user)
    assert branch["configurable"] == {"thread_id": tid(branch), "user_id": w.user}
    assert set((await api("rollback", cp(w.main, w.ids["main@4"])))["configurable"]) == {
        "thread_id"
    }


test_switch_takes_any_ref, test_switch_takes_any_ref_async = both(check_switch_takes_any_ref)
test_switch_refusals_name_the_ref, test_switch_refusals_name_the_ref_async = both(
    check_switch_refusals_name_the_ref
)
test_ambiguous_prefix, test_ambiguous_prefix_async = both(check_ambiguous_prefix)
test_names_never_shadow_refs, test_names_never_shadow_refs_async = both(
    check_names_never_shadow_refs
)
test_rollback_keeps_configurable_keys, test_rollback_keeps_configurable_keys_async = both(
    check_rollback_keeps_configurable_keys
)


# -- switching back does not redo what a rollback undid --------------------------------


def _booking_agent(saver: Any, booked: list[str]) -> Any:
    @reversible_tool(undo=lambda args, result: booked.remove(args["flight"]))
    def book_flight(flight: str) -> str:
        """Book a flight."""
        booked.append(flight)
        return f"booked {flight}"

    model = ScriptedToolModel(script={"book TP123": [("book_flight", {"flight": "TP123"})]})
    saver.register_reverser("book_flight", reversers_from([book_flight])["book_flight"])
    return agent_builder(model, [book_flight]).compile(checkpointer=saver)


async def check_switch_warns_about_undone_calls(api: Api) -> None:
    booked: list[str] = []
    agent = _booking_agent(api.saver, booked)
    config = {"configurable": {"thread_id": f"booking-{uuid.uuid4().hex[:8]}"}}
    await api.run(agent, {"messages": [("user", "hello")]}, config)
    await api.run(agent, {"messages": [("user", "book TP123")]}, config)
    assert booked == ["TP123"]
    before_booking = next(
        s for s in await api.history(config, agent) if len(s.values["messages"]) == 2
    )
    sid = (await api("session_for_thread", tid(config))).id
    await api("rollback", before_booking.config, reverse_tools=True, name="no-flight")
    assert booked == []
    with pytest.warns(ReversedToolCallsWarning, match="book_flight") as caught:
        back = await api("switch", sid, "main")
    assert tid(back) == tid(config)
    assert [r.tool_name for r in caught[0].message.reversals] == ["book_flight"]  # type: ignore[union-attr]
    assert booked == []  # the world still matches the branch
    undone = await api("undone_calls", sid)  # the current thread: main
    assert [(r.tool_name, r.args) for r in undone] == [("book_flight", {"flight": "TP123"})]
    assert await api("undone_calls", sid, "no-flight") == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await api("switch", sid, "no-flight")  # its history never booked: nothing to say


test_switch_warns_about_undone_calls, test_switch_warns_about_undone_calls_async = both(
    check_switch_warns_about_undone_calls
)


# -- tree keeps readable ids; log's short ids are refs; JSON in one vocabulary ------------


async def check_tree_keeps_readable_ids(api: Api) -> None:
    thread = f"customer-{uuid.uuid4().hex[:6]}"
    config = {"configurable": {"thread_id": thread}}
    await api.invoke("hi", 1, config)
    sid = (await api("session_for_thread", thread)).id
    branch = tid(await api("rollback", (await api.history(config))[0].config))
    text = await api("tree", sid)
    assert text.startswith(f"main  {thread}  ")  # whole: a person chose it
    assert f"{branch[:8]}…  from {thread}@" in text  # a generated id: short
    assert (await api("tree_data", sid))["roots"][0]["short_id"] == thread


async def check_log_short_ids_are_refs(api: Api) -> None:
    w = await build(api)
    # A checkpoint only the log shows (no tag, no branch starts there).
    inner = w.ids["deep@6"]
    assert await api("resolve", w.sid, inner[:18] + "…") == w.at("deep@6")
    assert await api("resolve", w.sid, inner[:18]) == w.at("deep@6")
    # Only a ref that could start a checkpoint id makes it read the checkpoints.
    targets = api.saver.plan_targets
    real = targets[BaseCheckpointSaver]
    targets[BaseCheckpointSaver] = counter = ReadCounter(real)
    try:
        with pytest.raises(RefNotFoundError, match="'no-such-ref'"):
            await api("resolve", w.sid, "no-such-ref")
    finally:
        targets[BaseCheckpointSaver] = real
    assert counter.read == 0


async def check_session_json_speaks_threads(api: Api) -> None:
    w = await build(api)
    session = await api("get_session", w.sid)
    data = to_json(session)
    assert data["session_id"] == w.sid
    assert data["current_thread_id"] == w.deep
    assert data["thread_ids"] == [w.main, w.retry, w.deep, w.alt]
    assert data["thread_count"] == 4 and data["branch_count"] == 3
    assert not [k for k in data if "internal" in k or k == "id"]
    assert data["created_at"].endswith("+00:00") and data["updated_at"].endswith("+00:00")
    # agentgit's own form is kept where agentgit code reads it
    assert session.to_dict()["current_internal_session_id"] == w.deep
    entry = (await api("log", w.sid, limit=1))[0]
    assert to_json(entry)["text"] == entry.text == "ai: echo: and a hotel (#3)"
    assert to_json(entry)["created_at"].endswith("+00:00")


test_tree_keeps_readable_ids, test_tree_keeps_readable_ids_async = both(
    check_tree_keeps_readable_ids
)
test_log_short_ids_are_refs, test_log_short_ids_are_refs_async = both(check_log_short_ids_are_refs)
test_session_json_speaks_threads, test_session_json_speaks_threads_async = both(
    check_session_json_speaks_threads
)


# -- a sync saver in async code: our hint -----------------------------------------------


async def _ainvoke_on(conn_string: str) -> None:
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        with pytest.raises(AsyncUnsupportedError, match="afrom_conn_string") as exc:
            await graph.ainvoke(human("hi", 1), {"configurable": {"thread_id": "t"}})
        assert isinstance(exc.value, NotImplementedError)  # what LangGraph raises too
        with pytest.raises(AsyncUnsupportedError, match=r"AsyncSqliteSaver|AsyncPostgresSaver"):
            [t async for t in saver.alist(None)]
        graph.invoke(human("hi", 1), {"configurable": {"thread_id": "t"}})  # sync still works


async def test_sync_saver_in_async_code_names_afrom_conn_string(tmp_path: Path) -> None:
    await _ainvoke_on(str(tmp_path / "agent.db"))


@pytest.mark.postgres
async def test_sync_postgres_saver_in_async_code(postgres_schema_uri: str) -> None:
    await _ainvoke_on(postgres_schema_uri)


# -- notebooks draw trees -------------------------------------------------------------


async def check_trees_draw_themselves_in_notebooks(api: Api) -> None:
    from IPython.core.formatters import DisplayFormatter

    w = await build(api)
    formats = DisplayFormatter().format
    mermaid = await api("mermaid", w.sid)
    assert isinstance(mermaid, str) and mermaid.startswith("gitGraph\n")
    bundle, _ = formats(mermaid)
    assert bundle["text/markdown"] == f"```mermaid\n{mermaid}\n```"
    tree = await api("tree", w.sid)
    assert isinstance(tree, str) and tree.startswith("main  ")
    bundle, _ = formats(tree)
    assert bundle["text/markdown"] == f"```\n{tree}\n```"
    typed = SessionTree.from_dict(await api("tree_data", w.sid))
    bundle, _ = formats(typed)
    assert bundle["text/markdown"] == f"```mermaid\n{mermaid}\n```"


test_trees_draw_themselves_in_notebooks, test_trees_draw_themselves_in_notebooks_async = both(
    check_trees_draw_themselves_in_notebooks
)
