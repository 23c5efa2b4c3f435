"""`AgentGitSaver` passes LangGraph's checkpointer conformance suite on PostgreSQL
as well as the saver it wraps (DESIGN.md, "Transparent"), with the logic of
`tests/conformance_helpers.py`.

Cases, each in a schema of its own inside this run's schema, emptied (every
table truncated) before each fresh checkpointer the suite asks for:

* `AsyncPostgresSaver` on a pool, the store on the same pool; and on a single
  connection, the store sharing it under the saver's lock (the recipe in the
  helpers' docstring); and `AgentGitSaver.afrom_conn_string(...)`, the public
  entry point.
* `PostgresSaver` (pool, single connection + lock, `from_conn_string`). It has
  no async methods and the suite calls nothing else, so run bare it detects no
  capability and proves nothing. Both the bare and the wrapped saver are
  therefore driven through `SyncDriven`, an adapter whose async methods run the
  saver's sync ones in a worker thread: the suite's coroutines then exercise
  `PostgresSaver.put` / `AgentGitSaver.put` (and the sync store) unchanged.
  The adapter exposes every capability on both sides, so a capability the bare
  saver lacks shows as failing there with `NotImplementedError`, and passing
  on the wrapper, whose fallback (over the saver's primitives) provides it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg")
pytest.importorskip("psycopg_pool")
pytest.importorskip("langgraph.checkpoint.postgres")

from langchain_core.runnables import RunnableConfig  # noqa: E402
from langgraph.checkpoint.base import (  # noqa: E402
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.postgres import PostgresSaver  # noqa: E402
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver  # noqa: E402
from psycopg_pool import AsyncConnectionPool, ConnectionPool  # noqa: E402

from agentgit_langgraph import AgentGitSaver  # noqa: E402
from agentgit_langgraph.stores.postgres import (  # noqa: E402
    CONNECTION_KWARGS,
    AsyncPostgresSessionStore,
    PostgresSessionStore,
)
from tests.conformance_helpers import (  # noqa: E402
    PASS,
    ConformanceCase,
    ConformanceComparison,
    SaverFactory,
    assert_wrapped_conforms,
    compare_conformance,
    wrap,
)
from tests.conformance_helpers import (  # noqa: E402
    assert_wrapper_only_capabilities_fall_back as assert_fallbacks_detected_on_wrapper_only,
)

pytestmark = pytest.mark.postgres

# What the bare Postgres savers lack (the wrapper's fallbacks provide it).
# AsyncPostgresSaver implements `aprune`, PostgresSaver `prune`. Update when
# LangGraph implements one of these.
EXPECTED_LACKING = ["copy_thread", "delete_for_runs"]


# -- a schema per case, emptied for each fresh checkpointer ---------------------


def _schema_uri(run_uri: str, tag: str) -> tuple[str, str]:
    base, sep, run_schema = run_uri.rpartition("search_path%3D")
    assert sep, run_uri
    schema = f"{run_schema}_{tag}"
    return f"{base}search_path%3D{schema}", schema


@pytest.fixture
def schema_uri(postgres_run_uri: str) -> Iterator[str]:
    """A schema of this test's own (inside the run's), dropped afterwards."""
    uri, schema = _schema_uri(postgres_run_uri, uuid.uuid4().hex[:8])
    with psycopg.connect(postgres_run_uri, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield uri
    finally:
        with psycopg.connect(postgres_run_uri, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def _empty(uri: str) -> None:
    """Truncate every table of the schema but the migration records."""
    async with await psycopg.AsyncConnection.connect(uri, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename NOT IN ('checkpoint_migrations', 'agentgit_migrations')"
        )
        tables = [row[0] for row in await cur.fetchall()]
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


# -- driving a sync-only saver through the async API --------------------------


class SyncDriven(BaseCheckpointSaver[Any]):
    """The async API of `inner`'s sync methods: each runs in a worker thread.

    Only what the suite calls (and `get_next_version`, `serde`) is forwarded.
    Every async method is declared, so the suite detects every capability; one
    `inner` lacks raises what `inner`'s sync method raises.
    """

    def __init__(self, inner: BaseCheckpointSaver[Any]) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self.inner.get_next_version(current, channel)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.inner.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        def fetch() -> list[CheckpointTuple]:
            return list(self.inner.list(config, filter=filter, before=before, limit=limit))

        for item in await asyncio.to_thread(fetch):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.inner.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.inner.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.inner.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.inner.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.inner.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.inner.prune, thread_ids, strategy=strategy)


def sync_driven(factory: SaverFactory) -> SaverFactory:
    @asynccontextmanager
    async def open_driven() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with factory() as saver:
            yield SyncDriven(saver)

    return open_driven


# -- the cases -------------------------------------------------------------------


def _async_pool_case(uri: str) -> ConformanceCase:
    @asynccontextmanager
    async def bare() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with AsyncConnectionPool(uri, kwargs=dict(CONNECTION_KWARGS), open=False) as pool:
            saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]  # dict rows: kwargs
            await saver.setup()
            await _empty(uri)
            yield saver

    @asynccontextmanager
    async def store(saver: BaseCheckpointSaver[Any]) -> AsyncIterator[AsyncPostgresSessionStore]:
        assert isinstance(saver, AsyncPostgresSaver)
        yield AsyncPostgresSessionStore(saver.conn)

    return ConformanceCase("AsyncPostgresSaver(pool)", bare, wrap(bare, store))


def _async_shared_conn_case(uri: str) -> ConformanceCase:
    @asynccontextmanager
    async def bare() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with AsyncPostgresSaver.from_conn_string(uri) as saver:
            await saver.setup()
            await _empty(uri)
            yield saver

    @asynccontextmanager
    async def store(saver: BaseCheckpointSaver[Any]) -> AsyncIterator[AsyncPostgresSessionStore]:
        assert isinstance(saver, AsyncPostgresSaver)
        yield AsyncPostgresSessionStore(saver.conn, lock=saver.lock)

    return ConformanceCase("AsyncPostgresSaver+shared-conn", bare, wrap(bare, store))


def _afrom_conn_string_case(uri: str) -> ConformanceCase:
    bare = _async_pool_case(uri).bare

    @asynccontextmanager
    async def wrapped() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with AgentGitSaver.afrom_conn_string(uri) as saver:
            await _empty(uri)
            yield saver

    return ConformanceCase("afrom_conn_string(postgres)", bare, wrapped)


def _sync_pool_case(uri: str) -> ConformanceCase:
    @asynccontextmanager
    async def bare() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        pool = ConnectionPool(uri, kwargs=dict(CONNECTION_KWARGS), open=False)
        await asyncio.to_thread(pool.open, wait=True)
        try:
            saver = PostgresSaver(pool)  # type: ignore[arg-type]  # dict rows: kwargs
            await asyncio.to_thread(saver.setup)
            await _empty(uri)
            yield saver
        finally:
            await asyncio.to_thread(pool.close)

    @asynccontextmanager
    async def store(saver: BaseCheckpointSaver[Any]) -> AsyncIterator[PostgresSessionStore]:
        assert isinstance(saver, PostgresSaver)
        yield PostgresSessionStore(saver.conn)

    return ConformanceCase(
        "SyncDriven(PostgresSaver(pool))", sync_driven(bare), sync_driven(wrap(bare, store))
    )


def _sync_shared_conn_case(uri: str) -> ConformanceCase:
    @asynccontextmanager
    async def bare() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        with PostgresSaver.from_conn_string(uri) as saver:
            await asyncio.to_thread(saver.setup)
            await _empty(uri)
            yield saver

    @asynccontextmanager
    async def store(saver: BaseCheckpointSaver[Any]) -> AsyncIterator[PostgresSessionStore]:
        assert isinstance(saver, PostgresSaver)
        yield PostgresSessionStore(saver.conn, lock=saver.lock)

    return ConformanceCase(
        "SyncDriven(PostgresSaver+shared-conn)",
        sync_driven(bare),
        sync_driven(wrap(bare, store)),
    )


def _from_conn_string_case(uri: str) -> ConformanceCase:
    bare = _sync_pool_case(uri).bare

    @asynccontextmanager
    async def wrapped() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        with AgentGitSaver.from_conn_string(uri) as saver:
            await _empty(uri)
            yield saver

    return ConformanceCase("SyncDriven(from_conn_string(postgres))", bare, sync_driven(wrapped))


ASYNC_CASES: dict[str, Callable[[str], ConformanceCase]] = {
    "async-pool": _async_pool_case,
    "async-shared-conn": _async_shared_conn_case,
    "afrom_conn_string": _afrom_conn_string_case,
}
SYNC_CASES: dict[str, Callable[[str], ConformanceCase]] = {
    "sync-pool": _sync_pool_case,
    "sync-shared-conn": _sync_shared_conn_case,
    "from_conn_string": _from_conn_string_case,
}


@pytest.fixture(params=sorted(ASYNC_CASES) + sorted(SYNC_CASES))
def case(request: pytest.FixtureRequest, schema_uri: str) -> ConformanceCase:
    make = ASYNC_CASES.get(request.param) or SYNC_CASES[request.param]
    return make(schema_uri)


@pytest.fixture
async def comparison(case: ConformanceCase) -> ConformanceComparison:
    return await compare_conformance(case)


def _is_sync_driven(case: ConformanceCase) -> bool:
    return case.name.startswith("SyncDriven(")


@pytest.mark.slow
def test_wrapped_passes_every_capability_the_bare_saver_passes(
    comparison: ConformanceComparison, record_property: Callable[[str, Any], None]
) -> None:
    record_property("conformance", comparison.summary())
    assert_wrapped_conforms(comparison)
    # Sanity: the bare savers pass the whole base suite, so the check compared something.
    assert comparison.bare.report.passed_all_base(), comparison.summary()


@pytest.mark.slow
async def test_what_the_bare_saver_lacks_the_wrapper_provides(
    case: ConformanceCase,
    comparison: ConformanceComparison,
    record_property: Callable[[str, Any], None],
) -> None:
    if _is_sync_driven(case):
        # Every capability is detected on both sides: the bare saver's failures
        # are all NotImplementedError, and the wrapper passes those capabilities.
        assert comparison.wrapper_only() == [], comparison.summary()
        lacking = sorted(cap for cap in comparison.bare.outcomes if not comparison.bare.passed(cap))
        problems = [
            f"{cap}/{test}: bare saver failed with {outcome!r}"
            for cap in lacking
            for test, outcome in comparison.bare.outcomes[cap].items()
            if outcome != PASS and outcome.split(":")[0] != "NotImplementedError"
        ]
        problems += [
            comparison.wrapped.describe(cap)
            for cap in lacking
            if not comparison.wrapped.passed(cap)
        ]
        assert not problems, comparison.summary() + "\n\n" + "\n\n".join(problems)
    else:
        lacking = await assert_fallbacks_detected_on_wrapper_only(comparison, case)
    record_property("lacking_capabilities", ",".join(lacking))
    assert lacking == EXPECTED_LACKING, comparison.summary()


# -- counting a put: the store's hot path, invisible to the saver ------------------
#
# Each put is counted by one autocommit UPDATE that commits without waiting for
# its WAL flush, on a connection the pool may lend unchecked when it was seen
# working just before (stores/postgres.py, "counting a put"). These pin down
# that the relaxation stays inside that statement and that the shortcuts fall
# back when they must.


def _setting(conn: Any) -> str:
    row = conn.execute("SELECT current_setting('synchronous_commit')").fetchone()
    assert row is not None
    return str(row[0] if not isinstance(row, dict) else row["current_setting"])


def test_the_count_commits_without_flush_and_the_setting_ends_with_it(schema_uri: str) -> None:
    from agentgit_langgraph.stores.sql import POSTGRES, record_checkpoints

    with PostgresSaver.from_conn_string(schema_uri) as saver:
        saver.setup()
        store = PostgresSessionStore(saver.conn, lock=saver.lock)
        store.ensure_session_for_thread("t", user_id=0)
        conn = saver.conn
        assert isinstance(conn, psycopg.Connection)
        assert _setting(conn) == "on"
        # The statement relaxes its own transaction (seen from inside one) ...
        op = record_checkpoints(POSTGRES, "t", 1, without_flush=True)
        stmt = next(op)
        with conn.transaction():
            assert conn.execute(stmt.sql, stmt.params).rowcount == 1
            assert _setting(conn) == "off"
        assert _setting(conn) == "on"
        # ... and, run by the store in autocommit, nothing after it: the saver's
        # next commit on the same connection waits for its flush as before.
        assert store.record_checkpoints("t", 2)
        assert _setting(conn) == "on"
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        thread = store.get_thread("t")
        assert thread is not None and thread.checkpoint_count == 3


def test_inside_a_callers_transaction_the_count_relaxes_nothing(schema_uri: str) -> None:
    with PostgresSaver.from_conn_string(schema_uri) as saver:
        saver.setup()
        store = PostgresSessionStore(saver.conn, lock=saver.lock)
        store.ensure_session_for_thread("t", user_id=0)
        conn = saver.conn
        assert isinstance(conn, psycopg.Connection)
        with conn.transaction() as outer:
            assert store.record_checkpoints("t")  # a savepoint in the caller's transaction
            assert _setting(conn) == "on"  # the caller's commit still waits for its flush
            raise psycopg.Rollback(outer)
        thread = store.get_thread("t")
        assert thread is not None and thread.checkpoint_count == 0  # rolled back with it


def test_the_count_skips_the_pool_check_only_for_a_connection_seen_alive(
    schema_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection the server ended since its last use is checked and replaced
    (its socket is readable), so the count neither fails nor counts twice."""

    app = f"agentgit-conformance-{uuid.uuid4().hex[:8]}"
    with AgentGitSaver.from_conn_string(f"{schema_uri}&application_name={app}") as saver:
        store = saver.store
        assert isinstance(store, PostgresSessionStore)
        store.ensure_session_for_thread("t", user_id=0)
        for _ in range(8):  # every pooled connection has just been seen working
            assert store.record_checkpoints("t")
        with psycopg.connect(schema_uri, autocommit=True) as admin:
            pids = [
                r[0]
                for r in admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,)
                )
            ]
            assert pids
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
        skipped: list[tuple[bool, bool]] = []
        seen_working = store.liveness.seen_working

        def spy(conn: Any) -> bool:
            result = seen_working(conn)
            seen = store.liveness.last_seen(conn)
            skipped.append((result, seen is not None and time.monotonic() - seen < 5))
            return result

        monkeypatch.setattr(store.liveness, "seen_working", spy)
        assert store.record_checkpoints("t")
        # Seen working a moment ago, but its socket says the server ended it: checked
        # (the pool then replaces it and its dead siblings), not trusted.
        assert skipped[0] == (False, True)
        thread = store.get_thread("t")
        # Counted in LangGraph's table (nothing was saved there), never by these calls.
        assert thread is not None and thread.checkpoint_count == 0


def test_a_failed_count_says_whether_it_may_have_been_applied() -> None:
    from agentgit_langgraph.stores.pg_pool import may_have_run as _may_have_run

    # The server reported the statement's failure: its transaction did not commit.
    assert not _may_have_run(psycopg.errors.AdminShutdown("terminating connection"), True)
    assert not _may_have_run(psycopg.errors.QueryCanceled("canceling statement"), True)
    assert not _may_have_run(psycopg.errors.UniqueViolation("duplicate"), True)
    # The connection just broke: it may have broken after the commit.
    assert _may_have_run(psycopg.OperationalError("server closed the connection"), True)
    # It was already closed: nothing was sent.
    assert not _may_have_run(psycopg.OperationalError("the connection is closed"), False)
