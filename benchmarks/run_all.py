"""Every benchmark, on SQLite and PostgreSQL, in one run and one table of ratios.

Runs, per backend (PostgreSQL is skipped, with a note, when no server answers):

* bench_core / bench_postgres: wrapped / bare `put` and `get_tuple`; rollback
  at the head of a 10,000-checkpoint thread / of a 10-checkpoint one; bytes one
  rollback adds / bytes of the checkpoint it copies;
* bench_history: `tree()` + `log()` over a session of 1,000 branches of 10
  checkpoints / one `list()` of every checkpoint; `stats(session_id=...)` over
  100 threads of 100 checkpoints / one `list()` of them;
* bench_ui (SQLite; skipped, with a note, without Chromium): the viewer's graph
  page of that session ready in headless Chromium / its tree JSON alone;
* bench_instructions (SQLite; skipped, with a note, without valgrind): CPU
  instructions per put, get_tuple and turn, wrapped / bare (no targets: what
  the wrapper adds, exactly, whatever the machine's load);
* a baseline that rolls back the way agentgit does, by copying the full
  history: every checkpoint of the source thread up to the chosen one, with its
  pending writes, read with the saver's `list` and written with its `put` and
  `put_writes` into a new thread (straight into the inner saver, with no
  session bookkeeping: the cheapest such copy can be). Against `rollback` at
  the head of threads of 10, 1,000 and 10,000 checkpoints: time baseline / ours
  (median of paired rounds) and bytes baseline / ours (what one of each adds).

Timed blocks alternate or rotate within each round, with the garbage collector
off; every time is a median over rounds, every time ratio the median of the
rounds' paired ratios where the rounds are paired. `get_tuple`, a read of about
0.1 ms, is timed call by call instead, the two savers taking turns, and its
ratio is that of the two sides' median calls (`bench_core.alternating_calls`).
Run from the repository root:

    .venv/bin/python -m benchmarks.run_all            # 7 to 20 minutes on 2 cores
    .venv/bin/python -m benchmarks.run_all --quick    # fewer rounds, a few minutes
    .venv/bin/python -m benchmarks.run_all --smoke    # tiny sizes, seconds (tests)

Exits 1 when a ratio misses its target (not with --smoke, whose sizes are too
small for the targets to mean anything).
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):  # run as a script: make `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from agentgit_langgraph import AgentGitSaver
from benchmarks import (
    bench_core,
    bench_fork,
    bench_history,
    bench_instructions,
    bench_turns,
    bench_ui,
)
from benchmarks.bench_core import chat_checkpoints, head_template
from tests.ui_browser import chromium_path

T = TypeVar("T")

DEFAULT_URI = os.environ.get(
    "AGENTGIT_BENCH_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/postgres"
)


# -- sizes and rounds ----------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How big the threads are and how many rounds each measure gets."""

    big: int = bench_core.BIG_THREAD
    small: int = bench_core.SMALL_THREAD
    branches: int = bench_history.BRANCHES
    history_main: int = bench_history.MAIN
    stats_threads: int = bench_history.STATS_THREADS
    stats_per_thread: int = bench_history.STATS_PER_THREAD
    baseline_sizes: tuple[int, ...] = (10, 1_000, 10_000)
    core_rounds: int = 15
    history_rounds: int = 7
    turn_rounds: int = bench_turns.ROUNDS
    turns: int = 20  # a thread's turns in one round
    fork_rounds: int = 11
    fork_state: int = bench_fork.STATE_BYTES
    ui_rounds: int = 5
    instruction_calls: int = 1000  # counted calls a side (turns: a tenth)
    # rounds of the baseline comparison, per size (the copy of 10,000 takes seconds)
    baseline_rounds: tuple[int, ...] = (30, 9, 3)


FULL = Plan()
QUICK = Plan(
    core_rounds=3,
    history_rounds=3,
    baseline_rounds=(8, 2, 1),
    turn_rounds=5,
    turns=10,
    fork_rounds=3,
    ui_rounds=2,
    instruction_calls=200,
)
SMOKE = Plan(
    big=50,
    small=10,
    branches=10,
    history_main=30,
    stats_threads=5,
    stats_per_thread=10,
    baseline_sizes=(10, 20, 50),
    core_rounds=1,
    history_rounds=1,
    turn_rounds=1,
    turns=2,
    fork_rounds=1,
    fork_state=50_000,
    baseline_rounds=(2, 1, 1),
    ui_rounds=1,
    instruction_calls=50,
)


