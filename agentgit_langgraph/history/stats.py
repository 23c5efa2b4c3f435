"""What each branch cost and did: checkpoints, steps, model calls, tokens, tool calls, time.

`stats(thread_id)` / `stats(session_id=...)` read each thread with one
`list()` of its root namespace and count only what the thread *added* after
its branch point: a branch starts with a copy of its parent's state (the
messages up to the branch checkpoint), and those are counted once, in the
thread that made them. Model calls are the `AIMessage`s added, tokens their
`usage_metadata`, tool calls the calls they asked for. Forks made inside a
thread by LangGraph's own time travel (`forks.py`) count, each, what their
own line added after the checkpoint they fork from.

Example:
    ```python
    s = saver.stats(session_id=sid)
    s.total.total_tokens, [b.to_dict() for b in s.branches]
    saver.stats(branch["configurable"]["thread_id"]).tool_calls   # {'book_flight': 1}
    ```
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph._access import session_plan, thread_plan
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.errors import InvalidConfigError
from agentgit_langgraph.history.forks import ThreadLine
from agentgit_langgraph.history.points import _cid, _root_config
from agentgit_langgraph.reversal.calls import checkpoint_messages
from agentgit_langgraph.sessions import InternalSession
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = [
    "BranchStats",
    "SessionStats",
    "ThreadScan",
    "branch_stats",
    "line_stats",
    "scan_thread_plan",
    "stats_plan",
    "thread_stats",
    "total_stats",
]


@dataclass(frozen=True)
class BranchStats:
    """What one branch (a thread, an in-thread fork, or a whole session) added.

    `checkpoints`: checkpoints it holds (a thread: every namespace, as
    `tree` counts them; a fork: those of its own line). `steps`: supersteps
    it ran (`loop` checkpoints it added). `model_calls`: AI messages it
    added; `input_tokens`/`output_tokens`/`total_tokens` their
    `usage_metadata`; `token_details`: `input_token_details` and
    `output_token_details` summed by key, as `input_cache_read`,
    `output_reasoning`, .... `tool_calls`: calls asked for, by tool.
    `first_at`/`last_at`: its first and last added checkpoint (aware UTC;
    `last_at` is when it last moved); `wall_time_s` the seconds between.
    `thread_id` is None for a session's totals; `fork_id` names an in-thread
    fork (`forks.py`).
    """

    thread_id: str | None
    checkpoints: int = 0
    steps: int = 0
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    token_details: dict[str, int] = field(default_factory=dict)
    tool_calls: dict[str, int] = field(default_factory=dict)
    first_at: datetime | None = None
    last_at: datetime | None = None
    wall_time_s: float = 0.0
    fork_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (times ISO 8601).

        Example:
            ```python
            saver.stats("chat-1").to_dict()["total_tokens"]
            ```
        """
        return {
            "thread_id": self.thread_id,
            "fork_id": self.fork_id,
            "checkpoints": self.checkpoints,
            "steps": self.steps,
            "model_calls": self.model_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "token_details": dict(self.token_details),
            "tool_calls": dict(self.tool_calls),
            "first_at": self.first_at.isoformat() if self.first_at else None,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "wall_time_s": self.wall_time_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BranchStats:
        """Stats from their JSON form (`to_dict`'s output)."""

        def when(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value) if isinstance(value, str) else None

        return cls(
            thread_id=data.get("thread_id"),
            fork_id=data.get("fork_id"),
            checkpoints=data.get("checkpoints", 0),
            steps=data.get("steps", 0),
            model_calls=data.get("model_calls", 0),
            input_tokens=data.get("input_tokens", 0),
            output_tokens=data.get("output_tokens", 0),
            total_tokens=data.get("total_tokens", 0),
            token_details=dict(data.get("token_details") or {}),
            tool_calls=dict(data.get("tool_calls") or {}),
            first_at=when("first_at"),
            last_at=when("last_at"),
            wall_time_s=float(data.get("wall_time_s", 0.0)),
        )


@dataclass(frozen=True)
class SessionStats:
    """Every thread's `BranchStats`, in the session's order, and their sum (`total`)."""

    session_id: int
    branches: tuple[BranchStats, ...]
    total: BranchStats

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: `{"session_id", "branches": [...], "total": {...}}`."""
        return {
            "session_id": self.session_id,
            "branches": [b.to_dict() for b in self.branches],
            "total": self.total.to_dict(),
        }


# -- reading a thread ----------------------------------------------------------


@dataclass(frozen=True)
class ThreadScan:
    """One thread's root-namespace checkpoints (newest first) and its record."""

    thread: InternalSession
    tuples: tuple[CheckpointTuple, ...]


def scan_thread_plan(thread: InternalSession) -> Plan[ThreadScan]:
    """One `list()` of the thread's root namespace: all stats and forks need."""
    tuples: list[CheckpointTuple] = yield from gather(
        BaseCheckpointSaver.list, _root_config(thread.thread_id)
    )
    return ThreadScan(thread, tuple(tuples))


def _key(message: BaseMessage) -> str:
    # `add_messages` gives every message an id; one without is told by its content.
    return message.id or f"{message.type}:{message.content!r}"


def _ts(tup: CheckpointTuple) -> datetime | None:
    ts = tup.checkpoint.get("ts")
    if not isinstance(ts, str):
        return None
    try:
        parsed = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def branch_stats(
    thread_id: str | None,
    added: Sequence[CheckpointTuple],
    base: Iterable[CheckpointTuple],
    *,
    checkpoints: int,
    fork_id: str | None = None,
    base_writes: bool = True,
) -> BranchStats:
    """Stats of the checkpoints `added`, not counting messages already in `base`
    (its state, and with `base_writes` the writes of tasks waiting at it)."""
    known = {_key(m) for tup in base for m in checkpoint_messages(tup, writes=base_writes)}
    ai: dict[str, AIMessage] = {}
    for tup in added:
        for m in checkpoint_messages(tup):
            key = _key(m)
            if isinstance(m, AIMessage) and key not in known and key not in ai:
                ai[key] = m
    tokens = Counter[str]()
    details = Counter[str]()
    tools = Counter[str]()
    for m in ai.values():
        usage: Mapping[str, Any] = m.usage_metadata or {}
        for name in ("input_tokens", "output_tokens", "total_tokens"):
            tokens[name] += _int(usage.get(name))
        for side in ("input", "output"):
            for k, v in (usage.get(f"{side}_token_details") or {}).items():
                if _int(v):
                    details[f"{side}_{k}"] += _int(v)
        for tc in m.tool_calls:
            tools[str(tc.get("name", ""))] += 1
    tokens["steps"] = sum(1 for tup in added if (tup.metadata or {}).get("source") == "loop")
    tokens["model_calls"] = len(ai)
    tokens["checkpoints"] = checkpoints
    times = sorted(t for t in (_ts(tup) for tup in added) if t is not None)
    first, last = (times[0], times[-1]) if times else (None, None)
    return _record(thread_id, tokens, details, tools, first, last, fork_id)


def _record(
    thread_id: str | None,
    counts: Counter[str],
    details: Counter[str],
    tools: Counter[str],
    first: datetime | None,
    last: datetime | None,
    fork_id: str | None = None,
) -> BranchStats:
    return BranchStats(
        thread_id=thread_id,
        fork_id=fork_id,
        checkpoints=counts["checkpoints"],
        steps=counts["steps"],
        model_calls=counts["model_calls"],
        input_tokens=counts["input_tokens"],
        output_tokens=counts["output_tokens"],
        total_tokens=counts["total_tokens"],
        token_details=dict(sorted(details.items())),
        tool_calls=dict(sorted(tools.items())),
        first_at=first,
        last_at=last,
        wall_time_s=(last - first).total_seconds() if first and last else 0.0,
    )


def thread_stats(scan: ThreadScan) -> BranchStats:
    """What the thread added after its branch point (all of it for a first thread)."""
    thread = scan.thread
    point = thread.branch_checkpoint_id if thread.parent_thread_id is not None else None
    # A branch's copies (the branch point, and the delta ancestors it needed)
    # are never newer than the branch point: uuid6 ids grow with time.
    added = [t for t in scan.tuples if point is None or _cid(t) > point]
    # The branch point's waiting writes came with the copy: the parent counted them.
    base = [t for t in scan.tuples if point is not None and _cid(t) == point]
    return branch_stats(thread.thread_id, added, base, checkpoints=thread.checkpoint_count)


def line_stats(scan: ThreadScan, line: ThreadLine) -> BranchStats:
    """What an in-thread fork's own line added after the checkpoint it forks from."""
    own = set(line.own)
    added = [t for t in scan.tuples if _cid(t) in own]
    base = [t for t in scan.tuples if _cid(t) == line.fork_checkpoint_id]
    # The fork point's waiting writes are the other line's (what ran from it there).
    return branch_stats(
        scan.thread.thread_id,
        added,
        base,
        checkpoints=len(added),
        fork_id=line.fork_id,
        base_writes=False,
    )


def total_stats(branches: Sequence[BranchStats]) -> BranchStats:
    """The sum of branches that never count the same thing twice."""
    tokens = Counter[str]()
    details = Counter[str]()
    tools = Counter[str]()
    for b in branches:
        tokens.update(
            {
                "checkpoints": b.checkpoints,
                "steps": b.steps,
                "model_calls": b.model_calls,
                "input_tokens": b.input_tokens,
                "output_tokens": b.output_tokens,
                "total_tokens": b.total_tokens,
            }
        )
        details.update(b.token_details)
        tools.update(b.tool_calls)
    firsts = [b.first_at for b in branches if b.first_at is not None]
    lasts = [b.last_at for b in branches if b.last_at is not None]
    first, last = (min(firsts) if firsts else None), (max(lasts) if lasts else None)
    return _record(None, tokens, details, tools, first, last)


def stats_plan(
    thread_id: str | None = None,
    *,
    session_id: int | None = None,
    user_id: UserId | None = None,
) -> Plan[BranchStats | SessionStats]:
    """What a branch, or each branch of a session, cost and did.

    `stats(thread_id)` is that thread's `BranchStats`; `stats(session_id=N)`
    a `SessionStats`: each thread's, and their `total`. Counts only what a
    thread added after its branch point (see `BranchStats`), so the total is
    the session's real spend. Reads each thread once with `list()`.

    Example:
        ```python
        saver.stats(session_id=sid).total.total_tokens
        saver.stats("chat-1").tool_calls          # {'search': 2}
        ```
    """
    if (thread_id is None) == (session_id is None):
        raise InvalidConfigError("stats() takes a thread_id or a session_id")
    if thread_id is not None:
        thread = yield from thread_plan(thread_id, user_id)
        scan = yield from scan_thread_plan(thread)
        return thread_stats(scan)
    session = yield from session_plan(session_id, user_id)
    assert session.id is not None
    threads: list[InternalSession] = yield from call(BaseSessionStore.list_threads, session.id)
    branches = []
    for thread in threads:
        scan = yield from scan_thread_plan(thread)
        branches.append(thread_stats(scan))
    return SessionStats(session.id, tuple(branches), total_stats(branches))
