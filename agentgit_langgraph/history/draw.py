"""Drawing a session's tree: text (`render_tree`) and Mermaid (`render_mermaid`).

Both take a `SessionTree` (`tree.py`) or its `to_dict()` form; `tree_plan`
and `mermaid_plan` read the session and draw it (the saver's `tree` and
`mermaid`).

Example:
    ```python
    print(saver.tree(session_id))
    text = saver.mermaid(session_id)   # inside a ```mermaid block
    ```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agentgit_langgraph._plan import Plan
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.history.render import _ELLIPSIS
from agentgit_langgraph.history.stats import BranchStats
from agentgit_langgraph.history.tree import SessionTree, TreeNode, as_tree, session_tree_plan
from agentgit_langgraph.sessions import ExternalSession

__all__ = ["MermaidText", "TreeText", "mermaid_plan", "render_mermaid", "render_tree", "tree_plan"]


class TreeText(str):
    """The text tree (`saver.tree()`): a `str` that a notebook shows as a code
    block rather than a quoted string with `\\n`s.

    Example:
        ```python
        saver.tree(session_id)          # the last line of a cell: drawn
        print(saver.tree(session_id))   # the same text
        ```
    """

    __slots__ = ()

    def _repr_markdown_(self) -> str:
        return f"```\n{self}\n```"


class MermaidText(str):
    """Mermaid `gitGraph` text (`saver.mermaid()`): a `str` that a notebook
    renders as the graph (JupyterLab 4.1+, and GitHub's notebook view).

    Example:
        ```python
        saver.mermaid(session_id)       # the last line of a cell: the drawing
        print(saver.mermaid(session_id))  # the text, for any Markdown file
        ```
    """

    __slots__ = ()

    def _repr_markdown_(self) -> str:
        return f"```mermaid\n{self}\n```"


# -- text ------------------------------------------------------------------------


def _node_line(node: TreeNode) -> str:
    parts: list[str] = []
    if node.label:
        parts.append(node.label)
    parts.append(node.short_id)
    if node.parent_thread_id:
        origin = f"from {node.short_parent_id}@{node.short_branch_checkpoint_id}"
        if node.branch_step is not None:
            origin += f" (step {node.branch_step})"
        parts.append(origin)
    count = node.checkpoint_count
    parts.append(f"({count} checkpoint{'' if count == 1 else 's'})")
    if node.tags:
        parts.append("tags: " + ", ".join(t.name for t in node.tags))
    parts.extend(_decision_parts(node))
    if node.is_current:
        parts.append("*")
    return "  ".join(parts)


def _decision_parts(node: TreeNode) -> list[str]:
    """What became of a branch, why it was opened, what it cost: the text tree's and
    the Mermaid heads' words (`[abandoned: too slow]`, `intent: ...`, stats)."""
    parts: list[str] = []
    if node.status != "active":  # the default goes unsaid
        parts.append(
            f"[{node.status}" + (f": {node.status_reason}]" if node.status_reason else "]")
        )
    if node.intent:
        parts.append(f"intent: {node.intent}")
    if node.stats is not None:
        parts.append(_stats_text(node.stats))
    return parts


def _stats_text(stats: BranchStats) -> str:
    """`3 model calls, 1,234 tokens, 2 tool calls, 4.2s`: one tree line's worth."""
    calls = sum(stats.tool_calls.values())
    return (
        f"{stats.model_calls} model call{'' if stats.model_calls == 1 else 's'}, "
        f"{stats.total_tokens:,} tokens, {calls} tool call{'' if calls == 1 else 's'}, "
        f"{stats.wall_time_s:.1f}s"
    )


def render_tree(data: SessionTree | Mapping[str, Any]) -> TreeText:
    """The text tree of a session (what `tree()` returns).

    Takes the typed tree or `tree_data`'s JSON form.

    Example:
        ```python
        print(render_tree(saver.tree_data(session_id)))
        ```
    """
    lines: list[str] = []

    def walk(node: TreeNode, prefix: str) -> None:
        for i, child in enumerate(node.children):
            last = i == len(node.children) - 1
            lines.append(prefix + ("└── " if last else "├── ") + _node_line(child))
            walk(child, prefix + ("    " if last else "│   "))

    for root in as_tree(data).roots:
        lines.append(_node_line(root))
        walk(root, "")
    return TreeText("\n".join(lines))


# -- Mermaid ---------------------------------------------------------------------

_MERMAID_KEYWORDS = {
    "gitgraph",
    "commit",
    "branch",
    "checkout",
    "switch",
    "merge",
    "cherry-pick",
    "reset",
    "id",
    "tag",
    "type",
    "order",
    "parent",
    "options",
    "end",
    "normal",
    "reverse",
    "highlight",
    "lr",
    "tb",
    "bt",
    "accdescr",
    "acctitle",
    "title",
}


def _mermaid_name(raw: str, taken: set[str]) -> str:
    """A branch name Mermaid's gitGraph parses unquoted and that no other branch has."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-") or "branch"
    if not name[0].isalpha():
        name = "b-" + name
    if name.lower() in _MERMAID_KEYWORDS:
        name += "_"
    candidate, n = name, 2
    while candidate.lower() in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def _mermaid_text(raw: str) -> str:
    return raw.replace('"', "'").replace("\n", " ")


def render_mermaid(data: SessionTree | Mapping[str, Any]) -> MermaidText:
    """Mermaid `gitGraph` text of a session (what `mermaid()` returns).

    The root thread is Mermaid's `main` branch. Each thread gets one commit per
    checkpoint a branch starts from and one for its head (the current thread's
    head is highlighted and tagged `current`); branches are drawn where they
    start. Branch names are made Mermaid-safe (and unique) from the names.
    Takes the typed tree or `tree_data`'s JSON form.

    Example:
        ```python
        text = render_mermaid(saver.tree_data(session_id))   # same as saver.mermaid(...)
        ```
    """
    taken: set[str] = set()
    lines = ["gitGraph"]
    commit_ids: set[str] = set()

    def commit(label: str, extra: str = "") -> None:
        text, n = _mermaid_text(label), 2
        while text in commit_ids:
            text, n = f"{_mermaid_text(label)} ({n})", n + 1
        commit_ids.add(text)
        lines.append(f'  commit id: "{text}"{extra}')

    def lane_of(node: TreeNode, is_main: bool) -> str:
        if is_main:
            taken.add("main")
            return "main"
        raw = node.name or "b-" + node.short_id.rstrip(_ELLIPSIS)
        return _mermaid_name(raw, taken)

    def emit(node: TreeNode, lane: str) -> None:
        start = node.branch_checkpoint_id if node.parent_thread_id else None
        points: dict[str, list[TreeNode]] = {}
        for child in node.children:
            points.setdefault(child.branch_checkpoint_id or "", []).append(child)
        for point in sorted(points):
            # A point at or before the thread's own start is a copied checkpoint:
            # the lane still sits on the commit it branched from.
            if start is None or point > start:
                short = next(c.short_branch_checkpoint_id for c in points[point]) or point
                commit(short.rstrip(_ELLIPSIS))
            for child in points[point]:
                child_lane = lane_of(child, False)
                lines.append(f"  branch {child_lane}")
                emit(child, child_lane)
                lines.append(f"  checkout {lane}")
        extra = ' type: HIGHLIGHT tag: "current"' if node.is_current else ""
        commit("  ".join([f"{lane} head", *_decision_parts(node)]), extra)

    for i, root in enumerate(as_tree(data).roots):
        if i == 0:
            emit(root, lane_of(root, True))
        else:  # a thread whose parent is gone: drawn from the end of main
            lane = lane_of(root, False)
            lines.append(f"  branch {lane}")
            emit(root, lane)
            lines.append("  checkout main")
    if len(lines) == 1:  # no thread at all
        lines.append('  commit id: "empty"')
    return MermaidText("\n".join(lines))


def tree_plan(
    session_id: int | ExternalSession,
    *,
    forks: bool = True,
    stats: bool = False,
    user_id: UserId | None = None,
) -> Plan[TreeText]:
    """A text tree of the session's branches, e.g.::

        main  7f3a9c21…  (9 checkpoints)
        ├── retry  c1d2e3f4…  from 7f3a9c21…@1f1e8d32-b109…  (step 2)  (4 checkpoints)  *
        └── 0b5e8a17…  from 7f3a9c21…@1f1e8d32-b10f…  (step 5)  (2 checkpoints)

    Each line: name (the first thread is `main` unless named), short thread
    id, where it branched (parent thread @ checkpoint, its step), how many
    checkpoints it holds (all namespaces, the copied ones included), its
    tags, its status when not `active` (`[abandoned: too slow]`), its
    intent, `*` on the current thread. Short ids are unique prefixes that
    `resolve` accepts. A fork made inside a thread by LangGraph's own time
    travel is a `fork` line under its thread (short ids of its SDK branch
    id; `forks=False` leaves them out and reads only the session store).
    `stats=True` adds model calls, tokens, tool calls and wall time.
    """
    tree = yield from session_tree_plan(session_id, user_id, forks=forks, stats=stats)
    return render_tree(tree)


def mermaid_plan(
    session_id: int | ExternalSession,
    *,
    forks: bool = True,
    stats: bool = False,
    user_id: UserId | None = None,
) -> Plan[MermaidText]:
    """Mermaid `gitGraph` text of the session's branches.

    One commit per branch point and per head (one per checkpoint would be
    too many). A head's label carries the branch's status when not `active`,
    its intent and, with `stats=True`, its cost, as the text tree does.
    In-thread forks are lanes of their own (`forks=False`: left out, and
    only the session store is read). It renders on GitHub inside a
    ```` ```mermaid ```` block; in a notebook the returned `MermaidText` is
    drawn as it is (JupyterLab 4.1+).
    """
    tree = yield from session_tree_plan(session_id, user_id, forks=forks, stats=stats)
    return render_mermaid(tree)
