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
from rich.text import Text

from agentgit_langgraph import __version__
from agentgit_langgraph.backends import is_postgres_uri, open_sync
from agentgit_langgraph.errors import AgentGitError
from agentgit_langgraph.history import to_json
from agentgit_langgraph.history.tree import MIN_ABBREV, MIN_CHECKPOINT_ABBREV, abbreviations
from agentgit_langgraph.saver import AgentGitSaver
from agentgit_langgraph.stores.memory import InMemorySessionStore
from agentgit_langgraph.stores.transactions import BlockingSqlStore

__all__ = [
    "CURRENT_STYLE",
    "CliError",
    "FullOption",
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
    "short_ids",
    "show",
    "show_rows",
    "state_of",
    "want_full",
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
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# -- state, output and errors --------------------------------------------------


@dataclass
class State:
    db: str | None
    user: str | None
    """An owner key: `--user 7` is int user 7 (see `_validate.owner_key`)."""
    json: bool
    full: bool = False
    """`--full`: whole ids in tables instead of short unique prefixes."""


class CliError(Exception):
    """A failure the CLI reports as one `error:` line with exit code 1."""


def state_of(ctx: typer.Context) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    return state


def new_table(*columns: str, rows: Sequence[Sequence[str]] = (), width: int | None = None) -> Table:
    """A borderless table. Column specs: `name` (an id or name: folds past 24
    characters when there is a `width` to fit), `name:n` (a number,
    right-aligned), `name:fixed` (never cut), `name:text` (free text: cut with
    `…` so that the table fits `width`).

    Every column but the text one is as wide as its widest cell in `rows`, so
    ids are never cut or wrapped; the text column takes what is left.
    """
    table = Table(box=None, header_style="bold", pad_edge=False)
    natural = [
        max([len(spec.partition(":")[0]), *(len(Text.from_markup(r[i]).plain) for r in rows)])
        for i, spec in enumerate(columns)
    ]
    fixed = sum(w for spec, w in zip(columns, natural, strict=True) if not spec.endswith(":text"))
    rest = None if width is None else max(12, width - fixed - 2 * (len(columns) - 1))
    for spec, natural_width in zip(columns, natural, strict=True):
        name, _, kind = spec.partition(":")
        if kind in ("n", "fixed"):
            justify: Literal["left", "right"] = "right" if kind == "n" else "left"
            table.add_column(name, justify=justify, no_wrap=True, width=natural_width)
        elif kind == "text":
            table.add_column(name, overflow="ellipsis", no_wrap=True, max_width=rest)
        else:
            cap = natural_width if width is None else min(natural_width, 24)
            table.add_column(name, overflow="fold", width=cap)
    return table


def table_width() -> int | None:
    """The width tables must fit: the terminal's; piped, `COLUMNS` if set, else none."""
    if Console().is_terminal:
        return Console().width
    return parse_int(os.environ.get("COLUMNS", ""))


def print_table(table: Table, *, full: bool = False) -> None:
    """A table on a terminal as rich draws it; piped (or `full`: whole ids asked
    for), not cut to a width unless `COLUMNS` is set; no trailing blanks."""
    out = Console()
    if out.is_terminal and not full:
        out.print(table)
        return
    width = None if full else table_width()
    wide = Console(width=width or 10_000, no_color=not out.is_terminal, highlight=False)
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


def fmt_time(value: datetime | None, full: bool = True) -> str:
    """Local time to the second (every stored time is aware UTC); short: to the minute,
    without the year."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%Y-%m-%d %H:%M:%S" if full else "%m-%d %H:%M")


CURRENT_STYLE = "bold green"
"""The current thread's row (and `*` mark) in every table."""


def short_ids(
    ids: Iterable[str | None], full: bool, *, checkpoints: bool = False
) -> dict[str, str]:
    """What a table shows for each id: git-style unique prefixes of at least 8
    characters (`…` marks a cut; generated UUIDs only), or the ids as they are
    with `--full`. Every short form is a ref the resolver accepts.

    `checkpoints`: at least 18, as `tree` prints them: LangGraph's checkpoint
    ids start with a timestamp, so the checkpoints of one session share
    their first 8 characters (and a table shows only some of them).
    """
    given = [i for i in ids if i]
    if full:
        return {i: i for i in given}
    return abbreviations(given, MIN_CHECKPOINT_ABBREV if checkpoints else MIN_ABBREV)


# -- resolving what the user typed -----------------------------------------------
# Refs (`resolve`) and threads (`find_thread`) are resolved by `history.refs`:
# the CLI only splits `SESSION:REF` and parses ids.


def parse_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# -- the app -----------------------------------------------------------------------


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"agentgit {__version__}")
        raise typer.Exit()


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
    full: Annotated[
        bool, typer.Option("--full", help="Show whole ids instead of short unique prefixes.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Git-style sessions and branches of LangGraph agents.

    Ids are shown short (8+ characters, unique in the session; --full for whole
    ones); every command accepts a short id, a branch name or a tag as a ref.
    """
    # The connection pool logs each failed attempt; the one `error:` line is enough.
    logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())
    logging.getLogger("psycopg.pool").propagate = False
    ctx.obj = State(db=db, user=user, json=json_, full=full)


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]
FullOption = Annotated[
    bool, typer.Option("--full", help="Show whole ids instead of short unique prefixes.")
]
SessionArg = Annotated[int, typer.Argument(metavar="SESSION", help="A session id.")]


def want_json(ctx: typer.Context, json_: bool) -> bool:
    return json_ or state_of(ctx).json


def want_full(ctx: typer.Context, full: bool) -> bool:
    return full or state_of(ctx).full


def show_rows(
    ctx: typer.Context,
    json_: bool,
    data: Any,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    empty: str | None = None,
    current: Callable[[int], bool] | None = None,
    full: bool = False,
) -> None:
    """`data` as JSON with `--json`, else a table of `rows` (`new_table` column specs;
    `empty` instead, when given and there are no rows). `current(i)`: row `i` is
    the current thread's, drawn in `CURRENT_STYLE`. `full`: whole ids, so the
    table is as wide as they need."""
    if want_json(ctx, json_):
        print_json(data)
        return
    rows = [list(row) for row in rows]
    table = new_table(*columns, rows=rows, width=None if full else table_width())
    for i, row in enumerate(rows):
        table.add_row(*row, style=CURRENT_STYLE if current and current(i) else None)
    if empty is not None and not table.row_count:
        typer.echo(empty)
        return
    print_table(table, full=full)


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
