"""The commands that only read: `sessions`, `threads`, `branches`, `log`, `tree`, `diff`, `tags`.

Each runs with `read_only=True`: it never creates or migrates a table (`open_saver`).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from agentgit_langgraph.cli.app import (
    FullOption,
    JsonOption,
    SessionArg,
    State,
    app,
    fmt_time,
    parse_int,
    print_json,
    run,
    short_ids,
    show,
    show_rows,
    want_full,
    want_json,
)
from agentgit_langgraph.history.stats import BranchStats, SessionStats
from agentgit_langgraph.saver import AgentGitSaver
from agentgit_langgraph.sessions import InternalSession


@app.command("sessions")
def sessions_cmd(ctx: typer.Context, json_: JsonOption = False, full: FullOption = False) -> None:
    """List sessions (only those of --user when given)."""

    def work(saver: AgentGitSaver, state: State) -> None:
        sessions = saver.list_sessions(state.user)
        wide = want_full(ctx, full)
        short = short_ids((s.current_internal_session_id for s in sessions), wide)
        columns = ("id:n", "name", "user", "threads:n", "branches:n", "checkpoints:n", "current")
        rows = (
            (
                str(s.id),
                escape(s.session_name),
                escape(s.owner),
                str(len(s.internal_session_ids)),
                str(s.branch_count),
                str(s.total_checkpoints),
                escape(short.get(s.current_internal_session_id or "", "-")),
                fmt_time(s.updated_at, wide),
            )
            for s in sessions
        )
        show_rows(
            ctx, json_, sessions, (*columns, "updated:fixed"), rows, empty="no sessions", full=wide
        )

    run(ctx, work, read_only=True)


@app.command("threads")
def threads_cmd(ctx: typer.Context, json_: JsonOption = False, full: FullOption = False) -> None:
    """List the saver's threads and their sessions.

    "none": no session holds the thread (see `adopt`).
    """

    def work(saver: AgentGitSaver, state: State) -> None:
        threads = saver.threads(user_id=state.user)
        short = short_ids((t.thread_id for t in threads), want_full(ctx, full))
        rows = (
            (
                escape(short[t.thread_id]),
                str(t.checkpoint_count),
                "none" if t.session_id is None else str(t.session_id),
            )
            for t in threads
        )
        columns = ("thread", "checkpoints:n", "session:fixed")
        show_rows(ctx, json_, threads, columns, rows, empty="no threads", full=want_full(ctx, full))

    run(ctx, work, read_only=True)


StatsOption = Annotated[
    bool, typer.Option("--stats", help="Add each branch's model calls, tokens, tool calls.")
]


@app.command("branches")
def branches_cmd(
    ctx: typer.Context,
    session: SessionArg,
    stats: StatsOption = False,
    json_: JsonOption = False,
    full: FullOption = False,
) -> None:
    """List a session's threads (* = current)."""

    def work(saver: AgentGitSaver, state: State) -> None:
        threads = saver.branches(session, user_id=state.user)
        if stats:
            show_stats(ctx, json_, saver.stats(session_id=session, user_id=state.user))
            return
        wide = want_full(ctx, full)
        short = short_ids((t.thread_id for t in threads), wide)
        points = short_ids((t.branch_checkpoint_id for t in threads), wide, checkpoints=True)
        columns: tuple[str, ...] = (":fixed", "thread", "name", "parent", "from checkpoint")
        # When is in --json and --full: at 80 columns, what became of a branch matters more.
        columns += ("checkpoints:n", *(("created:fixed",) if wide else ()), "status · intent:text")
        rows = (
            (
                "*" if t.is_current else "",
                escape(short[t.thread_id]),
                escape(t.name or ("main" if t.parent_thread_id is None else "-")),
                escape(short.get(t.parent_thread_id or "", t.parent_thread_id or "-")),
                escape(points.get(t.branch_checkpoint_id or "", "-")),
                str(t.checkpoint_count),
                *((fmt_time(t.created_at, wide),) if wide else ()),
                escape(_status_text(t)),
            )
            for t in threads
        )
        show_rows(
            ctx,
            json_,
            threads,
            columns,
            rows,
            current=lambda i: threads[i].is_current,
            full=wide,
        )

    run(ctx, work, read_only=True)


def _row(b: BranchStats) -> tuple[str, ...]:
    tools = ", ".join(f"{name} {n}" for name, n in b.tool_calls.items())
    return (
        escape(b.thread_id or "total"),
        str(b.checkpoints),
        str(b.steps),
        str(b.model_calls),
        str(b.input_tokens),
        str(b.output_tokens),
        str(b.total_tokens),
        escape(tools or "-"),
        f"{b.wall_time_s:.1f}",
    )


