from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph._plan import Plan, call
from tests.conftest import AsyncBackend, Run
from tests.graphs import chat_graph_builder, contents, human
from tests.plans import get_state, history, invoke, on


def chat_rollback(saver: AgentGitSaver) -> Plan[None]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "smoke"}}
    for n in range(3):
        yield from invoke(graph, human(f"hi {n}", n), config)
    target = (yield from history(graph, config))[3]
    branch = yield from call(AgentGitSaver.rollback, target.config)
    assert contents((yield from get_state(graph, branch)).values) == contents(target.values)


async def test_chat_rollback_smoke(run: Run, run_backend: AsyncBackend) -> None:
    async with run_backend.open() as saver:
        await run(chat_rollback(saver), on(saver))
