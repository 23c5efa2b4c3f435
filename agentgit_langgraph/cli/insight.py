"""What became of each branch: `status` (changes), `stats` and `show` (read only)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from agentgit_langgraph.cli.app import JsonOption, State, app, run, show, show_rows
from agentgit_langgraph.cli.reading import _log_target
from agentgit_langgraph.history.stats import BranchStats, SessionStats
from agentgit_langgraph.saver import AgentGitSaver

_STATUSES = "active, kept or abandoned"


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    thread: Annotated[str, typer.Argument(metavar="THREAD", help="The branch's thread id.")],
    status: Annotated[str, typer.Argument(metavar="STATUS", help=f"{_STATUSES}.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
    json_: JsonOption = False,
) -> None:
    """Say what became of a branch: active, kept or abandoned (and why)."""

    def work(saver: AgentGitSaver, state: State) -> None:
        record = saver.set_status(thread, status, reason=reason, user_id=state.user)
        why = f" ({record.status_reason})" if record.status_reason else ""
        show(ctx, json_, record, lambda: f"thread {record.thread_id}: {record.status}{why}")

    run(ctx, work)


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


@app.command("stats")
def stats_cmd(
    ctx: typer.Context,
    thread: Annotated[
        str | None, typer.Argument(metavar="[THREAD]", help="A branch's thread id.")
    ] = None,
    session: Annotated[
        int | None, typer.Option("--session", help="Every branch of this session, and the total.")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """What each branch cost: model calls, tokens, tool calls, time.

    For a branch, or for each branch of a session and their total: checkpoints,
    steps, model calls, tokens, tool calls and wall time, counting only what
    each branch added.
    """

    def work(saver: AgentGitSaver, state: State) -> None:
        found = saver.stats(thread, session_id=session, user_id=state.user)
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

    run(ctx, work, read_only=True)


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
