"""What the wrapper costs, measured in one run on SQLite files.

`AgentGitSaver.from_conn_string(a.db)` against a bare `SqliteSaver` on `b.db`
(same `sqlite3.connect` settings, same `setup()`: WAL, default synchronous):

(a) `put` per call, wrapped / bare, with the checkpoints a compiled chat graph
    (tests/graphs.py, 5 turns, up to 10 messages) produces, replayed into one
    thread with a parent chain;
(b) `get_tuple` per call (latest checkpoint of a thread), wrapped / bare, the
    two savers taking turns call by call (`alternating_calls`);
(c) `rollback` at the head of a 10,000-checkpoint thread / at the head of a
    10-checkpoint thread (both heads: the same checkpoint and pending write);
(d) bytes one rollback adds to the database / bytes of the checkpoint it copies.

Wrapped and bare rounds alternate (the order flips every round) and each figure
is the median of the rounds' per-call means, with the garbage collector off
while timing. Rounds are short (a few ms) and many, so drift in fsync latency
or CPU contention hits both sides alike; `--rounds` sets the scale (put runs 6x
that many rounds, rollback 2x; get_tuple takes turns call by call, 600x that
many calls a side). Run it from the repository root:

    .venv/bin/python -m benchmarks.bench_core            # about a minute
    .venv/bin/python -m benchmarks.bench_core --quick    # fewer rounds, a smoke run

Exits 1 when a ratio misses its target (useful in CI as a tripwire, not a gate:
timings on shared machines are noisy).
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple, copy_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from agentgit_langgraph import AgentGitSaver
from tests.graphs import chat_graph_builder, human

BIG_THREAD = 10_000
# The put's floor: the bare put and one `FLOOR_SQL` after it (on PostgreSQL, in a
# round trip of its own).
PUT_FLOOR = "  floor: bare + 1 statement"
# The wrapped put with `held_recheck_seconds=0`: the store read on every put.
PUT_EVERY = "  every put reads (recheck 0)"
FLOOR_SQL = "SELECT 1 FROM checkpoints WHERE thread_id = 'floor' AND checkpoint_ns = '' LIMIT 1"
"""The statement a floor adds after each put: an indexed read of the saver's own table,
the least a design does that checks one thing in the database per save. On SQLite in
WAL mode it opens a read transaction (two `fcntl` calls on the -shm file), as any read
of a table does; a bare `SELECT 1` opens none, which made earlier floors too low."""
SMALL_THREAD = 10


def floor_read(saver: SqliteSaver) -> None:
    """The floors' one statement (`FLOOR_SQL`), on the saver's connection under its lock."""
    with saver.cursor(transaction=False) as cur:
        cur.execute(FLOOR_SQL).fetchall()


# -- realistic checkpoints ---------------------------------------------------


def chat_checkpoints(turns: int = 5) -> list[CheckpointTuple]:
    """Every checkpoint of a `turns`-turn chat (2 messages per turn), oldest first."""
    memory = InMemorySaver()
    graph = chat_graph_builder().compile(checkpointer=memory)
    config: RunnableConfig = {"configurable": {"thread_id": "bench-source"}}
    for n in range(turns):
        text = f"Turn {n}: could you check the forecast for Lisbon and suggest what to wear?"
        graph.invoke(human(text, n), config)
    return list(reversed(list(memory.list(config))))


def head_template(series: Sequence[CheckpointTuple]) -> CheckpointTuple:
    """The most recent checkpoint that has pending writes: what a rollback copies."""
    found: CheckpointTuple = next(t for t in reversed(series) if t.pending_writes)
    return found


class Chain:
    """Puts checkpoints into one thread, each the child of the previous one."""

    def __init__(self, saver: BaseCheckpointSaver[Any], thread_id: str) -> None:
        self.saver = saver
        self.thread_id = thread_id
        self.parent_id: str | None = None

    def put(self, template: CheckpointTuple) -> dict[str, Any]:
        checkpoint = copy_checkpoint(template.checkpoint)
        checkpoint["id"] = str(uuid6())
        configurable = {"thread_id": self.thread_id, "checkpoint_ns": ""}
        if self.parent_id is not None:
            configurable["checkpoint_id"] = self.parent_id
        saved = self.saver.put(
            {"configurable": configurable},
            checkpoint,
            dict(template.metadata),  # type: ignore[arg-type]
            dict(checkpoint["channel_versions"]),
        )
        self.parent_id = checkpoint["id"]
        return dict(saved)

    def put_with_writes(self, template: CheckpointTuple) -> dict[str, Any]:
        saved = self.put(template)
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in template.pending_writes or []:
            by_task.setdefault(task_id, []).append((channel, value))
        for task_id, writes in by_task.items():
            self.saver.put_writes(saved, writes, task_id)  # type: ignore[arg-type]
        return saved


# -- timing ------------------------------------------------------------------


@dataclass
class Timings:
    """Per-call seconds of each block, one figure per round."""

    rounds: dict[str, list[float]]

    def median(self, name: str) -> float:
        return statistics.median(self.rounds[name])

    def ratio(self, a: str, b: str) -> float:
        """Median over the rounds of a / b: paired, so drift in load cancels."""
        return statistics.median(x / y for x, y in zip(self.rounds[a], self.rounds[b], strict=True))

    def row(self, name: str, a: str, b: str, target: float | None) -> Row:
        return Row(
            name, format_us(self.median(a)), format_us(self.median(b)), self.ratio(a, b), target
        )


def interleaved_many(rounds: int, blocks: dict[str, Callable[[], int]], warmup: int = 2) -> Timings:
    """Time each block once per round, in an order that rotates (and reverses every
    other cycle), with the garbage collector off during the round."""
    names = list(blocks)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        order = names[shift:] + names[:shift]
        if (r // len(names)) % 2:
            order.reverse()
        gc.collect()
        gc.disable()
        try:
            for name in order:
                start = time.perf_counter()
                n = blocks[name]()
                if r >= warmup:
                    times[name].append((time.perf_counter() - start) / n)
        finally:
            gc.enable()
    return Timings(times)


def interleaved(
    rounds: int, a: Callable[[], int], b: Callable[[], int], warmup: int = 2
) -> tuple[float, float]:
    """Medians of per-call times of `a` and `b` (`interleaved_many` of the two)."""
    timings = interleaved_many(rounds, {"a": a, "b": b}, warmup)
    return timings.median("a"), timings.median("b")


def alternating_calls(
    calls: int, a: Callable[[], object], b: Callable[[], object], warmup: int = 50
) -> tuple[float, float]:
    """Medians of per-call seconds of `a` and `b`, which take turns call by call.

    Each pair is `a b` or `b a` (alternately), each call timed on its own, with the
    garbage collector off and run between every 500 pairs, outside the timing. For
    short reads (`get_tuple`, ~0.1 ms) this is the measure that holds still: on a
    2-core host two identical bare `SqliteSaver`s timed in blocks of 20 calls read
    0.991 to 1.037 against each other across six runs, and 0.998 to 0.9996 timed
    this way (9,000 calls a side each).
    """
    clock = time.perf_counter_ns
    a_times: list[int] = []
    b_times: list[int] = []
    sides = ((a, a_times), (b, b_times))
    for _ in range(warmup):
        a()
        b()
    gc.collect()
    gc.disable()
    try:
        for i in range(calls):
            (first, first_times), (second, second_times) = sides if i % 2 else sides[::-1]
            start = clock()
            first()
            middle = clock()
            second()
            end = clock()
            first_times.append(middle - start)
            second_times.append(end - middle)
            if i % 500 == 499:
                gc.enable()
                gc.collect()
                gc.disable()
    finally:
        gc.enable()
    return statistics.median(a_times) / 1e9, statistics.median(b_times) / 1e9


def get_tuple_row(
    wrapped: BaseCheckpointSaver[Any], bare: BaseCheckpointSaver[Any], calls: int
) -> Row:
    """(b): `get_tuple` of the latest checkpoint of thread `big`, wrapped / bare,
    `calls` a side, the two savers taking turns call by call (`alternating_calls`)."""
    latest: Any = {"configurable": {"thread_id": "big", "checkpoint_ns": ""}}
    w_get, b_get = alternating_calls(
        calls, lambda: wrapped.get_tuple(latest), lambda: bare.get_tuple(latest)
    )
    return Row("get_tuple (per call)", format_us(w_get), format_us(b_get), w_get / b_get, 1.02)


# -- storage accounting ------------------------------------------------------

_ROW_BYTES = {
    "checkpoints": "length(thread_id) + length(checkpoint_ns) + length(checkpoint_id) + "
    "ifnull(length(parent_checkpoint_id), 0) + ifnull(length(type), 0) + "
    "ifnull(length(checkpoint), 0) + ifnull(length(metadata), 0)",
    "writes": "length(thread_id) + length(checkpoint_ns) + length(checkpoint_id) + "
    "length(task_id) + length(task_path) + length(idx) + length(channel) + "
    "ifnull(length(type), 0) + ifnull(length(value), 0)",
}


def _agentgit_bytes(conn: sqlite3.Connection) -> int:
    """Every column of every agentgit_ row (integers counted by their text length)."""
    total = 0
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'agentgit_%'"
        )
    ]
    for table in tables:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        expr = " + ".join(f"ifnull(length({c}), 0)" for c in columns)
        total += conn.execute(f"SELECT ifnull(sum({expr}), 0) FROM {table}").fetchone()[0]
    return int(total)


def checkpoint_bytes(conn: sqlite3.Connection, thread_id: str, checkpoint_id: str) -> int:
    """One stored checkpoint: its `checkpoints` row plus its pending `writes` rows."""
    row = conn.execute(
        f"SELECT {_ROW_BYTES['checkpoints']} FROM checkpoints "
        "WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id = ?",
        (thread_id, checkpoint_id),
    ).fetchone()[0]
    writes = conn.execute(
        f"SELECT ifnull(sum({_ROW_BYTES['writes']}), 0) FROM writes "
        "WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id = ?",
        (thread_id, checkpoint_id),
    ).fetchone()[0]
    return int(row) + int(writes)


def logical_bytes(conn: sqlite3.Connection) -> int:
    """Payload of every LangGraph and agentgit row in the database."""
    total = _agentgit_bytes(conn)
    for table, expr in _ROW_BYTES.items():
        total += conn.execute(f"SELECT ifnull(sum({expr}), 0) FROM {table}").fetchone()[0]
    return int(total)


def payload_bytes(conn: sqlite3.Connection) -> int:
    """Bytes SQLite stores in the cells of every table and index (`dbstat`'s payload)."""
    return int(conn.execute("SELECT ifnull(sum(payload), 0) FROM dbstat").fetchone()[0])


FIXED_BYTES_TARGET = 256.0
FIXED_BYTES_NAME = "rollback bytes beyond the copied checkpoint"


def fixed_bytes_row(
    stored: Callable[[], int],
    rollback: Callable[[], Any],
    head: CheckpointTuple,
    inner: BaseCheckpointSaver[Any],
) -> Row:
    """What a rollback stores beyond a plain save of the checkpoint it copies.

    Bytes stored (`stored()`: on SQLite `payload_bytes`) added by one rollback,
    minus those added by putting the same checkpoint and pending writes into a
    fresh thread (an id as long as a branch's) of the bare saver: what is left
    is the lineage, the branch's row and their index entries.
    """
    before = stored()
    rollback()
    by_rollback = stored() - before
    before = stored()
    Chain(inner, str(uuid.uuid4())).put_with_writes(head)
    by_put = stored() - before
    fixed = by_rollback - by_put
    return Row(FIXED_BYTES_NAME, f"{by_rollback:,} B", f"{by_put:,} B", fixed, FIXED_BYTES_TARGET)


def used_pages_bytes(conn: sqlite3.Connection) -> int:
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * page_size)


