"""`SaverContext`: what `AgentGitSaver` and the services it owns share.

The saver (the checkpointer contract) and its services (`Branching`,
`History`, `Maintenance`) each hold a reference to one context: the wrapped
saver, the session store, the plan targets, and the threads this process saw
held by a session. No service reaches into another object's private state.
A plan reaches the context as one of its targets (`local(SaverContext.forget,
ids)`, `call(SaverContext.implements, "prune")`).

Example:
    ```python
    ctx = SaverContext(InMemorySaver(), InMemorySessionStore(), auto_session=True)
    run_sync(session_plan(1, None), ctx.targets)
    ```
"""

from __future__ import annotations

import copy
import math
import operator
import time
from collections.abc import Iterable
from typing import Any, Generic, TypeVar, cast, overload

from langgraph.checkpoint.base import BaseCheckpointSaver

from agentgit_langgraph import _validate as check
from agentgit_langgraph._access import ThreadSet
from agentgit_langgraph._plan import Targets
from agentgit_langgraph.reversal import ToolReversers
from agentgit_langgraph.stores.base import BaseSessionStore

__all__ = [
    "HELD_RECHECK_SECONDS",
    "Forwarded",
    "SaverContext",
    "Service",
    "Settable",
    "is_overridden",
    "timeout_of",
]

T = TypeVar("T")

HELD_RECHECK_SECONDS = 1.0
"""`AgentGitSaver`'s default `held_recheck_seconds`: a put reads whether a session still
holds its thread about once a second per running thread, instead of on every save."""


def is_overridden(saver: BaseCheckpointSaver[Any], method: str) -> bool:
    """Whether `saver`'s type implements `method` itself.

    The check `langgraph.checkpoint.conformance.capabilities` makes to detect a
    capability: the method differs from `BaseCheckpointSaver`'s default.
    """
    base = getattr(BaseCheckpointSaver, method, None)
    impl = getattr(type(saver), method, None)
    if base is None or impl is None:
        return impl is not None
    return impl is not base


def timeout_of(value: Any) -> float | None:
    """A handler timeout in seconds: a positive number; None or `math.inf` for no bound."""
    if value is None:
        return None
    timeout = check.seconds(value, "reverse_timeout", positive=True)
    return None if math.isinf(timeout) else timeout


class Forwarded(Generic[T]):
    """An attribute of an object its owner holds, read through the owner (`path`: dotted)."""

    def __init__(self, path: str, doc: str) -> None:
        self.path = path
        self.__doc__ = doc
        self._read = operator.attrgetter(path)

    @overload
    def __get__(self, instance: None, owner: type) -> Forwarded[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance: object | None, owner: type) -> Forwarded[T] | T:
        if instance is None:
            return self
        return cast(T, self._read(instance))


class Settable(Forwarded[T]):
    """A `Forwarded` attribute that can be set through the owner too."""

    def __set__(self, instance: object, value: T) -> None:
        holder, _, name = self.path.rpartition(".")
        setattr(operator.attrgetter(holder)(instance), name, value)


