"""The web viewer's server side (`agentgit_langgraph.ui`, `agentgit ui`), in-process.

The pages and their assets; the write guard (`read_only`, the per-run token);
the fixed user of `--user`; the Host check; the sessions list; and that the
shipped assets stay offline and text-only. The browser itself: test_ui_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.cli import app as cli_app
from agentgit_langgraph.history import to_json
from agentgit_langgraph.history.render import session_json
from agentgit_langgraph.ui import CSP
from agentgit_langgraph.ui.serve import is_loopback, viewer_app
from agentgit_langgraph.web import make_app
from tests.conftest import AsyncBackend
from tests.graphs import chat_graph_builder, human

STATIC = files("agentgit_langgraph.ui") / "static"
ASSETS = sorted(p.name for p in STATIC.iterdir() if p.name.endswith((".js", ".css", ".html")))

Client = Callable[..., Any]


async def _seed(saver: AgentGitSaver) -> int:
    """Alice's one-turn chat and bob's; alice's session id."""
    graph = chat_graph_builder().compile(checkpointer=saver)
    for user in ("alice", "bob"):
        config = {"configurable": {"thread_id": f"chat-{user}", "user_id": user}}
        await graph.ainvoke(human("hi", 1), config)
    (session,) = await saver.alist_sessions("alice")
    assert session.id is not None
    return session.id


@asynccontextmanager
async def _client(**options: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(**options))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
async def seeded(asql_backend: AsyncBackend) -> AsyncIterator[tuple[AgentGitSaver, int]]:
    async with asql_backend.open() as saver:
        yield saver, await _seed(saver)


def _metas(page: str) -> dict[str, str]:
    return dict(re.findall(r'<meta name="(agentgit-[a-z]+)" content="([^"]*)">', page))


async def test_pages_and_assets(seeded: tuple[AgentGitSaver, int]) -> None:
    saver, _ = seeded
    async with _client(saver=saver) as client:
        response = await client.get("/agentgit/ui/")
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        # The default app (the one a LangGraph server mounts) serves read-only pages.
        assert _metas(response.text) == {"agentgit-api": "/agentgit", "agentgit-write": "0"}
        redirect = await client.get("/agentgit/ui", follow_redirects=False)
        assert redirect.status_code == 307 and redirect.headers["location"] == "/agentgit/ui/"
        for name in ASSETS:
            asset = await client.get(f"/agentgit/ui/static/{name}")
            assert asset.status_code == 200, name
            assert asset.text == (STATIC / name).read_text(encoding="utf-8")
        assert (
            "javascript" in (await client.get("/agentgit/ui/static/app.js")).headers["content-type"]
        )
        outside = await client.get("/agentgit/ui/static/../__init__.py")
        assert outside.status_code == 404

    async with _client(saver=saver, write_token="s3cret&<x>") as client:
        page = (await client.get("/agentgit/ui/")).text
        assert _metas(page)["agentgit-write"] == "1"
        assert 'content="s3cret&amp;&lt;x&gt;"' in page  # escaped into the attribute


def test_shipped_assets_are_offline_and_text_only() -> None:
    """Every file the pages load ships in the package; none is fetched from elsewhere,
    and no API value can reach an HTML parser."""
    index = (STATIC / "index.html").read_text(encoding="utf-8")
    loaded = re.findall(r'(?:src|href)="static/([^"]+)"', index)
    assert loaded and all(name in ASSETS for name in loaded)
    scripts = {name: (STATIC / name).read_text(encoding="utf-8") for name in ASSETS}
    imports = {f"{m}" for text in scripts.values() for m in re.findall(r'from "\./([^"]+)"', text)}
    assert imports and imports <= set(ASSETS)
    for name, text in scripts.items():
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), name
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, (name, sink)
    # The one module that reads the API's keys: no other page code indexes them.
    for name in ("app.js", "graph.js"):
        for key in ("thread_id", "checkpoint_id", "session_name", "branch_step", "children"):
            # a property read, not a call of a model.js accessor of the same name
            assert not re.search(rf"\.{key}\b(?!\s*\()", scripts[name]), (name, key)


async def test_writes_need_the_token(seeded: tuple[AgentGitSaver, int]) -> None:
    saver, sid = seeded
    tag = f"/agentgit/sessions/{sid}/tags"
    body = {"ref": "main", "name": "one"}
    alice = {"user_id": "alice"}

    async with _client(saver=saver, read_only=True, write_token="tok") as client:
        refused = await client.post(
            tag, params=alice, json=body, headers={"x-agentgit-token": "tok"}
        )
        assert refused.status_code == 403 and refused.json()["error"] == "InvalidRequestError"
        assert "--write" in refused.json()["detail"]
        page = (await client.get("/agentgit/ui/")).text
        assert _metas(page) == {"agentgit-api": "/agentgit", "agentgit-write": "0"}

    async with _client(saver=saver, write_token="tok") as client:
        for headers in ({}, {"x-agentgit-token": "wrong"}, {"x-agentgit-token": ""}):
            refused = await client.post(tag, params=alice, json=body, headers=headers)
            assert refused.status_code == 403, headers
            assert "X-Agentgit-Token" in refused.json()["detail"]
        rollback = await client.post(
            f"/agentgit/sessions/{sid}/rollback", params=alice, json={"ref": "main"}
        )
        assert rollback.status_code == 403
        assert await saver.atags(sid, user_id="alice") == []
        assert (await saver.aget_session(sid, user_id="alice")).branch_count == 0
        # reads need no token
        assert (await client.get(f"/agentgit/sessions/{sid}/tags", params=alice)).json() == []
        made = await client.post(tag, params=alice, json=body, headers={"x-agentgit-token": "tok"})
        assert made.status_code == 200, made.text
        assert [t.name for t in await saver.atags(sid, user_id="alice")] == ["one"]


