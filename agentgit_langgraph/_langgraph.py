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
