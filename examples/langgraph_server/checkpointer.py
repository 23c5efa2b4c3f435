"""The checkpointer factory `langgraph.json` names: an `AgentGitSaver` on `$AGENTGIT_DB`.

The LangGraph server calls `make_checkpointer()` and enters the async context
manager it returns once, at startup; every thread the server runs is then a
session (or a branch of one). `AGENTGIT_DB` is a SQLite path or a
`postgresql://` URI (the `postgres` extra). `AgentGitSaver` overrides
`adelete_thread`, `acopy_thread`, `adelete_for_runs` and `aprune`, so the
server's capability check finds the fast paths and deleting, copying and
pruning threads keep the sessions' counts exact.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agentgit_langgraph import AgentGitSaver


@asynccontextmanager
async def make_checkpointer() -> AsyncIterator[AgentGitSaver]:
    async with AgentGitSaver.afrom_conn_string(os.environ["AGENTGIT_DB"]) as saver:
        yield saver
