"""Run LangGraph's checkpointer conformance suite on a bare saver and on the same
saver wrapped in `AgentGitSaver`, and compare the two.

A backend contributes a `ConformanceCase`: two zero-argument factories, each
returning an async context manager that yields a *fresh* checkpointer (the
suite asks for one per capability suite). A PostgreSQL test module only has to
build its own case, e.g.::

    @asynccontextmanager
    async def bare():
        async with AsyncPostgresSaver.from_conn_string(uri) as saver:
            await saver.setup()
            yield saver

    @asynccontextmanager
    async def store(saver):
        yield AsyncPostgresSessionStore(saver.conn, lock=saver.lock)

    case = ConformanceCase("AsyncPostgresSaver", bare, wrap(bare, store))

    async def test_postgres_conformance():
        comparison = await compare_conformance(case)
        assert_wrapped_conforms(comparison)
        await assert_wrapper_only_capabilities_fall_back(comparison, case)

The contract checked (DESIGN.md, "Transparent"):

* every capability the bare saver passes, the wrapped saver passes too (an
  optional one the saver implements is delegated to it);
* a capability the wrapper exposes but the bare saver lacks (`copy_thread`,
  `prune`, `delete_for_runs` on most savers) is the wrapper's own fallback over
  the saver's primitives, and passes. To show the bare saver really lacks it,
  the suite is also run on the bare saver with those methods *exposed*
  (`expose`: a subclass whose methods just call the inherited ones, so the
  suite detects and runs them): there its tests fail with
  `NotImplementedError` (those that tolerate any error aside).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import (
    BASE_CAPABILITIES,
    Capability,
    DetectedCapabilities,
)
from langgraph.checkpoint.conformance.report import CapabilityReport, ProgressCallbacks

from agentgit_langgraph import AgentGitSaver, BaseSessionStore

__all__ = [
    "PASS",
    "ConformanceCase",
    "ConformanceComparison",
    "ConformanceRun",
    "SaverFactory",
    "StoreFactory",
    "assert_wrapped_conforms",
    "assert_wrapper_only_capabilities_fall_back",
    "compare_conformance",
    "expose",
    "run_conformance",
    "wrap",
]

SaverFactory = Callable[[], AbstractAsyncContextManager[BaseCheckpointSaver[Any]]]
StoreFactory = Callable[[BaseCheckpointSaver[Any]], AbstractAsyncContextManager[BaseSessionStore]]

PASS = "pass"
BASE_NAMES = frozenset(c.value for c in BASE_CAPABILITIES)


@dataclass(frozen=True)
class ConformanceCase:
    """A bare saver and its wrapped twin, each opened fresh per capability suite."""

    name: str
    bare: SaverFactory
    wrapped: SaverFactory


def wrap(bare: SaverFactory, store: StoreFactory) -> SaverFactory:
    """`AgentGitSaver(<fresh bare saver>, <store opened for that saver>)`."""

    @asynccontextmanager
    async def open_wrapped() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with bare() as saver, store(saver) as session_store:
            yield AgentGitSaver(saver, session_store)

    return open_wrapped


def expose(bare: SaverFactory, capabilities: Iterable[str]) -> SaverFactory:
    """The bare saver, its class swapped for a subclass that re-declares the async
    methods of `capabilities` as plain calls to the inherited ones.

    Behaviour is unchanged; only the suite's detection (which looks for
    overrides on the type) now runs those capabilities' tests.
    """
    # The suite detects capability `x` by an override of `ax` (put -> aput, ...).
    methods = [f"a{Capability(c).value}" for c in capabilities]

    def redeclare(cls: type, name: str) -> Any:
        inherited = getattr(cls, name)

        async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return await inherited(self, *args, **kwargs)

        method.__name__ = name
        return method

    @asynccontextmanager
    async def open_exposed() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with bare() as saver:
            cls = type(saver)
            saver.__class__ = type(
                f"Exposed{cls.__name__}", (cls,), {m: redeclare(cls, m) for m in methods}
            )
            try:
                yield saver
            finally:
                saver.__class__ = cls

    return open_exposed


@dataclass
class ConformanceRun:
    """One `validate` run: its report, what was detected, and each test's outcome.

    `outcomes[cap][test]` is `PASS` or the last line of the failure's traceback
    (e.g. `"NotImplementedError"`); `tracebacks[cap][test]` the whole traceback.
    """

    report: CapabilityReport
    detected: frozenset[str]
    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)
    tracebacks: dict[str, dict[str, str]] = field(default_factory=dict)

    def passed(self, cap: str) -> bool:
        result = self.report.results.get(cap)
        return result is not None and result.passed is True

    def status(self, cap: str) -> str:
        result = self.report.results.get(cap)
        if result is None or not result.detected:
            return "not detected"
        if result.passed is True:
            return f"pass ({result.tests_passed})"
        if result.passed is False:
            return f"FAIL ({result.tests_failed}/{result.tests_passed + result.tests_failed})"
        return "skipped"

    def describe(self, cap: str) -> str:
        """The capability's result with every failing test's traceback."""
        lines = [f"{self.report.checkpointer_name} / {cap}: {self.status(cap)}"]
        for test, text in self.tracebacks.get(cap, {}).items():
            lines.append(f"  [{test}]")
            lines.extend(f"    {line}" for line in text.rstrip().splitlines())
        return "\n".join(lines)


def _last_line(text: str) -> str:
    lines = text.rstrip().splitlines()
    return lines[-1].strip() if lines else "<no traceback>"


async def run_conformance(
    name: str, factory: SaverFactory, *, capabilities: set[str] | None = None
) -> ConformanceRun:
    """Validate the checkpointers `factory` opens, recording every test's outcome."""
    outcomes: dict[str, dict[str, str]] = {}
    tracebacks: dict[str, dict[str, str]] = {}

    def on_result(cap: str, test: str, passed: bool, error: str | None) -> None:
        outcomes.setdefault(cap, {})[test] = PASS if passed else _last_line(error or "")
        if not passed:
            tracebacks.setdefault(cap, {})[test] = error or ""

    @checkpointer_test(name=name)
    async def registered() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with factory() as saver:
            yield saver

    async with factory() as probe:
        detected = DetectedCapabilities.from_instance(probe).detected
    report = await validate(
        registered,
        capabilities=capabilities,
        progress=ProgressCallbacks(on_test_result=on_result),
    )
    return ConformanceRun(report, frozenset(c.value for c in detected), outcomes, tracebacks)