# -- the table -----------------------------------------------------------------


@dataclass
class Result:
    backend: str
    measure: str
    ratio: float
    target: str = ""  # "<= 1.10", ">= 10", or "" for none
    detail: str = ""

    @property
    def verdict(self) -> str:
        if not self.target:
            return "-"
        op, value = self.target.split()
        ok = self.ratio <= float(value) if op == "<=" else self.ratio >= float(value)
        return "pass" if ok else "MISS"


def measure_names(plan: Plan, backend: str = "sqlite") -> list[str]:
    """Every measure of one backend, in table order."""
    names = [
        *bench_turns.names(backend),
        "put: wrapped / bare",
        PUT_EVERY_NAME,
        PUT_FLOOR_NAME,
        "get_tuple: wrapped / bare",
        f"rollback time: {plan.big:,}-ckpt / {plan.small}-ckpt thread",
        "rollback bytes / checkpoint bytes",
        bench_core.FIXED_BYTES_NAME,
        bench_fork.ForkResult.name,
        f"(tree + log) / list(), {plan.branches:,} branches",
        _stats_name(plan),
    ]
    if backend == "sqlite":
        names.append(f"{bench_ui.UiResult.name}, {plan.branches:,} branches")
        names.extend(bench_instructions.NAMES)
    for n in plan.baseline_sizes:
        names.append(f"full-history copy / rollback, time, {n:,} ckpts")
        names.append(f"full-history copy / rollback, bytes, {n:,} ckpts")
    return names


def _fmt_ratio(x: float) -> str:
    if x != x:  # nan
        return "nan"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}"


