"""Tags and refs: naming checkpoints, and the one resolver of what a user types.

A ref is a tag, a branch name, a thread id, `HEAD`, `main`, a checkpoint id or
a unique prefix of an id (as `tree` prints them). Two questions are asked of
one: "which checkpoint?" (`resolve`, for `rollback`, `log`, `diff`, `tag`) and
"which thread?" (`find_thread`, for `switch`). Both match branch names, thread
ids, `main` and prefixes by the same rules, written once here.

Example:
    ```python
    config = saver.resolve(session_id, "before-booking")          # a checkpoint
    thread = find_thread(saver.branches(session_id), "retry", session_id)  # a thread
    ```
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Mapping, Sequence

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from agentgit_langgraph import _validate as check
from agentgit_langgraph._access import session_plan, stored_id, thread_plan
from agentgit_langgraph._plan import Plan, call, gather
from agentgit_langgraph._validate import UserId
from agentgit_langgraph.configs import thread_config
from agentgit_langgraph.errors import (
    AmbiguousRefError,
    InvalidConfigError,
    RefNotFoundError,
    ThreadNotFoundError,
)
from agentgit_langgraph.history.points import (
    _checkpoint_config,
    _cid,
    _copied_from,
    _point,
    _root_config,
    _tuple_plan,
    _user,
)
from agentgit_langgraph.history.render import _ELLIPSIS
from agentgit_langgraph.sessions import ExternalSession, InternalSession, Tag
from agentgit_langgraph.stores.base import BaseSessionStore, now

__all__ = [
    "AmbiguousRefError",
    "RefNotFoundError",
    "find_thread",
    "resolve_plan",
    "tag_plan",
    "tags_plan",
    "untag_plan",
]

_MIN_PREFIX = 4
_HEX_PREFIX = re.compile(rf"[0-9a-f][0-9a-f-]{{{_MIN_PREFIX - 1},}}")


# -- matching (pure: over the session's records) ------------------------------


def _looks_like_uuid(ref: str) -> bool:
    try:
        uuid.UUID(ref)
    except ValueError:
        return False
    return True


def _named_thread(threads: Sequence[InternalSession], ref: str) -> InternalSession | None:
    """The thread `ref` names exactly: a branch name, else a thread id, else `main`.

    Names win over ids (as git's refs win over object names); `main` is the
    first thread (the one with no parent) unless a branch is called `main`.
    """
    for thread in threads:
        if thread.name == ref:
            return thread
    for thread in threads:
        if thread.thread_id == ref:
            return thread
    if ref == "main" and threads:
        return next((t for t in threads if t.parent_thread_id is None), threads[0])
    return None


def _prefix_match(ref: str, ids: Collection[str], session_id: int | None) -> str | None:
    """The one id of `ids` that `ref` starts (4+ characters, a trailing `…` ignored).

    None when no id matches; `AmbiguousRefError` when several do, since picking
    one would act on a thread or checkpoint the user did not mean.
    """
    prefix = ref.removesuffix(_ELLIPSIS)
    if len(prefix) < _MIN_PREFIX:
        return None
    matches = sorted(i for i in ids if i.startswith(prefix))
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        raise AmbiguousRefError(
            f"ref {ref!r} is ambiguous in session {session_id}: it starts "
            f"{len(matches)} ids ({shown}); type more of the one you mean",
            ref=ref,
            candidates=tuple(matches),
        )
    return matches[0] if matches else None


def _too_short(ref: str, ids: Collection[str]) -> str:
    """A hint for a ref that would be a prefix if it were long enough ("" otherwise)."""
    prefix = ref.removesuffix(_ELLIPSIS)
    if len(prefix) >= _MIN_PREFIX or not any(i.startswith(prefix) for i in ids):
        return ""
    return (
        f" (a prefix of an id needs at least {_MIN_PREFIX} characters; {ref!r} has {len(prefix)})"
    )


def find_thread(
    threads: Sequence[InternalSession],
    ref: str,
    session_id: int | None,
    *,
    tags: Sequence[Tag] = (),
    current: str | None = None,
) -> InternalSession:
    """The thread of a session that `ref` names: a tag (the thread it was made
    on), a branch name, a thread id, `main`, `HEAD` (the `current` thread), or
    a unique prefix (4+ characters) of a thread id (`tree`'s short ids, `…` or not).

    `threads` are the session's threads (`saver.branches(session_id)`), first
    thread first; `tags` its tags. Checkpoint ids are not threads: use
    `saver.resolve` for those. `saver.switch` takes any of these refs itself.

    Raises:
        ThreadNotFoundError: No thread answers to `ref` (the message says when
            `ref` is a prefix shorter than 4 characters).
        AmbiguousRefError: `ref` is a prefix of several thread ids.

    Example:
        ```python
        thread = find_thread(saver.branches(1), "retry", 1)
        saver.switch(1, thread.thread_id)   # the same as saver.switch(1, "retry")
        ```
    """
    by_id = {t.thread_id: t for t in threads}
    tagged = next((t for t in tags if t.name == ref and t.thread_id in by_id), None)
    thread = by_id[tagged.thread_id] if tagged is not None else _named_thread(threads, ref)
    if thread is None and ref == "HEAD" and current in by_id:
        thread = by_id[current]
    if thread is None:
        match = _prefix_match(ref, by_id, session_id)
        thread = by_id.get(match) if match is not None else None
    if thread is None:
        raise ThreadNotFoundError(
            f"session {session_id} has no thread, branch or tag named {ref!r}"
            + _too_short(ref, by_id)
        )
    return thread


# -- tags ------------------------------------------------------------------------


def tag_plan(config: RunnableConfig, name: str, *, user_id: UserId | None = None) -> Plan[Tag]:
    """Name the checkpoint `config` names (its thread's head if it names none).

    Tag names are unique within a session and, as in git, never shadow
    another ref: `HEAD`, `main`, a branch's name or a thread id of the
    session is refused (`NameConflictError`). The checkpoint must exist
    (`CheckpointNotFoundError`).

    Example:
        ```python
        saver.tag(graph.get_state(config).config, "before-booking")
        saver.rollback(saver.resolve(session_id, "before-booking"))
        ```
    """
    name = check.ref_name(name, "tag name")
    point = _point(config, root_only=False)
    thread = yield from thread_plan(point.thread_id, _user(user_id, config))
    tup = yield from _tuple_plan(point)
    tag = Tag(
        session_id=thread.session_id,
        name=name,
        thread_id=point.thread_id,
        checkpoint_id=_cid(tup),
        checkpoint_ns=point.checkpoint_ns,
        created_at=now(),
    )
    yield from call(BaseSessionStore.add_tag, tag)
    return tag


def tags_plan(
    session_id: int | ExternalSession, *, user_id: UserId | None = None
) -> Plan[list[Tag]]:
    """The session's tags, oldest first."""
    session = yield from session_plan(session_id, user_id)
    tags: list[Tag] = yield from call(BaseSessionStore.list_tags, stored_id(session))
    return tags


def untag_plan(
    session_id: int | ExternalSession, name: str, *, user_id: UserId | None = None
) -> Plan[bool]:
    """Remove a tag (the checkpoint stays); False if the session had no such tag."""
    name = check.name(name, "tag name")
    session = yield from session_plan(session_id, user_id)
    deleted: bool = yield from call(BaseSessionStore.delete_tag, stored_id(session), name)
    return deleted


# -- resolve ---------------------------------------------------------------------


def _head_plan(thread_id: str) -> Plan[RunnableConfig]:
    """The config of the thread's latest root checkpoint (the bare thread if it has none)."""
    head: CheckpointTuple | None = yield from call(
        BaseCheckpointSaver.get_tuple, _root_config(thread_id)
    )
    if head is None:
        return thread_config(thread_id)
    return _checkpoint_config(thread_id, _cid(head))


def _original_plan(
    threads: Mapping[str, InternalSession], thread_id: str, checkpoint_id: str
) -> Plan[RunnableConfig | None]:
    """`checkpoint_id` in `thread_id`, or in the thread it was first copied from."""
    found: CheckpointTuple | None = yield from call(
        BaseCheckpointSaver.get_tuple, _checkpoint_config(thread_id, checkpoint_id)
    )
    if found is None or _cid(found) != checkpoint_id:
        return None
    seen = {thread_id}
    holder = thread_id
    origin = _copied_from(threads.get(holder), checkpoint_id)
    while origin is not None and origin not in seen:
        seen.add(origin)
        earlier: CheckpointTuple | None = yield from call(
            BaseCheckpointSaver.get_tuple, _checkpoint_config(origin, checkpoint_id)
        )
        if earlier is None or _cid(earlier) != checkpoint_id:
            break  # the original thread is gone: the copy is the oldest holder
        holder, origin = origin, _copied_from(threads.get(origin), checkpoint_id)
    return _checkpoint_config(holder, checkpoint_id)


def _checkpoint_ref_plan(
    threads: Sequence[InternalSession], tags: Sequence[Tag], checkpoint_id: str
) -> Plan[RunnableConfig | None]:
    """Find a checkpoint id among the session's threads, preferring its original thread."""
    by_id = {t.thread_id: t for t in threads}
    hints = [t.parent_thread_id for t in threads if t.branch_checkpoint_id == checkpoint_id]
    hints += [t.thread_id for t in tags if t.checkpoint_id == checkpoint_id]
    tried: set[str] = set()
    for hint in hints:
        if hint is None or hint in tried:
            continue
        tried.add(hint)
        found = yield from _original_plan(by_id, hint, checkpoint_id)
        if found is not None:
            return found
    if not _looks_like_uuid(checkpoint_id):
        return None
    for thread in threads:  # oldest first: a copy's thread is always younger
        if thread.thread_id in tried:
            continue
        found = yield from _original_plan(by_id, thread.thread_id, checkpoint_id)
        if found is not None:
            return found
    return None


def resolve_plan(
    session_id: int | ExternalSession, ref: str, *, user_id: UserId | None = None
) -> Plan[RunnableConfig]:
    """Turn a ref into the config of one checkpoint of the session.

    Tried in this order: a tag; a branch name; a thread id; `HEAD` (the
    current thread) and `main` (the first thread) unless a branch or tag
    has that name; a checkpoint id, found in the thread where it is
    original (the oldest thread holding it), not in a branch's copy;
    finally a unique prefix (4+ characters, a trailing `…` ignored) of a
    thread id or of a checkpoint id the session records (branch points and
    tags, as `tree` prints them), else of any checkpoint id of the
    session's threads (as `log` prints them; only then are they read). A
    branch or thread resolves to its head at the time of the call (the bare
    thread config if it has no checkpoint yet); use `switch`/`config_for` to
    keep working on a branch.

    Raises:
        RefNotFoundError: Nothing answers to `ref` (or a prefix is ambiguous).

    Example:
        ```python
        branch = saver.rollback(saver.resolve(session_id, "before-booking"))
        ```
    """
    if not isinstance(ref, str) or not ref:
        raise InvalidConfigError(f"a ref must be a non-empty string, got {ref!r}")
    check.thread_id(ref, "ref")  # no NUL, bounded: it may be looked up as an id
    session = yield from session_plan(session_id, user_id)
    sid = stored_id(session)
    tags: list[Tag] = yield from call(BaseSessionStore.list_tags, sid)
    for tag in tags:
        if tag.name == ref:
            return _checkpoint_config(tag.thread_id, tag.checkpoint_id, tag.checkpoint_ns)
    threads: list[InternalSession] = yield from call(BaseSessionStore.list_threads, sid)
    # `HEAD` is never `main`, so checking it after `main` changes nothing.
    thread = _named_thread(threads, ref)
    if thread is not None:
        return (yield from _head_plan(thread.thread_id))
    if ref == "HEAD" and session.current_internal_session_id is not None:
        return (yield from _head_plan(session.current_internal_session_id))
    found = yield from _checkpoint_ref_plan(threads, tags, ref)
    if found is not None:
        return found
    # A unique prefix of an id the session knows (as `tree` prints them).
    thread_ids = {t.thread_id for t in threads}
    checkpoint_ids = {t.branch_checkpoint_id for t in threads if t.branch_checkpoint_id}
    checkpoint_ids |= {t.checkpoint_id for t in tags}
    match = _prefix_match(ref, thread_ids | checkpoint_ids, sid)
    if match is None and _HEX_PREFIX.fullmatch(ref.removesuffix(_ELLIPSIS)):
        # A short id `log` printed: any checkpoint of the session's threads.
        # Only now, and only for what could start a checkpoint id, are the
        # threads' checkpoints read.
        listed: set[str] = set()
        for thread in threads:
            tuples: list[CheckpointTuple] = yield from gather(
                BaseCheckpointSaver.list, _root_config(thread.thread_id)
            )
            listed.update(_cid(t) for t in tuples)
        match = _prefix_match(ref, listed, sid)
    if match is not None:
        if match in thread_ids:
            return (yield from _head_plan(match))
        found = yield from _checkpoint_ref_plan(threads, tags, match)
        if found is not None:
            return found
    raise RefNotFoundError(
        f"session {sid} has no tag, branch, thread or checkpoint named {ref!r}"
        + _too_short(ref, thread_ids | checkpoint_ids)
    )
