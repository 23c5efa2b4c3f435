"""The `agentgit` CLI as a new user meets it (issue 14): 80 columns, short ids,
help, version, the current branch, messages, JSON in one vocabulary.

Runs on the database `tests/test_cli.py` prepares (fixtures `template`, `db`).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from datetime import datetime
from typing import Any

import pytest
from typer.testing import CliRunner

import agentgit_langgraph
from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.cli import app
from tests.test_cli import Prepared, as_json, db, failed, ok, template
from tests.test_friction import _booking_agent

__all__ = ["db", "template"]  # the fixtures, imported for pytest

runner = CliRunner()
TABLES = [["sessions"], ["branches", "{s}"], ["log", "{s}"], ["tags", "{s}"], ["threads"]]


def at_80(db: Prepared, *args: str, **env: str) -> Any:
    result = runner.invoke(
        app, ["--db", db.db, *args], env={"AGENTGIT_DB": None, "COLUMNS": "80", **env}
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


@pytest.mark.parametrize("command", TABLES, ids=lambda c: c[0])
def test_every_table_fits_80_columns_with_whole_rows(db: Prepared, command: list[str]) -> None:
    ok(db, "tag", str(db.session), db.retry_from, "before-retry")  # so `tags` has a row
    args = [a.format(s=db.session) for a in command]
    lines = at_80(db, *args).stdout.rstrip("\n").splitlines()
    assert max(len(line) for line in lines) <= 80, lines
    rows = as_json(db, *args)
    assert len(lines) == 1 + len(rows), "\n".join(lines)  # one line a row: no id is wrapped
    full = ok(db, *args, "--full")
    for line in lines[1:]:
        for cell in line.split():
            if re.fullmatch(r"[0-9a-f-]{8,}…", cell):  # a short id: --full shows it whole
                assert re.search(re.escape(cell[:-1]) + r"[0-9a-f-]+", full)


def test_short_ids_are_refs(db: Prepared) -> None:
    s = str(db.session)
    branches = at_80(db, "branches", s).stdout.splitlines()
    short_retry = next(line for line in branches if " retry " in line).split()[0]
    assert short_retry == db.retry_thread[:8] + "…"
    assert ok(db, "switch", s, short_retry).startswith(f"session {s} now on {db.retry_thread}")
    log = at_80(db, "log", s).stdout.splitlines()
    short_checkpoint = log[-1].split()[0]
    entry = as_json(db, "log", f"{s}:{short_checkpoint}")[0]
    assert entry["checkpoint_id"].startswith(short_checkpoint.removesuffix("…"))
    assert entry["step"] == -1
    assert "Plan a trip" in ok(db, "diff", s, short_checkpoint, short_retry)
    assert db.retry_thread in ok(db, "--full", "branches", s)


def test_the_current_branch_is_marked_and_coloured(db: Prepared) -> None:
    plain = at_80(db, "branches", str(db.session)).stdout.splitlines()
    marked = [line for line in plain if line.startswith("*")]
    assert len(marked) == 1 and db.unnamed_thread[:8] in marked[0]
    coloured = at_80(db, "branches", str(db.session), FORCE_COLOR="1").stdout
    current = next(line for line in coloured.splitlines() if db.unnamed_thread[:8] in line)
    assert "\x1b[1;32m" in current  # bold green
    other = next(line for line in coloured.splitlines() if db.retry_thread[:8] in line)
    assert "\x1b[1;32m" not in other


def test_version(db: Prepared) -> None:
    expected = importlib.metadata.version("agentgit-langgraph")
    assert agentgit_langgraph.__version__ == expected
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"agentgit {expected}\n"


def _commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    assert hasattr(group, "commands")
    return sorted(group.commands)


@pytest.mark.parametrize("command", ["", *_commands()])
def test_help_is_clean(command: str) -> None:
    result = runner.invoke(app, [*([command] if command else []), "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout
    assert "flowchart" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    if not command:
        assert "..." not in result.stdout.split("Commands:")[1]  # summaries are whole


def test_prefix_messages(db: Prepared) -> None:
    s = str(db.session)
    err = failed(db, "switch", s, db.retry_thread[:2])
    assert "at least 4 characters" in err and repr(db.retry_thread[:2]) in err
    err = failed(db, "log", f"{s}:{db.retry_from[:10]}")  # every checkpoint of s starts so
    assert "ambiguous" in err and db.retry_from in err


def test_tags_cannot_shadow_refs(db: Prepared) -> None:
    s = str(db.session)
    for name in ("main", "HEAD", "retry"):
        assert repr(name) in failed(db, "tag", s, "HEAD", name)
    assert "'HEAD'" in failed(db, "rollback", s, "HEAD", "--name", "HEAD")


# -- JSON --------------------------------------------------------------------------


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _times(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _times(v) if k.endswith("_at") or t]
    if isinstance(value, list):
        return [t for v in value for t in _times(v)]
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+.*", value):
        return [value]
    return []


READS = [["sessions"], ["branches", "{s}"], ["log", "{s}"], ["tags", "{s}"], ["tree", "{s}"]]


@pytest.mark.parametrize("command", READS, ids=lambda c: c[0])
def test_json_one_vocabulary_and_utc_times(db: Prepared, command: list[str]) -> None:
    ok(db, "tag", str(db.session), db.retry_from, "before-retry")
    data = as_json(db, *[a.format(s=db.session) for a in command])
    keys = _keys(data)
    assert not {k for k in keys if "internal" in k or k == "id"}, keys
    times = _times(data)
    assert times
    for text in times:
        assert datetime.fromisoformat(text).utcoffset() is not None, text
        assert text.endswith("+00:00"), text


def test_log_json_has_the_whole_text_and_a_short_preview(db: Prepared) -> None:
    with AgentGitSaver.from_conn_string(db.db) as saver:
        graph_input = "a long message " * 10
        from tests.graphs import chat_graph_builder, human

        graph = chat_graph_builder().compile(checkpointer=saver)
        graph.invoke(human(graph_input.strip(), 9), {"configurable": {"thread_id": "chat-1"}})
    newest = as_json(db, "log", "chat-1")[0]
    assert graph_input.strip() in newest["text"]
    assert newest["preview"].endswith("…") and len(newest["preview"]) <= 60
    assert newest["text"].startswith(newest["preview"][:-1])
    table = at_80(db, "log", "chat-1", "-n", "1").stdout
    assert "…" in table and graph_input.strip() not in table


def test_switch_notes_undone_tool_calls(tmp_path: Any) -> None:
    path = str(tmp_path / "agent.db")
    booked: list[str] = []
    with AgentGitSaver.from_conn_string(path) as saver:
        agent = _booking_agent(saver, booked)
        config = {"configurable": {"thread_id": "trip"}}
        agent.invoke({"messages": [("user", "hello")]}, config)
        agent.invoke({"messages": [("user", "book TP123")]}, config)
        before = next(s for s in agent.get_state_history(config) if len(s.values["messages"]) == 2)
        saver.rollback(before.config, reverse_tools=True, name="no-flight")
    assert booked == []
    result = runner.invoke(app, ["--db", path, "switch", "1", "main"], env={"AGENTGIT_DB": None})
    assert result.exit_code == 0
    assert result.stdout == "session 1 now on trip (main)\n" or "now on trip" in result.stdout
    assert result.stderr.startswith("note: ") and "book_flight" in result.stderr
    data = json.loads(runner.invoke(app, ["--db", path, "--json", "switch", "1", "main"]).stdout)
    assert len(data["warnings"]) == 1 and "book_flight" in data["warnings"][0]
    quiet = runner.invoke(app, ["--db", path, "switch", "1", "no-flight"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
