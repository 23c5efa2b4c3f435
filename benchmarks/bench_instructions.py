"""What the wrapper costs per call, in CPU instructions: the same on a busy machine.

Wall-time ratios on a shared 2-core machine move by a few percent from run to
run; instructions counted by valgrind's callgrind do not (two runs of one
side agree to a few instructions in 370,000). So this script answers "how much
work does the wrapper add to a `put`" exactly, where the timed benchmarks
answer "how much does a user wait" noisily. It does not replace them: an
instruction after an `fsync` costs more than one in a warm loop.

Each side runs in a child process under callgrind with instrumentation off
until its calls begin (`callgrind_control -i on`), so imports and setup are
not counted; the figure is the instructions of `--calls` calls / `--calls`.
Sides, each on a SQLite file of its own (WAL, as `setup()` leaves it):

* `bare`: `SqliteSaver.from_conn_string(path)` puts into one thread;
* `floor`: the same, plus one `FLOOR_SQL` read after each put;
* `wrapped`: `AgentGitSaver.from_conn_string(path)` puts into a thread its
  session holds (the steady state of a running agent), inside the window in
  which it does not read the store again (`held_recheck_seconds`, here made
  endless: under valgrind a second lasts a few calls, and the count would
  depend on the machine's speed; at full speed a running thread reads about
  once in 1,000 puts);
* `every`: the same with `held_recheck_seconds=0`, reading on every put;
* `get_tuple` / `get_tuple bare`: the latest checkpoint of that thread;
* `turn` / `turn bare`: a turn of bench_turns' messages graph through
  `invoke`, 20 turns a thread (a tenth as many calls: a turn is ~30 puts' work).

Needs valgrind (every machine here has it). Run from the repository root:

    .venv/bin/python -m benchmarks.bench_instructions             # the sides one per core
    .venv/bin/python -m benchmarks.bench_instructions --calls 50  # a smoke run
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langgraph.checkpoint.sqlite import SqliteSaver

from agentgit_langgraph import AgentGitSaver
from benchmarks.bench_core import Chain, Row, chat_checkpoints, floor_read, print_table

NAMES = (
    "put instructions: wrapped / bare",
    "put instructions, every put reads (recheck 0) / bare",
    "put instructions floor: bare + 1 statement / bare",
    "get_tuple instructions: wrapped / bare",
    "turn instructions (messages, sync): wrapped / bare",
)
"""The rows, in order (`run_all` prints them under these names too)."""
SIDES = ("bare", "floor", "wrapped", "every", "get_tuple bare", "get_tuple", "turn bare", "turn")
WRAPPED = {"wrapped": math.inf, "every": 0.0, "get_tuple": math.inf, "turn": math.inf}
"""The wrapped sides, each with its `held_recheck_seconds`."""
TURNS_PER_THREAD = 20
WARM_UP = 30
_COLLECTED = re.compile(r"Collected : (\d+)")


@contextmanager
def _saver(side: str, path: str) -> Iterator[Any]:
    if side in WRAPPED:
        with AgentGitSaver.from_conn_string(path, held_recheck_seconds=WRAPPED[side]) as saver:
            saver.setup()
            yield saver
    else:
        with SqliteSaver.from_conn_string(path) as bare:
            bare.setup()
            yield bare


def _calls(side: str, saver: Any) -> Callable[[int], None]:
    """`run(i)`: the `i`-th call of `side` (a put's thread already has checkpoints)."""
    if side.startswith("turn"):
        return _turns(saver)
    series = chat_checkpoints()
    chain = Chain(saver, "thread")
    for template in series:
        chain.put(template)
    latest = {"configurable": {"thread_id": "thread", "checkpoint_ns": ""}}

    def put(i: int) -> None:
        chain.put(series[i % len(series)])

    def put_and_read(i: int) -> None:
        chain.put(series[i % len(series)])
        floor_read(saver)

    def get_tuple(i: int) -> None:
        saver.get_tuple(latest)

    if side == "floor":
        return put_and_read
    return get_tuple if side.startswith("get_tuple") else put


def _turns(saver: Any) -> Callable[[int], None]:
    from benchmarks.bench_turns import messages_graph, turn_input

    graph = messages_graph(saver)

    def turn(i: int) -> None:
        thread = {"configurable": {"thread_id": f"turns-{i // TURNS_PER_THREAD}"}}
        graph.invoke(turn_input(i % TURNS_PER_THREAD), thread)

    return turn


def child(side: str, calls: int, workdir: Path) -> None:
    """Run under callgrind: set up `side`, then count only its `calls` calls."""
    with _saver(side, str(workdir / "db.sqlite")) as saver:
        run = _calls(side, saver)
        for i in range(WARM_UP):
            run(i)
        start = WARM_UP
        if side.startswith("turn"):  # counted from a new thread's first turn on
            start = TURNS_PER_THREAD * (WARM_UP // TURNS_PER_THREAD + 1)
        toggle = ["callgrind_control", "-i"]
        subprocess.run([*toggle, "on", str(os.getpid())], check=True, capture_output=True)
        for i in range(start, start + calls):
            run(i)
        subprocess.run([*toggle, "off", str(os.getpid())], check=True, capture_output=True)


def count(side: str, calls: int) -> float:
    """Instructions per call of `side`, counted by callgrind in a child process
    (turns: `calls` // 10 of them)."""
    if side.startswith("turn"):
        calls = max(TURNS_PER_THREAD, calls // 10 // TURNS_PER_THREAD * TURNS_PER_THREAD)
    with tempfile.TemporaryDirectory(prefix="agentgit-instr-") as workdir:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={os.devnull}",
            sys.executable,
            "-m",
            "benchmarks.bench_instructions",
            "--child",
            side,
            "--calls",
            str(calls),
            "--dir",
            workdir,
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        root = Path(__file__).resolve().parent.parent
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root)
        found = _COLLECTED.findall(done.stderr)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"callgrind run of {side!r} failed:\n{done.stderr[-2000:]}")
        return int(found[-1]) / calls


def _instructions(n: float) -> str:
    return f"{n:,.0f} instr"


def run(calls: int) -> list[Row]:
    """The rows: put wrapped / bare and its floor, get_tuple and a turn wrapped / bare.

    The sides' children run side by side, one per core: a count does not
    depend on the machine's load, and most of a child's time is valgrind
    translating the interpreter and its imports.
    """
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as workers:
        counts = workers.map(lambda side: count(side, calls), SIDES)
        per_call = dict(zip(SIDES, counts, strict=True))

    def row(name: str, a: str, b: str) -> Row:
        ratio = per_call[a] / per_call[b]
        return Row(name, _instructions(per_call[a]), _instructions(per_call[b]), ratio, None)

    put, every, floor, get_tuple, turn = NAMES
    return [
        row(put, "wrapped", "bare"),
        row(every, "every", "bare"),
        row(floor, "floor", "bare"),
        row(get_tuple, "get_tuple", "get_tuple bare"),
        row(turn, "turn", "turn bare"),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000, help="calls counted per side")
    parser.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.calls, args.dir)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing to count", file=sys.stderr)
        return 2
    print_table(run(args.calls), note="instructions counted by callgrind, per call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
