"""An HTTP API for sessions and branches: a Starlette app under `/agentgit/`.

Needs the `server` extra (`pip install -e ".[server]"` in a clone). The
module's `app` opens its saver from `$AGENTGIT_DB` (a SQLite path or a
`postgresql://` URI) on the first request; `make_app(saver)` serves a saver
you opened. Mount it in a LangGraph server through `langgraph.json`:
`"http": {"app": "agentgit_langgraph.web:app"}` (see
`examples/langgraph_server/`). Inside the server, a rollback also registers
the new branch as a server thread (`threads.create` through the server's
in-process client), so `client.threads.get_state(branch)` and
`client.runs.wait(branch, ...)` continue from it.

Every answer is JSON (`history.render.to_json`). A failure is
`{"error": "<TypedErrorName>", "detail": "..."}`: 404 an unknown session,
thread, checkpoint or ref; 403 another user's session; 400 a request that
cannot be read; 409 a name already taken; 422 a request with invalid values.
The acting user is the `user_id` query parameter or the `X-User-Id` header.

Endpoints (`{sid}`: a session id):

    GET  /agentgit/sessions                       sessions (the user's)
    GET  /agentgit/sessions/{sid}                 one session
    GET  /agentgit/sessions/{sid}/branches        its threads
    GET  /agentgit/sessions/{sid}/tree            `tree_data`
    GET  /agentgit/sessions/{sid}/log?ref=&limit= `log` (default: current branch)
    GET  /agentgit/sessions/{sid}/checkpoints/{ref}  `show`: values, next, tasks, links
    GET  /agentgit/sessions/{sid}/diff?a=&b=      `diff`
    GET  /agentgit/sessions/{sid}/tags            tags
    POST /agentgit/sessions/{sid}/rollback        {"ref"|"config", "name", "reverse_tools"}
    POST /agentgit/sessions/{sid}/switch          {"thread"}: a thread id, prefix, branch or tag
    POST /agentgit/sessions/{sid}/tags            {"ref", "name"}
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from agentgit_langgraph._plan import run_async
from agentgit_langgraph.branching import switched_plan, undone_message
from agentgit_langgraph.errors import (
    CheckpointNotFoundError,
    InvalidConfigError,
    InvalidRequestError,
    NameConflictError,
    SessionAccessError,
    SessionNotFoundError,
    ThreadBusyError,
    ToolReversalError,
)
from agentgit_langgraph.history import find_thread, to_json
from agentgit_langgraph.saver import AgentGitSaver

__all__ = ["app", "make_app"]

logger = logging.getLogger(__name__)

Handler = Callable[["Api", Request], Awaitable[Any]]


_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (SessionAccessError, 403),
    (SessionNotFoundError, 404),  # ThreadNotFoundError too
    (CheckpointNotFoundError, 404),  # RefNotFoundError too
    (NameConflictError, 409),
    (ThreadBusyError, 409),
    (ToolReversalError, 409),
    (InvalidConfigError, 422),
)


def _error(exc: BaseException) -> JSONResponse:
    status = exc.status if isinstance(exc, InvalidRequestError) else 500
    for kind, code in _STATUS:
        if isinstance(exc, kind):
            status = code
            break
    if status == 500:
        logger.exception("agentgit API request failed", exc_info=exc)
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return JSONResponse({"error": type(exc).__name__, "detail": detail}, status_code=status)


def _in_langgraph_server() -> bool:
    """Whether this process is a LangGraph Agent Server (its app module is loaded)."""
    return "langgraph_api.server" in sys.modules


# -- reading a request ------------------------------------------------------------


def _int(text: str | None, what: str, *, status: int = 400) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidRequestError(
            f"{what} must be an integer, got {text!r}", status=status
        ) from None


def _flag(text: str | None, what: str) -> bool:
    """A query flag: absent, `0`/`false` or `1`/`true`."""
    if text is None or text.lower() in ("0", "false", ""):
        return False
    if text.lower() in ("1", "true"):
        return True
    raise InvalidRequestError(f"{what}: expected 1 or 0, got {text!r}")


def _session_id(request: Request) -> int:
    sid = _int(request.path_params["session_id"], "session id")
    assert sid is not None
    return sid


def _user(request: Request) -> str | None:
    fixed: str | None = request.scope.get("agentgit_user")
    if fixed is not None:  # `make_app(user=...)`: the request cannot choose another
        return fixed
    user = request.query_params.get("user_id") or request.headers.get("x-user-id")
    return user or None


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise InvalidRequestError(f"the body is not JSON: {exc}", status=400) from None
    if not isinstance(body, dict):
        raise InvalidRequestError("the body must be a JSON object")
    return body


def _field(body: Mapping[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequestError(f"{name!r} is required")
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise InvalidRequestError(f"{name!r} must be a {kind.__name__}, got {value!r}")
    return value


# -- the API ----------------------------------------------------------------------


class Api:
    """The handlers, on one saver (given, or opened from `$AGENTGIT_DB` on first use)."""

    def __init__(
        self, saver: AgentGitSaver | None, server_threads: bool | None, db: str | None = None
    ) -> None:
        self._saver = saver
        self._db = db
        self._server_threads = server_threads
        self._stack = AsyncExitStack()
        self._opening = asyncio.Lock()

    async def saver(self) -> AgentGitSaver:
        if self._saver is None:
            async with self._opening:
                if self._saver is None:
                    db = self._db or os.environ.get("AGENTGIT_DB")
                    if not db:
                        raise InvalidConfigError("set AGENTGIT_DB to the agent's database")
                    opened = AgentGitSaver.afrom_conn_string(db)
                    self._saver = await self._stack.enter_async_context(opened)
        return self._saver

    async def close(self) -> None:
        await self._stack.aclose()

    # -- reads
    async def sessions(self, request: Request) -> Any:
        return await (await self.saver()).alist_sessions(_user(request))

    async def session(self, request: Request) -> Any:
        saver = await self.saver()
        return await saver.aget_session(_session_id(request), user_id=_user(request))

    async def branches(self, request: Request) -> Any:
        saver = await self.saver()
        return await saver.abranches(_session_id(request), user_id=_user(request))

    async def tree(self, request: Request) -> Any:
        """`tree_data`; `?stats=1` adds each branch's stats (one more pass over nothing:
        the threads are read once for forks anyway)."""
        saver = await self.saver()
        stats = _flag(request.query_params.get("stats"), "stats")
        return await saver.atree_data(_session_id(request), stats=stats, user_id=_user(request))

    async def stats(self, request: Request) -> Any:
        saver = await self.saver()
        return await saver.astats(session_id=_session_id(request), user_id=_user(request))

    async def reversals(self, request: Request) -> Any:
        saver = await self.saver()
        return await saver.areversals(session_id=_session_id(request), user_id=_user(request))

    async def log(self, request: Request) -> Any:
        saver, sid, user = await self.saver(), _session_id(request), _user(request)
        limit = _int(request.query_params.get("limit"), "limit")
        ref = request.query_params.get("ref")
        target: Any = sid if not ref else await saver.aresolve(sid, ref, user_id=user)
        return await saver.alog(target, limit=limit, user_id=user)

    async def show(self, request: Request) -> Any:
        saver, sid, user = await self.saver(), _session_id(request), _user(request)
        view = await saver.ashow(request.path_params["ref"], session_id=sid, user_id=user)
        return view.to_dict()

    async def diff(self, request: Request) -> Any:
        saver, sid, user = await self.saver(), _session_id(request), _user(request)
        refs = [request.query_params.get(side) for side in ("a", "b")]
        if not all(refs):
            raise InvalidRequestError("give both refs: ?a=REF&b=REF")
        a, b = [await saver.aresolve(sid, str(ref), user_id=user) for ref in refs]
        return await saver.adiff(a, b, user_id=user)

    async def tags(self, request: Request) -> Any:
        saver = await self.saver()
        return await saver.atags(_session_id(request), user_id=_user(request))

    # -- changes
    async def tag(self, request: Request) -> Any:
        saver, sid, user = await self.saver(), _session_id(request), _user(request)
        body = await _body(request)
        ref = _field(body, "ref", str, required=True)
        name = _field(body, "name", str, required=True)
        return await saver.atag(await saver.aresolve(sid, ref, user_id=user), name, user_id=user)

    async def switch(self, request: Request) -> Any:
        saver, sid, user = await self.saver(), _session_id(request), _user(request)
        target = _field(await _body(request), "thread", str, required=True)
        # The plan itself, not `aswitch`: its warning, caught, would be process-wide,
        # and other requests run meanwhile.
        config, undone = await run_async(
            switched_plan(sid, target, user_id=user), saver.plan_targets
        )
        notes = [undone_message(config, undone)] if undone else []
        thread_id = config["configurable"]["thread_id"]
        return {"session_id": sid, "thread_id": thread_id, "config": config, "warnings": notes}

    async def rollback(self, request: Request) -> Any:
        saver, sid, user = await self.saver(), _session_id(request), _user(request)
        body = await _body(request)
        ref = _field(body, "ref", str)
        given = _field(body, "config", dict)
        if (ref is None) == (given is None):
            raise InvalidRequestError("give one of 'ref' (a ref of the session) or 'config'")
        name = _field(body, "name", str)
        intent = _field(body, "intent", str)
        reverse_tools = bool(_field(body, "reverse_tools", bool))
        source = given if ref is None else await saver.aresolve(sid, ref, user_id=user)
        source_thread = await self._thread_of_session(saver, source, sid, user)
        config = await saver.arollback(
            source, user_id=user, name=name, reverse_tools=reverse_tools, intent=intent
        )
        branch = str(config["configurable"]["thread_id"])
        info = {
            "session_id": sid,
            "thread_id": branch,
            "name": name,
            "intent": intent,
            "parent_thread_id": source_thread,
            "branch_checkpoint_id": source.get("configurable", {}).get("checkpoint_id"),
            "config": config,
        }
        info["server_thread"] = await self._register_server_thread(info)
        return info

    async def status(self, request: Request) -> Any:
        """Say what became of one of the session's branches (`set_status`)."""
        saver, sid, user = await self.saver(), _session_id(request), _user(request)
        body = await _body(request)
        thread = _field(body, "thread", str, required=True)
        status = _field(body, "status", str, required=True)
        reason = _field(body, "reason", str)
        await self._thread_of_session(saver, {"configurable": {"thread_id": thread}}, sid, user)
        return await saver.aset_status(thread, status, reason=reason, user_id=user)

    @staticmethod
    async def _thread_of_session(
        saver: AgentGitSaver, config: Mapping[str, Any], sid: int, user: str | None
    ) -> str:
        """The config's thread, once found to be one of session `sid`'s (else 404)."""
        configurable = config.get("configurable")
        if not isinstance(configurable, Mapping) or not configurable.get("thread_id"):
            raise InvalidConfigError("'config' needs configurable.thread_id and checkpoint_id")
        thread = str(configurable["thread_id"])
        threads = await saver.abranches(sid, user_id=user)
        find_thread([t for t in threads if t.thread_id == thread], thread, sid)
        return thread

    async def _register_server_thread(self, branch: Mapping[str, Any]) -> bool:
        """Inside a LangGraph server: make the branch a server thread, like its parent.

        `threads.create(thread_id=..., if_exists="do_nothing")` registers a
        thread whose checkpoints the checkpointer already holds; the parent's
        metadata (`graph_id`, `assistant_id`) lets the server read its state.
        """
        inside = self._server_threads
        if inside is None:
            inside = _in_langgraph_server()
        if not inside:
            return False
        from langgraph_sdk import get_client
        from langgraph_sdk.errors import NotFoundError

        client = get_client()
        try:
            parent = await client.threads.get(branch["parent_thread_id"])
            metadata = dict(parent.get("metadata") or {})
        except NotFoundError:  # a thread the server did not create
            metadata = {}
        metadata.update(
            agentgit_session_id=branch["session_id"],
            agentgit_parent_thread_id=branch["parent_thread_id"],
            agentgit_branch_checkpoint_id=branch["branch_checkpoint_id"],
        )
        if branch["name"]:
            metadata["agentgit_branch_name"] = branch["name"]
        await client.threads.create(
            thread_id=branch["thread_id"], if_exists="do_nothing", metadata=metadata
        )
        return True


