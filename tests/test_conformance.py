"""`AgentGitSaver` passes LangGraph's checkpointer conformance suite as well as the
saver it wraps (DESIGN.md, "Transparent").

For each case the suite runs on the bare saver and on the wrapped one, a fresh
checkpointer per capability suite (SQLite: a fresh file each time). The logic
lives in `tests/conformance_helpers.py` so a PostgreSQL module can reuse it.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agentgit_langgraph import AgentGitSaver, AsyncSqliteSessionStore, InMemorySessionStore
from tests.conformance_helpers import (
    ConformanceCase,
    ConformanceComparison,
    SaverFactory,
    assert_wrapped_conforms,
    assert_wrapper_only_capabilities_fall_back,
    compare_conformance,
    wrap,
)

# What the bare savers lack today, so the wrapper's own fallbacks (over the
# saver's primitives) provide it. Update when LangGraph implements one of these.
EXPECTED_WRAPPER_ONLY = ["copy_thread", "delete_for_runs", "prune"]


def _memory_case(tmp_path: Path) -> ConformanceCase:
    @asynccontextmanager
    async def bare() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        yield InMemorySaver()

    @asynccontextmanager
    async def store(_: BaseCheckpointSaver[Any]) -> AsyncIterator[InMemorySessionStore]:
        yield InMemorySessionStore()

    return ConformanceCase("InMemorySaver", bare, wrap(bare, store))


def _sqlite_files(tmp_path: Path) -> Callable[[], str]:
    counter = itertools.count()
    return lambda: str(tmp_path / f"conformance-{next(counter)}.db")


def _async_sqlite_bare(tmp_path: Path) -> SaverFactory:
    new_file = _sqlite_files(tmp_path)

    @asynccontextmanager
    async def bare() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with AsyncSqliteSaver.from_conn_string(new_file()) as saver:
            yield saver

    return bare


def _async_sqlite_own_conn_case(tmp_path: Path) -> ConformanceCase:
    """The store on its own connection to the saver's file (what `afrom_conn_string` does)."""
    bare = _async_sqlite_bare(tmp_path)

    @asynccontextmanager
    async def store(saver: BaseCheckpointSaver[Any]) -> AsyncIterator[AsyncSqliteSessionStore]:
        assert isinstance(saver, AsyncSqliteSaver)
        (path,) = [row[2] for row in await saver.conn.execute_fetchall("PRAGMA database_list")]
        async with AsyncSqliteSessionStore.from_conn_string(path) as session_store:
            yield session_store

    return ConformanceCase("AsyncSqliteSaver", bare, wrap(bare, store))


def _async_sqlite_shared_conn_case(tmp_path: Path) -> ConformanceCase:
    """The store on the saver's own aiosqlite connection, guarded by the saver's lock."""
    bare = _async_sqlite_bare(tmp_path)

    @asynccontextmanager
    async def store(saver: BaseCheckpointSaver[Any]) -> AsyncIterator[AsyncSqliteSessionStore]:
        assert isinstance(saver, AsyncSqliteSaver)
        yield AsyncSqliteSessionStore(saver.conn, lock=saver.lock)

    return ConformanceCase("AsyncSqliteSaver+shared-conn", bare, wrap(bare, store))


def _afrom_conn_string_case(tmp_path: Path) -> ConformanceCase:
    """The public entry point: `AgentGitSaver.afrom_conn_string(<file>)`."""
    bare = _async_sqlite_bare(tmp_path)
    (tmp_path / "entry").mkdir()
    new_file = _sqlite_files(tmp_path / "entry")

    @asynccontextmanager
    async def wrapped() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with AgentGitSaver.afrom_conn_string(new_file()) as saver:
            yield saver

    return ConformanceCase("afrom_conn_string(sqlite)", bare, wrapped)


CASES: dict[str, Callable[[Path], ConformanceCase]] = {
    "memory": _memory_case,
    "async-sqlite": _async_sqlite_own_conn_case,
    "async-sqlite-shared-conn": _async_sqlite_shared_conn_case,
    "afrom_conn_string-sqlite": _afrom_conn_string_case,
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> ConformanceCase:
    return CASES[request.param](tmp_path)


@pytest.fixture
async def comparison(case: ConformanceCase) -> ConformanceComparison:
    return await compare_conformance(case)


def test_wrapped_passes_every_capability_the_bare_saver_passes(
    comparison: ConformanceComparison, record_property: Callable[[str, Any], None]
) -> None:
    record_property("conformance", comparison.summary())
    assert_wrapped_conforms(comparison)
    # Sanity: the bare savers here pass the whole base suite, so the check above
    # compared something.
    assert comparison.bare.report.passed_all_base(), comparison.summary()


async def test_wrapper_only_capabilities_are_fallbacks_that_pass(
    case: ConformanceCase,
    comparison: ConformanceComparison,
    record_property: Callable[[str, Any], None],
) -> None:
    only = await assert_wrapper_only_capabilities_fall_back(comparison, case)
    record_property("wrapper_only_capabilities", ",".join(only))
    print(f"{case.name}: wrapper-only capabilities (fallbacks, passing): {only}")
    assert only == EXPECTED_WRAPPER_ONLY, comparison.summary()
