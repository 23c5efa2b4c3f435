"""Serving the viewer on a local port and driving it with the distribution's Chromium.

Shared by tests/test_ui_browser.py and benchmarks/bench_ui.py. Playwright drives
`/usr/bin/chromium` (or `$AGENTGIT_CHROMIUM`) through `executable_path`: its own
browser download needs a CDN. Without a browser the tests skip, and fail with
CI=true (`.ci/run` installs Debian's `chromium`).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette

from tests.conftest import IN_CI

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    """The browser to drive, or None when this machine has none."""
    given = os.environ.get("AGENTGIT_CHROMIUM")
    if given:
        return given
    for name in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.access(name, os.X_OK):
            return name
    return shutil.which("chromium")


def require_browser() -> str:
    """The browser's path; skips the test when there is none (fails it with CI=true)."""
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[test]')"
    path = chromium_path()
    if path is None:
        reason = reason or "no Chromium: apt-get install chromium (or set AGENTGIT_CHROMIUM)"
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true and the browser tests cannot run: {reason}")
        pytest.skip(reason)
    assert path is not None
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(app: Starlette) -> Iterator[str]:
    """`app` on 127.0.0.1 (uvicorn, in a thread) for the block: its base URL."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the viewer's server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def browser_page(
    executable: str, *, width: int = 1280, height: int = 800
) -> Iterator[tuple[Any, list[str]]]:
    """A page of a headless Chromium and the list its console errors, page errors
    and dialogs (none should open: no message may run as script) collect into."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            problems: list[str] = []
            page.on(
                "console",
                lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))

            def on_dialog(dialog: Any) -> None:
                problems.append(f"dialog: {dialog.message}")
                dialog.dismiss()

            page.on("dialog", on_dialog)
            yield page, problems
        finally:
            browser.close()
