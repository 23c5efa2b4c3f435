"""Sans-I/O plans: the logic of a sync method and its async twin, written once.

A plan is a generator that yields `Call`s and receives each call's result, or
has its exception thrown back in. A plan names the real method it calls:

    thread = yield from call(BaseSessionStore.get_thread, thread_id)
    tuples = yield from gather(BaseCheckpointSaver.list, config, limit=1)

so a type checker follows it (`mypy --strict` fails on a misspelled method or
a wrong argument; the result has the method's return type) and so do "go to
definition" and "find usages". The drivers find the object to call by the
method's owner class among their targets (or take the one `call_on` names),
then call `method` (`run_sync`) or await its `a`-prefixed twin (`run_async`):
that naming rule is LangGraph's (`put`/`aput`) and our stores' (`add_branch`/
`aadd_branch`). A `local` call (in-process, no I/O) runs `method` in both.

A public sync/async method pair is one line, `twins`:

    class History(Service):
        log, alog = twins(log_plan)   # saver.history.log(...), await ....alog(...)

where `log_plan(...)` is a plan function carrying the public signature and
docstring; the pair runs it on the instance's `plan_targets`.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator, Mapping
from types import MappingProxyType
from typing import (
    Any,
    Concatenate,
    Generic,
    NamedTuple,
    ParamSpec,
    Protocol,
    TypeVar,
    overload,
)

__all__ = [
    "AsyncTwin",
    "Call",
    "Plan",
    "PlanHost",
    "SyncTwin",
    "Targets",
    "call",
    "call_on",
    "gather",
    "local",
    "run_async",
    "run_sync",
    "twins",
]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

Targets = Mapping[type, Any]
"""The objects a plan's calls go to, by the class that declares their methods:
`{BaseCheckpointSaver: saver, BaseSessionStore: store, ...}`."""


class Call(NamedTuple):
    """One call a plan asks for: `method` (a function of a target's class) and its arguments."""

    method: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = MappingProxyType({})
    collect: bool = False
    """The method returns an iterator (`list`/`alist`): gather it into a list."""
    target: Any = None
    """The object to call `method` on; None: the target of `method`'s class."""
    local: bool = False
    """In-process and free of I/O: both drivers call `method` itself, never its `a` twin."""


Plan = Generator[Call, Any, T]


def call(method: Callable[Concatenate[Any, P], R], /, *args: P.args, **kwargs: P.kwargs) -> Plan[R]:
    """Call `method` on its target (sync) or await its `a` twin (async); its result."""
    result: R = yield Call(method, args, kwargs)
    return result


def call_on(
    target: T, method: Callable[Concatenate[T, P], R], /, *args: P.args, **kwargs: P.kwargs
) -> Plan[R]:
    """Like `call`, on `target` itself (an object the plan was given, e.g. a graph)."""
    result: R = yield Call(method, args, kwargs, target=target)
    return result


def local(
    method: Callable[Concatenate[Any, P], R], /, *args: P.args, **kwargs: P.kwargs
) -> Plan[R]:
    """Call `method` on its target in both drivers: in-process state, no I/O."""
    result: R = yield Call(method, args, kwargs, local=True)
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


_OWNERS: dict[Callable[..., Any], type] = {}
"""The class each method was last found on among a plan's targets (a cache: the drivers'
hot path, e.g. every `put`, would otherwise look through every target each call)."""


def _bound(targets: Targets, step: Call, prefix: str) -> Any:
    """The method `step` asks for, bound to its target; `prefix` "a" for the async twin."""
    method = step.method
    name = method.__name__
    target = step.target
    if target is None:
        owner = _OWNERS.get(method)
        if owner is None or owner not in targets:
            owner = next((c for c in targets if getattr(c, name, None) is method), None)
            if owner is None:
                raise LookupError(f"no target of this plan declares {method.__qualname__}")
            _OWNERS[method] = owner
        target = targets[owner]
    return getattr(target, name if step.local else prefix + name)


def run_sync(plan: Plan[T], targets: Targets) -> T:
    """Drive `plan`, calling each method synchronously.

    A call's error goes back into the plan (cancellation too: the plan must
    be able to clean up), which may handle it or let it through.
    """
    send, throw = plan.send, plan.throw
    try:
        step = send(None)
        while True:
            try:
                result = _bound(targets, step, "")(*step.args, **step.kwargs)
                if step.collect:
                    result = list(result)
            except GeneratorExit:
                raise
            except BaseException as error:
                step = throw(error)
            else:
                step = send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


async def run_async(plan: Plan[T], targets: Targets) -> T:
    """Drive `plan`, awaiting the `a`-prefixed twin of each method (`local` ones called)."""
    send, throw = plan.send, plan.throw
    try:
        step = send(None)
        while True:
            try:
                result = _bound(targets, step, "a")(*step.args, **step.kwargs)
                if step.collect:
                    result = [item async for item in result]
                elif not step.local:
                    result = await result
            except GeneratorExit:
                raise
            except BaseException as error:
                step = throw(error)
            else:
                step = send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


# -- public sync/async pairs --------------------------------------------------


class PlanHost(Protocol):
    """What runs a `twins` pair: an object with the plan targets."""

    @property
    def plan_targets(self) -> Targets: ...


def _public_signature(plan: Callable[..., Any]) -> inspect.Signature:
    """`plan`'s signature as a method's: a `self` first, the plan's result type last."""
    signature = inspect.signature(plan)
    result = signature.return_annotation
    if isinstance(result, str) and result.startswith("Plan[") and result.endswith("]"):
        result = result[len("Plan[") : -1]
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    return signature.replace(
        parameters=[self_param, *signature.parameters.values()], return_annotation=result
    )


class _Twin(Generic[P, R]):
    """One method of a `twins` pair: runs `plan(*args, **kwargs)` on its instance's targets."""

    __name__: str
    __qualname__: str

    def __init__(self, plan: Callable[P, Plan[R]]) -> None:
        self.plan = plan
        self.__name__ = self.__qualname__ = plan.__name__
        self.__module__ = plan.__module__
        self.__doc__ = plan.__doc__
        self.__signature__ = _public_signature(plan)

    def __set_name__(self, owner: type, name: str) -> None:
        # Named by the class that defines it; a class that re-exports it
        # (`log, alog = History.log, History.alog`) leaves its name as it is.
        if self.__qualname__ == self.plan.__name__:
            self.__name__ = name
            self.__qualname__ = f"{owner.__qualname__}.{name}"

    def __repr__(self) -> str:
        return f"<plan method {self.__qualname__}>"


class SyncTwin(_Twin[P, R]):
    """The sync method of a `twins` pair: `run_sync` of the plan."""

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> SyncTwin[P, R]: ...
    @overload
    def __get__(self, instance: PlanHost, owner: type | None = None) -> Callable[P, R]: ...
    def __get__(self, instance: PlanHost | None, owner: type | None = None) -> Callable[..., R]:
        # On the class: this object itself, always the same (the drivers match it by identity).
        return self if instance is None else types.MethodType(self, instance)

    def __call__(self, host: PlanHost, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return run_sync(self.plan(*args, **kwargs), host.plan_targets)


class AsyncTwin(_Twin[P, R]):
    """The async method of a `twins` pair: `run_async` of the plan."""

    def __set_name__(self, owner: type, name: str) -> None:
        super().__set_name__(owner, name)
        sync = self.__name__[1:]
        self.__doc__ = f"Async twin of `{sync}`.\n\n{self.plan.__doc__ or ''}".rstrip()

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> AsyncTwin[P, R]: ...
    @overload
    def __get__(
        self, instance: PlanHost, owner: type | None = None
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...
    def __get__(
        self, instance: PlanHost | None, owner: type | None = None
    ) -> Callable[..., Coroutine[Any, Any, R]]:
        return self if instance is None else types.MethodType(self, instance)

    async def __call__(self, host: PlanHost, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await run_async(self.plan(*args, **kwargs), host.plan_targets)


def twins(plan: Callable[P, Plan[R]]) -> tuple[SyncTwin[P, R], AsyncTwin[P, R]]:
    """A sync method and its `a` twin, both running `plan` on the instance's `plan_targets`.

    `plan` carries the public signature and docstring; the methods copy them
    (`help(saver.log)`), and `mypy --strict` checks every call's arguments.

    Example:
        ```python
        class History(Service):
            log, alog = twins(log_plan)

        entries = history.log(session_id, limit=5)
        entries = await history.alog(session_id, limit=5)
        ```
    """
    return SyncTwin(plan), AsyncTwin(plan)
