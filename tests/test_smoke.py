from tests.graphs import chat_graph_builder, contents, human


def test_chat_rollback_smoke(backend):
    with backend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "smoke"}}
        for n in range(3):
            graph.invoke(human(f"hi {n}", n), config)
        history = list(graph.get_state_history(config))
        target = history[3]
        branch = saver.rollback(target.config)
        assert contents(graph.get_state(branch).values) == contents(target.values)


async def test_chat_rollback_smoke_async(abackend):
    async with abackend.open() as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "smoke"}}
        for n in range(3):
            await graph.ainvoke(human(f"hi {n}", n), config)
        history = [s async for s in graph.aget_state_history(config)]
        target = history[3]
        branch = await saver.arollback(target.config)
        assert contents((await graph.aget_state(branch)).values) == contents(target.values)
