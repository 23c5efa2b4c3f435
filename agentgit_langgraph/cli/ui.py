"""`agentgit ui`: the web viewer of the sessions (`agentgit_langgraph.ui`)."""

from __future__ import annotations

from typing import Annotated

import typer

from agentgit_langgraph.cli.app import CliError, _check_db, _fail, app, state_of


@app.command("ui")
def ui_cmd(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help="SQLite file or postgresql:// URI (default: the global --db).",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    user: Annotated[
        str | None,
        typer.Option("--user", metavar="ID", help="Show only this user's sessions."),
    ] = None,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Allow rollback, switch and tag from the pages (each write needs this "
            "run's token, which only the served pages get).",
        ),
    ] = False,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser.")
    ] = False,
) -> None:
    """Browse sessions and their branch graphs in a web page.

    Pages: sessions, a session's branch graph, a branch's conversation, a
    checkpoint, and the diff of two checkpoints; with --write, rollback,
    switch and tag from the page.
    """
    state = state_of(ctx)
    try:
        from agentgit_langgraph.ui.serve import serve

        checked = _check_db(db or state.db)
    except ImportError as exc:
        raise _fail(
            f"the viewer needs the server extra: pip install -e '.[server]' in a clone ({exc})"
        ) from None
    except CliError as exc:
        raise _fail(str(exc)) from None
    serve(
        checked,
        host=host,
        port=port,
        user=user if user is not None else state.user,
        write=write,
        open_browser=not no_browser,
    )