def render(results: Sequence[Result], *, details: bool = False) -> str:
    header = ["backend", "measure", "ratio", "target", "pass/miss"]
    if details:
        header.append("numerator / denominator")
    rows = [header]
    for r in results:
        row = [r.backend, r.measure, _fmt_ratio(r.ratio), r.target or "-", r.verdict]
        if details:
            row.append(r.detail)
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {2}  # the ratio column
    lines = []
    for i, row in enumerate(rows):
        cells = [
            c.rjust(w) if j in right else c.ljust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if i == 0:
            lines.append(
                "|"
                + "|".join(
                    ("-" * (w + 1) + ":") if j in right else "-" * (w + 2)
                    for j, w in enumerate(widths)
                )
                + "|"
            )
    return "\n".join(lines)


# -- rows of the existing benchmarks --------------------------------------------


PUT_FLOOR_NAME = "put floor: bare + 1 statement / bare"
PUT_EVERY_NAME = "put, every put reads (recheck 0) / bare"


def _core_results(backend: str, rows: Sequence[bench_core.Row], plan: Plan) -> list[Result]:
    """The headline rows of bench_core / bench_postgres, under this table's names."""
    by_prefix = {
        "put (per call)": "put: wrapped / bare",
        bench_core.PUT_FLOOR: PUT_FLOOR_NAME,
        bench_core.PUT_EVERY: PUT_EVERY_NAME,
        "get_tuple (per call)": "get_tuple: wrapped / bare",
        "rollback: ": f"rollback time: {plan.big:,}-ckpt / {plan.small}-ckpt thread",
        "rollback bytes / checkpoint bytes": "rollback bytes / checkpoint bytes",
        bench_core.FIXED_BYTES_NAME: bench_core.FIXED_BYTES_NAME,
    }
    out = []
    for row in rows:
        for prefix, name in by_prefix.items():
            if row.name.startswith(prefix):
                target = f"<= {row.target:g}" if row.target is not None else ""
                out.append(Result(backend, name, row.ratio, target, f"{row.wrapped} / {row.bare}"))
    return out


def _turn_results(results: Sequence[bench_turns.TurnResult]) -> list[Result]:
    rows = []
    for r in results:
        detail = f"{r.wrapped_ms:.2f} ms / {r.bare_ms:.2f} ms per turn"
        rows.append(Result(r.backend, r.name, r.ratio, f"<= {bench_turns.TARGET:g}", detail))
        detail = f"{r.floor_ms:.2f} ms / {r.bare_ms:.2f} ms per turn"
        rows.append(Result(r.backend, r.floor_name, r.floor_ratio, "", detail))
        if r.pool_ratio is not None and r.pool_ms is not None:
            detail = f"{r.pool_ms:.2f} ms / {r.bare_ms:.2f} ms per turn"
            rows.append(Result(r.backend, r.pool_name, r.pool_ratio, "", detail))
    return rows


def _fork_result(r: bench_fork.ForkResult) -> Result:
    return Result(
        r.backend,
        r.name,
        r.ratio,
        f"<= {bench_fork.TARGET:g}",
        f"{r.rollback_ms:.1f} ms / {r.fork_ms:.1f} ms",
    )


def _history_result(backend: str, result: bench_history.HistoryResult, plan: Plan) -> Result:
    f = result.figures
    return Result(
        backend,
        f"(tree + log) / list(), {plan.branches:,} branches",
        result.ratio,
        f"<= {bench_history.TARGET:.2f}",
        f"{(f['tree'] + f['log']) * 1e3:,.1f} ms / {f['list'] * 1e3:,.1f} ms",
    )


def _stats_name(plan: Plan) -> str:
    return f"stats / list(), {plan.stats_threads} threads x {plan.stats_per_thread} ckpts"


def _stats_result(backend: str, result: bench_history.StatsResult, plan: Plan) -> Result:
    f = result.figures
    return Result(
        backend,
        _stats_name(plan),
        result.ratio,
        f"<= {bench_history.STATS_TARGET:.2f}",
        f"{f['stats'] * 1e3:,.1f} ms / {f['list'] * 1e3:,.1f} ms",
    )


# -- the full-history baseline --------------------------------------------------


def full_history_copy(
    saver: BaseCheckpointSaver[Any], source: dict[str, Any], new_thread: str
) -> dict[str, Any]:
    """Copy every checkpoint of `source`'s thread up to and including the one it
    names, oldest first and with its pending writes, into `new_thread` (same ids,
    same parent chain), with nothing but `list`, `get_tuple`, `put` and `put_writes`."""
    src = source["configurable"]
    ns = src.get("checkpoint_ns", "")
    thread = {"configurable": {"thread_id": src["thread_id"], "checkpoint_ns": ns}}
    chosen = saver.get_tuple(source)  # type: ignore[arg-type]
    assert chosen is not None
    older = list(saver.list(thread, before=source))  # type: ignore[arg-type]
    history: list[CheckpointTuple] = [*reversed(older), chosen]
    parent: str | None = None
    previous: dict[str, Any] = {}
    saved: dict[str, Any] = {}
    for item in history:
        checkpoint = item.checkpoint
        versions = checkpoint["channel_versions"]
        new_versions = {k: v for k, v in versions.items() if previous.get(k) != v}
        configurable: dict[str, Any] = {"thread_id": new_thread, "checkpoint_ns": ns}
        if parent is not None:
            configurable["checkpoint_id"] = parent
        saved = dict(
            saver.put(
                {"configurable": configurable},
                checkpoint,
                item.metadata,
                new_versions,
            )
        )
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in item.pending_writes or []:
            by_task.setdefault(task_id, []).append((channel, value))
        for task_id, writes in by_task.items():
            saver.put_writes(saved, writes, task_id)  # type: ignore[arg-type]
        parent = checkpoint["id"]
        previous = dict(versions)
    return saved


def _paired_round(
    wrapped: AgentGitSaver,
    head: dict[str, Any],
    ours_reps: int,
    base_reps: int,
    *,
    base_first: bool,
) -> tuple[float, float]:
    """Seconds per rollback and per full-history copy of `head`, timed back to back
    with the garbage collector off; the copies are deleted afterwards (not timed)."""
    inner = wrapped.saver
    copies = [f"copy-{uuid.uuid4().hex}" for _ in range(base_reps)]

    def ours() -> float:
        start = time.perf_counter()
        for _ in range(ours_reps):
            wrapped.rollback(head)  # type: ignore[arg-type]
        return (time.perf_counter() - start) / ours_reps

    def base() -> float:
        start = time.perf_counter()
        for copy in copies:
            full_history_copy(inner, head, copy)
        return (time.perf_counter() - start) / base_reps

    gc.collect()
    gc.disable()
    try:
        if base_first:
            tb = base()
            to = ours()
        else:
            to = ours()
            tb = base()
    finally:
        gc.enable()
    for copy in copies:  # keep the database the size it was
        inner.delete_thread(copy)
    return to, tb


def compare_baseline(
    backend: str,
    wrapped: AgentGitSaver,
    fill: Callable[[str, int], dict[str, Any]],
    logical_bytes: Callable[[], int],
    plan: Plan,
) -> list[Result]:
    """Rollback against the full-history copy at the head of threads of each size."""
    inner = wrapped.saver
    heads: dict[int, dict[str, Any]] = {}
    for n in plan.baseline_sizes:
        thread_id = f"source-{n}"
        heads[n] = fill(thread_id, n)
        wrapped.store.ensure_session_for_thread(thread_id, user_id=0)
        wrapped.store.record_checkpoints(thread_id, n)

    results: list[Result] = []
    for n, rounds in zip(plan.baseline_sizes, plan.baseline_rounds, strict=True):
        head = heads[n]
        # bytes: what one of each adds (the copy is deleted again afterwards)
        before = logical_bytes()
        wrapped.rollback(head)  # type: ignore[arg-type]
        ours_bytes = logical_bytes() - before
        copy_id = f"copy-{uuid.uuid4().hex}"
        before = logical_bytes()
        full_history_copy(inner, head, copy_id)
        base_bytes = logical_bytes() - before
        inner.delete_thread(copy_id)

        # time: one block of each per round, the order flipping every round; a block
        # repeats its call so that it lasts at least a few milliseconds
        ours_reps, base_reps = 3, max(1, 30 // n)
        ours_times: list[float] = []
        base_times: list[float] = []
        ratios: list[float] = []
        warmup = 1 if n <= 100 else 0
        for r in range(warmup + rounds):
            to, tb = _paired_round(wrapped, head, ours_reps, base_reps, base_first=bool(r % 2))
            if r >= warmup:
                ours_times.append(to)
                base_times.append(tb)
                ratios.append(tb / to)
        t_base, t_ours = statistics.median(base_times), statistics.median(ours_times)
        target = ">= 10" if n >= 1_000 else ""
        results.append(
            Result(
                backend,
                f"full-history copy / rollback, time, {n:,} ckpts",
                statistics.median(ratios),
                target,
                f"{t_base * 1e3:,.1f} ms / {t_ours * 1e3:,.1f} ms",
            )
        )
        results.append(
            Result(
                backend,
                f"full-history copy / rollback, bytes, {n:,} ckpts",
                base_bytes / ours_bytes,
                target,
                f"{base_bytes:,} B / {ours_bytes:,} B",
            )
        )
    return results


# -- per backend ---------------------------------------------------------------


@dataclass
class Step:
    label: str
    run: Callable[[], list[Result]]


@dataclass
class Run:
    plan: Plan
    workdir: Path
    server: str | None
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def sqlite_steps(ctx: Run) -> list[Step]:
    plan = ctx.plan

    def core() -> list[Result]:
        rows = bench_core.run(
            plan.core_rounds, _fresh_dir(ctx.workdir, "core"), big=plan.big, small=plan.small
        )
        return _core_results("sqlite", rows, plan)

    def history() -> list[Result]:
        path = _fresh_dir(ctx.workdir, "history") / "history.db"
        with AgentGitSaver.from_conn_string(str(path)) as saver:
            saver.setup()
            result = bench_history.measure(
                saver, plan.history_rounds, main_size=plan.history_main, branches=plan.branches
            )
        bench_history.report(result)
        return [_history_result("sqlite", result, plan)]

    def stats() -> list[Result]:
        path = _fresh_dir(ctx.workdir, "stats") / "stats.db"
        with AgentGitSaver.from_conn_string(str(path)) as saver:
            saver.setup()
            result = bench_history.measure_stats(
                saver,
                plan.history_rounds,
                threads=plan.stats_threads,
                per_thread=plan.stats_per_thread,
            )
        bench_history.report_stats(result)
        return [_stats_result("sqlite", result, plan)]

    def baseline() -> list[Result]:
        series = chat_checkpoints()
        head = head_template(series)
        path = _fresh_dir(ctx.workdir, "baseline") / "baseline.db"
        with AgentGitSaver.from_conn_string(str(path)) as wrapped:
            wrapped.setup()
            conn = wrapped.saver.conn  # type: ignore[attr-defined]
            assert isinstance(conn, sqlite3.Connection)

            def fill(thread_id: str, n: int) -> dict[str, Any]:
                return bench_core.fill_thread(wrapped.saver, conn, thread_id, n, series, head)

            return compare_baseline(
                "sqlite", wrapped, fill, lambda: bench_core.logical_bytes(conn), plan
            )

    def ui() -> list[Result]:
        if chromium_path() is None:
            ctx.notes.append("viewer graph page skipped: no Chromium (apt-get install chromium)")
            return []
        r = bench_ui.measure(_fresh_dir(ctx.workdir, "ui"), plan.ui_rounds, plan.branches)
        detail = f"{r.page_ms:,.0f} ms / {r.tree_ms:,.0f} ms"
        return [Result("sqlite", f"{r.name}, {plan.branches:,} branches", r.ratio, "", detail)]

    def instructions() -> list[Result]:
        if shutil.which("valgrind") is None:
            ctx.notes.append("instruction counts skipped: no valgrind (apt-get install valgrind)")
            return []
        rows = bench_instructions.run(plan.instruction_calls)
        return [Result("sqlite", r.name, r.ratio, "", f"{r.wrapped} / {r.bare}") for r in rows]

    def turns() -> list[Result]:
        pair = bench_turns.sqlite_pair(_fresh_dir(ctx.workdir, "turns"))
        return _turn_results(bench_turns.measure_all(pair, plan.turn_rounds, plan.turns))

    def fork() -> list[Result]:
        pair = bench_turns.sqlite_pair(_fresh_dir(ctx.workdir, "fork"))
        return [_fork_result(bench_fork.measure(pair, plan.fork_rounds, plan.fork_state))]

    return [
        Step("sqlite: graph turns", turns),
        Step("sqlite: put, get_tuple, rollback, bytes", core),
        Step("sqlite: 5 MB rollback vs update_state fork", fork),
        Step("sqlite: tree + log vs list", history),
        Step("sqlite: viewer graph page in Chromium", ui),
        Step("sqlite: instructions per call (callgrind)", instructions),
        Step("sqlite: stats vs list", stats),
        Step("sqlite: full-history baseline", baseline),
    ]


def postgres_steps(ctx: Run) -> list[Step]:
    from benchmarks import bench_postgres

    plan = ctx.plan
    server = ctx.server
    assert server is not None

    def core() -> list[Result]:
        rows = bench_postgres.run(
            plan.core_rounds, server, big=plan.big, small=plan.small, headline_only=True
        )
        return _core_results("postgres", rows, plan)

    def on_scratch_schema(name: str, measure: Callable[[AgentGitSaver, Any], T]) -> T:
        """`measure(saver, writer)` on a schema of its own, analyzed once it is built."""
        with ExitStack() as stack:
            (uri,) = stack.enter_context(bench_postgres.scratch_schemas(server, name))
            saver = stack.enter_context(AgentGitSaver.from_conn_string(uri))
            saver.setup()
            return measure(saver, stack.enter_context(bench_postgres.filler(uri)))

    def history() -> list[Result]:
        result = on_scratch_schema(
            "history",
            lambda saver, writer: bench_history.measure(
                saver,
                plan.history_rounds,
                main_size=plan.history_main,
                branches=plan.branches,
                writer=writer,
                after_build=lambda: writer.conn.execute("ANALYZE"),
            ),
        )
        bench_history.report(result)
        return [_history_result("postgres", result, plan)]

    def stats() -> list[Result]:
        result = on_scratch_schema(
            "stats",
            lambda saver, writer: bench_history.measure_stats(
                saver,
                plan.history_rounds,
                threads=plan.stats_threads,
                per_thread=plan.stats_per_thread,
                writer=writer,
                after_build=lambda: writer.conn.execute("ANALYZE"),
            ),
        )
        bench_history.report_stats(result)
        return [_stats_result("postgres", result, plan)]

    def baseline() -> list[Result]:
        import psycopg

        series = chat_checkpoints()
        head = head_template(series)
        with ExitStack() as stack:
            (uri,) = stack.enter_context(bench_postgres.scratch_schemas(server, "baseline"))
            wrapped = stack.enter_context(AgentGitSaver.from_conn_string(uri))
            wrapped.setup()
            writer = stack.enter_context(bench_postgres.filler(uri))
            admin = stack.enter_context(psycopg.Connection.connect(uri, autocommit=True))

            def fill(thread_id: str, n: int) -> dict[str, Any]:
                saved = bench_postgres.fill_thread(writer, thread_id, n, series, head)
                admin.execute("ANALYZE")
                return saved

            return compare_baseline(
                "postgres", wrapped, fill, lambda: bench_postgres.logical_bytes(admin), plan
            )

    def turns() -> list[Result]:
        with bench_turns.postgres_uris(server) as (bare, wrapped):
            pair = bench_turns.postgres_pair(bare, wrapped)
            return _turn_results(bench_turns.measure_all(pair, plan.turn_rounds, plan.turns))

    def fork() -> list[Result]:
        with bench_turns.postgres_uris(server) as (bare, wrapped):
            pair = bench_turns.postgres_pair(bare, wrapped)
            return [_fork_result(bench_fork.measure(pair, plan.fork_rounds, plan.fork_state))]

    return [
        Step("postgres: graph turns", turns),
        Step("postgres: put, get_tuple, rollback, bytes", core),
        Step("postgres: 5 MB rollback vs update_state fork", fork),
        Step("postgres: tree + log vs list", history),
        Step("postgres: stats vs list", stats),
        Step("postgres: full-history baseline", baseline),
    ]


def _fresh_dir(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- the machine ---------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 0


def postgres_version(server: str) -> str | None:
    """The server's version, or None when none answers (or psycopg is missing)."""
    try:
        import psycopg

        import benchmarks.bench_postgres  # noqa: F401  (its imports must work too)

        with psycopg.connect(server, connect_timeout=3, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else "unknown"
    except Exception:  # any failure means: skip PostgreSQL
        return None


def machine(pg: str | None) -> str:
    return "\n".join(
        [
            f"machine: {_nproc()} cores (nproc), {_cpu_model()}, {_ram()} RAM, "
            f"{platform.system()} {platform.release()}",
            f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"PostgreSQL {pg or 'not available'}",
        ]
    )


# -- main ----------------------------------------------------------------------


@contextmanager
def _captured(verbose: bool) -> Iterator[io.StringIO]:
    """The benchmarks' own prints, kept out of the table unless `verbose`."""
    buffer = io.StringIO()
    if verbose:
        yield buffer
        return
    with redirect_stdout(buffer):
        yield buffer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, 1 round, seconds (tests; wins over --quick)",
    )
    parser.add_argument("--uri", default=DEFAULT_URI, help="PostgreSQL server (any database)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--details", action="store_true", help="numerators, denominators too")
    parser.add_argument("--verbose", action="store_true", help="each benchmark's own output")
    parser.add_argument("--dir", type=Path, default=None, help="where to put SQLite files")
    args = parser.parse_args(argv)
    plan = SMOKE if args.smoke else QUICK if args.quick else FULL
    mode_name = "smoke" if args.smoke else "quick" if args.quick else "full"

    start = time.perf_counter()
    pg = None if args.no_postgres else postgres_version(args.uri)
    notes: list[str] = []
    if args.no_postgres:
        notes.append("PostgreSQL skipped (--no-postgres)")
    elif pg is None:
        notes.append(f"PostgreSQL skipped: no server answers at {args.uri}")

    err = Console(stderr=True)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="agentgit-bench-all-") as tmp:
        ctx = Run(plan, Path(tmp), args.uri if pg else None)
        steps = sqlite_steps(ctx) + (postgres_steps(ctx) if pg else [])
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=False) as progress:
            task = progress.add_task("benchmarks", total=len(steps))
            for step in steps:
                progress.update(task, description=step.label)
                with _captured(args.verbose):
                    ctx.results.extend(step.run())
                progress.advance(task)
            progress.update(task, description="done")
    err.file.flush()

    total = time.perf_counter() - start
    print(machine(pg))
    print(
        f"mode: {mode_name}; rollback threads {plan.big:,} and {plan.small}; history "
        f"{plan.branches:,} branches x {bench_history.PER_BRANCH}; baseline at "
        + ", ".join(f"{n:,}" for n in plan.baseline_sizes)
        + " checkpoints"
    )
    for note in [*notes, *ctx.notes]:
        print(note)
    print()
    print(render(ctx.results, details=args.details))
    print()
    print(
        "ratio: numerator / denominator of the measure; time ratios are medians over "
        "interleaved rounds. Full-history copy: list + put + put_writes of every checkpoint "
        "up to the chosen one into a new thread (agentgit's approach); rollback: "
        "AgentGitSaver.rollback (one checkpoint + its writes + session bookkeeping)."
    )
    print(f"total: {total:.1f}s")
    missed = [r for r in ctx.results if r.verdict == "MISS"]
    return 0 if args.smoke or not missed else 1


if __name__ == "__main__":
    sys.exit(main())
