"""The README's Python blocks run as they are written.

Every ```` ```python ```` block of README.md is executed, in order, in one
namespace, in a fresh working directory, with `builder` (the README's "your
agent's `StateGraph`") set to a one-node chat graph with a deterministic fake
model. A block that cannot run on its own (a fragment, or one needing a server)
is preceded by a visible `<!-- not-run: reason -->` comment; those must stay few.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from tests.graphs import chat_graph_builder

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(?:<!-- not-run: (?P<why>.+?) -->\n)?```python\n(?P<code>.*?)\n```", re.S)
MAX_NOT_RUN = 2


def blocks() -> list[tuple[int, str, str | None]]:
    """(line, code, not-run reason) of each Python block of the README."""
    text = README.read_text()
    return [
        (text.count("\n", 0, m.start("code")) + 1, m.group("code"), m.group("why"))
        for m in BLOCK.finditer(text)
    ]


def test_few_blocks_are_exempt() -> None:
    found = blocks()
    exempt = [line for line, _, why in found if why]
    assert len(found) >= 4 and len(exempt) <= MAX_NOT_RUN, exempt
    assert all(why and len(why) > 10 for _, _, why in found if why is not None)


def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"builder": chat_graph_builder(), "__name__": "readme"}
    ran = 0
    for line, code, why in blocks():
        if why:
            # Still valid Python (top-level `await`, as in a notebook, allowed).
            compile(code, f"README.md:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            continue
        exec(compile(code, f"README.md:{line}", "exec"), namespace)
        ran += 1
    assert ran >= 3
    assert (tmp_path / "agent.db").exists()  # the one-line integration persists
