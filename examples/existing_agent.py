"""An existing tool-calling agent gains sessions and branches: one line changes.

`build_agent` below is an ordinary LangGraph agent (a model node, a `ToolNode`,
`tools_condition`), written with no knowledge of agentgit. The only change is
the checkpointer handed to it: `AgentGitSaver(InMemorySaver())` instead of
`InMemorySaver()`. Sessions are then created on their own (`auto_session`), and
any checkpoint can be branched from.

Run:  python examples/existing_agent.py   (no API key: the model is scripted)
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.testing import ScriptedToolModel

# -- the existing agent: nothing here knows about agentgit ---------------------


@tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return {"Lisbon": "sunny, 24°C", "Porto": "cloudy, 19°C"}.get(city, "no data")


@tool
def search_flights(destination: str) -> str:
    """Flights to a destination, cheapest first."""
    return {"Lisbon": "TP1351 at 120 EUR", "Porto": "FR8354 at 45 EUR"}.get(destination, "none")


def build_agent(model: BaseChatModel, checkpointer: Any) -> Any:
    tools = [get_weather, search_flights]
    llm = model.bind_tools(tools)

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [llm.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer)


SCRIPT = {
    "How is the weather in Lisbon?": [("get_weather", {"city": "Lisbon"})],
    "Find me a flight there": [("search_flights", {"destination": "Lisbon"})],
    "What about Porto instead?": [
        ("get_weather", {"city": "Porto"}),
        ("search_flights", {"destination": "Porto"}),
    ],
}


def user_turns(snapshot: Any) -> int:
    return sum(isinstance(m, HumanMessage) for m in snapshot.values.get("messages", []))


def last_reply(agent: Any, config: Any) -> str:
    return str(agent.get_state(config).values["messages"][-1].content)


def main() -> None:
    # Before:  agent = build_agent(model, InMemorySaver())
    agent = build_agent(ScriptedToolModel(script=SCRIPT), AgentGitSaver(InMemorySaver()))
    saver: AgentGitSaver = agent.checkpointer  # the wrapper, to reach the sessions API

    config = {"configurable": {"thread_id": "customer-42"}}
    for text in ("How is the weather in Lisbon?", "Find me a flight there"):
        agent.invoke({"messages": [HumanMessage(text)]}, config)
        print(f"user: {text}\n  agent: {last_reply(agent, config)}")

    # No session code ran, yet the thread belongs to a session.
    session = saver.session_for_thread("customer-42")
    print(
        f"\nsession {session.id} ({session.session_name}): {session.total_checkpoints} checkpoints"
    )

    # Back to just after the weather answer, and ask something else there.
    after_weather = next(
        s
        for s in agent.get_state_history(config)  # newest first
        if s.next == () and user_turns(s) == 1  # the first turn, finished
    )
    branch = saver.rollback(after_weather.config, name="porto")
    agent.invoke({"messages": [HumanMessage("What about Porto instead?")]}, branch)
    print(f"\nbranch 'porto': {last_reply(agent, branch)}")
    print(f"main, untouched: {last_reply(agent, config)}")

    print("\n" + saver.tree(session.id))
    print("\nlog of the branch:")
    for entry in saver.log(branch, limit=6):
        print(f"  step {entry.step:>2}  {entry.preview}")
    print("\nget_branch_info():", saver.get_session(session.id).get_branch_info())

    assert "TP1351" in last_reply(agent, config)
    assert "FR8354" in last_reply(agent, branch)


if __name__ == "__main__":
    main()