_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/agentgit/sessions", Api.sessions),
    ("GET", "/agentgit/sessions/{session_id}", Api.session),
    ("GET", "/agentgit/sessions/{session_id}/branches", Api.branches),
    ("GET", "/agentgit/sessions/{session_id}/tree", Api.tree),
    ("GET", "/agentgit/sessions/{session_id}/stats", Api.stats),
    ("GET", "/agentgit/sessions/{session_id}/reversals", Api.reversals),
    ("GET", "/agentgit/sessions/{session_id}/log", Api.log),
    ("GET", "/agentgit/sessions/{session_id}/checkpoints/{ref:path}", Api.show),
    ("GET", "/agentgit/sessions/{session_id}/diff", Api.diff),
    ("GET", "/agentgit/sessions/{session_id}/tags", Api.tags),
    ("POST", "/agentgit/sessions/{session_id}/tags", Api.tag),
    ("POST", "/agentgit/sessions/{session_id}/rollback", Api.rollback),
    ("POST", "/agentgit/sessions/{session_id}/switch", Api.switch),
    ("POST", "/agentgit/sessions/{session_id}/status", Api.status),
)


@dataclass(frozen=True)
class _Guard:
    """Who may change what through the app (`make_app`'s `user`, `read_only`, `write_token`)."""

    user: str | None = None
    read_only: bool = False
    write_token: str | None = None

    def check(self, request: Request) -> None:
        if self.user is not None:
            request.scope["agentgit_user"] = self.user
        if request.method in ("GET", "HEAD"):
            return
        if self.read_only:
            raise InvalidRequestError(
                "this server is read-only: start `agentgit ui` with --write to change sessions",
                status=403,
            )
        if self.write_token is not None:
            given = request.headers.get("x-agentgit-token", "")
            if not hmac.compare_digest(given.encode(), self.write_token.encode()):
                raise InvalidRequestError(
                    "a write needs this server's token in the X-Agentgit-Token header",
                    status=403,
                )


