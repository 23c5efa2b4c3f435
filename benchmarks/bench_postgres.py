"""What the wrapper costs on PostgreSQL, measured in one run.

`AgentGitSaver.from_conn_string(<schema A>)` (a `PostgresSaver` and a
`PostgresSessionStore` on one pool, `open_postgres_sync`) against a bare
`PostgresSaver` on a pool with the same settings (same connection kwargs, same
`check` callback, same sizes) in schema B of the same server:

(a) `put` per call, wrapped / bare, with the checkpoints a compiled chat graph
    (tests/graphs.py, 5 turns, up to 10 messages) produces, replayed into one
    thread with a parent chain;
(b) `get_tuple` per call (latest checkpoint of a 10,000-checkpoint thread;
    the two savers take turns call by call, each call timed on its own);
(c) `rollback` at the head of a 10,000-checkpoint thread / at the head of a
    10-checkpoint thread (both heads: the same checkpoint and pending writes);
(d) bytes one rollback adds to the database / bytes of the checkpoint it copies
    (`pg_column_size` of every live row: the checkpoint's row, its writes and
    the blobs it references; for the rollback, the growth of every table).

Every round runs each compared block once (the order rotates and flips from
round to round), with the garbage collector off; rounds are short (a few to
tens of ms) and many. A time is the median of the rounds' per-call means; a
ratio is the median of the rounds' ratios (paired within a round, so load
drifting on a shared machine cancels). The two schemas are created for the
run and dropped afterwards. Run it from the repository root:

    .venv/bin/python -m benchmarks.bench_postgres            # about a minute
    .venv/bin/python -m benchmarks.bench_postgres --quick    # a smoke run
    .venv/bin/python -m benchmarks.bench_postgres --before   # as before the hot path

(a) also times, in the same interleaved rounds, the wrapped `put` with the
store counting it the ways its hot path replaced (stores/pg_pool.py,
"counting a put", says why the count stays exact):

    window                 the saver's own: a thread seen held less than
                           `held_recheck_seconds` (1 s) ago is not read again,
                           so a steady put sends nothing of ours;
    alone                  every put reads (`held_recheck_seconds=0`): one
                           statement sent alone, on a connection the pool
                           lends without a check round trip when it was seen
                           working just before;
    alone, checked         the same, the pool checking the connection first;
    transaction            BEGIN, the statement, COMMIT on a checked
                           connection: the generic path of every other store
                           operation, and what each put paid before.

`--before` runs everything with the store counting the `transaction` way, as
the code did before the hot path existed (the other measures do not count).

The server is `--uri`, else `$AGENTGIT_BENCH_POSTGRES_URI`, else
`postgresql://postgres@127.0.0.1:5432/postgres`. Exits 1 when a ratio misses
its target (a tripwire, not a gate: timings on shared machines are noisy).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph._context import HELD_RECHECK_SECONDS
from agentgit_langgraph.stores.pg_pool import (
    AsyncStickyConnectionPool,
    Liveness,
    StickyConnectionPool,
    pool_kwargs,
)
from agentgit_langgraph.stores.postgres import PostgresSessionStore
from agentgit_langgraph.stores.sql import record_checkpoints
from benchmarks.bench_core import (
    BIG_THREAD,
    FLOOR_SQL,
    PUT_EVERY,
    PUT_FLOOR,
    SMALL_THREAD,
    Chain,
    Row,
    chat_checkpoints,
    fixed_bytes_row,
    get_tuple_row,
    head_template,
    interleaved_many,
    print_table,
)

DEFAULT_URI = os.environ.get(
    "AGENTGIT_BENCH_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/postgres"
)
LANGGRAPH_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
AGENTGIT_TABLES = ("agentgit_sessions", "agentgit_threads", "agentgit_tags")

BYTES_NOTE = (
    "bytes: sum of pg_column_size(row) over the live rows a rollback adds (the new "
    "thread's checkpoints, blobs and writes rows, agentgit_ rows and growth of updated "
    "ones), over the same sum for the copied checkpoint's row, the blob rows its "
    "channel_versions reference and its pending writes rows. Pages: growth of "
    "the main fork of those tables, their TOAST tables and indexes."
)


# -- schemas -----------------------------------------------------------------


def schema_uri(server: str, schema: str) -> str:
    sep = "&" if "?" in server else "?"
    return f"{server}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def scratch_schemas(server: str, *names: str) -> Iterator[list[str]]:
    """Fresh schemas for this run (one URI each), dropped afterwards."""
    tag = uuid.uuid4().hex[:8]
    schemas = [f"agentgit_bench_{tag}_{name}" for name in names]
    with psycopg.connect(server, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield [schema_uri(server, s) for s in schemas]
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def bare_saver(uri: str) -> Iterator[PostgresSaver]:
    """`PostgresSaver` on a pool built exactly as `open_postgres_sync` builds its own."""
    with StickyConnectionPool(**pool_kwargs(uri)) as pool:
        saver = PostgresSaver(pool)
        saver.setup()
        yield saver


@asynccontextmanager
async def abare_saver(uri: str) -> AsyncIterator[AsyncPostgresSaver]:
    """Async twin of `bare_saver`: as `open_postgres_async` builds its pool."""
    async with AsyncStickyConnectionPool(**pool_kwargs(uri)) as pool:
        saver = AsyncPostgresSaver(pool)
        await saver.setup()
        yield saver


# -- filling (not timed) -----------------------------------------------------


@contextmanager
def filler(uri: str) -> Iterator[PostgresSaver]:
    """A `PostgresSaver` on a connection of its own that commits without waiting
    for the WAL flush (`synchronous_commit=off`), for filling threads fast."""
    with psycopg.Connection.connect(
        uri, autocommit=True, prepare_threshold=0, row_factory=dict_row
    ) as conn:
        conn.execute("SET synchronous_commit TO off")
        yield PostgresSaver(conn)


def fill_thread(
    saver: BaseCheckpointSaver[Any],
    thread_id: str,
    n: int,
    series: Sequence[CheckpointTuple],
    head: CheckpointTuple,
) -> dict[str, Any]:
    """`n` checkpoints (the chat's series over and over, `head` last, with its writes)."""
    chain = Chain(saver, thread_id)
    for i in range(n - 1):
        chain.put(series[i % len(series)])
    return chain.put_with_writes(head)


# -- storage accounting ------------------------------------------------------


def _rows_bytes(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t").fetchone()
    assert row is not None
    return int(row[0])


def logical_bytes(conn: psycopg.Connection[Any]) -> int:
    return sum(_rows_bytes(conn, t) for t in LANGGRAPH_TABLES + AGENTGIT_TABLES)


def pages_bytes(conn: psycopg.Connection[Any]) -> int:
    """Pages of the tables, their TOAST tables and every index (not the free space
    and visibility maps, which appear all at once at some size)."""
    row = conn.execute(
        "SELECT sum(pg_relation_size(c.oid) + pg_indexes_size(c.oid) "
        "+ coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0) "
        "+ coalesce(pg_indexes_size(nullif(c.reltoastrelid, 0)), 0)) "
        "FROM pg_class c WHERE c.oid = ANY(%s::regclass[])",
        (list(LANGGRAPH_TABLES + AGENTGIT_TABLES),),
    ).fetchone()
    assert row is not None
    return int(row[0])


def checkpoint_bytes(conn: psycopg.Connection[Any], thread_id: str, checkpoint_id: str) -> int:
    """One stored checkpoint: its row, the blobs it references and its pending writes."""
    key = (thread_id, checkpoint_id)
    where = "WHERE c.thread_id = %s AND c.checkpoint_ns = '' AND c.checkpoint_id = %s"
    queries = (
        f"SELECT coalesce(sum(pg_column_size(c.*)), 0) FROM checkpoints c {where}",
        "SELECT coalesce(sum(pg_column_size(b.*)), 0) FROM checkpoints c "
        "CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') v "
        "JOIN checkpoint_blobs b ON b.thread_id = c.thread_id "
        "AND b.checkpoint_ns = c.checkpoint_ns AND b.channel = v.key AND b.version = v.value "
        + where,
        "SELECT coalesce(sum(pg_column_size(c.*)), 0) FROM checkpoint_writes c " + where,
    )
    total = 0
    for sql in queries:
        row = conn.execute(sql, key).fetchone()
        assert row is not None
        total += int(row[0])
    return total


# -- the benchmark -----------------------------------------------------------


def _server_facts(conn: psycopg.Connection[Any]) -> str:
    names = ("server_version", "synchronous_commit", "fsync", "wal_sync_method")
    facts = {
        n: conn.execute("SELECT current_setting(%s)", (n,)).fetchone()[0]  # type: ignore[index]
        for n in names
    }
    return ", ".join(f"{k}={v}" for k, v in facts.items())


# How the saver counts a put (see the module doc); "window" is its own way.
COUNT_PATHS = ("window", "alone", "alone, checked", "transaction")
TRUST_RECENT = Liveness().trust_seconds


def use_count_path(wrapped: AgentGitSaver, path: str) -> None:
    """Make `wrapped` count puts the `path` way, from then on. The store keeps its
    own dialect: it counts in the saver's table, so a count is one read."""
    wrapped.held_recheck_seconds = HELD_RECHECK_SECONDS if path == "window" else 0.0
    store = wrapped.store
    assert isinstance(store, PostgresSessionStore) and store.counts_in_saver
    store.__dict__.pop("record_checkpoints", None)
    store.liveness.trust_seconds = TRUST_RECENT if path in ("window", "alone") else -1.0
    if path == "transaction":

        def generic(thread_id: str, count: int = 1) -> bool:
            op = record_checkpoints(store.dialect, thread_id, count)
            return store._run(op, immediate=store.dialect.counts_apart)

        store.record_checkpoints = generic  # type: ignore[method-assign]


class Phases:
    """Wall time per phase of the run, to see where the minutes go."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self.last
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {sec:.1f}s" for name, sec in self.seconds.items())


def run(
    rounds: int,
    server: str,
    *,
    before: bool = False,
    big: int = BIG_THREAD,
    small: int = SMALL_THREAD,
    headline_only: bool = False,
) -> list[Row]:
    """The rows above; `big` and `small` size the two threads rollback is timed on;
    `headline_only` times the put only the saver's own way and with every put
    reading (`window` and `alone`: no other count paths)."""
    phases = Phases()
    series = chat_checkpoints()
    head = head_template(series)
    rows: list[Row] = []
    with ExitStack() as stack:
        w_uri, b_uri = stack.enter_context(scratch_schemas(server, "wrapped", "bare"))
        wrapped = stack.enter_context(AgentGitSaver.from_conn_string(w_uri))
        bare = stack.enter_context(bare_saver(b_uri))
        phases.done("open")
        assert isinstance(wrapped.saver, PostgresSaver)
        assert isinstance(wrapped.store, PostgresSessionStore)
        w_pool, b_pool = wrapped.saver.conn, bare.conn
        assert isinstance(w_pool, ConnectionPool) and isinstance(b_pool, ConnectionPool)
        admin = stack.enter_context(psycopg.Connection.connect(w_uri, autocommit=True))
        print("server:", _server_facts(admin))
        print(
            "pools (wrapped, bare): "
            + ", ".join(
                f"min={p.min_size} max={p.max_size} check={type(p._check).__name__}"
                for p in (w_pool, b_pool)
            )
        )

        # Threads: a 10,000-checkpoint and a 10-checkpoint one in each schema, written by
        # a PostgresSaver on the same schema and registered in the store directly.
        t0 = time.perf_counter()
        heads: dict[str, dict[str, Any]] = {}
        w_fill = stack.enter_context(filler(w_uri))
        b_fill = stack.enter_context(filler(b_uri))
        for thread_id, n in (("big", big), ("small", small)):
            heads[thread_id] = fill_thread(w_fill, thread_id, n, series, head)
            wrapped.store.ensure_session_for_thread(thread_id, user_id=0)
            wrapped.store.record_checkpoints(thread_id, n)
            fill_thread(b_fill, thread_id, n, series, head)
        for conn in (w_fill.conn, b_fill.conn):
            assert isinstance(conn, psycopg.Connection)
            conn.execute("ANALYZE")
        assert wrapped.session_for_thread("big").total_checkpoints == big
        fill_seconds = time.perf_counter() - t0
        phases.done("fill")
        # What exists now lives until the end: keep it out of every collection, so
        # that collecting between rounds costs next to nothing.
        gc.collect()
        gc.freeze()

        # (a) put: replay the chat's checkpoints, one pass per block; each count path
        # into a thread of its own.

        def put_block(saver: BaseCheckpointSaver[Any], thread_id: str, path: str) -> Any:
            chain = Chain(saver, thread_id)
            if saver is wrapped:
                use_count_path(wrapped, path)
            chain.put(series[0])  # the first put into a thread also creates its session

            def block() -> int:
                if saver is wrapped:
                    use_count_path(wrapped, path)
                for template in series:
                    chain.put(template)
                return len(series)

            return block

        # The floor of any count made in a round trip of its own: the bare put and one
        # `FLOOR_SQL` on a connection of its own.
        probe = stack.enter_context(
            psycopg.Connection.connect(b_uri, autocommit=True, prepare_threshold=0)
        )
        floor_chain = Chain(bare, "put-floor")
        floor_chain.put(series[0])

        def floor_block() -> int:
            for template in series:
                floor_chain.put(template)
                probe.execute(FLOOR_SQL)
            return len(series)

        blocks = {"bare": put_block(bare, "put-bare", ""), "floor": floor_block}
        paths = ("transaction",) if before else COUNT_PATHS[:2] if headline_only else COUNT_PATHS
        blocks.update({path: put_block(wrapped, f"put-{path}", path) for path in paths})
        puts = interleaved_many(rounds * 10, blocks)
        use_count_path(wrapped, paths[0])
        for path in paths:
            headline = path == paths[0]
            name = (
                "put (per call)"
                if headline
                else PUT_EVERY
                if path == "alone"
                else f"  count {path}"
            )
            rows.append(puts.row(name, path, "bare", 1.05 if headline else None))
            counted = wrapped.session_for_thread(f"put-{path}").total_checkpoints
            row = admin.execute(
                "SELECT count(*) FROM checkpoints WHERE thread_id = %s", (f"put-{path}",)
            ).fetchone()
            assert row is not None and counted == row[0], (path, counted, row)  # exact too
        rows.append(puts.row(PUT_FLOOR, "floor", "bare", None))

        phases.done("put")

        # (b) get_tuple: the latest checkpoint of the 10,000-checkpoint thread.
        get_tuple = get_tuple_row(wrapped, bare, rounds * 300)
        phases.done("get_tuple")
        rows.append(get_tuple)

        # (c) rollback at the head of the long thread vs of the short one.
        def rollback_block(config: dict[str, Any]) -> Callable[[], int]:
            def block() -> int:
                for _ in range(2):
                    wrapped.rollback(config)  # type: ignore[arg-type]
                return 2

            return block

        rollbacks = interleaved_many(
            rounds * 4,
            {"big": rollback_block(heads["big"]), "small": rollback_block(heads["small"])},
        )
        name = f"rollback: {big:,}-ckpt / {small}-ckpt thread"
        rows.append(rollbacks.row(name, "big", "small", 1.5))

        phases.done("rollback")
        # (d) storage: one more rollback of the short thread's head.
        src = heads["small"]["configurable"]
        one = checkpoint_bytes(admin, "small", src["checkpoint_id"])
        start = logical_bytes(admin)
        wrapped.rollback(heads["small"])  # type: ignore[arg-type]
        added = logical_bytes(admin) - start
        rows.append(
            Row("rollback bytes / checkpoint bytes", f"{added:,} B", f"{one:,} B", added / one, 1.2)
        )
        rows.append(
            fixed_bytes_row(
                lambda: logical_bytes(admin),
                lambda: wrapped.rollback(heads["small"]),  # type: ignore[arg-type]
                head,
                w_fill,
            )
        )
        # On pages, averaged over 100 rollbacks against 100 plain puts of the same
        # checkpoint and writes into fresh threads.
        n = 100
        start = pages_bytes(admin)
        for _ in range(n):
            wrapped.rollback(heads["small"])  # type: ignore[arg-type]
        rb_pages = (pages_bytes(admin) - start) / n
        start = pages_bytes(admin)
        for i in range(n):
            Chain(wrapped.saver, f"page-probe-{i}").put_with_writes(head)
        put_pages = (pages_bytes(admin) - start) / n
        rows.append(
            Row(
                "  on pages: rollback / put+writes",
                f"{rb_pages:,.0f} B",
                f"{put_pages:,.0f} B",
                rb_pages / put_pages if put_pages else float("nan"),
                None,
            )
        )
        phases.done("storage")
    phases.done("close")
    print("phases:", phases)
    print(
        f"setup: {big:,}+{small} checkpoints per schema in {fill_seconds:.1f}s; "
        f"checkpoint series: {len(series)} checkpoints of a 5-turn chat, "
        f"{min(len(t.checkpoint['channel_values'].get('messages', [])) for t in series)}-"
        f"{max(len(t.checkpoint['channel_values'].get('messages', [])) for t in series)} "
        "messages"
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--uri", default=DEFAULT_URI, help="PostgreSQL server (any database)")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per measure")
    parser.add_argument("--quick", action="store_true", help="3 rounds: a smoke run")
    parser.add_argument(
        "--before", action="store_true", help="count puts as before the store's hot path"
    )
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    start = time.perf_counter()
    rows = run(rounds, args.uri, before=args.before)
    print()
    print_table(rows, note=BYTES_NOTE)
    print(f"\ntotal: {time.perf_counter() - start:.1f}s, {rounds} rounds per timing")
    return 0 if all(r.verdict != "MISS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
