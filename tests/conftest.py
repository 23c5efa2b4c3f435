"""Backends for the suite: every test that takes `backend` / `abackend` runs on each.

`run` drives a plan (tests/plans.py) with the sync API and, as a second case,
the async one; `run_backend` opens the saver that API needs on each backend.

A backend opens an `AgentGitSaver` and can open it again on the same data
(`reopen`), which for the file and server backends means new connections.
PostgreSQL tests use a fresh schema per test run; with CI=true an unreachable
server fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agentgit_langgraph import AgentGitSaver, InMemorySessionStore
from agentgit_langgraph._plan import Plan, Targets, run_async, run_sync

T = TypeVar("T")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every PostgreSQL case is also `slow`: the quick subset (`-m "not slow"`) runs
    memory and SQLite and takes about a minute; the full suite and CI run the
    same cases on the server too. A PostgreSQL case is one marked `postgres`
    or one whose name (its parameters included) says so."""
    for item in items:
        if item.get_closest_marker("postgres") or "postgres" in item.name:
            item.add_marker(pytest.mark.slow)


POSTGRES_URI = os.environ.get(
    "AGENTGIT_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Backend:
    """Opens wrapped savers on one set of data; `open()` again to reopen."""

    name: str
    open: Callable[[], AbstractContextManager[AgentGitSaver]]


@dataclass
class AsyncBackend:
    name: str
    open: Callable[[], AbstractAsyncContextManager[AgentGitSaver]]


@dataclass(frozen=True)
class Run:
    """Drives a plan with the sync API (`run_sync`) or the async one (`run_async`).

    The sync API runs in a worker thread, where no event loop runs: as a sync
    caller's does (the test itself runs in pytest-asyncio's loop).
    """

    mode: Literal["sync", "async"]

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    async def __call__(self, plan: Plan[T], targets: Targets) -> T:
        if self.is_async:
            return await run_async(plan, targets)
        return await asyncio.to_thread(run_sync, plan, targets)

    @asynccontextmanager
    async def from_conn_string(
        self, conn_string: str, **kwargs: Any
    ) -> AsyncIterator[AgentGitSaver]:
        """`AgentGitSaver.from_conn_string`, or `afrom_conn_string` for the async API."""
        if self.is_async:
            async with AgentGitSaver.afrom_conn_string(conn_string, **kwargs) as saver:
                yield saver
        else:
            with AgentGitSaver.from_conn_string(conn_string, **kwargs) as saver:
                yield saver

    def open(self, backend: Backend, abackend: AsyncBackend) -> AsyncBackend:
        """The backend whose savers this API drives (a sync one opens with `async with` too)."""
        if self.is_async:
            return abackend

        @asynccontextmanager
        async def open_sync() -> AsyncIterator[AgentGitSaver]:
            with backend.open() as saver:
                yield saver

        return AsyncBackend(backend.name, open_sync)


def _memory_backend() -> tuple[Backend, AsyncBackend]:
    saver = AgentGitSaver(InMemorySaver(), InMemorySessionStore())

    @contextmanager
    def open_sync() -> Iterator[AgentGitSaver]:
        yield saver

    @asynccontextmanager
    async def open_async() -> AsyncIterator[AgentGitSaver]:
        yield saver

    return Backend("memory", open_sync), AsyncBackend("memory", open_async)


def _conn_string_backend(name: str, conn_string: str) -> tuple[Backend, AsyncBackend]:
    return (
        Backend(name, lambda: AgentGitSaver.from_conn_string(conn_string)),
        AsyncBackend(name, lambda: AgentGitSaver.afrom_conn_string(conn_string)),
    )


def postgres_available() -> bool:
    """True when the test server answers; with CI=true a silent server is an error."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URI, connect_timeout=3):
            return True
    except Exception as exc:  # ImportError or any connection failure
        if IN_CI:
            raise RuntimeError(
                f"CI=true and PostgreSQL at {POSTGRES_URI} is unreachable: {exc}"
            ) from exc
        return False


def postgres_backends_enabled() -> bool:
    try:
        import agentgit_langgraph.stores.postgres  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Switch this process's local time zone (`TZ` and `time.tzset()`); restored after."""
    import time

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def fresh_postgres_uri(postgres_server: str) -> Iterator[str]:
    """A URI on a new, empty schema of its own (dropped after): for migration tests."""
    import psycopg

    schema = f"agentgit_fresh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in postgres_server else "?"
    try:
        yield f"{postgres_server}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The server URI; skips (or, with CI=true, fails) when no server answers."""
    if not postgres_available():
        pytest.skip(f"no PostgreSQL server at {POSTGRES_URI}")
    return POSTGRES_URI


@pytest.fixture(scope="session")
def postgres_run_uri(postgres_server: str) -> Iterator[str]:
    """A URI whose search_path is a schema made for this test run, dropped after."""
    import psycopg

    schema = f"agentgit_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in postgres_server else "?"
    try:
        yield f"{postgres_server}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_schema_uri(postgres_run_uri: str) -> str:
    """The run's schema, emptied for this test: its tables stay, their rows go.

    Creating the tables once per run (LangGraph's migrations build indexes
    concurrently, which is slow) and truncating between tests keeps each test
    isolated at a fraction of the cost of a schema per test.
    """
    import psycopg

    with psycopg.connect(postgres_run_uri, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename NOT IN ('checkpoint_migrations', 'agentgit_migrations')"
            )
        ]
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    return postgres_run_uri


