"""How long the viewer's graph page of a 1,000-branch session takes to be ready.

The session is bench_history's (main of 100 checkpoints, 1,000 branches of 10
in chains 10 deep, a tag every 50 branches), built the fast way, in a SQLite
file served by `agentgit ui`'s app (`viewer_app`) on a local port. Headless
Chromium (Playwright on /usr/bin/chromium, as the browser tests drive it)
opens `#/s/SID` in a fresh page each round; timed from `goto` until the page
sets `data-ready="graph"` on <body> (the tree JSON fetched, laid out, drawn as
SVG, the current branch's panel opened). Alongside, the tree JSON alone
(`GET /agentgit/sessions/SID/tree` over HTTP): the page's time over it is what
the browser adds. Medians over rounds. Not a timed test: the figure is in the
README. Run from the repository root:

    .venv/bin/python -m benchmarks.bench_ui            # ~20 s
    .venv/bin/python -m benchmarks.bench_ui --quick    # fewer rounds
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.ui.serve import viewer_app
from benchmarks import bench_history
from tests.ui_browser import browser_page, chromium_path, served

BRANCHES = bench_history.BRANCHES


@dataclass(frozen=True)
class UiResult:
    branches: int
    lanes: int
    page_ms: float
    tree_ms: float

    name = "graph page ready / tree JSON"

    @property
    def ratio(self) -> float:
        return self.page_ms / self.tree_ms


def measure(workdir: Path, rounds: int, branches: int = BRANCHES) -> UiResult:
    """Build the session in `workdir`, serve it, and time the page `rounds` times."""
    chromium = chromium_path()
    if chromium is None:
        raise RuntimeError("no Chromium: apt-get install chromium (or set AGENTGIT_CHROMIUM)")
    db = workdir / "ui.db"
    with AgentGitSaver.from_conn_string(str(db)) as saver:
        saver.setup()
        with bench_history.fast_sync(saver):
            sid, _, _ = bench_history.build(saver, branches=branches)
    app, _ = viewer_app(str(db))
    page_times: list[float] = []
    tree_times: list[float] = []
    lanes = 0
    with served(app) as base, browser_page(chromium) as (page, problems):
        url = f"{base}/agentgit/ui/#/s/{sid}"
        with httpx.Client(base_url=base) as client:
            for r in range(rounds + 1):  # the first is a warm-up
                start = time.perf_counter()
                client.get(f"/agentgit/sessions/{sid}/tree").raise_for_status()
                tree = time.perf_counter() - start
                page.goto("about:blank")
                start = time.perf_counter()
                page.goto(url)
                page.wait_for_selector("body[data-ready=graph]", timeout=60_000)
                took = time.perf_counter() - start
                lanes = page.locator("svg.graph g.lane").count()
                if r:
                    page_times.append(took)
                    tree_times.append(tree)
        if problems:
            raise RuntimeError(f"the page reported errors: {problems}")
    return UiResult(
        branches,
        lanes,
        statistics.median(page_times) * 1e3,
        statistics.median(tree_times) * 1e3,
    )


def report(result: UiResult) -> None:
    print(
        f"graph page of {result.branches:,} branches ({result.lanes:,} lanes) ready in "
        f"{result.page_ms:,.0f} ms (tree JSON alone: {result.tree_ms:,.0f} ms)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--branches", type=int, default=BRANCHES)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="agentgit-bench-ui-") as tmp:
        result = measure(Path(tmp), 3 if args.quick else args.rounds, args.branches)
    report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