async def test_fixed_user_scopes_every_request(seeded: tuple[AgentGitSaver, int]) -> None:
    saver, sid = seeded
    async with _client(saver=saver, user="alice") as client:
        # the request's own user_id / X-User-Id cannot widen or change the scope
        for params, headers in (({}, {}), ({"user_id": "bob"}, {}), ({}, {"x-user-id": "bob"})):
            rows = (await client.get("/agentgit/sessions", params=params, headers=headers)).json()
            assert [(r["session_id"], r["owner"]) for r in rows] == [(sid, "alice")]
            assert rows[0]["thread_count"] == 1 and rows[0]["total_checkpoints"] == 3
            assert rows[0]["session_name"] == "chat-alice"
    async with _client(saver=saver, user="bob") as client:
        (row,) = (await client.get("/agentgit/sessions", params={"user_id": "alice"})).json()
        assert row["owner"] == "bob"
        response = await client.get(f"/agentgit/sessions/{sid}/tree")
        assert response.status_code == 403 and response.json()["error"] == "SessionAccessError"


async def test_sessions_without_user_lists_everyone(seeded: tuple[AgentGitSaver, int]) -> None:
    saver, _ = seeded
    async with _client(saver=saver) as client:
        rows = (await client.get("/agentgit/sessions")).json()
    assert sorted(r["owner"] for r in rows) == ["alice", "bob"]
    listed = [to_json(session_json(s)) for s in await saver.alist_sessions(None)]
    assert rows == listed  # the sessions as every JSON answer shows them


async def test_viewer_app_checks_the_host(tmp_path: Path) -> None:
    db = str(tmp_path / "agent.db")
    async with AgentGitSaver.afrom_conn_string(db) as saver:
        await _seed(saver)
    app, token = viewer_app(db, write=True)
    assert token and len(token) >= 32
    assert viewer_app(db)[1] is None
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        for host, status in (("127.0.0.1:8765", 200), ("localhost", 200), ("evil.example", 400)):
            async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as c:
                assert (await c.get("/agentgit/sessions")).status_code == status, host
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            page = (await c.get("/agentgit/ui/")).text
            assert _metas(page)["agentgit-token"] == token
            rows = (await c.get("/agentgit/sessions")).json()
            assert len(rows) == 2  # opened from the path given, not $AGENTGIT_DB


def test_loopback_names() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "example.com", "::"))


def test_cli_refuses_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    result = CliRunner().invoke(cli_app, ["ui", "--db", str(missing), "--no-browser"])
    assert result.exit_code == 1
    assert "no SQLite database" in result.output and not missing.exists()
    result = CliRunner().invoke(cli_app, ["ui", "--no-browser"], env={"AGENTGIT_DB": ""})
    assert result.exit_code == 2 and "no database given" in result.output


@pytest.mark.slow
def test_agentgit_ui_serves_until_stopped(tmp_path: Path) -> None:
    """`agentgit ui --write --no-browser` as a process: the page with its token,
    writes refused without it, reads scoped by `--user`; it stops on SIGINT."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    db = tmp_path / "agent.db"
    with AgentGitSaver.from_conn_string(str(db)) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        for user in ("alice", "bob"):
            config = {"configurable": {"thread_id": f"chat-{user}", "user_id": user}}
            graph.invoke(human("hi", 1), config)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    args = ["ui", "--db", str(db), "--port", str(port), "--user", "bob", "--write", "--no-browser"]
    process = subprocess.Popen(
        [sys.executable, "-m", "agentgit_langgraph", *args],
        env={**os.environ, "PYTHONPATH": str(root)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(f"{base}/agentgit/ui/")
                break
            except httpx.ConnectError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        token = _metas(page.text)["agentgit-token"]
        (row,) = httpx.get(f"{base}/agentgit/sessions").json()
        assert row["owner"] == "bob"
        sid = row["session_id"]
        body = {"ref": "main", "name": "t"}
        assert httpx.post(f"{base}/agentgit/sessions/{sid}/tags", json=body).status_code == 403
        made = httpx.post(
            f"{base}/agentgit/sessions/{sid}/tags", json=body, headers={"x-agentgit-token": token}
        )
        assert made.status_code == 200, made.text
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{port}/agentgit/ui/" in err and "read and write" in err
