"""What checking ownership on every call costs, measured in one run.

A graph run whose config carries `user_id` has every checkpointer call checked
against the owner of its thread. The owner is read from the store on every
call (`store.thread_owner`: one indexed query), never cached, because a thread
id can change hands in another process at any time. This times `get_tuple`
(latest checkpoint of a chat thread) through `AgentGitSaver.from_conn_string`
on a SQLite file and on PostgreSQL, four ways, in the same interleaved rounds:

    bare        the wrapped LangGraph saver alone (no wrapper);
    no user_id  the wrapper, config without `user_id` (no check);
    cached      the wrapper with the previous policy, reproduced here: the
                owner read once per thread and then served from a dict for
                ever (stale once another process hands the thread id over);
    checked     the wrapper as shipped: one owner read per call.

Every round runs each block once (the order rotates), with the garbage
collector off; a time is the median of the rounds' per-call means, a ratio the
median of the rounds' paired ratios. Run from the repository root:

    .venv/bin/python -m benchmarks.bench_access            # about 20 seconds
    .venv/bin/python -m benchmarks.bench_access --quick    # a smoke run

The PostgreSQL server is `--uri`, else `$AGENTGIT_BENCH_POSTGRES_URI`, else
`postgresql://postgres@127.0.0.1:5432/postgres` (skipped when none answers);
the run uses a schema of its own, dropped afterwards. No timing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentgit_langgraph import AgentGitSaver, SessionAccessError
from agentgit_langgraph.saver import _access_target
from tests.graphs import chat_graph_builder, human

DEFAULT_URI = os.environ.get(
    "AGENTGIT_BENCH_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/postgres"
)
USER = 1
THREAD = "bench-access"
BLOCKS = ("bare", "no user_id", "cached", "checked")


class CachedOwnerSaver(AgentGitSaver):
    """The previous policy, for comparison only: an owner, once read, is kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cached: dict[str, tuple[int, str]] = {}

    def _check_access(self, config: Any) -> None:
        target = _access_target(config)
        if target is None:
            return
        thread_id, user_id = target
        owner = self._cached.get(thread_id)
        if owner is None:
            owner = self.store.thread_owner(thread_id)
            if owner is None:
                return
            self._cached[thread_id] = owner
        if owner[1] != user_id:
            raise SessionAccessError(f"user {user_id} does not own thread {thread_id!r}")


def _config(user: bool) -> Any:
    configurable: dict[str, Any] = {"thread_id": THREAD}
    if user:
        configurable["user_id"] = USER
    return {"configurable": configurable}


def measure(saver: AgentGitSaver, rounds: int, calls: int) -> dict[str, Any]:
    graph = chat_graph_builder().compile(checkpointer=saver)
    for n in range(3):
        graph.invoke(human(f"turn {n}", n), _config(True))
    cached = CachedOwnerSaver(saver.saver, saver.store)
    with_user, without = _config(True), _config(False)

    def block(fn: Callable[[], Any]) -> Callable[[], float]:
        def timed() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            return (time.perf_counter() - start) / calls

        return timed

    blocks = {
        "bare": block(lambda: saver.saver.get_tuple(without)),
        "no user_id": block(lambda: saver.get_tuple(without)),
        "cached": block(lambda: cached.get_tuple(with_user)),
        "checked": block(lambda: saver.get_tuple(with_user)),
    }
    for fn in blocks.values():  # warm up (and fill the cache of `cached`)
        fn()
    times: dict[str, list[float]] = {name: [] for name in BLOCKS}
    gc.disable()
    try:
        for r in range(rounds):
            order = BLOCKS[r % len(BLOCKS) :] + BLOCKS[: r % len(BLOCKS)]
            for name in order if r % 2 == 0 else tuple(reversed(order)):
                times[name].append(blocks[name]())
    finally:
        gc.enable()

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))

    return {
        "us": {name: statistics.median(ts) * 1e6 for name, ts in times.items()},
        "checked / cached": ratio("checked", "cached"),
        "checked / no user_id": ratio("checked", "no user_id"),
        "checked / bare": ratio("checked", "bare"),
        "cached / bare": ratio("cached", "bare"),
    }


@contextmanager
def _postgres_schema(uri: str) -> Iterator[str | None]:
    try:
        import psycopg

        with psycopg.connect(uri, autocommit=True, connect_timeout=3) as conn:
            schema = f"agentgit_bench_access_{uuid.uuid4().hex[:8]}"
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # no driver, no server
        print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}".strip())
        yield None
        return
    sep = "&" if "?" in uri else "?"
    try:
        yield f"{uri}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def print_result(backend: str, result: dict[str, Any]) -> None:
    us = result["us"]
    print(f"\n{backend}: get_tuple per call (median of rounds)")
    for name in BLOCKS:
        print(f"  {name:<12} {us[name]:9.1f} us")
    print(f"  owner read per call: {us['checked'] - us['cached']:+.1f} us")
    for key in ("checked / cached", "checked / no user_id", "checked / bare", "cached / bare"):
        print(f"  {key:<22} {result[key]:.2f}x")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=50, help="calls per block per round")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 5 calls")
    parser.add_argument("--uri", default=DEFAULT_URI)
    args = parser.parse_args(argv)
    rounds, calls = (3, 5) if args.quick else (args.rounds, args.calls)
    with (
        tempfile.TemporaryDirectory() as tmp,
        AgentGitSaver.from_conn_string(str(Path(tmp) / "agent.db")) as saver,
    ):
        print_result("SQLite (file)", measure(saver, rounds, calls))
    with _postgres_schema(args.uri) as uri:
        if uri is not None:
            with AgentGitSaver.from_conn_string(uri) as saver:
                print_result("PostgreSQL (pool)", measure(saver, rounds, calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
