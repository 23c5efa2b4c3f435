"""Reading LangGraph configs, with a typed error for every malformed one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig

from agentgit_langgraph.errors import InvalidConfigError

__all__ = ["CheckpointRef", "checkpoint_ref", "thread_config", "thread_id_of", "user_id_of"]


@dataclass(frozen=True)
class CheckpointRef:
    """One checkpoint: thread, namespace, id."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str

    def config(self) -> RunnableConfig:
        return {
            "configurable": {
                "thread_id": self.thread_id,
                "checkpoint_ns": self.checkpoint_ns,
                "checkpoint_id": self.checkpoint_id,
            }
        }


def _configurable(config: Any) -> Mapping[str, Any]:
    if not isinstance(config, Mapping):
        raise InvalidConfigError(
            "config must be a mapping like {'configurable': {...}}, "
            f"got {type(config).__name__}"
        )
    configurable = config.get("configurable")
    if not isinstance(configurable, Mapping):
        raise InvalidConfigError(f"config has no 'configurable' mapping: {config!r}")
    return configurable


def thread_id_of(config: Any) -> str:
    """The config's `thread_id`, as a string."""
    thread_id = _configurable(config).get("thread_id")
    if thread_id is None or thread_id == "" or isinstance(thread_id, bool | Mapping | list):
        raise InvalidConfigError(f"config has no usable 'thread_id': {config!r}")
    return str(thread_id)


def checkpoint_ref(config: Any) -> CheckpointRef:
    """The checkpoint a config names; it must carry `thread_id` and `checkpoint_id`."""
    thread_id = thread_id_of(config)
    configurable = _configurable(config)
    checkpoint_id = configurable.get("checkpoint_id")
    if not isinstance(checkpoint_id, str) or not checkpoint_id:
        raise InvalidConfigError(
            f"config for thread {thread_id!r} names no 'checkpoint_id' (use a config from "
            "graph.get_state_history() or graph.get_state())"
        )
    checkpoint_ns = configurable.get("checkpoint_ns") or ""
    if not isinstance(checkpoint_ns, str):
        raise InvalidConfigError(f"config has a non-string 'checkpoint_ns': {checkpoint_ns!r}")
    return CheckpointRef(thread_id, checkpoint_ns, checkpoint_id)


def user_id_of(config: Any) -> int | None:
    """`configurable.user_id` when it is an int (bools excluded), else None."""
    if not isinstance(config, Mapping):
        return None
    configurable = config.get("configurable")
    if not isinstance(configurable, Mapping):
        return None
    user_id = configurable.get("user_id")
    return user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None


_ADDRESSING_KEYS = ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")


def thread_config(thread_id: str, base: Any = None) -> RunnableConfig:
    """A config for the head of `thread_id`, keeping `base`'s other configurable keys."""
    configurable: dict[str, Any] = {}
    if isinstance(base, Mapping) and isinstance(base.get("configurable"), Mapping):
        configurable = {k: v for k, v in base["configurable"].items() if k not in _ADDRESSING_KEYS}
    configurable["thread_id"] = thread_id
    return {"configurable": configurable}
