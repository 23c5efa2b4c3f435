"""`agentgit`: inspect and steer the sessions of an agent from the shell.

The command line opens the same database the agent uses (a SQLite file or a
`postgresql://` URI, from `--db` or `AGENTGIT_DB`) through
`AgentGitSaver.from_conn_string` and calls the saver's methods: every command
is a thin layer over the Python API, so what it prints is what the API returns.

Example:
    ```bash
    export AGENTGIT_DB=agent.db
    agentgit sessions                       # every session, one row each
    agentgit tree 1                         # session 1's branches as a tree
    agentgit log 1 --limit 5                # its current branch, newest first
    agentgit rollback 1 before-booking --name retry  # a new branch at a tag
    agentgit --json branches 1 | jq .       # any read command as JSON
    ```

Exit codes: 0 on success, 1 when the operation failed (an `AgentGitError`, a
database that cannot be opened; one `error: ...` line on stderr, no
traceback), 2 for usage errors.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentgit_langgraph.backends import is_postgres_uri
from agentgit_langgraph.errors import AgentGitError
from agentgit_langgraph.history import LogEntry, find_thread, to_json
from agentgit_langgraph.saver import AgentGitSaver

__all__ = ["app", "main"]

T = TypeVar("T")

app = typer.Typer(
    name="agentgit",
    help="Git-style sessions and branches of LangGraph agents: list, inspect, tag, "
    "roll back, switch and delete.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# -- state, output and errors --------------------------------------------------


@dataclass
class _State:
    db: str | None
    user: str | None
    """An owner key: `--user 7` is int user 7 (see `_validate.owner_key`)."""
    json: bool


class _CliError(Exception):
    """A failure the CLI reports as one `error:` line with exit code 1."""


def _state(ctx: typer.Context) -> _State:
    state = ctx.find_root().obj
    assert isinstance(state, _State)
    return state


def _table(*columns: str) -> Table:
    """A borderless table. Column specs: `name` (an id or name: folds when the
    terminal is narrow), `name:n` (a number, right-aligned, never shrunk),
    `name:fixed` (never shrunk), `name:text` (free text: wraps first)."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for spec in columns:
        name, _, kind = spec.partition(":")
        if kind in ("n", "fixed"):
            justify: Literal["left", "right"] = "right" if kind == "n" else "left"
            table.add_column(name, justify=justify, no_wrap=True, min_width=len(name))
        elif kind == "text":
            table.add_column(name, overflow="fold", ratio=2, min_width=12)
        else:
            table.add_column(name, overflow="fold", ratio=1, min_width=min(len(name), 8))
    return table


def _print_table(table: Table) -> None:
    """A table on a terminal as rich draws it; piped, never wrapped, no trailing blanks."""
    out = Console()
    if out.is_terminal:
        out.print(table)
        return
    wide = Console(width=10_000, no_color=True, highlight=False)
    with wide.capture() as captured:
        wide.print(table)
    typer.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(to_json(value), indent=2, ensure_ascii=False))


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _check_db(db: str | None) -> str:
    if not db:
        raise typer.BadParameter(
            "no database given: pass --db PATH_OR_URI or set AGENTGIT_DB", param_hint="'--db'"
        )
    if is_postgres_uri(db) or db == ":memory:":
        return db
    path = Path(db)
    if not path.exists():
        # Opening it would create an empty database; there is nothing to inspect.
        raise _CliError(f"no SQLite database at {db!r}: the file does not exist")
    if not path.is_file():
        raise _CliError(f"no SQLite database at {db!r}: not a file")
    return db


def _run(ctx: typer.Context, work: Callable[[AgentGitSaver, _State], T]) -> T:
    """Open the database, run `work`, and turn every failure into exit code 1."""
    state = _state(ctx)
    try:
        db = _check_db(state.db)
        with AgentGitSaver.from_conn_string(db) as saver:
            return work(saver, state)
    except (typer.Exit, typer.Abort, typer.BadParameter):
        raise
    except _CliError as exc:
        raise _fail(str(exc)) from None
    except AgentGitError as exc:
        raise _fail(_one_line(exc)) from None
    except sqlite3.Error as exc:
        raise _fail(f"SQLite database {state.db!r}: {_one_line(exc)}") from None
    except BrokenPipeError:  # `agentgit log 1 | head`
        raise typer.Exit(0) from None
    except Exception as exc:  # psycopg errors, OSError, ...: still one line, no traceback
        raise _fail(f"{type(exc).__name__}: {_one_line(exc)}") from None


