"""One set of input checks, used by every public entry point and every store.

Each function takes what a caller passed, returns it normalised, or raises a
typed `AgentGitError` naming the offending value *before* anything is read or
written. The same checks run on every backend (memory, SQLite, PostgreSQL; sync
and async), so a value one database would store and another would reject is
refused everywhere alike.

Owners (the one rule, applied by `owner_key` alone):

* an `int` user id N (agentgit's type; not `bool`, within signed 64-bit) is
  the owner key `str(N)`, so `user_id=7` and `user_id="7"` are the same user;
* a `str` user id (an email, a UUID, ...) is its own owner key: non-empty, no
  NUL, at most `MAX_OWNER_LENGTH` characters;
* `None` (or a config without `user_id`) means no owner given: no check;
* anything else (`bool`, `float`, ...) is `InvalidConfigError`: it never
  matches an owner.

`ExternalSession.user_id` (agentgit's int field) shows N for an owner key that
is a canonical int, else 0; `ExternalSession.owner` always shows the key.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from agentgit_langgraph.errors import (
    InvalidConfigError,
    NameConflictError,
    SessionNotFoundError,
)
from agentgit_langgraph.sessions import InternalSession, Reversal, Tag

__all__ = [
    "BRANCH_STATUSES",
    "MAX_INT64",
    "MAX_NAME_LENGTH",
    "MAX_OWNER_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_THREAD_ID_LENGTH",
    "MIN_INT64",
    "UserId",
    "branch",
    "checkpoint_id",
    "count",
    "limit",
    "metadata_json",
    "name",
    "optional_name",
    "optional_owner",
    "owner_key",
    "owner_of",
    "reversal",
    "reversal_filter",
    "reversal_key",
    "seconds",
    "session_id",
    "session_name",
    "store_session_id",
    "tag",
    "thread_id",
    "thread_ids",
    "user_id_column",
]

UserId = int | str
"""What a caller may pass as a user id: agentgit's int or a string."""

MIN_INT64 = -(2**63)
MAX_INT64 = 2**63 - 1
# Text limits keep every key within one btree index entry on PostgreSQL.
MAX_THREAD_ID_LENGTH = 512
"""Thread ids and checkpoint ids, in characters."""
MAX_OWNER_LENGTH = 256
MAX_NAME_LENGTH = 256
MAX_TEXT_LENGTH = 4096
"""An intent or a status reason: a sentence or a paragraph, not a document."""
BRANCH_STATUSES = ("active", "kept", "abandoned")
"""What became of a branch: still being tried, kept as the answer, given up on."""
"""Branch names and tag names, in characters."""

_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _in_int64(value: int) -> bool:
    return MIN_INT64 <= value <= MAX_INT64


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- owners ------------------------------------------------------------------


def owner_key(user_id: object) -> str:
    """The owner key of a user id given as an argument (see the module doc)."""
    if isinstance(user_id, str):
        if not user_id or "\x00" in user_id or len(user_id) > MAX_OWNER_LENGTH:
            raise InvalidConfigError(
                f"user_id must be a non-empty string without NUL of at most "
                f"{MAX_OWNER_LENGTH} characters, or an int; got {_shown(user_id)}"
            )
        return user_id
    if _is_int(user_id):
        assert isinstance(user_id, int)
        if not _in_int64(user_id):
            raise InvalidConfigError(f"user_id {user_id} is outside signed 64-bit range")
        return str(user_id)
    raise InvalidConfigError(
        f"user_id must be an int or a str, got {_shown(user_id)} ({type(user_id).__name__})"
    )


def optional_owner(user_id: object) -> str | None:
    """`owner_key`, with None passing through (no owner given)."""
    return None if user_id is None else owner_key(user_id)


def owner_of(config: Any) -> str | None:
    """The owner key of a config's `configurable.user_id`; None when it has none.

    Cheap (the checkpointer calls it on every call). A `user_id` that is not an
    int or a str raises `InvalidConfigError` rather than being ignored, so a
    malformed one never turns the ownership check off. An empty string is no
    user: the LangGraph Agent Server puts `user_id: ""` in every run's config
    when no auth is configured (its anonymous user).
    """
    # `dict` first: an ABC check costs more than the rest on this hot path.
    if not isinstance(config, dict) and not isinstance(config, Mapping):
        return None
    configurable = config.get("configurable")
    if not isinstance(configurable, dict) and not isinstance(configurable, Mapping):
        return None
    user_id = configurable.get("user_id")
    if user_id is None or user_id == "":
        return None
    return owner_key(user_id)