class SaverContext:
    """The state shared by `AgentGitSaver` and its services.

    Attributes:
        saver: The wrapped LangGraph checkpointer.
        store: The session store.
        auto_session: Whether a put into an unknown thread creates a session.
        reversers: The tool-reversal handlers, by tool name.
        reverse_timeout: The default bound, in seconds, on each reversal handler.
        targets: The plan targets (`_plan.py`): `{BaseCheckpointSaver: saver,
            BaseSessionStore: store, ToolReversers: reversers, SaverContext: self}`.
        registered: Threads this process saw held by a session, with when:
            their puts skip the session check before saving, and, where the
            store counts saves in the saver's own table, the count after for
            `held_recheck_seconds` (see `skips_count`).
        held_recheck_seconds: How long a thread seen held is trusted to stay
            held before a put reads it again (0: a put reads it every time).
        unread: Threads saved into without that read since it was last made
            (`note_unread`), each with when the last such save ended (oldest
            first) and the owner key of its put (None: no `user_id`):
            `recheck_held` reads them, and a put reads those idle for a whole
            window (`unread_threads`).
    """

    def __init__(
        self,
        saver: BaseCheckpointSaver[Any],
        store: BaseSessionStore,
        *,
        auto_session: bool,
        reversers: ToolReversers,
        reverse_timeout: float | None,
        held_recheck_seconds: float = HELD_RECHECK_SECONDS,
    ) -> None:
        self.saver = saver
        self.store = store
        self.auto_session = auto_session
        self.reversers = reversers
        self.reverse_timeout = reverse_timeout
        self.targets: dict[type, Any] = {
            BaseCheckpointSaver: saver,
            BaseSessionStore: store,
            ToolReversers: reversers,
            SaverContext: self,
        }
        self.registered = ThreadSet()
        self.unread: dict[str, tuple[float, str | None]] = {}
        self.held_recheck_seconds = held_recheck_seconds

    @property
    def held_recheck_seconds(self) -> float:
        return self._held_recheck_seconds

    @held_recheck_seconds.setter
    def held_recheck_seconds(self, value: float) -> None:
        self._held_recheck_seconds = check.seconds(value, "held_recheck_seconds")
        # Where the store keeps counters of its own, every save must reach it.
        self._may_skip_counts = self.store.counts_in_saver and self._held_recheck_seconds > 0

    def with_saver(self, saver: BaseCheckpointSaver[Any]) -> SaverContext:
        """A copy wrapping `saver` instead; the store and the thread set stay shared."""
        clone = copy.copy(self)
        clone.saver = saver
        clone.targets = {**self.targets, BaseCheckpointSaver: saver, SaverContext: clone}
        return clone

    # -- what plans ask of it (`_plan.py`) -----------------------------------------
    def forget(self, thread_ids: Iterable[str]) -> None:
        """Threads deleted or moved out of their session: check them again on put (`local`)."""
        thread_ids = list(thread_ids)
        self.registered.discard(thread_ids)
        for thread_id in thread_ids:
            self.unread.pop(thread_id, None)

    def unseen(self, thread_id: str) -> bool:
        """With `auto_session`, whether this process has yet to see `thread_id` held by a
        session: a put into it makes sure of its session first (`local`)."""
        return self.auto_session and thread_id not in self.registered

    def steady(self, thread_id: str, user: str | None) -> bool:
        """Whether a put into `thread_id` needs no check before saving: no `user_id`
        to check, and not `unseen` (the common case of a running agent)."""
        return user is None and not self.unseen(thread_id)

    def held(self, thread_id: str, read_at: float | None = None) -> None:
        """`thread_id` is held by a session (read just now): its next puts skip the
        check before saving, and for `held_recheck_seconds` the count after.

        `read_at` (`clock()` when that read began) also settles the thread's
        `unread` saves that ended before it; a save that ended later (in another
        thread or task of this process) stays noted: the read may have missed it.
        """
        self.registered.add(thread_id)
        if read_at is not None:
            noted = self.unread.get(thread_id)
            if noted is not None and noted[0] <= read_at:
                self.unread.pop(thread_id, None)

    def clock(self) -> float:
        """`time.monotonic()`: when a read begins, for `held` (`local`)."""
        return time.monotonic()

    def skips_count(self, thread_id: str) -> bool:
        """Whether a put into `thread_id` may skip its count after saving (it then
        notes the save: `note_unread`): the store counts a save by its being stored
        (`BaseSessionStore.counts_in_saver`), so the count would only read whether
        a session still holds the thread, and this process saw one hold it less
        than `held_recheck_seconds` ago.

        What that costs: a session deleted by another process (or by this one
        while the read that saw it held was under way) is noticed by this
        process's next put into the thread after the window, or, if there is
        none, by its first put into any thread a window later
        (`unread_threads`), by `recheck_held`, or on closing a saver opened
        with `from_conn_string`, instead of by the put itself; the run then
        goes on in a new session with `auto_session`. Until then the
        checkpoints saved meanwhile belong to no session. No count is lost or
        doubled: counts are read from the saver's table. This process's other
        deletions are noticed at once (`forget`).
        """
        return self._may_skip_counts and self.registered.added_within(
            thread_id, self._held_recheck_seconds
        )

    def note_unread(self, thread_id: str, user: str | None) -> None:
        """A save into `thread_id` by the owner key `user` (None: no `user_id`) just
        ended without its count: note it `unread`, as the newest."""
        self.unread.pop(thread_id, None)
        self.unread[thread_id] = (time.monotonic(), user)

    def unread_threads(self, idle_only: bool = False) -> list[tuple[str, str | None]]:
        """The `unread` threads, each with the owner key of its puts; with
        `idle_only`, those whose last unread save is a whole window old, which
        no put of theirs will read any more: a thread still written is read by
        its own next put after the window (`local`).

        Cheap when there are none, as on most puts: one look at the oldest.
        """
        cutoff = math.inf
        if idle_only:
            try:
                oldest, _ = next(iter(self.unread.values()))
            except (StopIteration, RuntimeError):  # none, or another thread changed it
                return []
            cutoff = time.monotonic() - self._held_recheck_seconds
            if oldest > cutoff:
                return []
        unread = list(self.unread.items())
        return [(thread_id, user) for thread_id, (first, user) in unread if first <= cutoff]

    def counts_in_saver(self) -> bool:
        """The store's `counts_in_saver` (`local`)."""
        return self.store.counts_in_saver

    def adopts_in_one_statement(self) -> bool:
        """Whether a new thread's first put makes sure of its session with one
        statement and no read first (`local`): the store counts in the saver's
        table (nothing saved earlier needs counting) and
        `ensures_in_one_statement`."""
        return self.store.counts_in_saver and self.store.ensures_in_one_statement

    def creates_sessions(self) -> bool:
        """`auto_session` (`local`)."""
        return self.auto_session

    def timeout_for(self, reverse_timeout: Any) -> float | None:
        """A rollback's handler bound: its own `reverse_timeout`, else the saver's (`local`)."""
        return self.reverse_timeout if reverse_timeout is None else timeout_of(reverse_timeout)

    def implements(self, method: str) -> bool:
        """Whether the wrapped saver implements `method` itself (a sync plan asks)."""
        return is_overridden(self.saver, method)

    async def aimplements(self, method: str) -> bool:
        """Whether it implements `a<method>` itself (an async plan asks)."""
        return is_overridden(self.saver, "a" + method)


class Service:
    """A service of an `AgentGitSaver`: its `twins` pairs run on the shared context's targets."""

    def __init__(self, ctx: SaverContext) -> None:
        self.ctx = ctx

    @property
    def plan_targets(self) -> Targets:
        """The plan targets of the saver that owns the service."""
        return self.ctx.targets