def _fmt_time(value: datetime | None) -> str:
    """Local time to the second (every stored time is aware UTC)."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%Y-%m-%d %H:%M:%S")


# -- resolving what the user typed -----------------------------------------------
# Refs (`resolve`) and threads (`find_thread`) are resolved by `history.refs`:
# the CLI only splits `SESSION:REF` and parses ids.


def _parse_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# -- the app -----------------------------------------------------------------------


@app.callback()
def _main(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="AGENTGIT_DB",
            metavar="URL",
            help="SQLite file or postgresql:// URI of the agent's database "
            "(default: $AGENTGIT_DB).",
            show_envvar=False,
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            metavar="ID",
            help="Act as this user (an int id or a string such as an email): list only "
            "their sessions; refuse sessions they do not own.",
        ),
    ] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
    ] = False,
) -> None:
    """Git-style sessions and branches of LangGraph agents."""
    # The connection pool logs each failed attempt; the one `error:` line is enough.
    logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())
    logging.getLogger("psycopg.pool").propagate = False
    ctx.obj = _State(db=db, user=user, json=json_)


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]
SessionArg = Annotated[int, typer.Argument(metavar="SESSION", help="A session id.")]


def _want_json(ctx: typer.Context, json_: bool) -> bool:
    return json_ or _state(ctx).json


@app.command("sessions")
def sessions_cmd(ctx: typer.Context, json_: JsonOption = False) -> None:
    """List sessions (only those of --user when given)."""

    def work(saver: AgentGitSaver, state: _State) -> None:
        sessions = saver.list_sessions(state.user)
        if _want_json(ctx, json_):
            _print_json([s.to_dict() for s in sessions])
            return
        table = _table(
            "id:n",
            "name",
            "user",
            "threads:n",
            "branches:n",
            "checkpoints:n",
            "current",
            "updated:fixed",
        )
        for s in sessions:
            table.add_row(
                str(s.id),
                escape(s.session_name),
                escape(s.owner),
                str(len(s.internal_session_ids)),
                str(s.branch_count),
                str(s.total_checkpoints),
                escape(s.current_internal_session_id or "-"),
                _fmt_time(s.updated_at),
            )
        if not sessions:
            typer.echo("no sessions")
            return
        _print_table(table)

    _run(ctx, work)


@app.command("branches")
def branches_cmd(ctx: typer.Context, session: SessionArg, json_: JsonOption = False) -> None:
    """List the threads of a session: its first thread and every branch."""

    def work(saver: AgentGitSaver, state: _State) -> None:
        threads = saver.branches(session, user_id=state.user)
        if _want_json(ctx, json_):
            _print_json(threads)
            return
        table = _table(
            ":fixed",
            "thread",
            "name",
            "parent",
            "from checkpoint",
            "checkpoints:n",
            "created:fixed",
        )
        for t in threads:
            table.add_row(
                "*" if t.is_current else "",
                escape(t.thread_id),
                escape(t.name or "-"),
                escape(t.parent_thread_id or "-"),
                escape(t.branch_checkpoint_id or "-"),
                str(t.checkpoint_count),
                _fmt_time(t.created_at),
            )
        _print_table(table)

    _run(ctx, work)


def _log_target(saver: AgentGitSaver, target: str, user_id: str | None) -> Any:
    """What `log` reads: a session id, `SESSION:REF`, or a thread id."""
    session_id = _parse_int(target)
    if session_id is not None:
        return session_id
    head, sep, ref = target.partition(":")
    if sep and _parse_int(head) is not None and ref:
        return saver.resolve(int(head), ref, user_id=user_id)
    return {"configurable": {"thread_id": target}}


@app.command("log")
def log_cmd(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="REF_OR_SESSION",
            help="A session id (its current branch), SESSION:REF, or a thread id.",
        ),
    ],
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", min=1, help="Show at most N checkpoints."),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Show the checkpoints of a branch, newest first."""

    def work(saver: AgentGitSaver, state: _State) -> None:
        entries = saver.log(_log_target(saver, target, state.user), limit=limit, user_id=state.user)
        if _want_json(ctx, json_):
            _print_json(entries)
            return
        _print_log(entries)

    _run(ctx, work)


