"""Sans-I/O plans: the logic of a sync method and its async twin, written once.

A plan is a generator that yields `Call`s (which method of which collaborator
to invoke) and receives each call's result, or has its exception thrown back
in. `run_sync` invokes `method`, `run_async` awaits `a<method>`: that naming
rule is LangGraph's (`put`/`aput`) and our stores' (`add_branch`/`aadd_branch`).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Call", "Plan", "run_async", "run_sync"]

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    target: str
    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    collect: bool = False
    """The method returns an iterator (`list`/`alist`): gather it into a list."""


Plan = Generator[Call, Any, T]


def run_sync(plan: Plan[T], targets: Mapping[str, Any]) -> T:
    """Drive `plan`, calling each method synchronously."""
    try:
        call = next(plan)
        while True:
            try:
                result = getattr(targets[call.target], call.method)(*call.args, **call.kwargs)
                if call.collect:
                    result = list(result)
            except GeneratorExit:
                raise
            except BaseException as exc:  # cancellation too: the plan must clean up
                call = plan.throw(exc)
            else:
                call = plan.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_async(plan: Plan[T], targets: Mapping[str, Any]) -> T:
    """Drive `plan`, awaiting the `a`-prefixed twin of each method."""
    try:
        call = next(plan)
        while True:
            try:
                method = getattr(targets[call.target], "a" + call.method)
                if call.collect:
                    result = [item async for item in method(*call.args, **call.kwargs)]
                else:
                    result = await method(*call.args, **call.kwargs)
            except GeneratorExit:
                raise
            except BaseException as exc:  # cancellation too: the plan must clean up
                call = plan.throw(exc)
            else:
                call = plan.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
