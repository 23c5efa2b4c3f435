"""`ExternalSession` keeps agentgit's API and semantics; `InternalSession` defaults.

The behaviour checked here is that of agentgit's own
`agentgit.sessions.external_session.ExternalSession` (see
shared/reference/agentgit_external_session.txt), method by method.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from agentgit_langgraph import ExternalSession, InternalSession

AGENTGIT_FIELDS = [
    "id",
    "user_id",
    "session_name",
    "created_at",
    "updated_at",
    "is_active",
    "internal_session_ids",
    "current_internal_session_id",
    "metadata",
    "branch_count",
    "total_checkpoints",
]

# to_dict() has exactly agentgit's keys, in agentgit's order.
AGENTGIT_DICT_KEYS = AGENTGIT_FIELDS


def _between(value: datetime | None, before: datetime, after: datetime) -> bool:
    return value is not None and before <= value <= after


# -- fields and defaults -------------------------------------------------------


def test_fields_match_agentgit_in_order():
    assert [f.name for f in dataclasses.fields(ExternalSession)] == AGENTGIT_FIELDS


def test_defaults_match_agentgit():
    s = ExternalSession()
    assert s.id is None
    assert s.user_id == 0
    assert s.session_name == ""
    assert s.created_at is None
    assert s.updated_at is None
    assert s.is_active is True
    assert s.internal_session_ids == []
    assert s.current_internal_session_id is None
    assert s.metadata == {}
    assert s.branch_count == 0
    assert s.total_checkpoints == 0


def test_mutable_defaults_are_not_shared():
    a, b = ExternalSession(), ExternalSession()
    a.add_internal_session("t")
    a.update_metadata({"k": 1})
    assert b.internal_session_ids == []
    assert b.metadata == {}


def test_positional_construction_like_agentgit():
    created = datetime(2024, 1, 2, 3, 4, 5)
    s = ExternalSession(7, 3, "trip", created, created, False, ["a"], "a", {"m": 1}, 2, 9)
    assert (s.id, s.user_id, s.session_name, s.is_active) == (7, 3, "trip", False)
    assert s.internal_session_ids == ["a"]
    assert s.current_internal_session_id == "a"
    assert s.metadata == {"m": 1}
    assert (s.branch_count, s.total_checkpoints) == (2, 9)


# -- add_internal_session ----------------------------------------------------------


def test_add_internal_session_appends_and_becomes_current():
    s = ExternalSession(user_id=1, session_name="Test")
    before = datetime.now(UTC)
    s.add_internal_session("internal_1")
    s.add_internal_session("internal_2")
    after = datetime.now(UTC)
    assert s.internal_session_ids == ["internal_1", "internal_2"]
    assert s.current_internal_session_id == "internal_2"
    assert s.branch_count == 0
    assert _between(s.updated_at, before, after)


def test_add_internal_session_as_branch_increments_branch_count():
    s = ExternalSession()
    s.add_internal_session("main")
    s.add_internal_session("branch_1", is_branch=True)
    assert s.branch_count == 1
    s.add_internal_session("branch_2", is_branch=True)
    assert s.branch_count == 2
    assert s.internal_session_ids == ["main", "branch_1", "branch_2"]
    assert s.current_internal_session_id == "branch_2"


def test_add_internal_session_is_branch_defaults_to_false():
    s = ExternalSession()
    s.add_internal_session("a")
    s.add_internal_session("b", False)
    assert s.branch_count == 0


def test_add_internal_session_duplicate_is_a_no_op_as_in_agentgit():
    """agentgit's body is entirely inside `if session_id not in ...:`.

    Re-adding a listed id changes nothing: not the list, not the current id,
    not `branch_count` (even with is_branch=True), not `updated_at`.
    """
    s = ExternalSession()
    s.add_internal_session("a")
    s.add_internal_session("b", is_branch=True)
    stamp = datetime(2000, 1, 1)
    s.updated_at = stamp

    s.add_internal_session("b", is_branch=True)
    s.add_internal_session("a")
    s.add_internal_session("a", is_branch=True)

    assert s.internal_session_ids == ["a", "b"]
    assert s.branch_count == 1
    assert s.current_internal_session_id == "b"
    assert s.updated_at == stamp


# -- set_current_internal_session ---------------------------------------------------


def test_set_current_internal_session_true_for_listed_id():
    s = ExternalSession()
    s.add_internal_session("session_1")
    s.add_internal_session("session_2")
    s.updated_at = datetime(2000, 1, 1)
    before = datetime.now(UTC)
    assert s.set_current_internal_session("session_1") is True
    assert s.current_internal_session_id == "session_1"
    assert _between(s.updated_at, before, datetime.now(UTC))
    assert s.internal_session_ids == ["session_1", "session_2"]
    assert s.branch_count == 0


def test_set_current_internal_session_false_changes_nothing():
    s = ExternalSession()
    s.add_internal_session("session_1")
    stamp = datetime(2000, 1, 1)
    s.updated_at = stamp
    assert s.set_current_internal_session("nonexistent") is False
    assert s.current_internal_session_id == "session_1"
    assert s.updated_at == stamp
    assert s.internal_session_ids == ["session_1"]


def test_set_current_internal_session_false_on_empty_session():
    s = ExternalSession()
    assert s.set_current_internal_session("x") is False
    assert s.current_internal_session_id is None
    assert s.updated_at is None


# -- get_branch_info ------------------------------------------------------------------


def test_get_branch_info_unbranched():
    s = ExternalSession()
    assert s.get_branch_info() == {
        "total_branches": 0,
        "total_sessions": 0,
        "current_session": None,
        "is_branched": False,
    }
    s.add_internal_session("main")
    assert s.get_branch_info() == {
        "total_branches": 0,
        "total_sessions": 1,
        "current_session": "main",
        "is_branched": False,
    }


def test_get_branch_info_branched():
    s = ExternalSession()
    s.add_internal_session("main")
    s.add_internal_session("b1", is_branch=True)
    s.add_internal_session("b2", is_branch=True)
    s.set_current_internal_session("main")
    info = s.get_branch_info()
    assert list(info) == ["total_branches", "total_sessions", "current_session", "is_branched"]
    assert info == {
        "total_branches": 2,
        "total_sessions": 3,
        "current_session": "main",
        "is_branched": True,
    }


def test_get_branch_info_counts_branch_count_not_list_length():
    # agentgit reports the counter as is (e.g. restored from a dict).
    s = ExternalSession(branch_count=5, internal_session_ids=["x"])
    info = s.get_branch_info()
    assert info["total_branches"] == 5
    assert info["total_sessions"] == 1
    assert info["is_branched"] is True


# -- update_metadata / increment_checkpoint_count -------------------------------------


def test_update_metadata_merges_and_overwrites():
    s = ExternalSession(metadata={"keep": 1, "model": "a"})
    original = s.metadata
    before = datetime.now(UTC)
    s.update_metadata({"model": "gpt-4", "temperature": 0.7})
    s.update_metadata({"temperature": 0.5})
    assert s.metadata == {"keep": 1, "model": "gpt-4", "temperature": 0.5}
    assert s.metadata is original  # merged in place, as dict.update does
    assert _between(s.updated_at, before, datetime.now(UTC))


def test_update_metadata_with_empty_dict_still_touches_updated_at():
    s = ExternalSession(metadata={"a": 1})
    s.update_metadata({})
    assert s.metadata == {"a": 1}
    assert s.updated_at is not None


def test_increment_checkpoint_count():
    s = ExternalSession(total_checkpoints=3)
    before = datetime.now(UTC)
    s.increment_checkpoint_count()
    s.increment_checkpoint_count()
    assert s.total_checkpoints == 5
    assert _between(s.updated_at, before, datetime.now(UTC))
    assert s.branch_count == 0


# -- get_session_age ---------------------------------------------------------------


def test_get_session_age_none_without_created_at():
    assert ExternalSession().get_session_age() is None


def test_get_session_age_in_hours():
    s = ExternalSession(created_at=datetime.now() - timedelta(hours=2))
    age = s.get_session_age()
    assert isinstance(age, float)
    assert age == pytest.approx(2.0, abs=0.01)


def test_get_session_age_fresh_session_is_small_and_non_negative():
    s = ExternalSession(created_at=datetime.now())
    age = s.get_session_age()
    assert age is not None
    assert 0 <= age < 0.01


# -- to_dict / from_dict ---------------------------------------------------------------


def _full_session() -> ExternalSession:
    return ExternalSession(
        id=12,
        user_id=4,
        session_name="Serialize Test",
        created_at=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        updated_at=datetime(2024, 5, 6, 8, 0, 0, 1, tzinfo=UTC),
        is_active=False,
        internal_session_ids=["t1", "t2"],
        current_internal_session_id="t2",
        metadata={"key": "value", "nested": {"n": [1, 2]}},
        branch_count=1,
        total_checkpoints=17,
    )


def test_to_dict_keys_and_values():
    d = _full_session().to_dict()
    assert list(d) == AGENTGIT_DICT_KEYS
    assert d == {
        "id": 12,
        "user_id": 4,
        "session_name": "Serialize Test",
        "created_at": "2024-05-06T07:08:09.123456+00:00",
        "updated_at": "2024-05-06T08:00:00.000001+00:00",
        "is_active": False,
        "internal_session_ids": ["t1", "t2"],
        "current_internal_session_id": "t2",
        "metadata": {"key": "value", "nested": {"n": [1, 2]}},
        "branch_count": 1,
        "total_checkpoints": 17,
    }
    # The dictionary form is plain JSON.
    assert json.loads(json.dumps(d)) == d


def test_to_dict_none_datetimes():
    d = ExternalSession().to_dict()
    assert d["created_at"] is None
    assert d["updated_at"] is None
    assert d == {
        "id": None,
        "user_id": 0,
        "session_name": "",
        "created_at": None,
        "updated_at": None,
        "is_active": True,
        "internal_session_ids": [],
        "current_internal_session_id": None,
        "metadata": {},
        "branch_count": 0,
        "total_checkpoints": 0,
    }


def test_to_dict_datetimes_are_iso_8601():
    aware = datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    d = ExternalSession(created_at=aware, updated_at=aware).to_dict()
    assert d["created_at"] == "2024-01-01T12:00:00+02:00"
    assert datetime.fromisoformat(d["created_at"]) == aware


def test_from_dict_round_trip():
    original = _full_session()
    restored = ExternalSession.from_dict(original.to_dict())
    assert restored == original
    assert restored.created_at == datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert isinstance(restored.updated_at, datetime)


def test_from_dict_round_trip_through_json():
    s = ExternalSession(user_id=1, session_name="S", created_at=datetime.now(UTC))
    s.add_internal_session("session_1")
    s.add_internal_session("session_2", is_branch=True)
    s.increment_checkpoint_count()
    restored = ExternalSession.from_dict(json.loads(json.dumps(s.to_dict())))
    assert restored == s
    assert restored.branch_count == 1
    assert restored.get_branch_info() == s.get_branch_info()


def test_from_dict_round_trip_aware_datetimes():
    aware = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    s = ExternalSession(created_at=aware, updated_at=aware)
    assert ExternalSession.from_dict(s.to_dict()) == s


def test_from_dict_missing_keys_take_defaults():
    restored = ExternalSession.from_dict({})
    assert restored == ExternalSession()


def test_from_dict_partial_dict():
    restored = ExternalSession.from_dict(
        {"id": 3, "session_name": "x", "created_at": "2024-02-03T04:05:06"}
    )
    assert restored.id == 3
    assert restored.session_name == "x"
    assert restored.created_at == datetime(2024, 2, 3, 4, 5, 6).astimezone(UTC)  # naive = local
    assert restored.created_at.tzinfo is UTC
    assert restored.updated_at is None
    assert restored.user_id == 0
    assert restored.is_active is True
    assert restored.internal_session_ids == []
    assert restored.current_internal_session_id is None
    assert restored.metadata == {}
    assert restored.branch_count == 0
    assert restored.total_checkpoints == 0


def test_from_dict_falsy_datetimes_stay_none():
    restored = ExternalSession.from_dict({"created_at": None, "updated_at": ""})
    assert restored.created_at is None
    assert restored.updated_at is None


def test_from_dict_of_an_agentgit_dict():
    # A dictionary as agentgit itself writes it.
    data = {
        "id": 1,
        "user_id": 2,
        "session_name": "Project Discussion",
        "created_at": "2025-01-15T10:30:00.500000",
        "updated_at": "2025-01-15T11:00:00",
        "is_active": True,
        "internal_session_ids": ["langgraph_session_123", "langgraph_session_456"],
        "current_internal_session_id": "langgraph_session_456",
        "metadata": {"model": "gpt-4o"},
        "branch_count": 1,
        "total_checkpoints": 8,
    }
    s = ExternalSession.from_dict(data)
    # agentgit wrote naive local time: the same instants, now aware UTC.
    assert s.created_at == datetime(2025, 1, 15, 10, 30, 0, 500000).astimezone(UTC)
    assert s.updated_at == datetime(2025, 1, 15, 11, 0).astimezone(UTC)
    assert s.created_at.tzinfo is UTC and s.updated_at.tzinfo is UTC
    assert s.get_branch_info() == {
        "total_branches": 1,
        "total_sessions": 2,
        "current_session": "langgraph_session_456",
        "is_branched": True,
    }
    again = s.to_dict()
    assert again["created_at"] == s.created_at.isoformat()
    assert again["created_at"].endswith("+00:00")
    assert {k: v for k, v in again.items() if not k.endswith("_at")} == {
        k: v for k, v in data.items() if not k.endswith("_at")
    }


def test_from_dict_is_a_classmethod_returning_the_class():
    class Sub(ExternalSession):
        pass

    assert type(Sub.from_dict({"id": 1})) is Sub


# -- InternalSession --------------------------------------------------------------


def test_internal_session_fields():
    assert [f.name for f in dataclasses.fields(InternalSession)] == [
        "thread_id",
        "session_id",
        "parent_thread_id",
        "branch_checkpoint_id",
        "name",
        "created_at",
        "checkpoint_count",
        "is_branch",
        "is_current",  # beyond DESIGN's list: filled by branches() (issue 6)
        "status",  # what became of the branch (issue 13): active, kept, abandoned
        "status_reason",
        "intent",  # why it was opened: rollback(..., intent=...)
    ]


def test_internal_session_defaults():
    t = InternalSession("thread-1", 5)
    assert t.thread_id == "thread-1"
    assert t.session_id == 5
    assert t.parent_thread_id is None
    assert t.branch_checkpoint_id is None
    assert t.name is None
    assert t.created_at is None
    assert t.checkpoint_count == 0
    assert t.is_branch is False
    assert t.is_current is False
    assert (t.status, t.status_reason, t.intent) == ("active", None, None)


def test_internal_session_requires_thread_and_session():
    with pytest.raises(TypeError):
        InternalSession()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        InternalSession("t")  # type: ignore[call-arg]


def test_internal_session_branch_record():
    created = datetime(2024, 1, 1)
    t = InternalSession(
        thread_id="b",
        session_id=1,
        parent_thread_id="a",
        branch_checkpoint_id="cp-3",
        name="retry",
        created_at=created,
        checkpoint_count=1,
        is_branch=True,
    )
    assert t == InternalSession("b", 1, "a", "cp-3", "retry", created, 1, True)
    assert t != InternalSession("b", 1, "a", "cp-4", "retry", created, 1, True)


# -- time zones: aware UTC in, naive agentgit values read as local time ----------------


def test_methods_stamp_aware_utc():
    s = ExternalSession()
    s.add_internal_session("a")
    assert s.updated_at is not None and s.updated_at.tzinfo is UTC
    assert s.to_dict()["updated_at"].endswith("+00:00")


@pytest.mark.parametrize("name", ["Asia/Tokyo", "America/Los_Angeles", "UTC"])
def test_from_dict_naive_is_local_time_of_the_reader(local_zone, name):
    local_zone(name)
    s = ExternalSession.from_dict({"created_at": "2025-07-01T09:00:00"})
    expected = datetime(2025, 7, 1, 9, 0, tzinfo=ZoneInfo(name)).astimezone(UTC)
    assert s.created_at == expected and s.created_at.tzinfo is UTC


@pytest.mark.parametrize("name", ["Asia/Tokyo", "America/Los_Angeles"])
def test_get_session_age_same_in_every_zone(local_zone, name):
    local_zone(name)
    aware = ExternalSession(created_at=datetime.now(UTC) - timedelta(hours=3))
    minus_seven = timezone(timedelta(hours=-7))
    other_offset = ExternalSession(
        created_at=(datetime.now(UTC) - timedelta(hours=3)).astimezone(minus_seven)
    )
    naive_local = ExternalSession(created_at=datetime.now() - timedelta(hours=3))  # as agentgit
    for s in (aware, other_offset, naive_local):
        assert s.get_session_age() == pytest.approx(3.0, abs=0.01)


def test_from_dict_with_offset_is_converted_to_utc():
    s = ExternalSession.from_dict({"created_at": "2025-07-01T09:00:00+09:00"})
    assert s.created_at == datetime(2025, 7, 1, 0, 0, tzinfo=UTC)
    assert s.created_at.tzinfo is UTC
    assert s.to_dict()["created_at"] == "2025-07-01T00:00:00+00:00"