def user_id_column(owner: str) -> int:
    """agentgit's int `user_id` for an owner key: N for `str(N)`, else 0."""
    if _CANONICAL_INT.fullmatch(owner):
        value = int(owner)
        if _in_int64(value):
            return value
    return 0


# -- ids ---------------------------------------------------------------------


def session_id(value: object) -> int:
    """A session id argument of the public API: unknown unless an int64."""
    if not _is_int(value):
        raise SessionNotFoundError(f"session {_shown(value)} not found (session ids are ints)")
    assert isinstance(value, int)
    if not _in_int64(value):
        raise SessionNotFoundError(f"session {value} not found (outside signed 64-bit range)")
    return value


def store_session_id(value: object) -> int:
    """A session id given to a store: an int64, else `InvalidConfigError`."""
    if not _is_int(value) or not _in_int64(value):  # type: ignore[arg-type]
        raise InvalidConfigError(
            f"session id must be an int within signed 64-bit range, got {_shown(value)}"
        )
    assert isinstance(value, int)
    return value


def _text(value: object, what: str, max_length: int) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidConfigError(f"{what} must be a non-empty string, got {_shown(value)}")
    if "\x00" in value:
        raise InvalidConfigError(f"{what} must not contain NUL: {_shown(value)}")
    if len(value) > max_length:
        raise InvalidConfigError(f"{what} is longer than {max_length} characters: {_shown(value)}")
    return value


def thread_id(value: object, what: str = "thread_id") -> str:
    """A thread id: a str (an int or UUID is turned into one, as LangGraph does)."""
    if type(value) is str and 0 < len(value) <= MAX_THREAD_ID_LENGTH and "\x00" not in value:
        return value  # the common case, on every put: the checks below, inlined
    if _is_int(value) or isinstance(value, uuid.UUID):
        value = str(value)
    return _text(value, what, MAX_THREAD_ID_LENGTH)


def checkpoint_id(value: object, what: str = "checkpoint_id") -> str:
    """A checkpoint id: a non-empty str without NUL."""
    return _text(value, what, MAX_THREAD_ID_LENGTH)


def name(value: object, what: str = "tag name") -> str:
    """A branch or tag name: non-empty, no control characters or surrounding spaces."""
    text = _text(value, what, MAX_NAME_LENGTH)
    if text != text.strip() or _CONTROL.search(text):
        raise InvalidConfigError(
            f"a {what} must be a non-empty string without surrounding spaces or "
            f"control characters, got {_shown(value)}"
        )
    return text


# Refs every session answers to: a branch or tag of that name would shadow them.
RESERVED_NAMES = ("HEAD", "main")


def ref_name(value: object, what: str = "tag name") -> str:
    """A branch or tag name (`name`) that is not `HEAD` or `main` (`NameConflictError`)."""
    text = name(value, what)
    if text in RESERVED_NAMES:
        raise NameConflictError(
            f"{text!r} cannot be a {what}: `HEAD` and `main` are reserved refs of every session"
        )
    return text


def optional_name(value: object, what: str = "branch name") -> str | None:
    return None if value is None else ref_name(value, what)


def optional_text(value: object, what: str) -> str | None:
    """None, or free text (an intent, a status reason): non-empty, no NUL, at most 4096."""
    return None if value is None else _text(value, what, MAX_TEXT_LENGTH)


def branch_status(value: object) -> str:
    """One of `BRANCH_STATUSES`."""
    if not isinstance(value, str) or value not in BRANCH_STATUSES:
        raise InvalidConfigError(
            f"a branch status is one of {', '.join(BRANCH_STATUSES)}; got {_shown(value)}"
        )
    return value


# -- numbers and metadata ----------------------------------------------------


def limit(value: object) -> int | None:
    """A `limit`: None (no limit) or an int with 0 <= limit <= 2**63 - 1 (0: nothing)."""
    if value is None:
        return None
    if not _is_int(value):
        raise InvalidConfigError(f"limit must be a non-negative int or None, got {_shown(value)}")
    assert isinstance(value, int)
    if not 0 <= value <= MAX_INT64:
        raise InvalidConfigError(f"limit must be between 0 and 2**63 - 1, got {value}")
    return value


