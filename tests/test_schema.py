"""The store's schema is defined once (`stores/schema.py`) and rendered per dialect.

Databases record which migration versions they ran, not their text: the
rendering of every shipped version must never change, so it is pinned here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from string import Template

import pytest

from agentgit_langgraph.stores.dialect import POSTGRES, SQLITE, Dialect
from agentgit_langgraph.stores.schema import MIGRATIONS, ToUtc

# sha256 of every migration, whitespace folded, one a line; the PostgreSQL
# to-UTC ones rendered with TZ=UTC. Taken from the schemas as they shipped,
# when each dialect still spelled its migrations out in full.
SHIPPED = {
    "sqlite": (21, "3084a210abb807d5bdb180ddd5f004f6f0e53950130d16987e3d4c91ef24769b"),
    "postgres": (21, "405dc584ff996ff827b7ae46537a28c348b87be0b84f8f25497949dee3b33e1b"),
}


def _rendered(d: Dialect) -> list[str]:
    return [re.sub(r"\s+", " ", m if isinstance(m, str) else m()).strip() for m in d.migrations]


@pytest.mark.parametrize("dialect", [SQLITE, POSTGRES], ids=lambda d: d.name)
def test_shipped_migrations_render_as_they_shipped(
    dialect: Dialect, local_zone: Callable[[str], None]
) -> None:
    local_zone("UTC")
    count, digest = SHIPPED[dialect.name]
    text = "\n".join(_rendered(dialect)[:count])
    assert hashlib.sha256(text.encode()).hexdigest() == digest


def test_both_dialects_come_from_the_one_definition() -> None:
    assert len(SQLITE.migrations) == len(POSTGRES.migrations) == len(MIGRATIONS)
    for version, (source, lite, pg) in enumerate(
        zip(MIGRATIONS, _rendered(SQLITE), _rendered(POSTGRES), strict=True)
    ):
        if isinstance(source, ToUtc):
            assert source.table in lite and source.table in pg, version
            continue
        # Each dialect fills in only the `$WORD`s: what is between them is the same.
        fixed = [re.escape(" ".join(part.split())) for part in re.split(r"\$[A-Z_]+", source)]
        pattern = "(.+?)".join(fixed)
        assert re.fullmatch(pattern, lite), version
        assert re.fullmatch(pattern, pg), version
        assert "$" not in lite and "$" not in pg, version
        assert Template(source).get_identifiers() == [] or lite != pg, version
