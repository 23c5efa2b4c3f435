"""What reading a big session's history costs: `tree()` + `log()` against one `list()`.

The session, in one SQLite file opened with `AgentGitSaver.from_conn_string`:

* `main`: 100 checkpoints;
* 1,000 branches of 10 checkpoints each (the copied checkpoint it starts from
  plus 9 of its own), in chains of 10: every 10th branch starts from a
  checkpoint of `main`, each of the 9 others from the 5th checkpoint of the
  branch before it, so the last branch of a chain lies 10 branches deep;
* a tag on every 50th branch.

It is built the fast way (not timed): checkpoints of a real 5-turn chat
(tests/graphs.py) are put straight into the wrapped `SqliteSaver`, copies with
the same id and lineage metadata a rollback writes, and the threads are
registered with the store's own calls (`create_session`, `add_branch`,
`record_checkpoints`, `add_tag`).

Timed, alternating, medians over rounds:

* `tree()`: the session store, and one `list()` of each thread (the parent
  links that show forks made inside a thread);
* `log()` of the deepest branch of the last chain: its 10 checkpoints, then
  back through 9 parent branches and `main` (reads the checkpoints it returns,
  plus one per thread it crosses into);
* the baseline, "the same checkpoints": one `saver.list(None)` over the
  database, i.e. every checkpoint of the session (10,100), which is what
  drawing the tree or stitching the log from checkpoints alone would read.

Prints the ratio (tree + log) / list, target <= 2, and exits 1 if it misses.

Then `stats(session_id=...)` over a session of 100 threads of 100 checkpoints
(the first thread and 99 branches), in a database of its own, against one
`list(None)` over the same checkpoints: target <= 2 (`measure_stats`).
Run from the repository root:

    .venv/bin/python -m benchmarks.bench_history            # under a minute (list() dominates)
    .venv/bin/python -m benchmarks.bench_history --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, copy_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.memory import InMemorySaver

from agentgit_langgraph import AgentGitSaver, ExternalSession, InternalSession, Tag
from agentgit_langgraph.stores.base import BaseSessionStore
from tests.graphs import chat_graph_builder, human

MAIN = 100
BRANCHES = 1_000
PER_BRANCH = 10
CHAIN = 10  # branches per chain: the last one is CHAIN deep
BRANCH_AT = 5  # a chained branch starts from its parent's checkpoint number 5 (0 = the copy)
TAG_EVERY = 50
TARGET = 2.0
STATS_THREADS = 100
STATS_PER_THREAD = 100
STATS_TARGET = 2.0


def chat_series() -> list[tuple[Checkpoint, dict[str, Any]]]:
    """Checkpoints and metadata of a 5-turn chat (15 checkpoints), oldest first."""
    memory = InMemorySaver()
    graph = chat_graph_builder().compile(checkpointer=memory)
    config: RunnableConfig = {"configurable": {"thread_id": "source"}}
    for n in range(5):
        graph.invoke(human(f"Turn {n}: what should I pack for Lisbon in May?", n), config)
    return [(t.checkpoint, dict(t.metadata)) for t in reversed(list(memory.list(config)))]


class Builder:
    """Puts checkpoints straight into the wrapped saver and remembers them by id."""

    def __init__(self, saver: BaseCheckpointSaver[Any]) -> None:
        self.saver = saver
        self.series = chat_series()
        self.saved: dict[str, tuple[Checkpoint, dict[str, Any]]] = {}
        self.n = 0

    def put(
        self,
        thread_id: str,
        parent_id: str | None,
        checkpoint: Checkpoint | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        if checkpoint is None:  # a new checkpoint: the next of the chat's series
            template, meta = self.series[self.n % len(self.series)]
            self.n += 1
            checkpoint = copy_checkpoint(template)
            checkpoint["id"] = str(uuid6(clock_seq=int(meta.get("step", 0))))
            metadata = dict(meta)
        configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
        if parent_id is not None:
            configurable["checkpoint_id"] = parent_id
        self.saver.put(
            {"configurable": configurable},
            checkpoint,
            metadata or {},  # type: ignore[arg-type]
            dict(checkpoint["channel_versions"]),
        )
        self.saved[checkpoint["id"]] = (checkpoint, metadata or {})
        return checkpoint["id"]

    def copy(self, thread_id: str, parent_thread: str, checkpoint_id: str) -> str:
        """What a rollback writes for a checkpoint without delta channels."""
        checkpoint, metadata = self.saved[checkpoint_id]
        return self.put(thread_id, None, copy_checkpoint(checkpoint), dict(metadata))


@contextmanager
def fast_sync(saver: AgentGitSaver) -> Iterator[None]:
    """`synchronous=OFF` on both connections while building (not timed)."""
    conns = [
        conn
        for conn in (getattr(saver.saver, "conn", None), getattr(saver.store, "conn", None))
        if isinstance(conn, sqlite3.Connection)
    ]
    for conn in conns:
        conn.execute("PRAGMA synchronous=OFF")
    try:
        yield
    finally:
        for conn in conns:
            conn.execute("PRAGMA synchronous=FULL")


def first_thread(
    saver: AgentGitSaver, builder: Builder, thread_id: str, size: int
) -> tuple[ExternalSession, list[str]]:
    """A new session whose first thread holds `size` checkpoints; their ids, oldest first."""
    session = saver.store.create_session(
        user_id=0, session_name="bench", metadata=None, thread_id=thread_id
    )
    assert session.id is not None
    ids: list[str] = []
    parent: str | None = None
    for _ in range(size):
        parent = builder.put(thread_id, parent)
        ids.append(parent)
    saver.store.record_checkpoints(thread_id, size)
    return session, ids


def build(
    saver: AgentGitSaver,
    *,
    main_size: int = MAIN,
    branches: int = BRANCHES,
    writer: BaseCheckpointSaver[Any] | None = None,
) -> tuple[int, str, int]:
    """The session described above (`main_size` > 20 checkpoints on main, `branches`
    branches), its checkpoints put through `writer` (default: the wrapped saver's
    inner saver); returns its id, the deepest branch, checkpoints."""
    assert main_size > 20, main_size
    store = saver.store
    builder = Builder(writer if writer is not None else saver.saver)
    main = "main-thread"
    session, main_ids = first_thread(saver, builder, main, main_size)
    assert session.id is not None
    session_id = session.id

    previous: list[str] = []  # checkpoint ids of the branch before, oldest first
    previous_thread = main
    deepest = main
    for i in range(branches):
        thread_id = f"branch-{i:04d}"
        if i % CHAIN == 0:
            parent_thread, at = main, main_ids[10 + (i // CHAIN * 7) % (main_size - 20)]
        else:
            parent_thread, at = previous_thread, previous[BRANCH_AT]
        branch = InternalSession(
            thread_id, session_id, parent_thread, at, name=f"b{i:04d}", is_branch=True
        )
        ids = add_branch(store, builder, branch, PER_BRANCH)
        if i % TAG_EVERY == 0:
            store.add_tag(Tag(session_id, f"t{i:04d}", thread_id, ids[3]))
        previous, previous_thread, deepest = ids, thread_id, thread_id
    return session_id, deepest, main_size + branches * PER_BRANCH


class ReadCounter:
    """Stands in for the wrapped saver to count the checkpoints a call reads."""

    def __init__(self, inner: BaseCheckpointSaver[Any]) -> None:
        self.inner = inner
        self.read = 0

    def list(self, config: Any, **kwargs: Any) -> Iterator[Any]:
        items = list(self.inner.list(config, **kwargs))
        self.read += len(items)
        return iter(items)

    def get_tuple(self, config: Any) -> Any:
        found = self.inner.get_tuple(config)
        self.read += found is not None
        return found


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def medians(rounds: int, fns: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Median seconds of each function, the order rotating every round (after a warm-up)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for name in names:
        fns[name]()
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            times[name].append(timed(fns[name]))
    return {name: statistics.median(ts) for name, ts in times.items()}


@dataclass
class HistoryResult:
    """Median seconds per call (`figures`) and what the session and the log hold."""

    figures: dict[str, float]
    total: int
    branches: int
    main_size: int
    built: float
    rounds: int
    tree_lines: int
    log_entries: int
    threads_crossed: int
    checkpoints_read: int

    @property
    def ratio(self) -> float:
        return (self.figures["tree"] + self.figures["log"]) / self.figures["list"]


def measure(
    saver: AgentGitSaver,
    rounds: int,
    *,
    main_size: int = MAIN,
    branches: int = BRANCHES,
    writer: BaseCheckpointSaver[Any] | None = None,
    after_build: Callable[[], Any] | None = None,
) -> HistoryResult:
    """Build the session in `saver` (set up, empty) and time tree, log and list
    (`after_build`, e.g. an ANALYZE, runs in between, not timed)."""
    t0 = time.perf_counter()
    with fast_sync(saver):
        sid, deepest, total = build(saver, main_size=main_size, branches=branches, writer=writer)
    built = time.perf_counter() - t0
    if after_build is not None:
        after_build()
    session = saver.get_session(sid)
    assert session.total_checkpoints == total and session.branch_count == branches
    everything = list(saver.saver.list(None))
    assert len(everything) == total
    del everything

    deep_config: RunnableConfig = {"configurable": {"thread_id": deepest}}
    log = saver.log(deep_config)
    real = saver._targets[BaseCheckpointSaver]
    counter = ReadCounter(real)
    saver._targets[BaseCheckpointSaver] = counter
    try:
        assert saver.log(deep_config) == log
    finally:
        saver._targets[BaseCheckpointSaver] = real
    threads_crossed = len({e.thread_id for e in log}) - 1

    figures = medians(
        rounds,
        {
            "tree": lambda: saver.tree(sid),
            "log": lambda: saver.log(deep_config),
            "list": lambda: list(saver.saver.list(None)),
            "mermaid": lambda: saver.mermaid(sid),
            "log-20": lambda: saver.log(deep_config, limit=20),
        },
    )
    return HistoryResult(
        figures=figures,
        total=total,
        branches=branches,
        main_size=main_size,
        built=built,
        rounds=rounds,
        tree_lines=saver.tree(sid).count("\n") + 1,
        log_entries=len(log),
        threads_crossed=threads_crossed,
        checkpoints_read=counter.read,
    )


def report(result: HistoryResult) -> bool:
    """Print the figures; True when the ratio meets its target."""
    figures, total = result.figures, result.total
    ms = {name: f"{seconds * 1e3:8.1f} ms" for name, seconds in figures.items()}
    print(
        f"session: {result.main_size} checkpoints on main + {result.branches:,} branches x "
        f"{PER_BRANCH} (chains of {CHAIN}) = {total:,} checkpoints, built in "
        f"{result.built:.1f}s; median of {result.rounds} rounds"
    )
    print(
        f"  tree()                      {ms['tree']}   ({result.tree_lines:,} lines, "
        "one list() a thread)"
    )
    print(f"  mermaid()                   {ms['mermaid']}")
    print(
        f"  log(deepest branch)         {ms['log']}   ({result.log_entries} entries across "
        f"{result.threads_crossed + 1} threads; {result.checkpoints_read} checkpoints read)"
    )
    print(f"  log(deepest, limit=20)      {ms['log-20']}")
    print(f"  saver.list(None)            {ms['list']}   (every checkpoint: {total:,})")
    verdict = "pass" if result.ratio <= TARGET else "MISS"
    print(f"(tree + log) / list = {result.ratio:.4f}   target <= {TARGET:.0f}   {verdict}")
    return result.ratio <= TARGET


def add_branch(
    store: BaseSessionStore, builder: Builder, branch: InternalSession, checkpoints: int
) -> list[str]:
    """`branch` with `checkpoints` checkpoints: a copy of its branch point, then puts;
    registered in `store` with that count. Its checkpoint ids, oldest first."""
    assert branch.parent_thread_id is not None and branch.branch_checkpoint_id is not None
    ids = [builder.copy(branch.thread_id, branch.parent_thread_id, branch.branch_checkpoint_id)]
    for _ in range(checkpoints - 1):
        ids.append(builder.put(branch.thread_id, ids[-1]))
    store.add_branch(dataclasses.replace(branch, checkpoint_count=checkpoints))
    return ids


# -- stats ---------------------------------------------------------------------


def build_stats_session(
    saver: AgentGitSaver,
    threads: int,
    per_thread: int,
    writer: BaseCheckpointSaver[Any] | None = None,
) -> tuple[int, int]:
    """A first thread of `per_thread` checkpoints and `threads - 1` branches of as many
    (each from a checkpoint of the first thread); returns the session id and the total."""
    store = saver.store
    builder = Builder(writer if writer is not None else saver.saver)
    main = "stats-main"
    session, main_ids = first_thread(saver, builder, main, per_thread)
    assert session.id is not None
    for i in range(threads - 1):
        thread_id = f"stats-branch-{i:03d}"
        at = main_ids[i % per_thread]
        branch = InternalSession(thread_id, session.id, main, at, is_branch=True)
        add_branch(store, builder, branch, per_thread)
    return session.id, threads * per_thread


@dataclass
class StatsResult:
    """Median seconds of `stats(session_id=...)` and of one `list(None)` over it."""

    figures: dict[str, float]
    total: int
    threads: int
    model_calls: int

    @property
    def ratio(self) -> float:
        return self.figures["stats"] / self.figures["list"]


def measure_stats(
    saver: AgentGitSaver,
    rounds: int,
    *,
    threads: int = STATS_THREADS,
    per_thread: int = STATS_PER_THREAD,
    writer: BaseCheckpointSaver[Any] | None = None,
    after_build: Callable[[], Any] | None = None,
) -> StatsResult:
    """Build the stats session in `saver` (set up, empty: `list(None)` must see only it)
    and time `stats(session_id=...)` against `list(None)`."""
    with fast_sync(saver):
        sid, total = build_stats_session(saver, threads, per_thread, writer)
    if after_build is not None:
        after_build()
    assert len(list(saver.saver.list(None))) == total
    result = saver.stats(session_id=sid)
    figures = medians(
        rounds,
        {
            "stats": lambda: saver.stats(session_id=sid),
            "list": lambda: list(saver.saver.list(None)),
        },
    )
    return StatsResult(figures, total, threads, result.total.model_calls)  # type: ignore[union-attr]


def report_stats(result: StatsResult) -> bool:
    """Print the figures; True when the ratio meets its target."""
    ms = {name: f"{seconds * 1e3:8.1f} ms" for name, seconds in result.figures.items()}
    print(
        f"stats session: {result.threads} threads = {result.total:,} checkpoints "
        f"({result.model_calls:,} model calls)"
    )
    print(f"  stats(session_id=...)       {ms['stats']}")
    print(f"  saver.list(None)            {ms['list']}")
    verdict = "pass" if result.ratio <= STATS_TARGET else "MISS"
    print(f"stats / list = {result.ratio:.4f}   target <= {STATS_TARGET:.0f}   {verdict}")
    return result.ratio <= STATS_TARGET


def run(rounds: int, workdir: Path) -> bool:
    with AgentGitSaver.from_conn_string(str(workdir / "history.db")) as saver:
        saver.setup()
        result = measure(saver, rounds)
    ok = report(result)
    with AgentGitSaver.from_conn_string(str(workdir / "stats.db")) as saver:
        saver.setup()
        stats = measure_stats(saver, rounds)
    return report_stats(stats) and ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--quick", action="store_true", help="3 rounds: a smoke run")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        ok = run(rounds, Path(tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
