"""`langgraph dev` on `examples/langgraph_server/`: AgentGitSaver as the server's checkpointer.

Starts the server as a subprocess on a free port (AGENTGIT_DB: a tmp SQLite
file), then with `langgraph_sdk`: a run, a rollback through the mounted HTTP
API, the branch's state and a run on it as a server thread, a thread deleted
and one copied; the session's threads and branches read through the API
after each step. With CI=true a server that does not start is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "langgraph_server"
START_TIMEOUT = 40.0

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and the LangGraph dev server is unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The URL of a `langgraph dev` serving the example; its process group killed after."""
    cli = Path(sys.executable).with_name("langgraph")
    if not cli.exists() and (found := shutil.which("langgraph")) is None:
        _unavailable("the langgraph CLI is not installed (langgraph-cli[inmem])")
    command = str(cli) if cli.exists() else str(found)
    workdir = tmp_path / "server"
    shutil.copytree(EXAMPLE, workdir)  # `langgraph dev` writes .langgraph_api/ there
    port = _free_port()
    root = str(EXAMPLE.parent.parent)
    env = {
        **os.environ,
        "AGENTGIT_DB": str(tmp_path / "agent.db"),
        "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
        "LANGSMITH_TRACING": "false",
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [command, "dev", "--port", str(port), "--no-browser", "--no-reload"],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                _unavailable(
                    f"langgraph dev exited: {(tmp_path / 'server.log').read_text()[-2000:]}"
                )
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                _unavailable(f"langgraph dev did not answer /ok in {START_TIMEOUT:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def _contents(values: dict[str, Any]) -> list[str]:
    return [m["content"] for m in values["messages"]]


async def test_agentgit_in_langgraph_dev(server: str) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=server, api_key=None)
    api = httpx.AsyncClient(base_url=f"{server}/agentgit", timeout=30)

    async def session(sid: int) -> tuple[int, int, list[str], str]:
        s = (await api.get(f"/sessions/{sid}")).json()
        threads = [t["thread_id"] for t in (await api.get(f"/sessions/{sid}/branches")).json()]
        assert threads == s["thread_ids"]
        return s["total_checkpoints"], s["branch_count"], threads, s["current_thread_id"]

    async with api:
        thread = (await client.threads.create())["thread_id"]
        for text in ("hi", "again"):
            await client.runs.wait(thread, "agent", input={"messages": [("user", text)]})
        (listed,) = (await api.get("/sessions")).json()
        sid = listed["session_id"]
        assert await session(sid) == (6, 0, [thread], thread)

        # The viewer's pages are mounted too, read-only (no write token on the page).
        page = await api.get("/ui/")
        assert page.status_code == 200 and 'name="agentgit-write" content="0"' in page.text
        assert "agentgit-token" not in page.text
        assert (await api.get("/ui/static/app.js")).status_code == 200

        # A rollback through the mounted API makes the branch a server thread.
        log = (await api.get(f"/sessions/{sid}/log")).json()
        answered = log[3]  # after "echo: hi (#1)"
        response = await api.post(
            f"/sessions/{sid}/rollback", json={"ref": answered["checkpoint_id"], "name": "retry"}
        )
        assert response.status_code == 200, response.text
        branch = response.json()
        retry = branch["thread_id"]
        assert branch["server_thread"] is True
        assert await session(sid) == (7, 1, [thread, retry], retry)
        state = await client.threads.get_state(retry)
        assert _contents(state["values"]) == ["hi", "echo: hi (#1)"]
        assert (await client.threads.get(retry))["metadata"]["agentgit_branch_name"] == "retry"

        result = await client.runs.wait(retry, "agent", input={"messages": [("user", "other")]})
        assert isinstance(result, dict)
        assert _contents(result) == ["hi", "echo: hi (#1)", "other", "echo: other (#2)"]
        assert await session(sid) == (10, 1, [thread, retry], retry)

        # The server's copy and delete go through AgentGitSaver's acopy_thread/adelete_thread.
        copy = (await client.threads.copy(thread))["thread_id"]
        assert await session(sid) == (16, 2, [thread, retry, copy], copy)
        assert _contents((await client.threads.get_state(copy))["values"])[-1] == "echo: again (#2)"
        await client.threads.delete(thread)
        assert await session(sid) == (10, 2, [retry, copy], copy)
        assert _contents((await client.threads.get_state(retry))["values"])[-1] == (
            "echo: other (#2)"
        )
