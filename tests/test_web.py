"""The HTTP API (`agentgit_langgraph.web`) driven in-process through httpx's ASGI transport.

On SQLite and PostgreSQL: every endpoint, the session's counts, threads and
branches after each change, and the error answers (404 unknown, 403 another
user's, 400 unreadable, 422 invalid, 409 a name taken).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.web import make_app
from tests.conftest import AsyncBackend
from tests.graphs import chat_graph_builder, human

ALICE = {"user_id": "alice"}


@pytest.fixture
async def api(asql_backend: AsyncBackend) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """A client of the API on a saver holding alice's two-turn session, and its graph."""
    async with asql_backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "chat", "user_id": "alice"}}
        await graph.ainvoke(human("hi", 1), config)
        await graph.ainvoke(human("again", 2), config)
        transport = httpx.ASGITransport(app=make_app(saver))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, graph


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(f"/agentgit{path}", params={**ALICE, **params})
    assert response.status_code == 200, response.text
    return response.json()


async def _post(client: httpx.AsyncClient, path: str, body: Any) -> Any:
    response = await client.post(f"/agentgit{path}", params=ALICE, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def _state(client: httpx.AsyncClient, sid: int) -> tuple[int, int, list[str], str]:
    """(checkpoints, branch_count, threads, current thread) as the API reports them."""
    session = await _get(client, f"/sessions/{sid}")
    threads = [t["thread_id"] for t in await _get(client, f"/sessions/{sid}/branches")]
    assert threads == session["thread_ids"]
    return (
        session["total_checkpoints"],
        session["branch_count"],
        threads,
        session["current_thread_id"],
    )


async def test_reads_and_changes(api: tuple[httpx.AsyncClient, Any]) -> None:
    client, graph = api
    (listed,) = await _get(client, "/sessions")
    sid = listed["session_id"]
    assert await _state(client, sid) == (6, 0, ["chat"], "chat")
    assert await _get(client, "/sessions", user_id="bob") == []

    tree = await _get(client, f"/sessions/{sid}/tree")
    assert (tree["session_id"], tree["current_thread_id"]) == (sid, "chat")
    log = await _get(client, f"/sessions/{sid}/log")
    assert [e["preview"] for e in log[:2]] == ["ai: echo: again (#2)", "human: again"]
    assert len(log) == 6 and len(await _get(client, f"/sessions/{sid}/log", limit=2)) == 2

    # show: the checkpoint after the first answer (its values, next, parent)
    first_answer = log[3]
    shown = await _get(client, f"/sessions/{sid}/checkpoints/{first_answer['checkpoint_id']}")
    assert [m["content"] for m in shown["values"]["messages"]] == ["hi", "echo: hi (#1)"]
    assert shown["next"] == [] and shown["metadata"]["step"] == first_answer["step"]
    assert shown["parent_checkpoint_id"] == log[4]["checkpoint_id"]
    before_input = await _get(client, f"/sessions/{sid}/checkpoints/{log[2]['checkpoint_id']}")
    assert before_input["next"] == ["__start__"]

    tag = await _post(
        client, f"/sessions/{sid}/tags", {"ref": log[3]["checkpoint_id"], "name": "one"}
    )
    assert tag["name"] == "one"
    assert [t["name"] for t in await _get(client, f"/sessions/{sid}/tags")] == ["one"]

    body = {"ref": "one", "name": "retry", "intent": "try the train"}
    branch = await _post(client, f"/sessions/{sid}/rollback", body)
    retry = branch["thread_id"]
    assert branch["parent_thread_id"] == "chat" and branch["server_thread"] is False
    # per-branch stats in the tree on request, the session's in its own endpoint
    stats = await _get(client, f"/sessions/{sid}/stats")
    assert stats["total"]["checkpoints"] == 7 and stats["total"]["model_calls"] == 2
    (plain,) = (await _get(client, f"/sessions/{sid}/tree"))["roots"]
    (with_stats,) = (await _get(client, f"/sessions/{sid}/tree", stats="1"))["roots"]
    assert "stats" not in plain and with_stats["stats"]["model_calls"] == 2
    assert await _get(client, f"/sessions/{sid}/reversals") == []  # no tool ran
    # intent and status round-trip through the API into the tree
    body = {"thread": retry, "status": "kept", "reason": "cheaper"}
    kept = await _post(client, f"/sessions/{sid}/status", body)
    assert (kept["thread_id"], kept["status"], kept["status_reason"]) == (retry, "kept", "cheaper")
    (root,) = (await _get(client, f"/sessions/{sid}/tree"))["roots"]
    (node,) = [c for c in root["children"] if c["thread_id"] == retry]
    assert (node["intent"], node["status"], node["status_reason"]) == (
        "try the train",
        "kept",
        "cheaper",
    )
    assert await _state(client, sid) == (7, 1, ["chat", retry], retry)
    retry_log = await _get(client, f"/sessions/{sid}/log", ref="retry")
    assert retry_log[0]["thread_id"] == retry and len(retry_log) == 3

    await graph.ainvoke(human("other", 3), {"configurable": {"thread_id": retry, **ALICE}})
    assert await _state(client, sid) == (10, 1, ["chat", retry], retry)
    diff = await _get(client, f"/sessions/{sid}/diff", a="chat", b="retry")
    messages = diff["changed"]["messages"]["messages"]
    assert messages["common_prefix"] == 2
    assert [m["content"] for m in messages["b_only"]] == ["other", "echo: other (#2)"]

    switched = await _post(client, f"/sessions/{sid}/switch", {"thread": "main"})
    assert switched["thread_id"] == "chat" and switched["warnings"] == []
    assert await _state(client, sid) == (10, 1, ["chat", retry], "chat")
    # any ref of a thread: a 4+ character prefix, a tag (its thread), a branch name
    assert (await _post(client, f"/sessions/{sid}/switch", {"thread": retry[:6]}))[
        "thread_id"
    ] == retry
    assert (await _post(client, f"/sessions/{sid}/switch", {"thread": "one"}))["thread_id"] == (
        "chat"
    )
    # the log speaks UTC and keeps the whole text beside the preview
    assert retry_log[0]["created_at"].endswith("+00:00") and retry_log[0]["text"]

    # A rollback from a checkpoint config (as LangGraph's `get_state_history` gives it).
    config = {"configurable": {"thread_id": retry, "checkpoint_id": retry_log[0]["checkpoint_id"]}}
    second = (await _post(client, f"/sessions/{sid}/rollback", {"config": config}))["thread_id"]
    assert await _state(client, sid) == (11, 2, ["chat", retry, second], second)


async def _error(response: httpx.Response, status: int, name: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == name and body["detail"]


async def test_errors(api: tuple[httpx.AsyncClient, Any]) -> None:
    client, _ = api
    (session,) = await _get(client, "/sessions")
    sid = session["session_id"]
    before = await _state(client, sid)
    base = f"/agentgit/sessions/{sid}"
    get, post = client.get, client.post

    # 404: unknown session, ref, thread
    await _error(await get("/agentgit/sessions/999", params=ALICE), 404, "SessionNotFoundError")
    await _error(await get(f"{base}/checkpoints/nope", params=ALICE), 404, "RefNotFoundError")
    await _error(await get(f"{base}/log", params={"ref": "nope"}), 404, "RefNotFoundError")
    alien = {"configurable": {"thread_id": "elsewhere", "checkpoint_id": "x"}}
    response = await post(f"{base}/rollback", params=ALICE, json={"config": alien})
    await _error(response, 404, "ThreadNotFoundError")
    response = await client.get(f"{base}/tree", params={**ALICE, "stats": "yes"})
    await _error(response, 422, "InvalidRequestError")
    response = await post(f"{base}/status", params=ALICE, json={"thread": "chat", "status": "gone"})
    await _error(response, 422, "InvalidConfigError")
    response = await post(f"{base}/status", params=ALICE, json={"thread": "nope", "status": "kept"})
    await _error(response, 404, "ThreadNotFoundError")
    response = await post(f"{base}/switch", params=ALICE, json={"thread": "nope"})
    await _error(response, 404, "ThreadNotFoundError")

    # 403: another user's session, by query parameter or header
    await _error(await get(base, params={"user_id": "bob"}), 403, "SessionAccessError")
    await _error(await get(f"{base}/log", headers={"X-User-Id": "bob"}), 403, "SessionAccessError")
    response = await post(f"{base}/rollback", headers={"X-User-Id": "bob"}, json={"ref": "main"})
    await _error(response, 403, "SessionAccessError")

    # 400: unreadable; 422: invalid values; 409: a name taken
    await _error(await get("/agentgit/sessions/abc"), 400, "InvalidRequestError")
    await _error(await get(f"{base}/log", params={"limit": "x"}), 400, "InvalidRequestError")
    response = await post(f"{base}/rollback", params=ALICE, content=b"{not json")
    await _error(response, 400, "InvalidRequestError")
    await _error(await get(f"{base}/log", params={"limit": "-1"}), 422, "InvalidConfigError")
    await _error(await get(f"{base}/diff", params={"a": "main"}), 422, "InvalidRequestError")
    for body in ({}, {"ref": 5}, {"ref": "main", "config": {}}, {"ref": "main", "name": ""}, []):
        response = await post(f"{base}/rollback", params=ALICE, json=body)
        assert response.status_code == 422, (body, response.text)
    await _post(client, f"/sessions/{sid}/tags", {"ref": "main", "name": "t"})
    response = await post(f"{base}/tags", params=ALICE, json={"ref": "main", "name": "t"})
    await _error(response, 409, "NameConflictError")
    assert await _state(client, sid) == before  # no failure changed anything


async def test_app_opens_agentgit_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make_app()` opens `$AGENTGIT_DB` on the first request and closes it on shutdown."""
    db = str(tmp_path / "agent.db")
    async with AgentGitSaver.afrom_conn_string(db) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        # The LangGraph server's anonymous user: `user_id: ""` is no user (owner 0).
        await graph.ainvoke(human("hi", 1), {"configurable": {"thread_id": "t", "user_id": ""}})
    monkeypatch.setenv("AGENTGIT_DB", db)
    app = make_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            (session,) = (await client.get("/agentgit/sessions")).json()
            assert (session["user_id"], session["total_checkpoints"]) == (0, 3)
    monkeypatch.delenv("AGENTGIT_DB")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app()), base_url="http://test"
    ) as client:
        await _error(await client.get("/agentgit/sessions"), 422, "InvalidConfigError")


async def test_switch_answers_with_undone_tool_calls(asql_backend: AsyncBackend) -> None:
    """A switch to a thread whose history holds calls a rollback undid says so in
    `warnings`, once, and raises no Python warning in the server process."""
    import warnings

    from tests.test_friction import _booking_agent

    booked: list[str] = []
    async with asql_backend.open() as saver:
        agent = _booking_agent(saver, booked)
        config = {"configurable": {"thread_id": "trip"}}
        await agent.ainvoke({"messages": [("user", "hello")]}, config)
        await agent.ainvoke({"messages": [("user", "book TP123")]}, config)
        history = [s async for s in agent.aget_state_history(config)]
        before = next(s for s in history if len(s.values["messages"]) == 2)
        await saver.arollback(before.config, reverse_tools=True, name="no-flight")
        assert booked == []
        sid = (await saver.asession_for_thread("trip")).id
        transport = httpx.ASGITransport(app=make_app(saver))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                response = await client.post(
                    f"/agentgit/sessions/{sid}/switch", json={"thread": "main"}
                )
                assert response.status_code == 200, response.text
                (note,) = response.json()["warnings"]
                assert "book_flight" in note and "'trip'" in note
                back = await client.post(
                    f"/agentgit/sessions/{sid}/switch", json={"thread": "no-flight"}
                )
                assert back.json()["warnings"] == []