def _endpoint(
    api: Api, handler: Handler, guard: _Guard
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        try:
            guard.check(request)
            result = await handler(api, request)
        except Exception as exc:
            return _error(exc)
        return JSONResponse(to_json(result))

    return endpoint


def make_app(
    saver: AgentGitSaver | None = None,
    *,
    server_threads: bool | None = None,
    db: str | None = None,
    user: str | None = None,
    read_only: bool = False,
    write_token: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Starlette:
    """The API and the web viewer as a Starlette app, on `saver` (None: opened
    from `db`, else `$AGENTGIT_DB`, when needed).

    `server_threads`: register each rollback's branch as a LangGraph server
    thread (None: when running inside a LangGraph server). `user`: the acting
    user of every request (None: the request's `user_id` / `X-User-Id`).
    `read_only`: every POST answers 403. `write_token`: every POST needs it in
    the `X-Agentgit-Token` header, and the viewer's pages (`/agentgit/ui/`)
    get it and show their write controls (without it they only read).
    `allowed_hosts`: answer only requests for these `Host` names (a page of
    another site resolving its name to 127.0.0.1 cannot reach the server).

    Example:
        ```python
        async with AgentGitSaver.afrom_conn_string("agent.db") as saver:
            app = make_app(saver)   # serve it with uvicorn, or test it with httpx
        ```
    """
    from agentgit_langgraph.ui import ui_routes

    api = Api(saver, server_threads, db)
    guard = _Guard(user, read_only, write_token)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await api.close()

    routes: list[BaseRoute] = [
        Route(path, _endpoint(api, handler, guard), methods=[method])
        for method, path, handler in _ROUTES
    ]
    routes += ui_routes(write_token=None if read_only else write_token)
    middleware = []
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)


app = make_app()
"""The API on `$AGENTGIT_DB`, opened on the first request (mount it: `"http": {"app": ...}`)."""
