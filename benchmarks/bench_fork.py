"""A branch of a big state: `rollback` against LangGraph's own fork of it.

LangGraph forks a thread at a checkpoint with `graph.update_state(config, None)`
(a new checkpoint in the same thread, its parent the chosen one). `rollback`
opens a new thread at that checkpoint instead. With a 5 MB state both store
the state once more; this measures whether ours is any slower: time per
`rollback` on the wrapper / time per `update_state` fork on the bare saver,
the two on databases of their own on one backend, alternating, median of the
rounds' ratios. Run from the repository root:

    .venv/bin/python -m benchmarks.bench_fork            # ~30 s
    .venv/bin/python -m benchmarks.bench_fork --quick
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

if __package__ in (None, ""):  # run as a script: make `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from agentgit_langgraph import AgentGitSaver
from benchmarks.bench_history import timed
from benchmarks.bench_turns import Pair, postgres_pair, postgres_uris, sqlite_pair

TARGET = 1.0
STATE_BYTES = 5_000_000


class BigState(TypedDict, total=False):
    blob: str
    n: int


def big_state_graph(checkpointer: BaseCheckpointSaver[Any], size: int) -> Any:
    """START -> grow -> END, `grow` writing a `size`-byte string into the state."""

    def grow(state: BigState) -> BigState:
        return {"blob": "x" * size, "n": state.get("n", 0) + 1}

    builder = StateGraph(BigState)
    builder.add_node("grow", grow)
    builder.add_edge(START, "grow")
    builder.add_edge("grow", END)
    return builder.compile(checkpointer=checkpointer)


def _head(graph: Any, thread_id: str) -> RunnableConfig:
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    graph.invoke({"n": 0}, config)
    head: RunnableConfig = graph.get_state(config).config
    return head


@dataclass(frozen=True)
class ForkResult:
    backend: str
    rollback_ms: float
    fork_ms: float
    ratio: float

    name = "rollback / update_state fork, 5 MB state"


def measure(pair: Pair, rounds: int, size: int = STATE_BYTES) -> ForkResult:
    with pair.bare() as bare, pair.wrapped() as wrapped:
        bare.setup()  # type: ignore[attr-defined]
        assert isinstance(wrapped, AgentGitSaver)
        wrapped.setup()
        bare_graph = big_state_graph(bare, size)
        bare_head = _head(bare_graph, "fork-bare")
        wrapped_head = _head(big_state_graph(wrapped, size), "fork-wrapped")

        def fork() -> None:
            bare_graph.update_state(bare_head, None)

        def rollback() -> None:
            wrapped.rollback(wrapped_head)

        fork()  # warm-up
        rollback()
        paired: list[tuple[float, float]] = []
        for r in range(rounds):
            if r % 2 == 0:
                t_fork, t_rollback = timed(fork), timed(rollback)
            else:
                t_rollback, t_fork = timed(rollback), timed(fork)
            paired.append((t_rollback, t_fork))
    return ForkResult(
        pair.backend,
        rollback_ms=statistics.median(r for r, _ in paired) * 1e3,
        fork_ms=statistics.median(f for _, f in paired) * 1e3,
        ratio=statistics.median(r / f for r, f in paired),
    )


def print_result(r: ForkResult) -> bool:
    ok = r.ratio <= TARGET
    print(
        f"{r.backend:8} {r.name}: {r.ratio:.3f} (target <= {TARGET:.2f}: "
        f"{'PASS' if ok else 'MISS'})  {r.rollback_ms:.1f} ms / {r.fork_ms:.1f} ms"
    )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    import tempfile

    from benchmarks.run_all import DEFAULT_URI, postgres_version

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--postgres", default=DEFAULT_URI, help="server URI ('' to skip)")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        ok &= print_result(measure(sqlite_pair(Path(tmp)), rounds))
    if args.postgres and postgres_version(args.postgres):
        with postgres_uris(args.postgres) as (bare, wrapped):
            ok &= print_result(measure(postgres_pair(bare, wrapped), rounds))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
