"""LangGraph's own spellings (`langgraph._internal._constants`), kept here so a
change in a private module cannot break us, and so each is written once."""

from __future__ import annotations

NS_SEP = "|"
"""Joins the levels of a nested checkpoint namespace."""
NS_END = ":"
"""Separates a node name from its task id in a namespace level."""
NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"
"""Task id of writes not made by a task (graph input, `update_state`, `Command`)."""
BRANCH_PREFIX = "branch:to:"
"""Channels that trigger a node."""
TASKS_CHANNEL = "__pregel_tasks"
"""Channel holding pending `Send`s."""
INTERRUPT = "__interrupt__"
RESUME = "__resume__"
RETURN = "__return__"
"""Where a Functional API `@task` writes its result."""
SOURCES_FORKED = ("update", "fork")
"""Checkpoint sources LangGraph writes outside a step (`update_state`, a replay's fork)."""


def stable_namespace(ns: str) -> str:
    """`ns` with the task ids removed: where a `checkpointer=True` subgraph keeps
    its history (`Pregel._own_checkpoint_config`; numeric parts are kept)."""
    return NS_SEP.join(part.split(NS_END)[0] for part in ns.split(NS_SEP)) if ns else ""
