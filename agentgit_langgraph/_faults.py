"""Named points between the steps of multi-step operations, for fault tests.

`reached(point)` does nothing unless a test has set a hook for that point with
`set_hook`: the crash harness kills its own process there (SIGKILL), a race
test lets another process act there. The points are part of the design, not
of the tests: each one is a moment a crash or a concurrent writer may hit, and
the invariants must hold whichever it is.

Points: `put.before_save`, `put.saved`, `rollback.noted`, `rollback.copied`,
`rollback.registered`, `delete.forgotten` (the store forgot threads, their
checkpoints are not yet deleted), `delete.erased`, `prune.planned` (branches
chosen, nothing changed yet).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["clear_hooks", "reached", "set_hook"]

_HOOKS: dict[str, Callable[[str], None]] = {}


def reached(point: str) -> None:
    if _HOOKS:
        hook = _HOOKS.get(point) or _HOOKS.get("*")
        if hook is not None:
            hook(point)


def set_hook(point: str, hook: Callable[[str], None]) -> None:
    """Call `hook(point)` whenever `point` is reached (`"*"`: every point)."""
    _HOOKS[point] = hook


def clear_hooks() -> None:
    _HOOKS.clear()
