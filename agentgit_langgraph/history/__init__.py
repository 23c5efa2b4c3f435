"""Reading a session's history: log, tags and refs, diff, tree and Mermaid.

Every method here is a read (except `tag`/`untag`, which only touch the store)
and has an `a…` async twin sharing one plan (see `_plan.py`). The modules:

* `records.py`: `LogEntry`, `Diff` and its parts (frozen dataclasses).
* `render.py`: previews of values and checkpoints, and `to_json`, the one
  conversion of records and channel values to JSON values (the CLI's too).
* `log.py`: the log walk. `log` walks a branch newest first and continues
  through the threads it was rolled back from, so a branch's log reads like
  `git log`: its own checkpoints, then the history it inherited.
* `refs.py`: `tag`/`tags`/`untag`, and the one ref resolver: `resolve` turns a
  tag, branch name, thread id or checkpoint id into a config for `rollback`,
  `log` or `diff`; `find_thread` turns a branch name or thread id into a thread.
* `diff.py`: compares the channel values of two checkpoints, on any branches.
* `tree.py`: `TreeNode`/`SessionTree` and `tree_data`, built from the session
  store and one `list()` of each thread (for in-thread forks and stats);
  `draw.py`: `tree`/`mermaid` text.
* `forks.py`: the lines of a thread forked in place by LangGraph's time
  travel, named with the SDK's branch ids.
* `stats.py`: `BranchStats`/`SessionStats`, what each branch added.
* `show.py`: `CheckpointView`, one checkpoint as a person reads it.
* `points.py`: the config checks and checkpoint lookups the plans share.
* `service.py`: `History`, the service an `AgentGitSaver` owns as `history`:
  one `twins` line per plan (`log, alog = twins(log_plan)`).

Example:
    ```python
    saver.tag(history[3].config, "before-booking")
    for entry in saver.log(session_id, limit=5):
        print(entry.step, entry.preview)
    branch = saver.rollback(saver.resolve(session_id, "before-booking"), name="retry")
    print(saver.tree(session_id))
    print(saver.diff(saver.resolve(session_id, "main"), branch).render())
    ```
"""

from __future__ import annotations

from agentgit_langgraph.history.draw import MermaidText, TreeText, render_mermaid, render_tree
from agentgit_langgraph.history.records import ChannelChange, Diff, LogEntry, MessagesDiff
from agentgit_langgraph.history.refs import RefNotFoundError, find_thread
from agentgit_langgraph.history.render import _value_preview as _value_preview
from agentgit_langgraph.history.render import render_log, to_json
from agentgit_langgraph.history.service import History
from agentgit_langgraph.history.show import CheckpointView
from agentgit_langgraph.history.stats import BranchStats, SessionStats
from agentgit_langgraph.history.tree import SessionTree, TreeNode, TreeTag

__all__ = [
    "BranchStats",
    "ChannelChange",
    "CheckpointView",
    "Diff",
    "History",
    "LogEntry",
    "MermaidText",
    "MessagesDiff",
    "RefNotFoundError",
    "SessionStats",
    "SessionTree",
    "TreeNode",
    "TreeTag",
    "TreeText",
    "find_thread",
    "render_log",
    "render_mermaid",
    "render_tree",
    "to_json",
]