# -- the benchmark -----------------------------------------------------------


@dataclass
class Row:
    name: str
    wrapped: str
    bare: str
    ratio: float
    target: float | None

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "pass" if self.ratio <= self.target else "MISS"


def format_us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} us"


@contextmanager
def _fast_sync(conn: sqlite3.Connection) -> Iterator[None]:
    """`synchronous=OFF` while filling a thread (not timed), restored afterwards."""
    before = conn.execute("PRAGMA synchronous").fetchone()[0]
    conn.execute("PRAGMA synchronous=OFF")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA synchronous={int(before)}")


def fill_thread(
    saver: BaseCheckpointSaver[Any],
    conn: sqlite3.Connection,
    thread_id: str,
    n: int,
    series: Sequence[CheckpointTuple],
    head: CheckpointTuple,
) -> dict[str, Any]:
    """`n` checkpoints (the chat's series over and over, `head` last, with its writes)."""
    chain = Chain(saver, thread_id)
    with _fast_sync(conn):
        for i in range(n - 1):
            chain.put(series[i % len(series)])
        return chain.put_with_writes(head)


def run(
    rounds: int, workdir: Path, *, big: int = BIG_THREAD, small: int = SMALL_THREAD
) -> list[Row]:
    """The rows above; `big` and `small` size the two threads rollback is timed on."""
    series = chat_checkpoints()
    head = head_template(series)
    rows: list[Row] = []
    with ExitStack() as stack:
        wrapped = stack.enter_context(AgentGitSaver.from_conn_string(str(workdir / "wrapped.db")))
        bare = stack.enter_context(SqliteSaver.from_conn_string(str(workdir / "bare.db")))
        wrapped.setup()
        bare.setup()
        inner = wrapped.saver
        assert isinstance(inner, SqliteSaver)

        # Threads: a 10,000-checkpoint and a 10-checkpoint one in each database, filled
        # through the wrapped saver's inner saver and registered in the store directly.
        t0 = time.perf_counter()
        heads: dict[str, dict[str, Any]] = {}
        for thread_id, n in (("big", big), ("small", small)):
            heads[thread_id] = fill_thread(inner, inner.conn, thread_id, n, series, head)
            wrapped.store.ensure_session_for_thread(thread_id, user_id=0)
            wrapped.store.record_checkpoints(thread_id, n)
            fill_thread(bare, bare.conn, thread_id, n, series, head)
        assert wrapped.session_for_thread("big").total_checkpoints == big
        fill_seconds = time.perf_counter() - t0
        store_conn = getattr(wrapped.store, "conn", None)
        settings = {
            name: tuple(
                conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "synchronous")
            )
            for name, conn in (
                ("wrapped saver", inner.conn),
                ("store", store_conn),
                ("bare", bare.conn),
            )
            if isinstance(conn, sqlite3.Connection)
        }

        # (a) put: replay the chat's checkpoints, one pass per block. Blocks are short
        # (~5 ms) and many: the cost is mostly fsync, whose latency drifts on shared disks.
        w_chain, b_chain = Chain(wrapped, "put-thread"), Chain(bare, "put-thread")
        w_chain.put(series[0])  # the first put into a thread also creates its session
        b_chain.put(series[0])

        f_chain = Chain(bare, "put-floor")
        f_chain.put(series[0])
        # The same wrapper reading the store on every put (no window), beside the floor.
        every = AgentGitSaver(inner, wrapped.store, held_recheck_seconds=0)
        e_chain = Chain(every, "put-every")
        e_chain.put(series[0])

        def put_block(chain: Chain) -> Callable[[], int]:
            def block() -> int:
                for template in series:
                    chain.put(template)
                return len(series)

            return block

        def floor_block() -> int:
            for template in series:
                f_chain.put(template)
                floor_read(bare)
            return len(series)

        puts = interleaved_many(
            rounds * 6,
            {
                "wrapped": put_block(w_chain),
                "bare": put_block(b_chain),
                "floor": floor_block,
                "every": put_block(e_chain),
            },
        )
        rows.append(puts.row("put (per call)", "wrapped", "bare", 1.10))
        rows.append(puts.row(PUT_EVERY, "every", "bare", None))
        rows.append(puts.row(PUT_FLOOR, "floor", "bare", None))

        rows.append(get_tuple_row(wrapped, bare, rounds * 600))

        # (c) rollback at the head of the long thread vs of the short one.
        def rollback_block(config: dict[str, Any]) -> Callable[[], int]:
            def block() -> int:
                for _ in range(2):
                    wrapped.rollback(config)  # type: ignore[arg-type]
                return 2

            return block

        t_big, t_small = interleaved(
            rounds * 2, rollback_block(heads["big"]), rollback_block(heads["small"])
        )
        rows.append(
            Row(
                f"rollback: {big:,}-ckpt / {small}-ckpt thread",
                format_us(t_big),
                format_us(t_small),
                t_big / t_small,
                1.5,
            )
        )

        # (d) storage: one more rollback of the short thread's head.
        conn = inner.conn
        src = heads["small"]["configurable"]
        one = checkpoint_bytes(conn, "small", src["checkpoint_id"])
        before_logical, before_pages = logical_bytes(conn), used_pages_bytes(conn)
        wrapped.rollback(heads["small"])  # type: ignore[arg-type]
        added = logical_bytes(conn) - before_logical
        rows.append(
            Row("rollback bytes / checkpoint bytes", f"{added:,} B", f"{one:,} B", added / one, 1.2)
        )
        rows.append(
            fixed_bytes_row(
                lambda: payload_bytes(conn),
                lambda: wrapped.rollback(heads["small"]),  # type: ignore[arg-type]
                head,
                inner,
            )
        )
        # The same on pages (B-tree pages, indexes, slack), averaged over 20 rollbacks
        # against 20 plain puts of the same checkpoint and writes into fresh threads.
        n = 20
        before_pages = used_pages_bytes(conn)
        for _ in range(n):
            wrapped.rollback(heads["small"])  # type: ignore[arg-type]
        rb_pages = (used_pages_bytes(conn) - before_pages) / n
        before_pages = used_pages_bytes(conn)
        for i in range(n):
            Chain(inner, f"page-probe-{i}").put_with_writes(head)
        put_pages = (used_pages_bytes(conn) - before_pages) / n
        rows.append(
            Row(
                "  on pages: rollback / put+writes",
                f"{rb_pages:,.0f} B",
                f"{put_pages:,.0f} B",
                rb_pages / put_pages if put_pages else float("nan"),
                None,
            )
        )
    print(
        f"setup: {big:,}+{small} checkpoints per database in {fill_seconds:.1f}s; "
        f"checkpoint series: {len(series)} checkpoints of a 5-turn chat, "
        f"{min(len(t.checkpoint['channel_values'].get('messages', [])) for t in series)}-"
        f"{max(len(t.checkpoint['channel_values'].get('messages', [])) for t in series)} "
        "messages"
    )
    print("(journal_mode, synchronous) per connection:", settings)
    return rows


BYTES_NOTE = (
    "bytes: sum of length() of every column of the rows a rollback adds (the new "
    "thread's checkpoints and writes rows, agentgit_ rows and growth of updated ones), "
    "over the same sum for the copied checkpoint's row plus its pending writes rows."
)


def print_table(rows: list[Row], note: str = BYTES_NOTE) -> None:
    header = ("measure", "wrapped / numerator", "bare / denominator", "ratio", "target", "")
    table = [header] + [
        (
            r.name,
            r.wrapped,
            r.bare,
            f"{r.ratio:.3f}",
            f"<= {r.target:.2f}" if r.target is not None else "-",
            r.verdict,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\n{note}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per measure")
    parser.add_argument("--quick", action="store_true", help="3 rounds: a smoke run")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="agentgit-bench-") as workdir:
        rows = run(rounds, Path(workdir))
    print()
    print_table(rows)
    print(f"\ntotal: {time.perf_counter() - start:.1f}s, {rounds} rounds per timing")
    return 0 if all(r.verdict != "MISS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
