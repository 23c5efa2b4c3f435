"""`History`: the history service an `AgentGitSaver` owns (`saver.history`).

Each pair runs one plan function (see `_plan.twins`) that carries the public
signature and docstring: `log_plan` (`log.py`), `tag_plan`/`tags_plan`/
`untag_plan`/`resolve_plan` (`refs.py`), `diff_plan` (`diff.py`),
`tree_data_plan` (`tree.py`), `tree_plan`/`mermaid_plan` (`draw.py`),
`stats_plan` (`stats.py`), `show_plan` (`show.py`). The
saver's flat methods (`log`, `tag`, `diff`, `tree`, ...) run the same plans.

Example:
    ```python
    entries = await saver.history.alog(session_id, limit=5)   # as saver.alog(...)
    ```
"""

from __future__ import annotations

from agentgit_langgraph._context import Service
from agentgit_langgraph._plan import twins
from agentgit_langgraph.history.diff import diff_plan
from agentgit_langgraph.history.draw import mermaid_plan, tree_plan
from agentgit_langgraph.history.log import log_plan
from agentgit_langgraph.history.refs import resolve_plan, tag_plan, tags_plan, untag_plan
from agentgit_langgraph.history.show import show_plan
from agentgit_langgraph.history.stats import stats_plan
from agentgit_langgraph.history.tree import tree_data_plan

__all__ = ["History"]


class History(Service):
    """History of the sessions of one `AgentGitSaver` (its `history`); see the plans."""

    log, alog = twins(log_plan)
    tag, atag = twins(tag_plan)
    tags, atags = twins(tags_plan)
    untag, auntag = twins(untag_plan)
    resolve, aresolve = twins(resolve_plan)
    diff, adiff = twins(diff_plan)
    tree_data, atree_data = twins(tree_data_plan)
    tree, atree = twins(tree_plan)
    mermaid, amermaid = twins(mermaid_plan)
    stats, astats = twins(stats_plan)
    show, ashow = twins(show_plan)