def _print_log(entries: Sequence[LogEntry]) -> None:
    if not entries:
        typer.echo("no checkpoints")
        return
    table = _table(
        "checkpoint", "thread", "step:n", "source:fixed", "created:fixed", "tags", "preview:text"
    )
    for e in entries:
        table.add_row(
            escape(e.checkpoint_id),
            escape(e.thread_id),
            "-" if e.step is None else str(e.step),
            escape(e.source or "-"),
            _fmt_time(e.created_at),
            escape(", ".join(e.tags) or "-"),
            escape(e.preview),
        )
    _print_table(table)


@app.command("tree")
def tree_cmd(
    ctx: typer.Context,
    session: SessionArg,
    mermaid: Annotated[
        bool, typer.Option("--mermaid", help="Print a Mermaid gitGraph/flowchart instead.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Draw a session's branches as a tree (or as Mermaid)."""

    def work(saver: AgentGitSaver, state: _State) -> None:
        want_json = _want_json(ctx, json_)
        if mermaid:
            text = saver.mermaid(session, user_id=state.user)
            if want_json:
                _print_json({"session_id": session, "mermaid": text})
            else:
                typer.echo(text.rstrip("\n"))
            return
        if want_json:
            _print_json(saver.tree_data(session, user_id=state.user))
            return
        typer.echo(saver.tree(session, user_id=state.user).rstrip("\n"))

    _run(ctx, work)


@app.command("diff")
def diff_cmd(
    ctx: typer.Context,
    session: SessionArg,
    ref_a: Annotated[str, typer.Argument(metavar="REF_A", help="The old side.")],
    ref_b: Annotated[str, typer.Argument(metavar="REF_B", help="The new side.")],
    json_: JsonOption = False,
) -> None:
    """Compare the state at two refs of a session."""

    def work(saver: AgentGitSaver, state: _State) -> None:
        a = saver.resolve(session, ref_a, user_id=state.user)
        b = saver.resolve(session, ref_b, user_id=state.user)
        result = saver.diff(a, b, user_id=state.user)
        if _want_json(ctx, json_):
            _print_json(result.to_dict())
            return
        typer.echo(result.render().rstrip("\n"))

    _run(ctx, work)


@app.command("tags")
def tags_cmd(ctx: typer.Context, session: SessionArg, json_: JsonOption = False) -> None:
    """List a session's tags."""

    def work(saver: AgentGitSaver, state: _State) -> None:
        tags = saver.tags(session, user_id=state.user)
        if _want_json(ctx, json_):
            _print_json(tags)
            return
        if not tags:
            typer.echo("no tags")
            return
        table = _table("tag", "thread", "checkpoint", "created:fixed")
        for t in tags:
            table.add_row(
                escape(t.name),
                escape(t.thread_id),
                escape(t.checkpoint_id),
                _fmt_time(t.created_at),
            )
        _print_table(table)

    _run(ctx, work)


@app.command("tag")
def tag_cmd(
    ctx: typer.Context,
    session: SessionArg,
    ref: Annotated[str, typer.Argument(metavar="REF", help="The checkpoint to name.")],
    name: Annotated[str, typer.Argument(metavar="NAME", help="The tag's name.")],
    json_: JsonOption = False,
) -> None:
    """Name a checkpoint of a session."""

    def work(saver: AgentGitSaver, state: _State) -> None:
        config = saver.resolve(session, ref, user_id=state.user)
        tag = saver.tag(config, name, user_id=state.user)
        if _want_json(ctx, json_):
            _print_json(tag)
            return
        typer.echo(f"tagged {tag.thread_id}@{tag.checkpoint_id} as {tag.name!r}")

    _run(ctx, work)


@app.command("untag")
def untag_cmd(
    ctx: typer.Context,
    session: SessionArg,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The tag to remove.")],
    json_: JsonOption = False,
) -> None:
    """Remove a tag (the checkpoint stays)."""

    def work(saver: AgentGitSaver, state: _State) -> None:
        if not saver.untag(session, name, user_id=state.user):
            raise _CliError(f"session {session} has no tag {name!r}")
        if _want_json(ctx, json_):
            _print_json({"session_id": session, "removed": name})
            return
        typer.echo(f"removed tag {name!r} from session {session}")

    _run(ctx, work)


def _thread_of(config: Any) -> str:
    return str(config["configurable"]["thread_id"])


@app.command("rollback")
def rollback_cmd(
    ctx: typer.Context,
    session: SessionArg,
    ref: Annotated[str, typer.Argument(metavar="REF", help="The checkpoint to start from.")],
    name: Annotated[str | None, typer.Option("--name", help="A name for the new branch.")] = None,
    json_: JsonOption = False,
) -> None:
    """Open a new branch starting at REF; it becomes the session's current thread."""

    def work(saver: AgentGitSaver, state: _State) -> None:
        source = saver.resolve(session, ref, user_id=state.user)
        config = saver.rollback(source, user_id=state.user, name=name)
        thread_id = _thread_of(config)
        if _want_json(ctx, json_):
            configurable = source.get("configurable", {})
            _print_json(
                {
                    "session_id": session,
                    "thread_id": thread_id,
                    "name": name,
                    "parent_thread_id": configurable.get("thread_id"),
                    "branch_checkpoint_id": configurable.get("checkpoint_id"),
                    "config": config,
                }
            )
            return
        label = f" ({name})" if name else ""
        typer.echo(f"new branch {thread_id}{label} of session {session}, now current")

    _run(ctx, work)


@app.command("switch")
def switch_cmd(
    ctx: typer.Context,
    session: SessionArg,
    target: Annotated[
        str,
        typer.Argument(
            metavar="THREAD_OR_BRANCH_NAME",
            help="A thread id (or a unique prefix of one) or a branch name.",
        ),
    ],
    json_: JsonOption = False,
) -> None:
    """Make one of a session's threads current."""

    def work(saver: AgentGitSaver, state: _State) -> None:
        # The same rules as `resolve` (names, ids, `main`, prefixes), for a thread.
        thread = find_thread(saver.branches(session, user_id=state.user), target, session)
        config = saver.switch(session, thread.thread_id, user_id=state.user)
        if _want_json(ctx, json_):
            _print_json({"session_id": session, "thread_id": _thread_of(config), "config": config})
            return
        label = f" ({thread.name})" if thread.name else ""
        typer.echo(f"session {session} now on {thread.thread_id}{label}")

    _run(ctx, work)


@app.command("delete")
def delete_cmd(
    ctx: typer.Context,
    session: SessionArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_: JsonOption = False,
) -> None:
    """Delete a session: its record, every thread's checkpoints, its tags."""

    def work(saver: AgentGitSaver, state: _State) -> None:
        found = saver.get_session(session, user_id=state.user)
        if not yes:
            n_threads = len(found.internal_session_ids)
            question = (
                f"Delete session {session} ({found.session_name!r}, {n_threads} thread(s), "
                f"{found.total_checkpoints} checkpoint(s))? This cannot be undone."
            )
            try:
                confirmed = typer.confirm(question, default=False, err=True)
            except typer.Abort:  # no answer: stdin closed
                confirmed = False
            if not sys.stdin.isatty():  # a piped answer is not echoed: end the prompt's line
                typer.echo("", err=True)
            if not confirmed:
                raise _CliError("not deleted (pass --yes to skip the question)")
        threads = saver.delete_session(session, user_id=state.user)
        if _want_json(ctx, json_):
            _print_json({"deleted": found.to_dict(), "deleted_threads": threads})
            return
        count = len(threads)
        typer.echo(f"deleted session {session} and its {count} thread{'' if count == 1 else 's'}")

    _run(ctx, work)


@app.command("fsck")
def fsck_cmd(
    ctx: typer.Context,
    repair: Annotated[
        bool, typer.Option("--repair", help="Repair what is found (default: only report).")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Check that sessions and checkpoints agree; exit 1 if anything is left broken.

    Reads the whole history once. With --repair: finishes deletes and removes
    the threads of dead rollbacks, adopts checkpoints no session holds, sets
    counts to what is stored, drops empty branches.
    """

    def work(saver: AgentGitSaver, state: _State) -> None:
        if state.user is not None:
            raise _CliError(
                f"user {state.user} does not own every session, and fsck checks them all: "
                "run it without --user"
            )
        report = saver.fsck(repair=repair)
        if _want_json(ctx, json_):
            _print_json(report)
        else:
            typer.echo(str(report))
        if not report.clean:
            raise typer.Exit(1)

    _run(ctx, work)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `agentgit` script and of `python -m agentgit_langgraph`."""
    # An unreachable PostgreSQL host fails after 10 s instead of hanging (libpq
    # honours PGCONNECT_TIMEOUT; a value the user set wins).
    os.environ.setdefault("PGCONNECT_TIMEOUT", "10")
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(args=args, prog_name="agentgit")
    finally:
        try:  # `agentgit log 1 | head`: the reader left; not an error worth a traceback
            sys.stdout.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    main()
