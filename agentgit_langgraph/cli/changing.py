"""The commands that change sessions: `tag`, `untag`, `rollback`, `switch`, `delete`,
`adopt`, `fsck`."""

from __future__ import annotations

import sys
import warnings
from typing import Annotated, Any

import typer

from agentgit_langgraph.cli.app import (
    CliError,
    JsonOption,
    SessionArg,
    State,
    app,
    run,
    show,
)
from agentgit_langgraph.errors import ReversedToolCallsWarning
from agentgit_langgraph.saver import AgentGitSaver


@app.command("tag")
def tag_cmd(
    ctx: typer.Context,
    session: SessionArg,
    ref: Annotated[str, typer.Argument(metavar="REF", help="The checkpoint to name.")],
    name: Annotated[str, typer.Argument(metavar="NAME", help="The tag's name.")],
    json_: JsonOption = False,
) -> None:
    """Name a checkpoint of a session."""

    def work(saver: AgentGitSaver, state: State) -> None:
        config = saver.resolve(session, ref, user_id=state.user)
        tag = saver.tag(config, name, user_id=state.user)
        show(ctx, json_, tag, lambda: f"tagged {tag.thread_id}@{tag.checkpoint_id} as {tag.name!r}")

    run(ctx, work)


@app.command("untag")
def untag_cmd(
    ctx: typer.Context,
    session: SessionArg,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The tag to remove.")],
    json_: JsonOption = False,
) -> None:
    """Remove a tag (the checkpoint stays)."""

    def work(saver: AgentGitSaver, state: State) -> None:
        if not saver.untag(session, name, user_id=state.user):
            raise CliError(f"session {session} has no tag {name!r}")
        removed = {"session_id": session, "removed": name}
        show(ctx, json_, removed, lambda: f"removed tag {name!r} from session {session}")

    run(ctx, work)


def _thread_of(config: Any) -> str:
    return str(config["configurable"]["thread_id"])


@app.command("rollback")
def rollback_cmd(
    ctx: typer.Context,
    session: SessionArg,
    ref: Annotated[str, typer.Argument(metavar="REF", help="The checkpoint to start from.")],
    name: Annotated[str | None, typer.Option("--name", help="A name for the new branch.")] = None,
    intent: Annotated[
        str | None, typer.Option("--intent", help="Why this branch is tried.")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Open a new branch at REF.

    The branch starts at REF's checkpoint and becomes the session's current thread.
    """

    def work(saver: AgentGitSaver, state: State) -> None:
        source = saver.resolve(session, ref, user_id=state.user)
        config = saver.rollback(source, user_id=state.user, name=name, intent=intent)
        thread_id = _thread_of(config)
        configurable = source.get("configurable", {})
        branch = {
            "session_id": session,
            "thread_id": thread_id,
            "name": name,
            "parent_thread_id": configurable.get("thread_id"),
            "branch_checkpoint_id": configurable.get("checkpoint_id"),
            "intent": intent,
            "config": config,
        }
        label = f" ({name})" if name else ""
        show(
            ctx,
            json_,
            branch,
            lambda: f"new branch {thread_id}{label} of session {session}, now current",
        )

    run(ctx, work)


@app.command("switch")
def switch_cmd(
    ctx: typer.Context,
    session: SessionArg,
    target: Annotated[
        str,
        typer.Argument(
            metavar="REF",
            help="A thread id or a unique prefix of one (4+ characters), a branch "
            "name, a tag, main or HEAD.",
        ),
    ],
    json_: JsonOption = False,
) -> None:
    """Make one of a session's threads current.

    Only which thread is current changes, never the world: tool calls a
    rollback undid stay undone, and a note on stderr says so when the
    thread's history holds any.
    """

    def work(saver: AgentGitSaver, state: State) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ReversedToolCallsWarning)
            config = saver.switch(session, target, user_id=state.user)
        notes = [str(w.message) for w in caught if issubclass(w.category, ReversedToolCallsWarning)]
        thread_id = _thread_of(config)
        name = next((t.name for t in saver.branches(session) if t.thread_id == thread_id), None)
        switched = {
            "session_id": session,
            "thread_id": thread_id,
            "branch": name,
            "config": config,
            "warnings": notes,
        }
        label = f" ({name})" if name else ""
        show(ctx, json_, switched, lambda: f"session {session} now on {thread_id}{label}")
        for note in notes:
            typer.echo(f"note: {note}", err=True)

    run(ctx, work)


@app.command("delete")
def delete_cmd(
    ctx: typer.Context,
    session: SessionArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_: JsonOption = False,
) -> None:
    """Delete a session and every thread's checkpoints.

    Its record, every thread's checkpoints and its tags go.
    """

    def work(saver: AgentGitSaver, state: State) -> None:
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
                raise CliError("not deleted (pass --yes to skip the question)")
        threads = saver.delete_session(session, user_id=state.user)
        count = len(threads)
        show(
            ctx,
            json_,
            {"deleted": found, "deleted_threads": threads},
            lambda: f"deleted session {session} and its {count} thread{'' if count == 1 else 's'}",
        )

    run(ctx, work)


@app.command("adopt")
def adopt_cmd(
    ctx: typer.Context,
    thread: Annotated[
        str | None,
        typer.Argument(metavar="THREAD", help="A thread of the saver no session holds yet."),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Adopt every thread without a session.")
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="The new session's name (default: the thread).")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Give a session to threads saved without agentgit.

    The owner is --user, else 0; the session counts every checkpoint the
    thread already has.
    """
    if (thread is None) != all_:
        raise typer.BadParameter("give a THREAD or --all, not both", param_hint="THREAD")
    if all_ and name is not None:
        raise typer.BadParameter("--name names one session: give a THREAD", param_hint="'--name'")

    def work(saver: AgentGitSaver, state: State) -> None:
        user = 0 if state.user is None else state.user
        if thread is not None:
            targets = [thread]
        else:
            targets = [t.thread_id for t in saver.threads() if t.session_id is None]
        adopted = [saver.adopt(t, user_id=user, session_name=name) for t in targets]
        lines = [
            f"thread {t}: session {s.id} "
            f"({s.total_checkpoints} checkpoint{'' if s.total_checkpoints == 1 else 's'})"
            for t, s in zip(targets, adopted, strict=True)
        ]
        show(ctx, json_, adopted, lambda: "\n".join(lines) or "no thread without a session")

    run(ctx, work)


@app.command("fsck")
def fsck_cmd(
    ctx: typer.Context,
    repair: Annotated[
        bool, typer.Option("--repair", help="Repair what is found (default: only report).")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Check that sessions and checkpoints agree.

    Exit 1 if anything is left broken. Reads the whole history once. With
    --repair: finishes deletes and removes the threads of dead rollbacks,
    adopts checkpoints no session holds, sets counts to what is stored, drops
    empty branches.
    """

    def work(saver: AgentGitSaver, state: State) -> None:
        if state.user is not None:
            raise CliError(
                f"user {state.user} does not own every session, and fsck checks them all: "
                "run it without --user"
            )
        report = saver.fsck(repair=repair)
        show(ctx, json_, report, lambda: str(report))
        if not report.clean:
            raise typer.Exit(1)

    run(ctx, work)
