"""The to-UTC migrations (10-14): naive local timestamps made UTC, per dialect.

Before these migrations every timestamp was naive local time of the process
that wrote it (`datetime.now()`, as agentgit does). They are taken as local
time of the process that runs the migration (the first `setup()` of the new
version): the writers' zone, on the assumption that the processes sharing a
database ran in one time zone. Rows written with an offset are left alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = [
    "Migration",
    "local_zone_name",
    "local_zone_sql",
    "postgres_to_timestamptz",
    "sqlite_to_utc",
]

Migration = str | Callable[[], str]
"""A migration's SQL, or a function rendering it when it runs (on this process's
settings, e.g. its time zone); either way one statement."""


def _sqlite_naive(col: str) -> str:
    return f"({col} NOT GLOB '*[+-][0-9][0-9]:[0-9][0-9]' AND {col} NOT GLOB '*Z')"


def sqlite_to_utc(table: str, cols: tuple[str, ...]) -> str:
    """Rewrite naive ISO text (local time) as UTC text with `+00:00`, in SQL.

    SQLite's `'utc'` modifier converts from the local time of the process
    running it, with its DST rules; the whole seconds go through it and the
    fraction is kept exactly.
    """

    def convert(c: str) -> str:
        return (
            f"CASE WHEN {_sqlite_naive(c)} THEN "
            f"strftime('%Y-%m-%dT%H:%M:%S', substr({c}, 1, 19), 'utc') || "
            f"CASE WHEN length({c}) > 19 THEN substr({c}, 20) ELSE '.000000' END || '+00:00' "
            f"ELSE {c} END"
        )

    sets = ", ".join(f"{c} = {convert(c)}" for c in cols)
    where = " OR ".join(_sqlite_naive(c) for c in cols)
    return f"UPDATE {table} SET {sets} WHERE {where}"


_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")


def _zone_name(candidate: str) -> str | None:
    if not _ZONE_NAME.fullmatch(candidate):
        return None
    try:
        ZoneInfo(candidate)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return None
    return candidate


def local_zone_name() -> str | None:
    """The IANA name of this process's local time zone, when it can be known.

    From `TZ` when set (a POSIX rule like `JST-9` has no name: None), else from
    the `/etc/localtime` link.
    """
    tz = os.environ.get("TZ")
    if tz is not None:
        tz = tz.removeprefix(":")
        return "UTC" if tz == "" else _zone_name(tz)
    target = os.path.realpath("/etc/localtime")
    marker = "/zoneinfo/"
    if marker in target:
        return _zone_name(target.split(marker, 1)[1])
    return None


def local_zone_sql() -> str:
    """This process's time zone as the operand of PostgreSQL's `AT TIME ZONE`.

    Its IANA name (so each value gets the offset of its own date, DST included),
    else its current UTC offset as an interval (ISO sign: a bare `'+09:00'`
    string would be read as a POSIX zone, sign reversed).
    """
    name = local_zone_name()
    if name is not None:
        return f"'{name}'"
    offset = datetime.now().astimezone().utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"INTERVAL '{sign}{hours:02d}:{mins:02d}'"


def postgres_to_timestamptz(table: str, cols: tuple[str, ...]) -> Migration:
    """`timestamp` (naive local) -> `timestamptz`, read in this process's zone."""

    def render() -> str:
        zone = local_zone_sql()
        alters = ", ".join(
            f"ALTER COLUMN {c} TYPE timestamptz USING {c} AT TIME ZONE {zone}" for c in cols
        )
        return f"ALTER TABLE {table} {alters}"

    render.__qualname__ = f"timestamptz({table})"
    return render
