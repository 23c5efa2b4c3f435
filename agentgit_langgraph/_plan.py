"""Sans-I/O plans: the logic of a sync method and its async twin, written once.

A plan is a generator that yields `Call`s and receives each call's result, or
has its exception thrown back in. A plan names the real method it calls:

    thread = yield from call(BaseSessionStore.get_thread, thread_id)
    tuples = yield from gather(BaseCheckpointSaver.list, config, limit=1)

so a type checker follows it (`mypy --strict` fails on a misspelled method or
a wrong argument; the result has the method's return type) and so do "go to
definition" and "find usages". The drivers find the object to call by the
method's owner class among their targets, then call `method` (`run_sync`) or
await its `a`-prefixed twin (`run_async`): that naming rule is LangGraph's
(`put`/`aput`) and our stores' (`add_branch`/`aadd_branch`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

__all__ = ["Call", "Plan", "Targets", "call", "gather", "run_async", "run_sync"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

Targets = Mapping[type, Any]
"""The objects a plan's calls go to, by the class that declares their methods:
`{BaseCheckpointSaver: saver, BaseSessionStore: store, ...}`."""


@dataclass(frozen=True)
class Call:
    """One call a plan asks for: `method` (a function of a target's class) and its arguments."""

    method: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    collect: bool = False
    """The method returns an iterator (`list`/`alist`): gather it into a list."""


Plan = Generator[Call, Any, T]


def call(method: Callable[Concatenate[Any, P], R], /, *args: P.args, **kwargs: P.kwargs) -> Plan[R]:
    """Call `method` on its target (sync) or await its `a` twin (async); its result."""
    result: R = yield Call(method, args, kwargs)
    return result


def gather(
    method: Callable[Concatenate[Any, P], Iterator[R] | AsyncIterator[R]],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> Plan[list[R]]:
    """Like `call`, for a method returning an iterator: every item, in a list."""
    result: list[R] = yield Call(method, args, kwargs, collect=True)
    return result


def _target(targets: Targets, method: Callable[..., Any]) -> Any:
    name = method.__name__
    for cls, target in targets.items():
        if getattr(cls, name, None) is method:
            return target
    raise LookupError(f"no target of this plan declares {method.__qualname__}")


def run_sync(plan: Plan[T], targets: Targets) -> T:
    """Drive `plan`, calling each method synchronously."""
    try:
        step = next(plan)
        while True:
            try:
                bound = getattr(_target(targets, step.method), step.method.__name__)
                result = bound(*step.args, **step.kwargs)
                if step.collect:
                    result = list(result)
            except GeneratorExit:
                raise
            except BaseException as exc:  # cancellation too: the plan must clean up
                step = plan.throw(exc)
            else:
                step = plan.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_async(plan: Plan[T], targets: Targets) -> T:
    """Drive `plan`, awaiting the `a`-prefixed twin of each method."""
    try:
        step = next(plan)
        while True:
            try:
                bound = getattr(_target(targets, step.method), "a" + step.method.__name__)
                if step.collect:
                    result = [item async for item in bound(*step.args, **step.kwargs)]
                else:
                    result = await bound(*step.args, **step.kwargs)
            except GeneratorExit:
                raise
            except BaseException as exc:  # cancellation too: the plan must clean up
                step = plan.throw(exc)
            else:
                step = plan.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
