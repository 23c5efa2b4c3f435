"""Typed errors. Each names the offending id; raising one means nothing changed."""

from __future__ import annotations

__all__ = [
    "AgentGitError",
    "CheckpointNotFoundError",
    "InvalidConfigError",
    "NameConflictError",
    "SessionAccessError",
    "SessionNotFoundError",
    "StoreError",
    "ThreadNotFoundError",
]


class AgentGitError(Exception):
    """Base class of every error this package raises on purpose."""


class SessionNotFoundError(AgentGitError, LookupError):
    """No session has this id, or no session holds this thread."""


class CheckpointNotFoundError(AgentGitError, LookupError):
    """The thread holds no checkpoint with this id."""


class SessionAccessError(AgentGitError, PermissionError):
    """A `user_id` that does not own the session."""


class InvalidConfigError(AgentGitError, ValueError):
    """A config without what the operation needs (a mapping with `configurable`)."""


class StoreError(AgentGitError):
    """The session store could not complete an operation (I/O failed, corrupt row)."""


class ThreadNotFoundError(SessionNotFoundError):
    """No session holds this thread, or it is not a thread of the given session."""


class NameConflictError(AgentGitError, ValueError):
    """The session already has a branch or tag of this name."""
