"""Removing what should not be kept: sessions, stale branches, pruning."""

from __future__ import annotations

__all__ = ["MaintenanceMixin"]


class MaintenanceMixin:
    """Erasure and pruning methods of `AgentGitSaver` (each with an `a…` async twin)."""
