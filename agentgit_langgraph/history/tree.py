"""The branches of a session as a tree: typed nodes, text, Mermaid and JSON.

Built from the session store (threads and tags) and, to show forks made
inside a thread and each branch's stats, one `list()` of each thread.
`SessionTree`/`TreeNode` are the typed form; `to_dict()` is the JSON form
`tree_data` returns; `render_tree`/`render_mermaid` (`draw.py`) draw either.

Example:
    ```python
    tree = run_sync(session_tree_plan(session_id, None), saver.plan_targets)
    print(render_tree(tree))      # `draw.py`
    [child.label for child in tree.roots[0].children]
    ```
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agentgit_langgraph._access import session_plan, stored_id
from agentgit_langgraph._plan import Plan, call
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.history.forks import FORK_SEP, ThreadLine, lines_of_links, thread_lines
from agentgit_langgraph.history.points import _cycle
from agentgit_langgraph.history.refs import _looks_like_uuid
from agentgit_langgraph.history.render import _ELLIPSIS
from agentgit_langgraph.history.stats import (
    BranchStats,
    ThreadScan,
    line_stats,
    scan_thread_plan,
    thread_stats,
)
from agentgit_langgraph.sessions import ExternalSession, InternalSession, Tag
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = [
    "MIN_ABBREV",
    "MIN_CHECKPOINT_ABBREV",
    "SessionTree",
    "TreeNode",
    "TreeTag",
    "abbreviations",
    "as_tree",
    "session_tree_plan",
    "tree_data_plan",
]

MIN_ABBREV = 8
# LangGraph's checkpoint ids are uuid6: their first 18 characters are the full
# timestamp, which one process never repeats, so that prefix is unique in practice.
MIN_CHECKPOINT_ABBREV = 18


# -- records ---------------------------------------------------------------------


@dataclass(frozen=True)
class TreeTag:
    """A tag as the tree shows it, on the node of the thread it was made on."""

    name: str
    checkpoint_id: str
    short_checkpoint_id: str
    checkpoint_ns: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (`tree_data`'s `tags` items)."""
        return {
            "name": self.name,
            "checkpoint_id": self.checkpoint_id,
            "short_checkpoint_id": self.short_checkpoint_id,
            "checkpoint_ns": self.checkpoint_ns,
        }


