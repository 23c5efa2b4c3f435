"""What the wrapper adds to each checkpointer call, read off the SQL it sends.

A put into a thread a session holds sends at most one statement of ours, a
read sent alone (no transaction of its own around it), and none while the
thread was seen held less than `held_recheck_seconds` ago (its first turn:
one owner read and the transaction creating its session, then the same); a rollback never
counts a thread's checkpoints, so its cost does not grow with the thread's
history. Read with SQLite's trace callback, on a SQLite file, sync and async.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from agentgit_langgraph import AgentGitSaver
from tests.graphs import chat_graph_builder, human

COUNT_OF_CHECKPOINTS = "COUNT(*) FROM checkpoints"


def _ours(statements: list[str]) -> list[str]:
    return [s for s in statements if "agentgit_" in s]


def _graph(saver: AgentGitSaver) -> CompiledStateGraph:  # type: ignore[type-arg]
    return chat_graph_builder().compile(checkpointer=saver)


def _check_puts(sent: list[str], recheck: float) -> None:
    """Each put sent one read of ours alone (`recheck` 0), or none (inside the window)."""
    puts = [s for s in sent if s.startswith("INSERT OR REPLACE INTO checkpoints")]
    assert len(puts) >= 3
    assert len(_ours(sent)) == (len(puts) if recheck == 0 else 0)
    assert all(s.startswith("SELECT 1 FROM agentgit_threads") for s in _ours(sent))
    assert not any(s.upper().startswith(("BEGIN", "SAVEPOINT")) for s in _ours(sent))


def _after_new_session(sent: list[str]) -> list[str]:
    """What a new thread's first turn sent after the transaction creating its
    session (which comes first among ours, after one owner read)."""
    begin = sent.index("BEGIN IMMEDIATE")
    end = sent.index("COMMIT", begin)
    before = _ours(sent[:begin])
    assert len(before) == 1 and before[0].startswith("SELECT s.id"), before  # the owner read
    assert any(s.startswith("INSERT INTO agentgit_sessions") for s in sent[begin:end])
    return sent[end + 1 :]


RECHECKS = pytest.mark.parametrize("recheck", [0.0, 60.0])


@RECHECKS
def test_a_put_sends_one_read_of_ours_and_a_rollback_counts_nothing(
    tmp_path: Path, recheck: float
) -> None:
    with AgentGitSaver.from_conn_string(
        str(tmp_path / "a.db"), held_recheck_seconds=recheck
    ) as saver:
        graph = _graph(saver)
        config: RunnableConfig = {"configurable": {"thread_id": "chat"}}
        conn = saver.saver.conn  # type: ignore[attr-defined]
        sent: list[str] = []
        conn.set_trace_callback(sent.append)
        graph.invoke(human("hi", 0), config)
        conn.set_trace_callback(None)
        _check_puts(_after_new_session(sent), recheck)  # the session was read just now
        sent.clear()
        conn.set_trace_callback(sent.append)
        graph.invoke(human("again", 1), config)
        conn.set_trace_callback(None)
        _check_puts(sent, recheck)

        earlier = list(graph.get_state_history(config))[2].config
        sent.clear()
        conn.set_trace_callback(sent.append)
        saver.rollback(earlier)
        conn.set_trace_callback(None)
        assert sent and not any(COUNT_OF_CHECKPOINTS in s for s in sent)


@RECHECKS
async def test_async_a_put_sends_one_read_of_ours_and_a_rollback_counts_nothing(
    tmp_path: Path, recheck: float
) -> None:
    async with AgentGitSaver.afrom_conn_string(
        str(tmp_path / "a.db"), held_recheck_seconds=recheck
    ) as saver:
        graph = _graph(saver)
        config: RunnableConfig = {"configurable": {"thread_id": "chat"}}
        conn = saver.saver.conn  # type: ignore[attr-defined]
        sent: list[str] = []
        await conn.set_trace_callback(sent.append)
        await graph.ainvoke(human("hi", 0), config)
        await conn.set_trace_callback(None)
        _check_puts(_after_new_session(sent), recheck)
        sent.clear()
        await conn.set_trace_callback(sent.append)
        await graph.ainvoke(human("again", 1), config)
        await conn.set_trace_callback(None)
        _check_puts(sent, recheck)

        earlier = [s async for s in graph.aget_state_history(config)][2].config
        sent.clear()
        await conn.set_trace_callback(sent.append)
        await saver.arollback(earlier)
        await conn.set_trace_callback(None)
        assert sent and not any(COUNT_OF_CHECKPOINTS in s for s in sent)