@dataclass
class ConformanceComparison:
    name: str
    bare: ConformanceRun
    wrapped: ConformanceRun
    # The bare saver with the wrapper-only capabilities exposed (see `expose`).
    bare_exposed: ConformanceRun | None = None

    def regressions(self) -> list[str]:
        """Capabilities the bare saver passes and the wrapped one does not."""
        return sorted(
            c.value
            for c in Capability
            if self.bare.passed(c.value) and not self.wrapped.passed(c.value)
        )

    def wrapper_only(self) -> list[str]:
        """Capabilities detected on the wrapper but not on the bare saver."""
        return sorted(self.wrapped.detected - self.bare.detected)

    def summary(self) -> str:
        exposed = self.bare_exposed
        rows = [
            f"conformance of {self.name}",
            f"  {'capability':16s} | {'bare':14s} | {'wrapped':14s} | bare, exposed",
        ]
        for cap in sorted(c.value for c in Capability):
            extra = exposed.status(cap) if exposed and cap in exposed.outcomes else ""
            rows.append(
                f"  {cap:16s} | {self.bare.status(cap):14s} | "
                f"{self.wrapped.status(cap):14s} | {extra}"
            )
        rows.append(f"  wrapper-only capabilities: {self.wrapper_only() or 'none'}")
        return "\n".join(rows)


async def compare_conformance(case: ConformanceCase) -> ConformanceComparison:
    """Run the suite on the bare and wrapped saver (and the bare one, exposed)."""
    bare = await run_conformance(f"{case.name} (bare)", case.bare)
    wrapped = await run_conformance(f"AgentGitSaver({case.name})", case.wrapped)
    comparison = ConformanceComparison(case.name, bare, wrapped)
    only = comparison.wrapper_only()
    if only:
        comparison.bare_exposed = await run_conformance(
            f"{case.name} (bare, exposed)", expose(case.bare, only), capabilities=set(only)
        )
    print(comparison.summary())
    return comparison


