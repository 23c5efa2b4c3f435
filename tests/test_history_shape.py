"""The shape of `agentgit_langgraph.history`: the typed tree, the one JSON
conversion and the one thread resolver the CLI shares, and the old names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from agentgit_langgraph import ExternalSession, InternalSession, Tag, ThreadNotFoundError
from agentgit_langgraph.history import (
    RefNotFoundError,
    SessionTree,
    TreeNode,
    find_thread,
    render_mermaid,
    render_tree,
    to_json,
)
from agentgit_langgraph.history.render import session_json
from agentgit_langgraph.history.tree import _build_tree
from tests.conftest import Backend
from tests.test_history import Api, build, run_sync

# -- the typed tree --------------------------------------------------------------------


async def check_tree_record_is_tree_data(api: Api) -> None:
    w = await build(api)
    data = await api("tree_data", w.sid)
    tree = SessionTree.from_dict(data)
    assert isinstance(tree.roots[0], TreeNode)
    assert tree.to_dict() == data
    assert render_tree(tree) == render_tree(data) == await api("tree", w.sid)
    assert render_mermaid(tree) == render_mermaid(data) == await api("mermaid", w.sid)


def test_tree_record_is_tree_data(backend: Backend) -> None:
    run_sync(backend, check_tree_record_is_tree_data)


def _thread(thread_id: str, parent: str | None = None, name: str | None = None) -> InternalSession:
    return InternalSession(
        thread_id, 1, parent, "1f0" if parent else None, name, datetime(2025, 1, 1, tzinfo=UTC)
    )


def test_tree_nodes_are_frozen_and_nested() -> None:
    session = ExternalSession(id=1, current_internal_session_id="b-thread")
    threads = [_thread("b-thread", "a-thread", "retry"), _thread("a-thread")]  # any order
    tags = [Tag(1, "start", "a-thread", "1f0")]
    tree = _build_tree(session, threads, tags)
    (root,) = tree.roots
    (child,) = root.children
    assert (root.label, child.label, child.is_current) == ("main", "retry", True)
    assert [t.name for t in root.tags] == ["start"]
    with pytest.raises(AttributeError):
        root.label = "x"  # type: ignore[misc]
    assert json.loads(json.dumps(tree.to_dict())) == tree.to_dict()
    assert tree.to_dict()["roots"][0]["created_at"] == "2025-01-01T00:00:00+00:00"


def test_a_long_chain_of_branches_builds_without_recursion() -> None:
    threads = [_thread("t0")] + [_thread(f"t{i}", f"t{i - 1}") for i in range(1, 3000)]
    tree = _build_tree(ExternalSession(id=1), threads, [])
    node, depth = tree.roots[0], 0
    while node.children:
        (node,) = node.children
        depth += 1
    assert depth == 2999


# -- one JSON conversion ------------------------------------------------------------


@dataclass
class _Plain:
    when: datetime
    items: set[int]


def test_to_json() -> None:
    session = ExternalSession(id=3, session_name="s")
    # A session speaks the package's words; agentgit's stay on its own to_dict().
    assert to_json(session) == to_json(session_json(session))
    assert to_json(session)["session_id"] == session.to_dict()["id"] == 3
    when = datetime(2025, 1, 1, tzinfo=UTC)
    assert to_json(_Plain(when, {1})) == {"when": when.isoformat(), "items": [1]}
    assert to_json(HumanMessage("hi", id="m1")) == {"type": "human", "content": "hi", "id": "m1"}
    call = {"name": "book", "args": {}, "id": "c1", "type": "tool_call"}
    assert to_json(AIMessage("", id="m2", tool_calls=[call]))["tool_calls"][0]["name"] == "book"
    assert to_json({1: (None, True, 1.5)}) == {"1": [None, True, 1.5]}
    assert to_json(object).startswith("<class")  # anything else: its repr


# -- one thread resolver -----------------------------------------------------------------


def test_find_thread() -> None:
    threads = [
        _thread("aaaa1111"),
        _thread("aaaa2222", "aaaa1111", "retry"),
        _thread("bbbb3333", "aaaa1111", "aaaa1111"),  # a branch named like a thread id
    ]
    assert find_thread(threads, "retry", 1).thread_id == "aaaa2222"
    assert find_thread(threads, "aaaa1111", 1).thread_id == "bbbb3333"  # names first
    assert find_thread(threads, "main", 1).thread_id == "aaaa1111"
    assert find_thread(threads, "bbbb…", 1).thread_id == "bbbb3333"
    with pytest.raises(RefNotFoundError, match="ambiguous in session 1"):
        find_thread(threads, "aaaa", 1)
    with pytest.raises(ThreadNotFoundError, match="no thread, branch or tag named 'bbb'") as err:
        find_thread(threads, "bbb", 1)  # too short to be a prefix
    assert "at least 4 characters" in str(err.value)
    with pytest.raises(ThreadNotFoundError):
        find_thread(threads, "before-booking", 1)  # a tag, when the session's are not given


# -- the names history had as one module ---------------------------------------------


def test_public_names_still_import() -> None:
    from agentgit_langgraph.history import (  # noqa: F401
        Diff,
        History,
        LogEntry,
        RefNotFoundError,
        _value_preview,
    )

    with pytest.raises(ImportError):
        from agentgit_langgraph.history import _no_such_name  # noqa: F401
