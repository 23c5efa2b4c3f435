"""A long-lived worker process serving graph calls for `test_isolation_processes.py`.

`serve(conn_string, mode, inbox, outbox)` opens `AgentGitSaver.from_conn_string`
(or `afrom_conn_string` with `mode="async"`) once, like a web worker, and
answers commands from `inbox` until it gets None:

    ("invoke", thread_id, user_id, text, n) -> message contents after the turn
    ("state", thread_id, user_id)           -> message contents of the thread
    ("delete", thread_id, user_id)          -> ids deleted with the thread's session

Each answer is ("ok", value) or ("error", exception class name).
"""

from __future__ import annotations

import asyncio
import multiprocessing.queues
from typing import Any

from agentgit_langgraph import AgentGitSaver
from tests.graphs import chat_graph_builder, contents, human

__all__ = ["serve"]


def _config(thread_id: str, user_id: int) -> Any:
    return {"configurable": {"thread_id": thread_id, "user_id": user_id}}


def _handle(saver: AgentGitSaver, graph: Any, cmd: tuple[Any, ...]) -> Any:
    kind, thread_id, user_id, *rest = cmd
    if kind == "invoke":
        text, n = rest
        return contents(graph.invoke(human(text, n), _config(thread_id, user_id)))
    if kind == "state":
        return contents(graph.get_state(_config(thread_id, user_id)).values)
    session = saver.session_for_thread(thread_id, user_id=user_id)
    return saver.delete_session(session.id, user_id=user_id)


async def _ahandle(saver: AgentGitSaver, graph: Any, cmd: tuple[Any, ...]) -> Any:
    kind, thread_id, user_id, *rest = cmd
    if kind == "invoke":
        text, n = rest
        return contents(await graph.ainvoke(human(text, n), _config(thread_id, user_id)))
    if kind == "state":
        return contents((await graph.aget_state(_config(thread_id, user_id))).values)
    session = await saver.asession_for_thread(thread_id, user_id=user_id)
    return await saver.adelete_session(session.id, user_id=user_id)


def serve(
    conn_string: str,
    mode: str,
    inbox: multiprocessing.queues.Queue[Any],
    outbox: multiprocessing.queues.Queue[Any],
) -> None:
    if mode == "async":
        asyncio.run(_aserve(conn_string, inbox, outbox))
        return
    with AgentGitSaver.from_conn_string(conn_string) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        outbox.put(("ok", "ready"))
        while (cmd := inbox.get()) is not None:
            try:
                outbox.put(("ok", _handle(saver, graph, cmd)))
            except Exception as exc:
                outbox.put(("error", type(exc).__name__))


async def _aserve(
    conn_string: str,
    inbox: multiprocessing.queues.Queue[Any],
    outbox: multiprocessing.queues.Queue[Any],
) -> None:
    async with AgentGitSaver.afrom_conn_string(conn_string) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        outbox.put(("ok", "ready"))
        while (cmd := await asyncio.to_thread(inbox.get)) is not None:
            try:
                outbox.put(("ok", await _ahandle(saver, graph, cmd)))
            except Exception as exc:
                outbox.put(("error", type(exc).__name__))
