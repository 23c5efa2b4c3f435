"""Undo tool side effects on rollback: a travel agent books flights and logs expenses.

`book_flight` writes a booking file and `add_expense` inserts a row into a
SQLite table; each is declared with the handler that undoes it. Rolling back
with `reverse_tools=True` runs those handlers, newest first, for every call the
agent made after the chosen checkpoint, so the files and the table are back to
what they were there, and records what it did.

Run:  python examples/tool_reversal.py   (no API key: the model is scripted)
"""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from pydantic import PrivateAttr

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.reversal import reversers_from, reversible_tool

# -- a deterministic chat model: human text -> the tool calls it makes --------

SCRIPT: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "Book me a flight to Lisbon": [
        ("book_flight", {"destination": "Lisbon", "date": "2025-06-01"}),
        ("add_expense", {"item": "flight to Lisbon", "amount": 120.0}),
    ],
    "Then on to Porto, please": [
        ("book_flight", {"destination": "Porto", "date": "2025-06-04"}),
        ("add_expense", {"item": "flight to Porto", "amount": 60.0}),
    ],
    "And log the hotel": [("add_expense", {"item": "hotel in Lisbon", "amount": 300.0})],
}


class ScriptedChatModel(BaseChatModel):
    """Makes the tool calls `SCRIPT` lists for a human turn (in parallel, in one
    message); once the results are back, or for any other turn, just answers."""

    _ids: Any = PrivateAttr(default_factory=lambda: itertools.count(1))

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        last = messages[-1]
        calls = SCRIPT.get(str(last.content), []) if isinstance(last, HumanMessage) else []
        if calls:
            reply = AIMessage(
                content="",
                tool_calls=[
                    {"name": name, "args": args, "id": f"call_{next(self._ids)}"}
                    for name, args in calls
                ],
            )
        else:
            reply = AIMessage(content="All done.")
        return ChatResult(generations=[ChatGeneration(message=reply)])


# -- tools with real side effects, and their undo ------------------------------


def make_tools(workdir: Path) -> list[BaseTool]:
    bookings = workdir / "bookings"
    bookings.mkdir(exist_ok=True)
    ledger = workdir / "ledger.db"
    with sqlite3.connect(ledger) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS expenses (id INTEGER PRIMARY KEY, item TEXT, amount REAL)"
        )
    conn.close()

    def cancel_booking(args: dict[str, Any], result: str) -> None:
        # `result` is what the tool returned: here, the booking file's name.
        (bookings / result).unlink(missing_ok=True)

    def delete_expense(args: dict[str, Any], result: str, artifact: int) -> None:
        # A third parameter receives the ToolMessage's artifact: the row id.
        with sqlite3.connect(ledger) as conn:
            conn.execute("DELETE FROM expenses WHERE id = ?", (artifact,))
        conn.close()

    @reversible_tool(undo=cancel_booking)
    def book_flight(destination: str, date: str) -> str:
        """Book a flight; returns the booking reference."""
        name = f"{destination.lower()}-{date}.txt"
        (bookings / name).write_text(f"Flight to {destination} on {date}\n")
        return name

    @reversible_tool(undo=delete_expense, response_format="content_and_artifact")
    def add_expense(item: str, amount: float) -> tuple[str, int]:
        """Log an expense in the trip's ledger."""
        with sqlite3.connect(ledger) as conn:
            row_id = conn.execute(
                "INSERT INTO expenses (item, amount) VALUES (?, ?)", (item, amount)
            ).lastrowid
        conn.close()
        assert row_id is not None
        return f"logged {item}: {amount:.2f}", row_id

    return [book_flight, add_expense]


def build_graph(tools: list[BaseTool]) -> StateGraph[Any]:
    model = ScriptedChatModel()

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder: StateGraph[Any] = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder


def show_world(title: str, workdir: Path) -> None:
    files = sorted(p.name for p in (workdir / "bookings").iterdir())
    with sqlite3.connect(workdir / "ledger.db") as conn:
        rows = conn.execute("SELECT id, item, amount FROM expenses ORDER BY id").fetchall()
    conn.close()
    print(f"\n{title}")
    print(f"  bookings: {files}")
    print(f"  expenses: {rows}")


def main(workdir: Path) -> None:
    tools = make_tools(workdir)
    db = str(workdir / "agent.db")
    with AgentGitSaver.from_conn_string(db, reversers=reversers_from(tools)) as saver:
        graph = build_graph(tools).compile(checkpointer=saver)

        config: RunnableConfig = {"configurable": {"thread_id": "trip"}}
        graph.invoke({"messages": [HumanMessage("Book me a flight to Lisbon")]}, config)
        after_lisbon = graph.get_state(config)  # the checkpoint to come back to
        for text in ("Then on to Porto, please", "And log the hotel"):
            graph.invoke({"messages": [HumanMessage(text)]}, config)
        show_world("After three turns:", workdir)

        # Back to just after the Lisbon booking, undoing what the tools did since.
        branch = saver.rollback(after_lisbon.config, reverse_tools=True, name="no-porto")
        show_world("After the rollback (as right after the Lisbon booking):", workdir)

        print("\nReversal records, in the order the handlers ran (newest call first):")
        for rec in saver.reversals("trip"):
            print(f"  {rec.tool_call_id}: {rec.tool_name}({rec.args}) -> {rec.status}")

        # Rolling back past the same calls again undoes nothing twice.
        saver.rollback(after_lisbon.config, reverse_tools=True)
        show_world("After a second rollback to the same place (unchanged):", workdir)

        graph.invoke({"messages": [HumanMessage("Take the train to Porto instead")]}, branch)
        print(
            f"\nBranch 'no-porto' goes on: {graph.get_state(branch).values['messages'][-1].content}"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(Path(tmp))