def count(value: object) -> int:
    """A checkpoint count increment: an int64."""
    if type(value) is int and MIN_INT64 <= value <= MAX_INT64:
        return value
    if not _is_int(value) or not _in_int64(value):  # type: ignore[arg-type]
        raise InvalidConfigError(f"count must be an int within 64-bit range, got {_shown(value)}")
    assert isinstance(value, int)
    return value


def seconds(value: object, what: str, *, positive: bool = False) -> float:
    """A duration: an int or float >= 0 (`positive`: > 0), `math.inf` allowed; never
    `bool` or NaN."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (value > 0 if positive else value >= 0)
    ):
        kind = "positive" if positive else "non-negative"
        raise InvalidConfigError(f"{what} must be a {kind} number of seconds, got {_shown(value)}")
    return float(value)


def _check_json(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidConfigError(f"metadata{path} is not JSON: {value!r}")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidConfigError(
                    f"metadata{path} has a non-string key {_shown(key)} (JSON keys are strings)"
                )
            _check_json(item, f"{path}[{key!r}]")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
        return
    raise InvalidConfigError(
        f"metadata{path} is not JSON-serialisable: {_shown(value)} ({type(value).__name__})"
    )


def metadata_json(value: object) -> str:
    """Session metadata as the JSON text stored: a mapping with str keys, JSON values."""
    if value is None:
        return "{}"
    if not isinstance(value, Mapping):
        raise InvalidConfigError(
            f"metadata must be a mapping, got {_shown(value)} ({type(value).__name__})"
        )
    try:
        _check_json(value, "")
        return json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidConfigError(f"metadata is not JSON-serialisable: {exc}") from exc


def session_name(value: object) -> str:
    """A session name: a str (empty allowed, agentgit's default) without NUL."""
    if not isinstance(value, str):
        raise InvalidConfigError(f"session_name must be a str, got {_shown(value)}")
    if "\x00" in value:
        raise InvalidConfigError(f"session_name must not contain NUL: {_shown(value)}")
    return value


def thread_ids(values: object) -> list[str]:
    """A sequence of thread ids (not a single str), each checked, duplicates dropped."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidConfigError(
            f"thread ids must be a list or tuple of thread ids, got {_shown(values)}"
        )
    return list(dict.fromkeys(thread_id(v) for v in values))


def branch(record: InternalSession) -> None:
    """Every field of a branch a store is asked to register."""
    store_session_id(record.session_id)
    thread_id(record.thread_id)
    if record.parent_thread_id is not None:
        thread_id(record.parent_thread_id, "parent_thread_id")
    if record.branch_checkpoint_id is not None:
        checkpoint_id(record.branch_checkpoint_id, "branch_checkpoint_id")
    optional_name(record.name, "branch name")
    count(record.checkpoint_count)
    branch_status(record.status)
    optional_text(record.status_reason, "status reason")
    optional_text(record.intent, "intent")


def tag(record: Tag) -> None:
    """Every field of a tag a store is asked to add."""
    store_session_id(record.session_id)
    ref_name(record.name, "tag name")
    thread_id(record.thread_id)
    checkpoint_id(record.checkpoint_id)
    if not isinstance(record.checkpoint_ns, str) or "\x00" in record.checkpoint_ns:
        raise InvalidConfigError(
            f"checkpoint_ns must be a str without NUL: {_shown(record.checkpoint_ns)}"
        )


def reversal_key(session: object, tool_call_id: object) -> tuple[int, str]:
    """`(session_id, tool_call_id)` of a reversal record given to a store."""
    return store_session_id(session), _text(tool_call_id, "tool_call_id", MAX_THREAD_ID_LENGTH)


def reversal(record: Reversal) -> None:
    """Every key field of a reversal a store is asked to claim."""
    reversal_key(record.session_id, record.tool_call_id)
    thread_id(record.thread_id)
    if record.checkpoint_id is not None:
        checkpoint_id(record.checkpoint_id)


def reversal_filter(session: object, thread: object) -> tuple[int | None, str | None]:
    """`list_reversals`' filter: a session id, or a thread id when given."""
    if thread is not None:
        return None, thread_id(thread)
    return store_session_id(session), None
