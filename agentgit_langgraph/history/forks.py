"""Forks made inside one thread, named as LangGraph's SDK front-end names them.

LangGraph's own time travel (`graph.invoke(None, old_config)`, Studio's
"re-run from here", `update_state` on a past checkpoint) forks a thread in
place: a checkpoint gets two or more children in the same thread. The JS SDK
(`getBranchSequence` in `@langchain/langgraph-sdk`, behind `useStream`'s
`branch`) names the line each fork child starts by the ids of the fork
children on the way to it, joined with ">": the line without forks is `""`,
the second child of the first fork `"<child id>"`, a fork inside that line
`"<child id>><grandchild id>"`. `thread_lines` computes the same ids from one
`list()` of the thread, so a UI built on the SDK and ours agree.

Example:
    ```python
    lines = thread_lines(list(saver.list(root_config("chat-1"))))
    [line.fork_id for line in lines]   # ['1f0…', '1f1…>1f2…', ...]
    ```
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from langgraph.checkpoint.base import CheckpointTuple

from agentgit_langgraph._copy import parent_checkpoint_id
from agentgit_langgraph.history.points import _cid

__all__ = ["FORK_SEP", "ThreadLine", "lines_of_links", "thread_lines"]

FORK_SEP = ">"
_ROOT = "$"


@dataclass(frozen=True)
class ThreadLine:
    """One line of a thread: from its root (or a fork) to one leaf checkpoint.

    `fork_id` is the SDK's branch id of the leaf; `own` are the checkpoints
    only this line holds (from its fork child down to its leaf), oldest
    first; `fork_checkpoint_id` the checkpoint it forks from (None: the
    thread's root); `is_head` whether the leaf is the thread's latest
    checkpoint (the line LangGraph continues on).
    """

    fork_id: str
    head_checkpoint_id: str
    fork_checkpoint_id: str | None
    own: tuple[str, ...]
    is_head: bool


def thread_lines(tuples: Sequence[CheckpointTuple]) -> list[ThreadLine]:
    """Every line of one thread's root-namespace checkpoints (as `list` gives them).

    The first is the line of the latest checkpoint; the others follow,
    newest leaf first. A thread without forks has one line, `fork_id` `""`.
    """
    return lines_of_links([(_cid(t), parent_checkpoint_id(t)) for t in tuples])


def lines_of_links(links: Sequence[tuple[str, str | None]]) -> list[ThreadLine]:
    """`thread_lines` from `(checkpoint id, parent id)` pairs alone, newest first (what
    a store beside the saver's tables reads in one query: `checkpoint_links`)."""
    if not links:
        return []
    ids = [cid for cid, _ in links]
    known = set(ids)
    children: dict[str, list[str]] = {}
    parent_of: dict[str, str | None] = {}
    for cid, parent in links:
        # A branch's first checkpoint is a copy whose parent lives in another thread:
        # within this thread it is a root, as the SDK sees a thread's history.
        key = parent if parent is not None and parent in known else _ROOT
        parent_of[cid] = None if key == _ROOT else key
        children.setdefault(key, []).append(cid)
    # The SDK's walk: breadth first from the root, a new path element at each
    # checkpoint with two or more children.
    path_of: dict[str, tuple[str, ...]] = {}
    queue: deque[tuple[str, tuple[str, ...]]] = deque([(_ROOT, ())])
    seen: set[str] = set()
    while queue:
        at, path = queue.popleft()
        if at in seen:
            continue
        seen.add(at)
        kids = children.get(at, [])
        for kid in kids:
            kid_path = (*path, kid) if len(kids) > 1 else path
            path_of[kid] = kid_path
            queue.append((kid, kid_path))
    head = max(ids)  # LangGraph's latest checkpoint: ids are time-ordered uuid6
    by_path: dict[tuple[str, ...], list[str]] = {}
    for cid in sorted(path_of):
        by_path.setdefault(path_of[cid], []).append(cid)
    lines: list[ThreadLine] = []
    leaves = sorted((c for c in path_of if c not in children), reverse=True)
    for leaf in leaves:
        path = path_of[leaf]
        own = tuple(by_path[path])
        first = own[0]
        lines.append(
            ThreadLine(
                fork_id=FORK_SEP.join(path),
                head_checkpoint_id=leaf,
                fork_checkpoint_id=parent_of[first] if path else None,
                own=own,
                is_head=leaf == head,
            )
        )
    lines.sort(key=lambda line: not line.is_head)
    return lines
