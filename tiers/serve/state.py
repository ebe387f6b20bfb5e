"""Read-only access to the state store for the server.

The server never writes, so it opens the store read-only at the driver: SQLite files in
``mode=ro`` (no transaction of ours can take the write lock, so lookups never wait for a
`tiers run` recording at the same time) and PostgreSQL sessions with
``default_transaction_read_only``. Every read is one statement, so it sees the last committed
run without a restart.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import sqlalchemy as sa

from tiers.store.errors import StoreError
from tiers.store.location import redact, sqlite_path

if TYPE_CHECKING:
    import pyarrow as pa

#: statuses of a run whose state was committed (as StateStore.last_as_of counts them)
RECORDED = ("recorded", "done", "done_with_failures", "abandoned")
SEP = "\x1f"  # segment labels in current_tiers.segments


@dataclass(frozen=True)
class RunRef:
    id: int
    as_of: dt.datetime


@dataclass(frozen=True)
class Recorded:
    """One customer's row of current_tiers."""

    tier: str
    tier_rank: int
    since: dt.datetime
    held_until: dt.datetime | None
    segments: list[str]
    updated_run: int


def _read_only_engine(url: str) -> sa.Engine:
    path = sqlite_path(url)
    if path is not None:
        ro = f"sqlite+pysqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true"
        return sa.create_engine(ro, pool_size=8, max_overflow=8)
    if url.startswith("sqlite"):
        raise StoreError(f"state store {redact(url)}: serve needs a SQLite file or a "
                         "database server, not an in-memory database")
    kwargs: dict[str, Any] = {"pool_size": 8, "max_overflow": 8, "pool_pre_ping": True}
    if url.startswith("postgresql"):
        kwargs["connect_args"] = {"options": "-c default_transaction_read_only=on"}
    try:
        return sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"state store URL {redact(url)!r} is not usable: {exc}") from None


_LATEST = (
    "SELECT id, as_of FROM runs WHERE ruleset = :ruleset AND changed IS NOT NULL "
    f"AND status IN ({', '.join(repr(s) for s in RECORDED)}) ORDER BY id DESC LIMIT 1")

_CUSTOMER = sa.text(
    "SELECT r.id, r.as_of, c.tier, c.tier_rank, c.since, c.held_until, c.segments, "
    "c.updated_run "
    f"FROM ({_LATEST}) r LEFT JOIN current_tiers c "
    "ON c.ruleset = :ruleset AND c.customer_id = :customer_id"
).columns(sa.column("id", sa.Integer), sa.column("as_of", sa.DateTime),
          sa.column("tier", sa.String), sa.column("tier_rank", sa.Integer),
          sa.column("since", sa.DateTime),
          sa.column("held_until", sa.DateTime), sa.column("segments", sa.String),
          sa.column("updated_run", sa.Integer))

_LATEST_Q = sa.text(_LATEST).columns(sa.column("id", sa.Integer),
                                     sa.column("as_of", sa.DateTime))

_DISTRIBUTION = sa.text(
    "SELECT tier, COUNT(*) AS customers FROM current_tiers WHERE ruleset = :ruleset "
    "GROUP BY tier")

RUN_COLUMNS = ("id", "as_of", "status", "started_at", "finished_at", "customers", "changed",
               "intents_planned", "intents_done", "intents_failed", "events", "error")


class StoreReader:
    """The one ruleset's rows of a state store, read only."""

    def __init__(self, url: str, ruleset: str):
        self.url = url
        self.ruleset = ruleset
        self.engine = _read_only_engine(url)
        self._sqlite = sqlite_path(url)

    def __repr__(self) -> str:
        return f"StoreReader({redact(self.url)!r})"

    def dispose(self) -> None:
        self.engine.dispose()

    def _missing(self) -> bool:
        """A SQLite store not created yet (no run ever recorded): not an error."""
        return self._sqlite is not None and not self._sqlite.exists()

    def _run(self, fn: Any) -> Any:
        try:
            with self.engine.connect() as conn:
                return fn(conn)
        except sa.exc.OperationalError as exc:
            if self._missing():
                return None
            if "no such table" in str(exc) or "does not exist" in str(exc):
                return None  # the file exists but no run created the tables yet
            raise StoreError(f"cannot read the state store {redact(self.url)}: "
                             f"{type(exc.orig).__name__}") from None
        except sa.exc.ProgrammingError as exc:
            if "does not exist" in str(exc):
                return None
            raise StoreError(f"cannot read the state store {redact(self.url)}: "
                             f"{type(exc.orig).__name__}") from None
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"cannot read the state store {redact(self.url)}: "
                             f"{type(exc.orig).__name__}") from None

    def ping(self) -> bool:
        """Whether the store answers (a store not created yet counts as reachable)."""
        if self._missing():
            return True
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1").scalar()
            return True
        except sa.exc.DBAPIError:
            return False

    def latest_run(self) -> RunRef | None:
        row = self._run(lambda c: c.execute(_LATEST_Q, {"ruleset": self.ruleset}).first())
        return RunRef(row.id, row.as_of) if row is not None else None

    def customer(self, customer_id: str) -> tuple[RunRef | None, Recorded | None]:
        """The latest recorded run and this customer's recorded row, in one statement."""
        row = self._run(lambda c: c.execute(
            _CUSTOMER, {"ruleset": self.ruleset, "customer_id": customer_id}).first())
        if row is None:
            return None, None
        run = RunRef(row.id, row.as_of)
        if row.tier is None:
            return run, None
        segments = row.segments.split(SEP) if row.segments else []
        return run, Recorded(row.tier, row.tier_rank, row.since, row.held_until, segments,
                             row.updated_run)

    def previous_arrow(self) -> tuple[RunRef | None, pa.Table | None]:
        """The latest run and the state after it (PREVIOUS_STATE_SCHEMA), read so that the
        two belong together even when a run records in between."""
        from tiers.serve.engine import previous_state_table
        from tiers.store import bulk

        for _ in range(5):
            before = self.latest_run()
            if before is None:
                return None, None
            table = self._run(lambda c: bulk.read_current(c, self.ruleset))
            if self.latest_run() == before:
                if table is None or table.num_rows == 0:
                    return before, None
                return before, previous_state_table(table)
        raise StoreError(f"the state store {redact(self.url)} changed on every read; "
                         "is a run recording in a loop?")

    def distribution(self) -> dict[str, int]:
        rows = self._run(lambda c: c.execute(_DISTRIBUTION, {"ruleset": self.ruleset}).all())
        return {r.tier: int(r.customers) for r in rows or []}

    def runs(self, limit: int) -> list[dict[str, Any]]:
        from tiers.store.schema import runs

        q = (sa.select(*(runs.c[c] for c in RUN_COLUMNS))
             .where(runs.c.ruleset == self.ruleset).order_by(runs.c.id.desc()).limit(limit))
        rows = self._run(lambda c: [dict(r._mapping) for r in c.execute(q)])
        out = []
        for r in rows or []:
            r["events"] = json.loads(r["events"]) if r.get("events") else {}
            out.append(r)
        return out
