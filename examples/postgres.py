"""The quick-start flow on PostgreSQL: sessions and branches that outlive the process.

`AgentGitSaver.from_conn_string("postgresql://...")` opens LangGraph's
`PostgresSaver` and the session store on one connection pool and creates the
tables on first use. To leave the database as it found it, this demo works in
a schema of its own (`search_path` in the URI), created first and dropped at
the end.

Needs the `postgres` extra (`pip install "agentgit-langgraph[postgres]"`) and a
server: `AGENTGIT_TEST_POSTGRES_URI`, default
`postgresql://postgres@127.0.0.1:5432/postgres`.

Run:  python examples/postgres.py   (no API key: the model is a deterministic fake)
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, MessagesState, StateGraph

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.testing import EchoChatModel

POSTGRES_URI = os.environ.get(
    "AGENTGIT_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def build_graph() -> StateGraph[Any]:
    model = EchoChatModel()

    def chat(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder: StateGraph[Any] = StateGraph(MessagesState)
    builder.add_node("chat", chat)
    builder.add_edge(START, "chat")
    builder.add_edge("chat", END)
    return builder


@contextmanager
def throwaway_schema(uri: str) -> Iterator[str]:
    """A URI whose `search_path` is a fresh schema; the schema is dropped on exit."""
    import psycopg

    schema = f"agentgit_demo_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in uri else "?"
        yield f"{uri}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def last_reply(graph: Any, config: Any) -> str:
    return str(graph.get_state(config).values["messages"][-1].content)


def main(uri: str) -> None:
    builder = build_graph()
    config = {"configurable": {"thread_id": "trip", "user_id": 7}}

    # First process: chat, roll back, go on on the branch.
    with AgentGitSaver.from_conn_string(uri) as saver:
        graph = builder.compile(checkpointer=saver)
        for text in ("Plan a trip to Lisbon", "Book the cheapest flight"):
            graph.invoke({"messages": [HumanMessage(text)]}, config)
        first_answer = next(
            s for s in graph.get_state_history(config) if len(s.values.get("messages", [])) == 2
        )
        branch = saver.rollback(first_answer.config, name="train")
        graph.invoke({"messages": [HumanMessage("Take the train instead")]}, branch)
        print("main:  ", last_reply(graph, config))
        print("branch:", last_reply(graph, branch))

    # Later, new connections: everything is still there.
    with AgentGitSaver.from_conn_string(uri) as saver:
        graph = builder.compile(checkpointer=saver)
        (session,) = saver.list_sessions(user_id=7)
        print(f"\nreopened: session {session.id} of user {session.user_id}")
        print("get_branch_info():", session.get_branch_info())
        print(saver.tree(session.id))
        current = saver.config_for(session)  # the current branch: 'train'
        graph.invoke({"messages": [HumanMessage("And a hotel in Porto")]}, current)
        print("\ncurrent branch goes on:", last_reply(graph, current))
        assert last_reply(graph, config).endswith("(#2)")  # main untouched
        session = saver.get_session(session.id)
        print("total_checkpoints:", session.total_checkpoints)
        assert session.total_checkpoints == sum(b.checkpoint_count for b in saver.branches(session))


if __name__ == "__main__":
    try:
        import psycopg

        psycopg.connect(POSTGRES_URI, connect_timeout=3).close()
    except Exception as exc:  # ImportError or an unreachable server
        sys.exit(f"needs psycopg and a PostgreSQL server at {POSTGRES_URI}: {exc}")
    with throwaway_schema(POSTGRES_URI) as demo_uri:
        main(demo_uri)
