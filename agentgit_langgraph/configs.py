"""Reading LangGraph configs, with a typed error for every malformed one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig

from agentgit_langgraph import _validate as check
from agentgit_langgraph._validate import owner_of
from agentgit_langgraph.errors import InvalidConfigError

__all__ = [
    "CheckpointRef",
    "before_config",
    "branch_config",
    "checkpoint_config",
    "checkpoint_ns_of",
    "checkpoint_ref",
    "owner_of",
    "thread_config",
    "thread_id_of",
]


@dataclass(frozen=True)
class CheckpointRef:
    """One checkpoint: thread, namespace, id."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str

    def config(self) -> RunnableConfig:
        return checkpoint_config(self.thread_id, self.checkpoint_ns, self.checkpoint_id)


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
    """The config's `thread_id`, as a string (see `_validate.thread_id`)."""
    thread_id = _configurable(config).get("thread_id")
    if thread_id is None or thread_id == "":
        raise InvalidConfigError(f"config has no usable 'thread_id': {config!r}")
    try:
        return check.thread_id(thread_id)
    except InvalidConfigError as exc:
        raise InvalidConfigError(f"config has no usable 'thread_id': {exc}") from None


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
    check.checkpoint_id(checkpoint_id)
    return CheckpointRef(thread_id, checkpoint_ns_of(configurable), checkpoint_id)


def checkpoint_ns_of(configurable: Mapping[str, Any]) -> str:
    """`checkpoint_ns` of a configurable mapping ("" when absent); a str without NUL."""
    checkpoint_ns = configurable.get("checkpoint_ns") or ""
    if not isinstance(checkpoint_ns, str) or "\x00" in checkpoint_ns:
        raise InvalidConfigError(f"config has a non-string 'checkpoint_ns': {checkpoint_ns!r}")
    return checkpoint_ns


_ADDRESSING_KEYS = ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")


def checkpoint_config(
    thread_id: str, checkpoint_ns: str | None = "", checkpoint_id: str | None = None
) -> RunnableConfig:
    """A config for a saver call: a thread, its namespace, and maybe one checkpoint.

    `checkpoint_ns=None` leaves the namespace out, which `list` reads as every
    namespace of the thread; `""` is the root graph. Without `checkpoint_id`,
    `get_tuple` answers with the namespace's latest checkpoint.

    Example:
        >>> checkpoint_config("t", checkpoint_id="c1")
        {'configurable': {'thread_id': 't', 'checkpoint_ns': '', 'checkpoint_id': 'c1'}}
    """
    configurable: dict[str, Any] = {"thread_id": thread_id}
    if checkpoint_ns is not None:
        configurable["checkpoint_ns"] = checkpoint_ns
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def before_config(checkpoint_id: str) -> RunnableConfig:
    """The `before=` of a saver's `list`: checkpoints older than `checkpoint_id`."""
    return {"configurable": {"checkpoint_id": checkpoint_id}}


def thread_config(thread_id: str, base: Any = None) -> RunnableConfig:
    """A config for the head of `thread_id`, keeping `base`'s other configurable keys."""
    configurable: dict[str, Any] = {}
    if isinstance(base, Mapping) and isinstance(base.get("configurable"), Mapping):
        configurable = {k: v for k, v in base["configurable"].items() if k not in _ADDRESSING_KEYS}
    configurable["thread_id"] = thread_id
    return {"configurable": configurable}


def branch_config(thread_id: str, source: Any, owner: str | None) -> RunnableConfig:
    """The config a rollback returns: the new thread, `source`'s other configurable
    keys, and the acting `owner` as `user_id` when `source` names none.

    A snapshot's config (`get_state_history`) carries only its address, so the
    user a rollback was made for would otherwise be lost for the next run.

    Example:
        >>> branch_config("b", {"configurable": {"thread_id": "t", "model": "m"}}, "7")
        {'configurable': {'model': 'm', 'thread_id': 'b', 'user_id': 7}}
    """
    config = thread_config(thread_id, source)
    configurable = config["configurable"]
    if owner is not None and owner_of(source) is None:
        as_int = check.user_id_column(owner)
        configurable["user_id"] = as_int if str(as_int) == owner else owner
    return config


# SQLAlchemy-style names of PostgreSQL URLs, with the driver part libpq does not know.
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_POSTGRES_DRIVER_SCHEMES = ("postgresql+psycopg://", "postgresql+psycopg2://")


def postgres_conninfo(conn_string: str) -> str | None:
    """The libpq URI of a PostgreSQL connection string, or None for anything else.

    Accepts `postgresql://`, `postgres://` and SQLAlchemy's `postgresql+psycopg://`
    / `postgresql+psycopg2://` (the driver part dropped). Anything else is a
    SQLite path, `":memory:"` included, as `from_conn_string` reads it.

    Example:
        >>> postgres_conninfo("postgresql+psycopg2://u@h/db")
        'postgresql://u@h/db'
        >>> postgres_conninfo("agent.db") is None
        True
    """
    if conn_string.startswith(_POSTGRES_SCHEMES):
        return conn_string
    for prefix in _POSTGRES_DRIVER_SCHEMES:
        if conn_string.startswith(prefix):
            return "postgresql://" + conn_string[len(prefix) :]
    return None