def assert_wrapped_conforms(comparison: ConformanceComparison) -> None:
    """Every capability the bare saver passes, the wrapped one passes too."""
    regressions = comparison.regressions()
    if regressions:
        details = "\n\n".join(
            f"{comparison.bare.describe(cap)}\n{comparison.wrapped.describe(cap)}"
            for cap in regressions
        )
        raise AssertionError(
            f"AgentGitSaver({comparison.name}) fails conformance where the bare saver "
            f"passes: {regressions}\n{comparison.summary()}\n\n{details}"
        )
    missing = BASE_NAMES - comparison.wrapped.detected
    assert not missing, f"wrapper lacks base capabilities {missing}\n{comparison.summary()}"


def _probe_calls(cap: str) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """The sync and async method of an optional capability, with harmless arguments."""
    tid, other, run_id = str(uuid4()), str(uuid4()), str(uuid4())
    method, args, kwargs = {
        "copy_thread": ("copy_thread", (tid, other), {}),
        "prune": ("prune", ([tid],), {"strategy": "keep_latest"}),
        "delete_for_runs": ("delete_for_runs", ([run_id],), {}),
    }[cap]
    return [(method, args, kwargs), (f"a{method}", args, kwargs)]


async def _raised(
    saver: BaseCheckpointSaver[Any], method: str, args: Sequence[Any], kwargs: dict[str, Any]
) -> type[BaseException] | None:
    fn = getattr(saver, method)
    try:
        if asyncio.iscoroutinefunction(fn):
            await fn(*args, **kwargs)
        else:
            # Sync twins of async savers must not run on the event loop's thread.
            await asyncio.to_thread(fn, *args, **kwargs)
    except Exception as exc:
        return type(exc)
    return None


async def assert_wrapper_only_capabilities_fall_back(
    comparison: ConformanceComparison, case: ConformanceCase
) -> list[str]:
    """Capabilities only the wrapper exposes are the wrapper's own fallbacks, and work.

    `AgentGitSaver` implements `copy_thread`, `prune` and `delete_for_runs`
    over the wrapped saver's primitives when the saver lacks them. For each
    capability detected on the wrapper only: every test of it passes on the
    wrapped saver; the bare saver, exposed, fails with `NotImplementedError`
    (so it really lacks it and the pass is the fallback's); and calling the
    method (sync and async) raises `NotImplementedError` on a bare saver and
    nothing on a wrapped one. Returns the capabilities, for the caller to record.
    """
    only = comparison.wrapper_only()
    assert not set(only) & BASE_NAMES, (
        f"base capabilities missing on the bare saver {comparison.name}: {only}"
    )
    problems: list[str] = []
    exposed = comparison.bare_exposed
    for cap in only:
        if not comparison.wrapped.passed(cap):
            problems.append(f"{cap}: the fallback fails\n" + comparison.wrapped.describe(cap))
        bare_outcomes = exposed.outcomes.get(cap, {}) if exposed else {}
        bare_failures = {t: o for t, o in bare_outcomes.items() if o != PASS}
        if not bare_failures:
            problems.append(f"{cap}: the bare saver passes it exposed; is it implemented now?")
        for test, outcome in bare_failures.items():
            if outcome.split(":")[0] != "NotImplementedError":
                problems.append(f"{cap}/{test}: bare saver failed with {outcome!r}")
        for method, args, kwargs in _probe_calls(cap):
            async with case.bare() as bare:
                bare_exc = await _raised(bare, method, args, kwargs)
            async with case.wrapped() as wrapped:
                wrapped_exc = await _raised(wrapped, method, args, kwargs)
            if bare_exc is not NotImplementedError or wrapped_exc is not None:
                problems.append(
                    f"{method}: bare raised {bare_exc}, wrapped raised {wrapped_exc}; "
                    "expected NotImplementedError and nothing"
                )
    assert not problems, f"{comparison.summary()}\n\n" + "\n\n".join(problems)
    return only
