"""The web viewer: pages of sessions, branch graphs, conversations, checkpoints and diffs.

Plain HTML, CSS and JavaScript in `static/` (shipped as package data: no
CDN, no build step), served under `/agentgit/ui/` by the app of
`agentgit_langgraph.web` beside the JSON API the pages read. `agentgit ui`
(`serve`) runs that app on 127.0.0.1; mounted in a LangGraph server, the same
pages are at `<server>/agentgit/ui/`.

The page learns the API's path and, when writes are allowed, the per-run
write token from `<meta>` tags the server fills in; every value from the API
is inserted as text (`textContent`), and a Content-Security-Policy allows
scripts from the package's own files only.

Example:
    ```python
    from agentgit_langgraph.web import make_app

    app = make_app(db="agent.db", write_token=secrets.token_urlsafe(32))
    # GET /agentgit/ui/ -> the sessions page; its write controls send the token
    ```
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from functools import cache
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["CSP", "ui_routes"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The pages' Content-Security-Policy: nothing inline, nothing from another origin."""

_CONFIG_MARK = "<!--agentgit-config-->"


@cache
def _template() -> str:
    return (files(__package__) / "static" / "index.html").read_text(encoding="utf-8")


def _index(write_token: str | None) -> Callable[[Request], Awaitable[Response]]:
    async def index(request: Request) -> Response:
        base = request.scope.get("root_path", "").rstrip("/") + "/agentgit"
        config = {"agentgit-api": base, "agentgit-write": "1" if write_token else "0"}
        if write_token:
            config["agentgit-token"] = write_token
        metas = "".join(
            f'<meta name="{name}" content="{html.escape(value, quote=True)}">'
            for name, value in config.items()
        )
        page = _template().replace(_CONFIG_MARK, metas)
        headers = {
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }
        return HTMLResponse(page, headers=headers)

    return index


def ui_routes(*, write_token: str | None) -> list[BaseRoute]:
    """The viewer's routes under `/agentgit/ui/` (`write_token`: None for read-only pages).

    Example:
        ```python
        Starlette(routes=[*api_routes, *ui_routes(write_token=None)])
        ```
    """

    async def to_index(request: Request) -> Response:
        return RedirectResponse(request.url.path + "/")

    static = StaticFiles(packages=[(__package__ or "agentgit_langgraph.ui", "static")])
    return [
        Route("/agentgit/ui", to_index, methods=["GET"]),
        Route("/agentgit/ui/", _index(write_token), methods=["GET"]),
        Mount("/agentgit/ui/static", static, name="agentgit-ui-static"),
    ]