@dataclass(frozen=True)
class TreeNode:
    """One thread of the session and the branches made from it.

    `short_*` are git-style unique prefixes (what `tree` prints, what
    `resolve` accepts); `label` is the name, or `main` for an unnamed first
    thread; `branch_step` is the step decoded from the branch point's id.
    """

    thread_id: str
    short_id: str
    name: str | None
    label: str | None
    parent_thread_id: str | None
    short_parent_id: str | None
    branch_checkpoint_id: str | None
    short_branch_checkpoint_id: str | None
    branch_step: int | None
    checkpoint_count: int
    is_branch: bool
    is_current: bool
    created_at: datetime | None
    tags: tuple[TreeTag, ...] = ()
    children: tuple[TreeNode, ...] = ()
    status: str = "active"
    """What became of the branch (`set_status`): `active`, `kept` or `abandoned`."""
    status_reason: str | None = None
    intent: str | None = None
    """Why the branch was opened (`rollback(..., intent=...)`)."""
    kind: str = "thread"
    """`thread`, or `fork`: a line forked inside its thread by LangGraph's own time
    travel (`forks.py`); a fork's `thread_id` is its thread's, `branch_checkpoint_id`
    the checkpoint it forks from, `checkpoint_count` the checkpoints of its own line."""
    fork_id: str | None = None
    """The SDK's branch id of the line (fork-child checkpoint ids joined with ">"; a
    thread without forks: `""`); None when forks were not read."""
    head_checkpoint_id: str | None = None
    """The newest checkpoint of the node's line (`log(config)` from it follows a fork);
    None when forks were not read."""
    stats: BranchStats | None = None
    """With `stats=True`: what the branch added (`stats.py`)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the keys `tree_data` documents, children nested.

        Example:
            ```python
            node.to_dict()["short_id"]   # '7f3a9c21…'
            ```
        """
        return {
            "thread_id": self.thread_id,
            "short_id": self.short_id,
            "name": self.name,
            "label": self.label,
            "parent_thread_id": self.parent_thread_id,
            "short_parent_id": self.short_parent_id,
            "branch_checkpoint_id": self.branch_checkpoint_id,
            "short_branch_checkpoint_id": self.short_branch_checkpoint_id,
            "branch_step": self.branch_step,
            "checkpoint_count": self.checkpoint_count,
            "is_branch": self.is_branch,
            "is_current": self.is_current,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "tags": [t.to_dict() for t in self.tags],
            "status": self.status,
            "status_reason": self.status_reason,
            "intent": self.intent,
            "kind": self.kind,
            "fork_id": self.fork_id,
            "head_checkpoint_id": self.head_checkpoint_id,
            **({"stats": self.stats.to_dict()} if self.stats is not None else {}),
            "children": [c.to_dict() for c in self.children],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TreeNode:
        """A node from its JSON form (`to_dict`'s output)."""
        created = data.get("created_at")
        return cls(
            thread_id=data["thread_id"],
            short_id=data["short_id"],
            name=data.get("name"),
            label=data.get("label"),
            parent_thread_id=data.get("parent_thread_id"),
            short_parent_id=data.get("short_parent_id"),
            branch_checkpoint_id=data.get("branch_checkpoint_id"),
            short_branch_checkpoint_id=data.get("short_branch_checkpoint_id"),
            branch_step=data.get("branch_step"),
            checkpoint_count=data.get("checkpoint_count", 0),
            is_branch=bool(data.get("is_branch")),
            is_current=bool(data.get("is_current")),
            created_at=datetime.fromisoformat(created) if isinstance(created, str) else created,
            tags=tuple(TreeTag(**t) for t in data.get("tags", ())),
            children=tuple(cls.from_dict(c) for c in data.get("children", ())),
            status=data.get("status", "active"),
            status_reason=data.get("status_reason"),
            intent=data.get("intent"),
            kind=data.get("kind", "thread"),
            fork_id=data.get("fork_id"),
            head_checkpoint_id=data.get("head_checkpoint_id"),
            stats=BranchStats.from_dict(data["stats"]) if data.get("stats") else None,
        )


@dataclass(frozen=True)
class SessionTree:
    """A session's threads as a forest: the first thread's tree, then any
    thread whose parent is gone (each its own root)."""

    session_id: int | None
    session_name: str
    user_id: int
    current_thread_id: str | None
    branch_count: int
    total_checkpoints: int
    roots: tuple[TreeNode, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form `tree_data` returns.

        Example:
            ```python
            json.dumps(tree.to_dict())
            ```
        """
        return {
            "session_id": self.session_id,
            "session_name": self.session_name,
            "user_id": self.user_id,
            "current_thread_id": self.current_thread_id,
            "branch_count": self.branch_count,
            "total_checkpoints": self.total_checkpoints,
            "roots": [r.to_dict() for r in self.roots],
        }

    def _repr_markdown_(self) -> str:
        """In a notebook, the tree is drawn as its Mermaid `gitGraph`."""
        from agentgit_langgraph.history.draw import render_mermaid  # draw.py builds on this

        return render_mermaid(self)._repr_markdown_()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionTree:
        """A tree from its JSON form (what `tree_data` returns)."""
        return cls(
            session_id=data.get("session_id"),
            session_name=data.get("session_name", ""),
            user_id=data.get("user_id", 0),
            current_thread_id=data.get("current_thread_id"),
            branch_count=data.get("branch_count", 0),
            total_checkpoints=data.get("total_checkpoints", 0),
            roots=tuple(TreeNode.from_dict(r) for r in data["roots"]),
        )


def as_tree(data: SessionTree | Mapping[str, Any]) -> SessionTree:
    # `render_*` took `tree_data`'s dicts before the typed tree existed: keep both.
    return data if isinstance(data, SessionTree) else SessionTree.from_dict(data)


# -- building --------------------------------------------------------------------


def _step_of(checkpoint_id: str | None) -> int | None:
    """The superstep LangGraph encoded in a checkpoint id, if it is one of its uuid6 ids.

    LangGraph creates checkpoint ids as `uuid6(clock_seq=step)`: the 14-bit
    clock sequence holds the step (-1 for an input checkpoint). This lets the
    tree show a branch point's step without reading the checkpoint; steps past
    8191 wrap, so a larger one is not shown.
    """
    if not checkpoint_id:
        return None
    try:
        parsed = uuid.UUID(checkpoint_id)
    except ValueError:
        return None
    if parsed.version != 6:
        return None
    seq = (parsed.int >> 48) & 0x3FFF
    step = seq - 0x4000 if seq >= 0x2000 else seq
    return step if step >= -2 else None


def abbreviations(ids: Sequence[str], minimum: int = MIN_ABBREV) -> dict[str, str]:
    """Git-style short forms: the shortest prefix (at least `minimum`) unique among `ids`.

    Only generated ids (UUIDs: a rollback's thread, LangGraph's checkpoints) are
    cut; an id a person chose (`customer-42`) is its own best short form.
    """
    unique = sorted(set(ids))
    length = minimum
    for a, b in itertools.pairwise(unique):
        common = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            common += 1
        length = max(length, common + 1)
    return {
        i: i if len(i) <= length or not _looks_like_uuid(i) else i[:length] + _ELLIPSIS
        for i in unique
    }


def session_tree_plan(
    session_id: Any, user_id: object, *, forks: bool = True, stats: bool = False
) -> Plan[SessionTree]:
    """The session's `SessionTree`: the store's threads and tags; with `stats`, one
    `list()` of each thread's root namespace as well. Forks alone need only each
    checkpoint's parent: one query where the store lives beside the saver's
    tables (SQLite, PostgreSQL), else one `list()` a thread."""
    session = yield from session_plan(session_id, user_id)
    threads: list[InternalSession] = yield from call(
        BaseSessionStore.list_threads, stored_id(session)
    )
    tags: list[Tag] = yield from call(BaseSessionStore.list_tags, stored_id(session))
    scans: dict[str, ThreadScan] = {}
    lines: dict[str, list[ThreadLine]] | None = None
    if forks and not stats:
        links = yield from call(BaseSessionStore.checkpoint_links, stored_id(session))
        if links is not None:
            lines = {t.thread_id: lines_of_links(links.get(t.thread_id, ())) for t in threads}
    if lines is None and (forks or stats):
        for thread in threads:
            scans[thread.thread_id] = yield from scan_thread_plan(thread)
    return _build_tree(session, threads, tags, scans, forks=forks, stats=stats, lines=lines)


def _fork_nodes(
    thread: InternalSession,
    scan: ThreadScan | None,
    lines: Sequence[ThreadLine],
    thread_short: str,
    checkpoint_short: Mapping[str, str],
    stats: bool,
) -> list[TreeNode]:
    """A node for each line of the thread but the one its head is on."""
    nodes = []
    for line in lines:
        if line.is_head:
            continue
        short = FORK_SEP.join(checkpoint_short[c] for c in line.fork_id.split(FORK_SEP))
        point = line.fork_checkpoint_id
        nodes.append(
            TreeNode(
                thread_id=thread.thread_id,
                short_id=short,
                name=None,
                label="fork",
                parent_thread_id=thread.thread_id,
                short_parent_id=thread_short,
                branch_checkpoint_id=point,
                short_branch_checkpoint_id=checkpoint_short[point] if point else None,
                branch_step=_step_of(point),
                checkpoint_count=len(line.own),
                is_branch=False,
                is_current=False,
                created_at=None,
                kind="fork",
                fork_id=line.fork_id,
                head_checkpoint_id=line.head_checkpoint_id,
                stats=line_stats(scan, line) if stats and scan is not None else None,
            )
        )
    return nodes


def _build_tree(
    session: ExternalSession,
    threads: Sequence[InternalSession],
    tags: Sequence[Tag],
    scans: Mapping[str, ThreadScan] | None = None,
    *,
    forks: bool = False,
    stats: bool = False,
    lines: Mapping[str, Sequence[ThreadLine]] | None = None,
) -> SessionTree:
    """The session's threads as nested nodes, from store records (and `scans`, or the
    threads' `lines` where they were read without loading checkpoints)."""
    scans = scans or {}
    lines_of: Mapping[str, Sequence[ThreadLine]] = (
        {}
        if not forks
        else lines
        if lines is not None
        else {tid: thread_lines(scan.tuples) for tid, scan in scans.items()}
    )
    fork_ids = [
        c
        for lines in lines_of.values()
        for line in lines
        if not line.is_head
        for c in (*line.fork_id.split(FORK_SEP), line.fork_checkpoint_id)
        if c
    ]
    thread_short = abbreviations([t.thread_id for t in threads])
    checkpoint_short = abbreviations(
        [t.branch_checkpoint_id for t in threads if t.branch_checkpoint_id]
        + [t.checkpoint_id for t in tags]
        + fork_ids,
        MIN_CHECKPOINT_ABBREV,
    )
    current = session.current_internal_session_id
    tags_of: dict[str, list[TreeTag]] = {}
    for tag in tags:
        tags_of.setdefault(tag.thread_id, []).append(
            TreeTag(
                tag.name, tag.checkpoint_id, checkpoint_short[tag.checkpoint_id], tag.checkpoint_ns
            )
        )
    parents = {t.thread_id: t.parent_thread_id for t in threads}
    for t in threads:  # every thread must lead up to a root: a cycle is corrupt data
        seen: set[str] = set()
        cursor: str | None = t.thread_id
        while cursor is not None and cursor in parents:
            if cursor in seen:
                raise _cycle(cursor)
            seen.add(cursor)
            cursor = parents[cursor]
    # Linked by id first (rows may come in any order), then built children
    # before parents, since a frozen node takes its children when it is made.
    root_ids: list[str] = []
    children_of: dict[str, list[str]] = {}
    for t in threads:
        if t.parent_thread_id is None or t.parent_thread_id not in parents:
            root_ids.append(t.thread_id)
        else:
            children_of.setdefault(t.parent_thread_id, []).append(t.thread_id)
    order: list[str] = []
    stack = list(root_ids)
    while stack:  # iterative: a long chain of branches must not hit the recursion limit
        thread_id = stack.pop()
        order.append(thread_id)
        stack.extend(children_of.get(thread_id, ()))
    records = {t.thread_id: t for t in threads}
    nodes: dict[str, TreeNode] = {}
    for thread_id in reversed(order):
        t = records[thread_id]
        own_lines = lines_of.get(thread_id, [])
        head = next((line for line in own_lines if line.is_head), None)
        scan = scans.get(thread_id)
        forked = _fork_nodes(t, scan, own_lines, thread_short[thread_id], checkpoint_short, stats)
        nodes[thread_id] = TreeNode(
            thread_id=t.thread_id,
            short_id=thread_short[t.thread_id],
            name=t.name,
            label=t.name or ("main" if t.parent_thread_id is None else None),
            parent_thread_id=t.parent_thread_id,
            short_parent_id=(
                thread_short.get(t.parent_thread_id, t.parent_thread_id)
                if t.parent_thread_id
                else None
            ),
            branch_checkpoint_id=t.branch_checkpoint_id,
            short_branch_checkpoint_id=(
                checkpoint_short[t.branch_checkpoint_id] if t.branch_checkpoint_id else None
            ),
            branch_step=_step_of(t.branch_checkpoint_id),
            checkpoint_count=t.checkpoint_count,
            is_branch=t.is_branch,
            is_current=t.thread_id == current,
            created_at=t.created_at,
            tags=tuple(tags_of.get(t.thread_id, ())),
            children=(*(nodes[c] for c in children_of.get(thread_id, ())), *forked),
            status=t.status,
            status_reason=t.status_reason,
            intent=t.intent,
            fork_id=head.fork_id if head else None,
            head_checkpoint_id=head.head_checkpoint_id if head else None,
            stats=thread_stats(scan) if stats and scan is not None else None,
        )
    return SessionTree(
        session_id=session.id,
        session_name=session.session_name,
        user_id=session.user_id,
        current_thread_id=current,
        branch_count=session.branch_count,
        total_checkpoints=session.total_checkpoints,
        roots=tuple(nodes[r] for r in root_ids),
    )


def tree_data_plan(
    session_id: int | ExternalSession,
    *,
    forks: bool = True,
    stats: bool = False,
    user_id: UserId | None = None,
) -> Plan[dict[str, Any]]:
    """The session's branches as JSON-able nested nodes (for `--json` output).

    `{"session_id", "session_name", "user_id", "current_thread_id",
    "branch_count", "total_checkpoints", "roots": [node]}`, each node
    `{"thread_id", "short_id", "name", "label", "parent_thread_id",
    "short_parent_id", "branch_checkpoint_id", "short_branch_checkpoint_id",
    "branch_step", "checkpoint_count", "is_branch", "is_current",
    "created_at", "tags", "status", "status_reason", "intent", "kind",
    "fork_id", "head_checkpoint_id", "children"}` (and `"stats"` with
    `stats=True`). `branch_step` is decoded from LangGraph's checkpoint id
    (None when it cannot be). It is `SessionTree.to_dict()`: `render_tree`
    and `render_mermaid` accept it as it is.

    With `forks` (the default), forks made inside a thread by LangGraph's
    own time travel are nodes too (`kind: "fork"`, `fork_id` the SDK's
    branch id), and each thread's `fork_id` is the line of its head: this
    reads each thread once with `list()`. `forks=False` reads the session
    store only (`fork_id` None). `stats=True` adds each node's `stats`
    (`BranchStats`) from the same read.
    """
    tree = yield from session_tree_plan(session_id, user_id, forks=forks, stats=stats)
    return tree.to_dict()
