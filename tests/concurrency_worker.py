"""Saves checkpoints through `AgentGitSaver`, for `test_concurrency.py`.

Used in-process (`put_many`, `fresh_checkpoint`) by the thread tests and as a
separate process by the multi-process tests:

    python -m tests.concurrency_worker '{"conn": "...", "threads": ["a", "b"], "saves": 500}'

The process opens its saver, prints `ready`, waits for one line on stdin (so
all workers start saving at once), saves, and prints a JSON object mapping
each thread id to the checkpoint ids it saved there, in order.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, empty_checkpoint

__all__ = ["fresh_checkpoint", "main", "put_many"]

CHANNEL = "n"


def fresh_checkpoint(
    saver: BaseCheckpointSaver[Any], value: Any, previous: Checkpoint | None = None
) -> tuple[Checkpoint, dict[str, Any]]:
    """A new checkpoint (new id) holding `value` in one channel, and its new versions."""
    checkpoint = empty_checkpoint()
    prev_version = previous["channel_versions"].get(CHANNEL) if previous else None
    version = saver.get_next_version(prev_version, None)
    checkpoint["channel_values"] = {CHANNEL: value}
    checkpoint["channel_versions"] = {CHANNEL: version}
    return checkpoint, {CHANNEL: version}


def put_many(
    saver: BaseCheckpointSaver[Any], thread_ids: Sequence[str], saves: int, writer: str
) -> dict[str, list[str]]:
    """`saves` direct `put`s, round-robin over `thread_ids`, each chained to this
    writer's previous checkpoint in that thread. Returns the ids saved per thread."""
    saved: dict[str, list[str]] = {t: [] for t in thread_ids}
    previous: dict[str, Checkpoint | None] = {t: None for t in thread_ids}
    for i in range(saves):
        thread_id = thread_ids[i % len(thread_ids)]
        prev = previous[thread_id]
        configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
        if prev is not None:
            configurable["checkpoint_id"] = prev["id"]
        checkpoint, versions = fresh_checkpoint(saver, f"{writer}:{i}", prev)
        metadata: Any = {"source": "loop", "step": i, "writer": writer}
        result = saver.put({"configurable": configurable}, checkpoint, metadata, versions)
        assert result["configurable"]["checkpoint_id"] == checkpoint["id"]
        saved[thread_id].append(checkpoint["id"])
        previous[thread_id] = checkpoint
    return saved


def main(argv: Sequence[str]) -> int:
    from agentgit_langgraph import AgentGitSaver

    args = json.loads(argv[0])
    with AgentGitSaver.from_conn_string(args["conn"]) as saver:
        saver.setup()
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 2
        saved = put_many(saver, args["threads"], int(args["saves"]), str(args["writer"]))
    print(json.dumps(saved), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
