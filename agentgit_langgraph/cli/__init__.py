"""`agentgit`: inspect and steer the sessions of an agent from the shell.

The command line opens the same database the agent uses (a SQLite file or a
`postgresql://` URI, from `--db` or `AGENTGIT_DB`) through
`AgentGitSaver.from_conn_string` and calls the saver's methods: every command
is a thin layer over the Python API, so what it prints is what the API returns.

Example:
    ```bash
    export AGENTGIT_DB=agent.db
    agentgit sessions                       # every session, one row each
    agentgit tree 1                         # session 1's branches as a tree
    agentgit log 1 --limit 5                # its current branch, newest first
    agentgit rollback 1 before-booking --name retry  # a new branch at a tag
    agentgit --json branches 1 | jq .       # any read command as JSON
    agentgit stats --session 1              # tokens, model and tool calls per branch
    agentgit status THREAD abandoned --reason "too slow"
    agentgit ui --db agent.db               # the web viewer on 127.0.0.1:8765
    ```

Exit codes: 0 on success, 1 when the operation failed (an `AgentGitError`, a
database that cannot be opened; one `error: ...` line on stderr, no
traceback), 2 for usage errors.
"""

from __future__ import annotations

from agentgit_langgraph.cli import changing, insight, reading, ui
from agentgit_langgraph.cli.app import app, main

__all__ = ["app", "main"]

# Importing the command groups registers their commands on `app`.
_COMMAND_GROUPS = (reading, changing, insight, ui)
