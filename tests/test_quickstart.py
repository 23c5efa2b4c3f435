"""The quick start a new user runs first (`examples/quickstart.py`): it keeps its
database, shows tree, log and diff, and ends with CLI commands that work on it."""

from __future__ import annotations

import importlib.util
import shlex
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from agentgit_langgraph.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _quickstart(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("quickstart", ROOT / "examples/quickstart.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # LangGraph reads the state's type hints through the module: it must be importable.
    monkeypatch.setitem(sys.modules, "quickstart", module)
    spec.loader.exec_module(module)
    return module


def test_quickstart_keeps_its_database_and_hands_over_to_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    quickstart = _quickstart(monkeypatch)
    monkeypatch.delenv("AGENTGIT_DEMO_DB", raising=False)
    assert quickstart.default_db().startswith(__import__("tempfile").gettempdir())
    db = str(tmp_path / "demo.db")
    for _ in range(2):  # a rerun starts afresh on the same path
        quickstart.main(db)
        out = capsys.readouterr().out
        assert Path(db).exists()
        assert "Session 1: 2 threads (1 branch)" in out
        assert "name=None" not in out and "total_sessions" not in out
        assert "saver.tree(session.id):\nmain  trip-planning  (9 checkpoints)" in out
        assert "saver.log(session.id, limit=4)" in out and "saver.diff(" in out
        assert f"The database is kept at {db}" in out
    commands = [line.split() for line in out.splitlines() if line.startswith("  agentgit ")]
    assert [c[3] for c in commands] == ["sessions", "tree", "log", "diff"]
    for command in commands:
        result = CliRunner().invoke(app, shlex.split(" ".join(command[1:])))
        assert result.exit_code == 0, (command, result.stdout, result.stderr)
        assert result.stdout.strip()
