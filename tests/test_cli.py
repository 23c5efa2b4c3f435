"""The `agentgit` command line, on databases written by a real chat graph.

Most tests run the app in-process with typer's `CliRunner`; one runs it as a
real subprocess (`python -m agentgit_langgraph` and the installed script), one
runs against PostgreSQL. The database is prepared by driving the chat graph
through three turns, two rollbacks and a second user's conversation, so every
number the CLI prints can be checked against the Python API.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.cli import app
from agentgit_langgraph.history import to_json
from tests.graphs import chat_graph_builder, contents, human

PER_TURN = 3  # input checkpoint, loop checkpoint before `chat`, loop checkpoint after it


@dataclass
class Prepared:
    """What the prepared database holds (ids the tests need)."""

    db: str
    session: int  # user 1's session: thread "chat-1", branches "retry" and one unnamed
    other_session: int  # user 2's session: thread "other"
    first_thread: str
    retry_thread: str
    unnamed_thread: str
    retry_from: str  # checkpoint of chat-1 the "retry" branch starts at


def _cfg(thread_id: str, user_id: int) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "user_id": user_id}}


def prepare(saver: AgentGitSaver, db: str) -> Prepared:
    graph = chat_graph_builder().compile(checkpointer=saver)
    main = _cfg("chat-1", 1)
    for n, text in enumerate(["Plan a trip", "Book the flight", "Add a hotel"], start=1):
        graph.invoke(human(text, n), main)
    history = list(graph.get_state_history(main))  # newest first
    after_first = next(
        s for s in reversed(history) if len(s.values["messages"]) == 2 and not s.next
    )
    retry = saver.rollback(after_first.config, name="retry")
    graph.invoke(human("Take the train", 4), retry)
    after_second = next(
        s for s in reversed(history) if len(s.values["messages"]) == 4 and not s.next
    )
    unnamed = saver.rollback(after_second.config)
    graph.invoke(human("Skip the hotel", 5), unnamed)
    graph.invoke(human("Hello", 1), _cfg("other", 2))
    session = saver.session_for_thread("chat-1")
    other = saver.session_for_thread("other")
    assert session.id is not None and other.id is not None
    return Prepared(
        db=db,
        session=session.id,
        other_session=other.id,
        first_thread="chat-1",
        retry_thread=str(retry["configurable"]["thread_id"]),
        unnamed_thread=str(unnamed["configurable"]["thread_id"]),
        retry_from=str(after_first.config["configurable"]["checkpoint_id"]),
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Prepared]:
    path = tmp_path_factory.mktemp("cli") / "template.db"
    with AgentGitSaver.from_conn_string(str(path)) as saver:
        prepared = prepare(saver, str(path))
    with sqlite3.connect(path) as conn:  # fold the WAL in, so one file is the whole DB
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path, prepared


@pytest.fixture
def db(template: tuple[Path, Prepared], tmp_path: Path) -> Prepared:
    """A fresh copy of the prepared database for each test."""
    source, prepared = template
    target = tmp_path / "agent.db"
    shutil.copyfile(source, target)
    return Prepared(**{**prepared.__dict__, "db": str(target)})


runner = CliRunner()


def run(db: Prepared | str, *args: str, input: str | None = None) -> Any:
    path = db.db if isinstance(db, Prepared) else db
    env = {"AGENTGIT_DB": None, "COLUMNS": None}
    return runner.invoke(app, ["--db", path, *args], input=input, env=env)


def ok(db: Prepared | str, *args: str, input: str | None = None) -> str:
    result = run(db, *args, input=input)
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr == ""
    return str(result.stdout)


def as_json(db: Prepared | str, *args: str) -> Any:
    return json.loads(ok(db, "--json", *args))


def failed(db: Prepared | str, *args: str, code: int = 1, input: str | None = None) -> str:
    """Run a command that must fail with `code`; return its one-line stderr."""
    result = run(db, *args, input=input)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.output
    if code == 1:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return str(result.stderr)


def snapshot(db: Prepared) -> Any:
    """Everything a command could change: sessions, threads, tags, checkpoints."""
    with AgentGitSaver.from_conn_string(db.db) as saver:
        sessions = [s.to_dict() for s in saver.list_sessions()]
        threads = {s["id"]: [t.__dict__ for t in saver.branches(s["id"])] for s in sessions}
        tags = {s["id"]: [t.__dict__ for t in saver.tags(s["id"])] for s in sessions}
        checkpoints = sorted(
            (t.config["configurable"]["thread_id"], t.checkpoint["id"]) for t in saver.list(None)
        )
    return sessions, threads, tags, checkpoints


# -- sessions ------------------------------------------------------------------------


def test_sessions_table(db: Prepared) -> None:
    out = ok(db, "sessions")
    header, *rows = out.strip().splitlines()
    assert header.split() == [
        "id",
        "name",
        "user",
        "threads",
        "branches",
        "checkpoints",
        "current",
        "updated",
    ]
    assert len(rows) == 2
    first = rows[0].split()
    # 3 turns on chat-1, 1 + 1 turn on the two branches (each starts with its copied checkpoint)
    assert first[:7] == [
        str(db.session),
        "chat-1",
        "1",
        "3",
        "2",
        str(3 * PER_TURN + 2 * (1 + PER_TURN)),
        db.unnamed_thread[:8] + "…",  # a short id; --full for the whole one
    ]
    assert rows[1].split()[:7] == [str(db.other_session), "other", "2", "1", "0", "3", "other"]
    assert all(not line.endswith(" ") for line in out.splitlines())


def test_sessions_json_is_the_api_in_one_vocabulary(db: Prepared) -> None:
    listed = as_json(db, "sessions")
    with AgentGitSaver.from_conn_string(db.db) as saver:
        assert listed == [to_json(s) for s in saver.list_sessions()]
    assert listed[0]["thread_ids"] == [
        db.first_thread,
        db.retry_thread,
        db.unnamed_thread,
    ]
    assert listed[0]["branch_count"] == 2
    assert listed[0]["total_checkpoints"] == 3 * PER_TURN + 2 * (1 + PER_TURN)
    assert isinstance(listed[0]["created_at"], str) and "T" in listed[0]["created_at"]


def test_json_flag_goes_before_or_after_the_command(db: Prepared) -> None:
    before = json.loads(ok(db, "--json", "sessions"))
    after = json.loads(ok(db, "sessions", "--json"))
    assert before == after


def test_sessions_of_one_user(db: Prepared) -> None:
    assert [s["session_id"] for s in as_json(db, "--user", "2", "sessions")] == [db.other_session]
    assert as_json(db, "--user", "7", "sessions") == []
    assert ok(db, "--user", "7", "sessions").strip() == "no sessions"


def test_db_from_environment(db: Prepared) -> None:
    result = runner.invoke(app, ["--json", "sessions"], env={"AGENTGIT_DB": db.db})
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 2


# -- branches ------------------------------------------------------------------------


def test_branches_table(db: Prepared) -> None:
    out = ok(db, "branches", str(db.session))
    lines = out.strip().splitlines()
    assert lines[0].split() == [
        "thread",
        "name",
        "parent",
        "from",
        "checkpoint",
        "checkpoints",
        "status",
        "·",
        "intent",
    ]
    # when each was made: with --full (and in --json), beside the whole ids
    assert "created" in ok(db, "--full", "branches", str(db.session)).splitlines()[0].split()
    rows = {line.split()[0].lstrip("*").strip() or line.split()[1]: line for line in lines[1:]}
    assert len(lines) == 4
    current = [line for line in lines[1:] if line.startswith("*")]
    assert len(current) == 1 and db.unnamed_thread[:8] + "…" in current[0]
    retry_row = next(line for line in lines if db.retry_thread[:8] in line)
    short, name, parent, point, count = retry_row.split()[:5]
    assert db.retry_thread.startswith(short.removesuffix("…")) and len(short) == 9
    assert [name, parent, count] == ["retry", "chat-1", str(1 + PER_TURN)]
    assert db.retry_from.startswith(point.removesuffix("…")) and point.endswith("…")
    assert rows


def test_branches_json(db: Prepared) -> None:
    threads = as_json(db, "branches", str(db.session))
    assert [t["thread_id"] for t in threads] == [
        db.first_thread,
        db.retry_thread,
        db.unnamed_thread,
    ]
    assert [t["is_current"] for t in threads] == [False, False, True]
    assert [t["name"] for t in threads] == [None, "retry", None]
    assert threads[1]["parent_thread_id"] == "chat-1"
    assert threads[1]["branch_checkpoint_id"] == db.retry_from
    assert [t["checkpoint_count"] for t in threads] == [3 * PER_TURN, 1 + PER_TURN, 1 + PER_TURN]
    assert all(isinstance(t["created_at"], str) for t in threads)


# -- errors ----------------------------------------------------------------------------


def test_unknown_session_is_one_line_and_exit_1(db: Prepared) -> None:
    for args in (
        ["branches", "42"],
        ["log", "42"],
        ["tree", "42"],
        ["tree", "42", "--mermaid"],
        ["tags", "42"],
        ["rollback", "42", "HEAD"],
        ["switch", "42", "chat-1"],
        ["delete", "42", "--yes"],
        ["tag", "42", "HEAD", "x"],
        ["diff", "42", "HEAD", "HEAD"],
    ):
        err = failed(db, *args)
        assert "42" in err and "not found" in err, (args, err)
    assert failed(db, "branches", "42") == "error: session 42 not found\n"


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    for args in (["sessions"], ["branches", "1"], ["delete", "1", "--yes"]):
        err = failed(str(path), *args)
        assert "does not exist" in err
    assert not path.exists()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the tables you are looking for\n" * 100)
    err = failed(str(path), "sessions")
    assert "SQLite" in err


def test_unreachable_postgres_is_exit_1() -> None:
    err = failed("postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=3", "sessions")
    assert "PostgreSQL" in err


def test_usage_errors_are_exit_2(db: Prepared) -> None:
    failed(db, "branches", "not-a-number", code=2)
    failed(db, "no-such-command", code=2)
    failed(db, "log", "1", "--limit", "0", code=2)
    result = runner.invoke(app, ["sessions"], env={"AGENTGIT_DB": None})
    assert result.exit_code == 2 and "--db" in result.output


# -- log ---------------------------------------------------------------------------------


def _api_log(db: Prepared, target: Any, limit: int | None = None) -> list[tuple[str, str]]:
    with AgentGitSaver.from_conn_string(db.db) as saver:
        return [(e.thread_id, e.checkpoint_id) for e in saver.log(target, limit=limit)]


def _ids(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["thread_id"], e["checkpoint_id"]) for e in entries]


def test_log_of_a_session_is_its_current_branch(db: Prepared) -> None:
    entries = as_json(db, "log", str(db.session))
    assert _ids(entries) == _api_log(db, db.session)
    assert entries[0]["thread_id"] == db.unnamed_thread
    assert entries[0]["preview"] == "ai: echo: Skip the hotel (#3)"
    # the branch's own checkpoints, then the history it inherited from chat-1
    assert {e["thread_id"] for e in entries} == {db.unnamed_thread, "chat-1"}
    assert set(entries[0]) >= {"step", "source", "created_at", "preview", "tags", "config"}
    assert entries[0]["config"]["configurable"]["checkpoint_id"] == entries[0]["checkpoint_id"]
    assert datetime.fromisoformat(entries[0]["created_at"])


def test_log_limit(db: Prepared) -> None:
    entries = as_json(db, "log", str(db.session), "--limit", "2")
    assert _ids(entries) == _api_log(db, db.session, limit=2)
    assert len(entries) == 2
    assert len(as_json(db, "log", str(db.session), "-n", "1")) == 1


def test_log_of_a_thread_and_of_session_ref(db: Prepared) -> None:
    main = as_json(db, "log", "chat-1")
    assert len(main) == 3 * PER_TURN
    assert {e["thread_id"] for e in main} == {"chat-1"}
    assert main[0]["preview"] == "ai: echo: Add a hotel (#3)"
    assert as_json(db, "log", f"{db.session}:main") == main
    retry = as_json(db, "log", f"{db.session}:retry")
    assert retry[0]["thread_id"] == db.retry_thread
    assert retry[0]["preview"] == "ai: echo: Take the train (#2)"
    assert db.retry_from in [e["checkpoint_id"] for e in retry]
    assert _ids(retry) == _api_log(db, {"configurable": {"thread_id": db.retry_thread}})
    # a checkpoint id starts the log at that checkpoint
    at = as_json(db, "log", f"{db.session}:{db.retry_from}")
    assert at[0]["checkpoint_id"] == db.retry_from


def test_log_table(db: Prepared) -> None:
    out = ok(db, "log", str(db.session), "--limit", "3")
    lines = out.strip().splitlines()
    header = ["checkpoint", "thread", "step", "source", "created", "tags", "preview"]
    assert lines[0].split() == header
    assert len(lines) == 4
    assert db.unnamed_thread[:8] + "…" in lines[1]  # short ids; the preview whole when piped
    assert lines[1].endswith("ai: echo: Skip the hotel (#3)")
    assert ok(db, "log", str(db.session), "--limit", "3", "--json") != out


# -- tree --------------------------------------------------------------------------------


def test_tree_text(db: Prepared) -> None:
    out = ok(db, "tree", str(db.session))
    with AgentGitSaver.from_conn_string(db.db) as saver:
        assert out == saver.tree(db.session) + "\n"
    lines = out.splitlines()
    assert lines[0].startswith("main  chat-1  (9 checkpoints)")
    assert len(lines) == 3
    retry = next(line for line in lines if "retry" in line)
    assert retry.startswith(("├── ", "└── ")) and db.retry_thread[:8] in retry
    current = [line for line in lines if line.endswith("*")]
    assert len(current) == 1 and db.unnamed_thread[:8] in current[0]


def test_tree_json(db: Prepared) -> None:
    data = as_json(db, "tree", str(db.session))
    assert data["session_id"] == db.session
    assert data["current_thread_id"] == db.unnamed_thread
    (root,) = data["roots"]
    assert root["thread_id"] == "chat-1" and root["label"] == "main"
    children = {c["thread_id"]: c for c in root["children"]}
    assert set(children) == {db.retry_thread, db.unnamed_thread}
    assert children[db.retry_thread]["name"] == "retry"
    assert children[db.retry_thread]["branch_checkpoint_id"] == db.retry_from
    assert children[db.unnamed_thread]["is_current"] is True


def test_tree_mermaid(db: Prepared) -> None:
    out = ok(db, "tree", str(db.session), "--mermaid")
    with AgentGitSaver.from_conn_string(db.db) as saver:
        assert out == saver.mermaid(db.session) + "\n"
    assert out.startswith("gitGraph")
    assert "branch retry" in out
    data = as_json(db, "tree", str(db.session), "--mermaid")
    assert data == {"session_id": db.session, "mermaid": out.rstrip("\n")}


# -- diff --------------------------------------------------------------------------------


def test_diff(db: Prepared) -> None:
    out = ok(db, "diff", str(db.session), "main", "retry")
    lines = out.splitlines()
    assert lines[0].startswith("--- a chat-1@")
    assert lines[1].startswith(f"+++ b {db.retry_thread}@")
    assert "~ messages: 2 in common, -4 +2 messages" in lines
    assert "    + human: Take the train" in lines
    assert "    - human: Add a hotel" in lines

    data = as_json(db, "diff", str(db.session), "main", "retry")
    messages = data["changed"]["messages"]["messages"]
    assert messages["common_prefix"] == 2
    assert [m["content"] for m in messages["b_only"]] == [
        "Take the train",
        "echo: Take the train (#2)",
    ]
    assert len(messages["a_only"]) == 4
    assert data["a"]["thread_id"] == "chat-1" and data["b"]["thread_id"] == db.retry_thread

    same = as_json(db, "diff", str(db.session), "retry", "retry")
    assert same["changed"] == {} and same["added"] == {} and same["removed"] == {}
    assert ok(db, "diff", str(db.session), "retry", "retry").strip().endswith("(no differences)")


# -- tags, rollback, switch ------------------------------------------------------------------


def test_tag_tags_untag(db: Prepared) -> None:
    tag = as_json(db, "tag", str(db.session), db.retry_from, "before-retry")
    assert tag["name"] == "before-retry"
    assert tag["checkpoint_id"] == db.retry_from
    assert tag["thread_id"] == "chat-1"  # the checkpoint's original thread
    assert tag["session_id"] == db.session

    listed = as_json(db, "tags", str(db.session))
    assert [t["name"] for t in listed] == ["before-retry"]
    table = ok(db, "tags", str(db.session)).splitlines()
    assert table[0].split() == ["tag", "thread", "checkpoint", "created"]
    name, thread, point = table[1].split()[:3]
    assert [name, thread] == ["before-retry", "chat-1"]
    assert db.retry_from.startswith(point.removesuffix("…"))
    assert as_json(db, "log", f"{db.session}:{point}")[0]["checkpoint_id"] == db.retry_from

    # the tag is now a ref, and the log shows it
    entries = as_json(db, "log", f"{db.session}:before-retry")
    assert entries[0]["checkpoint_id"] == db.retry_from
    assert entries[0]["tags"] == ["before-retry"]
    assert "before-retry" in ok(db, "log", "chat-1")
    assert "tags: before-retry" in ok(db, "tree", str(db.session))

    human = ok(db, "tag", str(db.session), "HEAD", "latest")
    assert human.startswith(f"tagged {db.unnamed_thread}@") and "'latest'" in human
    err = failed(db, "tag", str(db.session), "main", "latest")
    assert "latest" in err

    assert ok(db, "untag", str(db.session), "before-retry").startswith("removed tag")
    assert [t["name"] for t in as_json(db, "tags", str(db.session))] == ["latest"]
    assert "before-retry" in failed(db, "untag", str(db.session), "before-retry")
    assert "no tag" in failed(db, "log", f"{db.session}:before-retry")


def test_rollback(db: Prepared) -> None:
    made = as_json(db, "rollback", str(db.session), db.retry_from, "--name", "again")
    new = made["thread_id"]
    assert made["session_id"] == db.session and made["name"] == "again"
    assert made["parent_thread_id"] == "chat-1"
    assert made["branch_checkpoint_id"] == db.retry_from
    assert made["config"] == {"configurable": {"thread_id": new}}

    threads = as_json(db, "branches", str(db.session))
    assert [t["thread_id"] for t in threads][-1] == new
    branch = threads[-1]
    assert branch["is_current"] and branch["name"] == "again"
    assert (
        branch["parent_thread_id"] == "chat-1" and branch["branch_checkpoint_id"] == db.retry_from
    )
    session = as_json(db, "sessions")[0]
    assert session["branch_count"] == 3 and session["current_thread_id"] == new

    # the new branch holds the state at that checkpoint
    with AgentGitSaver.from_conn_string(db.db) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        state = graph.get_state({"configurable": {"thread_id": new}})
        assert contents(state.values) == ["Plan a trip", "echo: Plan a trip (#1)"]

    out = ok(db, "rollback", str(db.session), "again")
    assert out.startswith("new branch ") and f"of session {db.session}, now current" in out
    assert len(as_json(db, "branches", str(db.session))) == 5
    assert "again" in failed(db, "rollback", str(db.session), "main", "--name", "again")


def _current(db: Prepared) -> str:
    return str(as_json(db, "sessions")[0]["current_thread_id"])


def test_switch(db: Prepared) -> None:
    assert ok(db, "switch", str(db.session), "retry") == (
        f"session {db.session} now on {db.retry_thread} (retry)\n"
    )
    assert _current(db) == db.retry_thread
    assert as_json(db, "switch", str(db.session), "chat-1") == {
        "session_id": db.session,
        "thread_id": "chat-1",
        "branch": None,
        "config": {"configurable": {"thread_id": "chat-1"}},
        "warnings": [],
    }
    assert _current(db) == "chat-1"
    ok(db, "switch", str(db.session), db.unnamed_thread[:8] + "…")  # a short id `tree` prints
    assert _current(db) == db.unnamed_thread
    ok(db, "switch", str(db.session), "main")
    assert _current(db) == "chat-1"
    ok(db, "switch", str(db.session), db.retry_thread)
    assert _current(db) == db.retry_thread

    before = snapshot(db)
    err = failed(db, "switch", str(db.session), "nope")
    assert err == f"error: session {db.session} has no thread, branch or tag named 'nope'\n"
    assert "other" in failed(db, "switch", str(db.session), "other")  # another session's
    assert snapshot(db) == before


# -- delete -------------------------------------------------------------------------------------


def test_delete_with_yes(db: Prepared) -> None:
    out = ok(db, "delete", str(db.other_session), "--yes")
    assert out == f"deleted session {db.other_session} and its 1 thread\n"
    assert [s["session_id"] for s in as_json(db, "sessions")] == [db.session]
    with AgentGitSaver.from_conn_string(db.db) as saver:
        assert list(saver.list({"configurable": {"thread_id": "other"}})) == []
    assert "not found" in failed(db, "delete", str(db.other_session), "--yes")

    data = as_json(db, "delete", str(db.session), "--yes")
    assert data["deleted"]["session_id"] == db.session
    assert sorted(data["deleted_threads"]) == sorted(["chat-1", db.retry_thread, db.unnamed_thread])
    assert as_json(db, "sessions") == []


def test_delete_asks_first(db: Prepared) -> None:
    before = snapshot(db)
    result = run(db, "delete", str(db.session), input="n\n")
    assert result.exit_code == 1
    assert "Delete session" in result.stderr and "Traceback" not in result.output
    assert result.stderr.endswith("error: not deleted (pass --yes to skip the question)\n")
    assert snapshot(db) == before

    result = run(db, "delete", str(db.session), input="")  # no answer (closed stdin)
    assert result.exit_code == 1
    assert snapshot(db) == before

    result = run(db, "delete", str(db.session), input="y\n")
    assert result.exit_code == 0, result.output
    assert [s["session_id"] for s in as_json(db, "sessions")] == [db.other_session]


# -- users ----------------------------------------------------------------------------------------


def test_another_user_can_neither_read_nor_change_a_session(db: Prepared) -> None:
    s = str(db.session)
    ok(db, "tag", s, db.retry_from, "mine")
    before = snapshot(db)
    for args in (
        ["branches", s],
        ["log", s],
        ["log", f"{s}:main"],
        ["log", "chat-1"],
        ["log", db.retry_thread],
        ["tree", s],
        ["tree", s, "--mermaid"],
        ["tree", s, "--json"],
        ["diff", s, "main", "retry"],
        ["tags", s],
        ["tag", s, "main", "theirs"],
        ["untag", s, "mine"],
        ["rollback", s, "main"],
        ["switch", s, "retry"],
        ["delete", s, "--yes"],
    ):
        err = failed(db, "--user", "2", *args)
        assert err == f"error: user 2 does not own session {db.session}\n", (args, err)
    assert snapshot(db) == before
    # the owner can
    assert len(as_json(db, "--user", "1", "branches", s)) == 3
    ok(db, "--user", "1", "switch", s, "retry")


def test_unknown_refs_and_threads(db: Prepared) -> None:
    s = str(db.session)
    before = snapshot(db)
    missing = f"error: session {db.session} has no tag, branch, thread or checkpoint named 'nope'\n"
    assert failed(db, "log", f"{s}:nope") == missing
    assert failed(db, "rollback", s, "nope") == missing
    assert failed(db, "diff", s, "main", "nope") == missing
    assert failed(db, "tag", s, "nope", "x") == missing
    assert (
        failed(db, "log", "no-such-thread") == "error: no session holds thread 'no-such-thread'\n"
    )
    # a thread of another session is no ref of this one
    assert "'other'" in failed(db, "rollback", s, "other")
    assert snapshot(db) == before


# -- as a real program -------------------------------------------------------------------


def _programs() -> list[list[str]]:
    programs = [[sys.executable, "-m", "agentgit_langgraph"]]
    script = Path(sys.executable).parent / "agentgit"
    if script.exists():
        programs.append([str(script)])
    return programs


@pytest.mark.slow
@pytest.mark.parametrize("program", _programs(), ids=lambda p: Path(p[-1]).name)
def test_runs_as_a_subprocess(db: Prepared, program: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AGENTGIT_DB"}
    done = subprocess.run(
        [*program, "--db", db.db, "sessions", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert [s["session_name"] for s in json.loads(done.stdout)] == ["chat-1", "other"]

    missing = subprocess.run(
        [*program, "--db", db.db, "branches", "42"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert missing.returncode == 1
    assert missing.stderr == "error: session 42 not found\n"
    assert missing.stdout == ""


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_sessions_and_tree(postgres_schema_uri: str) -> None:
    with AgentGitSaver.from_conn_string(postgres_schema_uri) as saver:
        prepared = prepare(saver, postgres_schema_uri)
        expected_sessions = [to_json(s) for s in saver.list_sessions()]
        expected_tree = saver.tree(prepared.session)

    listed = as_json(postgres_schema_uri, "sessions")
    assert listed == expected_sessions
    assert [s["session_name"] for s in listed] == ["chat-1", "other"]
    assert listed[0]["branch_count"] == 2

    table = ok(postgres_schema_uri, "sessions").splitlines()
    assert table[1].split()[:3] == [str(prepared.session), "chat-1", "1"]

    out = ok(postgres_schema_uri, "tree", str(prepared.session))
    assert out == expected_tree + "\n"
    assert out.startswith("main  chat-1")
    assert as_json(postgres_schema_uri, "tree", str(prepared.session))["current_thread_id"] == (
        prepared.unnamed_thread
    )
    assert failed(postgres_schema_uri, "--user", "2", "tree", str(prepared.session)) == (
        f"error: user 2 does not own session {prepared.session}\n"
    )