def show_stats(ctx: typer.Context, json_: bool, found: BranchStats | SessionStats) -> None:
    """`stats`'s table (and `branches --stats`'s): one row a branch, then the total."""
    rows = [*found.branches, found.total] if isinstance(found, SessionStats) else [found]
    columns = (
        "thread",
        "checkpoints:n",
        "steps:n",
        "model calls:n",
        "input:n",
        "output:n",
        "tokens:n",
        "tool calls",
        "seconds:n",
    )
    show_rows(ctx, json_, found.to_dict(), columns, (_row(b) for b in rows))


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="REF",
            help="SESSION:REF (a tag, branch, checkpoint or short id), a session id "
            "(its current head), or a thread id (its head).",
        ),
    ],
    json_: JsonOption = False,
) -> None:
    """Show one checkpoint as a person reads it.

    Its values (messages rendered), next nodes, tasks, interrupts, metadata,
    pending writes, parent, children and tags.
    """

    def work(saver: AgentGitSaver, state: State) -> None:
        config = _log_target(saver, target, state.user)
        if isinstance(config, int):
            config = saver.config_for(config, user_id=state.user)
        view = saver.show(config, user_id=state.user)
        show(ctx, json_, view.to_dict(), view.render)

    run(ctx, work, read_only=True)


def _status_text(thread: InternalSession) -> str:
    """`kept: cheaper · try the train`: one cell, cut last when the table is too wide."""
    status = thread.status + (f": {thread.status_reason}" if thread.status_reason else "")
    return f"{status} · {thread.intent}" if thread.intent else status


def _log_target(saver: AgentGitSaver, target: str, user_id: str | None) -> Any:
    """What `log` reads: a session id, `SESSION:REF`, or a thread id."""
    session_id = parse_int(target)
    if session_id is not None:
        return session_id
    head, sep, ref = target.partition(":")
    if sep and parse_int(head) is not None and ref:
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
    fork: Annotated[
        str | None,
        typer.Option("--fork", help="Follow this in-thread fork (its id as `tree --json` gives)."),
    ] = None,
    json_: JsonOption = False,
    full: FullOption = False,
) -> None:
    """Show the checkpoints of a branch, newest first."""

    def work(saver: AgentGitSaver, state: State) -> None:
        entries = saver.log(
            _log_target(saver, target, state.user), limit=limit, fork=fork, user_id=state.user
        )
        wide = want_full(ctx, full)
        checkpoints = short_ids((e.checkpoint_id for e in entries), wide, checkpoints=True)
        threads = short_ids((e.thread_id for e in entries), wide)
        columns: tuple[str, ...] = ("checkpoint:fixed", "thread:fixed", "step:n", "source:fixed")
        columns += ("created:fixed", "tags")
        rows = (
            (
                escape(checkpoints[e.checkpoint_id]),
                escape(threads[e.thread_id]),
                "-" if e.step is None else str(e.step),
                escape(e.source or "-"),
                fmt_time(e.created_at, wide),
                escape(", ".join(e.tags) or "-"),
                escape(e.text if wide else e.preview),
            )
            for e in entries
        )
        show_rows(
            ctx, json_, entries, (*columns, "preview:text"), rows, empty="no checkpoints", full=wide
        )

    run(ctx, work, read_only=True)


@app.command("tree")
def tree_cmd(
    ctx: typer.Context,
    session: SessionArg,
    mermaid: Annotated[
        bool, typer.Option("--mermaid", help="Print a Mermaid gitGraph instead.")
    ] = False,
    stats: StatsOption = False,
    json_: JsonOption = False,
) -> None:
    """Draw a session's branches as a tree.

    With --mermaid, as a Mermaid gitGraph.
    """

    def work(saver: AgentGitSaver, state: State) -> None:
        if mermaid:
            text = saver.mermaid(session, stats=stats, user_id=state.user)
            show(ctx, json_, {"session_id": session, "mermaid": text}, lambda: text)
        elif want_json(ctx, json_):
            print_json(saver.tree_data(session, stats=stats, user_id=state.user))
        else:
            typer.echo(saver.tree(session, stats=stats, user_id=state.user).rstrip("\n"))

    run(ctx, work, read_only=True)


@app.command("diff")
def diff_cmd(
    ctx: typer.Context,
    session: SessionArg,
    ref_a: Annotated[str, typer.Argument(metavar="REF_A", help="The old side.")],
    ref_b: Annotated[str, typer.Argument(metavar="REF_B", help="The new side.")],
    json_: JsonOption = False,
) -> None:
    """Compare the state at two refs of a session."""

    def work(saver: AgentGitSaver, state: State) -> None:
        a = saver.resolve(session, ref_a, user_id=state.user)
        b = saver.resolve(session, ref_b, user_id=state.user)
        result = saver.diff(a, b, user_id=state.user)
        show(ctx, json_, result.to_dict(), result.render)

    run(ctx, work, read_only=True)


@app.command("tags")
def tags_cmd(
    ctx: typer.Context, session: SessionArg, json_: JsonOption = False, full: FullOption = False
) -> None:
    """List a session's tags."""

    def work(saver: AgentGitSaver, state: State) -> None:
        tags = saver.tags(session, user_id=state.user)
        wide = want_full(ctx, full)
        threads = short_ids((t.thread_id for t in tags), wide)
        checkpoints = short_ids((t.checkpoint_id for t in tags), wide, checkpoints=True)
        columns = ("tag", "thread:fixed", "checkpoint:fixed", "created:fixed")
        rows = (
            (
                escape(t.name),
                escape(threads[t.thread_id]),
                escape(checkpoints[t.checkpoint_id]),
                fmt_time(t.created_at, wide),
            )
            for t in tags
        )
        show_rows(ctx, json_, tags, columns, rows, empty="no tags", full=wide)

    run(ctx, work, read_only=True)
