"""Versioned schema upgrades.

A small scheme rather than Alembic: the store has a handful of tables, upgrades must run
unattended inside `tiers run` on SQLite and PostgreSQL alike, and shipping an Alembic script
directory inside the package would add a dependency and a second configuration for no gain.

- A new store gets the current tables (``metadata.create_all``) and the latest version number.
- An existing store at version N runs ``MIGRATIONS[N + 1]``, ``MIGRATIONS[N + 2]``, ... each in
  the same transaction as the row that records it, so an upgrade either completes or leaves the
  store as it was.
- A store written by a newer tiers is refused instead of being misread.

To change the schema: edit schema.py, bump ``SCHEMA_VERSION`` and add the function that brings
a store at the previous version to the new one (``ALTER TABLE ...``); never edit an old one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa

from tiers.store import snapshot
from tiers.store.errors import StoreError
from tiers.store.schema import metadata, schema_version, state_snapshots

SCHEMA_VERSION = 2


def _add_state_snapshots(conn: sa.Connection) -> None:
    state_snapshots.create(conn)
    snapshot.install_triggers(conn)


# version -> upgrade from version - 1; version 1 is the initial schema (create_all).
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {
    2: _add_state_snapshots,
}


def current_version(conn: sa.Connection) -> int | None:
    if not sa.inspect(conn).has_table("schema_version"):
        return None
    return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()


def migrate(engine: sa.Engine, url: str) -> int:
    """Bring the store at ``engine`` to :data:`SCHEMA_VERSION`; returns the version found."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # two processes creating one store at once: serialise them
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7426715)"))
        found = current_version(conn)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        if found is None:
            if sa.inspect(conn).has_table("runs"):
                raise StoreError(f"{url} has tiers tables but no schema_version; it was not "
                                 "created by tiers or was damaged. Point TIERS_STATE_URL at a "
                                 "new database or restore a backup.")
            metadata.create_all(conn)
            snapshot.install_triggers(conn)
            conn.execute(schema_version.insert().values(version=SCHEMA_VERSION, applied_at=now))
            return 0
        if found > SCHEMA_VERSION:
            raise StoreError(f"the state store {url} has schema version {found}, newer than "
                             f"this tiers understands ({SCHEMA_VERSION}); upgrade tiers")
        for version in range(found + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version](conn)
            conn.execute(schema_version.insert().values(version=version, applied_at=now))
        return found
