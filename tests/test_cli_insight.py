"""The `agentgit` commands for branch insight: `status`, `stats`, `show`, `rollback --intent`,
`tree --stats`, `log --fork`, on the database tests/test_cli.py prepares."""

from __future__ import annotations

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.history import to_json
from tests.test_cli import Prepared, as_json, db, failed, ok, snapshot, template

__all__ = ["db", "template"]  # the fixtures, shared with tests/test_cli.py


def test_status_and_intent_through_the_cli(db: Prepared) -> None:
    made = as_json(db, "rollback", str(db.session), db.retry_from, "--intent", "try the bus")
    assert made["intent"] == "try the bus"
    new = made["thread_id"]
    marked = as_json(db, "status", db.retry_thread, "abandoned", "--reason", "too slow")
    assert (marked["status"], marked["status_reason"]) == ("abandoned", "too slow")
    assert ok(db, "status", new, "kept").strip() == f"thread {new}: kept"

    threads = {t["thread_id"]: t for t in as_json(db, "branches", str(db.session))}
    assert (threads[db.retry_thread]["status"], threads[db.retry_thread]["intent"]) == (
        "abandoned",
        None,
    )
    assert (threads[new]["status"], threads[new]["intent"]) == ("kept", "try the bus")
    assert threads["chat-1"]["status"] == "active"
    table = ok(db, "branches", str(db.session))
    assert "abandoned: too slow" in table and "try the bus" in table

    tree = as_json(db, "tree", str(db.session))
    kids = {c["thread_id"]: c for c in tree["roots"][0]["children"]}
    assert kids[db.retry_thread]["status_reason"] == "too slow"
    assert kids[new]["intent"] == "try the bus"
    text = ok(db, "tree", str(db.session))
    assert "[abandoned: too slow]" in text and "intent: try the bus" in text


def test_bad_status_is_refused_and_changes_nothing(db: Prepared) -> None:
    before = snapshot(db)
    assert "active, kept, abandoned" in failed(db, "status", db.retry_thread, "finished")
    assert "nope" in failed(db, "status", "nope", "kept")
    assert snapshot(db) == before


def test_another_user_cannot_mark_a_branch(db: Prepared) -> None:
    before = snapshot(db)
    assert "does not own" in failed(db, "--user", "2", "status", db.retry_thread, "kept")
    assert "does not own" in failed(db, "--user", "2", "stats", db.retry_thread)
    assert "does not own" in failed(db, "--user", "2", "show", f"{db.session}:retry")
    assert snapshot(db) == before


def test_stats_json_is_the_api(db: Prepared) -> None:
    with AgentGitSaver.from_conn_string(db.db) as saver:
        session = saver.stats(session_id=db.session).to_dict()
        branch = saver.stats(db.retry_thread).to_dict()
    assert as_json(db, "stats", "--session", str(db.session)) == session
    assert as_json(db, "stats", db.retry_thread) == branch
    assert session["total"]["model_calls"] == 5  # three turns on chat-1, one per branch
    table = ok(db, "stats", "--session", str(db.session))
    assert "total" in table and db.retry_thread in table
    assert "thread_id or a session_id" in failed(db, "stats")
    # `branches --stats`: the same figures where the branches are listed
    assert ok(db, "branches", str(db.session), "--stats") == table
    assert as_json(db, "branches", str(db.session), "--stats") == session


def test_tree_with_stats(db: Prepared) -> None:
    text = ok(db, "tree", str(db.session), "--stats")
    assert "3 model calls" in text and text.count("1 model call,") == 2
    data = as_json(db, "tree", str(db.session), "--stats")
    assert data["roots"][0]["stats"]["model_calls"] == 3
    mermaid = ok(db, "tree", str(db.session), "--mermaid", "--stats")
    assert 'commit id: "main head  3 model calls,' in mermaid


def test_show(db: Prepared) -> None:
    with AgentGitSaver.from_conn_string(db.db) as saver:
        view = saver.show("retry", session_id=db.session)
    assert as_json(db, "show", f"{db.session}:retry") == to_json(view.to_dict())
    text = ok(db, "show", f"{db.session}:retry")
    assert "human: Take the train" in text and view.checkpoint_id in text
    head = as_json(db, "show", db.retry_thread)
    assert head["checkpoint_id"] == view.checkpoint_id
    current = as_json(db, "show", str(db.session))
    assert current["thread_id"] == db.unnamed_thread


def test_log_follows_a_fork(db: Prepared) -> None:
    whole = as_json(db, "log", db.retry_thread)
    assert as_json(db, "log", db.retry_thread, "--fork", "") == whole
    assert "no fork" in failed(db, "log", db.retry_thread, "--fork", "x>y")
