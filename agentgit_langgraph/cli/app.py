"""The `agentgit` app: global options, opening the database, output and errors.

Every command (`reading.py`, `changing.py`) hands a `work(saver, state)`
function to `run`, which opens the database (`open_saver`: as the agent does
with `AgentGitSaver.from_conn_string`, or, for a command that only reads,
without creating or migrating any table), calls it, and turns every failure
into one `error:` line and exit code 1; `show` prints a result as a table/text or, with
`--json`, as JSON.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from agentgit_langgraph.backends import is_postgres_uri, open_sync
from agentgit_langgraph.errors import AgentGitError
from agentgit_langgraph.history import to_json
from agentgit_langgraph.saver import AgentGitSaver
from agentgit_langgraph.stores.memory import InMemorySessionStore
from agentgit_langgraph.stores.transactions import BlockingSqlStore

__all__ = [
    "CliError",
    "JsonOption",
    "SessionArg",
    "State",
    "app",
    "fmt_time",
    "main",
    "new_table",
    "open_saver",
    "parse_int",
    "print_json",
    "print_table",
    "run",
    "show",
    "show_rows",
    "state_of",
    "want_json",
]

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
class State:
    db: str | None
    user: str | None
    """An owner key: `--user 7` is int user 7 (see `_validate.owner_key`)."""
    json: bool


class CliError(Exception):
    """A failure the CLI reports as one `error:` line with exit code 1."""


def state_of(ctx: typer.Context) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    return state


def new_table(*columns: str) -> Table:
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


def print_table(table: Table) -> None:
    """A table on a terminal as rich draws it; piped, never wrapped, no trailing blanks."""
    out = Console()
    if out.is_terminal:
        out.print(table)
        return
    wide = Console(width=10_000, no_color=True, highlight=False)
    with wide.capture() as captured:
        wide.print(table)
    typer.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def print_json(value: Any) -> None:
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
        raise CliError(f"no SQLite database at {db!r}: the file does not exist")
    if not path.is_file():
        raise CliError(f"no SQLite database at {db!r}: not a file")
    return db


@contextmanager
def open_saver(db: str, *, read_only: bool) -> Iterator[AgentGitSaver]:
    """The saver on `db`; `read_only`: without creating, migrating or repairing anything.

    A command that changes sessions opens it as the agent does
    (`from_conn_string`: tables set up, dead operations finished). A read
    uses the agentgit tables as they are, and an empty session store in
    memory when there are none yet (a database only LangGraph wrote).
    """
    if not read_only:
        with AgentGitSaver.from_conn_string(db) as saver:
            yield saver
        return
    with open_sync(db, set_up_store=False) as (inner, store):
        if not (isinstance(store, BlockingSqlStore) and store.use_existing_tables()):
            store = InMemorySessionStore()
        yield AgentGitSaver(inner, store, auto_session=False)


def run(
    ctx: typer.Context, work: Callable[[AgentGitSaver, State], T], *, read_only: bool = False
) -> T:
    """Open the database, run `work`, and turn every failure into exit code 1.

    `read_only`: `work` only reads; the database's schema is left as it is.
    """
    state = state_of(ctx)
    try:
        db = _check_db(state.db)
        with open_saver(db, read_only=read_only) as saver:
            return work(saver, state)
    except (typer.Exit, typer.Abort, typer.BadParameter):
        raise
    except CliError as exc:
        raise _fail(str(exc)) from None
    except AgentGitError as exc:
        raise _fail(_one_line(exc)) from None
    except sqlite3.Error as exc:
        raise _fail(f"SQLite database {state.db!r}: {_one_line(exc)}") from None
    except BrokenPipeError:  # `agentgit log 1 | head`
        raise typer.Exit(0) from None
    except Exception as exc:  # psycopg errors, OSError, ...: still one line, no traceback
        raise _fail(f"{type(exc).__name__}: {_one_line(exc)}") from None


def fmt_time(value: datetime | None) -> str:
    """Local time to the second (every stored time is aware UTC)."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%Y-%m-%d %H:%M:%S")


# -- resolving what the user typed -----------------------------------------------
# Refs (`resolve`) and threads (`find_thread`) are resolved by `history.refs`:
# the CLI only splits `SESSION:REF` and parses ids.


def parse_int(text: str) -> int | None:
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
    ctx.obj = State(db=db, user=user, json=json_)


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]
SessionArg = Annotated[int, typer.Argument(metavar="SESSION", help="A session id.")]


def want_json(ctx: typer.Context, json_: bool) -> bool:
    return json_ or state_of(ctx).json


def show_rows(
    ctx: typer.Context,
    json_: bool,
    data: Any,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    empty: str | None = None,
) -> None:
    """`data` as JSON with `--json`, else a table of `rows` (`new_table` column specs;
    `empty` instead, when given and there are no rows)."""
    if want_json(ctx, json_):
        print_json(data)
        return
    table = new_table(*columns)
    for row in rows:
        table.add_row(*row)
    if empty is not None and not table.row_count:
        typer.echo(empty)
        return
    print_table(table)


def show(ctx: typer.Context, json_: bool, data: Any, text: Callable[[], str]) -> None:
    """`data` as JSON with `--json`, else the line(s) `text()` gives."""
    if want_json(ctx, json_):
        print_json(data)
    else:
        typer.echo(text().rstrip("\n"))


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
