"""Creating and upgrading the tables: the migrations a database has not run yet."""

from __future__ import annotations

from agentgit_langgraph.stores.dialect import Dialect
from agentgit_langgraph.stores.statements import Op, Statement


def setup(d: Dialect) -> Op[None]:
    """`migrate`, behind the dialect's migration lock; named `setup` in errors."""
    if d.migration_lock:
        yield Statement(d.migration_lock)
    yield from migrate(d)


def migrate(d: Dialect) -> Op[None]:
    """Run, each in order, the migrations the database has not recorded yet."""
    first = d.migrations[0]
    assert isinstance(first, str)
    yield Statement(first)
    done = yield Statement("SELECT v FROM agentgit_migrations")
    applied = {int(r[0]) for r in done.rows}
    for version, ddl in enumerate(d.migrations):
        if version not in applied:
            yield Statement(ddl if isinstance(ddl, str) else ddl())
            yield Statement(
                d.sql("INSERT INTO agentgit_migrations (v) VALUES (?) ON CONFLICT (v) DO NOTHING"),
                (version,),
            )


def applied(d: Dialect) -> Op[set[int] | None]:
    """The migrations the database has run; None when it has no tables of ours.

    Only reads: what a read-only tool checks instead of `setup`.
    """
    found = yield Statement(d.sql(d.has_table), ("agentgit_migrations",))
    if not found.rows:
        return None
    done = yield Statement("SELECT v FROM agentgit_migrations")
    return {int(r[0]) for r in done.rows}
