"""What became of each branch: `status` (changes), `stats` and `show` (read only)."""

from __future__ import annotations

from typing import Annotated

import typer

from agentgit_langgraph.cli.app import JsonOption, State, app, run, show
from agentgit_langgraph.cli.reading import show_stats
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
        show_stats(ctx, json_, saver.stats(thread, session_id=session, user_id=state.user))

    run(ctx, work, read_only=True)