BACKEND_NAMES = ["memory", "sqlite"] + (["postgres"] if postgres_backends_enabled() else [])


def _backends(
    name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[Backend, AsyncBackend]:
    if name == "memory":
        return _memory_backend()
    if name == "sqlite":
        return _conn_string_backend("sqlite", str(tmp_path / "agent.db"))
    uri = request.getfixturevalue("postgres_schema_uri")
    return _conn_string_backend("postgres", uri)


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A sync backend: memory, a SQLite file, PostgreSQL (when enabled)."""
    return _backends(request.param, tmp_path, request)[0]


@pytest.fixture(params=BACKEND_NAMES)
def abackend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncBackend:
    """The async twin of `backend` (AsyncSqliteSaver, AsyncPostgresSaver)."""
    return _backends(request.param, tmp_path, request)[1]


SQL_BACKEND_NAMES = [n for n in BACKEND_NAMES if n != "memory"]


@pytest.fixture(params=SQL_BACKEND_NAMES)
def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """`backend` on a database (SQLite file, PostgreSQL): what survives a process."""
    return _backends(request.param, tmp_path, request)[0]


@pytest.fixture(params=SQL_BACKEND_NAMES)
def asql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncBackend:
    """The async twin of `sql_backend`."""
    return _backends(request.param, tmp_path, request)[1]


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Run:
    """Drives a test's plan with the sync API, then (the second case) the async one."""
    return Run(request.param)


@pytest.fixture(params=BACKEND_NAMES)
def run_backend(request: pytest.FixtureRequest, tmp_path: Path, run: Run) -> AsyncBackend:
    """`backend` or `abackend`, whichever `run` drives; opened with `async with`."""
    return run.open(*_backends(request.param, tmp_path, request))


@pytest.fixture(params=SQL_BACKEND_NAMES)
def run_sql_backend(request: pytest.FixtureRequest, tmp_path: Path, run: Run) -> AsyncBackend:
    """`sql_backend` or `asql_backend`, whichever `run` drives."""
    return run.open(*_backends(request.param, tmp_path, request))


@pytest.fixture(params=["memory", "sqlite"])
def run_sqlite_backend(request: pytest.FixtureRequest, tmp_path: Path, run: Run) -> AsyncBackend:
    """`run_backend` on the SQLite stores only (memory, file): for rows only SQLite's
    dynamic typing can hold (PostgreSQL's typed columns refuse them up front)."""
    return run.open(*_backends(request.param, tmp_path, request))
