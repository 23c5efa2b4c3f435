"""Typed errors. Each names the offending id; raising one means nothing changed."""

from __future__ import annotations

__all__ = [
    "AgentGitError",
    "AmbiguousRefError",
    "AsyncUnsupportedError",
    "CheckpointNotFoundError",
    "InvalidConfigError",
    "InvalidRequestError",
    "NameConflictError",
    "RefNotFoundError",
    "ReversalTimeoutError",
    "ReversedToolCallsWarning",
    "SessionAccessError",
    "SessionNotFoundError",
    "StoreError",
    "ThreadBusyError",
    "ThreadNotFoundError",
    "ToolReversalError",
    "UnreversedToolCallsWarning",
    "VolatileSessionStoreWarning",
]


class AgentGitError(Exception):
    """Base class of every error this package raises on purpose."""


class SessionNotFoundError(AgentGitError, LookupError):
    """No session has this id, or no session holds this thread."""


class CheckpointNotFoundError(AgentGitError, LookupError):
    """The thread holds no checkpoint with this id."""


class RefNotFoundError(CheckpointNotFoundError):
    """No tag, branch, thread or checkpoint of the session answers to this ref."""


class AmbiguousRefError(RefNotFoundError):
    """A ref that is a prefix of several ids: `candidates` are the ids it starts.

    A prefix needs at least 4 characters; a shorter one matches nothing.
    """

    def __init__(self, message: str, *, ref: str = "", candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.ref = ref
        self.candidates = candidates


class SessionAccessError(AgentGitError, PermissionError):
    """A `user_id` that does not own the session."""


class InvalidConfigError(AgentGitError, ValueError):
    """A config without what the operation needs (a mapping with `configurable`)."""


class InvalidRequestError(AgentGitError, ValueError):
    """An HTTP API request (`web.py`) that cannot be read: not JSON, a field
    missing or of the wrong type. `status` is the HTTP code to answer with."""

    def __init__(self, detail: str, *, status: int = 422) -> None:
        super().__init__(detail)
        self.status = status


class AsyncUnsupportedError(AgentGitError, NotImplementedError):
    """Async code called an `AgentGitSaver` whose wrapped saver is sync only.

    `SqliteSaver` and `PostgresSaver` have no async methods: in async code,
    open the saver with `AgentGitSaver.afrom_conn_string(...)` (it wraps
    `AsyncSqliteSaver` / `AsyncPostgresSaver`). A `NotImplementedError`, as
    LangGraph's own refusal is.
    """


class StoreError(AgentGitError):
    """The session store could not complete an operation (I/O failed, corrupt row)."""


class ThreadNotFoundError(SessionNotFoundError):
    """No session holds this thread, or it is not a thread of the given session."""


class NameConflictError(AgentGitError, ValueError):
    """The session already has a branch or tag of this name, or the name is reserved.

    As in git, a name means one thing: a tag may not be called `HEAD`, `main`
    or like a branch or thread of its session, and a branch may not be called
    `HEAD`, `main` or like a tag.
    """


class ToolReversalError(AgentGitError, RuntimeError):
    """Undoing a tool call failed during `rollback(..., reverse_tools=True, strict=True)`.

    Names the call (`tool_name`, `tool_call_id`); the rollback stopped there and
    created no branch. Calls undone before it stay recorded as `reversed`.
    """

    def __init__(self, message: str, *, tool_name: str = "", tool_call_id: str = "") -> None:
        super().__init__(message)
        self.tool_name = tool_name
        self.tool_call_id = tool_call_id


class ReversalTimeoutError(AgentGitError, TimeoutError):
    """An undo handler did not finish within `reverse_timeout`; it was abandoned.

    Recorded as the call's `failed` error (`rollback(..., reverse_tools=True,
    reverse_timeout=...)`); with `strict=True` it is the `__cause__` of the
    `ToolReversalError`. A sync handler may still be running in its worker thread.
    """

    def __init__(self, message: str, *, tool_name: str = "", timeout: float = 0.0) -> None:
        super().__init__(message)
        self.tool_name = tool_name
        self.timeout = timeout


class ThreadBusyError(AgentGitError, RuntimeError):
    """A thread kept changing while it was being rewritten (prune); nothing was removed."""


class ReversedToolCallsWarning(UserWarning):
    """`switch` made current a thread whose history holds tool calls a rollback undid.

    Undoing a tool call changed the world (a booking cancelled, a row
    deleted); switching back to a thread changes only which thread is
    current, never the world, so its history no longer matches it.
    `reversals` lists the undone calls (`Reversal` records) of that history.
    """

    def __init__(self, message: str, reversals: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.reversals = reversals


class UnreversedToolCallsWarning(UserWarning):
    """Tool calls a `reverse_tools` rollback (or `undo_tools`) went past but did not undo.

    They ran on forks LangGraph's own time travel made inside the thread
    (`invoke(None, old_config)`, `update_state` on a past checkpoint): not on
    the line from the checkpoint to the thread's head, so undoing the line
    leaves them done. `tool_calls` holds `(tool_call_id, tool_name)` of each;
    `undo_tools` from a checkpoint of that fork (`tree`'s `head_checkpoint_id`)
    undoes them.
    """

    def __init__(self, message: str, tool_calls: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.tool_calls = tool_calls


class VolatileSessionStoreWarning(UserWarning):
    """Sessions are kept in memory for a saver whose checkpoints may outlive the process."""
