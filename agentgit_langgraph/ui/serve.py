"""`agentgit ui`: the viewer's app on a local port, opened in the browser.

Example:
    ```python
    serve("agent.db", port=8765, write=True, open_browser=False)  # blocks; Ctrl-C stops
    ```
"""

from __future__ import annotations

import ipaddress
import secrets
import sys
import threading
import webbrowser

from starlette.applications import Starlette

from agentgit_langgraph.web import make_app

__all__ = ["is_loopback", "serve", "viewer_app"]

_LOCAL_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (`127.0.0.1`, `localhost`, `::1`)."""
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def viewer_app(
    db: str, *, host: str = "127.0.0.1", user: str | None = None, write: bool = False
) -> tuple[Starlette, str | None]:
    """The app `agentgit ui` serves and its write token (None without `write`).

    On a loopback `host` it answers only requests naming a local host, so a
    web page whose name resolves to 127.0.0.1 cannot read the token.

    Example:
        ```python
        app, token = viewer_app("agent.db", write=True)
        ```
    """
    token = secrets.token_urlsafe(32) if write else None
    hosts = [*_LOCAL_NAMES, host] if is_loopback(host) else None
    app = make_app(db=db, user=user, read_only=not write, write_token=token, allowed_hosts=hosts)
    return app, token


def serve(
    db: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    user: str | None = None,
    write: bool = False,
    open_browser: bool = True,
) -> None:
    """Serve the viewer of `db` until interrupted (uvicorn, from the `server` extra)."""
    import uvicorn

    app, _ = viewer_app(db, host=host, user=user, write=write)
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    url = f"http://{shown}:{port}/agentgit/ui/"
    mode = "read and write (--write)" if write else "read-only"
    print(f"agentgit ui: {url}  ({mode}; Ctrl-C stops)", file=sys.stderr)
    if not is_loopback(host):
        print(
            f"warning: {host} is reachable from other machines; anyone who can reach it "
            "can read every session shown",
            file=sys.stderr,
        )
    if open_browser:
        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning")
