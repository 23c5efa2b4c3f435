"""Reading a session's history: log, tags and refs, diff, tree and Mermaid."""

from __future__ import annotations

__all__ = ["HistoryMixin"]


class HistoryMixin:
    """History methods of `AgentGitSaver` (each with an `a…` async twin)."""
